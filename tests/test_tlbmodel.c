/*
 * TLB cost models: R4000 pair entries and round-robin replacement, the
 * amd64 split first level behind a unified STLB, large pages, flushes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "tlbmodel.h"

#define K4 UINT64_C(0x1000)
#define M2 UINT64_C(0x200000)

static void mk(struct tlbm *t, const struct tlbm_config *cfg)
{
    char err[160];
    if (tlbm_init(t, cfg, err, sizeof err) != 0)
        fail_msg("tlbm_init: %s", err);
}

static void mk_kind(struct tlbm *t, enum tlbm_kind kind)
{
    struct tlbm_config cfg;
    tlbm_config_default(&cfg, kind);
    mk(t, &cfg);
}

static void check(const struct tlbm *t)
{
    char err[160];
    if (tlbm_check(t, err, sizeof err) != 0)
        fail_msg("tlbm_check: %s", err);
}

#define D(t, asid, va, sh) tlbm_access((t), (asid), (va), false, (sh))
#define X(t, asid, va, sh) tlbm_access((t), (asid), (va), true, (sh))

/* Touching an even page and then its odd neighbour costs one refill. */
static void test_tlbm_r4k_pair_entry_maps_even_and_odd_page(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    assert_int_equal(X(&t, 1, 0x400000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x401ffc, 12), TLBM_HIT); /* odd page */
    assert_int_equal(X(&t, 1, 0x400ff0, 12), TLBM_HIT);
    assert_int_equal(D(&t, 1, 0x402000, 12), TLBM_REFILL); /* next pair */
    /* An odd page first: the same pair, so its even page hits. */
    assert_int_equal(D(&t, 1, 0x405000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x404000, 12), TLBM_HIT);
    assert_int_equal(t.st.refills, 3);
    assert_int_equal(t.st.misses[0] + t.st.misses[1], 3);
    assert_int_equal(t.st.lookups[0] + t.st.lookups[1], 6);
    assert_int_equal(tlbm_walk_reads(&t, 12), 3);
    check(&t);
    tlbm_fini(&t);
}

/*
 * 48 pairs fit; 49 touched in a cycle miss every time.  Replacement is
 * round robin (entries 47, 46, ... 0, then 47 again), not LRU: after 48
 * fills, re-using pair 0 does not save it, the 49th fill evicts it.
 */
static void test_tlbm_r4k_48_pairs_fit_and_are_replaced_in_order(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    for (int pass = 0; pass < 3; pass++)
        for (uint64_t k = 0; k < 48; k++)
            D(&t, 7, 0x10000000 + k * 2 * K4, 12);
    assert_int_equal(t.st.refills, 48);
    check(&t);

    assert_int_equal(D(&t, 7, 0x10000000, 12), TLBM_HIT); /* pair 0 */
    assert_int_equal(D(&t, 7, 0x10000000 + 48 * 2 * K4, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 7, 0x10000000 + 1 * 2 * K4, 12), TLBM_HIT);
    assert_int_equal(D(&t, 7, 0x10000000, 12), TLBM_REFILL); /* FIFO */
    tlbm_fini(&t);
}

static void test_tlbm_r4k_49_pairs_in_a_cycle_refill_every_time(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t k = 0; k < 49; k++)
            D(&t, 7, 0x10000000 + k * 2 * K4, 12);
    assert_int_equal(t.st.refills, 98);
    check(&t);
    tlbm_fini(&t);
}

/* Wired entries are the kernel's: 8 wired leave 40 for refills. */
static void test_tlbm_r4k_wired_entries_leave_the_rest_for_refills(void **state)
{
    (void)state;
    struct tlbm t;
    struct tlbm_config cfg;
    tlbm_config_default(&cfg, TLBM_R4K);
    cfg.wired = 8;
    mk(&t, &cfg);
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t k = 0; k < 40; k++)
            D(&t, 7, 0x10000000 + k * 2 * K4, 12);
    assert_int_equal(t.st.refills, 40);
    for (uint64_t k = 0; k < 41; k++)
        D(&t, 7, 0x20000000 + k * 2 * K4, 12);
    for (uint64_t k = 0; k < 41; k++)
        D(&t, 7, 0x20000000 + k * 2 * K4, 12);
    assert_int_equal(t.st.refills, 40 + 82);
    tlbm_fini(&t);
}

/* Page-mask sizes: a 16 KiB pair covers 32 KiB, a 16 MiB pair 32 MiB. */
static void test_tlbm_r4k_page_sizes_are_even_powers_from_4k_to_16m(
    void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    for (unsigned s = 12; s <= 24; s += 2)
        assert_true(tlbm_page_ok(&t, s));
    assert_false(tlbm_page_ok(&t, 13));
    assert_false(tlbm_page_ok(&t, 21));
    assert_false(tlbm_page_ok(&t, 26));
    tlbm_fini(&t);
}

