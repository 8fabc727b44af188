/*
 * Cost of the CPU model per access: the cache hierarchy alone, and with
 * each TLB model in front, over an event stream held in memory (so
 * parsing is not measured).  A row for `xipvm bench` once the model is in
 * the access path; for now its own program, xipvm-cpubench.
 */
#ifndef XVM_BENCH_CPUMODEL_H
#define XVM_BENCH_CPUMODEL_H

#include <stdint.h>

#include "bench.h"

struct cpumodel_results {
    uint64_t events;       /* accesses per run */
    double loop_ns;        /* the bare loop over the events */
    double cache_ns;       /* + I1/D1/LL (32K/8/64, 32K/8/64, 2M/16/64) */
    double cache_r4k_ns;   /* + R4000 joint TLB in front */
    double cache_amd64_ns; /* + amd64 TLBs in front */
    double i1_miss, d1_miss, ll_miss;  /* miss rates of the stream, % */
    uint64_t r4k_refills, amd64_walks; /* TLB misses of one run */
};

/*
 * => lackey: a lackey log (--trace-mem=yes) to replay, or NULL for a
 *    synthetic stream shaped like a program (hot loops in 128 KiB of text,
 *    40% of instructions touching data: stack, a 256 KiB heap, 1% far).
 * => every figure is ns per access (the loop's cost subtracted), the
 *    median of o->runs; 0, or an errno (ENOMEM, or the log's open error).
 */
int bench_cpumodel(const struct bench_opts *o, const char *lackey,
                   struct cpumodel_results *r);

#endif
