/*
 * amap/anon paths through the public API, with the amap inspected from
 * inside: per-page references (ppref) after splits and partial unmaps,
 * both walks of amap_unref, copies of shared amaps and of parts of an
 * amap, inheritance share/copy/none, grand-child forks.  The machine
 * checker (which recounts ppref from the entries) runs after every step.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "amap.h"
#include "machine.h"
#include "map.h"
#include "vmspace.h"

#define RW (XVM_PROT_READ | XVM_PROT_WRITE)

static struct vm_map_entry *entry_at(xvm_vmspace *vs, uint64_t va)
{
    struct vm_map_entry *e = map_lookup(&vs->map, va);
    assert_non_null(e);
    return e;
}

static struct amap *amap_at(xvm_vmspace *vs, uint64_t va)
{
    struct amap *am = entry_at(vs, va)->amap;
    assert_non_null(am);
    return am;
}

static uint64_t anon_frames(xvm_machine *m)
{
    return tm_stats(m).pages[XVM_USE_ANON];
}

/*
 * 16 slots, 2 used; a partial unmap of 8 pages is cheaper as a walk of
 * the 2 used slots than of the 8-page range.  Slots outside the range,
 * and slots another entry still covers, survive.
 */
static void test_amap_partial_unmap_walks_used_slots_when_range_is_larger(
    void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 16, RW, XVM_MAP_PRIVATE);
    tm_wr8(P, a, 'a');
    tm_wr8(P, a + 9 * PG, 'j');
    xvm_vmspace *C = tm_fork(P);
    struct amap *am = amap_at(P, a);
    assert_int_equal(am->ref, 2);
    assert_int_equal(am->nused, 2);
    assert_null(am->ppref);

    assert_int_equal(xvm_munmap(P, a + 8 * PG, 8 * PG), 0);
    tm_check(m);
    /* The split made per-page counts: the child still covers 8..15. */
    assert_non_null(am->ppref);
    assert_int_equal(am->ref, 2);
    assert_int_equal(am->ppref[9], 1);
    assert_int_equal(am->ppref[0], 2);
    assert_int_equal(am->nused, 2);
    assert_int_equal(anon_frames(m), 2);
    assert_int_equal(tm_rd8(C, a + 9 * PG), 'j');

    /* The child goes: slot 9 is covered by nobody and its anon is freed;
     * slot 0 is still the parent's. */
    xvm_vmspace_destroy(C);
    tm_check(m);
    assert_int_equal(am->ref, 1);
    assert_int_equal(am->nused, 1);
    assert_null(am->anon[9]);
    assert_int_equal(am->ppref[9], 0);
    assert_int_equal(anon_frames(m), 1);
    assert_int_equal(tm_rd8(P, a), 'a');
    uint8_t v;
    assert_int_equal(xvm_read(P, a + 9 * PG, &v, 1), EFAULT);
    xvm_machine_destroy(m);
}

/*
 * 15 of 16 slots used: unmapping two pages walks the range.  A page in
 * the range with no anon is skipped.
 */
static void test_amap_partial_unmap_walks_range_when_amap_is_dense(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 16, RW, XVM_MAP_PRIVATE);
    for (int i = 0; i < 15; i++)
        tm_wr8(P, a + i * PG, (uint8_t)(i + 1));
    xvm_vmspace *C = tm_fork(P);
    struct amap *am = amap_at(P, a);
    assert_int_equal(xvm_munmap(P, a + 2 * PG, 2 * PG), 0);
    tm_check(m);
    /* The child covers 2 and 3: nothing freed. */
    assert_int_equal(am->nused, 15);
    assert_int_equal(anon_frames(m), 15);
    assert_int_equal(tm_rd8(C, a + 3 * PG), 4);
    xvm_vmspace_destroy(C);
    tm_check(m);
    /* Now 2 and 3 are nobody's. */
    assert_int_equal(am->nused, 13);
    assert_int_equal(anon_frames(m), 13);
    /* Slots 14 (used) and 15 (empty): only 14's anon goes. */
    assert_int_equal(xvm_munmap(P, a + 14 * PG, 2 * PG), 0);
    tm_check(m);
    assert_int_equal(am->nused, 12);
    assert_int_equal(anon_frames(m), 12);
    for (int i = 0; i < 14; i++)
        if (i != 2 && i != 3)
            assert_int_equal(tm_rd8(P, a + i * PG), i + 1);
    /* The dense list stayed consistent through the removals. */
    for (uint32_t k = 0; k < am->nused; k++)
        assert_int_equal(am->bckptr[am->slots[k]], k);
    xvm_machine_destroy(m);
}

