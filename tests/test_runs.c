/*
 * The sparse array in runs (src/core/runs.c) against a plain array: every
 * word set, changed and removed at random is read back, visited once by
 * iteration and counted; chunks exist only for runs holding a word; a
 * failed allocation changes nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "profile.h"
#include "runs.h"

#define SPAN 2048 /* indexes the random test uses, in 64 runs */

struct fx {
    struct core core;
    struct runs r;
    uint64_t want[SPAN];
    uint64_t base; /* the index of want[0], a run's first */
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* r holds exactly want: read back, iterated once each, counted, and one
 * chunk per run that holds a word. */
static void agrees(struct fx *f)
{
    uint64_t held = 0, runs = 0;
    uint8_t seen[SPAN] = { 0 };
    for (uint64_t i = 0; i < SPAN; i++) {
        assert_int_equal(runs_get(&f->r, f->base + i), f->want[i]);
        held += f->want[i] != 0;
    }
    for (uint64_t run = 0; run < SPAN / RUNS_LEN; run++)
        for (unsigned j = 0; j < RUNS_LEN; j++)
            if (f->want[run * RUNS_LEN + j]) {
                runs++;
                break;
            }
    uint64_t i, w;
    for (struct runs_pos p = { 0 }; runs_next(&f->r, &p, &i, &w);) {
        assert_true(i >= f->base && i - f->base < SPAN);
        assert_false(seen[i - f->base]);
        seen[i - f->base] = 1;
        assert_int_equal(w, f->want[i - f->base]);
    }
    for (i = 0; i < SPAN; i++)
        assert_int_equal(seen[i], f->want[i] != 0);
    assert_int_equal(f->r.n, held);
    assert_int_equal(f->r.chunks.n, runs);
    struct check ck = { 0 };
    runs_check(&f->r, &ck);
    assert_int_equal(ck.error, 0);
}

/* An empty array of width-byte words on a machine's allocator. */
static void begin(struct core *c, struct runs *r, unsigned width)
{
    core_init(c, profile_find("amd64"));
    runs_init(r, width);
}

static void end(struct core *c, struct runs *r)
{
    runs_fini(c, r);
    assert_int_equal(r->n, 0);
    core_fini(c);
}

static void random_against_array(unsigned width, uint64_t base)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    begin(&f->core, &f->r, width);
    f->base = base;
    uint64_t s = 0x9e3779b97f4a7c15u ^ base ^ width;
    uint64_t mask = width == 4 ? UINT32_MAX : UINT64_MAX;
    for (unsigned step = 0; step < 20000; step++) {
        uint64_t i = rnd(&s) % SPAN, w = rnd(&s);
        if (rnd(&s) % 3 == 0)
            w = 0; /* a removal */
        assert_int_equal(runs_set(&f->core, &f->r, base + i, w), 0);
        f->want[i] = w & mask;
        if (step % 997 == 0)
            agrees(f);
    }
    agrees(f);
    for (uint64_t i = 0; i < SPAN; i++) { /* empty it: no chunk stays */
        assert_int_equal(runs_set(&f->core, &f->r, base + i, 0), 0);
        f->want[i] = 0;
    }
    agrees(f);
    assert_int_equal(f->r.chunks.n, 0);
    end(&f->core, &f->r);
    free(f);
}

static void test_runs_64_bit_words(void **state)
{
    (void)state;
    random_against_array(8, 0);
    random_against_array(8, UINT64_MAX - SPAN + 1); /* up to the top */
}

static void test_runs_32_bit_words_keep_the_low_half(void **state)
{
    (void)state;
    random_against_array(4, 0);
    random_against_array(4, UINT64_C(1) << 40);
}

/* A dense range costs a chunk per run; words far apart a chunk each. */
static void test_runs_chunks_follow_what_is_held(void **state)
{
    (void)state;
    struct core c;
    struct runs r;
    begin(&c, &r, 4);
    for (uint64_t i = 0; i < 64 * RUNS_LEN; i++)
        assert_int_equal(runs_set(&c, &r, i, i + 1), 0);
    assert_int_equal(r.chunks.n, 64);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(runs_set(&c, &r, (i + 1) << 32, 7), 0);
    assert_int_equal(r.chunks.n, 164);
    assert_int_equal(r.n, 64 * RUNS_LEN + 100);
    /* Removing what is not held changes nothing and allocates nothing. */
    assert_int_equal(runs_set(&c, &r, UINT64_C(1) << 60, 0), 0);
    assert_int_equal(r.chunks.n, 164);
    end(&c, &r);
}

/* The chunk's allocation failing, then the hash's growth: neither leaves
 * a word, a count or a chunk behind. */
static void test_runs_failed_allocation_changes_nothing(void **state)
{
    (void)state;
    struct core c;
    struct runs r;
    begin(&c, &r, 8);
    assert_int_equal(runs_set(&c, &r, 5, 1), 0); /* the hash's first slots */
    c.fail_at[INJECT_ALLOC] = c.occurred[INJECT_ALLOC] + 1;
    assert_int_equal(runs_set(&c, &r, 1000, 9), ENOMEM);
    assert_int_equal(runs_get(&r, 1000), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.chunks.n, 1);
    /* Fill the hash to its growth point, then fail the growth. */
    uint64_t run = 1;
    while ((r.chunks.n + 1) * 2 <= r.chunks.cap)
        assert_int_equal(runs_set(&c, &r, ++run * RUNS_LEN, 3), 0);
    uint64_t n = r.n, chunks = r.chunks.n;
    c.fail_at[INJECT_ALLOC] = c.occurred[INJECT_ALLOC] + 2;
    assert_int_equal(runs_set(&c, &r, ++run * RUNS_LEN, 4), ENOMEM);
    assert_int_equal(runs_get(&r, run * RUNS_LEN), 0);
    assert_int_equal(r.n, n);
    assert_int_equal(r.chunks.n, chunks);
    struct check ck = { 0 };
    runs_check(&r, &ck);
    assert_int_equal(ck.error, 0);
    /* The index untouched: setting an existing word needs no memory. */
    c.fail_at[INJECT_ALLOC] = c.occurred[INJECT_ALLOC] + 1;
    assert_int_equal(runs_set(&c, &r, 5, 2), 0);
    assert_int_equal(runs_get(&r, 5), 2);
    end(&c, &r);
}

/* runs_check finds a chunk left with no word and a count that is off. */
static void test_runs_check_finds_corruption(void **state)
{
    (void)state;
    struct core c;
    struct runs r;
    struct check ck = { 0 };
    begin(&c, &r, 8);
    assert_int_equal(runs_set(&c, &r, 40, 1), 0);
    r.n++;
    runs_check(&r, &ck);
    assert_int_not_equal(ck.error, 0);
    r.n--;
    uint64_t v;
    assert_true(hmap_get(&r.chunks, 40 / RUNS_LEN, &v));
    ((uint64_t *)(uintptr_t)v)[40 % RUNS_LEN] = 0; /* emptied behind its back */
    ck = (struct check){ 0 };
    runs_check(&r, &ck);
    assert_int_not_equal(ck.error, 0);
    end(&c, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_64_bit_words),
        cmocka_unit_test(test_runs_32_bit_words_keep_the_low_half),
        cmocka_unit_test(test_runs_chunks_follow_what_is_held),
        cmocka_unit_test(test_runs_failed_allocation_changes_nothing),
        cmocka_unit_test(test_runs_check_finds_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
