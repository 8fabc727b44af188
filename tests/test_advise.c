/*
 * The XIP advisor's choice (tools/advise_plan.c) against optima known
 * independently: a profile worked out by hand, and small random profiles
 * whose every subset of pages is tried (brute force) for every budget.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "advise.h"

#define FRAME 4168u /* a 4 KiB page and sgimips's 72-byte vm_page */

/* A page: flash kept XIP is a page; packed is its compressed size. */
static struct adv_page pg(uint32_t file, uint64_t page, uint32_t packed,
                          int costs_ram, uint64_t touches)
{
    return (struct adv_page){ file,   page, 4096, packed, costs_ram ? FRAME : 0,
                              touches };
}

/*
 * Six pages, worked out by hand.  Extra flash of keeping each XIP
 * (4096 - packed) and whether it costs RAM in copy mode:
 *
 *   page   packed  extra  RAM
 *   a0      1096   3000   yes
 *   a1      3096   1000   yes
 *   a2      4096      0   yes   (incompressible: XIP for free)
 *   b0       596   3500   no    (never used: always compressed)
 *   b1      2096   2000   yes
 *   b2      2096   2000   yes   (hotter than b1: first on a tie)
 *
 * Every page compressed: 1096 + 3096 + 4096 + 596 + 2096 + 2096 = 13076.
 * The best k pages XIP are the k cheapest of a2, a1, b2, b1, a0:
 * flash 13076, 13076, 14076, 16076, 18076, 21076.
 */
