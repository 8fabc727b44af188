/*
 * A VM developer's own pagers and page-replacement policies, through the
 * installed interface only (the shared library and xipvm.h).
 *
 * Pagers: one of RAM pages it fills itself, one of device pages it
 * chooses, one that mixes in the zero page, and pagers that misbehave.
 * What the accesses read is what the pager put there (computed here from
 * the pattern, not asked of the library); the page daemon calls put when
 * RAM runs out; detach runs once, at the last reference.
 *
 * Policies: a FIFO of its own (per-page arrays indexed by frame), chosen
 * in the config, that the page daemon follows: a page it never picks
 * stays resident through a scan that evicts everything else, where the
 * built-in clock lets it go; a policy that names garbage or pages that
 * cannot go stops a scan, never hangs it.  The checker passes after
 * every scenario (and asks the policy's own check).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm.h"

#define PG 4096u
#define RW (XVM_PROT_READ | XVM_PROT_WRITE)

static void check(xvm_machine *m)
{
    char msg[256];
    if (xvm_machine_check(m, msg, sizeof(msg)) != 0)
        fail_msg("machine check: %s", msg);
}

static xvm_machine *machine(uint64_t ram)
{
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    cfg.ram_bytes = ram;
    xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    return m;
}

/* ---- a pager of RAM pages: byte i of page p is pattern(p, i) ---- */

struct pattern {
    uint8_t seed;
    unsigned gets, fills, puts, detaches;
    unsigned locked_misses;
};

static uint8_t pattern(const struct pattern *pt, uint64_t page, size_t i)
{
    return (uint8_t)(pt->seed + page * 7 + i * 13);
}

static int pattern_get(xvm_object *obj, uint64_t off, unsigned flags,
                       xvm_page_handle *pg)
{
    struct pattern *pt = xvm_object_private(obj);
    uint8_t *data;
    pt->gets++;
    if ((*pg = xvm_object_page_lookup(obj, off)) != XVM_PAGE_HANDLE_NONE)
        return 0;
    if (flags & XVM_PGO_LOCKED) {
        pt->locked_misses++;
        return ENOENT;
    }
    int error = xvm_object_page_alloc(obj, off, pg, &data);
    if (error)
        return error;
    for (size_t i = 0; i < PG; i++)
        data[i] = pattern(pt, off / PG, i);
    pt->fills++;
    return 0;
}

static int pattern_put(xvm_object *obj, uint64_t off)
{
    struct pattern *pt = xvm_object_private(obj);
    pt->puts++;
    return xvm_pager_put_clean(obj, off);
}

static void pattern_detach(xvm_object *obj)
{
    struct pattern *pt = xvm_object_private(obj);
    pt->detaches++;
}

static const struct xvm_pager_ops pattern_ops = {
    .name = "pattern",
    .get = pattern_get,
    .put = pattern_put,
    .detach = pattern_detach,
};

/* A read-only pattern object of `pages` pages, mapped shared in a space
 * of its own: what the page daemon scenarios read through. */
struct patmap {
    xvm_vmspace *vs;
    xvm_object *obj;
    uint64_t a, pages;
};

/* The same with another pager whose private data is pt. */
static void patmap_up_ops(xvm_machine *m, const struct xvm_pager_ops *ops,
                          struct pattern *pt, uint64_t pages, struct patmap *pm)
{
    pm->a = 0;
    pm->pages = pages;
    assert_int_equal(xvm_vmspace_create(m, &pm->vs), 0);
    assert_int_equal(xvm_object_create(m, ops, pages * PG, XVM_OBJECT_READONLY,
                                       pt, &pm->obj),
                     0);
    assert_int_equal(xvm_mmap(pm->vs, &pm->a, pages * PG, XVM_PROT_READ,
                              XVM_MAP_SHARED, pm->obj, 0),
                     0);
}

static void patmap_up(xvm_machine *m, struct pattern *pt, uint64_t pages,
                      struct patmap *pm)
{
    patmap_up_ops(m, &pattern_ops, pt, pages, pm);
}

/* Reads byte p % PG of every page p from `from` on, checking it. */
static void patmap_read_all(const struct patmap *pm, const struct pattern *pt,
                            uint64_t from)
{
    uint8_t v;
    for (uint64_t p = from; p < pm->pages; p++) {
        assert_int_equal(xvm_read(pm->vs, pm->a + p * PG + p % PG, &v, 1), 0);
        assert_int_equal(v, pattern(pt, p, p % PG));
    }
}

static void patmap_down(struct patmap *pm)
{
    xvm_vmspace_destroy(pm->vs);
    xvm_object_release(pm->obj);
}

/* A page its pager frees, or puts clean, while a loan holds it stays the
 * loan's until the loan ends: the loan still reads its bytes and the
 * checker is clean (the free used to abort in phys_free). */
static void test_user_pager_frees_a_lent_page(void **state)
{
    (void)state;
    for (int put = 0; put < 2; put++) {
        xvm_machine *m = machine(UINT64_C(1) << 20);
        struct pattern pt = { .seed = 5 };
        struct patmap pm;
        xvm_loan *ln;
        uint8_t b[4];
        patmap_up(m, &pt, 2, &pm);
        assert_int_equal(xvm_loan_start(pm.vs, pm.a, PG, &ln), 0);
        assert_int_equal(put ? xvm_pager_put_clean(pm.obj, 0)
                             : xvm_object_page_free(pm.obj, 0),
                         0);
        check(m);
        assert_int_equal(xvm_loan_read(ln, 0, b, sizeof(b)), 0);
        for (size_t i = 0; i < sizeof(b); i++)
            assert_int_equal(b[i], pattern(&pt, 0, i));
        xvm_loan_end(ln);
        check(m);
        patmap_read_all(&pm, &pt, 0); /* filled again */
        patmap_down(&pm);
        xvm_machine_destroy(m);
    }
}

