/*
 * The XIP pager's edges: pages past the end of the object, block
 * pointers that do not map, holes, and the resident-only (PGO_LOCKED)
 * and quiet (core_quiet_begin) lookups of neighbour faults and the checker.
 */
#define _DEFAULT_SOURCE
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flash.h"
#include "machine.h"
#include "object.h"
#include "vfs.h"

#define BIG  100000u /* 16 KiB blocks: six full, one in fragments */
#define TAIL 5000u   /* fragments only */

struct fixture {
    struct tree_image ti;
    uint8_t *big;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    uint64_t n;
    tree_image_init(&fx->ti);
    tree_file(fx->ti.tree, "big", BIG, 11);
    tree_file(fx->ti.tree, "tail", TAIL, 12);
    fx->big = tree_slurp(fx->ti.tree, "big", &n);
    image_make_in(fx->ti.img, sizeof(fx->ti.img), fx->ti.dir, "pager.img",
                  fx->ti.tree, 2, "little", 16384, 2048);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_image_fini(&fx->ti);
    free(fx->big);
    free(fx);
    return 0;
}

/* Mounts a copy of the image; edit(bytes, mp) may change it first. */
static void world_up(struct tm_world *w, const struct fixture *fx, int xip,
                     int ahead, void (*edit)(uint8_t *bytes, xvm_mount *mp))
{
    uint64_t n;
    uint8_t *bytes = file_slurp(fx->ti.img, &n);
    tm_world_attach(w, "amd64", 8u << 20, ahead, bytes, n);
    w->bytes = bytes;
    if (edit) {
        xvm_mount *mp;
        assert_int_equal(xvm_mount_flash(w->flash, NULL, &mp), 0);
        edit(w->bytes, mp);
        assert_int_equal(xvm_unmount(mp), 0);
    }
    tm_world_mount(w, xip, 0, 1);
}

static void test_xip_pager_page_past_the_object_is_efault(void **state)
{
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        xvm_file *f;
        pageh pg;
        world_up(&w, *state, xip, 0, NULL);
        assert_int_equal(xvm_open(w.mp, "big", XVM_O_RDONLY, &f), 0);
        struct xvm_object *obj = f->vp->obj;
        assert_string_equal(obj->ops->name, xip ? "xip" : "vnode");
        assert_int_equal(obj->size, (BIG + PG - 1) / PG * PG);
        static const unsigned flags[] = { 0, PGO_LOCKED, PGO_LOCKED };
        for (int i = 0; i < 3; i++) {
            if (i == 2) /* and quiet, as the checker asks */
                tm_quiet_begin(w.m);
            assert_int_equal(obj->ops->get(obj, obj->size, flags[i], &pg),
                             EFAULT);
            assert_int_equal(
                obj->ops->get(obj, obj->size + 7 * PG, flags[i], &pg), EFAULT);
        }
        tm_quiet_end(w.m);
        /* The last page is inside: its bytes past EOF are zero. */
        assert_int_equal(obj->ops->get(obj, obj->size - PG, 0, &pg), 0);
        const uint8_t *p = phys_data(&w.m->ph, pg);
        for (uint64_t o = BIG; o < obj->size; o++)
            assert_int_equal(p[o - (obj->size - PG)], 0);
        tm_check(w.m);
        xvm_close(f);
        tm_world_down(&w);
    }
}

static void set_ptr(uint8_t *bytes, xvm_mount *mp, const char *path,
                    unsigned blk, uint64_t value)
{
    uint32_t ino;
    uint64_t off;
    unsigned psz;
    assert_int_equal(ffs_namei(mp->fs, path, 1, &ino), 0);
    assert_int_equal(ffs_db_offset(mp->fs, ino, blk, &off, &psz), 0);
    for (unsigned i = 0; i < psz; i++) /* little-endian image */
        bytes[off + i] = (uint8_t)(value >> (8 * i));
}

/* Block 1 of "big" points far past the device. */
static void bad_pointer(uint8_t *bytes, xvm_mount *mp)
{
    set_ptr(bytes, mp, "big", 1, 0x7ffffff0);
}

/* Block 2 of "big" is a hole. */
static void hole(uint8_t *bytes, xvm_mount *mp)
{
    set_ptr(bytes, mp, "big", 2, 0);
}

