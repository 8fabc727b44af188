/*
 * xipvm: the command-line face of libxipvm.  Each subcommand describes
 * itself (struct cli_cmd in cli.h); this file lists them and answers
 * --help and --version for all of them alike.
 */
#include <errno.h>
#include <string.h>

#include "cli.h"

extern const struct cli_cmd run_cmd, compare_cmd, sweep_cmd, fsinfo_cmd,
    profiles_cmd, advise_cmd, record_cmd, mkimage_cmd, import_lackey_cmd,
    synth_cmd, convert_cmd, bench_cmd;

const struct cli_cmd *const cli_commands[] = {
    &run_cmd,     &compare_cmd, &sweep_cmd,   &fsinfo_cmd,        &profiles_cmd,
    &advise_cmd,  &record_cmd,  &mkimage_cmd, &import_lackey_cmd, &synth_cmd,
    &convert_cmd, &bench_cmd,   NULL,
};

static int usage(FILE *f)
{
    fprintf(f, "usage: xipvm COMMAND [OPTIONS] [ARGS...]\n"
               "       xipvm COMMAND --help | xipvm --help | xipvm --version\n"
               "\ncommands:\n");
    for (const struct cli_cmd *const *c = cli_commands; *c; c++)
        fprintf(f, "  %-14s %s\n", (*c)->name, (*c)->summary);
    fprintf(f, "\n'xipvm COMMAND --help' lists its options and their defaults; "
               "the manual\npage is xipvm(1).  Every figure the reports print "
               "is defined in doc/figures.md.\n");
    return f == stdout ? 0 : 2;
}

/* What went to standard output must have reached it: a report lost to a
 * full disk or a closed pipe is a failure, not a success (a command that
 * failed has said why already). */
static int stdout_checked(int rc)
{
    errno = 0;
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "xipvm: standard output: %s\n",
                errno ? strerror(errno) : "write error");
        return 1;
    }
    return rc;
}

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0)
        return stdout_checked(usage(stdout));
    if (strcmp(argv[1], "--version") == 0) {
        cli_version(stdout);
        return stdout_checked(0);
    }
    for (const struct cli_cmd *const *c = cli_commands; *c; c++) {
        if (strcmp(argv[1], (*c)->name) != 0)
            continue;
        /* --help anywhere before "--" (after it: the program's own). */
        for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
            if (is_help(argv[i])) {
                cli_help(stdout, *c);
                return stdout_checked(0);
            }
            if (strcmp(argv[i], "--version") == 0) {
                cli_version(stdout);
                return stdout_checked(0);
            }
        }
        return stdout_checked((*c)->fn(argc - 1, argv + 1));
    }
    fprintf(stderr, "xipvm: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