static void test_user_pager_ram_pages_private_shared_and_freed(void **state)
{
    (void)state;
    xvm_machine *m = machine(4u << 20);
    struct pattern pt = { .seed = 3 };
    xvm_object *obj;
    xvm_vmspace *vs, *child;
    uint64_t a = 0, s = 0;
    uint8_t v;

    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(
        xvm_object_create(m, &pattern_ops, 4 * PG - 100, 0, &pt, &obj), 0);
    assert_int_equal(xvm_object_size(obj), 4 * PG); /* whole pages */
    assert_ptr_equal(xvm_object_machine(obj), m);
    assert_ptr_equal(xvm_object_private(obj), &pt);
    /* A private mapping and a shared one of the same object. */
    assert_int_equal(xvm_mmap(vs, &a, 4 * PG, RW, XVM_MAP_PRIVATE, obj, 0), 0);
    assert_int_equal(xvm_mmap(vs, &s, 2 * PG, RW, XVM_MAP_SHARED, obj, 2 * PG),
                     0);
    for (uint64_t p = 0; p < 4; p++)
        for (size_t i = 0; i < PG; i += 511) {
            assert_int_equal(xvm_read(vs, a + p * PG + i, &v, 1), 0);
            assert_int_equal(v, pattern(&pt, p, i));
        }
    assert_int_equal(pt.fills, 4); /* one fill per page, then resident */
    struct xvm_page_info pi;
    assert_int_equal(xvm_page_info(vs, a + PG, &pi), 0);
    assert_int_equal(pi.kind, XVM_PAGE_RAM);
    assert_int_equal(pi.owner, XVM_OWNER_OBJECT);
    assert_int_equal(pi.object_kind, XVM_OBJECT_USER);
    assert_int_equal(pi.object_refs, 3); /* creator, two mappings */
    assert_int_equal(pi.use, XVM_USE_PAGECACHE);

    /* A shared write lands in the pager's own frame: the private mapping
     * of that page (already mapped, not yet written) sees it too, as
     * mmap(2) leaves unspecified and UVM does. */
    v = 0xab;
    assert_int_equal(xvm_write(vs, s + 5, &v, 1), 0);
    assert_int_equal(xvm_read(vs, a + 2 * PG + 5, &v, 1), 0);
    assert_int_equal(v, 0xab);
    /* A private write is a copy-on-write of the pager's page. */
    v = 0xcd;
    assert_int_equal(xvm_write(vs, a + 3 * PG + 1, &v, 1), 0);
    assert_int_equal(xvm_read(vs, s + PG + 1, &v, 1), 0);
    assert_int_equal(v, pattern(&pt, 3, 1));
    assert_int_equal(xvm_read(vs, s + PG, &v, 1), 0);
    assert_int_equal(v, pattern(&pt, 3, 0));
    assert_int_equal(xvm_page_info(vs, a + 3 * PG, &pi), 0);
    assert_int_equal(pi.owner, XVM_OWNER_ANON);
    check(m);

    /* A fork shares the shared mapping's pages, copies the private. */
    assert_int_equal(xvm_vmspace_fork(vs, &child), 0);
    v = 0xef;
    assert_int_equal(xvm_write(child, s + 6, &v, 1), 0);
    assert_int_equal(xvm_read(vs, s + 6, &v, 1), 0);
    assert_int_equal(v, 0xef);
    check(m);

    /* Freeing a mapped page unmaps it: the next access gets it again. */
    unsigned fills = pt.fills;
    assert_int_equal(xvm_object_page_free(obj, 0), 0);
    assert_int_equal(xvm_object_page_free(obj, 0), ENOENT);
    assert_int_equal(xvm_page_info(vs, a, &pi), 0);
    assert_int_equal(pi.kind, XVM_PAGE_NOT_RESIDENT);
    assert_int_equal(xvm_read(child, a + 9, &v, 1), 0);
    assert_int_equal(v, pattern(&pt, 0, 9));
    assert_int_equal(pt.fills, fills + 1);
    /* A wired page stays. */
    assert_int_equal(xvm_mlock(vs, s, PG), 0);
    assert_int_equal(xvm_object_page_free(obj, 2 * PG), EBUSY);
    assert_int_equal(xvm_munlock(vs, s, PG), 0);
    check(m);

    /* The helpers refuse what is not a user object's page. */
    xvm_page_handle h;
    uint8_t *data;
    assert_int_equal(xvm_object_page_alloc(obj, PG, &h, &data), EEXIST);
    assert_int_equal(xvm_object_page_alloc(obj, 4 * PG, &h, &data), EINVAL);
    assert_int_equal(xvm_object_page_alloc(obj, 100, &h, &data), EINVAL);
    xvm_object *aobj;
    assert_int_equal(xvm_aobj_create(m, PG, &aobj), 0);
    assert_int_equal(xvm_object_page_alloc(aobj, 0, &h, &data), EINVAL);
    assert_int_equal(xvm_object_page_free(aobj, 0), EINVAL);
    xvm_object_release(aobj);

    /* detach runs once, when the last reference goes. */
    xvm_object_release(obj);
    xvm_vmspace_destroy(child);
    assert_int_equal(pt.detaches, 0);
    xvm_vmspace_destroy(vs);
    assert_int_equal(pt.detaches, 1);
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.pages[XVM_USE_PAGECACHE], 0);
    check(m);
    xvm_machine_destroy(m);
}

/* Out of RAM, the page daemon asks the pager to put pages back; every
 * page read after that is the pattern again (filled anew), and each
 * fill of a page put clean is a refault (none were counted). */
static void test_user_pager_put_when_ram_runs_out(void **state)
{
    (void)state;
    const uint64_t pages = 200; /* 800 KiB through 512 KiB of RAM */
    xvm_machine *m = machine(512u << 10);
    struct pattern pt = { .seed = 9 };
    struct patmap pm;
    uint64_t a = 0;
    patmap_up(m, &pt, pages, &pm);
    assert_int_equal(
        xvm_mmap(pm.vs, &a, pages * PG, RW, XVM_MAP_SHARED, pm.obj, 0), EACCES);
    for (int round = 0; round < 2; round++)
        patmap_read_all(&pm, &pt, 0);
    assert_true(pt.puts > 0);
    assert_true(pt.fills > pages); /* some pages came back twice */
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_true(st.reclaimed > 0);
    assert_int_equal(st.refaults, pt.fills - pages);
    check(m);
    patmap_down(&pm);
    assert_int_equal(pt.detaches, 1);
    xvm_machine_destroy(m);
}

/* A pager whose put says 0 but frees nothing: the page daemon counts
 * no page freed (it counted every one), and RAM runs out cleanly. */
static int liar_put(xvm_object *obj, uint64_t off)
{
    struct pattern *pt = xvm_object_private(obj);
    (void)off;
    pt->puts++;
    return 0;
}

static const struct xvm_pager_ops liar_ops = {
    .name = "liar",
    .get = pattern_get,
    .put = liar_put,
};

