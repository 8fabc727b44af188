/*
 * pmap: page tables in simulated RAM, PV tracking, and the MMU walk.
 *
 * Table pages are frames taken from simulated RAM (XVM_USE_PAGETABLE);
 * each table's vm_page counts its valid entries in `offset`, so a table
 * emptied by pmap_remove is freed at once.
 *
 * Fork write-protects the parent in O(1): pmap_write_protect_all() bumps
 * the pmap's epoch and takes a fresh asid (dropping its TLB entries).  A
 * leaf table whose epoch is behind is "stale": before anything reads or
 * enters a PTE through it (pt_leaf), its write bits are cleared in one
 * pass.  Clearing a write bit is always safe: at worst the next write
 * takes a fault that re-enters the page writable.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "machine.h"
#include "pmap.h"
#include "pool.h"

static struct vm_page *table_page(struct xvm_machine *m, pageh t)
{
    return phys_page(m, t);
}

static unsigned level_entries(const struct xvm_machine *m, unsigned level)
{
    return 1u << m->prof->level_bits[level];
}

static unsigned level_index(const struct xvm_machine *m, unsigned level,
                            uint64_t va)
{
    return (unsigned)(va >> m->lvl_shift[level]) & (level_entries(m, level) - 1);
}

/* Fixed-size loads and stores by byte order; compilers make them single
 * moves (plus a byte swap for the foreign order). */
static uint64_t ld_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static uint64_t ld_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

static void st_le(uint8_t *p, unsigned n, uint64_t v)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> (8 * k));
}

static void st_be(uint8_t *p, unsigned n, uint64_t v)
{
    for (unsigned k = n; k-- > 0; v >>= 8)
        p[k] = (uint8_t)v;
}

static inline uint64_t pte_load(const struct xvm_machine *m, const uint8_t *tbl,
                                unsigned i)
{
    if (m->prof->pte_size == 8)
        return m->prof->big_endian ? ld_be(tbl + 8 * (size_t)i, 8)
                                   : ld_le(tbl + 8 * (size_t)i, 8);
    return m->prof->big_endian ? ld_be(tbl + 4 * (size_t)i, 4)
                               : ld_le(tbl + 4 * (size_t)i, 4);
}

static inline void pte_store(const struct xvm_machine *m, uint8_t *tbl,
                             unsigned i, uint64_t v)
{
    if (m->prof->pte_size == 8) {
        if (m->prof->big_endian)
            st_be(tbl + 8 * (size_t)i, 8, v);
        else
            st_le(tbl + 8 * (size_t)i, 8, v);
    } else if (m->prof->big_endian) {
        st_be(tbl + 4 * (size_t)i, 4, v);
    } else {
        st_le(tbl + 4 * (size_t)i, 4, v);
    }
}

uint64_t pte_frame_pa(const struct xvm_machine *m, uint64_t pte)
{
    return (pte >> 12) << m->pgshift;
}

static uint64_t pte_make(const struct xvm_machine *m, uint64_t pa, uint64_t flags)
{
    return (pa >> m->pgshift) << 12 | flags;
}

static uint64_t prot_bits(unsigned prot)
{
    return (prot & XVM_PROT_READ ? PTE_R : 0) |
           (prot & XVM_PROT_WRITE ? PTE_W : 0) |
           (prot & XVM_PROT_EXEC ? PTE_X : 0);
}

/*
 * Address-space ids: a counter times an odd constant, a bijection on 64
 * bits, so ids never repeat and their high bits are already mixed for the
 * TLB's index (no multiply on the access path).
 */
static uint64_t asid_next(struct xvm_machine *m)
{
    return m->next_asid++ * 0x9e3779b97f4a7c15ULL;
}

/* ---- PV tracking ---- */

static struct pv_entry **pv_headp(struct xvm_machine *m, pageh pg,
                                  struct pv_entry **scratch)
{
    if (!page_is_device(pg))
        return &phys_page(m, pg)->pv;
    uint64_t v = 0;
    *scratch = hmap_get(&m->devpv, pg, &v) ? (struct pv_entry *)(uintptr_t)v
                                           : NULL;
    return scratch;
}

struct pv_entry *pmap_pv_head(struct xvm_machine *m, pageh pg)
{
    struct pv_entry *scratch;
    return *pv_headp(m, pg, &scratch);
}

static void pv_count(struct xvm_machine *m, pageh pg, int delta)
{
    m->st.pv_entries += (uint64_t)(int64_t)delta;
    if (m->st.pv_entries > m->st.pv_entries_peak)
        m->st.pv_entries_peak = m->st.pv_entries;
    if (page_is_device(pg)) {
        m->st.pv_device += (uint64_t)(int64_t)delta;
        if (m->st.pv_device > m->st.pv_device_peak)
            m->st.pv_device_peak = m->st.pv_device;
    }
}

