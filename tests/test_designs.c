/*
 * The device-page designs (paper §6.3 and after; doc/beyond-the-paper.md):
 * the paper's PV hash (segment), giving up shared amaps (amap-copy) and
 * OpenBSD's vm_pages for device memory (vm_page).  Each gives the same
 * answers; what each keeps, charges and copies is counted here against
 * what the test did (pages mapped, processes, slots), on a makefs image
 * mounted XIP.  test_diff and test_security run whole under each design.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FILE_PAGES 16
#define RW         (XVM_PROT_READ | XVM_PROT_WRITE)

static int setup(void **state)
{
    *state = one_file_image_new("data", FILE_PAGES * PG, 99);
    return 0;
}

static int teardown(void **state)
{
    one_file_image_free(*state);
    return 0;
}

struct world {
    struct tm_world w;
    xvm_file *f;
};

static void up(struct world *t, const struct one_file_image *fx,
               enum xvm_device_design d)
{
    tm_design = d;
    tm_world_up(&t->w, "sgimips", UINT64_C(16) << 20, 0, fx->img, 1, 0);
    tm_design = XVM_DESIGN_SEGMENT;
    assert_int_equal(xvm_open(t->w.mp, "/data", XVM_O_RDONLY, &t->f), 0);
}

static void down(struct world *t)
{
    xvm_close(t->f);
    tm_world_down(&t->w);
}

static uint64_t map_data(struct world *t, xvm_vmspace *vs, int prot)
{
    uint64_t va = 0;
    assert_int_equal(
        xvm_mmap_file(vs, &va, FILE_PAGES * PG, prot, XVM_MAP_PRIVATE, t->f, 0),
        0);
    return va;
}

/* What each design keeps for device pages: n pages mapped by 2 spaces. */
static void test_design_device_pv_and_metadata_by_design(void **state)
{
    struct one_file_image *fx = *state;
    const unsigned n = 5;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        struct world t;
        up(&t, fx, (enum xvm_device_design)d);
        struct xvm_stats s0 = tm_stats(t.w.m);
        /* The image's pages, and under vm_page one vm_page for each. */
        uint64_t img_pages = s0.device_pages;
        assert_true(img_pages >= FILE_PAGES);
        assert_int_equal(s0.device_metadata_bytes,
                         d == XVM_DESIGN_VM_PAGE ? img_pages * 72 : 0);
        assert_int_equal(s0.kmem_units[XVM_KMEM_DEVICE_VM_PAGE],
                         d == XVM_DESIGN_VM_PAGE ? img_pages : 0);
        xvm_vmspace *a = t.w.vs, *b = tm_vs(t.w.m);
        uint64_t va = map_data(&t, a, XVM_PROT_READ),
                 vb = map_data(&t, b, XVM_PROT_READ);
        for (unsigned p = 0; p < n; p++) {
            assert_int_equal(tm_rd8(a, va + p * PG), fx->data[p * PG]);
            assert_int_equal(tm_rd8(b, vb + p * PG + 1), fx->data[p * PG + 1]);
        }
        struct xvm_stats s = tm_stats(t.w.m);
        assert_int_equal(s.device_maps, 2 * n);
        /* PV entries of device pages: one per mapping, none, or one per
         * mapping with the first of each page inside its vm_page. */
        uint64_t pv = d == XVM_DESIGN_AMAP_COPY ? 0 : 2 * n;
        uint64_t charged = d == XVM_DESIGN_SEGMENT   ? 2 * n
                           : d == XVM_DESIGN_VM_PAGE ? n
                                                     : 0;
        assert_int_equal(s.pv_device, pv);
        assert_int_equal(s.kmem_units[XVM_KMEM_PV] - s0.kmem_units[XVM_KMEM_PV],
                         charged);
        assert_int_equal(s.device_pages_mapped_peak,
                         d == XVM_DESIGN_AMAP_COPY ? 0 : n);
        tm_check(t.w.m);
        /* Unmapped, nothing stays; the flash is free to go. */
        xvm_vmspace_destroy(b);
        assert_int_equal(xvm_munmap(a, va, FILE_PAGES * PG), 0);
        s = tm_stats(t.w.m);
        assert_int_equal(s.pv_device, 0);
        assert_int_equal(s.kmem_units[XVM_KMEM_PV], s0.kmem_units[XVM_KMEM_PV]);
        down(&t);
    }
}

/* A mapped device page keeps its flash, whatever tracks it. */
static void test_design_flash_close_while_mapped_is_ebusy(void **state)
{
    struct one_file_image *fx = *state;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        tm_design = (enum xvm_device_design)d;
        xvm_machine *m = tm_machine("amd64", UINT64_C(8) << 20, 0);
        tm_design = XVM_DESIGN_SEGMENT;
        uint64_t size;
        uint8_t *img = file_slurp(fx->img, &size);
        xvm_flash *f;
        xvm_object *o;
        assert_int_equal(xvm_flash_attach(m, img, size, NULL, &f), 0);
        uint64_t base = xvm_flash_phys_base(f), va = 0;
        assert_int_equal(xvm_devobj_create(m, base + PG, PG, &o), 0);
        xvm_vmspace *vs = tm_vs(m);
        assert_int_equal(
            xvm_mmap(vs, &va, PG, XVM_PROT_READ, XVM_MAP_SHARED, o, 0), 0);
        xvm_object_release(o);
        assert_int_equal(tm_rd8(vs, va + 9), img[PG + 9]);
        assert_int_equal(xvm_flash_close(f), EBUSY);
        tm_check(m);
        xvm_vmspace_destroy(vs);
        assert_int_equal(xvm_flash_close(f), 0);
        assert_int_equal(tm_stats(m).kmem_units[XVM_KMEM_DEVICE_VM_PAGE], 0);
        tm_check(m);
        xvm_machine_destroy(m);
        free(img);
    }
}

