/*
 * The page daemon and its clock policy on hand-made reference patterns,
 * in copy mode (every file page is a page-cache page), with fault-ahead
 * off so that only the pages the pattern touches are mapped.  Expected
 * refault counts are reasoned out by hand for each pattern (see each
 * test's comment), never taken from a run.
 */
#include "testutil.h"
#include "fstree.h"
#include "vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM_PAGES  64  /* 256 KiB: the whole machine */
#define FILE_PAGES 200 /* the file the patterns read */
#define NSMALL     16  /* small files, more vnodes than a slab holds */

struct fixture {
    struct tree_image ti;
    uint8_t *file; /* its bytes */
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    tree_image_init(&fx->ti);
    tree_file(fx->ti.tree, "f", (uint64_t)FILE_PAGES * PG, 11);
    for (unsigned i = 0; i < NSMALL; i++) {
        char name[8];
        snprintf(name, sizeof(name), "g%u", i);
        tree_file(fx->ti.tree, name, PG, 12 + i);
    }
    image_make_in(fx->ti.img, sizeof(fx->ti.img), fx->ti.dir, "pd.img",
                  fx->ti.tree, 2, "little", 16384, 2048);
    uint64_t n;
    fx->file = tree_slurp(fx->ti.tree, "f", &n);
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

struct world {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_file *f;
    xvm_vmspace *vs;
    uint64_t base; /* the file, mapped read-only */
};

/* RAM_PAGES of RAM, freemin 2 and freetarg 4 pages, no fault-ahead, a
 * copy-mode mount with readahead pages read ahead and 2 buffers. */
static void world_up(struct world *w, const struct fixture *fx, int readahead)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    memset(w, 0, sizeof(*w));
    xvm_config_init(&cfg);
    cfg.ram_bytes = (uint64_t)RAM_PAGES * PG;
    cfg.freemin = 2 * PG;
    cfg.freetarg = 4 * PG;
    xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, &w->m), 0);
    assert_int_equal(xvm_flash_open(w->m, fx->ti.img, NULL, &w->flash), 0);
    xvm_mount_config_init(&mc);
    mc.readahead = (unsigned)readahead;
    mc.buffers = 2;
    assert_int_equal(xvm_mount_flash(w->flash, &mc, &w->mp), 0);
    assert_int_equal(xvm_open(w->mp, "/f", XVM_O_RDONLY, &w->f), 0);
    assert_int_equal(xvm_vmspace_create(w->m, &w->vs), 0);
    assert_int_equal(xvm_mmap_file(w->vs, &w->base, (uint64_t)FILE_PAGES * PG,
                                   XVM_PROT_READ, XVM_MAP_PRIVATE, w->f, 0),
                     0);
}

static void world_down(struct world *w)
{
    tm_check(w->m);
    xvm_vmspace_destroy(w->vs);
    xvm_close(w->f);
    tm_check(w->m);
    xvm_machine_destroy(w->m);
}

/* Reads one byte of file page p, and checks it is the file's. */
static void touch(struct world *w, const struct fixture *fx, uint64_t p)
{
    uint64_t off = p * PG + (p * 7) % PG;
    assert_int_equal(tm_rd8(w->vs, w->base + off), fx->file[off]);
}

/*
 * A loop over L pages, R times.  When the L pages fit in RAM, each is
 * read once and stays: no refault.  When L exceeds the whole RAM, no page
 * can stay resident between two of its uses (L - 1 other pages are read
 * in between and fewer than that fit), and the clock, which frees the
 * least recently deactivated page, frees exactly the one the loop needs
 * next: every read after the first pass is a refault, (R - 1) x L.
 */
static void loop(const struct fixture *fx, unsigned len, unsigned rounds,
                 struct xvm_stats *out)
{
    struct world w;
    world_up(&w, fx, 0);
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned p = 0; p < len; p++)
            touch(&w, fx, p);
        tm_check(w.m);
    }
    xvm_machine_stats(w.m, out);
    world_down(&w);
}

static void test_pagedaemon_loop_that_fits_never_refaults(void **state)
{
    struct xvm_stats st;
    loop(*state, RAM_PAGES / 4, 5, &st);
    assert_int_equal(st.refaults, 0);
    assert_int_equal(st.reclaimed, 0);
    assert_int_equal(st.pagecache_fills, RAM_PAGES / 4);
}