/* => pv: a preallocated entry, so this step cannot fail for RAM pages. */
static int pv_insert(struct xvm_machine *m, pageh pg, struct pv_entry *pv)
{
    struct pv_entry *scratch, **headp = pv_headp(m, pg, &scratch);
    if (page_is_device(pg) &&
        hmap_put(m, &m->devpv, pg, (uint64_t)(uintptr_t)pv))
        return ENOMEM;          /* device pages: one hash per machine (§6.3) */
    pv->prev = NULL;
    pv->next = *headp;
    if (pv->next)
        pv->next->prev = pv;
    if (!page_is_device(pg))
        *headp = pv;
    pv_count(m, pg, 1);
    return 0;
}
/* O(1): lists are doubly linked, and the leaf table knows each PTE's entry. */
static void pv_unlink(struct xvm_machine *m, pageh pg, struct pv_entry *pv)
{
    if (pv->next)
        pv->next->prev = pv->prev;
    if (pv->prev) {
        pv->prev->next = pv->next;
    } else if (!page_is_device(pg)) {
        phys_page(m, pg)->pv = pv->next;
    } else if (pv->next) {
        /* The key exists, so hmap_put cannot need memory here. */
        (void)hmap_put(m, &m->devpv, pg, (uint64_t)(uintptr_t)pv->next);
    } else {
        hmap_del(&m->devpv, pg);
    }
    pool_put(&m->pv_pool, pv);
    pv_count(m, pg, -1);
}
/* ---- tables ---- */

static void leaf_sync(struct pmap *pm, pageh leaf)
{
    struct xvm_machine *m = pm->m;
    struct vm_page *tp = table_page(m, leaf);
    if (tp->epoch == pm->epoch)
        return;
    unsigned n = level_entries(m, m->prof->levels - 1);
    for (unsigned i = 0; i < n; i++) {
        uint64_t pte = pte_load(m, tp->data, i);
        if ((pte & (PTE_V | PTE_W)) == (PTE_V | PTE_W))
            pte_store(m, tp->data, i, pte & ~(uint64_t)PTE_W);
    }
    tp->epoch = pm->epoch;
}

static int table_alloc(struct pmap *pm, pageh *out)
{
    int error = phys_alloc(pm->m, XVM_USE_PAGETABLE, true, out);
    if (error)
        return error;
    table_page(pm->m, *out)->epoch = pm->epoch;
    pm->ptpages++;
    return 0;
}

static void table_free(struct pmap *pm, pageh t)
{
    m_free(pm->m, table_page(pm->m, t)->owner.ptpv);
    phys_free(pm->m, t);
    pm->ptpages--;
    pm->hint_leaf = PAGEH_NONE;
}

/*
 * => the leaf table covering va in *leaf, made current (leaf_sync).
 * => create: allocate missing tables (ENOMEM); else ENOENT when absent.
 */
static int pt_leaf(struct pmap *pm, uint64_t va, bool create, bool sync,
                   pageh *leaf)
{
    struct xvm_machine *m = pm->m;
    pageh t = pm->root;
    /* Faults and misses come in runs: the last leaf found is the hint. */
    uint64_t key = va >> m->lvl_shift[m->prof->levels - 2];
    if (pm->hint_leaf != PAGEH_NONE && pm->hint_key == key) {
        if (sync)
            leaf_sync(pm, pm->hint_leaf);
        *leaf = pm->hint_leaf;
        return 0;
    }
    for (unsigned l = 0; l + 1 < m->prof->levels; l++) {
        struct vm_page *tp = table_page(m, t);
        unsigned i = level_index(m, l, va);
        uint64_t pte = pte_load(m, tp->data, i);
        if (!(pte & PTE_V)) {
            if (!create)
                return ENOENT;
            pageh nt;
            int error = table_alloc(pm, &nt);
            if (error)
                return error;
            pte = pte_make(m, phys_addr(m, nt), PTE_V);
            pte_store(m, tp->data, i, pte);
            tp->offset++;
        }
        t = phys_lookup(m, pte_frame_pa(m, pte));
    }
    if (sync)
        leaf_sync(pm, t);
    pm->hint_key = key;
    pm->hint_leaf = t;
    *leaf = t;
    return 0;
}

