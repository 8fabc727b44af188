/*
 * vm_map internals against a naive model: a sorted array of ranges.
 * Random maps, unmaps and clips; lookups must agree everywhere.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>

#include "amap.h"
#include "machine.h"
#include "map.h"
#include "vmspace.h"

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

#define NPAGES 512

/* owner[p]: which mapping (by its start page + 1) covers page p, or 0. */
static void check_against(struct xvm_vmspace *vs, const uint32_t *owner)
{
    uint64_t pg = vs->vm->core->pgsz;
    for (uint32_t p = 1; p < NPAGES; p++) {
        struct vm_map_entry *e = map_lookup(&vs->map, p * pg);
        if (owner[p] == 0) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_true(e->start <= p * pg && p * pg < e->end);
        }
    }
}

static void test_map_random_mmap_munmap_matches_model(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(m);
    uint32_t owner[NPAGES] = { 0 }, seed = 12345;
    for (int step = 0; step < 3000; step++) {
        uint32_t start = 1 + rnd(&seed) % (NPAGES - 1);
        uint32_t len = 1 + rnd(&seed) % 16;
        if (start + len > NPAGES)
            len = NPAGES - start;
        uint64_t addr = (uint64_t)start * PG;
        if (rnd(&seed) % 3) {
            assert_int_equal(xvm_mmap(vs, &addr, (uint64_t)len * PG,
                                      XVM_PROT_READ | XVM_PROT_WRITE,
                                      XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                             0);
            for (uint32_t p = start; p < start + len; p++)
                owner[p] = start + 1;
            tm_wr8(vs, addr, (uint8_t)step);
        } else {
            assert_int_equal(xvm_munmap(vs, addr, (uint64_t)len * PG), 0);
            for (uint32_t p = start; p < start + len; p++)
                owner[p] = 0;
        }
        if (step % 100 == 0) {
            check_against(vs, owner);
            tm_check(m);
        }
    }
    check_against(vs, owner);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Anywhere-mappings fill the gaps first-fit and never overlap. */
static void test_map_findspace_fills_gaps_without_overlap(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t base = 0x10000000, a;
    for (int i = 0; i < 8; i++) {
        a = base + (uint64_t)i * 4 * PG;
        assert_int_equal(xvm_mmap(vs, &a, 2 * PG, XVM_PROT_READ,
                                  XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                         0);
    }
    /* Gaps of two pages: a two-page hint at base lands in the first gap. */
    a = base;
    assert_int_equal(
        xvm_mmap(vs, &a, 2 * PG, XVM_PROT_READ, XVM_MAP_PRIVATE, NULL, 0), 0);
    assert_int_equal(a, base + 2 * PG);
    /* Three pages fit only past the last mapping. */
    a = base;
    assert_int_equal(
        xvm_mmap(vs, &a, 3 * PG, XVM_PROT_READ, XVM_MAP_PRIVATE, NULL, 0), 0);
    assert_int_equal(a, base + 30 * PG);
    assert_int_equal(vs->map.nentries, 10);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_map_lookup_among_20000_entries_finds_each(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(m);
    enum { N = 20000 };
    for (uint64_t i = 0; i < N; i++) {
        uint64_t a = 0x100000000ULL + i * 2 * PG;
        assert_int_equal(xvm_mmap(vs, &a, PG, XVM_PROT_READ,
                                  XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                         0);
    }
    assert_int_equal(vs->map.nentries, N);
    for (uint64_t i = 0; i < N; i += 97) {
        uint64_t a = 0x100000000ULL + i * 2 * PG;
        struct vm_map_entry *e = map_lookup(&vs->map, a + 5);
        assert_non_null(e);
        assert_int_equal(e->start, a);
        assert_null(map_lookup(&vs->map, a + PG));
    }
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Each refusal below leaves the vmspace empty and the machine sane. */
static void expect_nothing_changed(xvm_machine *m, xvm_vmspace *vs)
{
    assert_int_equal(vs->map.nentries, 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_map_mmap_bad_arguments_change_nothing(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = 0;
    assert_int_equal(
        xvm_mmap(vs, &a, 0, XVM_PROT_READ, XVM_MAP_PRIVATE, NULL, 0), EINVAL);
    assert_int_equal(xvm_mmap(vs, &a, PG, XVM_PROT_READ, 0, NULL, 0), EINVAL);
    assert_int_equal(xvm_mmap(vs, &a, PG, XVM_PROT_READ,
                              XVM_MAP_PRIVATE | XVM_MAP_SHARED, NULL, 0),
                     EINVAL);
    assert_int_equal(xvm_mmap(vs, &a, PG, 0x1000, XVM_MAP_PRIVATE, NULL, 0),
                     EINVAL);
    a = 0x1001;
    assert_int_equal(xvm_mmap(vs, &a, PG, XVM_PROT_READ,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     EINVAL);
    a = 0;
    assert_int_equal(xvm_mmap(vs, &a, PG, XVM_PROT_READ,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     EINVAL);
    a = 0x7ffff000;
    assert_int_equal(xvm_mmap(vs, &a, 2 * PG, XVM_PROT_READ,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     EINVAL);
    a = 0;
    assert_int_equal(xvm_mmap(vs, &a, UINT64_C(1) << 40, XVM_PROT_READ,
                              XVM_MAP_PRIVATE, NULL, 0),
                     ENOMEM);
    assert_int_equal(
        xvm_mmap(NULL, &a, PG, XVM_PROT_READ, XVM_MAP_PRIVATE, NULL, 0),
        EINVAL);
    expect_nothing_changed(m, vs);
}

static void test_map_mprotect_and_madvise_bad_arguments_change_nothing(
    void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(m);
    assert_int_equal(xvm_mprotect(vs, 0x10000, PG, XVM_PROT_READ), ENOMEM);
    assert_int_equal(xvm_mprotect(vs, 0x10000, PG, 0x40), EINVAL);
    assert_int_equal(xvm_madvise(vs, 0x10000, PG, 9), EINVAL);
    expect_nothing_changed(m, vs);
}

static void test_map_access_unmapped_or_without_buffer_is_refused(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(m);
    uint8_t b;
    assert_int_equal(xvm_read(vs, 0, &b, 1), EFAULT);
    assert_int_equal(xvm_read(vs, UINT64_MAX, &b, 1), EFAULT);
    assert_int_equal(xvm_read(vs, 0x10000, NULL, 1), EINVAL);
    expect_nothing_changed(m, vs);
}

static void test_map_machine_create_refuses_bad_configurations(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *bad = NULL;
    xvm_config_init(&cfg);
    cfg.profile = "vax";
    assert_int_equal(xvm_machine_create(&cfg, &bad), EINVAL);
    xvm_config_init(&cfg);
    cfg.ram_bytes = 12345;
    assert_int_equal(xvm_machine_create(&cfg, &bad), EINVAL);
    xvm_config_init(&cfg);
    cfg.tlb_entries = 100;
    assert_int_equal(xvm_machine_create(&cfg, &bad), EINVAL);
    xvm_config_init(&cfg);
    cfg.ram_bytes = UINT64_C(8) << 30; /* beyond 4-byte PTEs */
    assert_int_equal(xvm_machine_create(&cfg, &bad), EINVAL);
    assert_null(bad);
}

/*
 * A first write into a huge private mapping gets an amap for the chunk
 * around it only (UVM's amap chunking): the entry is clipped, the amap's
 * size is the chunk's, and forks copy only what was touched.
 */
static void test_map_huge_mapping_gets_amaps_by_chunk(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 16u << 20, 0);
    xvm_vmspace *vs, *child;
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    uint64_t len = UINT64_C(1) << 40, a = 0; /* 2^28 pages */
    assert_int_equal(xvm_mmap(vs, &a, len, XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    uint64_t spots[3] = { 0, len / 2 + 12345, len - 1 };
    for (int i = 0; i < 3; i++)
        tm_wr8(vs, a + spots[i], (uint8_t)(i + 1));
    tm_check(m);
    assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], 3);
    struct vm_map_entry *e;
    unsigned with_amap = 0;
    map_foreach(&vs->map, e) {
        if (e->amap) {
            with_amap++;
            assert_true(e->amap->nslot <= 16384);
            assert_int_equal(e->end - e->start, (uint64_t)e->amap->nslot * PG);
        }
    }
    assert_int_equal(with_amap, 3);
    assert_true(vs->map.nentries <= 1 + 2 * 3);
    /* Fork and write in the child: only a chunk's amap is copied. */
    assert_int_equal(xvm_vmspace_fork(vs, &child), 0);
    tm_wr8(child, a + spots[1], 9);
    assert_int_equal(tm_rd8(vs, a + spots[1]), 2);
    assert_int_equal(tm_rd8(child, a + spots[1]), 9);
    assert_int_equal(tm_rd8(child, a + spots[2]), 3);
    assert_int_equal(tm_rd8(child, a + 7 * PG), 0);
    tm_check(m);
    assert_int_equal(xvm_munmap(vs, a, len), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_random_mmap_munmap_matches_model),
        cmocka_unit_test(test_map_findspace_fills_gaps_without_overlap),
        cmocka_unit_test(test_map_lookup_among_20000_entries_finds_each),
        cmocka_unit_test(test_map_mmap_bad_arguments_change_nothing),
        cmocka_unit_test(
            test_map_mprotect_and_madvise_bad_arguments_change_nothing),
        cmocka_unit_test(test_map_access_unmapped_or_without_buffer_is_refused),
        cmocka_unit_test(test_map_machine_create_refuses_bad_configurations),
        cmocka_unit_test(test_map_huge_mapping_gets_amaps_by_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
