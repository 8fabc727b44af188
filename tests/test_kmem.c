/*
 * Kernel memory in simulated RAM: after each step of a scenario, the
 * kernel objects live are exactly those the step makes or frees (counted
 * here by hand from what UVM allocates), their bytes are the sum of live
 * objects times NetBSD's sizes (doc/kernel-memory.md, written out below,
 * not read from the library), and the kernel frames are the slabs those
 * objects need.  Then a process: its proc, u-area and vnode come and go.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RW (XVM_PROT_READ | XVM_PROT_WRITE)

/* doc/kernel-memory.md, sgimips column. */
static const uint64_t size_sgimips[XVM_KMEM_TYPES] = {
    [XVM_KMEM_MAP_ENTRY] = 88, [XVM_KMEM_AMAP] = 48,
    [XVM_KMEM_AMAP_SLOTS] = 4, [XVM_KMEM_AMAP_ANONS] = 4,
    [XVM_KMEM_ANON] = 16,      [XVM_KMEM_PV] = 12,
    [XVM_KMEM_VMSPACE] = 288,  [XVM_KMEM_AOBJ] = 72,
    [XVM_KMEM_VNODE] = 512,    [XVM_KMEM_PROC] = 1408,
    [XVM_KMEM_USPACE] = 8192,  [XVM_KMEM_DEVICE_VM_PAGE] = 72,
};

struct want {
    uint64_t units[XVM_KMEM_TYPES];
    uint64_t frames; /* kernel frames */
};

static void check(xvm_machine *m, const struct want *w, const char *step)
{
    struct xvm_stats st = tm_stats(m);
    uint64_t bytes = 0;
    for (int t = 0; t < XVM_KMEM_TYPES; t++) {
        if (st.kmem_units[t] != w->units[t])
            fail_msg("%s: %llu %s live, expected %llu", step,
                     (unsigned long long)st.kmem_units[t],
                     xvm_kmem_type_name((enum xvm_kmem_type)t),
                     (unsigned long long)w->units[t]);
        assert_int_equal(st.kmem_unit_bytes[t], size_sgimips[t]);
        bytes += w->units[t] * size_sgimips[t];
    }
    if (st.kmem_bytes != bytes)
        fail_msg("%s: kmem_bytes %llu, live objects x sizes %llu", step,
                 (unsigned long long)st.kmem_bytes, (unsigned long long)bytes);
    if (st.pages[XVM_USE_KERNEL] != w->frames)
        fail_msg("%s: %llu kernel frames, expected %llu", step,
                 (unsigned long long)st.pages[XVM_USE_KERNEL],
                 (unsigned long long)w->frames);
    /* RAM by kind shows them, and the rows add up. */
    struct xvm_report rep;
    xvm_report(m, &rep);
    assert_int_equal(rep.ram_now[XVM_RAM_KERNEL], w->frames * PG);
    uint64_t sum = 0;
    for (int k = 0; k < XVM_RAM_KINDS; k++)
        sum += rep.ram_now[k];
    assert_int_equal(sum, rep.ram_now_total);
    tm_check(m);
}

/*
 * Slabs: each structure type has its own; an amap's arrays of 10 slots
 * (40 bytes each) share the 64-byte size class.  So the frames are the
 * number of kinds of object live: vmspace, map entry, amap, its arrays,
 * anon, PV.
 */
static void test_kmem_accounting_equals_live_objects_times_sizes(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    struct want w = { { 0 }, 0 };
    check(m, &w, "a new machine");

    xvm_vmspace *p = tm_vs(m);
    w.units[XVM_KMEM_VMSPACE] = 1, w.frames = 1;
    check(m, &w, "vmspace");

    uint64_t a = tm_anon(p, 10, RW, XVM_MAP_PRIVATE);
    w.units[XVM_KMEM_MAP_ENTRY] = 1, w.frames = 2;
    check(m, &w, "mmap");

    /* The first write: an amap of 10 slots, an anon; the page's one
     * mapping needs no PV entry of its own. */
    tm_wr8(p, a, 1);
    w.units[XVM_KMEM_AMAP] = 1;
    w.units[XVM_KMEM_AMAP_SLOTS] = 2 * 10;
    w.units[XVM_KMEM_AMAP_ANONS] = 10;
    w.units[XVM_KMEM_ANON] = 1;
    w.frames = 5;
    check(m, &w, "first write");

    /* Fork: a vmspace and an entry; the amap is shared, not copied. */
    xvm_vmspace *c = tm_fork(p);
    w.units[XVM_KMEM_VMSPACE] = 2;
    w.units[XVM_KMEM_MAP_ENTRY] = 2;
    check(m, &w, "fork");

    /* The child reads the page: its second mapping takes a PV entry. */
    assert_int_equal(tm_rd8(c, a), 1);
    w.units[XVM_KMEM_PV] = 1, w.frames = 6;
    check(m, &w, "child reads");

    /* The child writes: its own amap (a copy), a new anon for the page;
     * its mapping moves to the new page, whose first it is. */
    tm_wr8(c, a, 2);
    w.units[XVM_KMEM_AMAP] = 2;
    w.units[XVM_KMEM_AMAP_SLOTS] = 4 * 10;
    w.units[XVM_KMEM_AMAP_ANONS] = 2 * 10;
    w.units[XVM_KMEM_ANON] = 2;
    w.units[XVM_KMEM_PV] = 0, w.frames = 5;
    check(m, &w, "child writes");

    /* Unmapping a page in the middle of the child's entry: two clips and
     * one removal leave two entries, and the amap counts references per
     * slot from now on (am_ppref: one int per slot). */
    assert_int_equal(xvm_munmap(c, a + 5 * PG, PG), 0);
    w.units[XVM_KMEM_MAP_ENTRY] = 3;
    w.units[XVM_KMEM_AMAP_SLOTS] = 5 * 10;
    check(m, &w, "partial munmap");

    xvm_vmspace_destroy(c);
    w.units[XVM_KMEM_VMSPACE] = 1;
    w.units[XVM_KMEM_MAP_ENTRY] = 1;
    w.units[XVM_KMEM_AMAP] = 1;
    w.units[XVM_KMEM_AMAP_SLOTS] = 2 * 10;
    w.units[XVM_KMEM_AMAP_ANONS] = 10;
    w.units[XVM_KMEM_ANON] = 1;
    check(m, &w, "child gone");

    xvm_vmspace_destroy(p);
    memset(&w, 0, sizeof(w));
    check(m, &w, "all gone");
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.kmem_units_peak[XVM_KMEM_ANON], 2);
    assert_int_equal(st.kmem_units_peak[XVM_KMEM_MAP_ENTRY], 4);
    assert_true(st.kmem_bytes_peak >= 2 * 288 + 4 * 88);
    xvm_machine_destroy(m);
}