static void test_pagedaemon_loop_slightly_larger_than_ram_refaults_every_read(
    void **state)
{
    const unsigned len = RAM_PAGES + 2, rounds = 4;
    struct xvm_stats st;
    loop(*state, len, rounds, &st);
    assert_true(st.pages_peak[XVM_USE_PAGECACHE] < len);
    assert_int_equal(st.refaults, (uint64_t)(rounds - 1) * len);
    assert_int_equal(st.pagecache_fills, (uint64_t)rounds * len);
    /* Every fill past the first pass found its page freed before. */
    assert_int_equal(st.reclaimed,
                     st.pagecache_fills - st.pages[XVM_USE_PAGECACHE]);
    assert_true(st.pd_runs > 0 && st.pd_deactivated > 0);
}

/*
 * A hot set of 8 pages, read after every 4 pages of a scan of 120 pages
 * that are each read once per pass, two passes.  The hot pages are
 * referenced again long before the clock's hand (a third of the queues,
 * about 16 pages behind) reaches them after a deactivation, so they are
 * reactivated and never freed; the scan's pages cannot stay (120 of them
 * in a RAM that holds fewer than 64): the first pass refaults nothing,
 * the second refaults every scan page, and no hot page ever refaults.
 */
static void test_pagedaemon_hot_set_survives_a_scan(void **state)
{
    const struct fixture *fx = *state;
    const unsigned hot = 8, scan = 120, passes = 2;
    struct world w;
    struct xvm_stats st;
    world_up(&w, fx, 0);
    for (unsigned p = 0; p < hot; p++)
        touch(&w, fx, p);
    for (unsigned pass = 0; pass < passes; pass++) {
        for (unsigned s = 0; s < scan; s++) {
            touch(&w, fx, hot + s);
            if (s % 4 == 3)
                for (unsigned p = 0; p < hot; p++)
                    touch(&w, fx, p);
        }
        xvm_machine_stats(w.m, &st);
        assert_int_equal(st.refaults, (uint64_t)pass * scan);
        tm_check(w.m);
    }
    /* The hot pages were filled once each, and are still mapped. */
    assert_int_equal(st.pagecache_fills, hot + passes * scan);
    for (unsigned p = 0; p < hot; p++) {
        uint64_t pa;
        assert_int_equal(xvm_extract(w.vs, w.base + p * PG, &pa), 0);
    }
    assert_true(st.pd_reactivated > 0);
    world_down(&w);
}

/*
 * Every fifth page read, with 4 pages read ahead of each: 20 pages used,
 * up to 80 read ahead and never used, in a RAM that holds fewer than 100
 * but more than 20.  Read-ahead pages enter the inactive queue at its head,
 * so the daemon frees them first: every page it frees is an unused
 * read-ahead page, and reading the used pages again refaults nothing.
 */
static void test_pagedaemon_unused_readahead_goes_first(void **state)
{
    const struct fixture *fx = *state;
    const unsigned used = 20, stride = 5;
    struct world w;
    struct xvm_stats st;
    world_up(&w, fx, stride - 1);
    for (unsigned round = 0; round < 2; round++)
        for (unsigned k = 0; k < used; k++)
            touch(&w, fx, k * stride);
    xvm_machine_stats(w.m, &st);
    assert_true(st.reclaimed > 0);
    assert_int_equal(st.readahead_unused, st.reclaimed);
    assert_int_equal(st.refaults, 0);
    /* Read-ahead is a hint: it stops at the first page RAM cannot give. */
    assert_true(st.readahead_pages > used &&
                st.readahead_pages <= (uint64_t)used * (stride - 1));
    assert_int_equal(st.pagecache_fills, used + st.readahead_pages);
    world_down(&w);
}

/* A user pager of clean pages (zeros): the daemon may drop any. */
static int zeros_get(xvm_object *obj, uint64_t off, unsigned flags,
                     xvm_page_handle *pg)
{
    uint8_t *data;
    if ((*pg = xvm_object_page_lookup(obj, off)) != XVM_PAGE_HANDLE_NONE)
        return 0;
    if (flags & XVM_PGO_LOCKED)
        return ENOENT;
    int error = xvm_object_page_alloc(obj, off, pg, &data);
    if (error == 0)
        memset(data, 0, PG);
    return error;
}