static void test_tlbm_r4k_16k_pair_covers_32k(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    assert_int_equal(X(&t, 1, 0x400000, 14), TLBM_REFILL);
    assert_int_equal(X(&t, 1, 0x404000, 14), TLBM_HIT);
    assert_int_equal(X(&t, 1, 0x407ffc, 14), TLBM_HIT);
    assert_int_equal(X(&t, 1, 0x408000, 14), TLBM_REFILL);
    check(&t);
    tlbm_fini(&t);
}

/* A 1 MiB pair: 2 MiB of text for one refill, every 4 KiB touched. */
static void test_tlbm_r4k_1m_pair_covers_2m_for_one_refill(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    uint64_t before = t.st.refills;
    for (uint64_t va = 0x1000000; va < 0x1200000; va += K4)
        assert_int_equal(X(&t, 1, va, 20),
                         va == 0x1000000 ? TLBM_REFILL : TLBM_HIT);
    assert_int_equal(t.st.refills - before, 1);
    check(&t);
    tlbm_fini(&t);
}

/* 16 MiB pages: 32 MiB per entry. */
static void test_tlbm_r4k_16m_pair_covers_32m(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    assert_int_equal(D(&t, 1, 0x4000000, 24), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x5fffff0, 24), TLBM_HIT);
    check(&t);
    tlbm_fini(&t);
}

/* Made large without a flush: the small pair in the way is dropped. */
static void test_tlbm_r4k_small_pair_in_the_way_of_a_large_one_is_dropped(
    void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    assert_int_equal(D(&t, 2, 0x800000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 2, 0x802000, 12), TLBM_REFILL);
    tlbm_flush_page(&t, 2, 0x800000);
    assert_int_equal(D(&t, 2, 0x800000, 16), TLBM_REFILL);
    assert_int_equal(D(&t, 2, 0x802000, 16), TLBM_HIT);
    check(&t);
    tlbm_fini(&t);
}

/* Entries are per address space; flushes by page and by asid. */
static void test_tlbm_r4k_asids_and_flushes(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_R4K);
    assert_int_equal(D(&t, 1, 0x400000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 2, 0x400000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x600000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x400000, 12), TLBM_HIT);
    tlbm_flush_asid(&t, 1);
    assert_int_equal(D(&t, 2, 0x400000, 12), TLBM_HIT);
    assert_int_equal(D(&t, 1, 0x400000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x600000, 12), TLBM_REFILL);
    tlbm_flush_page(&t, 1, 0x601000); /* the odd page: its pair */
    assert_int_equal(D(&t, 1, 0x600000, 12), TLBM_REFILL);
    tlbm_flush_all(&t);
    assert_int_equal(D(&t, 2, 0x400000, 12), TLBM_REFILL);
    check(&t);
    tlbm_fini(&t);
}

/* Fetches and data share the joint TLB: a data refill evicting the
 * fetch side's entry makes the next fetch refill (no stale shortcut). */
static void test_tlbm_r4k_shared_by_fetch_and_data(void **state)
{
    (void)state;
    struct tlbm_config cfg;
    struct tlbm t;
    tlbm_config_default(&cfg, TLBM_R4K);
    cfg.entries = 2;
    mk(&t, &cfg);
    assert_int_equal(X(&t, 1, 0x400000, 12), TLBM_REFILL); /* entry 1 */
    assert_int_equal(D(&t, 1, 0x7f0000, 12), TLBM_REFILL); /* entry 0 */
    assert_int_equal(X(&t, 1, 0x400004, 12), TLBM_HIT);
    assert_int_equal(D(&t, 1, 0x10000000, 12), TLBM_REFILL); /* evicts 1 */
    assert_int_equal(X(&t, 1, 0x400008, 12), TLBM_REFILL);
    check(&t);
    tlbm_fini(&t);
}

/* A fetch walks and fills the STLB; data on the same page then hits it. */
static void test_tlbm_amd64_split_l1_unified_stlb(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_AMD64);
    assert_int_equal(X(&t, 1, 0x401000, 12), TLBM_WALK);
    assert_int_equal(X(&t, 1, 0x401ffc, 12), TLBM_HIT);
    assert_int_equal(D(&t, 1, 0x401800, 12), TLBM_HIT_L2); /* DTLB cold */
    assert_int_equal(D(&t, 1, 0x401800, 12), TLBM_HIT);
    assert_int_equal(X(&t, 1, 0x402000, 12), TLBM_WALK); /* no pairs */
    assert_int_equal(t.st.walks, 2);
    assert_int_equal(t.st.walk_reads, 8);
    assert_int_equal(t.st.l2_hits, 1);
    assert_int_equal(tlbm_walk_reads(&t, 12), 4);
    assert_int_equal(tlbm_walk_reads(&t, 21), 3);
    check(&t);
    tlbm_fini(&t);
}