static void test_advise_choice_on_a_profile_worked_out_by_hand(void **state)
{
    (void)state;
    struct adv_page p[] = {
        pg(0, 0, 1096, 1, 3), pg(0, 1, 3096, 1, 1), pg(0, 2, 4096, 1, 1),
        pg(1, 0, 596, 0, 0),  pg(1, 1, 2096, 1, 1), pg(1, 2, 2096, 1, 9),
    };
    static const uint64_t flash[] = {
        13076, 13076, 14076, 16076, 18076, 21076
    };
    static const size_t order[] = { 2, 1, 5, 4, 0 };
    struct adv_plan pl;
    assert_int_equal(adv_plan_make(p, 6, &pl), 0);
    assert_int_equal(pl.n, 5);
    assert_int_equal(pl.frame_bytes, FRAME);
    assert_int_equal(pl.ram_copy, 5 * FRAME);
    assert_int_equal(pl.flash_xip, 6 * 4096);
    for (size_t k = 0; k <= 5; k++) {
        assert_int_equal(pl.flash[k], flash[k]);
        assert_int_equal(pl.saved[k], k * FRAME);
        if (k < 5)
            assert_int_equal(pl.order[k], order[k]);
    }
    /* flash budgets: too small, the minimum, between points, all */
    assert_int_equal(adv_plan_flash_budget(&pl, 13075), ADV_NONE);
    assert_int_equal(adv_plan_flash_budget(&pl, 13076), 1);
    assert_int_equal(adv_plan_flash_budget(&pl, 16075), 2);
    assert_int_equal(adv_plan_flash_budget(&pl, 16076), 3);
    assert_int_equal(adv_plan_flash_budget(&pl, 1u << 30), 5);
    /* RAM budgets: what the pages left compressed may cost */
    assert_int_equal(adv_plan_ram_budget(&pl, 5 * FRAME), 0);
    assert_int_equal(adv_plan_ram_budget(&pl, 5 * FRAME - 1), 1);
    assert_int_equal(adv_plan_ram_budget(&pl, 2 * FRAME), 3);
    assert_int_equal(adv_plan_ram_budget(&pl, 0), 5);
    adv_plan_free(&pl);
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define NMAX 12

/* Flash and RAM saved of the subset mask kept XIP. */
static void subset(const struct adv_page *p, size_t n, unsigned mask,
                   uint64_t *flash, uint64_t *saved)
{
    *flash = *saved = 0;
    for (size_t i = 0; i < n; i++)
        if (mask >> i & 1) {
            *flash += p[i].xip_bytes;
            *saved += p[i].ram_bytes;
        } else {
            *flash += p[i].packed_bytes;
        }
}

/* Whether v[b] is among v[0..b): budgets are tried once each. */
static int seen_before(const uint64_t *v, unsigned b)
{
    for (unsigned i = 0; i < b; i++)
        if (v[i] == v[b])
            return 1;
    return 0;
}

/* Random profiles of up to 12 pages: for every budget at every flash
 * (and RAM) a subset reaches, and one byte below it, the choice is as
 * good as the best of all 2^n subsets. */
static void test_advise_choice_is_the_brute_force_optimum(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15u;
    static uint64_t fl[1u << NMAX], sv[1u << NMAX];
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rnd(&seed) % NMAX;
        struct adv_page p[NMAX];
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd(&seed);
            /* few distinct sizes: ties happen */
            uint32_t packed = r % 3 == 0 ? 4096 : (uint32_t)(r >> 8) % 8 * 512;
            p[i] = pg((uint32_t)(i % 3), i, packed, (r >> 20) % 4 != 0,
                      (r >> 24) % 3);
        }
        struct adv_plan pl;
        assert_int_equal(adv_plan_make(p, n, &pl), 0);
        uint64_t ram_copy = 0;
        for (size_t i = 0; i < n; i++)
            ram_copy += p[i].ram_bytes;
        assert_int_equal(pl.ram_copy, ram_copy);
        for (unsigned m = 0; m < 1u << n; m++)
            subset(p, n, m, &fl[m], &sv[m]);
        /* the curve is the frontier: the least flash saving k frames */
        for (size_t k = 0; k <= pl.n; k++) {
            uint64_t best = UINT64_MAX;
            for (unsigned m = 0; m < 1u << n; m++)
                if (sv[m] >= k * FRAME && fl[m] < best)
                    best = fl[m];
            assert_int_equal(pl.flash[k], best);
            assert_int_equal(pl.saved[k], k * FRAME);
        }
        for (unsigned b = 0; b < 1u << n; b++)
            for (uint64_t budget = fl[b] - 1; budget <= fl[b]; budget++) {
                if (seen_before(fl, b))
                    break;
                /* the most RAM saved within the flash budget, and the
                 * least flash that saves it */
                uint64_t most = 0, least = UINT64_MAX;
                int feasible = 0;
                for (unsigned m = 0; m < 1u << n; m++)
                    if (fl[m] <= budget && (!feasible || sv[m] > most ||
                                            (sv[m] == most && fl[m] < least))) {
                        feasible = 1;
                        most = sv[m];
                        least = fl[m];
                    }
                size_t k = adv_plan_flash_budget(&pl, budget);
                if (!feasible) {
                    assert_int_equal(k, ADV_NONE);
                    continue;
                }
                assert_int_not_equal(k, ADV_NONE);
                assert_int_equal(pl.saved[k], most);
                assert_int_equal(pl.flash[k], least);
            }
        for (unsigned b = 0; b < 1u << n; b++)
            for (uint64_t off = 0; off <= 1 && !seen_before(sv, b); off++) {
                /* the least flash leaving at most budget of RAM */
                uint64_t budget = ram_copy - sv[b] - (off && sv[b] < ram_copy);
                uint64_t least = UINT64_MAX;
                for (unsigned m = 0; m < 1u << n; m++)
                    if (ram_copy - sv[m] <= budget && fl[m] < least)
                        least = fl[m];
                size_t k = adv_plan_ram_budget(&pl, budget);
                assert_true(k <= pl.n);
                assert_true(ram_copy - pl.saved[k] <= budget);
                assert_int_equal(pl.flash[k], least);
            }
        adv_plan_free(&pl);
    }
}

static void test_advise_plan_refuses_a_model_it_cannot_solve(void **state)
{
    (void)state;
    struct adv_plan pl;
    /* a compressed page larger than the page kept XIP */
    struct adv_page p[2] = { pg(0, 0, 4097, 1, 0), pg(0, 1, 10, 1, 0) };
    assert_int_equal(adv_plan_make(p, 2, &pl), EINVAL);
    /* pages whose RAM differs: a knapsack, not this model */
    p[0] = pg(0, 0, 10, 1, 0);
    p[1].ram_bytes = 2 * FRAME;
    assert_int_equal(adv_plan_make(p, 2, &pl), EINVAL);
    /* nothing at all */
    assert_int_equal(adv_plan_make(NULL, 0, &pl), 0);
    assert_int_equal(pl.n, 0);
    assert_int_equal(pl.flash[0], 0);
    assert_int_equal(adv_plan_flash_budget(&pl, 0), 0);
    assert_int_equal(adv_plan_ram_budget(&pl, 0), 0);
    adv_plan_free(&pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advise_choice_on_a_profile_worked_out_by_hand),
        cmocka_unit_test(test_advise_choice_is_the_brute_force_optimum),
        cmocka_unit_test(test_advise_plan_refuses_a_model_it_cannot_solve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