static void test_user_pager_put_that_keeps_its_page(void **state)
{
    (void)state;
    const uint64_t pages = 200; /* 800 KiB through 512 KiB of RAM */
    xvm_machine *m = machine(512u << 10);
    struct pattern pt = { .seed = 3 };
    struct patmap pm;
    uint64_t p;
    uint8_t v;
    int error = 0;
    patmap_up_ops(m, &liar_ops, &pt, pages, &pm);
    for (p = 0; p < pages && error == 0; p++)
        error = xvm_read(pm.vs, pm.a + p * PG, &v, 1);
    assert_int_equal(error, ENOMEM);
    assert_true(pt.puts > 0);
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.pd_freed, 0);
    assert_int_equal(st.reclaimed + st.swap_outs, 0);
    check(m);
    patmap_down(&pm);
    xvm_machine_destroy(m);
}

/* A pager whose put frees the page and then says it failed (its
 * write-back's error, say): the page is gone all the same, and the
 * daemon counts it freed.  It used to be put back on the page queues,
 * free, which broke the free list at the first scan. */
static int put_then_fail(xvm_object *obj, uint64_t off)
{
    struct pattern *pt = xvm_object_private(obj);
    pt->puts++;
    assert_int_equal(xvm_object_page_free(obj, off), 0);
    return pt->puts % 2 ? EIO : EBUSY;
}

static const struct xvm_pager_ops put_then_fail_ops = {
    .name = "put_then_fail",
    .get = pattern_get,
    .put = put_then_fail,
};

static void test_user_pager_put_that_frees_and_fails(void **state)
{
    (void)state;
    const uint64_t pages = 200; /* 800 KiB through 512 KiB of RAM */
    xvm_machine *m = machine(512u << 10);
    struct pattern pt = { .seed = 4 };
    struct patmap pm;
    uint8_t v;
    patmap_up_ops(m, &put_then_fail_ops, &pt, pages, &pm);
    for (int round = 0; round < 2; round++)
        for (uint64_t p = 0; p < pages; p++) {
            assert_int_equal(xvm_read(pm.vs, pm.a + p * PG + p % PG, &v, 1), 0);
            assert_int_equal(v, pattern(&pt, p, p % PG));
            check(m);
        }
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_true(pt.puts > 0);
    assert_int_equal(st.pd_freed, pt.puts);
    patmap_down(&pm);
    check(m);
    xvm_machine_destroy(m);
}

/* ---- a pager stacked on another object: it holds a reference to the
 *      object below and drops it in its detach ---- */

struct stacked {
    struct pattern pt;
    xvm_object *below;   /* NULL at the bottom */
    uint64_t below_size; /* what the object below must still say */
    struct pattern *below_pt;
};

static void stacked_detach(xvm_object *obj)
{
    struct stacked *st = xvm_object_private(obj);
    st->pt.detaches++;
    if (st->below == NULL)
        return;
    /* The object below is alive: this pager holds a reference to it. */
    assert_int_equal(xvm_object_size(st->below), st->below_size);
    assert_ptr_equal(xvm_object_private(st->below), st->below_pt);
    xvm_object_release(st->below);
}

static const struct xvm_pager_ops stacked_ops = {
    .name = "stacked",
    .get = pattern_get, /* a struct stacked begins with its pattern */
    .put = pattern_put,
    .detach = stacked_detach,
};

/*
 * Each object's detach runs once, and the object below stays valid until
 * the pager above has let it go: when the caller releases the top, and
 * when the machine is destroyed with both still held, whichever was made
 * first (the machine used to free the object below first, and the detach
 * above read and released freed memory).
 */
static void test_user_pager_stacked_on_another_object(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++)
        for (int destroy = 0; destroy < 2; destroy++) {
            xvm_machine *m = machine(1u << 20);
            struct stacked top = { .pt = { .seed = 1 } };
            struct stacked bot = { .pt = { .seed = 2 } };
            xvm_object *t = NULL, *b = NULL;
            xvm_vmspace *vs;
            uint64_t a = 0;
            uint8_t v;
            for (int i = 0; i < 2; i++)
                if (i == order)
                    assert_int_equal(
                        xvm_object_create(m, &stacked_ops, PG, 0, &top, &t), 0);
                else
                    assert_int_equal(
                        xvm_object_create(m, &stacked_ops, 3 * PG, 0, &bot, &b),
                        0);
            top.below = b; /* takes the creator's reference */
            top.below_size = 3 * PG;
            top.below_pt = &bot.pt;
            assert_int_equal(xvm_vmspace_create(m, &vs), 0);
            assert_int_equal(
                xvm_mmap(vs, &a, PG, XVM_PROT_READ, XVM_MAP_SHARED, t, 0), 0);
            assert_int_equal(xvm_read(vs, a, &v, 1), 0);
            assert_int_equal(v, pattern(&top.pt, 0, 0));
            check(m);
            if (!destroy) {
                xvm_vmspace_destroy(vs);
                xvm_object_release(t);
                assert_int_equal(top.pt.detaches, 1);
                assert_int_equal(bot.pt.detaches, 1);
                check(m);
            }
            xvm_machine_destroy(m);
            assert_int_equal(top.pt.detaches, 1);
            assert_int_equal(bot.pt.detaches, 1);
        }
}

/* ---- a pager of device pages: page p is device page n-1-p ---- */

#define DEV_PA    0x40000000ull
#define DEV_PAGES 4

struct devpager {
    xvm_machine *m;
    int zero_holes; /* odd pages are holes: the zero page */
};

static int dev_get(xvm_object *obj, uint64_t off, unsigned flags,
                   xvm_page_handle *pg)
{
    struct devpager *d = xvm_object_private(obj);
    (void)flags; /* device pages are always there */
    uint64_t p = off / PG;
    if (d->zero_holes && (p & 1)) {
        *pg = xvm_zero_page(d->m);
        return 0;
    }
    return xvm_device_page(d->m, DEV_PA + (DEV_PAGES - 1 - p) * PG, pg);
}

static const struct xvm_pager_ops dev_ops = { .name = "reversed device",
                                              .get = dev_get };

