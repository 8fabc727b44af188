/*
 * Page loaning (paper §11.3): a range lent to the kernel for an I/O, and
 * writes during the loan.  The I/O must send the bytes of the moment of
 * the loan; the writer must see its own; a RAM page counts its loans in
 * its vm_page and is copied when written (a loan break); a device page
 * has no vm_page, its loan lives in the loan.  Expected bytes come from
 * the patterns the test writes and the file on the host.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RW     (XVM_PROT_READ | XVM_PROT_WRITE)
#define NPAGES 6

static int setup(void **state)
{
    *state = one_file_image_new("data", 8 * PG, 5);
    return 0;
}

static int teardown(void **state)
{
    one_file_image_free(*state);
    return 0;
}

static void fill(xvm_vmspace *vs, uint64_t va, uint64_t n, uint8_t seed)
{
    uint8_t page[PG];
    for (uint64_t p = 0; p < n; p++) {
        memset(page, seed + (uint8_t)p, PG);
        assert_int_equal(xvm_write(vs, va + p * PG, page, PG), 0);
    }
}

static void expect(const uint8_t *got, uint64_t n, uint8_t seed)
{
    for (uint64_t i = 0; i < n; i++)
        if (got[i] != (uint8_t)(seed + i / PG))
            fail_msg("byte %llu is %02x, expected %02x", (unsigned long long)i,
                     got[i], (uint8_t)(seed + i / PG));
}

/* Anonymous memory: written during the loan, each page copied once. */
static void test_loan_anon_written_during_the_loan_is_copied(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", UINT64_C(4) << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va = tm_anon(vs, NPAGES, RW, XVM_MAP_PRIVATE);
    fill(vs, va, NPAGES, 0x10);
    struct xvm_stats s0 = tm_stats(m);
    xvm_loan *ln;
    /* Lend 4 pages less a byte at each end: pages 1..4, 2 partial. */
    uint64_t off = PG + 1, len = 4 * PG - 2;
    assert_int_equal(xvm_loan_start(vs, va + off, len, &ln), 0);
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.loans - s0.loans, 1);
    assert_int_equal(s1.loans_active, 1);
    assert_int_equal(s1.loan_pages - s0.loan_pages, 4);
    assert_int_equal(s1.loan_device_pages, 0);
    assert_int_equal(s1.pages[XVM_USE_ANON], s0.pages[XVM_USE_ANON]);
    struct xvm_page_info pi;
    assert_int_equal(xvm_page_info(vs, va + 2 * PG, &pi), 0);
    assert_int_equal(pi.loans, 1);
    assert_false(pi.writable);
    assert_int_equal(xvm_page_info(vs, va, &pi), 0);
    assert_int_equal(pi.loans, 0);
    tm_check(m); /* lent pages are mapped read-only */
    /* Writes to pages 2 and 3 (lent) and 5 (not). */
    fill(vs, va + 2 * PG, 2, 0x80);
    tm_wr8(vs, va + 5 * PG, 0x55);
    struct xvm_stats s2 = tm_stats(m);
    assert_int_equal(s2.loan_breaks - s1.loan_breaks, 2);
    assert_int_equal(s2.pages[XVM_USE_LOAN], 2); /* the old pages */
    assert_int_equal(s2.pages[XVM_USE_ANON], s0.pages[XVM_USE_ANON]);
    tm_check(m);
    /* The writer sees its writes; the I/O, the bytes of the loan. */
    assert_int_equal(tm_rd8(vs, va + 2 * PG), 0x80);
    assert_int_equal(tm_rd8(vs, va + 3 * PG + 7), 0x81);
    uint8_t buf[4 * PG];
    assert_int_equal(xvm_loan_read(ln, 0, buf, len), 0);
    for (uint64_t i = 0; i < len; i++)
        assert_int_equal(buf[i], (uint8_t)(0x10 + (off + i) / PG));
    assert_int_equal(xvm_loan_read(ln, len - 1, buf, 1), 0);
    assert_int_equal(xvm_loan_read(ln, len, buf, 1), EINVAL);
    assert_int_equal(xvm_loan_read(ln, 1, buf, len), EINVAL);
    /* A second write to a copied page copies no more. */
    tm_wr8(vs, va + 2 * PG + 1, 0x99);
    assert_int_equal(tm_stats(m).loan_breaks, s2.loan_breaks);
    /* The I/O done: the old pages go back to RAM. */
    xvm_loan_end(ln);
    struct xvm_stats s3 = tm_stats(m);
    assert_int_equal(s3.pages[XVM_USE_LOAN], 0);
    assert_int_equal(s3.loans_active, 0);
    assert_int_equal(s3.pages[XVM_USE_FREE], s0.pages[XVM_USE_FREE]);
    tm_check(m);
    /* Pages lent and not written are writable again, with no copy. */
    tm_wr8(vs, va + 1 * PG, 0x42);
    tm_wr8(vs, va + 4 * PG, 0x43);
    assert_int_equal(tm_stats(m).loan_breaks, s2.loan_breaks);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Device pages: the loan keeps them (no vm_page); a write promotes as
 * always, the I/O reads the flash in place, and the flash stays busy. */
