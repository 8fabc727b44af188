/*
 * Introspection: what one page and one address space hold, for users
 * who check their own fault-handler and copy-on-write logic against the
 * library (xvm_page_info, xvm_map_entry_next, xvm_vmspace_stats).
 *
 * Everything here only reads.  It runs quiet (core_quiet_begin): a pager
 * asked for a resident page (PGO_LOCKED) counts nothing, the file system
 * reads its metadata uncounted around the buffer cache, and no injected
 * failure moves (core_inject).  PTEs are read as the MMU sees them, a
 * lazily write-protected table's write bits as cleared (pmap_pte_current).
 */
#include <errno.h>
#include <string.h>

#include "vfs.h"
#include "vmspace.h"

/* The pager behind obj, as the public header names it. */
static enum xvm_object_kind object_kind(const struct xvm_object *obj)
{
    if (obj == NULL)
        return XVM_OBJECT_NONE;
    if (obj->ops == &aobj_pager)
        return XVM_OBJECT_AOBJ;
    if (obj->ops == &devobj_pager)
        return XVM_OBJECT_DEVICE;
    if (obj->ops == &vnode_pager)
        return XVM_OBJECT_VNODE;
    if (obj->ops == &xip_pager)
        return XVM_OBJECT_XIP;
    return XVM_OBJECT_USER;
}

static enum xvm_page_kind page_kind(const struct physmem *ph, pageh pg)
{
    if (page_is_device(pg))
        return XVM_PAGE_DEVICE;
    return pg == ph->zero_page ? XVM_PAGE_ZERO : XVM_PAGE_RAM;
}

/*
 * => the page the VM holds for va in e (an anon's, or the object's
 *    resident page), or PAGEH_NONE; fills the owner fields.
 */
static pageh held_page(struct xvm_vmspace *vs, struct vm_map_entry *e,
                       uint64_t va, struct xvm_page_info *out)
{
    struct vm *vm = vs->vm;
    uint64_t slot = e->aoff + ((va - e->start) >> vm->core->pgshift);
    struct anon *an = e->amap ? amap_lookup(e->amap, slot) : NULL;
    pageh pg = PAGEH_NONE;
    if (an) {
        out->owner = XVM_OWNER_ANON;
        out->anon_refs = an->ref;
        return an->page;
    }
    if (e->obj) {
        out->owner = XVM_OWNER_OBJECT;
        out->object_refs = e->obj->refs;
        if (object_get(e->obj, out->object_offset, PGO_LOCKED, &pg) != 0)
            pg = PAGEH_NONE;
    }
    return pg;
}

int xvm_page_info(xvm_vmspace *vs, uint64_t va, struct xvm_page_info *out)
{
    if (vs == NULL || out == NULL)
        return EINVAL;
    memset(out, 0, sizeof(*out));
    struct vm *vm = vs->vm;
    if (va >= vm->core->prof->va_max)
        return 0;
    struct vm_map_entry *e = map_lookup(&vs->map, va);
    if (e == NULL)
        return 0;
    va = pg_trunc(vm->core, va);
    core_quiet_begin(vm->core);
    out->object_kind = object_kind(e->obj);
    if (e->obj)
        out->object_offset = e->offset + (va - e->start);
    pageh pg = held_page(vs, e, va, out);
    uint64_t pte = pmap_pte_current(vs->pmap, va);
    if (pte & PTE_V) {
        out->mapped = 1;
        out->prot = pte_prot(pte);
        out->writable = (pte & PTE_W) != 0;
        /* What the CPU sees (the checker holds it equal to the VM's). */
        pg = pte_page(vm->mmu, pte);
    }
    if (pg == PAGEH_NONE) {
        out->kind = XVM_PAGE_NOT_RESIDENT;
    } else {
        out->kind = page_kind(vm->ph, pg);
        out->pa = phys_addr(vm->ph, pg);
        out->pv_count = pmap_pv_count(vm->mmu, pg);
        out->modified = pmap_is_modified(vm->mmu, pg);
        out->referenced = pmap_is_referenced(vm->mmu, pg);
        if (!page_is_device(pg)) {
            const struct vm_page *p = phys_page(vm->ph, pg);
            out->wired = p->wire;
            out->use = (enum xvm_use)p->use;
            out->loans = p->loan;
        }
    }
    core_quiet_end(vm->core);
    return 0;
}

int xvm_map_entry_next(xvm_vmspace *vs, uint64_t addr,
                       struct xvm_map_entry_info *out)
{
    if (vs == NULL || out == NULL)
        return EINVAL;
    struct vm_map_entry *e = map_first_after(&vs->map, addr);
    if (e == &vs->map.header)
        return ENOENT;
    *out = (struct xvm_map_entry_info){
        .start = e->start,
        .end = e->end,
        .prot = e->prot,
        .max_prot = e->maxprot,
        .inherit = (enum xvm_inherit)e->inherit,
        .advice = (enum xvm_advice)e->advice,
        .shared = !e->cow,
        .needs_copy = e->needs_copy,
        .wired = e->wired != 0,
        .has_amap = e->amap != NULL,
        .object_kind = object_kind(e->obj),
        .object_offset = e->obj ? e->offset : 0,
    };
    return 0;
}

struct stats_walk {
    const struct vm *vm;
    struct xvm_vmspace_stats *st;
};

static void count_pte(void *arg, uint64_t va, uint64_t pte)
{
    struct stats_walk *w = arg;
    pageh pg = pte_page(w->vm->mmu, pte);
    (void)va;
    w->st->resident++;
    w->st->resident_kind[page_kind(w->vm->ph, pg)]++;
    if (!page_is_device(pg))
        w->st->resident_use[phys_page(w->vm->ph, pg)->use]++;
    if (pte & PTE_W)
        w->st->writable++;
    if (pte & PTE_WIRED)
        w->st->wired++;
}

int xvm_vmspace_stats(xvm_vmspace *vs, struct xvm_vmspace_stats *st)
{
    if (vs == NULL || st == NULL)
        return EINVAL;
    memset(st, 0, sizeof(*st));
    struct vm_map_entry *e;
    map_foreach(&vs->map, e) {
        st->map_entries++;
        st->virtual_bytes += e->end - e->start;
    }
    struct stats_walk w = { vs->vm, st };
    pmap_visit_current(vs->pmap, count_pte, &w);
    st->page_tables = vs->pmap->ptpages;
    return 0;
}