/* Takes every free frame for the pager's pages, as a fault may leave RAM. */
static void fill_ram(struct world *w, xvm_object *o)
{
    xvm_page_handle pg;
    uint8_t *data;
    for (uint64_t p = 0; p < RAM_PAGES; p++) {
        int error = xvm_object_page_alloc(o, p * PG, &pg, &data);
        if (error == ENOMEM)
            break;
        assert_true(error == 0 || error == EEXIST);
    }
    assert_int_equal(tm_stats(w->m).pages[XVM_USE_FREE], 0);
}

/*
 * Calls that need kernel memory only (an address space, shared
 * anonymous memory, a file's vnode) wait for the daemon, as the kernel's
 * allocations that may sleep do, when a fault left no frame free: they
 * failed with ENOMEM while RAM was full of pages the daemon could drop.
 */
static void test_pagedaemon_frees_ram_for_kernel_memory(void **state)
{
    static const struct xvm_pager_ops zeros = { .name = "zeros",
                                                .get = zeros_get,
                                                .put = xvm_pager_put_clean };
    struct world w;
    xvm_object *o, *ao;
    xvm_vmspace *vs;
    xvm_file *g[NSMALL];
    world_up(&w, *state, 0);
    assert_int_equal(xvm_object_create(w.m, &zeros, RAM_PAGES * PG,
                                       XVM_OBJECT_READONLY, NULL, &o),
                     0);
    fill_ram(&w, o);
    assert_int_equal(xvm_vmspace_create(w.m, &vs), 0);
    fill_ram(&w, o);
    assert_int_equal(xvm_aobj_create(w.m, PG, &ao), 0);
    for (unsigned i = 0; i < NSMALL; i++) {
        char path[8];
        snprintf(path, sizeof(path), "/g%u", i);
        fill_ram(&w, o);
        assert_int_equal(xvm_open(w.mp, path, XVM_O_RDONLY, &g[i]), 0);
    }
    tm_check(w.m);
    for (unsigned i = 0; i < NSMALL; i++)
        xvm_close(g[i]);
    xvm_object_release(ao);
    xvm_vmspace_destroy(vs);
    xvm_object_release(o);
    world_down(&w);
}

/*
 * Under the vm_page design a device segment's vm_pages are kernel memory:
 * registering one (a flash, attached or opened, or xvm_physload_device)
 * waits for the daemon as the calls above do; it failed with ENOMEM.
 */
static void test_pagedaemon_frees_ram_for_device_vm_pages(void **state)
{
    static const struct xvm_pager_ops zeros = { .name = "zeros",
                                                .get = zeros_get,
                                                .put = xvm_pager_put_clean };
    static uint8_t dev[16 * PG];
    const struct fixture *fx = *state;
    struct xvm_config cfg;
    struct world w = { 0 };
    xvm_object *o;
    xvm_flash *f1, *f2;
    xvm_config_init(&cfg);
    cfg.ram_bytes = (uint64_t)RAM_PAGES * PG;
    cfg.freemin = 2 * PG;
    cfg.freetarg = 4 * PG;
    cfg.device_design = XVM_DESIGN_VM_PAGE;
    assert_int_equal(xvm_machine_create(&cfg, &w.m), 0);
    assert_int_equal(xvm_object_create(w.m, &zeros, RAM_PAGES * PG,
                                       XVM_OBJECT_READONLY, NULL, &o),
                     0);
    fill_ram(&w, o);
    assert_int_equal(xvm_flash_open(w.m, fx->ti.img, NULL, &f1), 0);
    fill_ram(&w, o);
    assert_int_equal(xvm_flash_attach(w.m, dev, sizeof(dev), NULL, &f2), 0);
    fill_ram(&w, o);
    assert_int_equal(
        xvm_physload_device(w.m, UINT64_C(1) << 30, sizeof(dev), dev), 0);
    assert_true(tm_stats(w.m).kmem_units[XVM_KMEM_DEVICE_VM_PAGE] > 0);
    tm_check(w.m);
    assert_int_equal(xvm_flash_close(f2), 0);
    assert_int_equal(xvm_flash_close(f1), 0);
    xvm_object_release(o);
    tm_check(w.m);
    xvm_machine_destroy(w.m);
}

/* The free targets: the defaults follow uvmpd_tune (0.5 % of RAM, at
 * least 128 KiB, at most 1 MiB, here at most RAM / 16), freetarg 4/3;
 * bad targets are refused. */
