/*
 * Command-line options shared by run, compare and bench.
 */
#include <ctype.h>
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
    default: break;
    }
    if (errno || *end != '\0' || x > (UINT64_MAX >> shift))
        return -1;
    *v = (uint64_t)x << shift;
    return 0;
}

const char *opt_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "xipvm: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* ---- sizing options: --swap, --buffers, --csv (doc/sizing.md) ---- */

int parse_sizing_opt(int argc, char **argv, int *i, struct run_opts *o)
{
    const char *a = argv[*i], *v;
    uint64_t n;
    if (strcmp(a, "--csv") == 0) {
        o->csv = true;
        return 1;
    }
    if (strcmp(a, "--swap") == 0) {
        if ((v = opt_value(argc, argv, i)) == NULL)
            return 2;
        if (parse_size(v, &o->swap) || (o->swap & 4095)) {
            fprintf(stderr,
                    "xipvm: --swap: not a size in whole 4 KiB pages: %s\n", v);
            return 2;
        }
        return 1;
    }
    if (strcmp(a, "--buffers") == 0) {
        if ((v = opt_value(argc, argv, i)) == NULL)
            return 2;
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
 * The CPU model's options, in one block: --cpu NAME|FILE, --I1=G, --D1=G,
 * --LL=G (cachegrind's SIZE,ASSOC,LINE), --no-cache, --superpages and
 * --no-superpages.  => 1 when argv[*i] was one, 0 when not, 2 on error (as
 * parse_sizing_opt).
 */
static int cpu_option(int argc, char **argv, int *i, struct run_opts *o)
{
    static const char *const geo[3] = { "--I1=", "--D1=", "--LL=" };
    const char *a = argv[*i];
    for (int k = 0; k < 3; k++)
        if (strncmp(a, geo[k], 5) == 0) {
            o->geom[k] = a + 5;
            return 1;
        }
    if (strcmp(a, "--cpu") == 0) {
        if ((o->cpu = opt_value(argc, argv, i)) == NULL)
            return 2;
    } else if (strcmp(a, "--no-cache") == 0) {
        o->no_cache = true;
    } else if (strcmp(a, "--superpages") == 0) {
        o->superpages = 1;
    } else if (strcmp(a, "--no-superpages") == 0) {
        o->superpages = 0;
    } else {
        return 0;
    }
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

int cpu_profile_of(const struct run_opts *o, xvm_cpu_profile **out)
{
    static const char *const key[3] = { "I1", "D1", "LL" };
    char err[400];
    xvm_cpu_profile *p = NULL;
    const char *name = o->cpu ? o->cpu : o->machine;
    int rc = 2;
    /* A built-in's name, unless a file of that name is in the way. */
    bool builtin = xvm_cpu_builtin_text(name) != NULL &&
                   (o->cpu == NULL || access(name, F_OK) != 0);
    if (xvm_cpu_profile_create(builtin ? name : NULL, &p) != 0) {
        fprintf(stderr, "xipvm: out of memory\n");
        return 1;
    }
    if (!builtin) {
        char *text = slurp(name);
        if (text == NULL) {
            xvm_cpu_profile_destroy(p);
            return 2;
        }
        int e = xvm_cpu_profile_parse(p, text, name, err, sizeof(err));
        free(text);
        if (e) {
            fprintf(stderr, "xipvm: --cpu %s\n", err);
            goto out;
        }
    }
    for (int k = 0; k < 3; k++)
        if (o->geom[k] &&
            xvm_cpu_profile_set(p, key[k], o->geom[k], err, sizeof(err))) {
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

int parse_run_opts(int argc, char **argv, struct run_opts *o, bool want_trace)
{
    memset(o, 0, sizeof(*o));
    o->machine = "sgimips";
    o->ram = UINT64_C(64) << 20;
    o->xip = 1;
    o->fault_ahead = -1;
    o->readahead = -1;
    o->buffers = -1;
    o->superpages = -1;
    o->slice = 10000;
    /* the positional TRACEs, pointers into argv */
    if (want_trace &&
        (o->traces = calloc((size_t)argc, sizeof(char *))) == NULL)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t n;
        int s = parse_sizing_opt(argc, argv, &i, o);
        if (s == 0)
            s = cpu_option(argc, argv, &i, o);
        if (s == 2)
            return 2;
        if (s == 1)
            continue;
        if (strcmp(a, "--xip") == 0) {
            o->xip = 1;
            o->mode_given = true;
        } else if (strcmp(a, "--copy") == 0) {
            o->xip = 0;
            o->mode_given = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--image") == 0 || strcmp(a, "--machine") == 0 ||
                   strcmp(a, "--svg") == 0) {
            if ((v = opt_value(argc, argv, &i)) == NULL)
                return 2;
            /* A bad --machine is a usage error (2), like a bad --ram. */
            if (a[2] == 'm' && strcmp(v, "sgimips") != 0 &&
                strcmp(v, "amd64") != 0) {
                fprintf(stderr,
                        "xipvm: --machine: expected sgimips or amd64, got %s\n",
                        v);
                return 2;
            }
            *(a[2] == 'i'   ? &o->image
              : a[2] == 'm' ? &o->machine
                            : &o->svg) = v;
        } else if (strcmp(a, "--ram") == 0) {
            if ((v = opt_value(argc, argv, &i)) == NULL)
                return 2;
            if (parse_size(v, &o->ram) || o->ram == 0) {
                fprintf(stderr, "xipvm: --ram: not a size: %s\n", v);
                return 2;
            }
        } else if (strcmp(a, "--fault-ahead") == 0 ||
                   strcmp(a, "--readahead") == 0) {
            if ((v = opt_value(argc, argv, &i)) == NULL)
                return 2;
            if (parse_uint(v, 64, &n)) {
                fprintf(stderr, "xipvm: %s: expected 0 to 64, got %s\n", a, v);
                return 2;
            }
            *(a[2] == 'f' ? &o->fault_ahead : &o->readahead) = (int)n;
        } else if (strcmp(a, "--slice") == 0) {
            if ((v = opt_value(argc, argv, &i)) == NULL)
                return 2;
            if (parse_uint(v, UINT32_MAX, &o->slice) || o->slice == 0) {
                fprintf(stderr,
                        "xipvm: --slice: expected 1 to 4294967295 "
                        "events, got %s\n",
                        v);
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "xipvm: unknown option %s\n", a);
            return 2;
        } else if (want_trace) {
            if (strcmp(a, "-") == 0)
                for (int k = 0; k < o->ntraces; k++)
                    if (strcmp(o->traces[k], "-") == 0) {
                        fprintf(stderr, "xipvm: standard input given twice\n");
                        return 2;
                    }
            o->traces[o->ntraces++] = a;
            o->trace = o->traces[0];
        } else {
            fprintf(stderr, "xipvm: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (o->image == NULL) {
        fprintf(stderr, "xipvm: --image IMAGE is required\n");
        return 2;
    }
    if (o->json && o->csv) {
        fprintf(stderr, "xipvm: --json or --csv, not both\n");
        return 2;
    }
    xvm_cpu_profile *p;
    int rc = cpu_profile_of(o, &p);
    if (rc)
        return rc;
    xvm_cpu_profile_destroy(p);
    if (want_trace && o->trace == NULL) {
        fprintf(stderr,
                "xipvm: a TRACE file (or - for standard input) is required\n");
        return 2;
    }
    return 0;
}

void run_opts_free(struct run_opts *o)
{
    free(o->traces);
    o->traces = NULL;
    o->ntraces = 0;
}
