/*
 * The cache model against miss counts worked out by hand.  Geometries
 * are small so each case can be followed on paper: a 1 KiB 2-way cache of
 * 64-byte lines has 8 sets; block b (address >> 6) lives in set b & 7.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

static const struct cache_geom G1K2W = { 1024, 2, 64 };

static void mk(struct cache *c, struct cache_geom i1, struct cache_geom d1,
               struct cache_geom ll)
{
    struct cache_config cfg;
    char err[160];
    memset(&cfg, 0, sizeof cfg);
    cfg.i1 = i1;
    cfg.d1 = d1;
    cfg.ll = ll;
    int e = cache_init(c, &cfg, err, sizeof err);
    if (e != 0)
        fail_msg("cache_init: %s", err);
}

static void check(struct cache *c)
{
    char err[160];
    if (cache_check(c, err, sizeof err) != 0)
        fail_msg("cache_check: %s", err);
}

static const struct cache_geom NONE = { 0, 0, 0 };

/* 512 bytes of 4-byte instructions, ten times: 8 cold misses, no more. */
static void test_cache_loop_fitting_i1_misses_only_cold(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    unsigned fills = 0;
    for (int it = 0; it < 10; it++)
        for (uint64_t a = 0x400000; a < 0x400000 + 512; a += 4)
            fills += CACHE_FILLS(cache_fetch(&c, a, 4));
    assert_int_equal(c.i1.refs[CACHE_I], 1280);
    assert_int_equal(c.i1.misses[CACHE_I], 8);
    assert_int_equal(fills, 8); /* no LL: from memory */
    assert_int_equal(c.mem_fills, 8);
    assert_int_equal(c.d1.refs[CACHE_R] + c.d1.refs[CACHE_W], 0);
    check(&c);
    cache_fini(&c);
}

/*
 * 1536 bytes (24 lines, three per 2-way set), one fetch per line, in a
 * loop: LRU always evicts the line needed next, so every fetch misses.
 * With an LL that holds them all, only the first pass misses in LL.
 */
static void test_cache_loop_thrashing_i1_misses_every_time(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    for (int it = 0; it < 10; it++)
        for (uint64_t a = 0x400000; a < 0x400000 + 1536; a += 64)
            assert_int_not_equal(cache_fetch(&c, a, 4), 0);
    assert_int_equal(c.i1.refs[CACHE_I], 240);
    assert_int_equal(c.i1.misses[CACHE_I], 240);
    check(&c);
    cache_fini(&c);

    mk(&c, G1K2W, G1K2W, (struct cache_geom){ 8192, 4, 64 });
    unsigned fills = 0;
    for (int it = 0; it < 10; it++)
        for (uint64_t a = 0x400000; a < 0x400000 + 1536; a += 64)
            fills += CACHE_FILLS(cache_fetch(&c, a, 4));
    assert_int_equal(c.i1.misses[CACHE_I], 240);
    assert_int_equal(c.ll.refs[CACHE_I], 240);  /* LL only on L1 misses */
    assert_int_equal(c.ll.misses[CACHE_I], 24); /* LLi: cold only */
    assert_int_equal(fills, 24);
    check(&c);
    cache_fini(&c);
}

/*
 * A 512-byte stride maps every access to set 0 of the 2-way D1.
 * MRU-first set contents after each access:
 *   A0 miss [A0]   A1 miss [A1 A0]   A0 hit [A0 A1]
 *   A2 miss [A2 A0] (A1 out)   A1 miss [A1 A2] (A0 out)   A0 miss [A0 A1]
 * A 576-byte stride (9 lines) walks the sets instead: cold misses only.
 */
static void test_cache_stride_across_sets_conflict_misses(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    const uint64_t A0 = 0x10000, A1 = A0 + 512, A2 = A0 + 1024;
    const uint64_t seq[] = { A0, A1, A0, A2, A1, A0 };
    const int miss[] = { 1, 1, 0, 1, 1, 1 };
    for (int i = 0; i < 6; i++)
        assert_int_equal(cache_load(&c, seq[i], 8) != 0, miss[i]);
    assert_int_equal(c.d1.refs[CACHE_R], 6);
    assert_int_equal(c.d1.misses[CACHE_R], 5);
    cache_fini(&c);

    mk(&c, G1K2W, G1K2W, NONE);
    for (int it = 0; it < 4; it++)
        for (uint64_t k = 0; k < 8; k++)
            cache_load(&c, 0x20000 + k * 576, 4);
    assert_int_equal(c.d1.refs[CACHE_R], 32);
    assert_int_equal(c.d1.misses[CACHE_R], 8);
    check(&c);
    cache_fini(&c);
}