static void test_user_pager_device_pages(void **state)
{
    (void)state;
    xvm_machine *m = machine(4u << 20);
    uint8_t *mem = malloc(DEV_PAGES * PG);
    for (unsigned p = 0; p < DEV_PAGES; p++)
        memset(mem + p * PG, 0x10 + p, PG);
    assert_int_equal(xvm_physload_device(m, DEV_PA, DEV_PAGES * PG, mem), 0);
    xvm_page_handle h;
    assert_int_equal(xvm_device_page(m, DEV_PA + 1, &h), EINVAL);
    assert_int_equal(xvm_device_page(m, DEV_PA + DEV_PAGES * PG, &h), EINVAL);
    assert_int_equal(xvm_device_page(m, 0, &h), EINVAL); /* RAM */

    for (int holes = 0; holes <= 1; holes++) {
        struct devpager d = { m, holes };
        xvm_object *ro, *rw;
        xvm_vmspace *vs;
        uint64_t a = 0, s = 0, w = 0;
        uint8_t v;
        assert_int_equal(xvm_vmspace_create(m, &vs), 0);
        assert_int_equal(xvm_object_create(m, &dev_ops, DEV_PAGES * PG,
                                           XVM_OBJECT_READONLY, &d, &ro),
                         0);
        assert_int_equal(xvm_mmap(vs, &a, DEV_PAGES * PG, RW | XVM_PROT_EXEC,
                                  XVM_MAP_PRIVATE, ro, 0),
                         0);
        for (unsigned p = 0; p < DEV_PAGES; p++) {
            uint8_t want = holes && (p & 1) ? 0 : 0x10 + DEV_PAGES - 1 - p;
            assert_int_equal(xvm_fetch(vs, a + p * PG + 3, &v, 1), 0);
            assert_int_equal(v, want);
            struct xvm_page_info pi;
            assert_int_equal(xvm_page_info(vs, a + p * PG, &pi), 0);
            assert_int_equal(pi.kind, holes && (p & 1) ? XVM_PAGE_ZERO
                                                       : XVM_PAGE_DEVICE);
            if (pi.kind == XVM_PAGE_DEVICE)
                assert_int_equal(pi.pa, DEV_PA + (DEV_PAGES - 1 - p) * PG);
            assert_int_equal(pi.writable, 0);
        }
        /* A private write copies the device page into an anon. */
        v = 0x99;
        assert_int_equal(xvm_write(vs, a + 7, &v, 1), 0);
        assert_int_equal(xvm_read(vs, a + 8, &v, 1), 0);
        assert_int_equal(v, 0x10 + DEV_PAGES - 1);
        assert_int_equal(mem[(DEV_PAGES - 1) * PG + 7], 0x10 + DEV_PAGES - 1);
        /* Mlock refuses device pages (paper §11.4). */
        assert_int_equal(xvm_mlock(vs, a + 2 * PG, PG), EINVAL);
        /* A read-only object: no writable shared mapping. */
        assert_int_equal(xvm_mmap(vs, &s, PG, RW, XVM_MAP_SHARED, ro, 0),
                         EACCES);
        /* Not read-only: the mapping is made, but a write through it to a
         * device or zero page is refused. */
        assert_int_equal(
            xvm_object_create(m, &dev_ops, DEV_PAGES * PG, 0, &d, &rw), 0);
        assert_int_equal(xvm_mmap(vs, &w, 2 * PG, RW, XVM_MAP_SHARED, rw, 0),
                         0);
        v = 1;
        assert_int_equal(xvm_write(vs, w, &v, 1), EACCES);
        assert_int_equal(xvm_write(vs, w + PG, &v, 1), EACCES);
        assert_int_equal(xvm_read(vs, w, &v, 1), 0);
        assert_int_equal(v, 0x10 + DEV_PAGES - 1);
        check(m);
        xvm_object_release(ro);
        xvm_object_release(rw);
        xvm_vmspace_destroy(vs);
    }
    check(m);
    xvm_machine_destroy(m);
    free(mem);
}

/* ---- pagers that misbehave: the access fails, nothing breaks ---- */

struct bad {
    xvm_object *other; /* a page of another object */
    int mode;
};

static int bad_get(xvm_object *obj, uint64_t off, unsigned flags,
                   xvm_page_handle *pg)
{
    struct bad *b = xvm_object_private(obj);
    uint8_t *data;
    (void)flags;
    switch (b->mode) {
    case 0: *pg = 0x123456789ull; return 0; /* no page at all */
    case 1: *pg = XVM_PAGE_HANDLE_NONE; return 0;
    case 2: /* another object's page */
        if ((*pg = xvm_object_page_lookup(b->other, 0)) == XVM_PAGE_HANDLE_NONE)
            return xvm_object_page_alloc(b->other, 0, pg, &data);
        return 0;
    case 3: /* its own page, but at another offset */
        if ((*pg = xvm_object_page_lookup(obj, off + PG)) ==
            XVM_PAGE_HANDLE_NONE)
            return xvm_object_page_alloc(obj, off + PG, pg, &data);
        return 0;
    default: return EIO; /* an I/O error of its own */
    }
}

static const struct xvm_pager_ops bad_ops = { .name = "bad", .get = bad_get };

static void test_user_pager_bad_pages_are_eio(void **state)
{
    (void)state;
    xvm_machine *m = machine(4u << 20);
    struct bad b = { NULL, 0 };
    xvm_object *obj;
    xvm_vmspace *vs;
    uint64_t a = 0;
    uint8_t v;
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_object_create(m, &bad_ops, 4 * PG, 0, &b, &b.other),
                     0);
    assert_int_equal(xvm_object_create(m, &bad_ops, 2 * PG, 0, &b, &obj), 0);
    assert_int_equal(xvm_mmap(vs, &a, 2 * PG, RW, XVM_MAP_PRIVATE, obj, 0), 0);
    for (b.mode = 0; b.mode <= 4; b.mode++) {
        assert_int_equal(xvm_read(vs, a, &v, 1), EIO);
        assert_int_equal(xvm_write(vs, a, &v, 1), EIO);
        check(m);
    }
    /* Arguments. */
    assert_int_equal(xvm_object_create(m, NULL, PG, 0, NULL, &obj), EINVAL);
    assert_int_equal(xvm_object_create(m,
                                       &(struct xvm_pager_ops){ .name = "x" },
                                       PG, 0, NULL, &obj),
                     EINVAL);
    assert_int_equal(xvm_object_create(m, &bad_ops, 0, 0, NULL, &obj), EINVAL);
    assert_int_equal(xvm_object_create(m, &bad_ops, UINT64_MAX, 0, NULL, &obj),
                     EINVAL);
    assert_int_equal(xvm_object_create(m, &bad_ops, PG, 2, NULL, &obj), EINVAL);
    /* Another machine's object cannot be mapped here. */
    xvm_machine *m2 = machine(1u << 20);
    xvm_object *foreign;
    assert_int_equal(xvm_object_create(m2, &bad_ops, PG, 0, &b, &foreign), 0);
    assert_int_equal(xvm_mmap(vs, &a, PG, RW, XVM_MAP_PRIVATE, foreign, 0),
                     EINVAL);
    xvm_object_release(foreign);
    xvm_machine_destroy(m2);
    xvm_object_release(b.other);
    xvm_object_release(obj);
    xvm_vmspace_destroy(vs);
    check(m);
    xvm_machine_destroy(m);
}

