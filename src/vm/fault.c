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
 * and a write always promotes them (§6.3).  A loaned RAM page is never
 * mapped writable: a write copies it first (a loan break, §11.3); a
 * loaned device page needs nothing (loan.h).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fault.h"
#include "pagedaemon.h"
#include "vfs.h"

struct faultctx {
    struct xvm_vmspace *vs;
    struct vm_map_entry *entry;
    uint64_t va; /* page aligned */
    unsigned access;
    unsigned enter_prot; /* what a mapping may allow */
    bool cow_now;        /* a write that must get a private page */
    bool wire;
    uint64_t sva, eva; /* neighbour window, inside the entry */
};

static uint64_t slot_of(const struct faultctx *f, uint64_t va)
{
    struct vm_map_entry *e = f->entry;
    return e->aoff + ((va - e->start) >> f->vs->vm->core->pgshift);
}

static unsigned pmap_flags(const struct faultctx *f)
{
    return f->wire || f->entry->wired ? PMAP_WIRED : 0;
}

/* Entry lookup, protection, needs-copy and the neighbour window. */
static int fault_check(struct faultctx *f)
{
    struct vm *vm = f->vs->vm;
    uint32_t pgsz = vm->core->pgsz;
    struct vm_map_entry *e = map_lookup_hint(&f->vs->map, f->va);

    if (e == NULL)
        return EFAULT;
    if ((f->access & e->prot) != f->access)
        return EACCES;
    f->cow_now = (f->access & XVM_PROT_WRITE) != 0;
    if (e->needs_copy && f->cow_now) {
        /* mlock walks its entry page by page: no chunking under it. */
        int error = map_copy_amap(vm, &f->vs->map, f->va, !f->wire, &e);
        if (error)
            return error;
    }
    f->entry = e;
    f->enter_prot = e->prot;
    if (e->needs_copy)
        f->enter_prot &= ~(unsigned)XVM_PROT_WRITE;
    const struct xvm_ahead *ah = &vm->ahead[e->advice];
    uint64_t back = (uint64_t)ah->back << vm->core->pgshift;
    uint64_t fwd = (uint64_t)ah->forward << vm->core->pgshift;
    f->sva = f->va - e->start > back ? f->va - back : e->start;
    f->eva = e->end - f->va - pgsz > fwd ? f->va + pgsz + fwd : e->end;
    if (f->wire)
        f->sva = f->va, f->eva = f->va + pgsz;
    return 0;
}

void vm_set_neighbour_reserve(struct vm *vm, uint64_t pages, uint64_t pv_limit)
{
    vm->reserve_pages = pages;
    vm->pv_limit = pv_limit;
}

/*
 * The neighbour reserve (§11.2): UVM enters fault-ahead mappings without
 * asking what they cost; each may take a PV entry (kernel memory) and a
 * page-table page.  Bounded, they are skipped while free frames or PV
 * entries are short, so a tight system spends its last pages on what was
 * asked for.
 */
static bool neighbour_reserved(const struct vm *vm)
{
    return (vm->reserve_pages && vm->ph->nfree <= vm->reserve_pages) ||
           (vm->pv_limit && vm->mmu->pv.cur >= vm->pv_limit);
}

/* Pages no mapping may write, shared or not: device pages (§6.3) and
 * the zero page every process shares. */
static bool never_writable(const struct vm *vm, pageh pg)
{
    return page_is_device(pg) || pg == vm->ph->zero_page;
}

/* Optional mappings around the fault: failure is harmless (§11.2). */
static void neighbour(struct faultctx *f, uint64_t va, pageh pg, unsigned prot)
{
    struct vm *vm = f->vs->vm;
    uint64_t pa;
    if (pmap_extract(f->vs->pmap, va, &pa) == 0)
        return; /* already mapped: leave it */
    if (neighbour_reserved(vm)) {
        vm->st.neighbour_skipped++;
        return;
    }
    if (never_writable(vm, pg) || page_loaned(vm->ph, pg))
        prot &= ~(unsigned)XVM_PROT_WRITE;
    if (pmap_enter(f->vs->pmap, va, pg, prot, PMAP_NEIGHBOUR) == 0) {
        cpu_fault_ahead(vm->mmu->cpu);
        vm->st.neighbour_maps++;
        if (page_is_device(pg))
            vm->st.device_maps++;
    }
}

