/*
 * pmap, PV tracking, the MMU walk and the software TLB, seen from inside:
 * PTE bytes (a table's host chunks, pmap_table_entry) are decoded here
 * independently of pmap.c.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "pmap.h"
#include "vmspace.h"

/* Decodes one PTE of a table, by the profile's size and order (0 where
 * its chunk was never made). */
static uint64_t raw_pte(struct xvm_machine *m, pageh table, unsigned idx)
{
    const uint8_t *p = pmap_table_entry(&m->mmu, table, idx);
    uint64_t v = 0;
    if (p == NULL)
        return 0;
    for (unsigned k = 0; k < m->core.prof->pte_size; k++) {
        unsigned b =
            m->core.prof->big_endian ? k : m->core.prof->pte_size - 1 - k;
        v = v << 8 | p[b];
    }
    return v;
}

/* Walks the tables by hand: sgimips 10/10/12, amd64 9/9/9/9/12. */
static uint64_t walk_by_hand(struct xvm_machine *m, struct pmap *pm,
                             uint64_t va)
{
    pageh t = pm->root;
    unsigned bits = m->core.prof->levels == 2 ? 10 : 9;
    for (unsigned l = 0; l < m->core.prof->levels; l++) {
        unsigned shift = 12 + bits * (m->core.prof->levels - 1 - l);
        uint64_t pte =
            raw_pte(m, t, (unsigned)(va >> shift) & ((1u << bits) - 1));
        if (!(pte & 1))
            return 0;
        if (l + 1 == m->core.prof->levels)
            return pte;
        t = phys_lookup(&m->ph, (pte >> 12) << 12);
    }
    return 0;
}