/*
 * One entry split in three by mprotect shares its amap (ppref); after a
 * fork each of the child's three entries copies only its own slots on
 * its first write.
 */
static void test_amap_split_entry_copies_only_its_part(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 6, RW, XVM_MAP_PRIVATE);
    for (int i = 0; i < 6; i++)
        tm_wr8(P, a + i * PG, (uint8_t)('A' + i));
    assert_int_equal(xvm_mprotect(P, a + 2 * PG, 2 * PG, XVM_PROT_READ), 0);
    tm_check(m);
    assert_int_equal(P->map.nentries, 3);
    struct amap *am = amap_at(P, a);
    assert_int_equal(am->ref, 3);
    assert_ptr_equal(amap_at(P, a + 2 * PG), am);
    assert_int_equal(entry_at(P, a + 4 * PG)->aoff, 4);
    for (int i = 0; i < 6; i++)
        assert_int_equal(am->ppref[i], 1);

    xvm_vmspace *C = tm_fork(P);
    assert_int_equal(am->ref, 6);
    assert_int_equal(xvm_mprotect(C, a + 2 * PG, 2 * PG, RW), 0);
    struct xvm_stats s0 = tm_stats(m);
    /* Middle entry: a 2-slot copy of slots 2 and 3. */
    tm_wr8(C, a + 3 * PG, 'x');
    tm_check(m);
    struct amap *mid = amap_at(C, a + 2 * PG);
    assert_true(mid != am);
    assert_int_equal(mid->nslot, 2);
    assert_int_equal(mid->nused, 2);
    assert_int_equal(entry_at(C, a + 2 * PG)->aoff, 0);
    assert_int_equal(am->ref, 5);
    assert_int_equal(am->ppref[2], 1);
    /* Last entry: slots 4 and 5; then the first: slots 0 and 1. */
    tm_wr8(C, a + 5 * PG, 'y');
    tm_wr8(C, a, 'z');
    tm_check(m);
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.amap_copies - s0.amap_copies, 3);
    assert_int_equal(s1.cow_promotions - s0.cow_promotions, 3);
    assert_int_equal(am->ref, 3);
    assert_int_equal(anon_frames(m), 9);
    static const char want_p[] = "ABCDEF", want_c[] = "zBCxEy";
    for (int i = 0; i < 6; i++) {
        assert_int_equal(tm_rd8(P, a + i * PG), want_p[i]);
        assert_int_equal(tm_rd8(C, a + i * PG), want_c[i]);
    }
    xvm_vmspace_destroy(P);
    tm_check(m);
    assert_int_equal(anon_frames(m), 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(tm_rd8(C, a + i * PG), want_c[i]);
    xvm_machine_destroy(m);
}

/*
 * A shared amap (inherit share) copied by a copy-inheriting fork: the
 * copy is taken at fork time, as nobody may see the sharers' later
 * writes.  Grand-children and great-grand-children each see their own.
 */