/*
 * Metadata buffers are frames the daemon takes back (buf_drain).  A
 * machine with no swap, buffers holding frames (every file opened) and
 * anonymous memory written page by page until RAM is full: the writes
 * that succeed are those of the same machine without buffers, because
 * the daemon frees the buffers, least recently used first, as free pages
 * run short.  They failed with ENOMEM while buffers held frames.
 */
struct anon_fill {
    uint64_t buffers; /* frames buffers held before the writes */
    uint64_t written; /* anon pages written before ENOMEM */
    struct xvm_stats st;
};

/* A machine of RAM_PAGES, no swap, a copy-mode mount with nbuf buffers
 * whose metadata is in them: every file opened once. */
static void buffered_up(const struct fixture *fx, unsigned nbuf,
                        xvm_machine **m, xvm_flash **flash, xvm_mount **mp)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_file *f;
    xvm_config_init(&cfg);
    cfg.ram_bytes = (uint64_t)RAM_PAGES * PG;
    xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, m), 0);
    assert_int_equal(xvm_flash_open(*m, fx->ti.img, NULL, flash), 0);
    xvm_mount_config_init(&mc);
    mc.buffers = nbuf;
    assert_int_equal(xvm_mount_flash(*flash, &mc, mp), 0);
    for (unsigned i = 0; i < NSMALL; i++) {
        char path[8];
        snprintf(path, sizeof(path), "/g%u", i);
        assert_int_equal(xvm_open(*mp, path, XVM_O_RDONLY, &f), 0);
        xvm_close(f);
    }
    assert_int_equal(xvm_open(*mp, "/f", XVM_O_RDONLY, &f), 0);
    xvm_close(f);
}

static void anon_until_full(const struct fixture *fx, unsigned nbuf,
                            struct anon_fill *out)
{
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    buffered_up(fx, nbuf, &m, &flash, &mp);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t base =
        tm_anon(vs, RAM_PAGES, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    out->buffers = tm_stats(m).pages[XVM_USE_BUFFER];
    out->written = 0;
    for (uint64_t p = 0; p < RAM_PAGES; p++) {
        int error = tm_wr_step(vs, base + p * PG, (uint8_t)(p + 1));
        if (error) {
            assert_int_equal(error, ENOMEM);
            break;
        }
        out->written++;
    }
    tm_check(m);
    for (uint64_t p = 0; p < out->written; p++)
        assert_int_equal(tm_rd8(vs, base + p * PG), (uint8_t)(p + 1));
    out->st = tm_stats(m);
    xvm_vmspace_destroy(vs);
    tm_check(m);
    assert_int_equal(xvm_unmount(mp), 0);
    xvm_flash_close(flash);
    xvm_machine_destroy(m);
}

static void test_pagedaemon_drains_buffers_for_anon_memory(void **state)
{
    struct anon_fill none, some;
    anon_until_full(*state, 0, &none);
    anon_until_full(*state, 16, &some);
    assert_int_equal(none.buffers, 0);
    assert_true(some.buffers >= 3); /* superblock, directory, inodes */
    assert_int_equal(some.written, none.written);
    assert_int_equal(some.st.buf_drained, some.buffers);
    assert_int_equal(some.st.pages[XVM_USE_BUFFER], 0);
    assert_int_equal(none.st.buf_drained, 0);
}

/* The blocks of the buffers, most recently used first.  => how many */
static unsigned lru_blocks(const struct bufcache *bc, uint64_t *blk)
{
    unsigned n = 0;
    for (uint32_t i = bc->head; i != UINT32_MAX; i = bc->bufs[i].next)
        blk[n++] = bc->bufs[i].blk;
    return n;
}

/* The drain takes the least recently used buffers, none while a read
 * uses one, and the cache grows again on the next miss. */
static void test_pagedaemon_drain_takes_lru_buffers(void **state)
{
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    uint64_t before[16], after[16];
    buffered_up(*state, 16, &m, &flash, &mp);
    struct bufcache *bc = &mp->bc;
    struct shrinker *s = &bc->shrinker;
    unsigned n = lru_blocks(bc, before);
    assert_true(n >= 3);
    assert_int_equal(s->count(s->arg), n);

    bc->reading = true;
    assert_int_equal(s->count(s->arg), 0);
    assert_int_equal(s->shrink(s->arg, n), 0);
    bc->reading = false;

    assert_int_equal(s->shrink(s->arg, 2), 2);
    assert_int_equal(lru_blocks(bc, after), n - 2);
    assert_memory_equal(after, before, (n - 2) * sizeof(*after));
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.pages[XVM_USE_BUFFER], n - 2);
    assert_int_equal(st.buf_drained, 2);
    tm_check(m);

