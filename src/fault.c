/*
 * The fault handler.
 *
 * A fault context is filled by fault_check() and read-only afterwards;
 * then either the upper path (an anon exists for the page) or the lower
 * path (the page comes from the object, or is zero) resolves it:
 *
 *                 +---------------- entry ----------------+
 *   upper  amap:  |  anon  |        |  anon  |            |  private pages
 *                 +--------+--------+--------+------------+
 *   lower  obj:   | RAM pg | device | hole   |   (none)   |  pager's pages
 *                 +--------+--------+--------+------------+
 *                                       |          |
 *                                   zero page   zero page / zero-fill
 *
 *   read  fault: map what is there, never writable when it is shared
 *                (anon ref > 1, needs-copy, private object page, device);
 *   write fault: upper, anon ref > 1 -> promote: copy into a new anon;
 *                lower, private      -> promote: copy (or zero-fill)
 *                                       into a new anon in the amap;
 *                lower, shared       -> map the object page writable.
 *
 * Device pages skip all paging state: they are never wired (paper §11.4),
 * never loaned, and a write always promotes them (§6.3).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "amap.h"
#include "fault.h"
#include "machine.h"
#include "map.h"
#include "object.h"
#include "pagedaemon.h"
#include "pmap.h"
#include "vmspace.h"

struct faultctx {
    struct xvm_vmspace *vs;
    struct vm_map_entry *entry;
    uint64_t va;                /* page aligned */
    unsigned access;
    unsigned enter_prot;        /* what a mapping may allow */
    bool cow_now;               /* a write that must get a private page */
    bool wire;
    uint64_t sva, eva;          /* neighbour window, inside the entry */
};

static uint64_t slot_of(const struct faultctx *f, uint64_t va)
{
    struct vm_map_entry *e = f->entry;
    return e->aoff + ((va - e->start) >> f->vs->m->pgshift);
}

static unsigned pmap_flags(const struct faultctx *f)
{
    return f->wire || f->entry->wired ? PMAP_WIRED : 0;
}

/*
 * Large entries get their amap a chunk at a time, as UVM's amap_copy
 * chunks: a first write into a huge mapping clips out the aligned chunk
 * around it, so amaps (and their copies after fork) cost what is touched,
 * not what is mapped.
 */
#define CHUNK_PAGES 16384u     /* 64 MiB: forks stay O(entries) for big heaps */
#define CHUNK_MAX(m) ((uint64_t)4 * CHUNK_PAGES << (m)->pgshift)

static int chunk_entry(struct faultctx *f, struct vm_map_entry **ep)
{
    struct xvm_machine *m = f->vs->m;
    struct vm_map *map = &f->vs->map;
    uint64_t chunk = (uint64_t)CHUNK_PAGES << m->pgshift;
    uint64_t lo = f->va & ~(chunk - 1), hi = lo + chunk;
    int error = map_clip(m, map, *ep, lo);
    if (error == 0)
        error = map_clip(m, map, map_lookup(map, f->va), hi);
    *ep = map_lookup(map, f->va);
    return error;
}

/* Entry lookup, protection, needs-copy and the neighbour window. */
static int fault_check(struct faultctx *f)
{
    struct xvm_machine *m = f->vs->m;
    struct vm_map_entry *e = map_lookup(&f->vs->map, f->va);

    if (e == NULL)
        return EFAULT;
    if ((f->access & e->prot) != f->access)
        return EACCES;
    f->cow_now = (f->access & XVM_PROT_WRITE) != 0;
    if (e->needs_copy && f->cow_now && !f->wire && e->end - e->start > CHUNK_MAX(m)) {
        int error = chunk_entry(f, &e);
        if (error)
            return error;
    }
    f->entry = e;
    f->enter_prot = e->prot;
    if (e->needs_copy) {
        if (f->cow_now) {
            int error = amap_copy(m, e);
            if (error)
                return error;
        } else {
            f->enter_prot &= ~(unsigned)XVM_PROT_WRITE;
        }
    }
    const struct xvm_ahead *ah = &m->cfg.ahead[e->advice];
    uint64_t back = (uint64_t)ah->back << m->pgshift;
    uint64_t fwd = (uint64_t)ah->forward << m->pgshift;
    f->sva = f->va - e->start > back ? f->va - back : e->start;
    f->eva = e->end - f->va - m->pgsz > fwd ? f->va + m->pgsz + fwd : e->end;
    if (f->wire)
        f->sva = f->va, f->eva = f->va + m->pgsz;
    return 0;
}