static void test_amap_copy_of_shared_amap_is_taken_at_fork(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 4, RW, XVM_MAP_PRIVATE);
    tm_wr8(P, a, 1);
    tm_wr8(P, a + PG, 2);
    assert_int_equal(xvm_minherit(P, a, 4 * PG, XVM_INHERIT_SHARE), 0);
    xvm_vmspace *C = tm_fork(P);
    struct amap *am = amap_at(P, a);
    assert_ptr_equal(amap_at(C, a), am);
    assert_true(am->flags & AMAP_SHARED);
    assert_int_equal(xvm_minherit(C, a, 4 * PG, XVM_INHERIT_COPY), 0);
    struct xvm_stats s0 = tm_stats(m);
    xvm_vmspace *G = tm_fork(C);
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.amap_copies - s0.amap_copies, 1);
    assert_true(amap_at(G, a) != am);
    assert_false(entry_at(G, a)->needs_copy);
    assert_int_equal(am->anon[0]->ref, 2);
    /* The sharers' writes are not seen by G, and G's not by them. */
    tm_wr8(P, a, 10);
    tm_wr8(C, a + 2 * PG, 30);
    tm_wr8(G, a + PG, 20);
    tm_check(m);
    assert_int_equal(tm_rd8(C, a), 10);
    assert_int_equal(tm_rd8(P, a + 2 * PG), 30);
    assert_int_equal(tm_rd8(G, a), 1);
    assert_int_equal(tm_rd8(G, a + 2 * PG), 0);
    assert_int_equal(tm_rd8(P, a + PG), 2);
    assert_int_equal(tm_rd8(G, a + PG), 20);
    /* A grand-grand-child of G (plain copy) shares G's amap lazily. */
    xvm_vmspace *GG = tm_fork(G);
    struct amap *gam = amap_at(G, a);
    assert_ptr_equal(amap_at(GG, a), gam);
    assert_true(entry_at(GG, a)->needs_copy);
    assert_int_equal(tm_rd8(GG, a + PG), 20);
    tm_wr8(GG, a + PG, 21);
    tm_check(m);
    assert_int_equal(tm_rd8(G, a + PG), 20);
    assert_int_equal(tm_rd8(GG, a + PG), 21);
    assert_int_equal(tm_rd8(GG, a), 1);
    xvm_vmspace_destroy(G);
    xvm_vmspace_destroy(P);
    tm_check(m);
    assert_int_equal(tm_rd8(GG, a), 1);
    assert_int_equal(tm_rd8(C, a), 10);
    xvm_machine_destroy(m);
}

/*
 * A whole-amap reference taken while the amap already has per-page
 * counts (another sharer split its entry), and a fork of the first part
 * of a split entry (slot 0, shorter than the amap).
 */
static void test_amap_references_after_a_sharer_split_its_entry(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 4, RW, XVM_MAP_PRIVATE);
    for (int i = 0; i < 4; i++)
        tm_wr8(P, a + i * PG, (uint8_t)(i + 1));
    assert_int_equal(xvm_minherit(P, a, 4 * PG, XVM_INHERIT_SHARE), 0);
    xvm_vmspace *C1 = tm_fork(P);
    struct amap *am = amap_at(P, a);
    assert_null(am->ppref);
    assert_int_equal(xvm_mprotect(C1, a, PG, XVM_PROT_READ), 0);
    tm_check(m);
    assert_non_null(am->ppref);
    assert_int_equal(am->ref, 3);
    /* P's entry is still whole. */
    xvm_vmspace *C2 = tm_fork(P);
    assert_int_equal(am->ref, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(am->ppref[i], 3);
    /* C1's first part: slot 0, one page of four. */
    xvm_vmspace *G = tm_fork(C1);
    assert_int_equal(am->ref, 6);
    assert_int_equal(am->ppref[0], 4);
    tm_wr8(C2, a + 3 * PG, 40);
    assert_int_equal(tm_rd8(P, a + 3 * PG), 40);
    assert_int_equal(tm_rd8(G, a + 3 * PG), 40);
    assert_int_equal(tm_rd8(G, a), 1);
    uint8_t v = 0;
    assert_int_equal(xvm_write(G, a, &v, 1), EACCES);
    tm_check(m);
    xvm_vmspace_destroy(C1);
    xvm_vmspace_destroy(P);
    tm_check(m);
    assert_int_equal(am->ref, 3);
    assert_int_equal(anon_frames(m), 4);
    xvm_vmspace_destroy(C2);
    xvm_vmspace_destroy(G);
    tm_check(m);
    assert_int_equal(anon_frames(m), 0);
    xvm_machine_destroy(m);
}