/*
 * A get that answers 0 but never sets *pg names no page: *pg holds
 * XVM_PAGE_HANDLE_NONE when get is called, so the access is EIO, never a
 * page left over from an earlier fault (the zero page, say).
 */
struct silent {
    unsigned gets, preset; /* calls, and those that found NONE in *pg */
};

static int silent_get(xvm_object *obj, uint64_t off, unsigned flags,
                      xvm_page_handle *pg)
{
    struct silent *sl = xvm_object_private(obj);
    (void)off;
    (void)flags;
    sl->gets++;
    sl->preset += *pg == XVM_PAGE_HANDLE_NONE;
    return 0;
}

static const struct xvm_pager_ops silent_ops = { .name = "silent",
                                                 .get = silent_get };

static void test_user_pager_get_that_names_no_page_is_eio(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg); /* fault-ahead on: neighbours ask get too */
    cfg.profile = "amd64";
    cfg.ram_bytes = 4u << 20;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    struct silent sl = { 0, 0 };
    xvm_object *obj;
    xvm_vmspace *vs;
    uint64_t a = 0, s = 0;
    uint8_t v = 1;
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_object_create(m, &silent_ops, 4 * PG, 0, &sl, &obj),
                     0);
    assert_int_equal(xvm_mmap(vs, &a, 4 * PG, RW, XVM_MAP_PRIVATE, obj, 0), 0);
    assert_int_equal(xvm_mmap(vs, &s, 4 * PG, RW, XVM_MAP_SHARED, obj, 0), 0);
    for (unsigned p = 0; p < 4; p++) {
        assert_int_equal(xvm_read(vs, a + p * PG, &v, 1), EIO);
        assert_int_equal(xvm_write(vs, a + p * PG, &v, 1), EIO);
        assert_int_equal(xvm_read(vs, s + p * PG, &v, 1), EIO);
        assert_int_equal(xvm_write(vs, s + p * PG, &v, 1), EIO);
        check(m);
    }
    assert_int_equal(xvm_mlock(vs, a, 4 * PG), EIO);
    assert_true(sl.gets > 0);
    assert_int_equal(sl.preset, sl.gets);
    /* Nothing of the object was mapped, nothing copied. */
    for (unsigned p = 0; p < 4; p++) {
        struct xvm_page_info pi;
        assert_int_equal(xvm_page_info(vs, a + p * PG, &pi), 0);
        assert_int_equal(pi.mapped, 0);
        assert_int_equal(xvm_page_info(vs, s + p * PG, &pi), 0);
        assert_int_equal(pi.mapped, 0);
    }
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.pages[XVM_USE_ANON], 0);
    check(m);
    xvm_object_release(obj);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* A pager's own error reaches mlock's caller as it is, whatever errno
 * it is (ENOBUFS, ENOMEM, EIO), and nothing stays wired. */
static int errno_get(xvm_object *obj, uint64_t off, unsigned flags,
                     xvm_page_handle *pg)
{
    int *e = xvm_object_private(obj);
    (void)off;
    (void)pg;
    return flags & XVM_PGO_LOCKED ? ENOENT : *e;
}

static const struct xvm_pager_ops errno_ops = { .name = "errno",
                                                .get = errno_get };

static void test_user_pager_error_reaches_mlock_as_it_is(void **state)
{
    (void)state;
    static const int errs[] = { ENOBUFS, ENOMEM, EIO, EAGAIN, EFAULT };
    xvm_machine *m = machine(4u << 20);
    xvm_vmspace *vs;
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        int e = errs[i];
        xvm_object *obj;
        uint64_t a = 0;
        uint8_t v;
        assert_int_equal(xvm_object_create(m, &errno_ops, 2 * PG, 0, &e, &obj),
                         0);
        assert_int_equal(xvm_mmap(vs, &a, 2 * PG, RW, XVM_MAP_PRIVATE, obj, 0),
                         0);
        assert_int_equal(xvm_read(vs, a, &v, 1), e);
        assert_int_equal(xvm_mlock(vs, a, 2 * PG), e);
        struct xvm_map_entry_info ei;
        assert_int_equal(xvm_map_entry_next(vs, a, &ei), 0);
        assert_int_equal(ei.wired, 0);
        check(m);
        assert_int_equal(xvm_munmap(vs, a, 2 * PG), 0);
        xvm_object_release(obj);
    }
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.oom_kills, 0);
    xvm_vmspace_destroy(vs);
    check(m);
    xvm_machine_destroy(m);
}

/* ---- a pager that calls back into the VM from its get and put ---- */

/*
 * The fault (or the page daemon's scan) that calls a pager holds the
 * map entry and the pages it works on, as UVM holds the map's lock: a
 * get or put that maps, unmaps, protects, wires, accesses or forks is
 * refused with EDEADLK and changes nothing; the fault it came from goes
 * on.  (An unmap from get used to free the entry, and the object, under
 * the fault.)
 */
struct reentry {
    struct pattern pt;
    xvm_vmspace *vs;
    uint64_t a, other; /* the faulting mapping; another one */
    int calls[9];      /* what each call from get answered */
    unsigned ncalls;
    int put_unmap; /* what xvm_munmap from put answered (-1: none) */
};

static int reentry_get(xvm_object *obj, uint64_t off, unsigned flags,
                       xvm_page_handle *pg)
{
    struct reentry *r = xvm_object_private(obj);
    if (!(flags & XVM_PGO_LOCKED) && r->ncalls == 0) {
        xvm_vmspace *child = NULL;
        xvm_loan *ln = NULL;
        uint64_t x = r->a, y = 0;
        uint8_t v;
        r->calls[r->ncalls++] = xvm_munmap(r->vs, r->a, 4 * PG);
        r->calls[r->ncalls++] = xvm_mmap(
            r->vs, &x, 4 * PG, RW, XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0);
        r->calls[r->ncalls++] =
            xvm_mmap(r->vs, &y, PG, RW, XVM_MAP_PRIVATE, NULL, 0);
        r->calls[r->ncalls++] = xvm_mprotect(r->vs, r->a, PG, XVM_PROT_NONE);
        r->calls[r->ncalls++] = xvm_mlock(r->vs, r->other, PG);
        r->calls[r->ncalls++] = xvm_read(r->vs, r->a + 3 * PG, &v, 1);
        r->calls[r->ncalls++] = xvm_vmspace_fork(r->vs, &child);
        /* A loan of a page mapped already needs no fault. */
        r->calls[r->ncalls++] = xvm_loan_start(r->vs, r->other, PG, &ln);
        xvm_vmspace_destroy(r->vs); /* does nothing from here */
        r->calls[r->ncalls++] = child != NULL;
    }
    return pattern_get(obj, off, flags, pg);
}

