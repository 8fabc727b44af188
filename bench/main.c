/* The benchmark suite as its own program, for `meson test --benchmark`. */
#include "bench.h"

int main(int argc, char **argv)
{
    return bench_main(argc, argv);
}