/*
 * Giving up shared amaps: fork copies every amap now.  A parent with an
 * amap of 64 slots (10 written) forks: amap-copy copies the 64 slots at
 * the fork; the others copy them at the child's first write.
 */
static void test_design_amap_copy_copies_at_fork_others_at_write(void **state)
{
    (void)state;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        tm_design = (enum xvm_device_design)d;
        xvm_machine *m = tm_machine("sgimips", UINT64_C(8) << 20, 0);
        tm_design = XVM_DESIGN_SEGMENT;
        xvm_vmspace *p = tm_vs(m);
        uint64_t va = tm_anon(p, 64, RW, XVM_MAP_PRIVATE);
        for (unsigned i = 0; i < 10; i++)
            tm_wr8(p, va + i * PG, (uint8_t)(i + 1));
        struct xvm_stats s0 = tm_stats(m);
        xvm_vmspace *c = tm_fork(p);
        struct xvm_stats s1 = tm_stats(m);
        bool eager = d == XVM_DESIGN_AMAP_COPY;
        assert_int_equal(s1.forks - s0.forks, 1);
        assert_int_equal(s1.amap_slots_copied - s0.amap_slots_copied,
                         eager ? 64 : 0);
        /* The child's amap at fork: 64 slots of amap_slots x 2 arrays. */
        assert_int_equal(s1.kmem_units[XVM_KMEM_AMAP_ANONS] -
                             s0.kmem_units[XVM_KMEM_AMAP_ANONS],
                         eager ? 64 : 0);
        tm_wr8(c, va + 3 * PG, 0x77); /* copy-on-write of a written page */
        tm_wr8(p, va + 4 * PG, 0x66);
        struct xvm_stats s2 = tm_stats(m);
        assert_int_equal(s2.amap_slots_copied - s0.amap_slots_copied, 64);
        assert_int_equal(s2.cow_promotions - s0.cow_promotions, 2);
        for (unsigned i = 0; i < 10; i++) {
            assert_int_equal(tm_rd8(c, va + i * PG), i == 3 ? 0x77 : i + 1);
            assert_int_equal(tm_rd8(p, va + i * PG), i == 4 ? 0x66 : i + 1);
        }
        tm_check(m);
        xvm_machine_destroy(m);
    }
}

/*
 * A private mapping shared by minherit: a page promoted by one sharer is
 * seen by the other, whose device mapping of the file page must go.
 * amap-copy has no PV list to find it and walks the sharers' maps.
 */
static void test_design_shared_amap_promotion_reaches_every_sharer(void **state)
{
    struct one_file_image *fx = *state;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        struct world t;
        up(&t, fx, (enum xvm_device_design)d);
        xvm_vmspace *p = t.w.vs;
        uint64_t va = map_data(&t, p, RW);
        assert_int_equal(
            xvm_minherit(p, va, FILE_PAGES * PG, XVM_INHERIT_SHARE), 0);
        /* Both map page 2 from flash, then the child writes it. */
        assert_int_equal(tm_rd8(p, va + 2 * PG), fx->data[2 * PG]);
        xvm_vmspace *c = tm_fork(p);
        assert_int_equal(tm_rd8(c, va + 2 * PG + 1), fx->data[2 * PG + 1]);
        struct xvm_stats s0 = tm_stats(t.w.m);
        tm_wr8(c, va + 2 * PG, (uint8_t)~fx->data[2 * PG]);
        struct xvm_stats s1 = tm_stats(t.w.m);
        assert_int_equal(s1.cow_from_device - s0.cow_from_device, 1);
        assert_int_equal(s1.sharer_scans - s0.sharer_scans,
                         d == XVM_DESIGN_AMAP_COPY ? 1 : 0);
        tm_check(t.w.m);
        assert_int_equal(tm_rd8(p, va + 2 * PG), (uint8_t)~fx->data[2 * PG]);
        assert_int_equal(tm_rd8(p, va + 2 * PG + 1), fx->data[2 * PG + 1]);
        assert_int_equal(tm_rd8(c, va + 5 * PG), fx->data[5 * PG]);
        tm_check(t.w.m);
        xvm_vmspace_destroy(c);
        down(&t);
    }
}

/* A bad design is refused; the names are the CLI's. */
static void test_design_names_and_a_bad_design(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    assert_string_equal(xvm_device_design_name(XVM_DESIGN_SEGMENT), "segment");
    assert_string_equal(xvm_device_design_name(XVM_DESIGN_AMAP_COPY),
                        "amap-copy");
    assert_string_equal(xvm_device_design_name(XVM_DESIGN_VM_PAGE), "vm_page");
    assert_string_equal(xvm_device_design_name(XVM_DESIGNS), "?");
    xvm_config_init(&cfg);
    assert_int_equal(cfg.device_design, XVM_DESIGN_SEGMENT);
    cfg.device_design = XVM_DESIGNS;
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_device_pv_and_metadata_by_design),
        cmocka_unit_test(test_design_flash_close_while_mapped_is_ebusy),
        cmocka_unit_test(test_design_amap_copy_copies_at_fork_others_at_write),
        cmocka_unit_test(
            test_design_shared_amap_promotion_reaches_every_sharer),
        cmocka_unit_test(test_design_names_and_a_bad_design),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