static int reentry_put(xvm_object *obj, uint64_t off)
{
    struct reentry *r = xvm_object_private(obj);
    r->put_unmap = xvm_munmap(r->vs, r->a, 4 * PG);
    return pattern_put(obj, off);
}

static const struct xvm_pager_ops reentry_ops = {
    .name = "reentry",
    .get = reentry_get,
    .put = reentry_put,
    .detach = pattern_detach,
};

static void test_user_pager_calling_back_into_the_vm_is_edeadlk(void **state)
{
    (void)state;
    enum { NPG = 512 }; /* 2 MiB through 1 MiB of RAM */
    static const int want[] = { EDEADLK, EDEADLK, EDEADLK, EDEADLK, EDEADLK,
                                EDEADLK, EDEADLK, EDEADLK, 0 };
    xvm_machine *m = machine(1u << 20);
    struct reentry r = { .pt = { .seed = 5 }, .put_unmap = -1 };
    xvm_object *obj;
    uint8_t v;
    assert_int_equal(xvm_vmspace_create(m, &r.vs), 0);
    assert_int_equal(xvm_object_create(m, &reentry_ops, NPG * PG, 0, &r, &obj),
                     0);
    assert_int_equal(
        xvm_mmap(r.vs, &r.a, NPG * PG, RW, XVM_MAP_PRIVATE, obj, 0), 0);
    xvm_object_release(obj); /* the mapping holds it */
    assert_int_equal(xvm_mmap(r.vs, &r.other, PG, RW, XVM_MAP_PRIVATE, NULL, 0),
                     0);
    assert_int_equal(xvm_write(r.vs, r.other, &v, 1), 0);
    assert_int_equal(xvm_read(r.vs, r.a + PG + 3, &v, 1), 0);
    assert_int_equal(v, pattern(&r.pt, 1, 3));
    assert_int_equal(r.ncalls, 9);
    for (unsigned i = 0; i < r.ncalls; i++)
        assert_int_equal(r.calls[i], want[i]);
    /* Nothing changed: the mapping, its protection, the other page. */
    struct xvm_map_entry_info ei;
    assert_int_equal(xvm_map_entry_next(r.vs, r.a, &ei), 0);
    assert_int_equal(ei.start, r.a);
    assert_int_equal(ei.end, r.a + NPG * PG);
    assert_int_equal(ei.prot, RW);
    assert_int_equal(ei.object_kind, XVM_OBJECT_USER);
    assert_int_equal(xvm_map_entry_next(r.vs, r.other, &ei), 0);
    assert_int_equal(ei.wired, 0);
    struct xvm_vmspace_stats vst;
    assert_int_equal(xvm_vmspace_stats(r.vs, &vst), 0);
    assert_int_equal(vst.map_entries, 2);
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.loans_active, 0);
    check(m);
    /* The page daemon's put is a pager call too: read the object
     * through more RAM than there is until a page of it is put. */
    for (uint64_t p = 0; p < NPG && r.put_unmap == -1; p++)
        assert_int_equal(xvm_read(r.vs, r.a + p * PG, &v, 1), 0);
    assert_int_equal(r.put_unmap, EDEADLK);
    assert_int_equal(xvm_map_entry_next(r.vs, r.a, &ei), 0);
    assert_int_equal(ei.start, r.a);
    check(m);
    /* Outside the pager, the same calls work. */
    assert_int_equal(xvm_munmap(r.vs, r.a, NPG * PG), 0);
    xvm_vmspace_destroy(r.vs);
    assert_int_equal(r.pt.detaches, 1);
    check(m);
    xvm_machine_destroy(m);
}

/* ---- a pager of zero pages ---- */

static int zeros_get(xvm_object *obj, uint64_t off, unsigned flags,
                     xvm_page_handle *pg)
{
    (void)off;
    (void)flags;
    *pg = xvm_zero_page(xvm_object_machine(obj));
    return 0;
}

static const struct xvm_pager_ops zeros_ops = { .name = "zeros",
                                                .get = zeros_get };

/*
 * The zero page a pager hands out is never writable, also where
 * fault-ahead enters it around a read into a writable shared mapping
 * (of an object that is not read-only): a write there is refused, and
 * the machine's one zero page stays zero for every process.
 */
static void test_user_pager_zero_page_neighbours_are_not_writable(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg); /* UVM's fault-ahead windows */
    cfg.profile = "amd64";
    cfg.ram_bytes = 4u << 20;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    xvm_object *obj;
    xvm_vmspace *vs;
    uint64_t w = 0, z = 0, val = UINT64_C(0x1122334455667788);
    uint8_t v, page[PG], zeros[PG] = { 0 };
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_object_create(m, &zeros_ops, 8 * PG, 0, NULL, &obj),
                     0);
    assert_int_equal(xvm_mmap(vs, &w, 8 * PG, RW, XVM_MAP_SHARED, obj, 0), 0);
    assert_int_equal(xvm_mmap(vs, &z, PG, RW, XVM_MAP_PRIVATE, NULL, 0), 0);
    assert_int_equal(xvm_read(vs, w + 4 * PG, &v, 1), 0);
    assert_int_equal(v, 0);
    check(m);
    unsigned mapped = 0;
    for (unsigned p = 0; p < 8; p++) {
        struct xvm_page_info pi;
        assert_int_equal(xvm_page_info(vs, w + p * PG, &pi), 0);
        assert_int_equal(pi.kind, XVM_PAGE_ZERO);
        mapped += pi.mapped;
        assert_int_equal(pi.writable, 0);
    }
    assert_true(mapped > 1); /* fault-ahead entered neighbours */
    for (unsigned p = 0; p < 8; p++)
        assert_int_equal(xvm_write(vs, w + p * PG + 16, &val, sizeof(val)),
                         EACCES);
    assert_int_equal(xvm_read(vs, z, page, PG), 0);
    assert_memory_equal(page, zeros, PG);
    check(m);
    xvm_object_release(obj);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* ---- a page-replacement policy of our own: FIFO, with one page it
 *      never picks ---- */

