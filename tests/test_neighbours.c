/*
 * Bounded neighbour mappings (paper §11.2): UVM's fault-ahead enters the
 * resident pages around a fault whatever they cost (a PV entry each, and
 * page-table pages).  With a reserve, a neighbour is skipped while free
 * frames are at or below it or PV entries at or above a limit.  Counts
 * come from the window by hand: UVM's normal advice is 3 back, 4 forward.
 */
#include "testutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#define RW     (XVM_PROT_READ | XVM_PROT_WRITE)
#define NPAGES 64
#define STRIDE 8

struct setup {
    xvm_machine *m;
    xvm_vmspace *a, *b;
    uint64_t va;
};

static void up(struct setup *s, uint64_t ram, uint64_t reserve,
               uint64_t pv_limit)
{
    struct xvm_config cfg;
    xvm_config_init(&cfg); /* UVM's fault-ahead table */
    cfg.ram_bytes = ram;
    cfg.neighbour_reserve = reserve;
    cfg.neighbour_pv_limit = pv_limit;
    assert_int_equal(xvm_machine_create(&cfg, &s->m), 0);
    s->a = tm_vs(s->m);
    s->va = tm_anon(s->a, NPAGES, RW, XVM_MAP_PRIVATE);
    /* Every page of A written: all resident anons, candidates for B. */
    for (unsigned p = 0; p < NPAGES; p++)
        tm_wr8(s->a, s->va + p * PG, (uint8_t)(p + 1));
    s->b = tm_fork(s->a);
}

/* Neighbour candidates of B's reads at 0, 8, ... 56 (none mapped yet):
 * page 0 has 4 forward, each later one 3 back and 4 forward. */
static uint64_t candidates(void)
{
    uint64_t n = 0;
    for (unsigned p = 0; p < NPAGES; p += STRIDE)
        n += (p < 3 ? p : 3) + (NPAGES - 1 - p < 4 ? NPAGES - 1 - p : 4);
    return n;
}

/* B reads one byte of every STRIDE-th page; each is a fault. */
static void b_reads(struct setup *s, uint64_t reserve_pages)
{
    for (unsigned p = 0; p < NPAGES; p += STRIDE) {
        struct xvm_stats s0 = tm_stats(s->m);
        assert_int_equal(tm_rd8(s->b, s->va + p * PG), p + 1);
        struct xvm_stats s1 = tm_stats(s->m);
        assert_int_equal(s1.faults - s0.faults, 1);
        /* A neighbour entered never found the free frames at the
         * reserve; one skipped found them there (or the PV limit). */
        if (reserve_pages && s1.neighbour_maps > s0.neighbour_maps)
            assert_true(s0.pages[XVM_USE_FREE] > reserve_pages);
    }
    tm_check(s->m);
}

static void test_neighbours_unbounded_enter_every_resident_one(void **state)
{
    (void)state;
    struct setup s;
    up(&s, UINT64_C(1) << 20, 0, 0);
    struct xvm_stats s0 = tm_stats(s.m);
    b_reads(&s, 0);
    struct xvm_stats s1 = tm_stats(s.m);
    assert_int_equal(candidates(), 53);
    assert_int_equal(s1.neighbour_maps - s0.neighbour_maps, candidates());
    assert_int_equal(s1.neighbour_skipped, 0);
    /* Each mapping of an anon A maps too is a charged PV entry. */
    assert_int_equal(s1.kmem_units[XVM_KMEM_PV] - s0.kmem_units[XVM_KMEM_PV],
                     NPAGES / STRIDE + candidates());
    xvm_machine_destroy(s.m);
}

/* A tiny RAM whose free frames are all reserved: no neighbour at all,
 * and B still reads what A wrote. */
static void test_neighbours_tiny_ram_all_reserved_skips_every_one(void **state)
{
    (void)state;
    struct setup s;
    uint64_t ram = UINT64_C(512) << 10; /* 128 frames */
    up(&s, ram, ram, 0);
    struct xvm_stats s0 = tm_stats(s.m);
    assert_true(s0.pages[XVM_USE_FREE] <= ram / PG);
    b_reads(&s, ram / PG);
    struct xvm_stats s1 = tm_stats(s.m);
    assert_int_equal(s1.neighbour_maps - s0.neighbour_maps, 0);
    assert_int_equal(s1.neighbour_skipped - s0.neighbour_skipped, candidates());
    assert_int_equal(s1.kmem_units[XVM_KMEM_PV] - s0.kmem_units[XVM_KMEM_PV],
                     NPAGES / STRIDE);
    /* Every page still reads right (the faults bring them in). */
    for (unsigned p = 0; p < NPAGES; p++)
        assert_int_equal(tm_rd8(s.b, s.va + p * PG), p + 1);
    tm_check(s.m);
    xvm_machine_destroy(s.m);
}

/* A PV limit two entries away: the first fault enters two neighbours,
 * then its own page; everything later is skipped. */
static void test_neighbours_pv_limit_stops_them_at_the_limit(void **state)
{
    (void)state;
    struct setup s;
    /* The PV entries in use once B exists: A's 64 anons, and none of B
     * (fork maps nothing). */
    up(&s, UINT64_C(1) << 20, 0, NPAGES + 2);
    struct xvm_stats s0 = tm_stats(s.m);
    assert_int_equal(s0.pv_entries, NPAGES);
    b_reads(&s, 0);
    struct xvm_stats s1 = tm_stats(s.m);
    assert_int_equal(s1.neighbour_maps - s0.neighbour_maps, 2);
    assert_int_equal(s1.neighbour_skipped, candidates() - 2);
    assert_int_equal(s1.pv_entries, NPAGES + 2 + NPAGES / STRIDE);
    xvm_machine_destroy(s.m);
}

/* A reserve just below the free frames: neighbours go in until the first
 * frame the faults take (a page table, a PV slab) reaches it. */
static void test_neighbours_reserve_holds_the_last_free_frames(void **state)
{
    (void)state;
    struct setup probe, s;
    up(&probe, UINT64_C(1) << 20, 0, 0);
    uint64_t free0 = tm_stats(probe.m).pages[XVM_USE_FREE];
    xvm_machine_destroy(probe.m);
    uint64_t reserve = free0 - 1;
    up(&s, UINT64_C(1) << 20, reserve * PG, 0);
    assert_int_equal(tm_stats(s.m).pages[XVM_USE_FREE], free0);
    b_reads(&s, reserve);
    struct xvm_stats st = tm_stats(s.m);
    /* B's first fault takes its leaf page table: below the reserve from
     * then on, so only that fault's neighbours went in (all 4 of page 0:
     * the table comes with the first of them). */
    assert_true(st.pages[XVM_USE_FREE] <= reserve);
    assert_int_equal(st.neighbour_maps + st.neighbour_skipped, candidates());
    assert_true(st.neighbour_skipped > 0);
    assert_true(st.neighbour_maps <= 4);
    xvm_machine_destroy(s.m);
}

/* The reserve must be whole pages and fit the RAM. */
static void test_neighbours_bad_reserve_is_einval(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg);
    cfg.neighbour_reserve = 100;
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    cfg.neighbour_reserve = cfg.ram_bytes + PG;
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_neighbours_unbounded_enter_every_resident_one),
        cmocka_unit_test(test_neighbours_tiny_ram_all_reserved_skips_every_one),
        cmocka_unit_test(test_neighbours_pv_limit_stops_them_at_the_limit),
        cmocka_unit_test(test_neighbours_reserve_holds_the_last_free_frames),
        cmocka_unit_test(test_neighbours_bad_reserve_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