static void test_xip_pager_bad_block_pointer_fails_the_fault_and_maps_nothing(
    void **state)
{
    struct fixture *fx = *state;
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        xvm_file *f;
        uint64_t a = 0, pa;
        uint8_t b[8];
        size_t done;
        world_up(&w, fx, xip, 1, bad_pointer);
        assert_int_equal(xvm_open(w.mp, "big", XVM_O_RDONLY, &f), 0);
        assert_int_equal(xvm_mmap_file(w.vs, &a, BIG,
                                       XVM_PROT_READ | XVM_PROT_WRITE,
                                       XVM_MAP_PRIVATE, f, 0),
                         0);
        /* Block 0 is fine; block 1 (pages 4-7) does not map anywhere. */
        assert_int_equal(xvm_read(w.vs, a + 10, b, 1), 0);
        assert_int_equal(b[0], fx->big[10]);
        for (uint64_t p = 4; p < 8; p++) {
            assert_int_not_equal(xvm_read(w.vs, a + p * PG, b, 1), 0);
            assert_int_not_equal(xvm_write(w.vs, a + p * PG, b, 1), 0);
            assert_int_not_equal(xvm_extract(w.vs, a + p * PG, &pa), 0);
        }
        assert_int_not_equal(xvm_pread(f, 5 * PG, b, 8, &done), 0);
        assert_int_equal(done, 0);
        /* The checker looks the neighbours up quietly, and agrees. */
        tm_check(w.m);
        assert_int_equal(xvm_read(w.vs, a + 8 * PG, b, 1), 0);
        assert_int_equal(b[0], fx->big[8 * PG]);
        assert_int_equal(tm_stats(w.m).pages[XVM_USE_ANON], 0);
        assert_int_equal(xvm_munmap(w.vs, a, BIG), 0);
        xvm_close(f);
        tm_world_down(&w);
    }
}

/*
 * Fault-ahead around a hole, device pages and a fallback tail: neighbours
 * map only what the pager can give without I/O, and the checker's quiet
 * lookups count nothing.
 */
/* "big" (block 2 a hole) mapped private at a, with fault-ahead, and
 * "tail" mapped shared at ta, in an XIP world. */
struct pw {
    struct tm_world w;
    xvm_file *f, *t;
    uint64_t a, ta;
};

static void pw_up(struct fixture *fx, struct pw *p)
{
    world_up(&p->w, fx, 1, 1, hole);
    p->a = p->ta = 0;
    assert_int_equal(xvm_open(p->w.mp, "big", XVM_O_RDONLY, &p->f), 0);
    assert_int_equal(xvm_open(p->w.mp, "tail", XVM_O_RDONLY, &p->t), 0);
    assert_int_equal(xvm_mmap_file(p->w.vs, &p->a, BIG, XVM_PROT_READ,
                                   XVM_MAP_PRIVATE, p->f, 0),
                     0);
    assert_int_equal(xvm_mmap_file(p->w.vs, &p->ta, TAIL, XVM_PROT_READ,
                                   XVM_MAP_SHARED, p->t, 0),
                     0);
}

/* The faults of the first test below: pages 7, 23 and 24 of "big", and
 * the fallback page of "tail" twice. */
static void pw_touch(struct fixture *fx, struct pw *p)
{
    uint64_t last = (BIG - 1) / PG;
    uint8_t v;
    assert_int_equal(tm_rd8(p->w.vs, p->a + 7 * PG), fx->big[7 * PG]);
    assert_int_equal(tm_rd8(p->w.vs, p->a + (last - 1) * PG),
                     fx->big[(last - 1) * PG]);
    assert_int_equal(tm_rd8(p->w.vs, p->a + BIG - 1), fx->big[BIG - 1]);
    assert_int_equal(xvm_read(p->w.vs, p->ta + PG + 1, &v, 1), 0);
    assert_int_equal(xvm_read(p->w.vs, p->ta + PG + 2, &v, 1), 0);
}

static void pw_down(struct pw *p)
{
    xvm_close(p->f);
    xvm_close(p->t);
    tm_world_down(&p->w);
}