/*
 * An access across a line boundary is one reference that misses once
 * when either line misses, and leaves both lines cached.
 */
static void test_cache_straddling_access_counts_once(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    uint64_t r = cache_load(&c, 0x103c, 8); /* lines 0x40, 0x41: both miss */
    assert_int_equal(r & CACHE_L1_MISS, 1);
    assert_int_equal(CACHE_FILLS(r), 2); /* two lines from memory */
    assert_int_equal(CACHE_L1_LINES(r), 2);
    assert_int_equal(cache_load(&c, 0x1040, 4), 0);      /* second line is in */
    assert_int_equal(cache_load(&c, 0x1038, 4), 0);      /* first too */
    assert_int_equal(cache_load(&c, 0x1080, 1) != 0, 1); /* line 0x42 */
    r = cache_load(&c, 0x10bc, 8); /* 0x42 hits, 0x43 misses */
    assert_int_equal(r & CACHE_L1_MISS, 1);
    assert_int_equal(CACHE_L1_LINES(r), 1);
    assert_int_equal(CACHE_FILLS(r), 1);
    assert_int_equal(c.d1.refs[CACHE_R], 5);
    assert_int_equal(c.d1.misses[CACHE_R], 3);
    /* A store across the boundary dirties both lines. */
    cache_store(&c, 0x107e, 4);
    assert_int_equal(c.d1.refs[CACHE_W], 1);
    assert_int_equal(c.d1.misses[CACHE_W], 0);
    cache_flush(&c);
    assert_int_equal(c.d1.writebacks, 2);
    assert_int_equal(c.mem_writebacks, 2);
    check(&c);
    cache_fini(&c);
}

/*
 * cachegrind looks up every LL line of a missing access: a fetch across
 * lines A (already in LL through D1) and B, both cold in I1, hits A and
 * misses B in LL: one LLi miss, one line from memory.
 */
static void test_cache_straddle_looks_up_both_ll_lines(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, (struct cache_geom){ 8192, 4, 64 });
    uint64_t r = cache_load(&c, 0x2000, 4);
    assert_int_equal(CACHE_FILLS(r), 1);
    r = cache_fetch(&c, 0x203c, 8);
    assert_int_equal(r & CACHE_L1_MISS, 1);
    assert_int_equal(CACHE_L1_LINES(r), 2); /* one from LL, one from memory */
    assert_int_equal(CACHE_FILLS(r), 1);
    assert_int_equal(c.i1.misses[CACHE_I], 1);
    assert_int_equal(c.ll.refs[CACHE_I], 1);
    assert_int_equal(c.ll.misses[CACHE_I], 1);
    assert_int_equal(c.ll.misses[CACHE_R], 1);
    /* Another instruction entirely in B: I1 hit, LL not consulted. */
    assert_int_equal(cache_fetch(&c, 0x2044, 4), 0);
    assert_int_equal(c.ll.refs[CACHE_I], 1);
    check(&c);
    cache_fini(&c);
}

/* A modify is one read reference that dirties the line. */
static void test_cache_modify_is_one_read_that_dirties(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    assert_int_not_equal(cache_modify(&c, 0x10000, 4), 0);
    assert_int_equal(cache_modify(&c, 0x10000, 4), 0);
    assert_int_equal(c.d1.refs[CACHE_R], 2);
    assert_int_equal(c.d1.misses[CACHE_R], 1);
    assert_int_equal(c.d1.refs[CACHE_W], 0);
    /* Two more lines of set 0 push it out: it was dirty. */
    assert_int_equal(CACHE_WBS(cache_load(&c, 0x10200, 4)), 0);
    uint64_t r = cache_load(&c, 0x10400, 4);
    assert_int_equal(CACHE_WBS(r), 1);
    assert_int_equal(c.d1.writebacks, 1);
    check(&c);
    cache_fini(&c);
}

