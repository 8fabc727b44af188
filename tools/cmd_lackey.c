/*
 * xipvm import-lackey and xipvm record: real programs' memory accesses,
 * from valgrind's lackey tool, as v1 traces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "lackey.h"

static const char import_usage[] =
    "usage: xipvm import-lackey --exec PATH [--as IMAGE_PATH] [--pid N]\n"
    "                           [-o TRACE] [LACKEY_LOG]\n"
    "  Converts `valgrind --tool=lackey --trace-mem=yes PATH` output (a file,\n"
    "  or standard input) into a v1 trace (standard output unless -o).\n";
static const char record_usage[] =
    "usage: xipvm record [--as IMAGE_PATH] [--pid N] -o TRACE -- PROGRAM "
    "[ARGS...]\n"
    "  Runs PROGRAM on the host under valgrind lackey and writes its trace;\n"
    "  the spawn line names IMAGE_PATH (default: PROGRAM's host path).\n";

static void report(const struct lackey_stats *st)
{
    uint64_t total = st->elf_bytes + st->inferred_bytes;
    fprintf(
        stderr,
        "xipvm: %llu events (%llu x, %llu r, %llu w); %llu bytes in the "
        "program's segments, %llu bytes (%.1f%%) inferred as anonymous memory "
        "in %llu chunks of 1 MiB\n",
        (unsigned long long)st->events, (unsigned long long)st->ev_x,
        (unsigned long long)st->ev_r, (unsigned long long)st->ev_w,
        (unsigned long long)st->elf_bytes,
        (unsigned long long)st->inferred_bytes,
        total ? 100.0 * st->inferred_bytes / total : 0.0,
        (unsigned long long)st->chunks);
}

/* --as, --pid, -o, --exec: => index of the first other argument, or -1. */
static int options(int argc, char **argv, struct lackey_opts *o,
                   const char **out, const char **exec)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t n;
        if (strcmp(a, "--") == 0)
            return i + 1;
        if (a[0] != '-' || a[1] == '\0')
            return i;
        if (i + 1 >= argc) {
            fprintf(stderr, "xipvm: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--as") == 0) {
            o->path_in_image = v;
        } else if (strcmp(a, "-o") == 0) {
            *out = v;
        } else if (strcmp(a, "--exec") == 0 && exec) {
            *exec = v;
        } else if (strcmp(a, "--pid") == 0) {
            if (parse_uint(v, UINT32_MAX, &n) || n == 0) {
                fprintf(stderr, "xipvm: --pid: expected 1 to 4294967295\n");
                return -1;
            }
            o->pid = (uint32_t)n;
        } else {
            fprintf(stderr, "xipvm: unknown option %s\n", a);
            return -1;
        }
    }
    return i;
}

static FILE *open_out(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
    return f;
}

static int close_out(FILE *f, const char *path)
{
    if (f != stdout ? fclose(f) != 0 : fflush(f) != 0) {
        fprintf(stderr, "xipvm: %s: write error\n", path ? path : "output");
        return 1;
    }
    return 0;
}

int cmd_import_lackey(int argc, char **argv)
{
    struct lackey_opts o = { .pid = 1 };
    struct lackey_stats st;
    const char *out = NULL, *exec = NULL;
    char err[512];
    int i = options(argc, argv, &o, &out, &exec);
    if (i < 0 || exec == NULL || argc - i > 1) {
        fputs(import_usage, stderr);
        return 2;
    }
    o.exec_host_path = exec;
    FILE *in =
        i < argc && strcmp(argv[i], "-") != 0 ? fopen(argv[i], "r") : stdin;
    if (in == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", argv[i], strerror(errno));
        return 1;
    }
    FILE *f = open_out(out);
    if (f == NULL)
        return 1;
    int error = lackey_import(in, f, &o, &st, err, sizeof(err));
    if (in != stdin)
        fclose(in);
    if (close_out(f, out) || error) {
        if (error)
            fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    report(&st);
    return 0;
}

int cmd_record(int argc, char **argv)
{
    struct lackey_opts o = { .pid = 1 };
    struct lackey_stats st;
    const char *out = NULL;
    char err[512];
    int status = 0;
    int i = options(argc, argv, &o, &out, NULL);
    if (i < 0 || i >= argc || out == NULL) {
        fputs(record_usage, stderr);
        return 2;
    }
    FILE *f = open_out(out);
    if (f == NULL)
        return 1;
    int error = lackey_record((const char *const *)argv + i, f, &o, &st,
                              &status, err, sizeof(err));
    if (close_out(f, out) || error) {
        if (error)
            fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    report(&st);
    if (st.forks)
        fprintf(stderr,
                "xipvm: %s forked: recorded as its first process only\n",
                argv[i]);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fprintf(stderr, "xipvm: note: %s exited with status %d\n", argv[i],
                WEXITSTATUS(status));
    return 0;
}
