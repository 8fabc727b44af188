/*
 * Swap: anons paged out by the page daemon and paged back in by faults,
 * through the anon pager and a swap area (xvm_swapon).  Every page's
 * bytes survive the round trips (each page holds its own pattern); a
 * page paged in and not written is dropped, not written again; fork and
 * copy-on-write work on paged-out anons; the checker passes throughout;
 * and the swap slots are all free once the memory is gone.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#define RAM   (64 * PG)  /* 256 KiB */
#define SWAP  (4u << 20) /* 1024 slots */
#define PAGES 256u       /* 1 MiB of anonymous memory: four times RAM */
#define RW    (XVM_PROT_READ | XVM_PROT_WRITE)

static xvm_machine *machine_with_swap(void)
{
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    struct xvm_swap_config sc;
    xvm_swap_config_init(&sc);
    sc.bytes = SWAP;
    assert_int_equal(xvm_swapon(m, &sc), 0);
    assert_int_equal(xvm_swapon(m, &sc), EBUSY);
    return m;
}

/* Page p's pattern under a given seed. */
static uint64_t pattern(uint64_t seed, unsigned p)
{
    uint64_t x = seed ^ (0x9e3779b97f4a7c15ull * (p + 1));
    return tm_prng(&x);
}

static void write_all(xvm_vmspace *vs, uint64_t a, uint64_t seed)
{
    for (unsigned p = 0; p < PAGES; p++) {
        uint64_t v = pattern(seed, p);
        assert_int_equal(xvm_write(vs, a + p * PG + 8 * (p % 500), &v, 8), 0);
    }
}

static void check_all(xvm_vmspace *vs, uint64_t a, uint64_t seed)
{
    for (unsigned p = 0; p < PAGES; p++) {
        uint64_t v = 0;
        assert_int_equal(xvm_read(vs, a + p * PG + 8 * (p % 500), &v, 8), 0);
        assert_true(v == pattern(seed, p));
    }
}

/* Page p's pattern at the start of each of the first n pages. */
static void write_n(xvm_vmspace *vs, uint64_t a, unsigned n, uint64_t seed)
{
    for (unsigned p = 0; p < n; p++) {
        uint64_t v = pattern(seed, p);
        assert_int_equal(xvm_write(vs, a + p * PG, &v, 8), 0);
    }
}

static void check_n(xvm_vmspace *vs, uint64_t a, unsigned n, uint64_t seed)
{
    for (unsigned p = 0; p < n; p++) {
        uint64_t v = 0;
        assert_int_equal(xvm_read(vs, a + p * PG, &v, 8), 0);
        assert_true(v == pattern(seed, p));
    }
}

static void test_swap_round_trips_keep_every_page(void **state)
{
    (void)state;
    xvm_machine *m = machine_with_swap();
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = tm_anon(vs, PAGES, RW, XVM_MAP_PRIVATE);
    write_all(vs, a, 1);
    tm_check(m);
    struct xvm_stats s1 = tm_stats(m);
    /* Four times RAM was written: most pages went out. */
    assert_true(s1.swap_outs >= PAGES - RAM / PG);
    assert_int_equal(s1.oom_kills, 0);
    assert_true(s1.pages[XVM_USE_ANON] < RAM / PG);
    check_all(vs, a, 1);
    tm_check(m);
    struct xvm_stats s2 = tm_stats(m);
    assert_true(s2.swap_ins >= PAGES - RAM / PG);
    /* Every page has been out and back in, clean, once more. */
    check_all(vs, a, 1);
    struct xvm_stats s3 = tm_stats(m);
    /* A third pass over pages that were all paged in clean: they are
     * dropped, never written again. */
    check_all(vs, a, 1);
    tm_check(m);
    struct xvm_stats s4 = tm_stats(m);
    assert_int_equal(s4.swap_outs, s3.swap_outs);
    assert_true(s4.swap_ins > s3.swap_ins);
    /* Written again: dirty, written again when they go. */
    write_all(vs, a, 2);
    check_all(vs, a, 2);
    tm_check(m);
    assert_true(tm_stats(m).swap_outs > s4.swap_outs);
    assert_int_equal(xvm_munmap(vs, a, (uint64_t)PAGES * PG), 0);
    tm_check(m);
    struct xvm_stats s5 = tm_stats(m);
    assert_int_equal(s5.swap_used, 0);
    assert_true(s5.swap_used_peak >= PAGES - RAM / PG);
    assert_int_equal(s5.swap_pages, SWAP / PG);
    assert_true(s5.swap_ns > 0);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* Nobody was killed; once both spaces are gone, so are every anonymous
 * page and every swap slot. */
static void destroy_all(xvm_machine *m, xvm_vmspace *parent, xvm_vmspace *child)
{
    assert_int_equal(tm_stats(m).oom_kills, 0);
    xvm_vmspace_destroy(child);
    xvm_vmspace_destroy(parent);
    tm_check(m);
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.swap_used, 0);
    assert_int_equal(st.pages[XVM_USE_ANON], 0);
    assert_int_equal(st.pages[XVM_USE_AOBJ], 0);
    xvm_machine_destroy(m);
}