/* One fork, three inheritances; then a grand-child of the child. */
static void test_amap_inherit_share_copy_none_in_one_fork(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t sh = tm_anon(P, 2, RW, XVM_MAP_PRIVATE);
    uint64_t cp = tm_anon(P, 2, RW, XVM_MAP_PRIVATE);
    uint64_t no = tm_anon(P, 2, RW, XVM_MAP_PRIVATE);
    tm_wr8(P, sh, 's');
    tm_wr8(P, cp, 'c');
    tm_wr8(P, no, 'n');
    assert_int_equal(xvm_minherit(P, sh, 2 * PG, XVM_INHERIT_SHARE), 0);
    assert_int_equal(xvm_minherit(P, no, 2 * PG, XVM_INHERIT_NONE), 0);
    xvm_vmspace *C = tm_fork(P);
    assert_int_equal(C->map.nentries, 2);
    uint8_t v;
    assert_int_equal(xvm_read(C, no, &v, 1), EFAULT);
    tm_wr8(C, sh + PG, 'S');
    tm_wr8(C, cp + PG, 'C');
    tm_check(m);
    assert_int_equal(tm_rd8(P, sh + PG), 'S');
    assert_int_equal(tm_rd8(P, cp + PG), 0);
    /* Inheritance is inherited: the grand-child shares "sh" with both. */
    xvm_vmspace *G = tm_fork(C);
    tm_wr8(G, sh, 'g');
    tm_wr8(G, cp, 'G');
    tm_check(m);
    assert_int_equal(tm_rd8(P, sh), 'g');
    assert_int_equal(tm_rd8(C, sh), 'g');
    assert_int_equal(tm_rd8(C, cp), 'c');
    assert_int_equal(tm_rd8(P, cp), 'c');
    assert_int_equal(tm_rd8(G, cp + PG), 'C');
    assert_int_equal(xvm_read(G, no, &v, 1), EFAULT);
    xvm_vmspace_destroy(C);
    xvm_vmspace_destroy(P);
    tm_check(m);
    assert_int_equal(tm_rd8(G, sh + PG), 'S');
    xvm_machine_destroy(m);
}

/* Out of host memory while splitting or copying amaps: ENOMEM, nothing
 * changed, and the same call works once memory is back. */
static void test_amap_enomem_in_split_fork_and_copy_changes_nothing(
    void **state)
{
    (void)state;
    int failed = 0;
    for (uint64_t n = 1; n < 40; n++) {
        xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
        xvm_vmspace *P = tm_vs(m);
        uint64_t a = tm_anon(P, 4, RW, XVM_MAP_PRIVATE);
        for (int i = 0; i < 4; i++)
            tm_wr8(P, a + i * PG, (uint8_t)(i + 1));
        xvm_vmspace *C = tm_fork(P);
        m->core.fail_at[INJECT_ALLOC] = m->core.occurred[INJECT_ALLOC] + n;
        int e1 = xvm_mprotect(P, a + PG, 2 * PG, XVM_PROT_READ);
        tm_check(m);
        int e2 = e1 ? 0 : xvm_munmap(C, a + 3 * PG, PG);
        tm_check(m);
        uint8_t v = 9;
        int e3 = e1 || e2 ? 0 : xvm_write(C, a + PG, &v, 1);
        tm_check(m);
        int e = e1 ? e1 : e2 ? e2 : e3;
        if (e) {
            assert_int_equal(e, ENOMEM);
            failed++;
        }
        m->core.fail_at[INJECT_ALLOC] = 0;
        if (e1) {
            /* A refused mprotect changed no protection (a clip done
             * before the failing one may stay: it changes nothing). */
            for (int i = 0; i < 4; i++)
                assert_int_equal(entry_at(P, a + i * PG)->prot, RW);
            assert_int_equal(xvm_mprotect(P, a + PG, 2 * PG, XVM_PROT_READ), 0);
        }
        if (e1 || e2) {
            assert_int_equal(C->map.nentries, 1);
            assert_int_equal(xvm_munmap(C, a + 3 * PG, PG), 0);
        }
        tm_wr8(C, a + PG, 9);
        tm_check(m);
        assert_int_equal(P->map.nentries, 3);
        assert_int_equal(tm_rd8(P, a + PG), 2);
        assert_int_equal(tm_rd8(C, a + PG), 9);
        assert_int_equal(tm_rd8(C, a + 2 * PG), 3);
        assert_int_equal(xvm_read(C, a + 3 * PG, &v, 1), EFAULT);
        xvm_machine_destroy(m);
    }
    assert_true(failed >= 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_amap_partial_unmap_walks_used_slots_when_range_is_larger),
        cmocka_unit_test(
            test_amap_partial_unmap_walks_range_when_amap_is_dense),
        cmocka_unit_test(test_amap_split_entry_copies_only_its_part),
        cmocka_unit_test(test_amap_copy_of_shared_amap_is_taken_at_fork),
        cmocka_unit_test(test_amap_references_after_a_sharer_split_its_entry),
        cmocka_unit_test(test_amap_inherit_share_copy_none_in_one_fork),
        cmocka_unit_test(
            test_amap_enomem_in_split_fork_and_copy_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