static void test_pmap_ptes_in_simulated_ram_decode_by_hand(void **state)
{
    (void)state;
    static const char *const names[] = { "sgimips", "amd64" };
    for (int p = 0; p < 2; p++) {
        xvm_machine *m = tm_machine(names[p], 4u << 20, 0);
        xvm_vmspace *vs = tm_vs(m);
        uint64_t a = 0x10000000;
        assert_int_equal(xvm_mmap(vs, &a, 3 * PG,
                                  XVM_PROT_READ | XVM_PROT_WRITE,
                                  XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                         0);
        tm_wr8(vs, a + PG, 1);
        uint64_t pa;
        assert_int_equal(xvm_extract(vs, a + PG, &pa), 0);
        uint64_t pte = walk_by_hand(m, vs->pmap, a + PG);
        assert_int_equal((pte >> 12) << 12, pa);
        assert_true(pte & PTE_W);
        assert_true(pte & PTE_MOD);
        assert_true(pte & PTE_REF);
        assert_int_equal(walk_by_hand(m, vs->pmap, a + 2 * PG), 0);
        /* A page far off: no table, or a chunk never made, on its way. */
        assert_int_equal(walk_by_hand(m, vs->pmap, a + 512 * PG), 0);
        assert_int_equal(walk_by_hand(m, vs->pmap, a + 4096 * PG), 0);
        /* Tables: root plus one per lower level; frames of simulated RAM
         * with a physical address each, but no host bytes of their own. */
        assert_int_equal(vs->pmap->ptpages, m->core.prof->levels);
        const uint8_t *root = phys_data(&m->ph, vs->pmap->root);
        for (uint64_t i = 0; i < m->core.pgsz; i++) /* entries live elsewhere */
            assert_int_equal(root[i], 0);
        assert_null(pmap_table_entry(&m->mmu, vs->pmap->root,
                                     (1u << m->core.prof->level_bits[0]) - 1));
        assert_int_equal(tm_stats(m).pages[XVM_USE_PAGETABLE],
                         m->core.prof->levels);
        assert_int_equal(xvm_munmap(vs, a, 3 * PG), 0);
        /* An emptied table is freed at once; only the root remains. */
        assert_int_equal(vs->pmap->ptpages, 1);
        tm_check(m);
        xvm_machine_destroy(m);
    }
}

static void test_pmap_referenced_modified_bits_follow_accesses(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a =
        tm_anon(vs, 1, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    tm_wr8(vs, a, 1);
    uint64_t pa;
    assert_int_equal(xvm_extract(vs, a, &pa), 0);
    pageh pg = phys_lookup(&m->ph, pa);
    assert_true(pmap_is_modified(&m->mmu, pg));
    assert_true(pmap_is_referenced(&m->mmu, pg));
    pmap_clear_modify(&m->mmu, pg);
    pmap_clear_reference(&m->mmu, pg);
    assert_false(pmap_is_modified(&m->mmu, pg));
    assert_false(pmap_is_referenced(&m->mmu, pg));
    tm_check(m);
    /* A read sets referenced only; the TLB must not hide the next write. */
    assert_int_equal(tm_rd8(vs, a), 1);
    assert_true(pmap_is_referenced(&m->mmu, pg));
    assert_false(pmap_is_modified(&m->mmu, pg));
    tm_wr8(vs, a, 2);
    assert_true(pmap_is_modified(&m->mmu, pg));
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_pmap_page_protect_device_page_finds_every_mapping(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    uint8_t *dev = calloc(1, 2 * PG);
    dev[0] = 0x5a;
    assert_int_equal(xvm_physload_device(m, 0x40000000, 2 * PG, dev), 0);
    xvm_object *obj;
    assert_int_equal(xvm_devobj_create(m, 0x40000000, 2 * PG, &obj), 0);
    xvm_vmspace *vs[4];
    uint64_t a[4];
    for (int k = 0; k < 4; k++) {
        vs[k] = tm_vs(m);
        a[k] = 0;
        assert_int_equal(xvm_mmap(vs[k], &a[k], 2 * PG, XVM_PROT_READ,
                                  XVM_MAP_SHARED, obj, 0),
                         0);
        assert_int_equal(tm_rd8(vs[k], a[k]), 0x5a);
    }
    /* Two mappings in one address space too. */
    uint64_t b = 0;
    assert_int_equal(
        xvm_mmap(vs[0], &b, PG, XVM_PROT_READ, XVM_MAP_SHARED, obj, 0), 0);
    assert_int_equal(tm_rd8(vs[0], b), 0x5a);
    pageh pg = page_device(0x40000000);
    assert_int_equal(pmap_pv_count(&m->mmu, pg), 5);
    assert_int_equal(tm_stats(m).pv_device, 5);
    pmap_page_protect(&m->mmu, pg, XVM_PROT_NONE);
    assert_int_equal(pmap_pv_count(&m->mmu, pg), 0);
    assert_int_equal(tm_stats(m).pv_device, 0);
    tm_check(m);
    for (int k = 0; k < 4; k++) {
        uint64_t pa;
        /* Still mapped, but no translation: ENOENT, not EFAULT. */
        assert_int_equal(xvm_extract(vs[k], a[k], &pa), ENOENT);
        /* The next access faults it back in. */
        assert_int_equal(tm_rd8(vs[k], a[k]), 0x5a);
    }
    tm_check(m);
    xvm_object_release(obj);
    xvm_machine_destroy(m);
    free(dev);
}

/* Two private pages, the first written: in the TLB, writable. */
struct tlbfx {
    xvm_machine *m;
    xvm_vmspace *vs;
    uint64_t a;
};

static int tlb_setup(void **state)
{
    struct tlbfx *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->m = tm_machine("sgimips", 4u << 20, 0);
    t->vs = tm_vs(t->m);
    t->a = tm_anon(t->vs, 2, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    tm_wr8(t->vs, t->a, 1);
    *state = t;
    return 0;
}

/* The checker passes after each test. */
static int tlb_teardown(void **state)
{
    struct tlbfx *t = *state;
    tm_check(t->m);
    xvm_machine_destroy(t->m);
    free(t);
    return 0;
}

static void test_pmap_tlb_hits_on_every_access_after_the_first(void **state)
{
    struct tlbfx *t = *state;
    struct xvm_stats s0 = tm_stats(t->m);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tm_rd8(t->vs, t->a + (uint64_t)i), i == 0 ? 1 : 0);
    struct xvm_stats s1 = tm_stats(t->m);
    assert_int_equal(s1.soft_tlb_hits - s0.soft_tlb_hits, 100);
    assert_int_equal(s1.soft_tlb_misses, s0.soft_tlb_misses);
}

/* mprotect must drop the cached write permission at once. */
static void test_pmap_tlb_loses_write_permission_at_mprotect(void **state)
{
    struct tlbfx *t = *state;
    uint8_t v = 9;
    assert_int_equal(xvm_mprotect(t->vs, t->a, PG, XVM_PROT_READ), 0);
    assert_int_equal(xvm_write(t->vs, t->a, &v, 1), EACCES);
}

/* munmap must drop the cached translation. */
static void test_pmap_tlb_loses_the_translation_at_munmap(void **state)
{
    struct tlbfx *t = *state;
    uint8_t v = 9;
    assert_int_equal(xvm_munmap(t->vs, t->a, PG), 0);
    assert_int_equal(xvm_read(t->vs, t->a, &v, 1), EFAULT);
}

/* Fork write-protects the parent lazily; its writes still fault. */
static void test_pmap_fork_write_protect_is_lazy_and_complete(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 8u << 20, 0);
    xvm_vmspace *P, *C;
    P = tm_vs(m);
    uint64_t a =
        tm_anon(P, 600, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    for (int i = 0; i < 600; i++)
        tm_wr8(P, a + (uint64_t)i * PG, 1);
    struct xvm_stats s0 = tm_stats(m);
    assert_int_equal(xvm_vmspace_fork(P, &C), 0);
    /* No PTE was touched: only the child's root table is new (and the
     * kernel memory of its vmspace and entries), no page copied. */
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.pages[XVM_USE_PAGETABLE],
                     s0.pages[XVM_USE_PAGETABLE] + 1);
    assert_int_equal(s1.pages[XVM_USE_ANON], s0.pages[XVM_USE_ANON]);
    tm_check(m);
    for (int i = 0; i < 600; i += 7) {
        tm_wr8(P, a + (uint64_t)i * PG, 2);
        assert_int_equal(tm_rd8(C, a + (uint64_t)i * PG), 1);
    }
    tm_check(m);
    xvm_machine_destroy(m);
}

/*
 * A new address space reads the mmu's empty TLB entry (one line all new
 * spaces share) until its first fill, and its own window after it; a
 * child's first fault finds its entry without its tree (its hint is the
 * copy of the parent's).  Misses and hits are counted alike either way.
 */
static void test_pmap_new_space_reads_the_empty_tlb_entry_until_filled(
    void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 8u << 20, 0);
    xvm_vmspace *P = tm_vs(m), *C;
    uint64_t a = tm_anon(P, 4, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    tm_anon(P, 4, XVM_PROT_READ, XVM_MAP_PRIVATE);
    assert_ptr_equal(P->pmap->tlb_win, &m->mmu.tlb_empty);
    assert_int_equal(P->pmap->tlb_maskb, 0);
    tm_wr8(P, a, 5);
    assert_ptr_equal(P->map.hint, map_lookup(&P->map, a));
    assert_ptr_not_equal(P->pmap->tlb_win, &m->mmu.tlb_empty);
    assert_int_equal(P->pmap->tlb_mask, m->mmu.tlb.mask);
    C = tm_fork(P);
    assert_ptr_equal(C->pmap->tlb_win, &m->mmu.tlb_empty);
    assert_ptr_equal(C->map.hint, map_lookup(&C->map, a));
    assert_ptr_not_equal(C->map.hint, P->map.hint);
    struct xvm_stats s0 = tm_stats(m);
    assert_int_equal(tm_rd8(C, a), 5);
    assert_int_equal(tm_rd8(C, a + 1), 0);
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.soft_tlb_misses - s0.soft_tlb_misses, 1);
    assert_int_equal(s1.soft_tlb_hits - s0.soft_tlb_hits, 1);
    assert_ptr_not_equal(C->pmap->tlb_win, &m->mmu.tlb_empty);
    assert_int_equal(m->mmu.tlb_empty.asid, 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/*
 * The checker sees a TLB entry that grants more than its PTE: a write
 * permission left behind after the PTE was write-protected.
 */
static void test_pmap_check_catches_tlb_write_beyond_pte(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a =
        tm_anon(vs, 1, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    tm_wr8(vs, a, 1);
    tm_check(m);
    struct tlbent *e = tlb_slot(&m->mmu.tlb, vs->pmap->asid, a >> 12);
    assert_true(e->asid == vs->pmap->asid && (e->perm & XVM_PROT_WRITE));
    /* Lower the PTE behind the TLB's back (as a missing invalidate would). */
    pmap_page_protect(&m->mmu, phys_lookup(&m->ph, e->pa), XVM_PROT_READ);
    e->asid = vs->pmap->asid;
    e->perm = XVM_PROT_READ | XVM_PROT_WRITE;
    char msg[200];
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), EINVAL);
    assert_non_null(strstr(msg, "grants more than its PTE"));
    e->asid = 0;
    tm_check(m);
    xvm_machine_destroy(m);
}

/* A machine with the CPU model off: its RAM hits take the hit path of
 * 8-byte accesses (access.c, fast tags). */
static xvm_machine *model_off(const char *profile, unsigned tlb_entries)
{
    struct xvm_config cfg;
    xvm_cpu_profile *p = NULL;
    xvm_machine *m = NULL;
    assert_int_equal(xvm_cpu_profile_create(profile, &p), 0);
    assert_int_equal(xvm_cpu_profile_set(p, "caches", "off", NULL, 0), 0);
    xvm_config_init(&cfg);
    cfg.profile = profile;
    cfg.ram_bytes = 4u << 20;
    cfg.cpu = p;
    cfg.tlb_entries = tlb_entries;
    xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    xvm_cpu_profile_destroy(p);
    return m;
}

/*
 * 8-byte accesses with the model off: each hit counts as the full path
 * would (a software TLB hit, a reference, a line from RAM), one crossing
 * a page boundary reads both pages' bytes, and the hit stops where the
 * translation does (mprotect, munmap, an address past the space, NULL).
 * Expected bytes are written one at a time (no 8-byte path).
 */
static void test_pmap_fast_hits_count_and_stop_like_the_full_path(void **state)
{
    (void)state;
    static const char *const names[] = { "sgimips", "amd64" };
    static const unsigned sizes[] = { 0, 4, 2 }; /* 2: no fast tags */
    for (int p = 0; p < 2; p++)
        for (int z = 0; z < 3; z++) {
            xvm_machine *m = model_off(names[p], sizes[z]);
            xvm_vmspace *vs = tm_vs(m);
            uint64_t a =
                tm_anon(vs, 3, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
            for (uint64_t i = 0; i < 2 * PG; i++)
                tm_wr8(vs, a + i, (uint8_t)(i * 7 + 3));
            uint64_t v = 0, want;
            /* Warm the entries (the first access after a write may walk). */
            assert_int_equal(xvm_read(vs, a, &v, 8), 0);
            assert_int_equal(xvm_read(vs, a + PG, &v, 8), 0);
            struct xvm_stats s0 = tm_stats(m);
            for (int i = 0; i < 100; i++)
                assert_int_equal(xvm_read(vs, a + 8 * (uint64_t)i, &v, 8), 0);
            for (int i = 0; i < 50; i++)
                assert_int_equal(xvm_write(vs, a + 8 * (uint64_t)i, &v, 8), 0);
            struct xvm_stats s1 = tm_stats(m);
            assert_int_equal(s1.soft_tlb_hits - s0.soft_tlb_hits, 150);
            assert_int_equal(s1.soft_tlb_misses, s0.soft_tlb_misses);
            assert_int_equal(s1.d1_refs - s0.d1_refs, 150);
            assert_int_equal(s1.ram_line_fills - s0.ram_line_fills, 100);
            assert_int_equal(s1.ram_writebacks - s0.ram_writebacks, 50);
            assert_true(s1.time_ns > s0.time_ns);
            /* Across the boundary: 5 bytes of one page, 3 of the next. */
            uint8_t got[8], exp[8];
            for (int k = 0; k < 8; k++)
                exp[k] = tm_rd8(vs, a + PG - 5 + (uint64_t)k);
            assert_int_equal(xvm_read(vs, a + PG - 5, got, 8), 0);
            assert_memory_equal(got, exp, 8);
            assert_int_equal(xvm_fetch(vs, a, &v, 8), EACCES);
            /* No 8 bytes past the space, wrapping or not. */
            assert_int_equal(xvm_read(vs, UINT64_MAX - 3, &v, 8), EFAULT);
            assert_int_equal(xvm_read(vs, UINT64_MAX - 7, &v, 8), EFAULT);
            assert_int_equal(xvm_read(vs, a + (UINT64_C(1) << 63), &v, 8),
                             EFAULT);
            assert_int_equal(xvm_read(vs, a, NULL, 8), EINVAL);
            assert_int_equal(xvm_read(NULL, a, &v, 8), EINVAL);
            memcpy(&want, exp, 8);
            assert_int_equal(xvm_write(vs, a, &want, 8), 0);
            assert_int_equal(xvm_mprotect(vs, a, PG, XVM_PROT_READ), 0);
            assert_int_equal(xvm_write(vs, a, &v, 8), EACCES);
            assert_int_equal(xvm_read(vs, a, &v, 8), 0);
            assert_memory_equal(&v, exp, 8);
            assert_int_equal(xvm_munmap(vs, a, PG), 0);
            assert_int_equal(xvm_read(vs, a, &v, 8), EFAULT);
            /* A fork write-protects lazily: the parent's next write
             * copies, the child still sees the old bytes. */
            xvm_vmspace *c = tm_fork(vs);
            uint64_t old = 0, nw = ~UINT64_C(0);
            assert_int_equal(xvm_read(vs, a + PG, &old, 8), 0);
            assert_int_equal(xvm_write(vs, a + PG, &nw, 8), 0);
            assert_int_equal(xvm_read(c, a + PG, &v, 8), 0);
            assert_true(v == old);
            assert_int_equal(xvm_read(vs, a + PG, &v, 8), 0);
            assert_true(v == nw);
            tm_check(m);
            xvm_machine_destroy(m);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmap_ptes_in_simulated_ram_decode_by_hand),
        cmocka_unit_test(test_pmap_referenced_modified_bits_follow_accesses),
        cmocka_unit_test(
            test_pmap_page_protect_device_page_finds_every_mapping),
        cmocka_unit_test_setup_teardown(
            test_pmap_tlb_hits_on_every_access_after_the_first, tlb_setup,
            tlb_teardown),
        cmocka_unit_test_setup_teardown(
            test_pmap_tlb_loses_write_permission_at_mprotect, tlb_setup,
            tlb_teardown),
        cmocka_unit_test_setup_teardown(
            test_pmap_tlb_loses_the_translation_at_munmap, tlb_setup,
            tlb_teardown),
        cmocka_unit_test(test_pmap_fork_write_protect_is_lazy_and_complete),
        cmocka_unit_test(
            test_pmap_new_space_reads_the_empty_tlb_entry_until_filled),
        cmocka_unit_test(test_pmap_check_catches_tlb_write_beyond_pte),
        cmocka_unit_test(test_pmap_fast_hits_count_and_stop_like_the_full_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
