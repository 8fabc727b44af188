/*
 * The consistency checker: walks the whole machine and verifies every
 * invariant the other layers rely on.  Costs O(everything); for tests,
 * fuzzers and debugging, never on a hot path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amap.h"
#include "machine.h"
#include "map.h"
#include "object.h"
#include "pmap.h"
#include "vmspace.h"

/* An amap reached from some entry: references and per-slot coverage. */
struct amap_seen {
    struct amap *am;
    uint64_t refs;
    uint32_t *cover;
};

struct ck {
    struct xvm_machine *m;
    char *msg;
    size_t len;
    int error;
    struct hmap amaps;          /* amap -> index in seen[] */
    struct amap_seen *seen;
    size_t nseen, capseen;
    struct hmap anons;          /* anon -> slots seen */
    struct hmap ptes;           /* page -> valid PTEs mapping it */
    struct pv_key *keys;        /* scratch: one PV list's (pmap, va) */
    size_t capkeys;
    struct hmap wired;          /* RAM page -> wired PTEs seen */
    /* per-pmap walk state */
    struct xvm_vmspace *vs;
    uint64_t leaves, tables;
};

static int fail(struct ck *ck, const char *fmt, ...)
{
    if (ck->error)
        return ck->error;
    va_list ap;
    va_start(ap, fmt);
    if (ck->msg && ck->len)
        vsnprintf(ck->msg, ck->len, fmt, ap);
    va_end(ap);
    ck->error = EINVAL;
    return EINVAL;
}