/* A process is its proc and LWP (one slab), its u-area (two whole
 * frames: USPACE is 8 KiB on sgimips) and its program's vnode. */
static void test_kmem_process_and_uarea(void **state)
{
    (void)state;
    char *tree = tree_new(), *dir = tree_new(), img[1024], path[1200],
         cmd[2600];
    tree_dir(tree, "bin");
    tree_path(path, sizeof(path), tree, "bin/busybox");
    snprintf(cmd, sizeof(cmd), "cp /bin/busybox '%s'", path);
    if (system(cmd) != 0)
        fail_msg("no /bin/busybox");
    image_make_in(img, sizeof(img), dir, "k.img", tree, 2, "little", 32768,
                  4096);
    struct tm_world w;
    tm_world_up(&w, "sgimips", 8u << 20, 0, img, 1, 0);
    xvm_vmspace_destroy(w.vs);
    w.vs = NULL;
    struct xvm_stats s0 = tm_stats(w.m);
    assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/busybox", 0, NULL), 0);
    struct xvm_stats s1 = tm_stats(w.m);
    assert_int_equal(s1.kmem_units[XVM_KMEM_PROC], 1);
    assert_int_equal(s1.kmem_units[XVM_KMEM_USPACE], 1);
    assert_int_equal(s1.kmem_units[XVM_KMEM_VNODE], 1);
    assert_int_equal(s1.kmem_units[XVM_KMEM_VMSPACE], 1);
    uint64_t bytes = 0;
    for (int t = 0; t < XVM_KMEM_TYPES; t++)
        bytes += s1.kmem_units[t] * size_sgimips[t];
    assert_int_equal(s1.kmem_bytes, bytes);
    /* At least the u-area's two frames and a slab each for the proc, the
     * vnode, the vmspace and the map entries. */
    assert_true(s1.pages[XVM_USE_KERNEL] >= s0.pages[XVM_USE_KERNEL] + 2 + 4);
    assert_int_equal(xvm_exit(w.m, 1), 0);
    struct xvm_stats s2 = tm_stats(w.m);
    for (int t = 0; t < XVM_KMEM_TYPES; t++)
        assert_int_equal(s2.kmem_units[t], s0.kmem_units[t]);
    assert_int_equal(s2.pages[XVM_USE_KERNEL], s0.pages[XVM_USE_KERNEL]);
    tm_world_down(&w);
    tree_remove(tree);
    tree_remove(dir);
}

/* A kernel allocation that finds no frame fails cleanly: mapping more
 * and more entries in a tiny RAM ends in ENOMEM, with the checker clean
 * and every entry made so far still there. */
static void test_kmem_exhaustion_fails_cleanly(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 16 * PG, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t n = 0, addr = 0x10000000;
    int error = 0;
    while ((error = xvm_mmap(vs, &addr, PG, XVM_PROT_READ,
                             XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0)) == 0) {
        n++;
        addr += 2 * PG; /* a gap: no two entries merge */
    }
    assert_int_equal(error, ENOMEM);
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.kmem_units[XVM_KMEM_MAP_ENTRY], n);
    assert_true(st.kmem_refused > 0);
    assert_int_equal(st.pages[XVM_USE_FREE], 0);
    /* 46 map entries of 88 bytes fit a 4 KiB slab. */
    assert_int_equal(st.pages[XVM_USE_KERNEL], 1 + (n + 45) / 46);
    tm_check(m);
    xvm_vmspace_destroy(vs);
    tm_check(m);
    assert_int_equal(tm_stats(m).pages[XVM_USE_KERNEL], 0);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kmem_accounting_equals_live_objects_times_sizes),
        cmocka_unit_test(test_kmem_process_and_uarea),
        cmocka_unit_test(test_kmem_exhaustion_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
