/*
 * Introspection (xvm_page_info, xvm_map_entry_next, xvm_vmspace_stats,
 * xvm_extract's two answers) through scenarios whose every figure is
 * worked out by hand from what the calls did: an address before and
 * after mmap, the zero page after a read, an anon after a write, PV
 * counts and anon references across forks, wiring by mlock, device pages
 * of an XIP file (their bytes on flash equal the host file's), page-cache
 * pages in copy mode, and a device object.  Looking changes nothing: the
 * machine's figures are the same before and after.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RW         (XVM_PROT_READ | XVM_PROT_WRITE)
#define FILE_PAGES 5

struct fixture {
    struct tree_image ti;
    uint8_t *file; /* the host bytes of "f" */
    uint64_t file_size;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    tree_image_init(&fx->ti);
    tree_file(fx->ti.tree, "f", FILE_PAGES * PG, 31);
    fx->file = tree_slurp(fx->ti.tree, "f", &fx->file_size);
    image_make_in(fx->ti.img, sizeof(fx->ti.img), fx->ti.dir, "introspect.img",
                  fx->ti.tree, 2, "little", 16384, 4096);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_image_fini(&fx->ti);
    free(fx->file);
    free(fx);
    return 0;
}

static struct xvm_page_info info(xvm_vmspace *vs, uint64_t va)
{
    struct xvm_page_info pi;
    memset(&pi, 0xa5, sizeof(pi)); /* every field must be written */
    assert_int_equal(xvm_page_info(vs, va, &pi), 0);
    return pi;
}

static uint64_t pa_of(xvm_vmspace *vs, uint64_t va)
{
    uint64_t pa = 0;
    assert_int_equal(xvm_extract(vs, va, &pa), 0);
    return pa & ~(uint64_t)(PG - 1);
}

/* Looking must not move a figure. */
static void same_stats(xvm_machine *m, const struct xvm_stats *before)
{
    struct xvm_stats now = tm_stats(m);
    assert_memory_equal(&now, before, sizeof(now));
}