static void test_loan_device_pages_live_in_the_loan(void **state)
{
    struct one_file_image *fx = *state;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        struct tm_world w;
        xvm_file *f;
        tm_design = (enum xvm_device_design)d;
        tm_world_up(&w, "amd64", UINT64_C(8) << 20, 0, fx->img, 1, 0);
        tm_design = XVM_DESIGN_SEGMENT;
        assert_int_equal(xvm_open(w.mp, "/data", XVM_O_RDONLY, &f), 0);
        uint64_t va = 0;
        assert_int_equal(
            xvm_mmap_file(w.vs, &va, 8 * PG, RW, XVM_MAP_PRIVATE, f, 0), 0);
        struct xvm_stats s0 = tm_stats(w.m);
        xvm_loan *ln;
        assert_int_equal(xvm_loan_start(w.vs, va + PG, 3 * PG, &ln), 0);
        struct xvm_stats s1 = tm_stats(w.m);
        assert_int_equal(s1.loan_device_pages - s0.loan_device_pages, 3);
        assert_int_equal(s1.device_maps - s0.device_maps, 3);
        /* A write during the loan: a copy-on-write of a device page. */
        tm_wr8(w.vs, va + 2 * PG + 3, (uint8_t)~fx->data[2 * PG + 3]);
        struct xvm_stats s2 = tm_stats(w.m);
        assert_int_equal(s2.cow_from_device - s1.cow_from_device, 1);
        assert_int_equal(s2.loan_breaks, 0);
        tm_check(w.m);
        /* The I/O sends the file's bytes, read in place from flash. */
        uint8_t buf[3 * PG];
        assert_int_equal(xvm_loan_read(ln, 0, buf, sizeof(buf)), 0);
        assert_memory_equal(buf, fx->data + PG, sizeof(buf));
        assert_int_equal(tm_stats(w.m).flash_xip_bytes_read -
                             s2.flash_xip_bytes_read,
                         sizeof(buf));
        /* Unmapped, closed, unmounted: the loan still holds the flash. */
        assert_int_equal(xvm_munmap(w.vs, va, 8 * PG), 0);
        xvm_close(f);
        assert_int_equal(xvm_unmount(w.mp), 0);
        assert_int_equal(xvm_flash_close(w.flash), EBUSY);
        tm_check(w.m);
        xvm_loan_end(ln);
        assert_int_equal(xvm_flash_close(w.flash), 0);
        tm_check(w.m);
        xvm_vmspace_destroy(w.vs);
        xvm_machine_destroy(w.m);
    }
}

/* Shared anonymous memory: the object takes the copy; every sharer sees
 * the write; the I/O the old bytes. */