struct fifo {
    struct xvm_pdpolicy_env env;
    uint32_t *prev, *next; /* by frame index */
    unsigned char *queued;
    uint32_t head, tail, n;
    uint32_t pinned; /* never a victim (XVM_PDP_NONE: none) */
    uint32_t cursor; /* the scan's position */
    uint32_t first;  /* the first page ever enqueued */
    unsigned long enqueues, activates, dequeues, selects, checks;
    int mode; /* 0 FIFO; 1 names garbage; 2 always the first page */
};

/* The test's handle on the one policy state a machine makes. */
static struct fifo *the_fifo;
static unsigned creates, destroys;

static void *fifo_create(const struct xvm_pdpolicy_env *env)
{
    struct fifo *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->env = *env;
    f->prev = calloc(env->npages, sizeof(uint32_t));
    f->next = calloc(env->npages, sizeof(uint32_t));
    f->queued = calloc(env->npages, 1);
    f->head = f->tail = f->pinned = f->cursor = f->first = XVM_PDP_NONE;
    the_fifo = f;
    creates++;
    return f;
}

static void fifo_destroy(void *st)
{
    struct fifo *f = st;
    free(f->prev);
    free(f->next);
    free(f->queued);
    free(f);
    the_fifo = NULL;
    destroys++;
}

static void unlink_page(struct fifo *f, uint32_t pg)
{
    if (f->cursor == pg)
        f->cursor = f->next[pg];
    if (f->prev[pg] != XVM_PDP_NONE)
        f->next[f->prev[pg]] = f->next[pg];
    else
        f->head = f->next[pg];
    if (f->next[pg] != XVM_PDP_NONE)
        f->prev[f->next[pg]] = f->prev[pg];
    else
        f->tail = f->prev[pg];
    f->queued[pg] = 0;
    f->n--;
}

static void append(struct fifo *f, uint32_t pg)
{
    f->prev[pg] = f->tail;
    f->next[pg] = XVM_PDP_NONE;
    if (f->tail != XVM_PDP_NONE)
        f->next[f->tail] = pg;
    else
        f->head = pg;
    f->tail = pg;
    f->queued[pg] = 1;
    f->n++;
}

static void fifo_enqueue(void *st, uint32_t pg, unsigned flags)
{
    struct fifo *f = st;
    (void)flags;
    assert_true(pg < f->env.npages && !f->queued[pg]);
    f->enqueues++;
    if (f->first == XVM_PDP_NONE)
        f->first = pg;
    append(f, pg);
}

/* FIFO ignores use; a victim that could not go goes to the back. */
static void fifo_activate(void *st, uint32_t pg)
{
    struct fifo *f = st;
    f->activates++;
    if (pg < f->env.npages && f->queued[pg] && f->cursor == pg) {
        unlink_page(f, pg);
        append(f, pg);
    }
}

static void fifo_dequeue(void *st, uint32_t pg)
{
    struct fifo *f = st;
    assert_true(pg < f->env.npages && f->queued[pg]);
    f->dequeues++;
    unlink_page(f, pg);
}

static void fifo_scan_init(void *st)
{
    struct fifo *f = st;
    f->cursor = f->head;
}

static uint32_t fifo_select(void *st)
{
    struct fifo *f = st;
    f->selects++;
    if (f->mode == 1)
        return f->selects & 1 ? f->env.npages + 7 : 0; /* garbage */
    if (f->mode == 2)
        return f->first; /* the same page, whatever happens to it */
    while (f->cursor != XVM_PDP_NONE && f->cursor == f->pinned)
        f->cursor = f->next[f->cursor];
    return f->cursor;
}

static void fifo_stats(const void *st, struct xvm_pdpolicy_stats *out)
{
    const struct fifo *f = st;
    memset(out, 0, sizeof(*out));
    out->inactive = f->n;
    out->scans = f->selects;
}

static int fifo_check(const void *st, char *msg, size_t len)
{
    struct fifo *f = (struct fifo *)st;
    uint32_t n = 0;
    f->checks++;
    for (uint32_t p = f->head; p != XVM_PDP_NONE; p = f->next[p])
        if (++n > f->n || !f->queued[p]) {
            snprintf(msg, len, "fifo: list broken at %u", p);
            return EINVAL;
        }
    if (n != f->n) {
        snprintf(msg, len, "fifo: %u listed, %u counted", n, f->n);
        return EINVAL;
    }
    return 0;
}

static const struct xvm_pdpolicy_ops fifo_ops = {
    .name = "fifo",
    .create = fifo_create,
    .destroy = fifo_destroy,
    .enqueue = fifo_enqueue,
    .activate = fifo_activate,
    .dequeue = fifo_dequeue,
    .scan_init = fifo_scan_init,
    .select_victim = fifo_select,
    .stats = fifo_stats,
    .check = fifo_check,
};

static xvm_machine *machine_with(uint64_t ram, const char *policy,
                                 const struct xvm_pdpolicy_ops *ops)
{
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    cfg.ram_bytes = ram;
    cfg.policy = policy;
    cfg.policy_ops = ops;
    xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    return m;
}

/*
 * Reads a pattern object of 3 x RAM pages, page by page, twice, after
 * reading page 0 once.  => whether page 0 kept its first frame; *fills
 * how many fills the pager made.
 */
static bool scan_keeps_page0(xvm_machine *m, bool pin, unsigned *fills)
{
    struct pattern pt = { .seed = 5 };
    struct patmap pm;
    uint8_t v;
    struct xvm_page_info pi0, pi;
    patmap_up(m, &pt, 3 * (1u << 20) / PG, &pm);
    assert_int_equal(xvm_read(pm.vs, pm.a, &v, 1), 0);
    assert_int_equal(xvm_page_info(pm.vs, pm.a, &pi0), 0);
    assert_int_equal(pi0.kind, XVM_PAGE_RAM);
    if (pin) /* frames are numbered from the physical address 0 */
        the_fifo->pinned = (uint32_t)(pi0.pa / PG);
    for (int round = 0; round < 2; round++)
        patmap_read_all(&pm, &pt, 1);
    assert_int_equal(xvm_page_info(pm.vs, pm.a, &pi), 0);
    bool kept = pi.kind == XVM_PAGE_RAM && pi.pa == pi0.pa;
    assert_int_equal(xvm_read(pm.vs, pm.a + 9, &v, 1), 0);
    assert_int_equal(v, pattern(&pt, 0, 9));
    *fills = pt.fills;
    check(m);
    patmap_down(&pm);
    return kept;
}

