/*
 * xipvm synth: synthetic traces of a real static program (src/trace/synth.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "synth.h"

static const struct cli_opt synth_opts[] = {
    { "--exec", "HOSTPATH", NULL, "the static ELF program to model; required" },
    { "--as", "IMAGE_PATH", "HOSTPATH", "its path in the image (spawn lines)" },
    { "--seed", "N", "1", "the same options and seed give the same trace" },
    { "--events", "N", "100000",
      "r/w/x events in all (k, M, G are powers of 2; a minimum for "
      "fork-storm and data-writers)" },
    { "-o", "TRACE", "standard output",
      "write the trace there (.xvt: binary; .gz and .zst compress)" },
    { "--procs", "N", "16",
      "processes (spawn-many, fork-storm, data-writers)" },
    { "--keep", NULL, NULL, "no process exits (spawn-many)" },
    { "--write-fraction", "F", "0.25 fork-storm, 0.5 data-writers",
      "of the pages each process writes" },
    { "--hot-pages", "N", "32", "hot text pages" },
    { "--locality", "F", "0.9", "chance a text jump lands on a hot page" },
    { NULL, NULL, NULL, NULL },
};

int cmd_synth(int argc, char **argv);

const struct cli_cmd synth_cmd = {
    .name = "synth",
    .synopsis = "KIND --exec HOSTPATH [OPTIONS]",
    .summary = "write a synthetic trace (same seed, same trace)",
    .opts = synth_opts,
    .details =
        "Writes a synthetic trace of the static ELF HOSTPATH; marks: "
        "spawned,\npeak, end.  KIND is one of:\n"
        "  spawn-many    --procs processes spawn the program, walk its text "
        "in\n"
        "                random slices, use their heap, and exit as they "
        "finish\n"
        "  fork-storm    one process writes its data and 64 heap pages, then "
        "forks a\n"
        "                random tree of --procs processes; each child writes\n"
        "                --write-fraction of those pages and reads the rest;\n"
        "                children exit before their parents\n"
        "  data-writers  --procs processes each write --write-fraction of "
        "the data\n"
        "                and bss pages, then read them back and exit\n"
        "  text-walk     one process: instruction fetches, rodata loads, "
        "stack\n"
        "                loads and stores\n"
        "Every kind walks text with --hot-pages hot pages, jumped into with\n"
        "probability --locality, in runs of 1-15 byte fetches.  Exit status: "
        "0,\n1 when the output cannot be written, 2 for a usage error or a "
        "program\nthat is not a static ELF.\n",
    .fn = cmd_synth,
};

/* Options given, to refuse the ones the kind does not take. */
struct given {
    int procs, keep, write_fraction;
};

/* => 0 and *v (fixed point, SYNTH_ONE is 1) for a number 0 to 1. */
static int parse_fraction(const char *s, uint64_t *v)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || *end != '\0' || !(d >= 0.0 && d <= 1.0))
        return -1;
    *v = (uint64_t)(d * (double)SYNTH_ONE + 0.5);
    return 0;
}

static int bad(const char *opt, const char *want, const char *v)
{
    fprintf(stderr, "xipvm synth: %s: expected %s, got '%s'\n", opt, want, v);
    return 2;
}

/* One option with a value; => 0, or 2 after a message. */
static int option_value(const char *a, const char *v, struct synth_opts *o,
                        struct given *gv, const char **out)
{
    uint64_t n;
    if (strcmp(a, "--exec") == 0)
        o->exec_host_path = v;
    else if (strcmp(a, "--as") == 0)
        o->path_in_image = v;
    else if (strcmp(a, "-o") == 0)
        *out = v;
    else if (strcmp(a, "--seed") == 0)
        return parse_uint(v, UINT64_MAX, &o->seed) ? bad(a, "a number", v) : 0;
    else if (strcmp(a, "--events") == 0)
        return parse_size(v, &o->events)
                   ? bad(a, "a count such as 100000 or 1M", v)
                   : 0;
    else if (strcmp(a, "--procs") == 0) {
        if (parse_uint(v, SYNTH_MAX_PROCS, &n) || n == 0)
            return bad(a, "1 to 4096", v);
        o->procs = (unsigned)n;
        gv->procs = 1;
    } else if (strcmp(a, "--hot-pages") == 0) {
        if (parse_uint(v, UINT32_MAX, &n) || n == 0)
            return bad(a, "at least 1", v);
        o->hot_pages = (unsigned)n;
    } else if (strcmp(a, "--locality") == 0)
        return parse_fraction(v, &o->locality) ? bad(a, "0 to 1", v) : 0;
    else if (strcmp(a, "--write-fraction") == 0) {
        gv->write_fraction = 1;
        return parse_fraction(v, &o->write_fraction) ? bad(a, "0 to 1", v) : 0;
    } else {
        fprintf(stderr, "xipvm synth: unknown option %s\n", a);
        return 2;
    }
    return 0;
}