int pmap_create(struct xvm_machine *m, struct pmap **out)
{
    struct pmap *pm = m_zalloc(m, sizeof(*pm));
    if (pm == NULL)
        return ENOMEM;
    pm->m = m;
    pm->asid = asid_next(m);
    pm->hint_leaf = PAGEH_NONE;
    int error = table_alloc(pm, &pm->root);
    if (error) {
        m_free(m, pm);
        return error;
    }
    *out = pm;
    return 0;
}

struct pv_entry *pmap_pv_at(struct pmap *pm, uint64_t va)
{
    pageh leaf;
    if (va >= pm->m->prof->va_max || pt_leaf(pm, va, false, false, &leaf))
        return NULL;
    struct pv_entry **ptpv = table_page(pm->m, leaf)->owner.ptpv;
    return ptpv ? ptpv[level_index(pm->m, pm->m->prof->levels - 1, va)] : NULL;
}

/* Removes one valid leaf mapping: PV, counts, TLB. */
static void leaf_zap(struct pmap *pm, struct vm_page *tp, unsigned i,
                     uint64_t va, uint64_t pte)
{
    struct xvm_machine *m = pm->m;
    pageh pg = phys_lookup(m, pte_frame_pa(m, pte));
    struct pv_entry *pv = tp->owner.ptpv[i];
    assert(pv != NULL && pv->pmap == pm && pv->va == va);
    pv_unlink(m, pg, pv);
    tp->owner.ptpv[i] = NULL;
    if ((pte & PTE_WIRED) && !page_is_device(pg))
        phys_page(m, pg)->wire--;
    pte_store(m, tp->data, i, 0);
    tp->offset--;
    pm->resident--;
    tlb_invalidate(&m->tlb, pm->asid, va >> m->pgshift);
}

/*
 * Recursive walk over [sva, eva) below table t (level l, covering from
 * base).  prot < 0: remove mappings and free tables left empty; else
 * lower leaf protection to prot.
 */
static void pt_range(struct pmap *pm, pageh t, unsigned l, uint64_t base,
                     uint64_t sva, uint64_t eva, int prot)
{
    struct xvm_machine *m = pm->m;
    struct vm_page *tp = table_page(m, t);
    unsigned shift = m->lvl_shift[l];
    uint64_t span = (uint64_t)level_entries(m, l) << shift;
    uint64_t lo = sva > base ? sva : base;
    uint64_t hi = eva - base < span ? eva : base + span;
    bool leaf = l + 1 == m->prof->levels;

    for (uint64_t i = (lo - base) >> shift; i <= (hi - 1 - base) >> shift; i++) {
        if (tp->offset == 0)
            break;
        uint64_t pte = pte_load(m, tp->data, (unsigned)i);
        if (!(pte & PTE_V))
            continue;
        uint64_t va = base + (i << shift);
        if (!leaf) {
            pageh child = phys_lookup(m, pte_frame_pa(m, pte));
            pt_range(pm, child, l + 1, va, sva, eva, prot);
            if (prot < 0 && table_page(m, child)->offset == 0) {
                table_free(pm, child);
                pte_store(m, tp->data, (unsigned)i, 0);
                tp->offset--;
            }
        } else if (prot < 0 || (!(prot & (XVM_PROT_READ | XVM_PROT_EXEC)) &&
                                !(pte & PTE_WIRED))) {
            leaf_zap(pm, tp, (unsigned)i, va, pte);
        } else {
            /* Lower the bits; a wired mapping stays, without access. */
            uint64_t npte = pte & ~(prot_bits(~(unsigned)prot & XVM_PROT_ALL));
            if (npte != pte) {
                pte_store(m, tp->data, (unsigned)i, npte);
                tlb_invalidate(&m->tlb, pm->asid, va >> m->pgshift);
            }
        }
    }
}

void pmap_remove(struct pmap *pm, uint64_t sva, uint64_t eva)
{
    if (sva < eva)
        pt_range(pm, pm->root, 0, 0, sva, eva, -1);
}

void pmap_protect(struct pmap *pm, uint64_t sva, uint64_t eva, unsigned prot)
{
    if (sva < eva)
        pt_range(pm, pm->root, 0, 0, sva, eva, (int)(prot & XVM_PROT_ALL));
}

void pmap_destroy(struct pmap *pm)
{
    struct xvm_machine *m = pm->m;
    pmap_remove(pm, 0, m->prof->va_max);
    assert(pm->resident == 0);
    table_free(pm, pm->root);
    m_free(m, pm);
}