/*
 * Write-back on dirty evictions.  Without LL:
 *   store A0, store A1 (set 0 full, both dirty), load A2 evicts A0 (1),
 *   load A0 evicts A1 (2), load A1 evicts clean A2 (still 2).
 * With a 2 KiB 2-way LL (16 sets), a 1 KiB stride hits set 0 of both:
 *   store X0, load X1, load X2: D1 evicts dirty X0 into LL (marks it
 *   dirty there), then LL's miss on X2 evicts X0 from LL to memory.
 */
static void test_cache_writebacks_counted_on_dirty_evictions(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    const uint64_t A0 = 0x10000, A1 = A0 + 512, A2 = A0 + 1024;
    cache_store(&c, A0, 8);
    cache_store(&c, A1, 8);
    assert_int_equal(CACHE_WBS(cache_load(&c, A2, 8)), 1);
    assert_int_equal(CACHE_WBS(cache_load(&c, A0, 8)), 1);
    assert_int_equal(CACHE_WBS(cache_load(&c, A1, 8)), 0);
    assert_int_equal(c.d1.writebacks, 2);
    assert_int_equal(c.mem_writebacks, 2);
    assert_int_equal(c.d1.misses[CACHE_W], 2);
    assert_int_equal(c.d1.misses[CACHE_R], 3);
    check(&c);
    cache_fini(&c);

    mk(&c, G1K2W, G1K2W, (struct cache_geom){ 2048, 2, 64 });
    const uint64_t X0 = 0x40000, X1 = X0 + 1024, X2 = X0 + 2048;
    cache_store(&c, X0, 4);
    cache_load(&c, X1, 4);
    uint64_t r = cache_load(&c, X2, 4);
    assert_int_equal(CACHE_FILLS(r), 1);
    assert_int_equal(CACHE_WBS(r), 1);
    assert_int_equal(c.d1.writebacks, 1);
    assert_int_equal(c.ll.writebacks, 1);
    assert_int_equal(c.mem_writebacks, 1);
    assert_int_equal(c.ll.misses[CACHE_R] + c.ll.misses[CACHE_W], 3);
    check(&c);
    cache_fini(&c);
}

/*
 * A dirty D1 line over many LL lines LL no longer holds goes to memory as
 * that many lines, and the result word says so however many: one set of
 * two 64 KiB ways over an LL of two 16-byte lines; a store at 0, loads
 * at 64 KiB and 128 KiB: the last evicts the dirty line, 4096 LL lines
 * (LL dropped the store's own at the first load: every address is set 0).
 */
static void test_cache_writebacks_of_a_line_over_many_ll_lines(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, (struct cache_geom){ 131072, 2, 65536 },
       (struct cache_geom){ 32, 1, 16 });
    cache_store(&c, 0, 4);
    assert_int_equal(CACHE_WBS(cache_load(&c, 0x10000, 4)), 0);
    uint64_t r = cache_load(&c, 0x20000, 4);
    assert_int_equal(CACHE_FILLS(r), 1);
    assert_int_equal(CACHE_WBS(r), 4096);
    assert_int_equal(c.mem_writebacks, 4096);
    assert_int_equal(c.d1.writebacks, 1);
    check(&c);
    cache_fini(&c);
}

/* LL hits after L1 conflict misses, LL misses when LL conflicts too. */
static void test_cache_ll_holds_the_lines_d1_cannot(void **state)
{
    (void)state;
    struct cache c;
    /* LL 4 KiB 4-way: 16 sets; a 1 KiB stride is set 0 in D1 and LL. */
    mk(&c, G1K2W, G1K2W, (struct cache_geom){ 4096, 4, 64 });
    for (int it = 0; it < 3; it++)
        for (uint64_t k = 0; k < 4; k++)
            cache_load(&c, 0x80000 + k * 1024, 4);
    /* D1 holds 2 of the 4: every load misses D1; LL holds all 4. */
    assert_int_equal(c.d1.misses[CACHE_R], 12);
    assert_int_equal(c.ll.refs[CACHE_R], 12);
    assert_int_equal(c.ll.misses[CACHE_R], 4);
    check(&c);
    cache_fini(&c);
}