/* Fork shares paged-out anons; each side's writes stay its own. */
static void test_swap_fork_and_copy_on_write_of_paged_out_anons(void **state)
{
    (void)state;
    xvm_machine *m = machine_with_swap();
    xvm_vmspace *parent = tm_vs(m);
    uint64_t a = tm_anon(parent, PAGES, RW, XVM_MAP_PRIVATE);
    write_all(parent, a, 3);
    xvm_vmspace *child = tm_fork(parent);
    /* The child writes every other page; the parent's stay. */
    for (unsigned p = 0; p < PAGES; p += 2) {
        uint64_t v = ~pattern(3, p);
        assert_int_equal(xvm_write(child, a + p * PG + 8 * (p % 500), &v, 8),
                         0);
    }
    tm_check(m);
    check_all(parent, a, 3);
    for (unsigned p = 0; p < PAGES; p++) {
        uint64_t v = 0;
        assert_int_equal(xvm_read(child, a + p * PG + 8 * (p % 500), &v, 8), 0);
        assert_true(v == (p % 2 ? pattern(3, p) : ~pattern(3, p)));
    }
    tm_check(m);
    destroy_all(m, parent, child);
}

/* Shared anonymous memory (an aobj) goes to swap too, by its own slots:
 * a fork shares it, each side sees the other's writes, every page
 * survives, and the slots go with the object. */
static void test_swap_shared_anonymous_memory_pages_out_and_in(void **state)
{
    (void)state;
    xvm_machine *m = machine_with_swap();
    xvm_vmspace *parent = tm_vs(m);
    uint64_t a = tm_anon(parent, PAGES, RW, XVM_MAP_SHARED);
    write_all(parent, a, 5);
    tm_check(m);
    struct xvm_stats s1 = tm_stats(m);
    assert_true(s1.swap_outs >= PAGES - RAM / PG);
    assert_true(s1.pages[XVM_USE_AOBJ] < RAM / PG);
    xvm_vmspace *child = tm_fork(parent);
    write_all(child, a, 6);
    check_all(parent, a, 6);
    tm_check(m);
    /* Read twice more: pages paged in clean are dropped, not written. */
    check_all(child, a, 6);
    struct xvm_stats s2 = tm_stats(m);
    check_all(child, a, 6);
    assert_int_equal(tm_stats(m).swap_outs, s2.swap_outs);
    destroy_all(m, parent, child);
}

/* Swap full: the daemon cannot page out; bare address spaces just get
 * ENOMEM (nobody to kill); once memory is given back, what was written
 * is all there. */