static void neighbours(struct faultctx *f)
{
    struct vm *vm = f->vs->vm;
    struct vm_map_entry *e = f->entry;

    for (uint64_t va = f->sva; va < f->eva; va += vm->core->pgsz) {
        if (va == f->va)
            continue;
        struct anon *an = e->amap ? amap_lookup(e->amap, slot_of(f, va)) : NULL;
        if (an && an->page == PAGEH_NONE)
            continue; /* in swap: no I/O for a neighbour */
        if (an) {
            unsigned prot = f->enter_prot;
            if (an->ref > 1)
                prot &= ~(unsigned)XVM_PROT_WRITE;
            neighbour(f, va, an->page, prot);
        } else if (e->obj) {
            pageh pg;
            uint64_t off = e->offset + (va - e->start);
            if (object_get(e->obj, off, PGO_LOCKED, &pg) != 0)
                continue;
            unsigned prot = f->enter_prot;
            if (e->cow)
                prot &= ~(unsigned)XVM_PROT_WRITE;
            neighbour(f, va, pg, prot);
        }
    }
}

/* => the new anon in the entry's amap at va, a copy of src (or zeroed when
 *    src is PAGEH_NONE). */
static int promote(struct faultctx *f, pageh src, struct anon **out)
{
    struct vm *vm = f->vs->vm;
    struct vm_map_entry *e = f->entry;
    assert(e->amap != NULL && !e->needs_copy);
    if (src != PAGEH_NONE && core_inject(vm->core, INJECT_COW))
        return ENOMEM; /* a copy-on-write promotion, not a zero-fill */
    int error = anon_alloc(vm, src, out);
    if (error)
        return error;
    if (src == PAGEH_NONE)
        cpu_zero_fill(vm->mmu->cpu);
    else
        cpu_copy(vm->mmu->cpu, 0, vm->core->pgsz, phys_on_nor(vm->ph, src));
    amap_add(vm, e->amap, slot_of(f, f->va), *out);
    return 0;
}

/*
 * Is [va, va + size) of the entry one aligned, contiguous run of device
 * pages from pa, with no private copy over any of it?  Asked quietly: the
 * layout is the file system's, known at makefs time (paper §11.5), and
 * looking must change no figure.
 */
static bool device_run(struct faultctx *f, uint64_t va, uint64_t pa,
                       uint64_t size)
{
    struct vm_map_entry *e = f->entry;
    struct core *core = f->vs->vm->core;
    bool ok = true;
    core_quiet_begin(core);
    for (uint64_t off = 0; ok && off < size; off += core->pgsz) {
        pageh pg;
        if (e->amap && amap_lookup(e->amap, slot_of(f, va + off)))
            ok = false;
        else if (object_get(e->obj, e->offset + (va + off - e->start),
                            PGO_LOCKED, &pg) != 0 ||
                 pg != page_device(pa + off))
            ok = false;
    }
    core_quiet_end(core);
    return ok;
}

/*
 * Super pages for XIP text (paper §11 "Super pages", §4.2): when the
 * profile turns them on and the fault is on a read-only, executable
 * mapping of device pages, the largest size the CPU's TLB holds whose
 * aligned run around the fault lies in the entry and is one contiguous,
 * equally aligned run of device memory is entered as one large mapping.
 * => true when it was.
 */
static bool superpage(struct faultctx *f, pageh pg, unsigned prot)
{
    struct vm *vm = f->vs->vm;
    const struct cpu_params *cp = &vm->mmu->cpu->p;
    struct vm_map_entry *e = f->entry;
    if (!cp->superpages || f->wire || e->wired || e->obj == NULL ||
        (e->prot & XVM_PROT_WRITE) || !(e->prot & XVM_PROT_EXEC))
        return false;
    uint64_t pa = phys_addr(vm->ph, pg);
    for (unsigned s = 40; s > vm->core->pgshift; s--) {
        uint64_t size = UINT64_C(1) << s;
        uint64_t va0 = f->va & ~(size - 1), pa0 = pa - (f->va - va0);
        if (!(cp->superpage_sizes >> s & 1) || va0 < e->start ||
            e->end - va0 < size || pa < f->va - va0 || (pa0 & (size - 1)) ||
            !device_run(f, va0, pa0, size))
            continue;
        if (pmap_enter_large(f->vs->pmap, va0, pa0, s, prot) == 0) {
            vm->st.device_maps += size >> vm->core->pgshift;
            return true;
        }
    }
    return false;
}

/* Maps the faulting page; a pageable page was used: it is activated
 * (uvm_pageactivate), its neighbours only mapped. */
static int enter(struct faultctx *f, pageh pg, unsigned prot)
{
    struct vm *vm = f->vs->vm;
    if (page_loaned(vm->ph, pg))
        prot &= ~(unsigned)XVM_PROT_WRITE; /* a write must copy (§11.3) */
    int error = pmap_enter(f->vs->pmap, f->va, pg, prot, pmap_flags(f));
    if (error == 0 && page_is_device(pg))
        vm->st.device_maps++;
    else if (error == 0)
        pageq_activate(&vm->objs->pd, pg);
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
        pmap_remove(f->vs->pmap, f->va, f->va + f->vs->vm->core->pgsz);
    return error;
}