int pmap_enter(struct pmap *pm, uint64_t va, pageh pg, unsigned prot,
               unsigned flags)
{
    struct xvm_machine *m = pm->m;
    if (page_is_device(pg) && (prot & XVM_PROT_WRITE))
        return EINVAL;          /* a write never reaches a device page */
    if (va >= m->prof->va_max)
        return EINVAL;

    pageh leaf;
    int error = pt_leaf(pm, va, true, true, &leaf);
    if (error)
        return error;
    struct vm_page *tp = table_page(m, leaf);
    unsigned i = level_index(m, m->prof->levels - 1, va);
    uint64_t old = pte_load(m, tp->data, i);
    uint64_t pa = phys_addr(m, pg);
    uint64_t nflags = PTE_V | PTE_U | prot_bits(prot) |
                      (flags & PMAP_WIRED ? PTE_WIRED : 0);

    if ((old & PTE_V) && pte_frame_pa(m, old) == pa) {
        /* Same page: change protection, keep referenced/modified. */
        if ((flags & PMAP_WIRED) && !(old & PTE_WIRED) && !page_is_device(pg))
            phys_page(m, pg)->wire++;
        nflags |= old & (PTE_REF | PTE_MOD | PTE_WIRED);
        pte_store(m, tp->data, i, pte_make(m, pa, nflags));
        tlb_invalidate(&m->tlb, pm->asid, va >> m->pgshift);
        return 0;
    }
    /* A leaf table keeps a pointer to each PTE's PV entry beside it. */
    if (tp->owner.ptpv == NULL &&
        (tp->owner.ptpv = m_zalloc(m, level_entries(m, m->prof->levels - 1) *
                                          sizeof(*tp->owner.ptpv))) == NULL)
        return ENOMEM;
    struct pv_entry *pv = pool_get(m, &m->pv_pool);
    if (pv == NULL)
        return ENOMEM;
    pv->pmap = pm;
    pv->va = va;
    if (pv_insert(m, pg, pv)) {
        pool_put(&m->pv_pool, pv);
        return ENOMEM;
    }
    if (old & PTE_V)
        leaf_zap(pm, tp, i, va, old);
    tp->owner.ptpv[i] = pv;
    pte_store(m, tp->data, i, pte_make(m, pa, nflags));
    tp->offset++;
    pm->resident++;
    if ((flags & PMAP_WIRED) && !page_is_device(pg))
        phys_page(m, pg)->wire++;
    tlb_invalidate(&m->tlb, pm->asid, va >> m->pgshift);
    return 0;
}

/*
 * => the leaf PTE slot for va, or NULL when no table covers it.
 * => sync: make a stale table current first; only paths that grant
 *    access need it (lowering, testing and reading never do).
 */
static uint8_t *pte_slot(struct pmap *pm, uint64_t va, bool sync, unsigned *idx)
{
    pageh leaf;
    if (va >= pm->m->prof->va_max || pt_leaf(pm, va, false, sync, &leaf))
        return NULL;
    *idx = level_index(pm->m, pm->m->prof->levels - 1, va);
    return table_page(pm->m, leaf)->data;
}

int pmap_extract(struct pmap *pm, uint64_t va, uint64_t *pa)
{
    unsigned i;
    uint8_t *tbl = pte_slot(pm, va, false, &i);
    uint64_t pte = tbl ? pte_load(pm->m, tbl, i) : 0;
    if (!(pte & PTE_V))
        return EFAULT;
    *pa = pte_frame_pa(pm->m, pte) | (va & (pm->m->pgsz - 1));
    return 0;
}

uint64_t pmap_pte(struct pmap *pm, uint64_t va)
{
    unsigned i;
    uint8_t *tbl = pte_slot(pm, va, false, &i);
    return tbl ? pte_load(pm->m, tbl, i) : 0;
}

void pmap_unwire(struct pmap *pm, uint64_t va)
{
    unsigned i;
    uint8_t *tbl = pte_slot(pm, va, false, &i);
    uint64_t pte = tbl ? pte_load(pm->m, tbl, i) : 0;
    if ((pte & (PTE_V | PTE_WIRED)) != (PTE_V | PTE_WIRED))
        return;
    pte_store(pm->m, tbl, i, pte & ~(uint64_t)PTE_WIRED);
    pageh pg = phys_lookup(pm->m, pte_frame_pa(pm->m, pte));
    if (!page_is_device(pg))
        phys_page(pm->m, pg)->wire--;
}

void pmap_write_protect_all(struct pmap *pm)
{
    pm->epoch++;
    pm->asid = asid_next(pm->m);
    pm->m->st.tlb_flushes++;
}

/*
 * Applies op to the PTE of every mapping of pg.
 * op: 0 = lower protection to prot, 1 = clear bits, 2 = test bits.
 */
