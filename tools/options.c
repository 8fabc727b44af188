/*
 * Command-line options shared by run, compare and bench.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
 * --neighbour-reserve SIZE, --neighbour-pv-limit N.  => 1 when argv[*i]
 * was one, 0 when not, 2 after printing a bad value. */
static int parse_beyond_opt(int argc, char **argv, int *i, struct run_opts *o)
{
    const char *a = argv[*i], *v;
    bool dev = strcmp(a, "--device") == 0,
         design = strcmp(a, "--device-design") == 0,
         reserve = strcmp(a, "--neighbour-reserve") == 0,
         pvlim = strcmp(a, "--neighbour-pv-limit") == 0;
    if (!dev && !design && !reserve && !pvlim)
        return 0;
    if ((v = opt_value(argc, argv, i)) == NULL)
        return 2;
    if (dev && parse_device(v, &o->device)) {
        fprintf(stderr, "xipvm: --device: expected nor or md, got %s\n", v);
        return 2;
    }
    if (design && parse_design(v, &o->design)) {
        fprintf(stderr,
                "xipvm: --device-design: expected segment, amap-copy or "
                "vm_page, got %s\n",
                v);
        return 2;
    }
    if (reserve && (parse_size(v, &o->neighbour_reserve) ||
                    (o->neighbour_reserve & 4095))) {
        fprintf(stderr,
                "xipvm: --neighbour-reserve: not a size in whole 4 KiB "
                "pages: %s\n",
                v);
        return 2;
    }
    if (pvlim && parse_uint(v, UINT32_MAX, &o->neighbour_pv_limit)) {
        fprintf(stderr,
                "xipvm: --neighbour-pv-limit: expected a number of PV "
                "entries, got %s\n",
                v);
        return 2;
    }
    return 1;
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

int parse_run_opts(int argc, char **argv, struct run_opts *o, bool want_trace)
{
    memset(o, 0, sizeof(*o));
    o->machine = "sgimips";
    o->ram = UINT64_C(64) << 20;
    o->xip = 1;
    o->fault_ahead = -1;
    o->readahead = -1;
    o->buffers = -1;
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
            s = parse_beyond_opt(argc, argv, &i, o);
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