/* An anon exists for the page (in RAM, or paged in first). */
static int fault_upper(struct faultctx *f, struct anon *an)
{
    struct vm *vm = f->vs->vm;
    vm->st.faults_upper++;
    int error = anon_pagein(vm, an);
    if (error)
        return error;
    neighbours(f);
    if (f->cow_now && an->ref > 1) {
        struct anon *nan;
        if ((error = promote(f, an->page, &nan)) != 0)
            return error;
        vm->st.cow_promotions++;
        return enter_promoted(f, nan);
    }
    if (f->cow_now && page_loaned(vm->ph, an->page)) {
        /* Its own page, lent to an I/O: the anon takes a copy. */
        if ((error = anon_loanbreak(vm, an)) != 0)
            return error;
        vm->st.loan_breaks++;
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
 * Without PV entries for device pages (the amap-copy design), the sharers
 * are found by their maps instead.
 */
static void unshare_source(struct faultctx *f, pageh src)
{
    struct vm *vm = f->vs->vm;
    if (!(f->entry->amap->flags & AMAP_SHARED))
        return;
    if (pmap_tracks(vm->mmu, src))
        pmap_page_protect(vm->mmu, src, XVM_PROT_NONE);
    else
        vm_unmap_sharers(vm, f->entry->amap, slot_of(f, f->va));
}

/* No anon: the object's page, the zero page, or a fresh private copy. */
static int fault_lower(struct faultctx *f)
{
    struct vm *vm = f->vs->vm;
    struct vm_map_entry *e = f->entry;
    struct anon *an;
    pageh pg;
    int error;

    vm->st.faults_lower++;
    neighbours(f);
    if (e->obj == NULL) {
        if (!f->cow_now) {
            /* Reading untouched anonymous memory costs no frame. */
            vm->st.zero_page_maps++;
            return enter(f, vm->ph->zero_page,
                         f->enter_prot & ~(unsigned)XVM_PROT_WRITE);
        }
        if ((error = promote(f, PAGEH_NONE, &an)) != 0)
            return error;
        unshare_source(f, vm->ph->zero_page);
        vm->st.zero_fills++;
        return enter_promoted(f, an);
    }

    error = object_get(e->obj, e->offset + (f->va - e->start), 0, &pg);
    if (error)
        return error;
    if (f->wire && page_is_device(pg))
        return EINVAL; /* device pages are never wired (§11.4) */
    if (f->cow_now && e->cow) {
        error = promote(f, pg, &an);
        if (error)
            return error;
        unshare_source(f, pg);
        vm->st.cow_promotions++;
        if (page_is_device(pg))
            vm->st.cow_from_device++;
        struct file_acct *a = vnode_acct(e->obj);
        if (a)
            acct_copy(vm->core, a,
                      (e->offset + (f->va - e->start)) >> vm->core->pgshift,
                      e->text);
        return enter_promoted(f, an);
    }
    if (f->cow_now && never_writable(vm, pg))
        return EACCES; /* a shared write to a device or zero page */
    if (f->cow_now && page_loaned(vm->ph, pg)) {
        /* A shared object's page, lent to an I/O: the object takes a
         * copy in its place. */
        uint64_t off = e->offset + (f->va - e->start);
        if ((error = object_loanbreak(e->obj, off, &pg)) != 0)
            return error;
        vm->st.loan_breaks++;
    }
    unsigned prot = f->enter_prot;
    if (e->cow || never_writable(vm, pg))
        prot &= ~(unsigned)XVM_PROT_WRITE;
    if (page_is_device(pg) && superpage(f, pg, prot))
        return 0;
    return enter(f, pg, prot);
}

static int fault_once(struct xvm_vmspace *vs, uint64_t va, unsigned access,
                      bool wire)
{
    struct vm *vm = vs->vm;
    struct faultctx f = {
        .vs = vs,
        .va = pg_trunc(vm->core, va),
        .access = access,
        .wire = wire,
    };

    vm->st.faults++;
    cpu_fault(vm->mmu->cpu);
    if (access & XVM_PROT_WRITE)
        vm->st.faults_write++;
    else if (access & XVM_PROT_EXEC)
        vm->st.faults_exec++;
    else
        vm->st.faults_read++;

    int error = fault_check(&f);
    if (error == 0) {
        struct vm_map_entry *e = f.entry;
        struct anon *an =
            e->amap ? amap_lookup(e->amap, slot_of(&f, f.va)) : NULL;
        error = an ? fault_upper(&f, an) : fault_lower(&f);
    }
    if (error == ENOMEM)
        vm->st.enomem++;
    return error;
}

/*
 * Out of RAM, the fault is restarted once the page daemon has freed clean
 * page-cache pages, as UVM waits for the pagedaemon and restarts.  Only
 * here, with nothing held, may pages be taken away.
 */
struct fault_args {
    struct xvm_vmspace *vs;
    uint64_t va;
    unsigned access;
    bool wire;
};

static int fault_op(void *arg)
{
    struct fault_args *a = arg;
    return fault_once(a->vs, a->va, a->access, a->wire);
}

int uvm_fault(struct xvm_vmspace *vs, uint64_t va, unsigned access, bool wire)
{
    struct fault_args a = { vs, va, access, wire };
    uint64_t refused = vs->vm->ph->refused;
    if (vm_reentered(vs->vm))
        return EDEADLK;
    int error = pagedaemon_retry(&vs->vm->objs->pd, fault_op, &a);
    /* RAM was full and the page daemon could not help: the process is
     * killed (uvm_fault's caller, the trap handler, in NetBSD).  Not for
     * mlock's faults: sys_mlock returns ENOMEM. */
    if (error == ENOMEM && !wire && phys_ran_out(vs->vm->ph, refused))
        vm_oom(vs);
    return error;
}

/*
 * mlock: faults every page of each entry in wired (uvm_fault_wire).
 * Locks do not nest (POSIX); entry->wired is 0, 1, or WIRING while this
 * call may still have to undo it.
 */
#define WIRING 2
/* A wiring fault's ENOMEM, under another name while the call's own retry
 * sees it: the fault's retry already gave up, running the whole mlock
 * again would only page the same pages out and in.  Negative, so that
 * no errno a pager returns is mistaken for it. */
#define WIRE_NOMEM (-ENOMEM)

static void unwire_pages(struct xvm_vmspace *vs, struct vm_map_entry *e,
                         uint64_t upto)
{
    for (uint64_t va = e->start; va < upto; va += vs->vm->core->pgsz)
        pmap_unwire(vs->pmap, va);
    e->wired = 0;
}

static int wire_check(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    (void)vs;
    (void)v;
    return e->prot == XVM_PROT_NONE ? EACCES : 0;
}

static int wire_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    unsigned access = e->prot & (XVM_PROT_READ | XVM_PROT_WRITE);
    (void)v;
    if (e->wired)
        return 0;
    if (access == 0)
        access = XVM_PROT_EXEC;
    e->wired = WIRING;
    for (uint64_t va = e->start; va < e->end; va += vs->vm->core->pgsz) {
        int error = uvm_fault(vs, va, access, true);
        if (error) {
            unwire_pages(vs, e, va);
            return error == ENOMEM ? WIRE_NOMEM : error;
        }
    }
    return 0;
}

static int unwire_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    (void)v;
    if (e->wired)
        unwire_pages(vs, e, e->end);
    return 0;
}

