/*
 * xipvm record and xipvm import-lackey: real programs' memory accesses,
 * whole process trees, from valgrind's lackey tool, as traces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli.h"
#include "lackey.h"

static const char import_usage[] =
    "usage: xipvm import-lackey --exec PATH [--as IMAGE_PATH] [--pid N]\n"
    "                           [-o TRACE] [LACKEY_LOG]\n"
    "       xipvm import-lackey [--as IMAGE_PATH] [--pid N] [--cwd DIR]\n"
    "                           [--root DIR] [-o TRACE] LOG_DIR\n"
    "  Converts one `valgrind --tool=lackey --trace-mem=yes PATH` log (a\n"
    "  file, or standard input) of one process, or a directory of\n"
    "  per-process logs (xipvm record --keep-logs), into a trace (standard\n"
    "  output unless -o; .gz and .zst compress).\n";
static const char record_usage[] =
    "usage: xipvm record [--root DIR] [--as IMAGE_PATH] [--pid N]\n"
    "                    [--keep-logs DIR] -o TRACE -- COMMAND [ARGS...]\n"
    "  Runs COMMAND on the host under valgrind lackey, following every\n"
    "  process it starts, and writes one trace of them all (.gz and .zst\n"
    "  compress).  --root copies every file the run executed, mapped or\n"
    "  read into DIR at the same paths (then: xipvm mkimage DIR IMAGE).\n";

/* Set by SIGINT, SIGTERM, SIGHUP: record stops its processes. */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void report(const struct lackey_stats *st)
{
    uint64_t total = st->elf_bytes + st->inferred_bytes + st->mapped_bytes;
    fprintf(stderr,
            "xipvm: %llu events (%llu x, %llu r, %llu w) of %llu processes "
            "(%llu execs, %llu logs); %llu bytes in programs and "
            "interpreters, %llu in mappings and brk, %llu (%.1f%%) inferred "
            "as anonymous memory in %llu chunks of 1 MiB; %llu files named\n",
            (unsigned long long)st->events, (unsigned long long)st->ev_x,
            (unsigned long long)st->ev_r, (unsigned long long)st->ev_w,
            (unsigned long long)(st->procs ? st->procs : 1),
            (unsigned long long)st->execs, (unsigned long long)st->logs,
            (unsigned long long)st->elf_bytes,
            (unsigned long long)st->mapped_bytes,
            (unsigned long long)st->inferred_bytes,
            total ? 100.0 * st->inferred_bytes / total : 0.0,
            (unsigned long long)st->chunks, (unsigned long long)st->files);
}

struct opts {
    struct lackey_opts lk;
    const char *out, *exec;
};

/* Options up to "--" or the first operand: => its index, or -1. */
static int options(int argc, char **argv, struct opts *o, int record)
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
            o->lk.path_in_image = v;
        } else if (strcmp(a, "-o") == 0) {
            o->out = v;
        } else if (strcmp(a, "--root") == 0) {
            o->lk.root_dir = v;
        } else if (strcmp(a, "--exec") == 0 && !record) {
            o->exec = v;
        } else if (strcmp(a, "--cwd") == 0 && !record) {
            o->lk.cwd = v;
        } else if (strcmp(a, "--keep-logs") == 0 && record) {
            o->lk.keep_logs = v;
        } else if (strcmp(a, "--pid") == 0) {
            if (parse_uint(v, UINT32_MAX, &n) || n == 0) {
                fprintf(stderr, "xipvm: --pid: expected 1 to 4294967295\n");
                return -1;
            }
            o->lk.pid = (uint32_t)n;
        } else {
            fprintf(stderr, "xipvm: unknown option %s\n", a);
            return -1;
        }
    }
    return i;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cmd_import_lackey(int argc, char **argv)
{
    struct opts o = { .lk = { .pid = 1 } };
    struct lackey_stats st;
    struct output *out;
    char err[1024];
    int i = options(argc, argv, &o, 0);
    const char *in_path = i >= 0 && i < argc ? argv[i] : NULL;
    int dir = in_path != NULL && strcmp(in_path, "-") != 0 && is_dir(in_path);
    if (i < 0 || argc - i > 1 || (!dir && o.exec == NULL) ||
        (dir && o.exec != NULL) || (!dir && (o.lk.root_dir || o.lk.cwd))) {
        fputs(import_usage, stderr);
        return 2;
    }
    FILE *in = NULL;
    if (!dir) {
        in = in_path && strcmp(in_path, "-") != 0 ? fopen(in_path, "r") : stdin;
        if (in == NULL) {
            fprintf(stderr, "xipvm: %s: %s\n", in_path, strerror(errno));
            return 1;
        }
    }
    FILE *f = output_open(o.out ? o.out : "-", &out, err, sizeof(err));
    if (f == NULL) {
        fprintf(stderr, "xipvm: %s\n", err);
        if (in && in != stdin)
            fclose(in);
        return 1;
    }
    o.lk.exec_host_path = o.exec;
    int error =
        dir ? lackey_import_dir(in_path, f, &o.lk, &st, err, sizeof(err))
            : lackey_import(in, f, &o.lk, &st, err, sizeof(err));
    if (in && in != stdin)
        fclose(in);
    if (error) {
        output_abort(out);
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    if (output_commit(out, err, sizeof(err)) != 0) {
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    report(&st);
    return 0;
}

int cmd_record(int argc, char **argv)
{
    struct opts o = { .lk = { .pid = 1 } };
    struct lackey_stats st;
    struct output *out;
    struct sigaction sa, old[3];
    static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
    char err[1024];
    int status = 0;
    int i = options(argc, argv, &o, 1);
    if (i < 0 || i >= argc || o.out == NULL) {
        fputs(record_usage, stderr);
        return 2;
    }
    FILE *f = output_open(o.out, &out, err, sizeof(err));
    if (f == NULL) {
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < 3; k++)
        sigaction(sigs[k], &sa, &old[k]);
    o.lk.stop = &stop;
    int error = lackey_record((const char *const *)argv + i, f, &o.lk, &st,
                              &status, err, sizeof(err));
    for (int k = 0; k < 3; k++)
        sigaction(sigs[k], &old[k], NULL);
    if (error == 0 && stop)
        error = EINTR, snprintf(err, sizeof(err), "interrupted");
    if (error) {
        output_abort(out);
        fprintf(stderr, "xipvm: %s%s\n", err,
                error == EINTR ? ": no trace written" : "");
        return error == EINTR ? 130 : 1;
    }
    if (output_commit(out, err, sizeof(err)) != 0) {
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    report(&st);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fprintf(stderr, "xipvm: note: %s exited with status %d\n", argv[i],
                WEXITSTATUS(status));
    return 0;
}