static void test_xip_pager_neighbours_take_holes_but_not_the_fallback_tail(
    void **state)
{
    struct fixture *fx = *state;
    struct pw p;
    uint64_t pa;
    pw_up(fx, &p);
    struct tm_world *w = &p.w;
    uint64_t a = p.a;
    /* Page 7 (block 1) faults; 4..6 and 8..11 (hole) come along. */
    struct xvm_stats s0 = tm_stats(w->m);
    assert_int_equal(tm_rd8(w->vs, a + 7 * PG), fx->big[7 * PG]);
    struct xvm_stats s1 = tm_stats(w->m);
    assert_true(s1.neighbour_maps - s0.neighbour_maps >= 6);
    assert_int_equal(xvm_extract(w->vs, a + 8 * PG, &pa), 0);
    assert_int_equal(xvm_extract(w->vs, a + 9 * PG, &pa), 0);
    assert_int_equal(s1.xip_hole_maps - s0.xip_hole_maps, 4); /* 8..11 */
    assert_int_equal(tm_rd8(w->vs, a + 9 * PG + 3), 0);
    /* The tail (pages 24, fragments) is a fallback: a neighbour fault of
     * page 23 does not read it, the fault of page 24 does. */
    uint64_t last = (BIG - 1) / PG;
    assert_int_equal(tm_rd8(w->vs, a + (last - 1) * PG),
                     fx->big[(last - 1) * PG]);
    struct xvm_stats s2 = tm_stats(w->m);
    assert_int_not_equal(xvm_extract(w->vs, a + last * PG, &pa), 0);
    assert_int_equal(s2.fallback_pages, s1.fallback_pages);
    assert_int_equal(tm_rd8(w->vs, a + BIG - 1), fx->big[BIG - 1]);
    struct xvm_stats s3 = tm_stats(w->m);
    assert_int_equal(s3.fallback_pages, s2.fallback_pages + 1);
    /* A second file's fallback page, read twice: one copy. */
    uint8_t v;
    assert_int_equal(xvm_read(w->vs, p.ta + PG + 1, &v, 1), 0);
    assert_int_equal(xvm_read(w->vs, p.ta + PG + 2, &v, 1), 0);
    pw_down(&p);
}

/* The checker runs the pager's quiet lookups: no accounting moves. */
static void test_xip_pager_checker_lookups_move_no_figure(void **state)
{
    struct pw p;
    pw_up(*state, &p);
    pw_touch(*state, &p);
    struct xvm_stats c0 = tm_stats(p.w.m);
    tm_check(p.w.m);
    tm_check(p.w.m);
    struct xvm_stats c1 = tm_stats(p.w.m);
    assert_int_equal(c1.xip_hole_maps, c0.xip_hole_maps);
    assert_int_equal(c1.fallback_pages, c0.fallback_pages);
    assert_int_equal(c1.flash_block_reads, c0.flash_block_reads);
    assert_int_equal(c1.pages[XVM_USE_PAGECACHE], c0.pages[XVM_USE_PAGECACHE]);
    pw_down(&p);
}

/* Resident-only lookups straight at the pager. */
static void test_xip_pager_locked_lookups_find_resident_pages_only(void **state)
{
    struct pw p;
    pw_up(*state, &p);
    pw_touch(*state, &p);
    struct tm_world *w = &p.w;
    struct xvm_stats c1 = tm_stats(w->m);
    uint64_t last = (BIG - 1) / PG;
    struct xvm_object *obj = p.f->vp->obj;
    pageh pg;
    tm_quiet_begin(w->m);
    assert_int_equal(obj->ops->get(obj, 9 * PG, PGO_LOCKED, &pg), 0);
    tm_quiet_end(w->m);
    assert_true(pg == w->m->ph.zero_page);
    assert_int_equal(tm_stats(w->m).xip_hole_maps, c1.xip_hole_maps);
    assert_int_equal(obj->ops->get(obj, 9 * PG, PGO_LOCKED, &pg), 0);
    assert_int_equal(tm_stats(w->m).xip_hole_maps, c1.xip_hole_maps + 1);
    assert_int_equal(obj->ops->get(obj, PG, PGO_LOCKED, &pg), 0);
    assert_true(page_is_device(pg));
    assert_int_equal(obj->ops->get(obj, last * PG, PGO_LOCKED, &pg),
                     0); /* resident */
    assert_false(page_is_device(pg));
    struct xvm_object *tobj = p.t->vp->obj;
    tm_quiet_begin(w->m);
    assert_int_equal(tobj->ops->get(tobj, PG, PGO_LOCKED, &pg), 0);
    tm_quiet_end(w->m);
    assert_false(page_is_device(pg)); /* the fallback copy */
    int e = tobj->ops->get(tobj, 0, PGO_LOCKED, &pg);
    if (e == 0)
        assert_true(page_is_device(pg)); /* in place ... */
    else
        assert_int_equal(e, ENOENT); /* ... or a copy not yet made */
    pw_down(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xip_pager_page_past_the_object_is_efault),
        cmocka_unit_test(
            test_xip_pager_bad_block_pointer_fails_the_fault_and_maps_nothing),
        cmocka_unit_test(
            test_xip_pager_neighbours_take_holes_but_not_the_fallback_tail),
        cmocka_unit_test(test_xip_pager_checker_lookups_move_no_figure),
        cmocka_unit_test(
            test_xip_pager_locked_lookups_find_resident_pages_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
