/*
 * Command-line options shared by run, compare and bench.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Decimal, or hex after 0x: a leading zero is not octal (as in traces). */
static int num_base(const char *s)
{
    return s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10;
}

int parse_uint(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    /* A digit first: strtoull would skip blanks and accept a sign. */
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, num_base(s));
    if (errno || *end != '\0' || x > max)
        return -1;
    *v = x;
    return 0;
}

int parse_size(const char *s, uint64_t *v)
{
    char *end;
    /* A digit first: strtoull would skip blanks and accept a sign. */
    if (s == NULL || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, num_base(s));
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case 't':
    case 'T':
        shift = 40;
        end++;
        break;
    default: break;
    }
    if (errno || *end != '\0' || x > (UINT64_MAX >> shift))
        return -1;
    *v = (uint64_t)x << shift;
    return 0;
}

/* The command named argv[0] (run, compare, ...); run's by default. */
static const struct cli_cmd *command(const char *name)
{
    extern const struct cli_cmd run_cmd;
    for (const struct cli_cmd *const *c = cli_commands; *c; c++)
        if (strcmp((*c)->name, name) == 0)
            return *c;
    return &run_cmd;
}

/* A usage error: says it and => 2. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
bad(const struct cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xipvm %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* ---- beyond the paper (doc/beyond-the-paper.md) ---- */

int parse_device(const char *s, int *device)
{
    if (strcmp(s, "nor") == 0)
        *device = XVM_DEVICE_NOR;
    else if (strcmp(s, "md") == 0)
        *device = XVM_DEVICE_MD;
    else
        return -1;
    return 0;
}

const char *device_name(int device)
{
    return device == XVM_DEVICE_MD ? "md" : "nor";
}

int parse_design(const char *s, int *design)
{
    for (int d = 0; d < XVM_DESIGNS; d++)
        if (strcmp(s, xvm_device_design_name((enum xvm_device_design)d)) == 0) {
            *design = d;
            return 0;
        }
    return -1;
}

/* --device nor|md, --device-design segment|amap-copy|vm_page,
 * --neighbour-reserve SIZE, --neighbour-pv-limit N: the option a with its
 * value v.  => 1 when a was one, 0 when not, 2 after printing a bad value. */
int parse_beyond_opt(const char *a, const char *v, struct run_opts *o)
{
    if (strcmp(a, "--device") == 0) {
        if (parse_device(v, &o->device) == 0)
            return 1;
        fprintf(stderr, "xipvm: --device: expected nor or md, got %s\n", v);
    } else if (strcmp(a, "--device-design") == 0) {
        if (parse_design(v, &o->design) == 0)
            return 1;
        fprintf(stderr,
                "xipvm: --device-design: expected segment, amap-copy or "
                "vm_page, got %s\n",
                v);
    } else if (strcmp(a, "--neighbour-reserve") == 0) {
        if (parse_size(v, &o->neighbour_reserve) == 0 &&
            (o->neighbour_reserve & 4095) == 0)
            return 1;
        fprintf(stderr,
                "xipvm: --neighbour-reserve: not a size in whole 4 KiB "
                "pages: %s\n",
                v);
    } else if (strcmp(a, "--neighbour-pv-limit") == 0) {
        if (parse_uint(v, UINT32_MAX, &o->neighbour_pv_limit) == 0)
            return 1;
        fprintf(stderr,
                "xipvm: --neighbour-pv-limit: expected a number of PV "
                "entries, got %s\n",
                v);
    } else {
        return 0;
    }
    return 2;
}

/* ---- sizing options: --swap, --buffers, --csv (doc/sizing.md) ---- */

int parse_sizing_opt(const char *a, const char *v, struct run_opts *o)
{
    uint64_t n;
    if (strcmp(a, "--csv") == 0) {
        o->csv = true;
        return 1;
    }
    if (strcmp(a, "--swap") == 0) {
        if (parse_size(v, &o->swap) || (o->swap & 4095)) {
            fprintf(stderr,
                    "xipvm: --swap: not a size in whole 4 KiB pages: %s\n", v);
            return 2;
        }
        return 1;
    }
    if (strcmp(a, "--buffers") == 0) {
        if (parse_uint(v, 65536, &n)) {
            fprintf(stderr, "xipvm: --buffers: expected 0 to 65536, got %s\n",
                    v);
            return 2;
        }
        o->buffers = (int)n;
        return 1;
    }
    return 0;
}

/*
 * The CPU model's options (CLI_CPU_OPTS): --cpu NAME|FILE, --I1 G, --D1 G,
 * --LL G or --L2 G (cachegrind's SIZE,ASSOC,LINE and its old name for LL;
 * cli_next takes --I1=G as cachegrind writes it), --no-cache, --superpages
 * and --no-superpages: the option a with its value v.  => 1 when a was
 * one, 0 when not.  The values are checked together, by cpu_profile_of.
 */
