/* The benchmark suite as its own program, for `meson test --benchmark`. */
#include "bench.h"
#include "cli.h"

extern const struct cli_cmd bench_cmd;

/* This program's one command (cli.h: every program lists its own). */
const struct cli_cmd *const cli_commands[] = { &bench_cmd, NULL };

int main(int argc, char **argv)
{
    return bench_main(argc, argv);
}
