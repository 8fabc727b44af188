/*
 * pmap: page tables in simulated RAM, PV tracking, and the MMU walk.
 *
 * Table pages are frames taken from simulated RAM (XVM_USE_PAGETABLE)
 * with a compact host form ("tables" below); each table's directory
 * counts its valid entries, so a table emptied by pmap_remove is freed at
 * once.
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
#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "pmap.h"

static struct vm_page *table_page(const struct mmu *mu, pageh t)
{
    return phys_page(mu->ph, t);
}

static unsigned level_entries(const struct mmu *mu, unsigned level)
{
    return 1u << mu->prof->level_bits[level];
}

static unsigned level_index(const struct mmu *mu, unsigned level, uint64_t va)
{
    return (unsigned)(va >> mu->lvl_shift[level]) &
           (level_entries(mu, level) - 1);
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

static inline uint64_t pte_load(const struct mmu *mu, const uint8_t *tbl,
                                unsigned i)
{
    if (mu->prof->pte_size == 8)
        return mu->prof->big_endian ? ld_be(tbl + 8 * (size_t)i, 8)
                                    : ld_le(tbl + 8 * (size_t)i, 8);
    return mu->prof->big_endian ? ld_be(tbl + 4 * (size_t)i, 4)
                                : ld_le(tbl + 4 * (size_t)i, 4);
}

static inline void pte_store(const struct mmu *mu, uint8_t *tbl, unsigned i,
                             uint64_t v)
{
    if (mu->prof->pte_size == 8) {
        if (mu->prof->big_endian)
            st_be(tbl + 8 * (size_t)i, 8, v);
        else
            st_le(tbl + 8 * (size_t)i, 8, v);
    } else if (mu->prof->big_endian) {
        st_be(tbl + 4 * (size_t)i, 4, v);
    } else {
        st_le(tbl + 4 * (size_t)i, 4, v);
    }
}

static const uint8_t zero_line[64]; /* what 64 bytes of empty PTEs are */

static uint64_t pte_frame_pa(const struct mmu *mu, uint64_t pte)
{
    return (pte >> 12) << mu->core->pgshift;
}