/* Five lines in a 4-way LL set: every pass misses everywhere. */
static void test_cache_ll_set_overflow_misses_every_time(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, (struct cache_geom){ 4096, 4, 64 });
    for (int it = 0; it < 3; it++)
        for (uint64_t k = 0; k < 5; k++)
            cache_load(&c, 0x100000 + k * 1024, 4);
    assert_int_equal(c.d1.misses[CACHE_R], 15);
    assert_int_equal(c.ll.misses[CACHE_R], 15);
    check(&c);
    cache_fini(&c);
}

/* 16 lines in one set; the 17th evicts the least recently used. */
static void test_cache_fully_associative_lru(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, (struct cache_geom){ 1024, 16, 64 }, NONE);
    for (uint64_t k = 0; k < 16; k++)
        cache_load(&c, k * 4096, 4);
    cache_load(&c, 0, 4);         /* line 0 becomes MRU */
    cache_load(&c, 16 * 4096, 4); /* evicts line 1 */
    assert_int_equal(cache_load(&c, 0, 4), 0);
    assert_int_not_equal(cache_load(&c, 4096, 4), 0);
    assert_int_equal(c.d1.misses[CACHE_R], 18);
    check(&c);
    cache_fini(&c);
}

static void expect_bad(const char *opt, const char *val, const char *msg)
{
    struct cache_geom g = { 1, 2, 3 };
    char err[200] = "";
    assert_int_equal(cache_geom_parse(opt, val, &g, err, sizeof err), EINVAL);
    if (strstr(err, msg) == NULL)
        fail_msg("%s=%s: '%s' lacks '%s'", opt, val, err, msg);
    assert_int_equal(g.size, 1); /* untouched */
}

static void test_cache_geometry_errors_name_the_option(void **state)
{
    (void)state;
    expect_bad("--D1", "32768,8,48",
               "--D1: line size 48 is not a power of two");
    expect_bad("--I1", "0,8,64", "--I1: size, associativity and line size");
    expect_bad("--I1", "32768,0,64", "above zero");
    expect_bad("--LL", "32768,8,8", "--LL: line size 8 is below 16");
    expect_bad("--D1", "3000,2,64", "does not divide the size 3000");
    expect_bad("--D1", "24576,2,64", "set count 192");
    expect_bad("--D1", "1024,32,64",
               "associativity 32 is larger than the 16 lines");
    expect_bad("--D1", "64,1,64", "not larger than the line");
    expect_bad("--D1", "4096M,8,64", "too large");
    expect_bad("--D1", "32768,8", "is not SIZE,ASSOC,LINE");
    expect_bad("--D1", "32768,8,64,1", "is not SIZE,ASSOC,LINE");
    expect_bad("--D1", "a,8,64", "is not SIZE,ASSOC,LINE");
    expect_bad("--D1", "-1,8,64", "is not SIZE,ASSOC,LINE");
    expect_bad("--D1", "99999999999,8,64", "is not SIZE,ASSOC,LINE");
}

static void test_cache_geometry_sizes_take_k_and_m_suffixes(void **state)
{
    (void)state;
    struct cache_geom g;
    assert_int_equal(cache_geom_parse("--LL", "12M,24,64", &g, NULL, 0), 0);
    assert_int_equal(g.size, 12u << 20); /* 8192 sets */
    assert_int_equal(cache_geom_parse("--I1", "32K,8,64", &g, NULL, 0), 0);
    assert_int_equal(g.size, 32768);
    assert_int_equal(cache_geom_parse("--I1", "1024,16,64", &g, NULL, 0), 0);
}

static void test_cache_option_sets_its_level_or_is_refused(void **state)
{
    (void)state;
    struct cache_config cfg;
    char err[200];
    cache_config_default(&cfg);
    assert_int_equal(
        cache_parse_option(&cfg, "--I1=4096,2,32", err, sizeof err), 0);
    assert_int_equal(cfg.i1.size, 4096);
    assert_int_equal(cfg.i1.line, 32);
    assert_int_equal(cache_parse_option(&cfg, "--L2=1M,8,64", err, sizeof err),
                     0);
    assert_int_equal(cfg.ll.size, 1u << 20);
    assert_int_equal(cache_parse_option(&cfg, "--I1x=1", err, sizeof err),
                     ENOENT);
    assert_int_equal(cache_parse_option(&cfg, "--D1=1,1,1", err, sizeof err),
                     EINVAL);
    assert_non_null(strstr(err, "--D1"));
}