static int parse(int argc, char **argv, struct synth_opts *o, const char **out)
{
    struct given gv = { 0, 0, 0 };
    struct cli_args args = { &synth_cmd, argc, 2, argv, false };
    const struct cli_opt *opt;
    const char *v;
    int got;
    while ((got = cli_next(&args, &opt, &v)) != CLI_END) {
        if (got == CLI_ERR)
            return 2;
        if (got == CLI_ARG) {
            fprintf(stderr, "xipvm synth: unexpected argument %s\n", v);
            return 2;
        }
        if (strcmp(opt->name, "--keep") == 0) {
            o->keep = gv.keep = 1;
            continue;
        }
        int rc = option_value(opt->name, v, o, &gv, out);
        if (rc)
            return rc;
    }
    const char *kind = synth_kind_name(o->kind);
    if ((gv.procs && o->kind == SYNTH_TEXT_WALK) ||
        (gv.keep && o->kind != SYNTH_SPAWN_MANY) ||
        (gv.write_fraction && o->kind != SYNTH_FORK_STORM &&
         o->kind != SYNTH_DATA_WRITERS)) {
        fprintf(stderr, "xipvm synth: %s does not take %s\n", kind,
                gv.keep    ? "--keep"
                : gv.procs ? "--procs"
                           : "--write-fraction");
        return 2;
    }
    if (o->exec_host_path == NULL) {
        fprintf(
            stderr,
            "xipvm synth: --exec HOSTPATH (the program's ELF) is required\n");
        return 2;
    }
    return 0;
}

struct synth_out {
    const char *path;
    struct output *oo;
};

static int open_out(void *arg, xvm_trace_writer **w, char *err, size_t errlen)
{
    struct synth_out *so = arg;
    *w = trace_output_open(so->path, &so->oo, err, errlen);
    return *w ? 0 : EIO;
}

int cmd_synth(int argc, char **argv)
{
    struct synth_opts o;
    struct synth_stats st;
    enum synth_kind kind;
    const char *out = NULL;
    char err[512];
    if (argc < 2) {
        cli_usage(stderr, &synth_cmd);
        return 2;
    }
    if (synth_kind_from_name(argv[1], &kind) != 0) {
        fprintf(stderr,
                "xipvm synth: unknown kind '%s' (spawn-many, fork-storm, "
                "data-writers, text-walk)\n",
                argv[1]);
        return 2;
    }
    synth_opts_init(&o, kind);
    if (parse(argc, argv, &o, &out) != 0) {
        cli_usage(stderr, &synth_cmd);
        return 2;
    }
    /* written aside and renamed (output.c): no half-written trace left
     * behind, and a device named as OUT is written, never removed; the
     * form by the name, as record's (.xvt binary, .gz, .zst) */
    struct synth_out so = { out ? out : "-", NULL };
    xvm_trace_writer *w;
    int error = synth_write_trace(&o, open_out, &so, &w, &st, err, sizeof(err));
    if (error) {
        if (w)
            trace_output_abort(w, so.oo);
        fprintf(stderr, "xipvm synth: %s\n", err);
        return error == EINVAL || error == ENOEXEC ? 2 : 1;
    }
    struct output *oo = so.oo;
    if (trace_output_commit(w, oo, err, sizeof(err)) != 0) {
        fprintf(stderr, "xipvm synth: %s\n", err);
        return 1;
    }
    fprintf(stderr,
            "xipvm synth: %llu events (%llu x, %llu r, %llu w, %llu spawn, "
            "%llu fork, %llu exit)\n",
            (unsigned long long)st.events, (unsigned long long)st.x,
            (unsigned long long)st.r, (unsigned long long)st.w,
            (unsigned long long)st.spawns, (unsigned long long)st.forks,
            (unsigned long long)st.exits);
    return 0;
}