/* DTLB: 64 entries, 4 ways, 16 sets.  Five pages 16 apart share a DTLB
 * set but not an STLB set (128 sets): a cycle of five misses the DTLB
 * every time and hits the STLB from the second pass on. */
static void test_tlbm_amd64_dtlb_set_conflicts_hit_the_stlb(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_AMD64);
    uint64_t dtlb_misses = t.arr[TLBM_DTLB].misses;
    for (int pass = 0; pass < 3; pass++)
        for (uint64_t k = 0; k < 5; k++)
            D(&t, 1, 0x10000000 + k * 16 * K4, 12);
    assert_int_equal(t.st.misses[0], 15);
    assert_int_equal(t.st.walks, 5);
    assert_int_equal(t.st.l2_hits, 10);
    assert_int_equal(t.arr[TLBM_DTLB].misses - dtlb_misses, 15);
    check(&t);
    tlbm_fini(&t);
}

/* Four of them fit the set (LRU): no misses at all once warm. */
static void test_tlbm_amd64_dtlb_set_holds_four_pages(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_AMD64);
    for (int pass = 0; pass < 3; pass++)
        for (uint64_t k = 0; k < 4; k++)
            D(&t, 1, 0x20000000 + k * 16 * K4, 12);
    assert_int_equal(t.st.misses[0], 4);
    check(&t);
    tlbm_fini(&t);
}

/* 2 MiB pages: their own L1 arrays, in the STLB when stlb_large. */
static void test_tlbm_amd64_2m_page_is_one_entry_apart_from_4k_ones(
    void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_AMD64);
    assert_true(tlbm_page_ok(&t, 12));
    assert_true(tlbm_page_ok(&t, 21));
    assert_false(tlbm_page_ok(&t, 14));
    assert_int_equal(X(&t, 1, 0x40000000, 21), TLBM_WALK);
    for (uint64_t va = 0x40000000; va < 0x40000000 + M2; va += K4)
        assert_int_equal(X(&t, 1, va, 21), TLBM_HIT);
    assert_int_equal(t.st.walk_reads, 3);
    assert_int_equal(D(&t, 1, 0x40100000, 21), TLBM_HIT_L2);
    /* A 4 KiB page of the same address is another entry, elsewhere. */
    assert_int_equal(D(&t, 1, 0x7f000000, 12), TLBM_WALK);
    assert_int_equal(D(&t, 1, 0x40100000, 21), TLBM_HIT);
    check(&t);
    tlbm_fini(&t);
}

/* ITLB-2M: 8 entries, fully associative; nine large pages cycle. */
static void test_tlbm_amd64_nine_2m_pages_cycle_through_the_itlb(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_AMD64);
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t k = 0; k < 9; k++)
            X(&t, 1, 0x80000000 + k * M2, 21);
    assert_int_equal(t.st.misses[1], 18);
    assert_int_equal(t.st.walks, 9);
    assert_int_equal(t.st.l2_hits, 9);
    check(&t);
    tlbm_fini(&t);
}

/* Sandy Bridge: the STLB holds no 2 MiB entries, so no L2 hit. */
static void test_tlbm_amd64_stlb_without_2m_entries_walks_again(void **state)
{
    (void)state;
    struct tlbm t;
    struct tlbm_config cfg;
    tlbm_config_default(&cfg, TLBM_AMD64);
    cfg.stlb_large = false;
    mk(&t, &cfg);
    assert_int_equal(X(&t, 1, 0x40000000, 21), TLBM_WALK);
    assert_int_equal(D(&t, 1, 0x40000000, 21), TLBM_WALK);
    tlbm_flush_page(&t, 1, 0x40123000);
    assert_int_equal(D(&t, 1, 0x40000000, 21), TLBM_WALK);
    tlbm_flush_asid(&t, 1);
    assert_int_equal(X(&t, 1, 0x40000000, 21), TLBM_WALK);
    check(&t);
    tlbm_fini(&t);
}