/* cache_init checks every level, naming it. */
static void test_cache_init_names_the_level_of_a_bad_geometry(void **state)
{
    (void)state;
    struct cache_config cfg;
    char err[200];
    struct cache c;
    cache_config_default(&cfg);
    cfg.d1.line = 48;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), EINVAL);
    assert_non_null(strstr(err, "--D1: line size 48"));
}

static void *no_alloc(void *ctx, size_t n)
{
    (void)n;
    (*(int *)ctx)++;
    return NULL;
}

static void *counted_alloc(void *ctx, size_t n)
{
    *(size_t *)ctx += n;
    return calloc(1, n); /* cache_init wants zeroed memory */
}

static void counted_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void test_cache_init_without_host_memory_is_enomem(void **state)
{
    (void)state;
    struct cache_config cfg;
    struct cache c;
    char err[160];
    int calls = 0;
    cache_config_default(&cfg);
    cfg.alloc = no_alloc;
    cfg.alloc_ctx = &calls;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), ENOMEM);
    assert_int_equal(calls, 1);
}

static void test_cache_host_bytes_are_what_the_geometry_says(void **state)
{
    (void)state;
    struct cache_config cfg;
    struct cache c;
    char err[160];
    size_t got = 0;
    cache_config_default(&cfg);
    cfg.alloc = counted_alloc;
    cfg.free = counted_free;
    cfg.alloc_ctx = &got;
    assert_int_equal(cache_init(&c, &cfg, err, sizeof err), 0);
    /* 16 bytes per line, 4 per set: 512 + 512 + 32768 lines in
     * 64 + 64 + 2048 sets. */
    assert_int_equal(got, cache_host_bytes(&cfg));
    assert_int_equal(got, 16 * (512 + 512 + 32768) + 4 * (64 + 64 + 2048));
    assert_int_equal(c.min_line, 64);
    assert_int_equal(cache_cg_size(&c, 512), 64);
    assert_int_equal(cache_cg_size(&c, 32), 32);
    check(&c);
    cache_fini(&c);
}

/* Sizes 0 and beyond a page; an access at the top of the address space. */
static void test_cache_odd_sizes_and_addresses(void **state)
{
    (void)state;
    struct cache c;
    mk(&c, G1K2W, G1K2W, NONE);
    assert_int_not_equal(cache_load(&c, 0x5000, 0), 0); /* counts as 1 */
    assert_int_equal(cache_load(&c, 0x5000, 1), 0);
    uint64_t r = cache_load(&c, 0x8000, 100000); /* a page: 64 lines */
    assert_int_equal(CACHE_FILLS(r), 64);
    assert_int_equal(CACHE_L1_LINES(r), 64);
    r = cache_load(&c, UINT64_MAX - 3, 16); /* no wrap to 0 */
    assert_int_equal(CACHE_FILLS(r), 1);
    assert_int_equal(c.d1.refs[CACHE_R], 4);
    check(&c);
    cache_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_loop_fitting_i1_misses_only_cold),
        cmocka_unit_test(test_cache_loop_thrashing_i1_misses_every_time),
        cmocka_unit_test(test_cache_stride_across_sets_conflict_misses),
        cmocka_unit_test(test_cache_straddling_access_counts_once),
        cmocka_unit_test(test_cache_straddle_looks_up_both_ll_lines),
        cmocka_unit_test(test_cache_modify_is_one_read_that_dirties),
        cmocka_unit_test(test_cache_writebacks_counted_on_dirty_evictions),
        cmocka_unit_test(test_cache_writebacks_of_a_line_over_many_ll_lines),
        cmocka_unit_test(test_cache_ll_holds_the_lines_d1_cannot),
        cmocka_unit_test(test_cache_ll_set_overflow_misses_every_time),
        cmocka_unit_test(test_cache_fully_associative_lru),
        cmocka_unit_test(test_cache_geometry_errors_name_the_option),
        cmocka_unit_test(test_cache_geometry_sizes_take_k_and_m_suffixes),
        cmocka_unit_test(test_cache_option_sets_its_level_or_is_refused),
        cmocka_unit_test(test_cache_init_names_the_level_of_a_bad_geometry),
        cmocka_unit_test(test_cache_init_without_host_memory_is_enomem),
        cmocka_unit_test(test_cache_host_bytes_are_what_the_geometry_says),
        cmocka_unit_test(test_cache_odd_sizes_and_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