static void test_loan_shared_object_page_written_by_a_sharer(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", UINT64_C(4) << 20, 1);
    xvm_vmspace *a = tm_vs(m);
    uint64_t va = tm_anon(a, NPAGES, RW, XVM_MAP_SHARED);
    fill(a, va, NPAGES, 0x20);
    xvm_vmspace *b = tm_fork(a);
    xvm_loan *ln;
    assert_int_equal(xvm_loan_start(b, va, 2 * PG, &ln), 0);
    tm_check(m);
    tm_wr8(a, va + PG, 0xee);
    struct xvm_stats s = tm_stats(m);
    assert_int_equal(s.loan_breaks, 1);
    assert_int_equal(s.pages[XVM_USE_LOAN], 1);
    assert_int_equal(tm_rd8(b, va + PG), 0xee);
    assert_int_equal(tm_rd8(a, va + PG + 1), 0x21);
    uint8_t buf[2 * PG];
    assert_int_equal(xvm_loan_read(ln, 0, buf, sizeof(buf)), 0);
    expect(buf, sizeof(buf), 0x20);
    tm_check(m);
    xvm_loan_end(ln);
    assert_int_equal(tm_stats(m).pages[XVM_USE_LOAN], 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* The lender exits during the I/O: its pages stay until the loan ends. */
static void test_loan_outlives_its_process(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", UINT64_C(4) << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va = tm_anon(vs, NPAGES, RW, XVM_MAP_PRIVATE);
    fill(vs, va, NPAGES, 0x30);
    struct xvm_stats s0 = tm_stats(m);
    xvm_loan *ln;
    assert_int_equal(xvm_loan_start(vs, va, NPAGES * PG, &ln), 0);
    xvm_vmspace_destroy(vs);
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.pages[XVM_USE_ANON], 0);
    assert_int_equal(s1.pages[XVM_USE_LOAN], NPAGES);
    tm_check(m);
    uint8_t buf[NPAGES * PG];
    assert_int_equal(xvm_loan_read(ln, 0, buf, sizeof(buf)), 0);
    expect(buf, sizeof(buf), 0x30);
    xvm_loan_end(ln);
    assert_int_equal(tm_stats(m).pages[XVM_USE_LOAN], 0);
    assert_true(tm_stats(m).pages[XVM_USE_FREE] >
                s0.pages[XVM_USE_FREE] + NPAGES - 1);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* After fork both share the lent anon: the first writer promotes (no
 * break), the last one left with it copies it (a break). */
static void test_loan_fork_then_writes_on_both_sides(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", UINT64_C(4) << 20, 0);
    xvm_vmspace *p = tm_vs(m);
    uint64_t va = tm_anon(p, 1, RW, XVM_MAP_PRIVATE);
    fill(p, va, 1, 0x40);
    xvm_loan *ln;
    assert_int_equal(xvm_loan_start(p, va, PG, &ln), 0);
    xvm_vmspace *c = tm_fork(p);
    tm_wr8(c, va, 1);
    struct xvm_stats s = tm_stats(m);
    assert_int_equal(s.loan_breaks, 0);
    tm_wr8(p, va, 2);
    assert_int_equal(tm_stats(m).loan_breaks, 1);
    assert_int_equal(tm_rd8(c, va), 1);
    assert_int_equal(tm_rd8(p, va), 2);
    uint8_t b;
    assert_int_equal(xvm_loan_read(ln, 0, &b, 1), 0);
    assert_int_equal(b, 0x40);
    tm_check(m);
    xvm_loan_end(ln);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Untouched memory lends the zero page; writes zero-fill as always. */
static void test_loan_of_untouched_memory_lends_zeros(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", UINT64_C(4) << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va = tm_anon(vs, 2, RW, XVM_MAP_PRIVATE);
    xvm_loan *l1, *l2;
    assert_int_equal(xvm_loan_start(vs, va, 2 * PG, &l1), 0);
    assert_int_equal(xvm_loan_start(vs, va, PG, &l2), 0);
    tm_wr8(vs, va, 9);
    assert_int_equal(tm_stats(m).zero_fills, 1);
    uint8_t buf[2 * PG];
    assert_int_equal(xvm_loan_read(l1, 0, buf, sizeof(buf)), 0);
    for (unsigned i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    tm_check(m);
    xvm_loan_end(l2);
    xvm_loan_end(l1);
    xvm_loan_end(NULL);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Refusals lend nothing. */
static void test_loan_refusals_lend_nothing(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", UINT64_C(4) << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va = tm_anon(vs, 4, RW, XVM_MAP_PRIVATE);
    fill(vs, va, 4, 1);
    assert_int_equal(xvm_mprotect(vs, va + 2 * PG, PG, XVM_PROT_NONE), 0);
    xvm_loan *ln = NULL;
    assert_int_equal(xvm_loan_start(vs, va, 0, &ln), EINVAL);
    assert_int_equal(xvm_loan_start(NULL, va, 1, &ln), EINVAL);
    assert_int_equal(xvm_loan_start(vs, va, 1, NULL), EINVAL);
    assert_int_equal(xvm_loan_start(vs, va, 4 * PG, &ln), EACCES);
    assert_int_equal(xvm_loan_start(vs, va + 3 * PG, 2 * PG, &ln), EFAULT);
    assert_int_equal(xvm_loan_start(vs, UINT64_MAX - 4, 10, &ln), EFAULT);
    assert_null(ln);
    struct xvm_stats s = tm_stats(m);
    assert_int_equal(s.loans, 0);
    assert_int_equal(s.loans_active, 0);
    tm_check(m); /* every loan count is 0 again */
    /* Pages 0 and 1 were lent before the refusal: writable, no copy. */
    tm_wr8(vs, va, 7);
    assert_int_equal(tm_stats(m).loan_breaks, 0);
    assert_int_equal(xvm_loan_read(NULL, 0, &va, 1), EINVAL);
    xvm_machine_destroy(m); /* with no loan left */
}

/* A machine destroyed with loans still out frees them. */
static void test_loan_left_at_destroy_is_freed(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", UINT64_C(4) << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va = tm_anon(vs, 3, RW, XVM_MAP_PRIVATE);
    fill(vs, va, 3, 3);
    xvm_loan *ln;
    assert_int_equal(xvm_loan_start(vs, va, 3 * PG, &ln), 0);
    fill(vs, va, 3, 9);
    tm_check(m);
    xvm_machine_destroy(m); /* ASan: nothing leaks */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loan_anon_written_during_the_loan_is_copied),
        cmocka_unit_test(test_loan_device_pages_live_in_the_loan),
        cmocka_unit_test(test_loan_shared_object_page_written_by_a_sharer),
        cmocka_unit_test(test_loan_outlives_its_process),
        cmocka_unit_test(test_loan_fork_then_writes_on_both_sides),
        cmocka_unit_test(test_loan_of_untouched_memory_lends_zeros),
        cmocka_unit_test(test_loan_refusals_lend_nothing),
        cmocka_unit_test(test_loan_left_at_destroy_is_freed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