/* => whether wiring npages more would pass uvmexp.wiredmax, a third of
 *    RAM: a machine whose RAM is all wired could not page at all. */
static bool beyond_wiredmax(const struct xvm_vmspace *vs, uint64_t npages)
{
    const struct physmem *ph = vs->vm->ph;
    return npages > ph->npages / 3 || ph->wired > ph->npages / 3 - npages;
}

int xvm_mlock(xvm_vmspace *vs, uint64_t addr, uint64_t len)
{
    uint64_t top;
    if (vs && len && vmspace_check_range(vs, addr, len, &top) == 0 &&
        beyond_wiredmax(vs, (top - addr) >> vs->vm->core->pgshift))
        return EAGAIN; /* sys_mlock, before anything is faulted in */
    int error = vmspace_range_apply(vs, addr, len, wire_check, wire_apply, 0);
    if (error == WIRE_NOMEM)
        error = ENOMEM;
    if (vs == NULL)
        return error;
    /* Entries wired by this call are undone if any part was refused. */
    uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
    struct vm_map_entry *e = map_first_after(&vs->map, addr);
    for (; e != &vs->map.header && e->start < end; e = e->next) {
        if (e->wired == WIRING && error)
            unwire_pages(vs, e, e->end);
        else if (e->wired == WIRING)
            e->wired = 1;
    }
    return error;
}

int xvm_munlock(xvm_vmspace *vs, uint64_t addr, uint64_t len)
{
    return vmspace_range_apply(vs, addr, len, NULL, unwire_apply, 0);
}