static bool pv_apply(struct xvm_machine *m, pageh pg, int op, uint64_t bits,
                     unsigned prot)
{
    struct pv_entry *pv = pmap_pv_head(m, pg), *next;
    for (; pv; pv = next) {
        next = pv->next;
        struct pmap *pm = pv->pmap;
        unsigned i;
        uint8_t *tbl = pte_slot(pm, pv->va, false, &i);
        assert(tbl != NULL);
        uint64_t pte = pte_load(m, tbl, i);
        if (op == 2) {
            if (pte & bits)
                return true;
            continue;
        }
        if (op == 0 && !(prot & (XVM_PROT_READ | XVM_PROT_EXEC))) {
            pmap_remove(pm, pv->va, pv->va + m->pgsz);
            continue;
        }
        uint64_t npte = op == 0 ? pte & ~prot_bits(~prot & XVM_PROT_ALL)
                                : pte & ~bits;
        if (npte != pte) {
            pte_store(m, tbl, i, npte);
            tlb_invalidate(&m->tlb, pm->asid, pv->va >> m->pgshift);
        }
    }
    return false;
}

void pmap_page_protect(struct xvm_machine *m, pageh pg, unsigned prot)
{
    (void)pv_apply(m, pg, 0, 0, prot);
}

bool pmap_is_modified(struct xvm_machine *m, pageh pg)
{
    return pv_apply(m, pg, 2, PTE_MOD, 0);
}

bool pmap_is_referenced(struct xvm_machine *m, pageh pg)
{
    return pv_apply(m, pg, 2, PTE_REF, 0);
}

void pmap_clear_modify(struct xvm_machine *m, pageh pg)
{
    (void)pv_apply(m, pg, 1, PTE_MOD, 0);
}

void pmap_clear_reference(struct xvm_machine *m, pageh pg)
{
    (void)pv_apply(m, pg, 1, PTE_REF, 0);
}

int pmap_translate(struct pmap *pm, uint64_t va, unsigned access,
                   struct tlbent **out)
{
    struct xvm_machine *m = pm->m;
    unsigned i;
    uint8_t *tbl = pte_slot(pm, va, true, &i);
    uint64_t pte = tbl ? pte_load(m, tbl, i) : 0;

    if (!(pte & PTE_V))
        return EFAULT;
    if ((prot_bits(access) & pte) != prot_bits(access))
        return EACCES;
    uint64_t npte = pte | PTE_REF | (access & XVM_PROT_WRITE ? PTE_MOD : 0);
    if (npte != pte)
        pte_store(m, tbl, i, npte);

    uint64_t pa = pte_frame_pa(m, npte);
    pageh pg = phys_lookup(m, pa);
    struct tlbent *e = tlb_slot(&m->tlb, pm->asid, va >> m->pgshift);
    e->asid = pm->asid;
    e->vpn = va >> m->pgshift;
    e->pa = pa;
    e->host = phys_data(m, pg);
    e->dev = page_is_device(pg) ? phys_dev_seg(m, pa) : NULL;
    /* Write is granted only on a modified page: the first write to a
     * clean page comes back here to set the modified bit. */
    e->perm = (npte & PTE_R ? XVM_PROT_READ : 0) |
              (npte & PTE_X ? XVM_PROT_EXEC : 0) |
              ((npte & (PTE_W | PTE_MOD)) == (PTE_W | PTE_MOD) ? XVM_PROT_WRITE : 0);
    *out = e;
    return 0;
}

static void visit_rec(struct pmap *pm, pageh t, unsigned l, uint64_t base,
                      pte_visit_fn pfn, table_visit_fn tfn, void *arg)
{
    struct xvm_machine *m = pm->m;
    struct vm_page *tp = table_page(m, t);
    unsigned n = level_entries(m, l), valid = 0;
    bool leaf = l + 1 == m->prof->levels;
    for (unsigned i = 0; i < n; i++) {
        uint64_t pte = pte_load(m, tp->data, i);
        if (!(pte & PTE_V))
            continue;
        valid++;
        uint64_t va = base + ((uint64_t)i << m->lvl_shift[l]);
        if (leaf) {
            if (pfn)
                pfn(arg, va, pte);
        } else {
            visit_rec(pm, phys_lookup(m, pte_frame_pa(m, pte)), l + 1, va,
                      pfn, tfn, arg);
        }
    }
    if (tfn)
        tfn(arg, t, l, valid);
}

void pmap_visit(struct pmap *pm, pte_visit_fn fn, void *arg)
{
    visit_rec(pm, pm->root, 0, 0, fn, NULL, arg);
}

void pmap_visit_tables(struct pmap *pm, table_visit_fn fn, void *arg)
{
    visit_rec(pm, pm->root, 0, 0, NULL, fn, arg);
}