/* The machine runs on our FIFO: it is created, told of every pageable
 * page, asked for victims and checked; a page it never picks stays. */
static void test_user_policy_decides_what_goes(void **state)
{
    (void)state;
    unsigned fills_fifo, fills_clock;
    creates = destroys = 0;
    xvm_machine *m = machine_with(1u << 20, "ignored: ops win", &fifo_ops);
    assert_int_equal(creates, 1);
    assert_non_null(the_fifo);
    struct fifo *f = the_fifo;
    assert_true(f->env.npages == (1u << 20) / PG);
    assert_true(scan_keeps_page0(m, true, &fills_fifo));
    assert_true(f->enqueues >= fills_fifo); /* every fill, and anons */
    assert_true(f->selects > 0 && f->dequeues > 0);
    assert_true(f->checks > 0); /* the machine checker asked */
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.pages_inactive, f->n); /* our counters, reported */
    assert_true(st.pd_freed > 0);
    xvm_machine_destroy(m);
    assert_int_equal(destroys, 1);
    assert_null(the_fifo);

    /* The built-in clock, on the same reads: page 0, used once, goes. */
    m = machine_with(1u << 20, "clock", NULL);
    assert_false(scan_keeps_page0(m, false, &fills_clock));
    xvm_machine_destroy(m);
}

/* A policy that names garbage, or a page that cannot go, stops a scan:
 * the access that needed memory fails, nothing hangs or breaks. */
static void test_user_policy_bad_victims_stop_the_scan(void **state)
{
    (void)state;
    for (int mode = 1; mode <= 2; mode++) {
        xvm_machine *m = machine_with(512u << 10, NULL, &fifo_ops);
        struct pattern pt = { .seed = 1 };
        struct patmap pm;
        uint8_t v;
        the_fifo->mode = mode;
        patmap_up(m, &pt, 256, &pm); /* 1 MiB through 512 KiB */
        /* Mode 2 names the first page queued: wire it, so it cannot go
         * (mlock faults it in: the object's page 0 is the first). */
        assert_int_equal(xvm_mlock(pm.vs, pm.a, PG), 0);
        int e = 0;
        for (uint64_t p = 0; p < pm.pages && e == 0; p++)
            e = xvm_read(pm.vs, pm.a + p * PG, &v, 1);
        assert_int_equal(e, ENOMEM);
        assert_true(the_fifo->selects > 0);
        /* Bounded: at most 2 x npages picks per scan. */
        check(m);
        assert_int_equal(xvm_read(pm.vs, pm.a, &v, 1), 0);
        assert_int_equal(v, pattern(&pt, 0, 0));
        patmap_down(&pm);
        xvm_machine_destroy(m);
    }
}

/* Choosing: by name among the built-ins, or an ops table with what a
 * policy cannot do without; a built-in can be wrapped. */
static unsigned wrapped_selects;

static uint32_t counting_select(void *st)
{
    wrapped_selects++;
    return xvm_pdpolicy_builtin("clock")->select_victim(st);
}

/* Without scan_init: the victim is simply the oldest page. */
static uint32_t oldest(void *st)
{
    struct fifo *f = st;
    f->selects++;
    return f->head;
}

static void test_policy_config_choices(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg);
    assert_string_equal(cfg.policy, "clock");
    assert_null(cfg.policy_ops);
    const struct xvm_pdpolicy_ops *clock = xvm_pdpolicy_builtin("clock");
    assert_non_null(clock);
    assert_string_equal(clock->name, "clock");
    assert_null(xvm_pdpolicy_builtin("lru"));
    assert_null(xvm_pdpolicy_builtin(NULL));
    cfg.policy = "lru";
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    struct xvm_pdpolicy_ops partial = fifo_ops;
    partial.select_victim = NULL;
    cfg.policy_ops = &partial;
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    partial = fifo_ops;
    partial.create = NULL;
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    /* Only the required members: the rest do nothing. */
    struct xvm_pdpolicy_ops minimal = {
        .create = fifo_create,
        .enqueue = fifo_enqueue,
        .activate = fifo_activate,
        .dequeue = fifo_dequeue,
        .select_victim = oldest,
    };
    struct pattern pt = { .seed = 2 };
    struct patmap pm;
    cfg.policy_ops = &minimal;
    cfg.ram_bytes = 512u << 10;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    struct fifo *f = the_fifo;
    patmap_up(m, &pt, 256, &pm);
    patmap_read_all(&pm, &pt, 0);
    assert_true(f->selects > 0);
    check(m);
    patmap_down(&pm);
    xvm_machine_destroy(m);
    fifo_destroy(f); /* no destroy member: the state is ours to free */
    /* The built-in clock, wrapped to count its picks. */
    struct xvm_pdpolicy_ops counting = *clock;
    counting.name = "counting clock";
    counting.select_victim = counting_select;
    cfg.policy_ops = &counting;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    patmap_up(m, &pt, 256, &pm);
    patmap_read_all(&pm, &pt, 0);
    assert_true(wrapped_selects > 0);
    check(m);
    patmap_down(&pm);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_pager_ram_pages_private_shared_and_freed),
        cmocka_unit_test(test_user_pager_frees_a_lent_page),
        cmocka_unit_test(test_user_pager_put_when_ram_runs_out),
        cmocka_unit_test(test_user_pager_put_that_keeps_its_page),
        cmocka_unit_test(test_user_pager_put_that_frees_and_fails),
        cmocka_unit_test(test_user_pager_stacked_on_another_object),
        cmocka_unit_test(test_user_pager_device_pages),
        cmocka_unit_test(test_user_pager_bad_pages_are_eio),
        cmocka_unit_test(test_user_pager_get_that_names_no_page_is_eio),
        cmocka_unit_test(test_user_pager_error_reaches_mlock_as_it_is),
        cmocka_unit_test(test_user_pager_calling_back_into_the_vm_is_edeadlk),
        cmocka_unit_test(test_user_pager_zero_page_neighbours_are_not_writable),
        cmocka_unit_test(test_user_policy_decides_what_goes),
        cmocka_unit_test(test_user_policy_bad_victims_stop_the_scan),
        cmocka_unit_test(test_policy_config_choices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
