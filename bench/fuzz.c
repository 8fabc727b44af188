/*
 * Fault-sequence fuzzing at speed: fuzz_ops's work (an input of bytes
 * decoded into at most 200 operations on a fresh machine, each run on the
 * library and on the reference model and compared) on seeded inputs,
 * checked cheaply after each operation and whole at the end (as fuzz_ops
 * runs), and with the whole-machine checker after every operation.  This
 * build has no sanitizer: fuzz_ops under libFuzzer with AddressSanitizer
 * and UBSan, as CI fuzzes, runs about 200 executions a second from its
 * corpus (doc/performance.md, "The fuzzers under libFuzzer").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "diffops.h"

#define INPUT 301 /* bytes, as fuzz/corpus/ops holds */

static struct span run_inputs(struct diff_image *img, unsigned n, bool full,
                              unsigned *failures)
{
    static struct diff_result res;
    uint8_t input[INPUT];
    struct span t0 = tm_now(false);
    *failures = 0;
    for (unsigned k = 0; k < n; k++) {
        struct diff_src gen, src;
        struct diff_config cfg;
        diff_src_seed(&gen, 1000 + k);
        for (size_t i = 0; i < sizeof(input); i++)
            input[i] = (uint8_t)diff_byte(&gen);
        diff_src_bytes(&src, input, sizeof(input));
        diff_config_decode(&src, &cfg);
        cfg.full_check = full;
        if (diff_run(&img[(input[0] >> 5) & 1], &cfg, &src, &res) != 0)
            ++*failures;
    }
    return tm_per(t0, false, n);
}

int bench_fuzz(const struct bench_opts *o, struct table *t)
{
    struct diff_image img[2];
    char err[256];
    unsigned n = o->quick ? 100 : 500, bad = 0;
    struct span v;
    struct row *r;
    if (diff_image_build(&img[0], 2, "little", 4096, 512, err, sizeof(err)) ||
        diff_image_build(&img[1], 1, "big", 8192, 1024, err, sizeof(err))) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    MEDIAN_TM(v, o->runs > 3 ? 3 : o->runs, run_inputs(img, n, false, &bad));
    r = table_row(t, "exec/s", "fuzz_ops inputs, cheap checks, whole at end");
    r->cpu = 1e9 / v.cpu, r->wall = 1e9 / v.wall;
    snprintf(r->target, sizeof(r->target), ">= 200 /s");
    row_verdict(r, r->cpu >= 200 && bad == 0, "%u differ", bad);
    MEDIAN_TM(v, 1, run_inputs(img, n / 5, true, &bad));
    r = table_row(t, "exec/s", "fuzz_ops inputs, whole checker every step");
    r->cpu = 1e9 / v.cpu, r->wall = 1e9 / v.wall;
    diff_image_free(&img[0]);
    diff_image_free(&img[1]);
    return 0;
}