int parse_cpu_opt(const char *a, const char *v, struct run_opts *o)
{
    static const char *const geo[4] = { "--I1", "--D1", "--LL", "--L2" };
    for (int k = 0; k < 4; k++)
        if (strcmp(a, geo[k]) == 0) {
            o->geom[k < 2 ? k : 2] = v;
            if (k >= 2) /* the last one given wins */
                o->ll_opt = geo[k];
            return 1;
        }
    if (strcmp(a, "--cpu") == 0)
        o->cpu = v;
    else if (strcmp(a, "--no-cache") == 0)
        o->no_cache = true;
    else if (strcmp(a, "--superpages") == 0)
        o->superpages = 1;
    else if (strcmp(a, "--no-superpages") == 0)
        o->superpages = 0;
    else
        return 0;
    return 1;
}

/* A profile file, whole; NULL (with a message) when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0, cap = 1 << 16;
    if (f == NULL || (buf = malloc(cap + 1)) == NULL) {
        fprintf(stderr, "xipvm: --cpu %s: %s\n", path,
                f ? "out of memory" : strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    n = fread(buf, 1, cap + 1, f);
    int bad = ferror(f) || n > cap || memchr(buf, '\0', n) != NULL;
    fclose(f);
    if (bad) {
        fprintf(stderr,
                "xipvm: --cpu %s: not a profile (unreadable, binary or "
                "above 64 KiB)\n",
                path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The profile text the options name: a built-in's (*file NULL), or the
 * file's, read whole into *file (to free); NULL when it cannot be read. */
static const char *profile_text(const struct run_opts *o, char **file)
{
    const char *name = o->cpu ? o->cpu : o->machine;
    *file = NULL;
    if (o->cpu ? !cpu_is_file(o->cpu) : xvm_cpu_builtin_text(name) != NULL)
        return xvm_cpu_builtin_text(name);
    return *file = slurp(name);
}

void cpu_hash_of(struct run_opts *o)
{
    char *file;
    const char *text = profile_text(o, &file);
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const char *p = text; p && *p; p++)
        h = (h ^ (unsigned char)*p) * UINT64_C(0x100000001b3);
    o->cpu_hash = text ? h : 0;
    free(file);
}

/* A file named like a built-in is in the way: it is what is read. */
bool cpu_is_file(const char *cpu)
{
    return xvm_cpu_builtin_text(cpu) == NULL || access(cpu, F_OK) == 0;
}

int cpu_profile_of(const struct run_opts *o, xvm_cpu_profile **out)
{
    static const char *const key[3] = { "I1", "D1", "LL" };
    char err[400];
    xvm_cpu_profile *p = NULL;
    const char *name = o->cpu ? o->cpu : o->machine;
    int rc = 2;
    char *file;
    if (profile_text(o, &file) == NULL)
        return 2;
    if (xvm_cpu_profile_create(file ? NULL : name, &p) != 0) {
        fprintf(stderr, "xipvm: out of memory\n");
        free(file);
        return 1;
    }
    if (file) {
        int e = xvm_cpu_profile_parse(p, file, name, err, sizeof(err));
        free(file);
        if (e) {
            fprintf(stderr, "xipvm: --cpu %s\n", err);
            goto out;
        }
    }
    for (int k = 0; k < 3; k++)
        if (o->geom[k] &&
            xvm_cpu_profile_set(p, key[k], o->geom[k], err, sizeof(err))) {
            /* err starts with the key: name the option as given */
            const char *opt = k == 2 && o->ll_opt ? o->ll_opt : NULL;
            if (opt && strncmp(err, key[k], 2) == 0)
                fprintf(stderr, "xipvm: %s%s\n", opt, err + 2);
            else
                fprintf(stderr, "xipvm: --%s\n", err);
            goto out;
        }
    if (o->no_cache)
        (void)xvm_cpu_profile_set(p, "caches", "off", NULL, 0);
    if (o->superpages >= 0)
        (void)xvm_cpu_profile_set(p, "superpages", o->superpages ? "on" : "off",
                                  NULL, 0);
    if (xvm_cpu_profile_check(p, err, sizeof(err)) != 0) {
        fprintf(stderr, "xipvm: --cpu %s: %s\n", name, err);
        goto out;
    }
    *out = p;
    return 0;
out:
    xvm_cpu_profile_destroy(p);
    return rc;
}