static void test_tlbm_direct_mapped(void **state)
{
    (void)state;
    struct tlbm t;
    mk_kind(&t, TLBM_DIRECT);
    /* Pages 256 apart share a slot of 256: alternating, each refills. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(D(&t, 1, 0x400000, 12), TLBM_REFILL);
        assert_int_equal(D(&t, 1, 0x400000 + 256 * K4, 12), TLBM_REFILL);
    }
    assert_int_equal(D(&t, 1, 0x400000 + 256 * K4, 12), TLBM_HIT);
    assert_int_equal(D(&t, 1, 0x401000, 12), TLBM_REFILL);
    assert_int_equal(D(&t, 1, 0x400000 + 256 * K4, 12), TLBM_HIT);
    /* Fetch and data share slots. */
    assert_int_equal(X(&t, 1, 0x401000, 12), TLBM_HIT);
    assert_int_equal(D(&t, 1, 0x401000 + 256 * K4, 12), TLBM_REFILL);
    assert_int_equal(X(&t, 1, 0x401000, 12), TLBM_REFILL);
    assert_int_equal(t.st.refills, 11);
    tlbm_flush_page(&t, 1, 0x401000);
    assert_int_equal(X(&t, 1, 0x401000, 12), TLBM_REFILL);
    assert_int_equal(tlbm_walk_reads(&t, 12), 2);
    check(&t);
    tlbm_fini(&t);
}

static void expect_bad(const struct tlbm_config *cfg, const char *msg)
{
    struct tlbm t;
    char err[160] = "";
    assert_int_equal(tlbm_init(&t, cfg, err, sizeof err), EINVAL);
    if (strstr(err, msg) == NULL)
        fail_msg("'%s' lacks '%s'", err, msg);
}

static void test_tlbm_bad_configurations(void **state)
{
    (void)state;
    struct tlbm_config cfg;
    tlbm_config_default(&cfg, TLBM_DIRECT);
    cfg.entries = 100;
    expect_bad(&cfg, "tlb entries: 100 is not a power of two");
    tlbm_config_default(&cfg, TLBM_R4K);
    cfg.entries = 0;
    expect_bad(&cfg, "tlb entries: 0");
    tlbm_config_default(&cfg, TLBM_R4K);
    cfg.wired = 48;
    expect_bad(&cfg, "tlb wired: 48");
    tlbm_config_default(&cfg, TLBM_AMD64);
    cfg.dtlb.ways = 3;
    expect_bad(&cfg, "tlb dtlb: 3 ways do not divide 64 entries");
    tlbm_config_default(&cfg, TLBM_AMD64);
    cfg.stlb = (struct tlbm_shape){ 1536, 8 };
    expect_bad(&cfg, "tlb stlb: set count 192");
    tlbm_config_default(&cfg, TLBM_AMD64);
    cfg.itlb.entries = 0;
    expect_bad(&cfg, "tlb itlb: entries and ways must be above zero");
    tlbm_config_default(&cfg, TLBM_AMD64);
    cfg.kind = (enum tlbm_kind)9;
    expect_bad(&cfg, "tlb kind");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlbm_r4k_pair_entry_maps_even_and_odd_page),
        cmocka_unit_test(test_tlbm_r4k_48_pairs_fit_and_are_replaced_in_order),
        cmocka_unit_test(test_tlbm_r4k_49_pairs_in_a_cycle_refill_every_time),
        cmocka_unit_test(
            test_tlbm_r4k_wired_entries_leave_the_rest_for_refills),
        cmocka_unit_test(
            test_tlbm_r4k_page_sizes_are_even_powers_from_4k_to_16m),
        cmocka_unit_test(test_tlbm_r4k_16k_pair_covers_32k),
        cmocka_unit_test(test_tlbm_r4k_1m_pair_covers_2m_for_one_refill),
        cmocka_unit_test(test_tlbm_r4k_16m_pair_covers_32m),
        cmocka_unit_test(
            test_tlbm_r4k_small_pair_in_the_way_of_a_large_one_is_dropped),
        cmocka_unit_test(test_tlbm_r4k_asids_and_flushes),
        cmocka_unit_test(test_tlbm_r4k_shared_by_fetch_and_data),
        cmocka_unit_test(test_tlbm_amd64_split_l1_unified_stlb),
        cmocka_unit_test(test_tlbm_amd64_dtlb_set_conflicts_hit_the_stlb),
        cmocka_unit_test(test_tlbm_amd64_dtlb_set_holds_four_pages),
        cmocka_unit_test(
            test_tlbm_amd64_2m_page_is_one_entry_apart_from_4k_ones),
        cmocka_unit_test(test_tlbm_amd64_nine_2m_pages_cycle_through_the_itlb),
        cmocka_unit_test(test_tlbm_amd64_stlb_without_2m_entries_walks_again),
        cmocka_unit_test(test_tlbm_direct_mapped),
        cmocka_unit_test(test_tlbm_bad_configurations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