    assert_int_equal(s->shrink(s->arg, UINT64_MAX), n - 2);
    assert_int_equal(bc->n, 0);
    tm_check(m);
    xvm_file *f;
    assert_int_equal(xvm_open(mp, "/g0", XVM_O_RDONLY, &f), 0);
    xvm_close(f);
    assert_true(bc->n > 0);
    assert_int_equal(tm_stats(m).buf_misses, st.buf_misses + bc->n);
    tm_check(m);
    assert_int_equal(xvm_unmount(mp), 0);
    xvm_flash_close(flash);
    xvm_machine_destroy(m);
}

static void test_pagedaemon_free_targets(void **state)
{
    (void)state;
    static const struct {
        uint64_t ram, freemin, freetarg;
    } cases[] = {
        { 256u << 10, 4, 5 },            /* RAM / 16 */
        { 16u << 20, 32, 42 },           /* 128 KiB */
        { 64u << 20, 81, 108 },          /* 0.5 % */
        { UINT64_C(1) << 30, 256, 341 }, /* 1 MiB */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        xvm_machine *m = tm_machine("sgimips", cases[i].ram, 0);
        struct xvm_stats st = tm_stats(m);
        assert_int_equal(st.freemin, cases[i].freemin);
        assert_int_equal(st.freetarg, cases[i].freetarg);
        xvm_machine_destroy(m);
    }
    struct xvm_config cfg;
    xvm_machine *m = NULL;
    xvm_config_init(&cfg);
    cfg.freemin = 8 * PG;
    cfg.freetarg = 8 * PG; /* not above freemin */
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    cfg.freetarg = 8 * PG + 1; /* not whole pages */
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    cfg.ram_bytes = 64 * PG;
    cfg.freetarg = 64 * PG; /* all of RAM */
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    assert_null(m);
}

/*
 * Without swap, once RAM is full of anons and of file pages wired by
 * mlock, the daemon can free nothing: a call that runs out must fail at
 * once.  Every failing write ran three scans of the queues (the wired
 * pages were counted as file pages the daemon could drop).
 */
static void test_pagedaemon_wired_file_pages_are_not_reclaimable(void **state)
{
    struct fixture *fx = *state;
    struct world w;
    world_up(&w, fx, 0);
    for (unsigned p = 0; p < 40; p++)
        touch(&w, fx, p);
    assert_int_equal(xvm_mlock(w.vs, w.base, 20 * PG), 0);
    uint64_t a = tm_anon(w.vs, RAM_PAGES, XVM_PROT_READ | XVM_PROT_WRITE,
                         XVM_MAP_PRIVATE);
    uint64_t p = 0;
    while (p < RAM_PAGES && xvm_write(w.vs, a + p * PG, "x", 1) == 0)
        p++;
    assert_true(p < RAM_PAGES);
    struct xvm_stats st = tm_stats(w.m);
    assert_true(st.pages[XVM_USE_PAGECACHE] >= 20);
    for (int k = 0; k < 10; k++)
        assert_int_equal(xvm_write(w.vs, a + p * PG, "x", 1), ENOMEM);
    struct xvm_stats st2 = tm_stats(w.m);
    assert_int_equal(st2.pd_runs, st.pd_runs);
    assert_int_equal(st2.pd_scanned, st.pd_scanned);
    tm_check(w.m);
    assert_int_equal(xvm_munlock(w.vs, w.base, 20 * PG), 0);
    tm_check(w.m);
    world_down(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pagedaemon_loop_that_fits_never_refaults),
        cmocka_unit_test(
            test_pagedaemon_loop_slightly_larger_than_ram_refaults_every_read),
        cmocka_unit_test(test_pagedaemon_hot_set_survives_a_scan),
        cmocka_unit_test(test_pagedaemon_unused_readahead_goes_first),
        cmocka_unit_test(test_pagedaemon_frees_ram_for_kernel_memory),
        cmocka_unit_test(test_pagedaemon_frees_ram_for_device_vm_pages),
        cmocka_unit_test(test_pagedaemon_drains_buffers_for_anon_memory),
        cmocka_unit_test(test_pagedaemon_drain_takes_lru_buffers),
        cmocka_unit_test(test_pagedaemon_free_targets),
        cmocka_unit_test(test_pagedaemon_wired_file_pages_are_not_reclaimable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
