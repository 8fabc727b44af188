/*
 * Differential testing against the reference model: thousands of random
 * operation sequences with fixed seeds, on both profiles, XIP and copy
 * mounts, tiny and large RAM, with and without injected failures, under
 * each device-page design.  Every byte read, every error and every map
 * layout must match the model.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "diffops.h"

#define OPS_PER_SEQ 40

/* XVM_DIFF_SCALE=n runs n times the seeds (the default fits CI). */
static unsigned scaled(unsigned n)
{
    const char *s = getenv("XVM_DIFF_SCALE");
    unsigned k = s ? (unsigned)strtoul(s, NULL, 10) : 1;
    return n * (k ? k : 1);
}

struct fixture {
    struct diff_image img[2]; /* UFS2 little endian 4K, UFS1 big endian 8K */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char err[256];
    *state = NULL;
    if (diff_image_build(&fx->img[0], 2, "little", 4096, 512, err,
                         sizeof(err)) ||
        diff_image_build(&fx->img[1], 1, "big", 8192, 1024, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx == NULL)
        return 0;
    diff_image_free(&fx->img[0]);
    diff_image_free(&fx->img[1]);
    free(fx);
    return 0;
}

/* Runs seeds [first, first + n) on every profile, mount mode and image. */
static void run_seeds(struct fixture *fx, uint64_t frames, int inject,
                      uint64_t first, unsigned n)
{
    static const char *const profiles[] = { "sgimips", "amd64" };
    unsigned total = 0, accepted = 0, errors = 0, kills = 0, loans = 0,
             breaks = 0;
    unsigned by_design[XVM_DESIGNS] = { 0 };
    n = scaled(n);
    for (unsigned k = 0; k < 4 * n; k++) {
        struct diff_config cfg = {
            .profile = profiles[k & 1],
            .ram_bytes = frames * RM_PG,
            .xip = k & 2,
            .ahead = (k / 4) & 1,
            .inject = inject,
            /* Each design sees every profile, mode, image, fault-ahead. */
            .design = (enum xvm_device_design)((k / 16) % XVM_DESIGNS),
            .max_ops = OPS_PER_SEQ,
        };
        by_design[cfg.design]++;
        struct diff_src src;
        struct diff_result res;
        uint64_t seed = first + k / 4;
        diff_src_seed(&src, seed);
        if (diff_run(&fx->img[(k / 8) & 1], &cfg, &src, &res) != 0) {
            fprintf(stderr, "%s", res.msg); /* longer than fail_msg takes */
            fail_msg("seed %llu, image %u, fault-ahead %u, %s design: see "
                     "above",
                     (unsigned long long)seed, (k / 8) & 1, (k / 4) & 1,
                     xvm_device_design_name(cfg.design));
        }
        total += res.ops;
        accepted += res.enomem_accepted;
        kills += res.oom_kills;
        errors += res.errors;
        loans += res.loans;
        breaks += res.loan_breaks;
    }
    print_message("%u sequences (%u, %u, %u by design), %u operations, %u "
                  "predicted errors matched, %u ENOMEM accepted, %u processes "
                  "killed out of memory, %u loans (%u writes during one "
                  "copied)\n",
                  4 * n, by_design[0], by_design[1], by_design[2], total,
                  errors, accepted, kills, loans, breaks);
    for (int d = 0; d < XVM_DESIGNS; d++)
        assert_true(by_design[d] >= 4 * n / 4); /* each gets its share */
}

static void test_diff_large_ram_never_runs_out(void **state)
{
    run_seeds(*state, 1024, 0, 1, 180);
}

static void test_diff_tiny_ram_enomem_is_all_or_nothing(void **state)
{
    run_seeds(*state, 40, 0, 100001, 180);
}

static void test_diff_injected_failures_leave_no_trace(void **state)
{
    run_seeds(*state, 1024, 1, 200001, 100);
}

/* The bytes of a fuzzer input decode to the same runs as a seed. */
static void test_diff_byte_input_decodes_config_and_ops(void **state)
{
    struct fixture *fx = *state;
    uint8_t input[512];
    for (unsigned round = 0; round < 64; round++) {
        struct diff_src src, gen;
        struct diff_config cfg;
        struct diff_result res;
        diff_src_seed(&gen, round + 7);
        for (size_t i = 0; i < sizeof(input); i++)
            input[i] = (uint8_t)diff_byte(&gen);
        input[0] = (uint8_t)round;
        diff_src_bytes(&src, input, sizeof(input));
        diff_config_decode(&src, &cfg);
        if (diff_run(&fx->img[0], &cfg, &src, &res) != 0) {
            fprintf(stderr, "%s", res.msg);
            fail_msg("round %u: see above", round);
        }
        assert_true(res.ops > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_large_ram_never_runs_out),
        cmocka_unit_test(test_diff_tiny_ram_enomem_is_all_or_nothing),
        cmocka_unit_test(test_diff_injected_failures_leave_no_trace),
        cmocka_unit_test(test_diff_byte_input_decodes_config_and_ops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