/* Optional mappings around the fault: failure is harmless (§11.2). */
static void neighbour(struct faultctx *f, uint64_t va, pageh pg, unsigned prot)
{
    struct xvm_machine *m = f->vs->m;
    uint64_t pa;
    if (pmap_extract(f->vs->pmap, va, &pa) == 0)
        return;                 /* already mapped: leave it */
    if (page_is_device(pg))
        prot &= ~(unsigned)XVM_PROT_WRITE;
    if (pmap_enter(f->vs->pmap, va, pg, prot, PMAP_NEIGHBOUR) == 0) {
        m->st.neighbour_maps++;
        if (page_is_device(pg))
            m->st.device_maps++;
    }
}

static void neighbours(struct faultctx *f)
{
    struct xvm_machine *m = f->vs->m;
    struct vm_map_entry *e = f->entry;

    for (uint64_t va = f->sva; va < f->eva; va += m->pgsz) {
        if (va == f->va)
            continue;
        struct anon *an = e->amap ? amap_lookup(e->amap, slot_of(f, va)) : NULL;
        if (an) {
            unsigned prot = f->enter_prot;
            if (an->ref > 1)
                prot &= ~(unsigned)XVM_PROT_WRITE;
            neighbour(f, va, an->page, prot);
        } else if (e->obj) {
            pageh pg;
            uint64_t off = e->offset + (va - e->start);
            if (e->obj->ops->get(e->obj, off, PGO_LOCKED, &pg) != 0)
                continue;
            unsigned prot = f->enter_prot;
            if (e->cow)
                prot &= ~(unsigned)XVM_PROT_WRITE;
            neighbour(f, va, pg, prot);
        }
    }
}

/* => the new anon in the entry's amap at va, copied from src (or zeroed). */
static int promote(struct faultctx *f, const uint8_t *src, struct anon **out)
{
    struct xvm_machine *m = f->vs->m;
    struct vm_map_entry *e = f->entry;
    assert(e->amap != NULL && !e->needs_copy);
    int error = anon_alloc(m, src, out);
    if (error)
        return error;
    amap_add(m, e->amap, slot_of(f, f->va), *out);
    return 0;
}

static int enter(struct faultctx *f, pageh pg, unsigned prot)
{
    struct xvm_machine *m = f->vs->m;
    int error = pmap_enter(f->vs->pmap, f->va, pg, prot, pmap_flags(f));
    if (error == 0 && page_is_device(pg))
        m->st.device_maps++;
    return error;
}

/*
 * Enters a page just promoted into the amap.  If that fails, the page it
 * replaces must not stay mapped: this process would go on seeing (and
 * writing through a sharer's) old page.
 */
static int enter_promoted(struct faultctx *f, struct anon *an)
{
    int error = enter(f, an->page, f->enter_prot);
    if (error)
        pmap_remove(f->vs->pmap, f->va, f->va + f->vs->m->pgsz);
    return error;
}

/* An anon exists for the page. */
static int fault_upper(struct faultctx *f, struct anon *an)
{
    struct xvm_machine *m = f->vs->m;
    m->st.faults_upper++;
    neighbours(f);
    if (f->cow_now && an->ref > 1) {
        struct anon *nan;
        int error = promote(f, phys_page(m, an->page)->data, &nan);
        if (error)
            return error;
        m->st.cow_promotions++;
        return enter_promoted(f, nan);
    }
    unsigned prot = f->enter_prot;
    if (an->ref > 1)
        prot &= ~(unsigned)XVM_PROT_WRITE;
    return enter(f, an->page, prot);
}