static void test_swap_full_fails_cleanly(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    struct xvm_swap_config sc;
    xvm_swap_config_init(&sc);
    sc.bytes = 16 * PG;
    assert_int_equal(xvm_swapon(m, &sc), 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = tm_anon(vs, PAGES, RW, XVM_MAP_PRIVATE);
    unsigned p;
    int error = 0;
    for (p = 0; p < PAGES && error == 0; p++) {
        uint64_t v = pattern(4, p);
        error = xvm_write(vs, a + p * PG, &v, 8);
    }
    assert_int_equal(error, ENOMEM);
    p--; /* the page that could not be had */
    assert_true(p > RAM / PG / 2 && p < RAM / PG + 16);
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.swap_used, 16);
    assert_int_equal(st.oom_kills, 0);
    tm_check(m);
    /* Reading a page in swap needs a frame: none now. */
    uint64_t v = 0;
    assert_int_equal(xvm_read(vs, a, &v, 8), ENOMEM);
    tm_check(m);
    unsigned half = p / 2;
    assert_int_equal(
        xvm_munmap(vs, a + half * PG, (uint64_t)(PAGES - half) * PG), 0);
    for (unsigned q = 0; q < half; q++) {
        assert_int_equal(xvm_read(vs, a + q * PG, &v, 8), 0);
        assert_true(v == pattern(4, q));
    }
    tm_check(m);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/*
 * RAM and swap together hold the data, swap alone does not: once every
 * slot is taken, pages read back (paged in, keeping their slots) are the
 * ones to go, dropped if clean, else written to their own slots again.
 * The daemon was not run at all once swap was full, so reading the data
 * back failed (ENOMEM) about 20 pages in.  Anons and shared anonymous
 * memory alike.
 */
static void test_swap_full_still_pages_out_pages_that_hold_slots(void **state)
{
    (void)state;
    for (int shared = 0; shared < 2; shared++) {
        xvm_machine *m = tm_machine("sgimips", RAM, 0);
        struct xvm_swap_config sc;
        xvm_swap_config_init(&sc);
        sc.bytes = RAM; /* as much swap as RAM */
        assert_int_equal(xvm_swapon(m, &sc), 0);
        xvm_vmspace *vs = tm_vs(m);
        unsigned n = RAM / PG * 3 / 2;
        uint64_t a =
            tm_anon(vs, n, RW, shared ? XVM_MAP_SHARED : XVM_MAP_PRIVATE);
        /* Written, read, written again (pages that hold slots are
         * dirty now), read. */
        for (int pass = 0; pass < 4; pass++)
            for (unsigned p = 0; p < n; p++) {
                uint64_t v = 0, want = pattern(7 + pass / 2, p);
                if (pass % 2 == 0) {
                    assert_int_equal(xvm_write(vs, a + p * PG, &want, 8), 0);
                    continue;
                }
                if (xvm_read(vs, a + p * PG, &v, 8) != 0)
                    fail_msg("%s, pass %d: page %u could not be read",
                             shared ? "shared" : "private", pass, p);
                assert_true(v == want);
            }
        tm_check(m);
        struct xvm_stats st = tm_stats(m);
        assert_int_equal(st.swap_used, RAM / PG);
        assert_int_equal(st.oom_kills, 0);
        assert_int_equal(st.enomem, 0);
        assert_int_equal(xvm_munmap(vs, a, (uint64_t)n * PG), 0);
        assert_int_equal(tm_stats(m).swap_used, 0);
        tm_check(m);
        xvm_vmspace_destroy(vs);
        xvm_machine_destroy(m);
    }
}

static void test_swap_bad_configs_are_refused(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    struct xvm_swap_config sc;
    xvm_swap_config_init(&sc);
    assert_int_equal(sc.bytes, 0);
    assert_int_equal(xvm_swapon(m, &sc), EINVAL); /* no size */
    sc.bytes = PG + 1;
    assert_int_equal(xvm_swapon(m, &sc), EINVAL); /* not whole pages */
    assert_int_equal(xvm_swapon(m, NULL), EINVAL);
    assert_int_equal(xvm_swapon(NULL, &sc), EINVAL);
    assert_int_equal(tm_stats(m).swap_pages, 0);
    xvm_machine_destroy(m);
}

/*
 * A page paged in is clean; written, it is dirty, and stays dirty when
 * the mapping that wrote it goes while the page stays (mprotect to none;
 * the writer exits after a fork; one sharer of shared anonymous memory
 * unmaps it).  The modified bit went with the PTE: the next page-out
 * dropped the page as clean and the write was lost (the old bytes came
 * back from swap).
 */
static void test_swap_write_survives_its_mapping(void **state)
{
    (void)state;
    for (int how = 0; how < 3; how++) {
        xvm_machine *m = machine_with_swap();
        xvm_vmspace *vs = tm_vs(m), *other = NULL;
        unsigned n = 2 * RAM / PG, q = n - 1;
        uint64_t a =
            tm_anon(vs, n, RW, how == 2 ? XVM_MAP_SHARED : XVM_MAP_PRIVATE);
        uint64_t v;
        write_n(vs, a, n, 1);
        check_n(vs, a, n, 1); /* q, read last, is in RAM and clean */
        v = pattern(2, q);
        assert_int_equal(xvm_write(vs, a + q * PG, &v, 8), 0);
        if (how == 0) {
            assert_int_equal(xvm_mprotect(vs, a + q * PG, PG, XVM_PROT_NONE),
                             0);
        } else if (how == 1) {
            other = tm_fork(vs);
            xvm_vmspace_destroy(vs);
            vs = other;
            other = NULL;
        } else {
            other = tm_fork(vs);
            assert_int_equal(xvm_munmap(vs, a + q * PG, PG), 0);
            xvm_vmspace *t = vs;
            vs = other;
            other = t;
        }
        uint64_t outs = tm_stats(m).swap_outs;
        check_n(vs, a, n - 1, 1); /* q goes out */
        uint64_t outs_q = tm_stats(m).swap_outs - outs;
        if (how == 0)
            assert_int_equal(xvm_mprotect(vs, a + q * PG, PG, RW), 0);
        assert_int_equal(xvm_read(vs, a + q * PG, &v, 8), 0);
        if (v != pattern(2, q))
            fail_msg("case %d: the write was lost", how);
        assert_int_equal(outs_q, 1); /* written out, not dropped */
        tm_check(m);
        xvm_vmspace_destroy(vs);
        xvm_vmspace_destroy(other);
        xvm_machine_destroy(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swap_round_trips_keep_every_page),
        cmocka_unit_test(test_swap_fork_and_copy_on_write_of_paged_out_anons),
        cmocka_unit_test(test_swap_shared_anonymous_memory_pages_out_and_in),
        cmocka_unit_test(test_swap_full_fails_cleanly),
        cmocka_unit_test(test_swap_full_still_pages_out_pages_that_hold_slots),
        cmocka_unit_test(test_swap_write_survives_its_mapping),
        cmocka_unit_test(test_swap_bad_configs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
