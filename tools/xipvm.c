/*
 * xipvm: the command-line face of libxipvm.
 */
#include <string.h>

#include "cli.h"

int cmd_import_lackey(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int bench_main(int argc, char **argv);

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *what;
} commands[] = {
    { "run", cmd_run, "replay a trace on an image, XIP or copy mode" },
    { "compare", cmd_compare,
      "replay a trace in both modes: RAM saved and time lost by XIP" },
    { "sweep", cmd_sweep,
      "replay traces over a grid of RAM sizes and settings: the RAM each "
      "mode needs" },
    { "fsinfo", cmd_fsinfo, "how each file of an image maps under XIP" },
    { "profiles", cmd_profiles,
      "the built-in CPU profiles (caches, TLB, latencies)" },
    { "record", cmd_record,
      "record a command's trace, its whole process tree, with valgrind" },
    { "mkimage", cmd_mkimage, "make an FFS image of a directory (makefs)" },
    { "import-lackey", cmd_import_lackey,
      "convert lackey logs (one, or a run's directory) into a trace" },
    { "synth", cmd_synth, "write a synthetic trace (same seed, same trace)" },
    { "bench", bench_main, "benchmarks, side by side with the host kernel" },
};

static int usage(FILE *f)
{
    fprintf(f, "usage: xipvm COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].what);
    fprintf(f,
            "\n'xipvm COMMAND' without arguments describes its options.\n"
            "Every figure the reports print is defined in doc/figures.md.\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "xipvm: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