/*
 * A page promoted into a shared amap replaces, for every sharer, the
 * object or zero page they may have mapped: they must fault and see the
 * new one (as uvm_fault_lower_promote does; amap_add covers old anons).
 */
static void unshare_source(struct faultctx *f, pageh src)
{
    if (f->entry->amap->flags & AMAP_SHARED)
        pmap_page_protect(f->vs->m, src, XVM_PROT_NONE);
}

/* No anon: the object's page, the zero page, or a fresh private copy. */
static int fault_lower(struct faultctx *f)
{
    struct xvm_machine *m = f->vs->m;
    struct vm_map_entry *e = f->entry;
    struct anon *an;
    pageh pg;
    int error;

    m->st.faults_lower++;
    neighbours(f);
    if (e->obj == NULL) {
        if (!f->cow_now) {
            /* Reading untouched anonymous memory costs no frame. */
            m->st.zero_page_maps++;
            return enter(f, m->zero_page,
                         f->enter_prot & ~(unsigned)XVM_PROT_WRITE);
        }
        if ((error = promote(f, NULL, &an)) != 0)
            return error;
        unshare_source(f, m->zero_page);
        m->st.zero_fills++;
        return enter_promoted(f, an);
    }

    error = e->obj->ops->get(e->obj, e->offset + (f->va - e->start), 0, &pg);
    if (error)
        return error;
    if (f->wire && page_is_device(pg))
        return EINVAL;          /* device pages are never wired (§11.4) */
    if (f->cow_now && e->cow) {
        error = promote(f, phys_data(m, pg), &an);
        if (error)
            return error;
        unshare_source(f, pg);
        m->st.cow_promotions++;
        if (page_is_device(pg)) {
            m->st.cow_from_device++;
            phys_dev_read(m, phys_dev_seg(m, phys_addr(m, pg)), m->pgsz);
        }
        return enter_promoted(f, an);
    }
    unsigned prot = f->enter_prot;
    if (e->cow || page_is_device(pg) || pg == m->zero_page)
        prot &= ~(unsigned)XVM_PROT_WRITE;
    return enter(f, pg, prot);
}

static int fault_once(struct xvm_vmspace *vs, uint64_t va, unsigned access,
                      bool wire)
{
    struct xvm_machine *m = vs->m;
    struct faultctx f = {
        .vs = vs, .va = m_trunc(m, va), .access = access, .wire = wire,
    };

    m->st.faults++;
    if (access & XVM_PROT_WRITE)
        m->st.faults_write++;
    else if (access & XVM_PROT_EXEC)
        m->st.faults_exec++;
    else
        m->st.faults_read++;

    int error = fault_check(&f);
    if (error == 0) {
        struct vm_map_entry *e = f.entry;
        struct anon *an = e->amap ? amap_lookup(e->amap, slot_of(&f, f.va)) : NULL;
        error = an ? fault_upper(&f, an) : fault_lower(&f);
    }
    if (error == ENOMEM)
        m->st.enomem++;
    return error;
}

/*
 * Out of RAM, the fault is restarted once the page daemon has freed clean
 * page-cache pages, as UVM waits for the pagedaemon and restarts.  Only
 * here, with nothing held, may pages be taken away.  The restarts are
 * bounded: the fault may refill exactly the pages just freed (its own
 * page, read-ahead) and fail again for a page table, forever.
 */
#define MAX_RESTARTS 16

int uvm_fault(struct xvm_vmspace *vs, uint64_t va, unsigned access, bool wire)
{
    int error;
    unsigned restarts = 0;
    while ((error = fault_once(vs, va, access, wire)) == ENOMEM &&
           restarts++ < MAX_RESTARTS && pagedaemon_reclaim(vs->m) > 0)
        ;
    return error;
}