static uint64_t pte_make(const struct mmu *mu, uint64_t pa, uint64_t flags)
{
    return (pa >> mu->core->pgshift) << 12 | flags;
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
static uint64_t asid_next(struct mmu *mu)
{
    return mu->next_asid++ * 0x9e3779b97f4a7c15ULL;
}

/* The software TLB's entry of va in pm's asid goes, if it is there (a
 * pmap with no entry yet reads tlb_empty: no line of the table). */
static void tlb_drop(struct pmap *pm, uint64_t va)
{
    uint64_t vpn = va >> pm->pgshift;
    tlb_invalidate(pmap_tlb_slot(pm, vpn), pm->asid, vpn);
}

/* pm's window of the TLB: its asid's slots once it has an entry there,
 * else tlb_empty (masks 0), which every lookup misses. */
static void pmap_window(struct pmap *pm, bool filled)
{
    struct mmu *mu = pm->mmu;
    pm->tlb_win = filled ? tlb_base(&mu->tlb, pm->asid) : &mu->tlb_empty;
    pm->tlb_mask = filled ? mu->tlb.mask : 0;
    pm->tlb_maskb = pm->tlb_mask << TLB_ENT_SHIFT;
}

/* A fresh asid: no entry of it yet. */
static void pmap_new_asid(struct pmap *pm)
{
    pm->asid = asid_next(pm->mmu);
    pmap_window(pm, false);
}

/*
 * The CPU's TLB model drops its entries of va where real hardware must:
 * the mapping went, changed frame or size, or lost rights.  (A new
 * mapping where none was needs no flush: no TLB holds a translation that
 * was never valid, and MIPS pmaps update a pair entry in place.)
 */
static void model_drop(struct pmap *pm, uint64_t va)
{
    if (!pm->model_flushed)
        cpu_tlb_flush_page(pm->mmu->cpu, pm->asid, va);
}

/* Removing more than this many pages flushes the TLB model's entries of
 * the address space once instead of page by page, as pmaps flush a whole
 * TLB for a large range. */
#define MODEL_FLUSH_PAGES 32

/* ---- PV tracking ---- */

/*
 * Where a page's PV list lives, by the machine's device-page design:
 *
 *   page        segment (paper)      amap-copy        vm_page (OpenBSD)
 *   RAM         its vm_page          its vm_page      its vm_page
 *   device      the machine's hash   none: untracked  its segment's vm_page
 *
 * A vm_page holds its first mapping's entry (NetBSD's pmaps embed one in
 * vm_page_md), so only further ones, and every one in the hash, are
 * kernel memory.  The charge stays with the entry it was made for.
 */
static struct vm_page *pv_page(const struct mmu *mu, pageh pg)
{
    if (!page_is_device(pg))
        return phys_page(mu->ph, pg);
    if (mu->design != XVM_DESIGN_VM_PAGE)
        return NULL;
    const struct dev_seg *d = phys_dev_seg(mu->ph, pg & ~(uint64_t)1);
    return phys_dev_page(mu->ph, d, pg);
}

static struct pv_entry *pv_alloc(struct mmu *mu, pageh pg)
{
    struct pv_entry *pv;
    struct vm_page *p = pv_page(mu, pg);
    if (p && p->pv == NULL) {
        pv = pool_get(mu->core, &mu->pv_pool);
        if (pv)
            pv->charged = false;
    } else {
        pv = kmem_alloc(mu->ph->km, XVM_KMEM_PV, 1, sizeof(*pv));
        if (pv)
            pv->charged = true;
    }
    return pv;
}

static void pv_release(struct mmu *mu, struct pv_entry *pv)
{
    if (pv->charged)
        kmem_free(mu->ph->km, XVM_KMEM_PV, 1, pv);
    else
        pool_put(&mu->pv_pool, pv);
}

static struct pv_entry **pv_headp(const struct mmu *mu, pageh pg,
                                  struct pv_entry **scratch)
{
    struct vm_page *p = pv_page(mu, pg);
    if (p)
        return &p->pv;
    uint64_t v = 0;
    *scratch = pmap_tracks(mu, pg) && hmap_get(&mu->devpv, pg, &v)
                   ? (struct pv_entry *)(uintptr_t)v
                   : NULL;
    return scratch;
}

static struct pv_entry *pv_head(const struct mmu *mu, pageh pg)
{
    struct pv_entry *scratch;
    return *pv_headp(mu, pg, &scratch);
}

static void pv_count(struct mmu *mu, pageh pg, int delta)
{
    gauge_add(&mu->pv, delta);
    if (page_is_device(pg))
        gauge_add(&mu->pv_device, delta);
}

/* The segment design's hash holds a device page's list head. */
static bool pv_in_hash(const struct mmu *mu, pageh pg)
{
    return page_is_device(pg) && mu->design == XVM_DESIGN_SEGMENT;
}

/* => pv: a preallocated entry, so this step cannot fail for RAM pages. */
static int pv_insert(struct mmu *mu, pageh pg, struct pv_entry *pv)
{
    struct pv_entry *scratch, **headp = pv_headp(mu, pg, &scratch);
    if (pv_in_hash(mu, pg) &&
        hmap_put(mu->core, &mu->devpv, pg, (uint64_t)(uintptr_t)pv))
        return ENOMEM; /* device pages: one hash per machine (§6.3) */
    pv->prev = NULL;
    pv->next = *headp;
    if (pv->next)
        pv->next->prev = pv;
    if (!pv_in_hash(mu, pg))
        *headp = pv;
    if (page_is_device(pg) && pv->next == NULL)
        gauge_add(&mu->device_mapped, 1);
    pv_count(mu, pg, 1);
    return 0;
}
/* O(1): lists are doubly linked, and the leaf table knows each PTE's entry. */
static void pv_unlink(struct mmu *mu, pageh pg, struct pv_entry *pv)
{
    if (pv->next)
        pv->next->prev = pv->prev;
    if (pv->prev) {
        pv->prev->next = pv->next;
    } else if (!pv_in_hash(mu, pg)) {
        pv_page(mu, pg)->pv = pv->next;
    } else if (pv->next) {
        /* The key exists, so hmap_put cannot need memory here. */
        (void)hmap_put(mu->core, &mu->devpv, pg, (uint64_t)(uintptr_t)pv->next);
    } else {
        hmap_del(&mu->devpv, pg);
    }
    if (page_is_device(pg) && pv->prev == NULL && pv->next == NULL)
        gauge_add(&mu->device_mapped, -1);
    pv_release(mu, pv);
    pv_count(mu, pg, -1);
}

/* Each device segment counts the PTEs that map its pages. */
static void seg_count(struct mmu *mu, pageh pg, int delta)
{
    if (page_is_device(pg))
        phys_dev_seg(mu->ph, pg & ~(uint64_t)1)->mapped += (uint64_t)delta;
}

/* ---- tables ---- */

/*
 * A table is a frame of simulated RAM (its physical address is what the
 * CPU model's walk reads, pmap_walk_pas), but its host form is compact:
 * the frame's vm_page points to a directory (struct pt_dir: the valid
 * entries, a leaf's epoch, the chunks) of chunks of PT_CHUNK entries,
 * each made the first time one of its entries is set, and a missing
 * chunk reads as invalid entries (all zeros).  A chunk holds, after its
 * PTEs, a pointer per entry: a leaf PTE's PV entry, an upper entry's
 * table (its directory), so walks go from directory to directory and
 * read no vm_page.  So a table of a few mappings costs a directory and a
 * chunk of host memory (a few hundred bytes), not a 4 KiB page, and a
 * burst of new address spaces takes no fresh host pages.  Chunks stay
 * until the table goes.  Directories and chunks come from blocks of the
 * pmap's own, carved in order (4 KiB first, then twice the last, up to
 * PT_BLOCK_MAX) and recycled within the pmap: an address space's tables
 * sit together, a few host pages, not one piece per heap corner.  Blocks
 * of pmaps gone are kept by size for the next pmaps (they come from
 * core_pack).
 */
#define PT_BLOCK_MIN 4096
#define PT_BLOCK_MAX 65536

/* Blocks of a size, of pmaps gone, for the next ones (core_pack). */
static struct pool *blk_pool(struct mmu *mu, size_t size)
{
    unsigned k = 0;
    while ((size_t)PT_BLOCK_MIN << k < size)
        k++;
    assert(k < sizeof(mu->blk_pool) / sizeof(mu->blk_pool[0]));
    return &mu->blk_pool[k];
}

static void *pt_get(struct pmap *pm, int kind)
{
    struct mmu *mu = pm->mmu;
    size_t n = mu->pt_size[kind];
    void *p = pm->pt_free[kind].free;
    if (p) {
        pm->pt_free[kind].free = pm->pt_free[kind].free->next;
    } else {
        struct pt_block *b = pm->blocks;
        if (b == NULL || b->size - pm->blk_used < n) {
            size_t size = b == NULL                ? PT_BLOCK_MIN
                          : b->size < PT_BLOCK_MAX ? 2 * b->size
                                                   : PT_BLOCK_MAX;
            if ((b = pool_get(mu->core, blk_pool(mu, size))) == NULL)
                return NULL;
            b->size = size;
            b->next = pm->blocks;
            pm->blocks = b;
            pm->blk_used = 0;
        }
        p = b->data + pm->blk_used;
        pm->blk_used += n;
    }
    memset(p, 0, n);
    return p;
}

static void pt_put(struct pmap *pm, int kind, void *p)
{
    pool_put(&pm->pt_free[kind], p);
}

/* Once its tables are gone. */
static void pt_blocks_free(struct pmap *pm)
{
    while (pm->blocks) {
        struct pt_block *b = pm->blocks;
        pm->blocks = b->next;
        pool_put(blk_pool(pm->mmu, b->size), b);
    }
}

static struct pt_dir *table_dir(const struct mmu *mu, pageh t)
{
    return table_page(mu, t)->owner.ptdir;
}

static uint8_t *pt_chunk(const struct pt_dir *d, unsigned i)
{
    return d->chunk[i / PT_CHUNK];
}

static uint64_t pte_get(const struct mmu *mu, const struct pt_dir *d,
                        unsigned i)
{
    const uint8_t *c = pt_chunk(d, i);
    return c ? pte_load(mu, c, i % PT_CHUNK) : 0;
}

/* Stores a PTE whose chunk exists (only a store of 0 may find none). */
static void pte_put(const struct mmu *mu, struct pt_dir *d, unsigned i,
                    uint64_t v)
{
    uint8_t *c = pt_chunk(d, i);
    assert(c != NULL || v == 0);
    if (c)
        pte_store(mu, c, i % PT_CHUNK, v);
}

static bool is_leaf(const struct mmu *mu, unsigned level)
{
    return level + 1 == mu->prof->levels;
}

/* The chunk of entry i, made if need be; NULL: out of host memory. */
static uint8_t *pt_chunk_make(struct pmap *pm, struct pt_dir *d, unsigned i)
{
    uint8_t **slot = &d->chunk[i / PT_CHUNK];
    if (*slot == NULL)
        *slot = pt_get(pm, PT_CHUNKS);
    return *slot;
}

/* Beside each entry, a pointer: a leaf PTE's PV entry, an upper entry's
 * table (its directory), after the chunk's PTEs. */
static void **ptr_slots(const struct mmu *mu, uint8_t *chunk)
{
    return (void **)(void *)(chunk + PT_CHUNK * mu->prof->pte_size);
}

static void **ptr_slot(const struct mmu *mu, const struct pt_dir *d, unsigned i)
{
    uint8_t *c = pt_chunk(d, i);
    return c ? &ptr_slots(mu, c)[i % PT_CHUNK] : NULL;
}

static void *ptr_get(const struct mmu *mu, const struct pt_dir *d, unsigned i)
{
    void **slot = ptr_slot(mu, d, i);
    return slot ? *slot : NULL;
}

static void leaf_sync(struct pmap *pm, struct pt_dir *d)
{
    struct mmu *mu = pm->mmu;
    if (d->epoch == pm->epoch)
        return;
    unsigned n = level_entries(mu, mu->prof->levels - 1);
    uint64_t left = d->valid; /* valid entries not yet seen */
    for (unsigned i = 0; i < n && left > 0; i++) {
        uint8_t *c = pt_chunk(d, i);
        if (c == NULL) {
            i |= PT_CHUNK - 1; /* a chunk never made: none valid */
            continue;
        }
        uint64_t pte = pte_load(mu, c, i % PT_CHUNK);
        if (!(pte & PTE_V))
            continue;
        left--;
        if (pte & PTE_W)
            pte_store(mu, c, i % PT_CHUNK, pte & ~(uint64_t)PTE_W);
    }
    d->epoch = pm->epoch;
}

/* A new, empty table: a frame of simulated RAM (no host bytes: see
 * above) and its directory. */
static int table_alloc(struct pmap *pm, pageh *out, struct pt_dir **dirp)
{
    struct mmu *mu = pm->mmu;
    if (core_inject(mu->core, INJECT_PAGETABLE))
        return ENOMEM;
    struct pt_dir *d = pt_get(pm, PT_DIR);
    if (d == NULL)
        return ENOMEM;
    int error = phys_alloc(mu->ph, XVM_USE_PAGETABLE, false, out);
    if (error) {
        pt_put(pm, PT_DIR, d);
        return error;
    }
    table_page(mu, *out)->owner.ptdir = d;
    d->epoch = pm->epoch;
    pm->ptpages++;
    *dirp = d;
    return 0;
}

static void table_free(struct pmap *pm, pageh t)
{
    struct mmu *mu = pm->mmu;
    struct vm_page *tp = table_page(mu, t);
    struct pt_dir *d = tp->owner.ptdir;
    for (unsigned c = 0; c < mu->nchunk; c++)
        if (d->chunk[c])
            pt_put(pm, PT_CHUNKS, d->chunk[c]);
    pt_put(pm, PT_DIR, d);
    tp->owner.ptdir = NULL;
    phys_free(mu->ph, t);
    pm->ptpages--;
    pm->hint_dir = NULL;
    pm->hint_chunk = NULL;
}

struct pt_dir *pmap_table_dir(const struct mmu *mu, pageh table)
{
    return table_dir(mu, table);
}

uint8_t *pmap_table_entry(const struct mmu *mu, pageh table, unsigned i)
{
    uint8_t *c = pt_chunk(table_dir(mu, table), i);
    return c ? c + (size_t)(i % PT_CHUNK) * mu->prof->pte_size : NULL;
}

struct pv_entry **pmap_table_pv(const struct mmu *mu, pageh leaf, unsigned i)
{
    return (struct pv_entry **)ptr_slot(mu, table_dir(mu, leaf), i);
}

/*
 * => the leaf table covering va (its directory) in *leaf, made current
 *    (leaf_sync).  Walks from directory to directory: no vm_page is read.
 * => create: allocate missing tables (ENOMEM); else ENOENT when absent.
 */
static int pt_leaf(struct pmap *pm, uint64_t va, bool create, bool sync,
                   struct pt_dir **leaf)
{
    struct mmu *mu = pm->mmu;
    struct pt_dir *d = pm->root_dir;
    /* Faults and misses come in runs: the last leaf found is the hint. */
    uint64_t key = va >> mu->lvl_shift[mu->prof->levels - 2];
    if (pm->hint_dir != NULL && pm->hint_key == key) {
        if (sync)
            leaf_sync(pm, pm->hint_dir);
        *leaf = pm->hint_dir;
        return 0;
    }
    for (unsigned l = 0; l + 1 < mu->prof->levels; l++) {
        unsigned i = level_index(mu, l, va);
        struct pt_dir *child = ptr_get(mu, d, i);
        if (child == NULL) {
            if (!create)
                return ENOENT;
            pageh nt;
            /* The entry's chunk first: a table once made is linked. */
            if (pt_chunk_make(pm, d, i) == NULL)
                return ENOMEM;
            int error = table_alloc(pm, &nt, &child);
            if (error)
                return error;
            pte_put(mu, d, i, pte_make(mu, phys_addr(mu->ph, nt), PTE_V));
            *ptr_slot(mu, d, i) = child;
            d->valid++;
        }
        d = child;
    }
    if (sync)
        leaf_sync(pm, d);
    pm->hint_key = key;
    pm->hint_dir = d;
    *leaf = d;
    return 0;
}

int pmap_init(struct mmu *mu, struct pmap *pm)
{
    memset(pm, 0, sizeof(*pm));
    pm->mmu = mu;
    pmap_new_asid(pm);
    pm->page_mask = ~(uint64_t)(mu->core->pgsz - 1);
    pm->fast_n = mmu_fast(mu) ? 8 : SIZE_MAX;
    pm->pgshift = mu->core->pgshift;
    int error = table_alloc(pm, &pm->root, &pm->root_dir);
    if (error) {
        pt_blocks_free(pm);
        return error;
    }
    pm->next = mu->pmaps;
    if (mu->pmaps)
        mu->pmaps->prev = pm;
    mu->pmaps = pm;
    return 0;
}

static struct pv_entry *pv_at(struct pmap *pm, uint64_t va)
{
    struct pt_dir *leaf;
    if (va >= pm->mmu->prof->va_max || pt_leaf(pm, va, false, false, &leaf))
        return NULL;
    return ptr_get(pm->mmu, leaf,
                   level_index(pm->mmu, pm->mmu->prof->levels - 1, va));
}

/* Removes one valid leaf mapping: PV, counts, TLB. */
static void leaf_zap(struct pmap *pm, struct pt_dir *tp, unsigned i,
                     uint64_t va, uint64_t pte)
{
    struct mmu *mu = pm->mmu;
    pageh pg = phys_lookup(mu->ph, pte_frame_pa(mu, pte));
    struct pv_entry **slot = (struct pv_entry **)ptr_slot(mu, tp, i);
    struct pv_entry *pv = *slot;
    if (pmap_tracks(mu, pg)) {
        assert(pv != NULL && pv->pmap == pm && pv->va == va);
        pv_unlink(mu, pg, pv);
    }
    seg_count(mu, pg, -1);
    *slot = NULL;
    if ((pte & PTE_WIRED) && !page_is_device(pg))
        phys_wire(mu->ph, phys_page(mu->ph, pg), -1);
    /* The modified bit goes with the PTE: the page no longer equals its
     * swap copy (NetBSD's pmaps keep the bit in the page's attributes). */
    if ((pte & PTE_MOD) && !page_is_device(pg))
        phys_page(mu->ph, pg)->flags &= (uint8_t)~PG_CLEAN;
    pte_put(mu, tp, i, 0);
    tp->valid--;
    pm->resident--;
    tlb_drop(pm, va);
    model_drop(pm, va);
}

static struct pt_dir *pte_slot(struct pmap *pm, uint64_t va, bool sync,
                               unsigned *idx);

/* The super page holding va (its PTE pte): [*base, *base + size). */
static uint64_t lg_span(const struct mmu *mu, uint64_t va, uint64_t pte,
                        uint64_t *base)
{
    uint64_t size = UINT64_C(1) << pte_shift(pte, mu->core->pgshift);
    *base = va & ~(size - 1);
    return size;
}

/* The page at va (one of a super page's) becomes a plain page; the
 * software TLB forgets it, its entry carried the size. */
static void lg_strip(struct pmap *pm, uint64_t va)
{
    struct mmu *mu = pm->mmu;
    unsigned i;
    struct pt_dir *tp = pte_slot(pm, va, false, &i);
    assert(tp != NULL);
    uint64_t p = pte_get(mu, tp, i);
    assert((p & PTE_V) && (p & PTE_LG));
    pte_put(mu, tp, i, p & ~(uint64_t)PTE_LG);
    tlb_drop(pm, va);
}

/*
 * Splits the super page holding va back into plain pages: each of its
 * PTEs loses PTE_LG and the TLB model drops the large entry.  A run is
 * whole until it is demoted.
 */
static void demote(struct pmap *pm, uint64_t va, uint64_t pte)
{
    struct mmu *mu = pm->mmu;
    uint64_t base, size = lg_span(mu, va, pte, &base);
    for (uint64_t a = base; a - base < size; a += mu->core->pgsz)
        lg_strip(pm, a);
    model_drop(pm, base);
    mu->demotions++;
}

/*
 * Recursive walk over [sva, eva) below table t (level l, covering from
 * base).  prot < 0: remove mappings and free tables left empty; else
 * lower leaf protection to prot.
 */
static void pt_range(struct pmap *pm, struct pt_dir *tp, unsigned l,
                     uint64_t base, uint64_t sva, uint64_t eva, int prot)
{
    struct mmu *mu = pm->mmu;
    unsigned shift = mu->lvl_shift[l];
    uint64_t span = (uint64_t)level_entries(mu, l) << shift;
    uint64_t lo = sva > base ? sva : base;
    uint64_t hi = eva - base < span ? eva : base + span;
    bool leaf = is_leaf(mu, l);
    uint64_t left = tp->valid; /* valid entries not yet met */

    uint64_t last = (hi - 1 - base) >> shift;
    unsigned psz = mu->prof->pte_size;
    for (uint64_t i = (lo - base) >> shift; i <= last; i++) {
        if (left == 0)
            break; /* the rest of the table is empty */
        uint8_t *c = pt_chunk(tp, (unsigned)i);
        if (c == NULL) { /* a chunk never made: none valid */
            i |= PT_CHUNK - 1;
            continue;
        }
        /* Tables are mostly empty, and an invalid PTE is all zeros: skip
         * 64 bytes of them at a time. */
        unsigned ci = (unsigned)(i % PT_CHUNK);
        if ((ci * psz) % 64 == 0 && last - i >= 64 / psz &&
            memcmp(c + ci * psz, zero_line, 64) == 0) {
            i += 64 / psz - 1;
            continue;
        }
        uint64_t pte = pte_load(mu, c, ci);
        if (!(pte & PTE_V))
            continue;
        left--;
        uint64_t va = base + (i << shift);
        if (leaf && (pte & PTE_LG)) {
            /* A super page only partly inside the range is split first. */
            uint64_t lb, lsize = lg_span(mu, va, pte, &lb);
            if (lb < sva || lb + lsize > eva) {
                demote(pm, va, pte);
                pte &= ~(uint64_t)PTE_LG;
            }
        }
        if (!leaf) {
            void **child = &ptr_slots(mu, c)[ci];
            pt_range(pm, *child, l + 1, va, sva, eva, prot);
            if (prot < 0 && ((struct pt_dir *)*child)->valid == 0) {
                table_free(pm, phys_lookup(mu->ph, pte_frame_pa(mu, pte)));
                *child = NULL;
                pte_store(mu, c, ci, 0);
                tp->valid--;
            }
        } else if (prot < 0 || (!(prot & (XVM_PROT_READ | XVM_PROT_EXEC)) &&
                                !(pte & PTE_WIRED))) {
            leaf_zap(pm, tp, (unsigned)i, va, pte);
        } else {
            /* Lower the bits; a wired mapping stays, without access. */
            uint64_t npte = pte & ~(prot_bits(~(unsigned)prot & XVM_PROT_ALL));
            if (npte != pte) {
                pte_store(mu, c, ci, npte);
                tlb_drop(pm, va);
                model_drop(pm, va);
            }
        }
    }
}

void pmap_remove(struct pmap *pm, uint64_t sva, uint64_t eva)
{
    if (sva >= eva)
        return;
    bool whole = (eva - sva) >> pm->mmu->core->pgshift > MODEL_FLUSH_PAGES;
    if (whole && !pm->model_flushed) {
        cpu_tlb_flush_asid(pm->mmu->cpu, pm->asid);
        pm->model_flushed = true;
        pt_range(pm, pm->root_dir, 0, 0, sva, eva, -1);
        pm->model_flushed = false;
        return;
    }
    pt_range(pm, pm->root_dir, 0, 0, sva, eva, -1);
}

void pmap_protect(struct pmap *pm, uint64_t sva, uint64_t eva, unsigned prot)
{
    if (sva < eva)
        pt_range(pm, pm->root_dir, 0, 0, sva, eva, (int)(prot & XVM_PROT_ALL));
}

void pmap_fini(struct pmap *pm)
{
    struct mmu *mu = pm->mmu;
    /* Its address-space id dies and is never reused: the TLB model's
     * entries of it can never hit again and age out (doc/design.md). */
    pm->model_flushed = true;
    pmap_remove(pm, 0, mu->prof->va_max);
    assert(pm->resident == 0);
    table_free(pm, pm->root);
    pt_blocks_free(pm);
    for (int k = 0; k < 3; k++)
        mu->fast_hits_gone[k] += pm->fast_hits[k];
    if (pm->prev)
        pm->prev->next = pm->next;
    else
        mu->pmaps = pm->next;
    if (pm->next)
        pm->next->prev = pm->prev;
}

bool mmu_fast(const struct mmu *mu)
{
    return !mu->cpu->p.caches && mu->tlb.mask >= 3 &&
           mu->core->pgshift == PMAP_FAST_PGSHIFT;
}

void mmu_fast_hits(const struct mmu *mu, uint64_t fast[3])
{
    for (int k = 0; k < 3; k++)
        fast[k] = mu->fast_hits_gone[k];
    for (const struct pmap *pm = mu->pmaps; pm; pm = pm->next)
        for (int k = 0; k < 3; k++)
            fast[k] += pm->fast_hits[k];
}

int pmap_enter(struct pmap *pm, uint64_t va, pageh pg, unsigned prot,
               unsigned flags)
{
    struct mmu *mu = pm->mmu;
    if (page_is_device(pg) && (prot & XVM_PROT_WRITE))
        return EINVAL; /* a write never reaches a device page */
    if (va >= mu->prof->va_max)
        return EINVAL;

    struct pt_dir *tp;
    int error = pt_leaf(pm, va, true, true, &tp);
    if (error)
        return error;
    unsigned i = level_index(mu, mu->prof->levels - 1, va);
    uint64_t old = pte_get(mu, tp, i);
    uint64_t pa = phys_addr(mu->ph, pg);
    uint64_t nflags = PTE_V | PTE_U | prot_bits(prot) |
                      (flags & PMAP_WIRED ? PTE_WIRED : 0) |
                      (flags & PMAP_LG_MASK);

    if ((old & PTE_LG) && (pte_frame_pa(mu, old) != pa ||
                           (nflags & (PTE_LG | PTE_R | PTE_W | PTE_X)) !=
                               (old & (PTE_LG | PTE_R | PTE_W | PTE_X)))) {
        /* Another page, size or protection inside a super page. */
        demote(pm, va, old);
        old &= ~(uint64_t)PTE_LG;
    }
    if ((old & PTE_V) && pte_frame_pa(mu, old) == pa) {
        /* Same page: change protection, keep referenced/modified. */
        if ((flags & PMAP_WIRED) && !(old & PTE_WIRED) && !page_is_device(pg))
            phys_wire(mu->ph, phys_page(mu->ph, pg), 1);
        nflags |= old & (PTE_REF | PTE_MOD | PTE_WIRED);
        pte_put(mu, tp, i, pte_make(mu, pa, nflags));
        tlb_drop(pm, va);
        if ((nflags ^ old) & PTE_LG)
            model_drop(pm, va); /* the mapping changed size */
        return 0;
    }
    /* The PTE's chunk, with its PV entry's pointer beside it. */
    uint8_t *c = pt_chunk_make(pm, tp, i);
    if (c == NULL)
        return ENOMEM;
    struct pv_entry **slot =
        (struct pv_entry **)&ptr_slots(mu, c)[i % PT_CHUNK];
    struct pv_entry *pv = NULL;
    if (pmap_tracks(mu, pg)) {
        if (core_inject(mu->core, INJECT_PV))
            return ENOMEM;
        if ((pv = pv_alloc(mu, pg)) == NULL)
            return ENOMEM;
        pv->pmap = pm;
        pv->va = va;
        if (pv_insert(mu, pg, pv)) {
            pv_release(mu, pv);
            return ENOMEM;
        }
    }
    if (old & PTE_V)
        leaf_zap(pm, tp, i, va, old);
    *slot = pv;
    seg_count(mu, pg, 1);
    pte_store(mu, c, i % PT_CHUNK, pte_make(mu, pa, nflags));
    tp->valid++;
    pm->resident++;
    if ((flags & PMAP_WIRED) && !page_is_device(pg))
        phys_wire(mu->ph, phys_page(mu->ph, pg), 1);
    tlb_drop(pm, va);
    return 0;
}

/*
 * => the leaf PTE slot for va, or NULL when no table covers it.
 * => sync: make a stale table current first; only paths that grant
 *    access need it (lowering, testing and reading never do).
 */
static struct pt_dir *pte_slot(struct pmap *pm, uint64_t va, bool sync,
                               unsigned *idx)
{
    struct pt_dir *leaf;
    if (va >= pm->mmu->prof->va_max || pt_leaf(pm, va, false, sync, &leaf))
        return NULL;
    *idx = level_index(pm->mmu, pm->mmu->prof->levels - 1, va);
    return leaf;
}

int pmap_extract(struct pmap *pm, uint64_t va, uint64_t *pa)
{
    unsigned i;
    struct pt_dir *tp = pte_slot(pm, va, false, &i);
    uint64_t pte = tp ? pte_get(pm->mmu, tp, i) : 0;
    if (!(pte & PTE_V))
        return EFAULT;
    *pa = pte_frame_pa(pm->mmu, pte) | (va & (pm->mmu->core->pgsz - 1));
    return 0;
}

uint64_t pmap_pte(struct pmap *pm, uint64_t va)
{
    unsigned i;
    struct pt_dir *tp = pte_slot(pm, va, false, &i);
    return tp ? pte_get(pm->mmu, tp, i) : 0;
}

void pmap_unwire(struct pmap *pm, uint64_t va)
{
    unsigned i;
    struct pt_dir *tp = pte_slot(pm, va, false, &i);
    uint64_t pte = tp ? pte_get(pm->mmu, tp, i) : 0;
    if ((pte & (PTE_V | PTE_WIRED)) != (PTE_V | PTE_WIRED))
        return;
    pte_put(pm->mmu, tp, i, pte & ~(uint64_t)PTE_WIRED);
    pageh pg = phys_lookup(pm->mmu->ph, pte_frame_pa(pm->mmu, pte));
    if (!page_is_device(pg))
        phys_wire(pm->mmu->ph, phys_page(pm->mmu->ph, pg), -1);
}

void pmap_write_protect_all(struct pmap *pm)
{
    pm->epoch++;
    pm->hint_chunk = NULL; /* its table is stale now */
    pmap_new_asid(pm);
    pm->mmu->tlb.flushes++;
}

/*
 * Applies op to the PTE of every mapping of pg.
 * op: 0 = lower protection to prot, 1 = clear bits, 2 = test bits.
 */
static bool pv_apply(struct mmu *mu, pageh pg, int op, uint64_t bits,
                     unsigned prot)
{
    struct pv_entry *pv = pv_head(mu, pg), *next;
    for (; pv; pv = next) {
        next = pv->next;
        struct pmap *pm = pv->pmap;
        unsigned i;
        struct pt_dir *tp = pte_slot(pm, pv->va, false, &i);
        assert(tp != NULL);
        uint64_t pte = pte_get(mu, tp, i);
        if (op == 2) {
            if (pte & bits)
                return true;
            continue;
        }
        if (op == 0 && !(prot & (XVM_PROT_READ | XVM_PROT_EXEC))) {
            pmap_remove(pm, pv->va, pv->va + mu->core->pgsz);
            continue;
        }
        uint64_t npte =
            op == 0 ? pte & ~prot_bits(~prot & XVM_PROT_ALL) : pte & ~bits;
        if (npte != pte && op == 0 && (pte & PTE_LG)) {
            demote(pm, pv->va, pte);
            pte &= ~(uint64_t)PTE_LG;
            npte &= ~(uint64_t)PTE_LG;
        }
        if (npte != pte) {
            pte_put(mu, tp, i, npte);
            tlb_drop(pm, pv->va);
            if (op == 0)
                model_drop(pm, pv->va);
        }
    }
    return false;
}

void pmap_page_protect(struct mmu *mu, pageh pg, unsigned prot)
{
    assert(pmap_tracks(mu, pg));
    (void)pv_apply(mu, pg, 0, 0, prot);
}

bool pmap_is_modified(struct mmu *mu, pageh pg)
{
    return pv_apply(mu, pg, 2, PTE_MOD, 0);
}

bool pmap_is_referenced(struct mmu *mu, pageh pg)
{
    return pv_apply(mu, pg, 2, PTE_REF, 0);
}

void pmap_clear_modify(struct mmu *mu, pageh pg)
{
    (void)pv_apply(mu, pg, 1, PTE_MOD, 0);
}

void pmap_clear_reference(struct mmu *mu, pageh pg)
{
    (void)pv_apply(mu, pg, 1, PTE_REF, 0);
}

/* What a TLB entry filled from pte grants.  Write is granted only on a
 * modified page: the first write to a clean page comes back to the walk
 * to set the modified bit. */
static unsigned tlb_perm(uint64_t pte)
{
    return (pte & PTE_R ? XVM_PROT_READ : 0) |
           (pte & PTE_X ? XVM_PROT_EXEC : 0) |
           ((pte & (PTE_W | PTE_MOD)) == (PTE_W | PTE_MOD) ? XVM_PROT_WRITE
                                                           : 0);
}

void pmap_prefetch(const struct pmap *pm, uint64_t va)
{
    const struct mmu *mu = pm->mmu;
    unsigned shift = mu->lvl_shift[mu->prof->levels - 1];
    if (pm->hint_chunk != NULL &&
        pm->hint_ckey == va >> (shift + PT_CHUNK_SHIFT)) {
        unsigned i = (unsigned)(va >> shift) % PT_CHUNK;
        XVM_PREFETCH_W(pm->hint_chunk + (size_t)i * mu->prof->pte_size);
        XVM_PREFETCH_W(&ptr_slots(mu, pm->hint_chunk)[i]);
        XVM_PREFETCH_W(pm->hint_cdir);
    } else {
        XVM_PREFETCH(pm->root_dir);
    }
    XVM_PREFETCH_W(pm->hint_dir);
}

int pmap_translate(struct pmap *pm, uint64_t va, unsigned access,
                   struct tlbent **out)
{
    struct mmu *mu = pm->mmu;
    unsigned shift = mu->lvl_shift[mu->prof->levels - 1], i;
    uint64_t ckey = va >> (shift + PT_CHUNK_SHIFT);
    uint8_t *c;
    if (pm->hint_chunk != NULL && pm->hint_ckey == ckey) {
        /* The chunk of the last PTE found, current: no directory read.
         * A fault's pmap_enter reads the directory and the PV pointer
         * next; their lines come while the fault finds its map entry. */
        c = pm->hint_chunk;
        i = (unsigned)(va >> shift) % PT_CHUNK;
        XVM_PREFETCH_W(pm->hint_cdir);
        XVM_PREFETCH_W(&ptr_slots(mu, c)[i]);
    } else {
        struct pt_dir *tp = pte_slot(pm, va, true, &i);
        c = tp ? pt_chunk(tp, i) : NULL;
        i %= PT_CHUNK;
        if (c) {
            pm->hint_chunk = c;
            pm->hint_cdir = tp;
            pm->hint_ckey = ckey;
        }
    }
    uint64_t pte = c ? pte_load(mu, c, i) : 0;

    if (!(pte & PTE_V))
        return EFAULT;
    if ((prot_bits(access) & pte) != prot_bits(access))
        return EACCES;
    uint64_t npte = pte | PTE_REF | (access & XVM_PROT_WRITE ? PTE_MOD : 0);
    if (npte != pte)
        pte_store(mu, c, i, npte);

    uint64_t pa = pte_frame_pa(mu, npte);
    pageh pg = phys_lookup(mu->ph, pa);
    if (pm->tlb_win == &mu->tlb_empty) /* its asid's first entry */
        pmap_window(pm, true);
    struct tlbent *e = pmap_tlb_slot(pm, va >> mu->core->pgshift);
    e->asid = pm->asid;
    e->vpn = va >> mu->core->pgshift;
    e->pa = pa;
    e->host = phys_data(mu->ph, pg);
    e->dev = page_is_device(pg) ? phys_dev_seg(mu->ph, pa) : NULL;
    e->perm = tlb_perm(npte);
    e->shift = pte_shift(npte, mu->core->pgshift);
    /* The hit path's tags: a RAM page with the CPU model off, whose every
     * hit is a count (cpu.h, fast_hits); else the full path. */
    uint64_t base = va & ~(uint64_t)(mu->core->pgsz - 1);
    bool fast = e->dev == NULL && mmu_fast(mu);
    uint64_t none = tlb_fast_none(e->vpn, mu->core->pgshift);
    e->fast[CPU_FETCH] = fast && e->perm & XVM_PROT_EXEC ? base : none;
    e->fast[CPU_LOAD] = fast && e->perm & XVM_PROT_READ ? base : none;
    e->fast[CPU_STORE] = fast && e->perm & XVM_PROT_WRITE ? base : none;
    e->delta = (uintptr_t)e->host - (uintptr_t)base;
    *out = e;
    return 0;
}

int pmap_enter_large(struct pmap *pm, uint64_t va, uint64_t pa, unsigned shift,
                     unsigned prot)
{
    struct mmu *mu = pm->mmu;
    unsigned pgshift = mu->core->pgshift;
    if (shift <= pgshift || shift - 12 > PTE_LG >> 8 || shift >= 40)
        return EINVAL;
    uint64_t size = UINT64_C(1) << shift;
    if (((va | pa) & (size - 1)) || (prot & XVM_PROT_WRITE) ||
        va >= mu->prof->va_max || mu->prof->va_max - va < size)
        return EINVAL;
    for (uint64_t off = 0; off < size; off += mu->core->pgsz)
        if (phys_lookup_device(mu->ph, pa + off) == PAGEH_NONE)
            return EINVAL; /* super pages are for device pages only */
    for (uint64_t off = 0; off < size; off += mu->core->pgsz) {
        int error = pmap_enter(pm, va + off, page_device(pa + off), prot,
                               PMAP_LG(shift));
        if (error) { /* no part of a run stays: they fault back in */
            for (uint64_t a = va; a < va + off; a += mu->core->pgsz)
                lg_strip(pm, a);
            pmap_remove(pm, va, va + off);
            return error;
        }
    }
    mu->superpages++;
    return 0;
}

unsigned pmap_walk_pas(struct pmap *pm, uint64_t va, uint64_t pas[5])
{
    struct mmu *mu = pm->mmu;
    unsigned levels = mu->prof->levels, sz = mu->prof->pte_size;
    pageh t = pm->root;
    if (va >= mu->prof->va_max)
        return 0;
    for (unsigned l = 0; l < levels; l++) {
        unsigned i = level_index(mu, l, va);
        pas[l] = phys_addr(mu->ph, t) + (uint64_t)i * sz;
        if (l + 1 == levels)
            break;
        uint64_t pte = pte_get(mu, table_dir(mu, t), i);
        if (!(pte & PTE_V))
            return 0;
        t = phys_lookup(mu->ph, pte_frame_pa(mu, pte));
    }
    pas[levels] = pas[levels - 1] ^ sz; /* the pair's other PTE */
    return levels + 1;
}

unsigned pte_prot(uint64_t pte)
{
    return (pte & PTE_R ? XVM_PROT_READ : 0) |
           (pte & PTE_W ? XVM_PROT_WRITE : 0) |
           (pte & PTE_X ? XVM_PROT_EXEC : 0);
}

pageh pte_page(const struct mmu *mu, uint64_t pte)
{
    return phys_lookup(mu->ph, pte_frame_pa(mu, pte));
}

unsigned pmap_pv_count(const struct mmu *mu, pageh pg)
{
    unsigned n = 0;
    for (struct pv_entry *pv = pv_head(mu, pg); pv; pv = pv->next)
        n++;
    return n;
}

bool pmap_device_mapped(const struct mmu *mu, uint64_t pa, uint64_t len)
{
    const struct physmem *ph = mu->ph;
    for (unsigned i = 0; i < ph->ndev; i++) {
        const struct dev_seg *d = &ph->dev[i];
        if (d->mapped && pa < d->pa + (d->npages << mu->core->pgshift) &&
            d->pa < pa + len)
            return true;
    }
    return false;
}

int mmu_init(struct mmu *mu, struct core *core, struct physmem *ph,
             struct cpu *cpu, unsigned tlb_entries,
             enum xvm_device_design design)
{
    const struct profile *p = core->prof;
    memset(mu, 0, sizeof(*mu));
    mu->core = core;
    mu->design = design;
    mu->prof = p;
    mu->ph = ph;
    mu->cpu = cpu;
    unsigned shift = p->page_shift;
    for (unsigned l = p->levels; l-- > 0;) {
        mu->lvl_shift[l] = shift;
        shift += p->level_bits[l];
    }
    mu->next_asid = 1;
    mu->pv_pool.size = sizeof(struct pv_entry);
    for (unsigned k = 0; k < sizeof(mu->blk_pool) / sizeof(mu->blk_pool[0]);
         k++) {
        mu->blk_pool[k].size = sizeof(struct pt_block) + (PT_BLOCK_MIN << k);
        mu->blk_pool[k].skew = sizeof(struct pt_block); /* data on a line */
    }
    for (unsigned l = 0; l < p->levels; l++) {
        unsigned n = (level_entries(mu, l) + PT_CHUNK - 1) / PT_CHUNK;
        mu->nchunk = n > mu->nchunk ? n : mu->nchunk;
    }
    /* Multiples of 16 bytes, as blocks are aligned. */
    mu->pt_size[PT_DIR] =
        (sizeof(struct pt_dir) + mu->nchunk * sizeof(uint8_t *) + 15) &
        ~(size_t)15;
    mu->pt_size[PT_CHUNKS] = PT_CHUNK * (p->pte_size + sizeof(void *));
    hmap_init(&mu->devpv);
    if (tlb_entries == 0)
        tlb_entries = p->tlb_entries;
    if (tlb_entries > TLB_ENTRIES_MAX || (tlb_entries & (tlb_entries - 1)))
        return EINVAL;
    mu->tlb.mask = tlb_entries - 1;
    /* Written whole now (not calloc's untouched zero pages): a host page
     * of it first touched by a TLB fill would cost that access two host
     * faults, and a first touch anywhere in the table is likely (each
     * address space's window starts at random). */
    size_t bytes = tlb_size(&mu->tlb) * sizeof(*mu->tlb.ent);
    mu->tlb.ent = core_alloc(core, bytes);
    if (mu->tlb.ent == NULL)
        return ENOMEM;
    memset(mu->tlb.ent, 0, bytes);
    return 0;
}

void mmu_fini(struct mmu *mu)
{
    hmap_fini(mu->core, &mu->devpv);
    pool_fini(mu->core, &mu->pv_pool);
    for (unsigned k = 0; k < sizeof(mu->blk_pool) / sizeof(mu->blk_pool[0]);
         k++)
        pool_fini(mu->core, &mu->blk_pool[k]);
    core_free(mu->core, mu->tlb.ent);
    mu->tlb.ent = NULL;
}

/* ---- the layer's invariants ---- */

/* linked: the directory the table's parent (or the pmap, for the root)
 * holds for it; valid: the valid entries found in it. */
typedef void (*table_visit_fn)(void *arg, pageh table,
                               const struct pt_dir *linked, unsigned valid);

/*
 * From table frame to table frame by the PTEs' frame numbers, as the
 * MMU walks (not by the directories' own links, which the checker
 * holds against them).  current: pass leaf PTEs as the MMU sees them
 * (pmap_pte_current).
 */
static void visit_rec(struct pmap *pm, pageh t, const struct pt_dir *linked,
                      unsigned l, uint64_t base, pte_visit_fn pfn,
                      table_visit_fn tfn, void *arg, bool current)
{
    struct mmu *mu = pm->mmu;
    /* Profiles have at most 4 levels; the bound also tells the compiler. */
    if (l >= sizeof(mu->lvl_shift) / sizeof(mu->lvl_shift[0]))
        return;
    const struct pt_dir *tp = table_dir(mu, t);
    unsigned n = level_entries(mu, l), valid = 0;
    bool leaf = is_leaf(mu, l);
    for (unsigned i = 0; tp && i < n; i++) {
        uint64_t pte = pte_get(mu, tp, i);
        if (!(pte & PTE_V))
            continue;
        valid++;
        uint64_t va = base + ((uint64_t)i << mu->lvl_shift[l]);
        if (leaf) {
            if (current && tp->epoch != pm->epoch)
                pte &= ~(uint64_t)PTE_W;
            if (pfn)
                pfn(arg, va, pte);
        } else {
            visit_rec(pm, phys_lookup(mu->ph, pte_frame_pa(mu, pte)),
                      ptr_get(mu, tp, i), l + 1, va, pfn, tfn, arg, current);
        }
    }
    if (tfn)
        tfn(arg, t, linked, valid);
}

void pmap_visit(struct pmap *pm, pte_visit_fn fn, void *arg)
{
    visit_rec(pm, pm->root, pm->root_dir, 0, 0, fn, NULL, arg, false);
}

void pmap_visit_current(struct pmap *pm, pte_visit_fn fn, void *arg)
{
    visit_rec(pm, pm->root, pm->root_dir, 0, 0, fn, NULL, arg, true);
}

uint64_t pmap_pte_current(struct pmap *pm, uint64_t va)
{
    struct pt_dir *tp;
    if (va >= pm->mmu->prof->va_max || pt_leaf(pm, va, false, false, &tp))
        return 0;
    uint64_t pte = pte_get(pm->mmu, tp,
                           level_index(pm->mmu, pm->mmu->prof->levels - 1, va));
    return tp->epoch == pm->epoch ? pte : pte & ~(uint64_t)PTE_W;
}

struct mmu_ck {
    struct mmu *mu;
    struct check *ck;
    struct pmap *pm;
    uint64_t leaves, tables;
    struct hmap ptes;    /* page -> valid PTEs mapping it */
    struct hmap wired;   /* RAM page -> wired PTEs mapping it */
    uint64_t *segptes;   /* valid PTEs per device segment */
    struct pv_key *keys; /* scratch: one PV list's (pmap, va) */
    size_t capkeys;
};

static void bump(struct mmu_ck *k, struct hmap *h, uint64_t key)
{
    uint64_t v = 0;
    (void)hmap_get(h, key, &v);
    if (hmap_put(k->mu->core, h, key, v + 1))
        check_fail(k->ck, "checker: out of host memory");
}

/*
 * A super page: device pages only, never writable; its first page checks
 * the whole run: every page valid, of the same size and rights, mapping
 * the next page of one aligned, contiguous run of device memory.
 */
static void check_large(struct mmu_ck *k, uint64_t va, uint64_t pte, pageh pg)
{
    struct mmu *mu = k->mu;
    uint64_t base, size = lg_span(mu, va, pte, &base);
    uint64_t same = PTE_V | PTE_LG | PTE_R | PTE_W | PTE_X;
    if (!page_is_device(pg) || (pte & PTE_W) ||
        pte_shift(pte, mu->core->pgshift) >= 40)
        return (void)check_fail(k->ck,
                                "va %#llx: a super page of a RAM page, "
                                "writable or too large",
                                (unsigned long long)va);
    if (va != base) {
        if ((pmap_pte(k->pm, base) & same) != (pte & same))
            check_fail(k->ck, "va %#llx: super page without its first page",
                       (unsigned long long)va);
        return;
    }
    uint64_t pa0 = pte_frame_pa(mu, pte);
    if (pa0 & (size - 1))
        return (void)check_fail(k->ck,
                                "va %#llx: super page of unaligned "
                                "memory %#llx",
                                (unsigned long long)va,
                                (unsigned long long)pa0);
    for (uint64_t off = mu->core->pgsz; off < size; off += mu->core->pgsz) {
        uint64_t p = pmap_pte(k->pm, va + off);
        if ((p & same) != (pte & same) || pte_frame_pa(mu, p) != pa0 + off)
            return (void)check_fail(k->ck,
                                    "va %#llx: page %#llx of its super "
                                    "page is missing, other or elsewhere",
                                    (unsigned long long)va,
                                    (unsigned long long)(va + off));
    }
}

static void check_pte(void *arg, uint64_t va, uint64_t pte)
{
    struct mmu_ck *k = arg;
    struct mmu *mu = k->mu;
    if (k->ck->error)
        return;
    k->leaves++;
    pageh pg = pte_page(mu, pte);
    if (pg == PAGEH_NONE)
        return (void)check_fail(k->ck, "va %#llx maps unmanaged memory",
                                (unsigned long long)va);
    if (!page_is_device(pg) && phys_page(mu->ph, pg)->use == XVM_USE_FREE)
        return (void)check_fail(k->ck, "va %#llx maps a free frame",
                                (unsigned long long)va);
    if (page_is_device(pg)) {
        const struct dev_seg *d = phys_dev_seg(mu->ph, pg & ~(uint64_t)1);
        k->segptes[d - mu->ph->dev]++;
    }
    /* Each page's PTEs are counted here and matched against its PV list
     * in check_pv: a scan of the list per PTE would be quadratic. */
    struct pv_entry *pv = pv_at(k->pm, va);
    if (!pmap_tracks(mu, pg)) {
        if (pv != NULL)
            return (void)check_fail(k->ck,
                                    "va %#llx: an untracked device "
                                    "page has a PV entry",
                                    (unsigned long long)va);
    } else if (bump(k, &k->ptes, pg),
               pv == NULL || pv->pmap != k->pm || pv->va != va) {
        return (void)check_fail(k->ck,
                                "va %#llx: the leaf table's PV entry "
                                "is wrong",
                                (unsigned long long)va);
    }
    if ((pte & PTE_WIRED) && !page_is_device(pg))
        bump(k, &k->wired, pg);
    if ((pte & PTE_W) && (page_is_device(pg) || pg == mu->ph->zero_page))
        return (void)check_fail(k->ck, "va %#llx: writable %s page",
                                (unsigned long long)va,
                                page_is_device(pg) ? "device" : "zero");
    if (pte & PTE_LG)
        check_large(k, va, pte, pg);
}

static void check_table(void *arg, pageh t, const struct pt_dir *linked,
                        unsigned valid)
{
    struct mmu_ck *k = arg;
    const struct vm_page *tp = table_page(k->mu, t);
    const struct pt_dir *d = tp->owner.ptdir;
    k->tables++;
    if (tp->use != XVM_USE_PAGETABLE || d == NULL || d->valid != valid)
        check_fail(k->ck, "page table frame: use %u, counts %llu valid of %u",
                   tp->use, d ? (unsigned long long)d->valid : 0ULL, valid);
    else if (d != linked)
        check_fail(k->ck, "page table frame: its parent links another "
                          "directory");
}

/* A RAM page's wire count is the number of wired PTEs mapping it. */
static void check_wired(struct mmu_ck *k)
{
    const struct physmem *ph = k->mu->ph;
    uint64_t cache = 0, wired = 0;
    for (uint32_t i = 0; i < ph->fresh && !k->ck->error; i++) {
        cache += ph->pages[i].use == XVM_USE_PAGECACHE && ph->pages[i].wire;
        wired += ph->pages[i].use != XVM_USE_FREE && ph->pages[i].wire;
        uint64_t n = 0; /* frames from `fresh` on were never used */
        (void)hmap_get(&k->wired, page_ram(i), &n);
        if (ph->pages[i].use != XVM_USE_FREE && ph->pages[i].wire != n)
            check_fail(k->ck, "frame %u: wire count %u, %llu wired mappings", i,
                       (unsigned)ph->pages[i].wire, (unsigned long long)n);
    }
    if (!k->ck->error && cache != ph->wired_cache)
        check_fail(k->ck, "%llu page-cache frames wired, %llu counted",
                   (unsigned long long)cache,
                   (unsigned long long)ph->wired_cache);
    if (!k->ck->error && wired != ph->wired)
        check_fail(k->ck, "%llu frames wired, %llu counted",
                   (unsigned long long)wired, (unsigned long long)ph->wired);
}

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
static uint64_t check_pv_list(struct mmu_ck *k, pageh pg)
{
    struct mmu *mu = k->mu;
    uint64_t n = 0, ptes = 0;
    for (struct pv_entry *pv = pv_head(mu, pg); pv; pv = pv->next) {
        uint64_t pa;
        if (pmap_extract(pv->pmap, pv->va, &pa) ||
            pg_trunc(mu->core, pa) != phys_addr(mu->ph, pg)) {
            check_fail(k->ck, "PV entry for va %#llx has no matching PTE",
                       (unsigned long long)pv->va);
            return n;
        }
        if (n == k->capkeys) {
            size_t cap = k->capkeys ? 2 * k->capkeys : 64;
            struct pv_key *nk = realloc(k->keys, cap * sizeof(*nk));
            if (nk == NULL)
                return check_fail(k->ck, "checker: out of host memory"), n;
            k->keys = nk;
            k->capkeys = cap;
        }
        k->keys[n++] = (struct pv_key){ (uintptr_t)pv->pmap, pv->va };
    }
    if (n > 1)
        qsort(k->keys, (size_t)n, sizeof(*k->keys), key_cmp);
    for (uint64_t i = 1; i < n; i++)
        if (key_cmp(&k->keys[i - 1], &k->keys[i]) == 0)
            return check_fail(k->ck, "PV entry for va %#llx listed twice",
                              (unsigned long long)k->keys[i].va),
                   n;
    (void)hmap_get(&k->ptes, pg, &ptes);
    if (ptes != n)
        check_fail(k->ck, "page mapped by %llu PTEs has %llu PV entries",
                   (unsigned long long)ptes, (unsigned long long)n);
    return n;
}

static void check_pv(struct mmu_ck *k)
{
    struct mmu *mu = k->mu;
    const struct physmem *ph = mu->ph;
    uint64_t total = 0, dev = 0, listed = 0, key, v;
    for (uint32_t i = 0; i < ph->fresh && !k->ck->error; i++)
        total += check_pv_list(k, page_ram(i)); /* the rest never used */
    if (mu->design != XVM_DESIGN_SEGMENT && mu->devpv.n)
        return (void)check_fail(k->ck, "device PV hash used by the %s design",
                                xvm_device_design_name(mu->design));
    for (size_t i = 0; hmap_next(&mu->devpv, &i, &key, &v) && !k->ck->error;) {
        if (!page_is_device(key) || v == 0)
            return (void)check_fail(k->ck, "device PV hash holds a bad key");
        dev += check_pv_list(k, key);
        listed++;
    }
    /* The vm_page design: every device page's list. */
    for (unsigned s = 0; s < ph->ndev && !k->ck->error; s++) {
        const struct dev_seg *d = &ph->dev[s];
        if ((d->pages != NULL) != (mu->design == XVM_DESIGN_VM_PAGE))
            return (void)check_fail(k->ck,
                                    "device segment %#llx: vm_pages "
                                    "under the %s design",
                                    (unsigned long long)d->pa,
                                    xvm_device_design_name(mu->design));
        if (d->mapped != k->segptes[s])
            return (void)check_fail(k->ck,
                                    "device segment %#llx: %llu mappings "
                                    "counted, %llu PTEs",
                                    (unsigned long long)d->pa,
                                    (unsigned long long)d->mapped,
                                    (unsigned long long)k->segptes[s]);
        for (uint64_t p = 0; d->pages && p < d->npages; p++) {
            if (d->pages[p].flags != PG_DEV)
                return (void)check_fail(k->ck, "device vm_page lost PG_DEV");
            uint64_t n =
                check_pv_list(k, page_device(d->pa + (p << mu->core->pgshift)));
            dev += n;
            listed += n != 0;
        }
    }
    for (size_t i = 0; hmap_next(&k->ptes, &i, &key, &v) && !k->ck->error;)
        if (page_is_device(key) && pv_head(mu, key) == NULL)
            return (void)check_fail(k->ck, "device page mapped without PV "
                                           "entries");
    if (total + dev != mu->pv.cur || dev != mu->pv_device.cur ||
        listed != mu->device_mapped.cur)
        check_fail(k->ck,
                   "PV entries: counted %llu (%llu device), found "
                   "%llu (%llu)",
                   (unsigned long long)mu->pv.cur,
                   (unsigned long long)mu->pv_device.cur,
                   (unsigned long long)(total + dev), (unsigned long long)dev);
}

/* Live TLB entries agree with the page tables they cache. */
static void check_tlb(struct mmu_ck *k)
{
    struct mmu *mu = k->mu;
    unsigned shift = mu->core->pgshift;
    if (mu->tlb_empty.asid != 0)
        return (void)check_fail(k->ck, "the empty TLB entry holds an asid");
    for (struct pmap *pm = mu->pmaps; pm && !k->ck->error; pm = pm->next) {
        for (uint64_t i = 0; i < tlb_size(&mu->tlb); i++) {
            struct tlbent *e = &mu->tlb.ent[i];
            uint64_t pa, va = e->vpn << shift;
            if (e->asid != pm->asid)
                continue;
            if (pm->tlb_win == &mu->tlb_empty)
                return (void)check_fail(k->ck, "TLB entry of an address "
                                               "space that reads none");
            if (tlb_slot(&mu->tlb, e->asid, e->vpn) != e)
                return (void)check_fail(k->ck, "TLB entry in the wrong slot");
            if (pmap_extract(pm, va, &pa) || pa != e->pa ||
                e->host != phys_data(mu->ph, phys_lookup(mu->ph, pa)))
                return (void)check_fail(k->ck,
                                        "TLB entry for va %#llx is "
                                        "stale",
                                        (unsigned long long)va);
            if (e->perm & XVM_PROT_WRITE &&
                page_is_device(phys_lookup(mu->ph, pa)))
                return (void)check_fail(k->ck, "TLB grants write to a device "
                                               "page");
            /* A live entry was filled from a current table: it may grant
             * no more than its PTE, write only on a modified page. */
            uint64_t pte = pmap_pte(pm, va);
            if (e->perm & ~tlb_perm(pte))
                return (void)check_fail(k->ck,
                                        "TLB entry for va %#llx grants "
                                        "more than its PTE",
                                        (unsigned long long)va);
            if (e->shift != pte_shift(pte, shift))
                return (void)check_fail(k->ck,
                                        "TLB entry for va %#llx has the "
                                        "wrong page size",
                                        (unsigned long long)va);
        }
    }
}

void mmu_check(struct mmu *mu, struct check *ck)
{
    struct mmu_ck k = { .mu = mu, .ck = ck };
    hmap_init(&k.ptes);
    hmap_init(&k.wired);
    k.segptes = calloc(mu->ph->ndev + 1, sizeof(*k.segptes));
    if (k.segptes == NULL)
        return (void)check_fail(ck, "checker: out of host memory");
    for (struct pmap *pm = mu->pmaps; pm && !ck->error; pm = pm->next) {
        k.pm = pm;
        k.leaves = k.tables = 0;
        visit_rec(pm, pm->root, pm->root_dir, 0, 0, check_pte, check_table, &k,
                  false);
        if (k.leaves != pm->resident)
            check_fail(ck, "pmap: %llu valid PTEs, resident count %llu",
                       (unsigned long long)k.leaves,
                       (unsigned long long)pm->resident);
        if (k.tables != pm->ptpages)
            check_fail(ck, "pmap: %llu tables, counted %llu",
                       (unsigned long long)k.tables,
                       (unsigned long long)pm->ptpages);
    }
    if (!ck->error)
        check_wired(&k);
    if (!ck->error)
        check_pv(&k);
    if (!ck->error)
        check_tlb(&k);
    hmap_fini(mu->core, &k.ptes);
    hmap_fini(mu->core, &k.wired);
    free(k.keys);
    free(k.segptes);
}
