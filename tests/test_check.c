/*
 * The checkers catch what they are for: each test corrupts one invariant
 * of one layer on a real machine (or hands a check a crafted input), and
 * asserts the whole-machine checker names it; the repair makes it pass
 * again.  A checker that never fails in the tests is unverified.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "amap.h"
#include "fstree.h"
#include "kmem.h"
#include "machine.h"
#include "pmap.h"
#include "vmspace.h"

#define RW (XVM_PROT_READ | XVM_PROT_WRITE)

/* Runs the checker: it must fail, naming `what`. */
static void expect_fail(xvm_machine *m, const char *what)
{
    char msg[256];
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), EINVAL);
    if (strstr(msg, what) == NULL)
        fail_msg("checker said \"%s\", expected \"%s\"", msg, what);
}

/* The raw PTE bytes of va in vs (sgimips: 4-byte big-endian, 10/10/12). */
static uint8_t *pte_bytes(xvm_machine *m, xvm_vmspace *vs, uint64_t va)
{
    assert_string_equal(m->core.prof->name, "sgimips");
    const uint8_t *p =
        pmap_table_entry(&m->mmu, vs->pmap->root, (va >> 22) & 1023);
    assert_non_null(p);
    uint64_t pde = (uint64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
    assert_true(pde & PTE_V);
    pageh leaf = phys_lookup(&m->ph, (pde >> 12) << 12);
    uint8_t *pte = pmap_table_entry(&m->mmu, leaf, (va >> 12) & 1023);
    assert_non_null(pte);
    return pte;
}

static void flip_pte(xvm_machine *m, xvm_vmspace *vs, uint64_t va,
                     uint32_t bits)
{
    uint8_t *p = pte_bytes(m, vs, va);
    p[3] ^= (uint8_t)bits;
    p[2] ^= (uint8_t)(bits >> 8);
}

/* A machine with two processes sharing copy-on-write anonymous pages. */
struct scene {
    xvm_machine *m;
    xvm_vmspace *p, *c;
    uint64_t a; /* 4 anonymous pages, page 0 written */
};

static void scene_up(struct scene *s)
{
    s->m = tm_machine("sgimips", 4u << 20, 0);
    s->p = tm_vs(s->m);
    s->a = tm_anon(s->p, 4, RW, XVM_MAP_PRIVATE);
    tm_wr8(s->p, s->a, 7);
    (void)tm_rd8(s->p, s->a + PG); /* the zero page, read-only */
    s->c = tm_fork(s->p);
    assert_int_equal(tm_rd8(s->c, s->a), 7);
    tm_check(s->m);
}

static void scene_down(struct scene *s)
{
    tm_check(s->m);
    xvm_machine_destroy(s->m);
}

/* ---- physmem ---- */

static void test_check_phys_catches_a_miscounted_use(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    s.m->ph.use[XVM_USE_ANON].cur++;
    expect_fail(s.m, "anon frames: counted");
    s.m->ph.use[XVM_USE_ANON].cur--;
    scene_down(&s);
}

static void test_check_phys_catches_a_used_frame_marked_free(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    struct vm_page *pg = phys_page(&s.m->ph, s.m->ph.zero_page);
    pg->flags |= PG_FREE;
    expect_fail(s.m, "free flag disagrees");
    pg->flags &= (uint8_t)~PG_FREE;
    scene_down(&s);
}

/* ---- pmap ---- */

static void test_check_pmap_catches_a_writable_zero_page(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    flip_pte(s.m, s.p, s.a + PG, PTE_W);
    expect_fail(s.m, "writable zero page");
    flip_pte(s.m, s.p, s.a + PG, PTE_W);
    scene_down(&s);
}

static void test_check_pmap_catches_a_pte_on_a_free_frame(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    uint8_t *p = pte_bytes(s.m, s.p, s.a + PG);
    uint8_t saved[4];
    memcpy(saved, p, 4);
    /* The last frame of RAM was never used. */
    uint32_t pfn = s.m->ph.npages - 1;
    p[0] = (uint8_t)(pfn >> 12);
    p[1] = (uint8_t)(pfn >> 4);
    p[2] = (uint8_t)((pfn << 4) | (p[2] & 0x0f));
    expect_fail(s.m, "maps a free frame");
    memcpy(p, saved, 4);
    scene_down(&s);
}

static void test_check_pmap_catches_wrong_counts(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    s.p->pmap->resident++;
    expect_fail(s.m, "resident count");
    s.p->pmap->resident--;
    s.p->pmap->ptpages++;
    expect_fail(s.m, "tables, counted");
    s.p->pmap->ptpages--;
    struct pt_dir *root = pmap_table_dir(&s.m->mmu, s.p->pmap->root);
    root->valid++;
    expect_fail(s.m, "page table frame");
    root->valid--;
    /* The pmap links a copy of the root's directory, not its own: every
     * walk still finds the same tables. */
    struct pt_dir *linked = s.p->pmap->root_dir;
    size_t dsize = sizeof(*linked) + s.m->mmu.nchunk * sizeof(uint8_t *);
    struct pt_dir *copy = malloc(dsize);
    assert_non_null(copy);
    memcpy(copy, linked, dsize);
    s.p->pmap->root_dir = copy;
    s.p->pmap->hint_dir = NULL;
    expect_fail(s.m, "links another directory");
    s.p->pmap->root_dir = linked;
    free(copy);
    gauge_add(&s.m->mmu.pv, 1);
    expect_fail(s.m, "PV entries: counted");
    gauge_add(&s.m->mmu.pv, -1);
    scene_down(&s);
}

static void test_check_pmap_catches_a_wrong_wire_count(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    uint64_t pa;
    assert_int_equal(xvm_extract(s.p, s.a, &pa), 0);
    struct vm_page *pg = phys_page(&s.m->ph, phys_lookup(&s.m->ph, pa));
    pg->wire++;
    expect_fail(s.m, "wire count");
    pg->wire--;
    scene_down(&s);
}

static void test_check_pmap_catches_stale_and_misplaced_tlb_entries(
    void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    assert_int_equal(tm_rd8(s.p, s.a), 7);
    struct tlbent *e = tlb_slot(&s.m->mmu.tlb, s.p->pmap->asid, s.a >> 12);
    assert_true(e->asid == s.p->pmap->asid);
    e->pa += PG;
    expect_fail(s.m, "is stale");
    e->pa -= PG;
    e->vpn += 1; /* a tag of the next slot */
    expect_fail(s.m, "wrong slot");
    e->vpn -= 1;
    /* An address space that reads the shared empty entry has none. */
    struct tlbent *win = s.p->pmap->tlb_win;
    s.p->pmap->tlb_win = &s.m->mmu.tlb_empty;
    expect_fail(s.m, "reads none");
    s.p->pmap->tlb_win = win;
    s.m->mmu.tlb_empty.asid = s.c->pmap->asid;
    expect_fail(s.m, "empty TLB entry");
    s.m->mmu.tlb_empty.asid = 0;
    scene_down(&s);
}

static void test_check_pmap_catches_a_pte_on_unmanaged_memory(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    uint8_t *p = pte_bytes(s.m, s.p, s.a + PG);
    uint8_t saved[4];
    memcpy(saved, p, 4);
    p[0] = 0x3f; /* frame 0x3ff00: neither RAM nor device */
    p[1] = 0xf0;
    p[2] = (uint8_t)(p[2] & 0x0f);
    expect_fail(s.m, "unmanaged memory");
    memcpy(p, saved, 4);
    scene_down(&s);
}

/* The leaf table of va in vs (which keeps each PTE's PV). */
static pageh leaf_table(xvm_machine *m, xvm_vmspace *vs, uint64_t va)
{
    const uint8_t *p =
        pmap_table_entry(&m->mmu, vs->pmap->root, (va >> 22) & 1023);
    assert_non_null(p);
    uint64_t pde = (uint64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
    return phys_lookup(&m->ph, (pde >> 12) << 12);
}

static void test_check_pmap_catches_pv_lists_that_disagree(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    /* Page 0 of the range is one anon mapped by parent and child. */
    assert_int_equal(tm_rd8(s.c, s.a), 7);
    uint64_t pa;
    assert_int_equal(xvm_extract(s.p, s.a, &pa), 0);
    struct vm_page *pg = phys_page(&s.m->ph, phys_lookup(&s.m->ph, pa));
    assert_non_null(pg->pv);
    assert_non_null(pg->pv->next);

    /* One of its two entries dropped from the list. */
    struct pv_entry *head = pg->pv;
    pg->pv = head->next;
    expect_fail(s.m, "has 1 PV entries");
    pg->pv = head;

    /* An entry listed twice. */
    struct pv_entry twin = *head;
    twin.next = head;
    pg->pv = &twin;
    expect_fail(s.m, "listed twice");
    pg->pv = head;

    /* The PTE's own PV pointer names another mapping. */
    unsigned i = (unsigned)((s.a >> 12) & 1023);
    struct pv_entry **slot =
        pmap_table_pv(&s.m->mmu, leaf_table(s.m, s.p, s.a), i);
    assert_non_null(slot);
    struct pv_entry *mine = *slot;
    *slot = *pmap_table_pv(&s.m->mmu, leaf_table(s.m, s.c, s.a), i);
    expect_fail(s.m, "PV entry is wrong");
    *slot = mine;
    scene_down(&s);
}

static void test_check_pmap_catches_a_pv_entry_without_its_pte(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    /* The child's mapping of page 0 vanishes from its table, counts and
     * all, while its PV entry stays on the page's list. */
    assert_int_equal(tm_rd8(s.c, s.a), 7);
    struct pt_dir *leaf = pmap_table_dir(&s.m->mmu, leaf_table(s.m, s.c, s.a));
    flip_pte(s.m, s.c, s.a, PTE_V);
    leaf->valid--;
    s.c->pmap->resident--;
    struct tlbent *e = tlb_slot(&s.m->mmu.tlb, s.c->pmap->asid, s.a >> 12);
    uint64_t asid = e->asid;
    e->asid = 0;
    expect_fail(s.m, "has no matching PTE");
    flip_pte(s.m, s.c, s.a, PTE_V);
    leaf->valid++;
    s.c->pmap->resident++;
    e->asid = asid;
    scene_down(&s);
}

/* Device memory mapped read-only by the parent. */
static uint64_t map_device(struct scene *s, uint8_t **bytes)
{
    *bytes = calloc(1, 2 * PG);
    assert_non_null(*bytes);
    (*bytes)[0] = 0x5a;
    assert_int_equal(xvm_physload_device(s->m, 0x10000000, 2 * PG, *bytes), 0);
    xvm_object *obj;
    assert_int_equal(xvm_devobj_create(s->m, 0x10000000, 2 * PG, &obj), 0);
    uint64_t d = 0;
    assert_int_equal(
        xvm_mmap(s->p, &d, 2 * PG, XVM_PROT_READ, XVM_MAP_SHARED, obj, 0), 0);
    xvm_object_release(obj);
    assert_int_equal(tm_rd8(s->p, d), 0x5a);
    tm_check(s->m);
    return d;
}

static void test_check_pmap_catches_device_page_faults(void **state)
{
    (void)state;
    struct scene s;
    uint8_t *bytes;
    scene_up(&s);
    uint64_t d = map_device(&s, &bytes);
    struct mmu *mu = &s.m->mmu;
    pageh dev = page_device(0x10000000);

    /* The TLB lets a write through to flash. */
    struct tlbent *e = tlb_slot(&mu->tlb, s.p->pmap->asid, d >> 12);
    assert_true(e->asid == s.p->pmap->asid && e->dev != NULL);
    e->perm |= XVM_PROT_WRITE;
    expect_fail(s.m, "TLB grants write to a device page");
    e->perm &= ~(unsigned)XVM_PROT_WRITE;

    /* Its PV list is lost from the machine's device hash. */
    uint64_t head;
    assert_true(hmap_get(&mu->devpv, dev, &head));
    hmap_del(&mu->devpv, dev);
    expect_fail(s.m, "device page mapped without PV");
    assert_int_equal(hmap_put(&s.m->core, &mu->devpv, dev, head), 0);

    /* The hash holds a key that is not a device page. */
    assert_int_equal(hmap_put(&s.m->core, &mu->devpv, 0x2000, head), 0);
    expect_fail(s.m, "bad key");
    hmap_del(&mu->devpv, 0x2000);

    xvm_vmspace_destroy(s.p);
    xvm_vmspace_destroy(s.c);
    scene_down(&s);
    free(bytes);
}

/* ---- amap and anon, with crafted coverage ---- */

static void test_check_amap_catches_each_broken_invariant(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    struct vm_map_entry *e = map_lookup(&s.p->map, s.a);
    assert_non_null(e);
    /* The parent's first write made it an amap of its own, shared by the
     * child's entry after fork: two references, slot 0 used. */
    struct amap *am = e->amap;
    assert_non_null(am);
    uint32_t cover[4] = { 2, 2, 2, 2 };
    struct check ck = { 0 };
    amap_check(am, am->ref, cover, &ck);
    assert_int_equal(ck.error, 0);

    struct check c1 = { 0 };
    char msg[200];
    c1.msg = msg, c1.len = sizeof(msg);
    amap_check(am, am->ref + 1, cover, &c1);
    assert_non_null(strstr(msg, "referenced by"));

    struct check c2 = { .msg = msg, .len = sizeof(msg) };
    uint32_t none[4] = { 0, 0, 0, 0 };
    amap_check(am, am->ref, none, &c2);
    assert_non_null(strstr(msg, "anon nobody maps"));

    struct check c3 = { .msg = msg, .len = sizeof(msg) };
    am->nused++;
    amap_check(am, am->ref, cover, &c3);
    assert_non_null(strstr(msg, "nused"));
    am->nused--;

    struct check c4 = { .msg = msg, .len = sizeof(msg) };
    uint32_t slot = am->slots[0];
    am->bckptr[slot] ^= 1;
    amap_check(am, am->ref, cover, &c4);
    assert_non_null(strstr(msg, "am_bckptr"));
    am->bckptr[slot] ^= 1;

    struct anon *an = am->anon[slot];
    struct check c5 = { .msg = msg, .len = sizeof(msg) };
    anon_check(&s.m->vm, an, an->ref + 1, &c5);
    assert_non_null(strstr(msg, "slots"));
    scene_down(&s);
}

static void test_check_amap_catches_a_wrong_ppref(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    /* Splitting the parent's entry makes per-page references explicit. */
    assert_int_equal(xvm_mprotect(s.p, s.a + 2 * PG, PG, XVM_PROT_READ), 0);
    struct amap *am = map_lookup(&s.p->map, s.a)->amap;
    assert_non_null(am->ppref);
    am->ppref[3]++;
    expect_fail(s.m, "ppref");
    am->ppref[3]--;
    scene_down(&s);
}

/* ---- map ---- */

static void test_check_map_catches_entry_faults(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    struct vm_map_entry *e = map_lookup(&s.p->map, s.a);
    e->maxprot = XVM_PROT_READ;
    expect_fail(s.m, "exceeds max_protection");
    e->maxprot = XVM_PROT_ALL;
    s.p->map.nentries++;
    expect_fail(s.m, "entry count");
    s.p->map.nentries--;
    /* The tree's idea of the free space before the first entry. */
    struct mt_node *leaf = s.p->map.tree.root;
    while (!leaf->leaf)
        leaf = leaf->u.c[0];
    leaf->gap[0]++;
    expect_fail(s.m, "map tree key or gap");
    leaf->gap[0]--;
    leaf->key[0]++;
    expect_fail(s.m, "map tree key or gap");
    leaf->key[0]--;
    /* A hint that is not one of the map's entries. */
    struct vm_map_entry stray = *e;
    s.p->map.hint = &stray;
    expect_fail(s.m, "map hint");
    s.p->map.hint = e;
    tm_check(s.m);
    scene_down(&s);
}

/* ---- vm: what the PTEs and TLB say against the map ---- */

static void test_check_vm_catches_a_pte_beyond_its_entry(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    struct vm_map_entry *e = map_lookup(&s.p->map, s.a);
    e->prot = XVM_PROT_NONE; /* lowered behind the pmap's back */
    expect_fail(s.m, "allows more than the entry");
    e->prot = RW;
    scene_down(&s);
}

static void test_check_vm_catches_a_tlb_write_to_a_shared_page(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    /* The child reads the page it shares with its parent. */
    assert_int_equal(tm_rd8(s.c, s.a), 7);
    struct tlbent *e = tlb_slot(&s.m->mmu.tlb, s.c->pmap->asid, s.a >> 12);
    assert_true(e->asid == s.c->pmap->asid && !(e->perm & XVM_PROT_WRITE));
    /* Grant write in the PTE and TLB: the anon is still shared. */
    flip_pte(s.m, s.c, s.a, PTE_W | PTE_MOD);
    e->perm |= XVM_PROT_WRITE;
    expect_fail(s.m, "shared copy-on-write");
    flip_pte(s.m, s.c, s.a, PTE_W | PTE_MOD);
    e->asid = 0;
    scene_down(&s);
}

/* ---- objects, vfs, buffer cache, processes ---- */

struct fsx {
    char *tree;
    char img[1024];
};

static int fs_setup(void **state)
{
    struct fsx *fx = calloc(1, sizeof(*fx));
    fx->tree = tree_new();
    tree_file(fx->tree, "bin/data", 5 * PG + 100, 3);
    image_make_in(fx->img, sizeof(fx->img), fx->tree, "check.img", fx->tree, 2,
                  "little", 16384, 2048);
    *state = fx;
    return 0;
}

static int fs_teardown(void **state)
{
    struct fsx *fx = *state;
    tree_remove(fx->tree);
    free(fx);
    return 0;
}

static void test_check_objects_vfs_and_buffers_catch_corruption(void **state)
{
    struct fsx *fx = *state;
    struct tm_world w;
    tm_world_up(&w, "sgimips", 4u << 20, 0, fx->img, 0, 0);
    xvm_file *f;
    assert_int_equal(xvm_open(w.mp, "/bin/data", XVM_O_RDONLY, &f), 0);
    uint8_t b[8];
    assert_int_equal(xvm_pread(f, PG, b, sizeof(b), NULL), 0);
    tm_check(w.m);

    struct xvm_object *obj = f->vp->obj;
    pageh pg = object_page(obj, PG);
    assert_true(pg != PAGEH_NONE);
    phys_page(&w.m->ph, pg)->offset += PG;
    expect_fail(w.m, "misowned");
    phys_page(&w.m->ph, pg)->offset -= PG;

    /* The page index: a count that is off, a frame past RAM. */
    obj->pages.n++;
    expect_fail(w.m, "runs count");
    obj->pages.n--;
    uint64_t word = runs_get(&obj->pages, 1), chunk;
    assert_int_equal(word, (pg >> 1) + 1); /* page 1: its frame, plus one */
    assert_true(hmap_get(&obj->pages.chunks, 1 / RUNS_LEN, &chunk));
    uint32_t *frames = (uint32_t *)(uintptr_t)chunk;
    frames[1 % RUNS_LEN] = w.m->ph.nframes + 1;
    expect_fail(w.m, "not RAM");
    frames[1 % RUNS_LEN] = (uint32_t)word;

    obj->size += PG;
    expect_fail(w.m, "object size");
    obj->size -= PG;

    struct bufcache *bc = &w.mp->bc;
    assert_true(bc->n > 0);
    struct vm_page *bp = phys_page(&w.m->ph, bc->bufs[0].frame);
    bp->use = XVM_USE_ANON;
    gauge_add(&w.m->ph.use[XVM_USE_BUFFER], -1);
    gauge_add(&w.m->ph.use[XVM_USE_ANON], 1);
    expect_fail(w.m, "not a buffer");
    bp->use = XVM_USE_BUFFER;
    gauge_add(&w.m->ph.use[XVM_USE_BUFFER], 1);
    gauge_add(&w.m->ph.use[XVM_USE_ANON], -1);
    tm_check(w.m);
    xvm_close(f);
    tm_world_down(&w);
}

/* ---- kmem, the page queues, swap ---- */

/* => a kernel slab frame of m (one exists once a vmspace does). */
static struct vm_page *a_slab(xvm_machine *m)
{
    for (uint32_t i = 0; i < m->ph.npages; i++) {
        struct vm_page *pg = &m->ph.pages[i];
        if (pg->use == XVM_USE_KERNEL && pg->owner.kc)
            return pg;
    }
    fail_msg("no kernel slab");
    return NULL;
}

static void test_check_kmem_catches_slab_faults(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    struct vm_page *slab = a_slab(s.m);
    slab->offset++;
    expect_fail(s.m, "kmem:");
    slab->offset--;
    slab->owner.kc->slabs++;
    expect_fail(s.m, "kmem:");
    slab->owner.kc->slabs--;
    uint64_t off = slab->offset;
    slab->offset = 0;
    expect_fail(s.m, "holds 0 objects");
    slab->offset = off;
    scene_down(&s);
}

/* => an anon page of the scene (queued on the page daemon's queues). */
static struct vm_page *an_anon_page(xvm_machine *m)
{
    for (uint32_t i = 0; i < m->ph.npages; i++)
        if (m->ph.pages[i].use == XVM_USE_ANON)
            return &m->ph.pages[i];
    fail_msg("no anon page");
    return NULL;
}

static void test_check_pagedaemon_catches_queue_faults(void **state)
{
    (void)state;
    struct scene s;
    scene_up(&s);
    struct vm_page *pg = an_anon_page(s.m);
    pg->flags &= (uint8_t)~PG_QUEUED;
    expect_fail(s.m, "missing from the page queues");
    pg->flags |= PG_QUEUED;
    uint8_t q = pg->flags & (PG_ACTIVE | PG_INACTIVE);
    pg->flags ^= PG_ACTIVE | PG_INACTIVE; /* on one queue, flagged the other */
    expect_fail(s.m, "queue broken");
    pg->flags = (uint8_t)((pg->flags & ~(PG_ACTIVE | PG_INACTIVE)) | q);
    s.m->objs.pd.execpages++;
    expect_fail(s.m, "exec pages counted");
    s.m->objs.pd.execpages--;
    scene_down(&s);
}

static void test_check_swap_catches_lost_slots(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 64 * PG, 0);
    struct xvm_swap_config sc;
    xvm_swap_config_init(&sc);
    sc.bytes = 1u << 20;
    assert_int_equal(xvm_swapon(m, &sc), 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = tm_anon(vs, 128, RW, XVM_MAP_PRIVATE);
    for (unsigned p = 0; p < 128; p++)
        tm_wr8(vs, a + p * PG, (uint8_t)p);
    tm_check(m);
    m->devs.swap->used.cur++;
    expect_fail(m, "swap:");
    m->devs.swap->used.cur--;
    /* An anon in swap whose slot is forgotten. */
    struct vm_map_entry *e = map_lookup(&vs->map, a);
    struct anon *out = NULL;
    for (uint32_t k = 0; k < e->amap->nused && out == NULL; k++) {
        struct anon *an = e->amap->anon[e->amap->slots[k]];
        if (an->page == PAGEH_NONE)
            out = an;
    }
    assert_non_null(out);
    uint32_t slot = out->swslot;
    out->swslot = 0;
    expect_fail(m, "neither in RAM nor in a swap slot");
    out->swslot = slot;
    tm_check(m);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_phys_catches_a_miscounted_use),
        cmocka_unit_test(test_check_phys_catches_a_used_frame_marked_free),
        cmocka_unit_test(test_check_pmap_catches_a_writable_zero_page),
        cmocka_unit_test(test_check_pmap_catches_a_pte_on_a_free_frame),
        cmocka_unit_test(test_check_pmap_catches_wrong_counts),
        cmocka_unit_test(test_check_pmap_catches_a_wrong_wire_count),
        cmocka_unit_test(
            test_check_pmap_catches_stale_and_misplaced_tlb_entries),
        cmocka_unit_test(test_check_pmap_catches_a_pte_on_unmanaged_memory),
        cmocka_unit_test(test_check_pmap_catches_pv_lists_that_disagree),
        cmocka_unit_test(test_check_pmap_catches_a_pv_entry_without_its_pte),
        cmocka_unit_test(test_check_pmap_catches_device_page_faults),
        cmocka_unit_test(test_check_amap_catches_each_broken_invariant),
        cmocka_unit_test(test_check_amap_catches_a_wrong_ppref),
        cmocka_unit_test(test_check_map_catches_entry_faults),
        cmocka_unit_test(test_check_vm_catches_a_pte_beyond_its_entry),
        cmocka_unit_test(test_check_vm_catches_a_tlb_write_to_a_shared_page),
        cmocka_unit_test(test_check_objects_vfs_and_buffers_catch_corruption),
        cmocka_unit_test(test_check_kmem_catches_slab_faults),
        cmocka_unit_test(test_check_pagedaemon_catches_queue_faults),
        cmocka_unit_test(test_check_swap_catches_lost_slots),
    };
    return cmocka_run_group_tests(tests, fs_setup, fs_teardown);
}