static int parse(const struct cli_cmd *cmd, int argc, char **argv,
                 struct run_opts *o, bool want_trace, cli_own_fn own,
                 void *own_arg)
{
    struct cli_args args = { cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v;
    bool xip_given = false, copy_given = false;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) != CLI_END) {
        uint64_t n;
        if (kind == CLI_ERR)
            return 2;
        if (kind == CLI_ARG) {
            if (!want_trace)
                return bad(cmd, "unexpected argument %s", v);
            if (strcmp(v, "-") == 0)
                for (int k = 0; k < o->ntraces; k++)
                    if (strcmp(o->traces[k], "-") == 0)
                        return bad(cmd, "standard input given twice");
            o->traces[o->ntraces++] = v;
            o->trace = o->traces[0];
            continue;
        }
        const char *a = opt->name;
        int sizing = parse_sizing_opt(a, v, o);
        if (sizing == 0)
            sizing = parse_beyond_opt(a, v, o);
        if (sizing == 0)
            sizing = parse_cpu_opt(a, v, o);
        if (sizing == 2)
            return 2;
        if (sizing == 1)
            continue;
        if (strcmp(a, "--xip") == 0) {
            o->xip = 1;
            o->mode_given = xip_given = true;
        } else if (strcmp(a, "--copy") == 0) {
            o->xip = 0;
            o->mode_given = copy_given = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--image") == 0) {
            o->image = v;
        } else if (strcmp(a, "--svg") == 0) {
            o->svg = v;
        } else if (strcmp(a, "--machine") == 0) {
            /* A bad --machine is a usage error (2), like a bad --ram. */
            if (strcmp(v, "sgimips") != 0 && strcmp(v, "amd64") != 0)
                return bad(cmd, "%s: expected sgimips or amd64, got %s", a, v);
            o->machine = v;
        } else if (strcmp(a, "--ram") == 0) {
            /* Both profiles have 4 KiB pages: a bad size is a usage
             * error here, not a failed machine later. */
            if (parse_size(v, &o->ram) || o->ram == 0 || (o->ram & 4095))
                return bad(cmd, "%s: not a size in whole 4 KiB pages: %s", a,
                           v);
        } else if (strcmp(a, "--fault-ahead") == 0 ||
                   strcmp(a, "--readahead") == 0) {
            if (parse_uint(v, 64, &n))
                return bad(cmd, "%s: expected 0 to 64, got %s", a, v);
            *(a[2] == 'f' ? &o->fault_ahead : &o->readahead) = (int)n;
        } else if (strcmp(a, "--slice") == 0) {
            if (parse_uint(v, UINT32_MAX, &o->slice) || o->slice == 0)
                return bad(cmd, "%s: expected 1 to 4294967295 events, got %s",
                           a, v);
        } else if (own != NULL) {
            int rc = own(own_arg, a, v);
            if (rc)
                return rc;
        } else {
            return bad(cmd, "%s: in the table, not parsed", a);
        }
    }
    if (xip_given && copy_given)
        return bad(cmd, "--xip and --copy conflict: give one");
    if (o->json && o->csv)
        return bad(cmd, "--json or --csv, not both");
    if (o->image == NULL)
        return bad(cmd, "--image IMAGE is required");
    /* The CPU options together: a bad geometry or profile key is named. */
    xvm_cpu_profile *p;
    int rc = cpu_profile_of(o, &p);
    if (rc)
        return rc;
    xvm_cpu_profile_destroy(p);
    cpu_hash_of(o);
    if (want_trace && o->trace == NULL)
        return bad(cmd, "a TRACE file (or - for standard input) is required");
    return 0;
}

int parse_run_opts(int argc, char **argv, struct run_opts *o, bool want_trace)
{
    return parse_run_opts_own(argc, argv, o, want_trace, NULL, NULL);
}

int parse_run_opts_own(int argc, char **argv, struct run_opts *o,
                       bool want_trace, cli_own_fn own, void *own_arg)
{
    const struct cli_cmd *cmd = command(argc > 0 ? argv[0] : "run");
    memset(o, 0, sizeof(*o));
    o->machine = "sgimips";
    o->ram = UINT64_C(64) << 20;
    o->xip = 1;
    o->fault_ahead = -1;
    o->readahead = -1;
    o->buffers = -1;
    o->superpages = -1;
    o->slice = RUN_SLICE;
    /* the positional TRACEs, pointers into argv */
    if (want_trace &&
        (o->traces = calloc((size_t)argc, sizeof(char *))) == NULL)
        return 2;
    int rc = parse(cmd, argc, argv, o, want_trace, own, own_arg);
    if (rc) {
        cli_usage(stderr, cmd);
        run_opts_free(o);
    }
    return rc;
}

void run_opts_free(struct run_opts *o)
{
    free(o->traces);
    o->traces = NULL;
    o->ntraces = 0;
}