static void test_page_info_anon_unmapped_zero_ram_and_forks(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m), *C1, *C2;
    uint64_t pa;
    struct xvm_page_info pi;

    /* Unmapped: nothing at all, and xvm_extract says EFAULT. */
    pi = info(P, 0x10000);
    assert_int_equal(pi.kind, XVM_PAGE_UNMAPPED);
    assert_int_equal(pi.owner, XVM_OWNER_NONE);
    assert_int_equal(pi.mapped, 0);
    assert_int_equal(pi.pv_count, 0);
    assert_int_equal(pi.pa, 0);
    assert_int_equal(xvm_extract(P, 0x10000, &pa), EFAULT);
    assert_int_equal(info(P, UINT64_MAX).kind, XVM_PAGE_UNMAPPED);

    /* Mapped, never touched: not resident; xvm_extract says ENOENT. */
    uint64_t a = tm_anon(P, 4, RW, XVM_MAP_PRIVATE);
    pi = info(P, a + 5);
    assert_int_equal(pi.kind, XVM_PAGE_NOT_RESIDENT);
    assert_int_equal(pi.owner, XVM_OWNER_NONE);
    assert_int_equal(pi.object_kind, XVM_OBJECT_NONE);
    assert_int_equal(pi.mapped, 0);
    assert_int_equal(xvm_extract(P, a + 5, &pa), ENOENT);

    /* A read maps the shared zero page, read-only; nobody owns it. */
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(tm_rd8(P, a), 0);
    assert_int_equal(tm_rd8(P, a + PG), 0);
    st = tm_stats(m);
    pi = info(P, a);
    same_stats(m, &st);
    assert_int_equal(pi.kind, XVM_PAGE_ZERO);
    assert_int_equal(pi.owner, XVM_OWNER_NONE);
    assert_int_equal(pi.use, XVM_USE_ZERO);
    assert_int_equal(pi.pa, pa_of(P, a));
    assert_int_equal(pi.pa, pa_of(P, a + PG)); /* one page for both */
    assert_int_equal(pi.mapped, 1);
    assert_int_equal(pi.prot, XVM_PROT_READ);
    assert_int_equal(pi.writable, 0);
    assert_int_equal(pi.pv_count, 2); /* a and a + PG */
    assert_int_equal(pi.referenced, 1);
    assert_int_equal(pi.modified, 0);
    assert_int_equal(pi.wired, 0);
    uint64_t zero_pa = pi.pa;

    /* A write makes an anon of its own, mapped writable and modified. */
    tm_wr8(P, a, 0x11);
    pi = info(P, a);
    assert_int_equal(pi.kind, XVM_PAGE_RAM);
    assert_int_equal(pi.use, XVM_USE_ANON);
    assert_int_equal(pi.owner, XVM_OWNER_ANON);
    assert_int_equal(pi.anon_refs, 1);
    assert_int_not_equal(pi.pa, zero_pa);
    assert_int_equal(pi.pa, pa_of(P, a));
    assert_int_equal(pi.prot, RW);
    assert_int_equal(pi.writable, 1);
    assert_int_equal(pi.modified, 1);
    assert_int_equal(pi.pv_count, 1);
    assert_int_equal(info(P, a + PG).pv_count, 1); /* zero: a + PG only */
    uint64_t pa_p = pi.pa;

    /* Two forks share the page through one amap (needs-copy): the anon
     * stays in one slot; each child that reads it maps it, read-only. */
    C1 = tm_fork(P);
    C2 = tm_fork(P);
    pi = info(C1, a);
    assert_int_equal(pi.kind, XVM_PAGE_RAM); /* held, not yet mapped */
    assert_int_equal(pi.mapped, 0);
    assert_int_equal(pi.pa, pa_p);
    assert_int_equal(pi.pv_count, 1);
    assert_int_equal(xvm_extract(C1, a, &pa), ENOENT);
    assert_int_equal(tm_rd8(C1, a), 0x11);
    assert_int_equal(tm_rd8(C2, a), 0x11);
    pi = info(P, a);
    assert_int_equal(pi.pv_count, 3);
    assert_int_equal(pi.anon_refs, 1);
    assert_int_equal(pi.writable, 0); /* the fork write-protected it */
    pi = info(C2, a);
    assert_int_equal(pi.pa, pa_p);
    assert_int_equal(pi.mapped, 1);
    assert_int_equal(pi.writable, 0);

    /* C1 writes: a copy of the amap, then a copy-on-write of the page. */
    tm_wr8(C1, a, 0x22);
    pi = info(C1, a);
    assert_int_not_equal(pi.pa, pa_p);
    assert_int_equal(pi.anon_refs, 1);
    assert_int_equal(pi.pv_count, 1);
    assert_int_equal(pi.writable, 1);
    assert_int_equal(info(P, a).pv_count, 2); /* P and C2 */

    /* C2 writes another page: its amap copy shares the anon at a. */
    tm_wr8(C2, a + 2 * PG, 0x33);
    assert_int_equal(info(P, a).anon_refs, 2);
    assert_int_equal(info(C2, a).anon_refs, 2);
    assert_int_equal(info(C2, a).pa, pa_p);
    assert_int_equal(info(C2, a + 2 * PG).anon_refs, 1);
    /* P writes a: shared with C2's amap, so P gets a copy of its own. */
    tm_wr8(P, a, 0x44);
    assert_int_not_equal(info(P, a).pa, pa_p);
    pi = info(C2, a);
    assert_int_equal(pi.pa, pa_p);
    assert_int_equal(pi.anon_refs, 1);
    assert_int_equal(pi.pv_count, 1);
    assert_int_equal(tm_rd8(C2, a), 0x11);

    xvm_vmspace_destroy(C1);
    xvm_vmspace_destroy(C2);
    tm_check(m);
    xvm_vmspace_destroy(P);
    xvm_machine_destroy(m);
}