static uint64_t key(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static void bump(struct ck *ck, struct hmap *h, uint64_t k, uint64_t by)
{
    uint64_t v = 0;
    (void)hmap_get(h, k, &v);
    if (hmap_put(ck->m, h, k, v + by))
        fail(ck, "checker: out of host memory");
}

/* Frames: every frame free xor in use, counts add up to RAM size. */
static void check_frames(struct ck *ck)
{
    struct xvm_machine *m = ck->m;
    struct physmem *ph = &m->phys;
    uint64_t by_use[XVM_USE_COUNT] = { 0 }, onlist = 0;

    for (uint32_t i = 0; i < ph->npages; i++) {
        struct vm_page *pg = &ph->pages[i];
        if (pg->use >= XVM_USE_COUNT)
            return (void)fail(ck, "frame %u: bad use %u", i, pg->use);
        bool listed = i < ph->fresh;
        if ((pg->use == XVM_USE_FREE && listed) != ((pg->flags & PG_FREE) != 0))
            return (void)fail(ck, "frame %u: free flag disagrees with use", i);
        if (pg->use == XVM_USE_FREE && pg->pv)
            return (void)fail(ck, "frame %u: free but mapped", i);
        by_use[pg->use]++;
    }
    for (uint32_t i = ph->free_head; i != UINT32_MAX; i = ph->pages[i].next_free) {
        if (i >= ph->fresh || !(ph->pages[i].flags & PG_FREE) ||
            ++onlist > ph->nfree)
            return (void)fail(ck, "free list corrupt at frame %u", i);
    }
    if (onlist + (ph->npages - ph->fresh) != ph->nfree ||
        by_use[XVM_USE_FREE] != ph->nfree)
        return (void)fail(ck, "free list holds %llu frames, %llu are free",
                          (unsigned long long)onlist,
                          (unsigned long long)by_use[XVM_USE_FREE]);
    uint64_t sum = 0;
    for (int u = 0; u < XVM_USE_COUNT; u++) {
        sum += by_use[u];
        if (by_use[u] != m->st.pages[u])
            return (void)fail(ck, "%s frames: counted %llu, found %llu",
                              xvm_use_name(u),
                              (unsigned long long)m->st.pages[u],
                              (unsigned long long)by_use[u]);
    }
    if (sum != m->st.ram_pages)
        return (void)fail(ck, "frames add up to %llu, RAM has %llu",
                          (unsigned long long)sum,
                          (unsigned long long)m->st.ram_pages);
    if (phys_page(m, m->zero_page)->use != XVM_USE_ZERO)
        return (void)fail(ck, "zero page lost");
}

static struct amap_seen *seen(struct ck *ck, struct amap *am)
{
    uint64_t i;
    if (hmap_get(&ck->amaps, key(am), &i))
        return &ck->seen[i];
    if (ck->nseen == ck->capseen) {
        size_t ncap = ck->capseen ? ck->capseen * 2 : 16;
        struct amap_seen *n = realloc(ck->seen, ncap * sizeof(*n));
        if (n == NULL)
            return fail(ck, "checker: out of host memory"), NULL;
        ck->seen = n;
        ck->capseen = ncap;
    }
    struct amap_seen *as = &ck->seen[ck->nseen];
    as->am = am;
    as->refs = 0;
    as->cover = calloc(am->nslot ? am->nslot : 1, sizeof(*as->cover));
    if (as->cover == NULL || hmap_put(ck->m, &ck->amaps, key(am), ck->nseen)) {
        free(as->cover);
        return fail(ck, "checker: out of host memory"), NULL;
    }
    ck->nseen++;
    return as;
}

/* The treap: search order, heap order, size; the list: sorted, disjoint. */
static uint64_t check_treap(struct ck *ck, struct vm_map_entry *t,
                            uint64_t lo, uint64_t hi)
{
    if (t == NULL)
        return 0;
    if (t->start < lo || t->start >= hi)
        fail(ck, "map tree out of order at %#llx", (unsigned long long)t->start);
    if ((t->left && t->left->prio > t->prio) ||
        (t->right && t->right->prio > t->prio))
        fail(ck, "map tree heap order broken at %#llx",
             (unsigned long long)t->start);
    return 1 + check_treap(ck, t->left, lo, t->start) +
           check_treap(ck, t->right, t->start + 1, hi);
}

static void check_map(struct ck *ck, struct xvm_vmspace *vs)
{
    struct xvm_machine *m = ck->m;
    struct vm_map *map = &vs->map;
    struct vm_map_entry *e;
    uint64_t n = 0, prev_end = map->minva;

    if (check_treap(ck, map->root, 0, UINT64_MAX) != map->nentries)
        fail(ck, "map tree size differs from entry count");
    map_foreach(map, e) {
        n++;
        if (e->next->prev != e || e->prev->next != e)
            return (void)fail(ck, "map list links broken");
        if (e->start >= e->end || e->start < prev_end || e->end > map->maxva ||
            (e->start | e->end) & (m->pgsz - 1))
            return (void)fail(ck, "entry [%#llx, %#llx) misplaced",
                              (unsigned long long)e->start,
                              (unsigned long long)e->end);
        if (map_lookup(map, e->start) != e)
            return (void)fail(ck, "lookup of %#llx misses its entry",
                              (unsigned long long)e->start);
        if ((e->prot & e->maxprot) != e->prot)
            return (void)fail(ck, "entry %#llx: prot exceeds max_protection",
                              (unsigned long long)e->start);
        uint64_t np = (e->end - e->start) >> m->pgshift;
        if (e->amap) {
            if (e->aoff + np > e->amap->nslot)
                return (void)fail(ck, "entry %#llx: past its amap",
                                  (unsigned long long)e->start);
            struct amap_seen *as = seen(ck, e->amap);
            if (as == NULL)
                return;
            as->refs++;
            for (uint64_t s = 0; s < np; s++)
                as->cover[e->aoff + s]++;
            if (e->amap->ppref == NULL && (e->aoff != 0 || np != e->amap->nslot))
                return (void)fail(ck, "entry %#llx: partial amap reference "
                                  "without ppref", (unsigned long long)e->start);
        } else if (e->cow && !e->needs_copy) {
            return (void)fail(ck, "entry %#llx: private, no amap, no needs-copy",
                              (unsigned long long)e->start);
        }
        if (e->obj && e->obj->refs == 0)
            return (void)fail(ck, "entry %#llx: dead object",
                              (unsigned long long)e->start);
        prev_end = e->end;
    }
    if (n != map->nentries)
        fail(ck, "map has %llu entries, counted %llu",
             (unsigned long long)n, (unsigned long long)map->nentries);
}

/* Amaps: references, slot/back-pointer agreement, per-page references. */
static void check_amaps(struct ck *ck)
{
    uint64_t k, refs;
    for (size_t i = 0; i < ck->nseen && !ck->error; i++) {
        struct amap *am = ck->seen[i].am;
        const uint32_t *cover = ck->seen[i].cover;
        refs = ck->seen[i].refs;
        if (am->ref != refs)
            return (void)fail(ck, "amap %p: ref %u, referenced by %llu entries",
                              (void *)am, am->ref, (unsigned long long)refs);
        uint32_t used = 0;
        for (uint32_t s = 0; s < am->nslot; s++) {
            if (am->anon[s] == NULL)
                continue;
            used++;
            if (am->bckptr[s] >= am->nused || am->slots[am->bckptr[s]] != s)
                return (void)fail(ck, "amap %p slot %u: am_slots[am_bckptr[x]] != x",
                                  (void *)am, s);
            bump(ck, &ck->anons, key(am->anon[s]), 1);
            if (cover[s] == 0)
                return (void)fail(ck, "amap %p slot %u: anon nobody maps",
                                  (void *)am, s);
        }
        for (uint32_t s = 0; am->ppref && s < am->nslot; s++) {
            if ((uint32_t)am->ppref[s] != cover[s])
                return (void)fail(ck, "amap %p slot %u: ppref %d, covered %u times",
                                  (void *)am, s, am->ppref[s], cover[s]);
        }
        if (used != am->nused)
            return (void)fail(ck, "amap %p: nused %u, %u slots used",
                              (void *)am, am->nused, used);
    }
    for (size_t i = 0; hmap_next(&ck->anons, &i, &k, &refs) && !ck->error;) {
        struct anon *an = (struct anon *)(uintptr_t)k;
        if (an->ref != refs)
            return (void)fail(ck, "anon %p: ref %u, in %llu slots",
                              (void *)an, an->ref, (unsigned long long)refs);
        if (page_is_device(an->page))
            return (void)fail(ck, "anon %p holds a device page", (void *)an);
        struct vm_page *pg = phys_page(ck->m, an->page);
        if (pg->use != XVM_USE_ANON || pg->owner.anon != an)
            return (void)fail(ck, "anon %p: its page is not an anon page",
                              (void *)an);
    }
    uint64_t anon_frames = ck->m->st.pages[XVM_USE_ANON];
    if (ck->anons.n != anon_frames)
        fail(ck, "%llu anons reachable, %llu anon frames",
             (unsigned long long)ck->anons.n, (unsigned long long)anon_frames);
}

/* Objects: resident pages belong to them at their offsets. */
static void check_objects(struct ck *ck)
{
    for (struct xvm_object *o = ck->m->objects; o && !ck->error; o = o->next) {
        uint64_t off, v;
        if (o->refs == 0)
            return (void)fail(ck, "object %p on the list with no reference",
                              (void *)o);
        for (size_t i = 0; hmap_next(&o->pages, &i, &off, &v);) {
            struct vm_page *pg = phys_page(ck->m, v);
            if (page_is_device(v) || pg->owner.obj != o || pg->offset != off ||
                pg->use != o->use)
                return (void)fail(ck, "object %p: page at %#llx misowned",
                                  (void *)o, (unsigned long long)off);
        }
    }
}


/* => the page the map says va should show, or PAGEH_NONE when unknown. */
static pageh expected_page(struct ck *ck, struct vm_map_entry *e, uint64_t va)
{
    struct xvm_machine *m = ck->m;
    if (e->amap) {
        struct anon *an = amap_lookup(e->amap, e->aoff + ((va - e->start) >> m->pgshift));
        if (an)
            return an->page;
    }
    if (e->obj == NULL)
        return m->zero_page;
    pageh pg;
    if (e->obj->ops->get(e->obj, e->offset + (va - e->start),
                        PGO_LOCKED | PGO_QUIET, &pg))
        return PAGEH_NONE;
    return pg;
}

static void visit_pte(void *arg, uint64_t va, uint64_t pte)
{
    struct ck *ck = arg;
    struct xvm_machine *m = ck->m;
    struct xvm_vmspace *vs = ck->vs;
    if (ck->error)
        return;
    ck->leaves++;
    pageh pg = phys_lookup(m, pte_frame_pa(m, pte));
    if (pg == PAGEH_NONE)
        return (void)fail(ck, "va %#llx maps unmanaged memory",
                          (unsigned long long)va);
    if (!page_is_device(pg) && phys_page(m, pg)->use == XVM_USE_FREE)
        return (void)fail(ck, "va %#llx maps a free frame", (unsigned long long)va);
    /* Each page's PTEs are counted here and matched against its PV list
     * in check_pv: a scan of the list per PTE would be quadratic. */
    bump(ck, &ck->ptes, pg, 1);
    struct pv_entry *pv = pmap_pv_at(vs->pmap, va);
    if (pv == NULL || pv->pmap != vs->pmap || pv->va != va)
        return (void)fail(ck, "va %#llx: the leaf table's PV entry is wrong",
                          (unsigned long long)va);
    struct vm_map_entry *e = map_lookup(&vs->map, va);
    if (e == NULL)
        return (void)fail(ck, "va %#llx mapped outside every entry",
                          (unsigned long long)va);
    unsigned prot = (pte & PTE_R ? XVM_PROT_READ : 0) |
                    (pte & PTE_W ? XVM_PROT_WRITE : 0) |
                    (pte & PTE_X ? XVM_PROT_EXEC : 0);
    if ((prot & e->prot) != prot)
        return (void)fail(ck, "va %#llx: PTE allows more than the entry",
                          (unsigned long long)va);
    pageh want = expected_page(ck, e, va);
    if (want != PAGEH_NONE && want != pg)
        return (void)fail(ck, "va %#llx maps the wrong page", (unsigned long long)va);
    if ((pte & PTE_WIRED) && !page_is_device(pg))
        bump(ck, &ck->wired, pg, 1);
    if ((pte & PTE_W) && (page_is_device(pg) || pg == m->zero_page))
        return (void)fail(ck, "va %#llx: writable %s page", (unsigned long long)va,
                          page_is_device(pg) ? "device" : "zero");
}

static void visit_table(void *arg, pageh t, unsigned level, unsigned valid)
{
    struct ck *ck = arg;
    struct vm_page *tp = phys_page(ck->m, t);
    (void)level;
    ck->tables++;
    if (tp->use != XVM_USE_PAGETABLE || tp->offset != valid)
        fail(ck, "page table frame: use %u, counts %llu valid of %u",
             tp->use, (unsigned long long)tp->offset, valid);
}

/* Stale-epoch tables hide write bits: only a current one can be checked. */
static void check_pmap(struct ck *ck, struct xvm_vmspace *vs)
{
    ck->vs = vs;
    ck->leaves = ck->tables = 0;
    pmap_visit(vs->pmap, visit_pte, ck);
    pmap_visit_tables(vs->pmap, visit_table, ck);
    if (ck->leaves != vs->pmap->resident)
        fail(ck, "pmap: %llu valid PTEs, resident count %llu",
             (unsigned long long)ck->leaves,
             (unsigned long long)vs->pmap->resident);
    if (ck->tables != vs->pmap->ptpages)
        fail(ck, "pmap: %llu tables, counted %llu",
             (unsigned long long)ck->tables,
             (unsigned long long)vs->pmap->ptpages);
}

/* A RAM page's wire count is the number of wired PTEs mapping it. */
static void check_wired(struct ck *ck)
{
    struct xvm_machine *m = ck->m;
    for (uint32_t i = 0; i < m->phys.npages && !ck->error; i++) {
        uint64_t n = 0;
        (void)hmap_get(&ck->wired, page_ram(i), &n);
        if (m->phys.pages[i].use != XVM_USE_FREE && m->phys.pages[i].wire != n)
            fail(ck, "frame %u: wire count %u, %llu wired mappings", i,
                 (unsigned)m->phys.pages[i].wire, (unsigned long long)n);
    }
}

/* Every PV entry names a live pmap whose PTE maps that page. */
struct pv_key {
    uintptr_t pmap;
    uint64_t va;
};

static int key_cmp(const void *a, const void *b)
{
    const struct pv_key *x = a, *y = b;
    if (x->pmap != y->pmap)
        return x->pmap < y->pmap ? -1 : 1;
    return x->va < y->va ? -1 : x->va > y->va;
}

/*
 * One page's PV list: every entry names a PTE that maps this page, no
 * entry twice, and as many entries as PTEs map the page (so the two are
 * the same set).  => the list's length.
 */
static uint64_t check_pv_list(struct ck *ck, pageh pg)
{
    uint64_t n = 0, ptes = 0;
    for (struct pv_entry *pv = pmap_pv_head(ck->m, pg); pv; pv = pv->next) {
        uint64_t pa;
        if (pmap_extract(pv->pmap, pv->va, &pa) ||
            m_trunc(ck->m, pa) != phys_addr(ck->m, pg)) {
            fail(ck, "PV entry for va %#llx has no matching PTE",
                 (unsigned long long)pv->va);
            return n;
        }
        if (n == ck->capkeys) {
            size_t cap = ck->capkeys ? 2 * ck->capkeys : 64;
            struct pv_key *k = realloc(ck->keys, cap * sizeof(*k));
            if (k == NULL)
                return fail(ck, "checker: out of host memory"), n;
            ck->keys = k;
            ck->capkeys = cap;
        }
        ck->keys[n++] = (struct pv_key){ (uintptr_t)pv->pmap, pv->va };
    }
    if (n > 1)
        qsort(ck->keys, (size_t)n, sizeof(*ck->keys), key_cmp);
    for (uint64_t i = 1; i < n; i++)
        if (key_cmp(&ck->keys[i - 1], &ck->keys[i]) == 0)
            return fail(ck, "PV entry for va %#llx listed twice",
                        (unsigned long long)ck->keys[i].va), n;
    (void)hmap_get(&ck->ptes, pg, &ptes);
    if (ptes != n)
        fail(ck, "page mapped by %llu PTEs has %llu PV entries",
             (unsigned long long)ptes, (unsigned long long)n);
    return n;
}

static void check_pv(struct ck *ck)
{
    struct xvm_machine *m = ck->m;
    uint64_t total = 0, dev = 0, k, v;
    for (uint32_t i = 0; i < m->phys.npages && !ck->error; i++)
        total += check_pv_list(ck, page_ram(i));
    for (size_t i = 0; hmap_next(&m->devpv, &i, &k, &v) && !ck->error;) {
        if (!page_is_device(k) || v == 0)
            return (void)fail(ck, "device PV hash holds a bad key");
        dev += check_pv_list(ck, k);
    }
    for (size_t i = 0; hmap_next(&ck->ptes, &i, &k, &v) && !ck->error;)
        if (page_is_device(k) && !hmap_get(&m->devpv, k, NULL))
            return (void)fail(ck, "device page mapped without PV entries");
    if (total + dev != m->st.pv_entries || dev != m->st.pv_device)
        fail(ck, "PV entries: counted %llu (%llu device), found %llu (%llu)",
             (unsigned long long)m->st.pv_entries,
             (unsigned long long)m->st.pv_device,
             (unsigned long long)(total + dev), (unsigned long long)dev);
}

/* Live TLB entries agree with the page tables they cache. */
static void check_tlb(struct ck *ck)
{
    struct xvm_machine *m = ck->m;
    for (struct xvm_vmspace *vs = m->spaces; vs && !ck->error; vs = vs->next) {
        for (uint64_t i = 0; i <= m->tlb.mask; i++) {
            struct tlbent *e = &m->tlb.ent[i];
            uint64_t pa;
            if (e->asid != vs->pmap->asid)
                continue;
            if (tlb_slot(&m->tlb, e->asid, e->vpn) != e)
                return (void)fail(ck, "TLB entry in the wrong slot");
            if (pmap_extract(vs->pmap, e->vpn << m->pgshift, &pa) ||
                pa != e->pa || e->host != phys_data(m, phys_lookup(m, pa)))
                return (void)fail(ck, "TLB entry for va %#llx is stale",
                                  (unsigned long long)(e->vpn << m->pgshift));
            if (e->perm & XVM_PROT_WRITE &&
                page_is_device(phys_lookup(m, pa)))
                return (void)fail(ck, "TLB grants write to a device page");
            /* A live entry was filled from a current table: it may grant
             * no more than its PTE, and write only where no copy shares. */
            uint64_t va = e->vpn << m->pgshift, pte = pmap_pte(vs->pmap, va);
            unsigned allow = (pte & PTE_R ? XVM_PROT_READ : 0) |
                             (pte & PTE_X ? XVM_PROT_EXEC : 0) |
                             ((pte & (PTE_W | PTE_MOD)) == (PTE_W | PTE_MOD)
                                  ? XVM_PROT_WRITE : 0);
            if (e->perm & ~allow)
                return (void)fail(ck, "TLB entry for va %#llx grants more "
                                  "than its PTE", (unsigned long long)va);
            if (!(e->perm & XVM_PROT_WRITE))
                continue;
            struct vm_page *pg = phys_page(m, phys_lookup(m, pa));
            struct vm_map_entry *me = map_lookup(&vs->map, va);
            if (me == NULL || !(me->prot & XVM_PROT_WRITE) ||
                (pg->use == XVM_USE_ANON ? pg->owner.anon->ref != 1 : me->cow))
                return (void)fail(ck, "TLB grants write to va %#llx, whose "
                                  "page is shared copy-on-write",
                                  (unsigned long long)va);
        }
    }
}

int xvm_machine_check(xvm_machine *m, char *msg, size_t msglen)
{
    if (m == NULL)
        return EINVAL;
    struct ck ck = { .m = m, .msg = msg, .len = msglen };
    /* The checker's own allocations must not shift fault injection. */
    uint64_t nalloc = m->nalloc, fail_at = m->fail_alloc_at;
    m->fail_alloc_at = 0;
    hmap_init(&ck.amaps);
    hmap_init(&ck.anons);
    hmap_init(&ck.ptes);
    hmap_init(&ck.wired);
    check_frames(&ck);
    for (struct xvm_vmspace *vs = m->spaces; vs && !ck.error; vs = vs->next)
        check_map(&ck, vs);
    if (!ck.error)
        check_amaps(&ck);
    if (!ck.error)
        check_objects(&ck);
    for (struct xvm_vmspace *vs = m->spaces; vs && !ck.error; vs = vs->next)
        check_pmap(&ck, vs);
    if (!ck.error)
        check_wired(&ck);
    if (!ck.error)
        check_pv(&ck);
    if (!ck.error)
        check_tlb(&ck);
    hmap_fini(m, &ck.amaps);
    hmap_fini(m, &ck.anons);
    hmap_fini(m, &ck.ptes);
    free(ck.keys);
    hmap_fini(m, &ck.wired);
    for (size_t i = 0; i < ck.nseen; i++)
        free(ck.seen[i].cover);
    free(ck.seen);
    m->nalloc = nalloc;
    m->fail_alloc_at = fail_at;
    if (!ck.error && msg && msglen)
        msg[0] = '\0';
    return ck.error;
}
