/*
 * xipvm-cpubench [--quick] [--runs N] [--lackey LOG]: ns per access of
 * the CPU model, over a synthetic stream or a lackey log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpumodel.h"

int main(int argc, char **argv)
{
    struct bench_opts o = { .runs = 5 };
    const char *lackey = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            o.quick = true;
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            o.runs = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--lackey") == 0 && i + 1 < argc)
            lackey = argv[++i];
        else {
            fprintf(stderr, "usage: xipvm-cpubench [--quick] [--runs N] "
                            "[--lackey LOG]\n");
            return 2;
        }
    }
    struct cpumodel_results r;
    int e = bench_cpumodel(&o, lackey, &r);
    if (e != 0) {
        fprintf(stderr, "xipvm-cpubench: %s\n", strerror(e));
        return 1;
    }
    printf("cpu model: %llu accesses (%s), median of %u runs\n",
           (unsigned long long)r.events, lackey ? lackey : "synthetic", o.runs);
    printf("  miss rates: I1 %.3f%%  D1 %.3f%%  LL %.4f%% of all accesses\n",
           r.i1_miss, r.d1_miss, r.ll_miss);
    printf("  TLB misses: R4000 %llu refills, amd64 %llu walks\n",
           (unsigned long long)r.r4k_refills,
           (unsigned long long)r.amd64_walks);
    printf("  %-40s %6.2f ns/access\n", "bare loop over the events", r.loop_ns);
    printf("  above the bare loop:\n");
    printf("  %-40s %6.2f ns/access\n", "caches (I1, D1, LL)", r.cache_ns);
    printf("  %-40s %6.2f ns/access\n", "caches + R4000 joint TLB",
           r.cache_r4k_ns);
    printf("  %-40s %6.2f ns/access\n", "caches + amd64 TLBs",
           r.cache_amd64_ns);
    return 0;
}
