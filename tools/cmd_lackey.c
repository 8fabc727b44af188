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

int cmd_import_lackey(int argc, char **argv);
int cmd_record(int argc, char **argv);

static const struct cli_opt import_opts[] = {
    { "--exec", "PATH", NULL,
      "the program's ELF on the host, as it ran under lackey; required" },
    { "--as", "IMAGE_PATH", "the --exec path",
      "the program's path in the image (the spawn line)" },
    { "--pid", "N", "1", "the process id in the trace" },
    { "-o", "TRACE", "standard output", "write the trace there" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd import_lackey_cmd = {
    .name = "import-lackey",
    .synopsis = "--exec PATH [OPTIONS] [LACKEY_LOG]",
    .summary = "convert a lackey log into a trace",
    .opts = import_opts,
    .details =
        "Converts `valgrind --tool=lackey --trace-mem=yes PATH` output "
        "(LACKEY_LOG,\nor standard input) into a v1 trace; what it inferred "
        "is said on\nstandard error.  Exit status: 0, 1 when a file cannot "
        "be read or\nwritten or the log is not lackey's, 2 for a usage "
        "error.\n",
    .fn = cmd_import_lackey,
};

static const struct cli_opt record_opts[] = {
    { "--as", "IMAGE_PATH", "PROGRAM's host path",
      "the program's path in the image (the spawn line)" },
    { "--pid", "N", "1", "the process id in the trace" },
    { "-o", "TRACE", NULL,
      "write the trace there (- for standard output); "
      "required" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd record_cmd = {
    .name = "record",
    .synopsis = "[OPTIONS] -o TRACE -- PROGRAM [ARGS...]",
    .summary = "record a program's trace with valgrind lackey",
    .opts = record_opts,
    .details = "Runs PROGRAM on the host under valgrind lackey (valgrind "
               "must be\ninstalled) and writes its trace.  Only its first "
               "process is recorded.\nExit status: 0 (PROGRAM's own status "
               "is said on standard error), 1\nwhen valgrind or the output "
               "fails, 2 for a usage error.\n",
    .fn = cmd_record,
};

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

/*
 * The options of cmd's table (--as, --pid, -o, --exec), up to "--" or
 * the first other argument.  => the index of the first other argument,
 * or -1 after a message.
 */
static int options(const struct cli_cmd *cmd, int argc, char **argv,
                   struct lackey_opts *o, const char **out, const char **exec)
{
    struct cli_args args = { cmd, argc, 1, argv, true };
    const struct cli_opt *opt;
    const char *v;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) == CLI_OPT) {
        uint64_t n;
        if (strcmp(opt->name, "--as") == 0) {
            o->path_in_image = v;
        } else if (strcmp(opt->name, "-o") == 0) {
            *out = v;
        } else if (strcmp(opt->name, "--exec") == 0) {
            *exec = v;
        } else if (strcmp(opt->name, "--pid") == 0) {
            if (parse_uint(v, UINT32_MAX, &n) || n == 0) {
                fprintf(stderr,
                        "xipvm %s: --pid: expected 1 to 4294967295, "
                        "got %s\n",
                        cmd->name, v);
                return -1;
            }
            o->pid = (uint32_t)n;
        }
    }
    if (kind == CLI_ERR)
        return -1;
    /* CLI_ARG: the argument just taken is the first other one. */
    return kind == CLI_ARG ? args.i - 1 : args.i;
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
    int i = options(&import_lackey_cmd, argc, argv, &o, &out, &exec);
    if (i >= 0 && exec == NULL)
        fprintf(stderr, "xipvm import-lackey: --exec PATH is required\n");
    else if (i >= 0 && argc - i > 1)
        fprintf(stderr, "xipvm import-lackey: one LACKEY_LOG only\n");
    if (i < 0 || exec == NULL || argc - i > 1) {
        cli_usage(stderr, &import_lackey_cmd);
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
    int i = options(&record_cmd, argc, argv, &o, &out, NULL);
    if (i >= 0 && out == NULL)
        fprintf(stderr, "xipvm record: -o TRACE is required\n");
    else if (i >= argc)
        fprintf(stderr, "xipvm record: the PROGRAM to run is missing\n");
    if (i < 0 || i >= argc || out == NULL) {
        cli_usage(stderr, &record_cmd);
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
