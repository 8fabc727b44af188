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

int cmd_import_lackey(int argc, char **argv);
int cmd_record(int argc, char **argv);

static const struct cli_opt import_opts[] = {
    { "--exec", "PATH", NULL,
      "the program's ELF on the host, as it ran under lackey; required "
      "for one LACKEY_LOG, refused for a LOG_DIR" },
    { "--as", "IMAGE_PATH", "the --exec path",
      "the program's path in the image (the spawn line)" },
    { "--pid", "N", "1", "the (first) process id in the trace" },
    { "--cwd", "DIR", "the current directory",
      "LOG_DIR: the directory the run started in, to resolve its "
      "relative paths" },
    { "--root", "DIR", NULL,
      "LOG_DIR: copy every file the run used into DIR at the same paths" },
    { "-o", "TRACE", "standard output",
      "write the trace there (.xvt: binary; .gz and .zst compress)" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd import_lackey_cmd = {
    .name = "import-lackey",
    .synopsis = "--exec PATH [OPTIONS] [LACKEY_LOG] | [OPTIONS] LOG_DIR",
    .summary = "convert lackey logs (one, or a run's directory) into a trace",
    .opts = import_opts,
    .details =
        "Converts one `valgrind --tool=lackey --trace-mem=yes PATH` log (a "
        "file, or\nstandard input) of one process, or a directory of "
        "per-process logs\n(xipvm record --keep-logs), into a trace; what "
        "it inferred is said on\nstandard error, and a file is written only "
        "when complete.  Exit status:\n0, 1 when a file cannot be read or "
        "written or a log is not lackey's, 2\nfor a usage error.\n",
    .fn = cmd_import_lackey,
};

static const struct cli_opt record_opts[] = {
    { "--root", "DIR", NULL,
      "copy every file the run executed, mapped or read into DIR at the "
      "same paths (then: xipvm mkimage DIR IMAGE)" },
    { "--as", "IMAGE_PATH", "COMMAND's host path",
      "the first program's path in the image (its spawn line; a script's: "
      "what its interpreter is given)" },
    { "--pid", "N", "1", "the first process id in the trace" },
    { "--keep-logs", "DIR", NULL,
      "keep lackey's per-process logs in DIR (for import-lackey)" },
    { "-o", "TRACE", NULL,
      "write the trace there (- for standard output; .xvt: binary; .gz "
      "and .zst compress); required" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd record_cmd = {
    .name = "record",
    .synopsis = "[OPTIONS] -o TRACE -- COMMAND [ARGS...]",
    .summary = "record a command's trace, its whole process tree, with "
               "valgrind",
    .opts = record_opts,
    .details = "Runs COMMAND on the host under valgrind lackey (valgrind "
               "must be\ninstalled), following every process it starts "
               "(forks, execs, exits,\nthe dynamic linker's mmaps), and "
               "writes one trace of them all, only\nwhen complete.  Exit "
               "status: 0 (COMMAND's own status is said on\nstandard error), "
               "1 when valgrind or the output fails, 130 when the run\n"
               "is interrupted, 2 for a usage error.\n",
    .fn = cmd_record,
};

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

/* The options of cmd's table, up to "--" or the first operand.
 * => the operand's index, or -1 after a message. */
static int options(const struct cli_cmd *cmd, int argc, char **argv,
                   struct opts *o)
{
    struct cli_args args = { cmd, argc, 1, argv, true };
    const struct cli_opt *opt;
    const char *v;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) == CLI_OPT) {
        const char *a = opt->name;
        uint64_t n;
        if (strcmp(a, "--as") == 0) {
            o->lk.path_in_image = v;
        } else if (strcmp(a, "-o") == 0) {
            o->out = v;
        } else if (strcmp(a, "--root") == 0) {
            o->lk.root_dir = v;
        } else if (strcmp(a, "--exec") == 0) {
            o->exec = v;
        } else if (strcmp(a, "--cwd") == 0) {
            o->lk.cwd = v;
        } else if (strcmp(a, "--keep-logs") == 0) {
            o->lk.keep_logs = v;
        } else if (strcmp(a, "--pid") == 0) {
            if (parse_uint(v, UINT32_MAX, &n) || n == 0) {
                fprintf(stderr,
                        "xipvm %s: --pid: expected 1 to 4294967295, "
                        "got %s\n",
                        cmd->name, v);
                return -1;
            }
            o->lk.pid = (uint32_t)n;
        }
    }
    if (kind == CLI_ERR)
        return -1;
    /* CLI_ARG: the argument just taken is the first other one. */
    return kind == CLI_ARG ? args.i - 1 : args.i;
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
    int i = options(&import_lackey_cmd, argc, argv, &o);
    const char *in_path = i >= 0 && i < argc ? argv[i] : NULL;
    int dir = in_path != NULL && strcmp(in_path, "-") != 0 && is_dir(in_path);
    const char *why = i < 0             ? NULL
                      : argc - i > 1    ? "one LACKEY_LOG or LOG_DIR only"
                      : !dir && !o.exec ? "--exec PATH is required for a log"
                      : dir && o.exec   ? "a LOG_DIR takes no --exec"
                      : !dir && (o.lk.root_dir || o.lk.cwd)
                          ? "--root and --cwd are for a LOG_DIR"
                          : NULL;
    if (i < 0 || why) {
        if (why)
            fprintf(stderr, "xipvm import-lackey: %s\n", why);
        cli_usage(stderr, &import_lackey_cmd);
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
    xvm_trace_writer *tw =
        trace_output_open(o.out ? o.out : "-", &out, err, sizeof(err));
    if (tw == NULL) {
        fprintf(stderr, "xipvm: %s\n", err);
        if (in && in != stdin)
            fclose(in);
        return 1;
    }
    o.lk.exec_host_path = o.exec;
    int error =
        dir ? lackey_import_dir_to(in_path, tw, &o.lk, &st, err, sizeof(err))
            : lackey_import_to(in, tw, &o.lk, &st, err, sizeof(err));
    if (in && in != stdin)
        fclose(in);
    if (error) {
        trace_output_abort(tw, out);
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    if (trace_output_commit(tw, out, err, sizeof(err)) != 0) {
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
    int i = options(&record_cmd, argc, argv, &o);
    if (i >= 0 && o.out == NULL)
        fprintf(stderr, "xipvm record: -o TRACE is required\n");
    else if (i >= argc)
        fprintf(stderr, "xipvm record: the COMMAND to run is missing\n");
    if (i < 0 || i >= argc || o.out == NULL) {
        cli_usage(stderr, &record_cmd);
        return 2;
    }
    xvm_trace_writer *tw = trace_output_open(o.out, &out, err, sizeof(err));
    if (tw == NULL) {
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    o.lk.trace_on_stdout = strcmp(o.out, "-") == 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int k = 0; k < 3; k++)
        sigaction(sigs[k], &sa, &old[k]);
    o.lk.stop = &stop;
    int error = lackey_record_to((const char *const *)argv + i, tw, &o.lk, &st,
                                 &status, err, sizeof(err));
    for (int k = 0; k < 3; k++)
        sigaction(sigs[k], &old[k], NULL);
    if (error == 0 && stop)
        error = EINTR, snprintf(err, sizeof(err), "interrupted");
    if (error) {
        trace_output_abort(tw, out);
        fprintf(stderr, "xipvm: %s%s\n", err,
                error == EINTR ? ": no trace written" : "");
        return error == EINTR ? 130 : 1;
    }
    if (trace_output_commit(tw, out, err, sizeof(err)) != 0) {
        fprintf(stderr, "xipvm: %s\n", err);
        return 1;
    }
    report(&st);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fprintf(stderr, "xipvm: note: %s exited with status %d\n", argv[i],
                WEXITSTATUS(status));
    return 0;
}