static void test_page_info_wired_after_mlock(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = tm_anon(vs, 3, RW, XVM_MAP_PRIVATE);
    struct xvm_map_entry_info ei;

    assert_int_equal(xvm_mlock(vs, a + PG, PG), 0);
    struct xvm_page_info pi = info(vs, a + PG);
    assert_int_equal(pi.kind, XVM_PAGE_RAM); /* mlock faults it in */
    assert_int_equal(pi.wired, 1);
    assert_int_equal(pi.owner, XVM_OWNER_ANON);
    assert_int_equal(info(vs, a).kind, XVM_PAGE_NOT_RESIDENT);
    assert_int_equal(info(vs, a).wired, 0);
    /* The lock split the entry: [a, a+PG) [a+PG, a+2PG) wired, [a+2PG..) */
    assert_int_equal(xvm_map_entry_next(vs, a + PG, &ei), 0);
    assert_int_equal(ei.start, a + PG);
    assert_int_equal(ei.end, a + 2 * PG);
    assert_int_equal(ei.wired, 1);
    struct xvm_vmspace_stats st;
    assert_int_equal(xvm_vmspace_stats(vs, &st), 0);
    assert_int_equal(st.wired, 1);
    assert_int_equal(st.map_entries, 3);
    assert_int_equal(xvm_munlock(vs, a, 3 * PG), 0);
    assert_int_equal(info(vs, a + PG).wired, 0);
    assert_int_equal(xvm_map_entry_next(vs, a + PG, &ei), 0);
    assert_int_equal(ei.wired, 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/*
 * An XIP file: its pages are device pages, there to be mapped before any
 * access, whose bytes on flash are the file's; a private write makes an
 * anon.  In copy mode the same pages are page-cache frames, not resident
 * until read.
 */
static void test_page_info_device_pages_in_xip_and_cache_in_copy(void **state)
{
    struct fixture *fx = *state;
    for (int xip = 0; xip <= 1; xip++) {
        struct tm_world w;
        xvm_file *f;
        uint64_t a = 0;
        struct xvm_page_info pi;
        uint8_t page[PG];
        tm_world_up(&w, "amd64", 8u << 20, 0, fx->ti.img, xip, 0);
        assert_int_equal(xvm_open(w.mp, "f", XVM_O_RDONLY, &f), 0);
        assert_int_equal(
            xvm_mmap_file(w.vs, &a, fx->file_size, RW, XVM_MAP_PRIVATE, f, 0),
            0);
        struct xvm_stats st = tm_stats(w.m);
        pi = info(w.vs, a + 2 * PG);
        same_stats(w.m, &st);
        assert_int_equal(pi.owner, XVM_OWNER_OBJECT);
        assert_int_equal(pi.object_kind,
                         xip ? XVM_OBJECT_XIP : XVM_OBJECT_VNODE);
        assert_int_equal(pi.object_offset, 2 * PG);
        assert_int_equal(pi.object_refs, 2); /* the open file, the mapping */
        assert_int_equal(pi.mapped, 0);
        assert_int_equal(pi.kind,
                         xip ? XVM_PAGE_DEVICE : XVM_PAGE_NOT_RESIDENT);
        assert_int_equal(tm_rd8(w.vs, a + 2 * PG), fx->file[2 * PG]);
        pi = info(w.vs, a + 2 * PG);
        assert_int_equal(pi.mapped, 1);
        assert_int_equal(pi.writable, 0); /* private: copy on write */
        assert_int_equal(pi.pa, pa_of(w.vs, a + 2 * PG));
        assert_int_equal(pi.pv_count, 1);
        assert_int_equal(pi.referenced, 1);
        if (xip) {
            uint64_t base = xvm_flash_phys_base(w.flash);
            assert_int_equal(pi.kind, XVM_PAGE_DEVICE);
            assert_true(pi.pa >= base &&
                        pi.pa + PG <= base + xvm_flash_size(w.flash));
            assert_int_equal(xvm_flash_read(w.flash, pi.pa - base, page, PG),
                             0);
            assert_memory_equal(page, fx->file + 2 * PG, PG);
            assert_int_equal(pi.wired, 0);
        } else {
            assert_int_equal(pi.kind, XVM_PAGE_RAM);
            assert_int_equal(pi.use, XVM_USE_PAGECACHE);
        }
        /* A second space maps the same page. */
        xvm_vmspace *other = tm_vs(w.m);
        uint64_t b = 0;
        assert_int_equal(xvm_mmap_file(other, &b, PG, XVM_PROT_READ,
                                       XVM_MAP_SHARED, f, 2 * PG),
                         0);
        assert_int_equal(tm_rd8(other, b), fx->file[2 * PG]);
        assert_int_equal(info(w.vs, a + 2 * PG).pv_count, 2);
        assert_int_equal(info(other, b).object_refs, 3);
        assert_int_equal(info(other, b).pa, pi.pa);
        xvm_vmspace_destroy(other);
        /* A private write: an anon copy, the file's page left as it was. */
        tm_wr8(w.vs, a + 2 * PG, 0x5c);
        pi = info(w.vs, a + 2 * PG);
        assert_int_equal(pi.kind, XVM_PAGE_RAM);
        assert_int_equal(pi.owner, XVM_OWNER_ANON);
        assert_int_equal(pi.use, XVM_USE_ANON);
        assert_int_equal(pi.object_kind,
                         xip ? XVM_OBJECT_XIP : XVM_OBJECT_VNODE);
        assert_int_equal(pi.writable, 1);
        struct xvm_vmspace_stats vst;
        assert_int_equal(xvm_vmspace_stats(w.vs, &vst), 0);
        assert_int_equal(vst.resident, 1);
        assert_int_equal(vst.resident_kind[XVM_PAGE_RAM], 1);
        assert_int_equal(vst.resident_use[XVM_USE_ANON], 1);
        xvm_close(f);
        tm_world_down(&w);
    }
}

/* A device object: device pages, no vm_page, never writable. */
static void test_page_info_device_object(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    uint8_t *dev = calloc(2, PG);
    dev[PG] = 0x7e;
    assert_int_equal(xvm_physload_device(m, 0x80000000, 2 * PG, dev), 0);
    xvm_object *obj;
    assert_int_equal(xvm_devobj_create(m, 0x80000000, 2 * PG, &obj), 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = 0;
    assert_int_equal(
        xvm_mmap(vs, &a, 2 * PG, XVM_PROT_READ, XVM_MAP_SHARED, obj, 0), 0);
    assert_int_equal(tm_rd8(vs, a + PG), 0x7e);
    struct xvm_page_info pi = info(vs, a + PG);
    assert_int_equal(pi.kind, XVM_PAGE_DEVICE);
    assert_int_equal(pi.pa, 0x80000000 + PG);
    assert_int_equal(pi.object_kind, XVM_OBJECT_DEVICE);
    assert_int_equal(pi.owner, XVM_OWNER_OBJECT);
    assert_int_equal(pi.object_refs, 2);
    assert_int_equal(pi.use, XVM_USE_FREE);
    /* The other page is device memory too, mapped or not. */
    pi = info(vs, a);
    assert_int_equal(pi.kind, XVM_PAGE_DEVICE);
    assert_int_equal(pi.mapped, 0);
    assert_int_equal(pi.pa, 0x80000000);
    xvm_vmspace_destroy(vs);
    xvm_object_release(obj);
    tm_check(m);
    xvm_machine_destroy(m);
    free(dev);
}

/*
 * The map entries of "AA B CC" (A: anonymous private rw, B: a shared
 * anonymous page, read-only, C: anonymous, minherit none, madvise
 * sequential), walked in order, and the space's resident counts.
 */
static void test_map_entries_and_vmspace_stats(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t base = 0x20000000, a = base, b = base + 2 * PG, c = base + 3 * PG;
    struct xvm_map_entry_info e[4];
    int n = 0;

    assert_int_equal(xvm_mmap(vs, &a, 2 * PG,
                              RW | XVM_PROT_MPROTECT(RW | XVM_PROT_EXEC),
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     0);
    assert_int_equal(
        xvm_mmap(vs, &b, PG, RW, XVM_MAP_SHARED | XVM_MAP_FIXED, NULL, 0), 0);
    assert_int_equal(
        xvm_mmap(vs, &c, 2 * PG, RW, XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
        0);
    tm_wr8(vs, b, 1);
    assert_int_equal(xvm_mprotect(vs, b, PG, XVM_PROT_READ), 0);
    assert_int_equal(xvm_minherit(vs, c, 2 * PG, XVM_INHERIT_NONE), 0);
    assert_int_equal(xvm_madvise(vs, c, 2 * PG, XVM_ADV_SEQUENTIAL), 0);
    tm_wr8(vs, a, 1);
    assert_int_equal(tm_rd8(vs, a + PG), 0);
    assert_int_equal(tm_rd8(vs, c), 0);

    for (uint64_t at = 0; n < 4 && xvm_map_entry_next(vs, at, &e[n]) == 0;
         at = e[n++].end)
        ;
    assert_int_equal(n, 3);
    assert_int_equal(xvm_map_entry_next(vs, base + 5 * PG, &e[3]), ENOENT);
    /* A */
    assert_int_equal(e[0].start, base);
    assert_int_equal(e[0].end, base + 2 * PG);
    assert_int_equal(e[0].prot, RW);
    assert_int_equal(e[0].max_prot, RW | XVM_PROT_EXEC);
    assert_int_equal(e[0].shared, 0);
    assert_int_equal(e[0].needs_copy, 0); /* the write took its amap */
    assert_int_equal(e[0].has_amap, 1);
    assert_int_equal(e[0].inherit, XVM_INHERIT_COPY);
    assert_int_equal(e[0].object_kind, XVM_OBJECT_NONE);
    /* B */
    assert_int_equal(e[1].start, b);
    assert_int_equal(e[1].prot, XVM_PROT_READ);
    assert_int_equal(e[1].max_prot, XVM_PROT_ALL);
    assert_int_equal(e[1].shared, 1);
    assert_int_equal(e[1].inherit, XVM_INHERIT_SHARE);
    assert_int_equal(e[1].object_kind, XVM_OBJECT_AOBJ);
    assert_int_equal(e[1].object_offset, 0);
    /* C */
    assert_int_equal(e[2].start, c);
    assert_int_equal(e[2].end, c + 2 * PG);
    assert_int_equal(e[2].inherit, XVM_INHERIT_NONE);
    assert_int_equal(e[2].advice, XVM_ADV_SEQUENTIAL);
    assert_int_equal(e[2].needs_copy, 1); /* never written */
    assert_int_equal(e[2].has_amap, 0);
    /* An address inside an entry names that entry. */
    assert_int_equal(xvm_map_entry_next(vs, c + PG + 7, &e[3]), 0);
    assert_int_equal(e[3].start, c);

    /* Resident: A's anon and zero page, B's aobj page, C's zero page. */
    struct xvm_vmspace_stats st;
    assert_int_equal(xvm_vmspace_stats(vs, &st), 0);
    assert_int_equal(st.map_entries, 3);
    assert_int_equal(st.virtual_bytes, 5 * PG);
    assert_int_equal(st.resident, 4);
    assert_int_equal(st.resident_kind[XVM_PAGE_RAM], 2);
    assert_int_equal(st.resident_kind[XVM_PAGE_ZERO], 2);
    assert_int_equal(st.resident_kind[XVM_PAGE_DEVICE], 0);
    assert_int_equal(st.resident_use[XVM_USE_ANON], 1);
    assert_int_equal(st.resident_use[XVM_USE_AOBJ], 1);
    assert_int_equal(st.resident_use[XVM_USE_ZERO], 2);
    assert_int_equal(st.writable, 1); /* A's anon (B is read-only now) */
    assert_int_equal(st.wired, 0);
    assert_int_equal(st.page_tables, 2); /* sgimips: root and one leaf */
    /* After a fork the parent's translations are write-protected. */
    xvm_vmspace *child = tm_fork(vs);
    assert_int_equal(xvm_vmspace_stats(vs, &st), 0);
    assert_int_equal(st.writable, 0);
    assert_int_equal(st.resident, 4);
    assert_int_equal(xvm_vmspace_stats(child, &st), 0);
    assert_int_equal(st.map_entries, 2); /* C is not inherited */
    assert_int_equal(st.resident, 0);

    assert_int_equal(xvm_page_info(NULL, 0, &(struct xvm_page_info){ 0 }),
                     EINVAL);
    assert_int_equal(xvm_page_info(vs, 0, NULL), EINVAL);
    assert_int_equal(xvm_map_entry_next(NULL, 0, &e[0]), EINVAL);
    assert_int_equal(xvm_vmspace_stats(vs, NULL), EINVAL);
    tm_check(m);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_info_anon_unmapped_zero_ram_and_forks),
        cmocka_unit_test(test_page_info_wired_after_mlock),
        cmocka_unit_test(test_page_info_device_pages_in_xip_and_cache_in_copy),
        cmocka_unit_test(test_page_info_device_object),
        cmocka_unit_test(test_map_entries_and_vmspace_stats),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
