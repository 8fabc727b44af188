/* The benchmark suite as its own program, for `meson test --benchmark`. */
#include <string.h>

#include "bench.h"
#include "cli.h"

extern const struct cli_cmd bench_cmd;

/* This program's one command (cli.h: every program lists its own). */
const struct cli_cmd *const cli_commands[] = { &bench_cmd, NULL };

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_help(stdout, &bench_cmd);
            return 0;
        }
    return bench_main(argc, argv);
}
