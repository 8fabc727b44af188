/*
 * Address spaces: create, fork, destroy, and the mmap family.
 */
#include <errno.h>

#include "amap.h"
#include "fault.h"
#include "machine.h"
#include "map.h"
#include "object.h"
#include "pmap.h"
#include "vmspace.h"

/* Where anywhere-mappings start looking, as a fraction of the space. */
#define MMAP_BASE_DIV 4

int xvm_vmspace_create(xvm_machine *m, xvm_vmspace **out)
{
    if (m == NULL || out == NULL)
        return EINVAL;
    struct xvm_vmspace *vs = m_zalloc(m, sizeof(*vs));
    if (vs == NULL)
        return ENOMEM;
    int error = pmap_create(m, &vs->pmap);
    if (error) {
        m_free(m, vs);
        return error;
    }
    vs->m = m;
    /* Page zero stays unmapped so null pointers fault. */
    map_init(&vs->map, m->pgsz, m->prof->va_max);
    vs->next = m->spaces;
    if (m->spaces)
        m->spaces->prev = vs;
    m->spaces = vs;
    *out = vs;
    return 0;
}

void xvm_vmspace_destroy(xvm_vmspace *vs)
{
    if (vs == NULL)
        return;
    struct xvm_machine *m = vs->m;
    /* Tear the tables down in one walk, then drop the references. */
    pmap_destroy(vs->pmap);
    while (vs->map.header.next != &vs->map.header) {
        struct vm_map_entry *e = vs->map.header.next;
        map_remove(&vs->map, e);
        map_entry_free(m, e);
    }
    if (vs->prev)
        vs->prev->next = vs->next;
    else
        m->spaces = vs->next;
    if (vs->next)
        vs->next->prev = vs->prev;
    m_free(m, vs);
}

/* One parent entry into the child, by its inheritance (uvmspace_fork). */
static int fork_entry(struct xvm_vmspace *parent, struct xvm_vmspace *child,
                      struct vm_map_entry *old)
{
    struct xvm_machine *m = parent->m;
    uint64_t npages = (old->end - old->start) >> m->pgshift;
    int error;

    if (old->inherit == XVM_INHERIT_NONE)
        return 0;
    if (old->inherit == XVM_INHERIT_SHARE && old->cow &&
        (old->needs_copy || old->amap == NULL)) {
        /* Both must see one amap: make the parent's real first. */
        if ((error = amap_copy(m, old)) != 0)
            return error;
    }
    struct vm_map_entry *e = map_entry_alloc(m, &child->map);
    if (e == NULL)
        return ENOMEM;
    uint32_t prio = e->prio;
    *e = *old;
    e->prio = prio;
    e->wired = 0;
    if (e->amap && (error = amap_ref(m, e->amap, e->aoff, npages)) != 0) {
        m_free(m, e);
        return error;
    }
    if (e->obj)
        object_ref(e->obj);
    map_insert(&child->map, e);

    if (old->inherit == XVM_INHERIT_SHARE) {
        if (e->amap)
            e->amap->flags |= AMAP_SHARED;
        return 0;
    }
    /* Copy: both sides copy the amap before their next write. */
    if (e->amap) {
        if (e->amap->flags & AMAP_SHARED) {
            /* Others share that amap: the child's copy must be taken now. */
            if ((error = amap_copy(m, e)) != 0)
                return error;
            /* The sharers may map these anons writable: now that the copy
             * shares them too, their writes must fault and promote. */
            for (uint32_t k = 0; k < e->amap->nused; k++)
                pmap_page_protect(m, e->amap->anon[e->amap->slots[k]]->page,
                                  XVM_PROT_READ | XVM_PROT_EXEC);
            return 0;
        }
        e->needs_copy = true;
        old->needs_copy = true;
    }
    return 0;
}

int xvm_vmspace_fork(xvm_vmspace *parent, xvm_vmspace **out)
{
    if (parent == NULL || out == NULL)
        return EINVAL;
    struct xvm_vmspace *child;
    int error = xvm_vmspace_create(parent->m, &child);
    if (error)
        return error;
    struct vm_map_entry *e;
    map_foreach(&parent->map, e) {
        if ((error = fork_entry(parent, child, e)) != 0) {
            xvm_vmspace_destroy(child);
            return error;
        }
    }
    /* The parent's writable pages must fault before their next write:
     * O(1) here, paid lazily per page table (pmap.c). */
    pmap_write_protect_all(parent->pmap);
    *out = child;
    return 0;
}

void vmspace_unmap(struct xvm_vmspace *vs, uint64_t start, uint64_t end)
{
    struct vm_map_entry *e = map_first_after(&vs->map, start);
    while (e != &vs->map.header && e->start < end) {
        struct vm_map_entry *next = e->next;
        pmap_remove(vs->pmap, e->start, e->end);
        map_remove(&vs->map, e);
        map_entry_free(vs->m, e);
        e = next;
    }
}

/* => EINVAL unless [addr, addr+len) is a page-aligned user range. */
static int check_range(struct xvm_vmspace *vs, uint64_t addr, uint64_t len,
                       uint64_t *end)
{
    struct xvm_machine *m = vs->m;
    if (len == 0 || (addr & (m->pgsz - 1)))
        return EINVAL;
    uint64_t rlen = m_round(m, len);
    if (rlen < len || addr < vs->map.minva || addr > vs->map.maxva ||
        vs->map.maxva - addr < rlen)
        return EINVAL;
    *end = addr + rlen;
    return 0;
}

int xvm_mmap(xvm_vmspace *vs, uint64_t *addr, uint64_t len, int prot,
             int flags, xvm_object *obj, uint64_t off)
{
    if (vs == NULL || addr == NULL)
        return EINVAL;
    struct xvm_machine *m = vs->m;
    unsigned maxprot = (unsigned)prot >> 3 & XVM_PROT_ALL;
    unsigned p = (unsigned)prot & XVM_PROT_ALL;
    bool shared = flags & XVM_MAP_SHARED, fixed = flags & XVM_MAP_FIXED;
    uint64_t start = 0, end;
    int error;

    if ((unsigned)prot >> 6 || (flags & ~(XVM_MAP_SHARED | XVM_MAP_PRIVATE |
                                          XVM_MAP_FIXED)) ||
        shared == !!(flags & XVM_MAP_PRIVATE) || (off & (m->pgsz - 1)))
        return EINVAL;
    if (maxprot == 0)
        maxprot = XVM_PROT_ALL;
    if (obj && obj->read_only && shared)
        maxprot &= ~(unsigned)XVM_PROT_WRITE;
    if ((p & maxprot) != p)
        return EACCES;
    if (obj && (off >= obj->size || obj->size - off < len))
        return EINVAL;
    if (fixed) {
        start = *addr;
        if ((error = check_range(vs, start, len, &end)) != 0)
            return error;
    } else {
        uint64_t rlen = m_round(m, len);
        if (len == 0 || rlen < len)
            return EINVAL;
        uint64_t hint = *addr ? m_trunc(m, *addr) : vs->map.maxva / MMAP_BASE_DIV;
        if (map_findspace(&vs->map, hint, rlen, &start) != 0 &&
            map_findspace(&vs->map, vs->map.minva, rlen, &start) != 0)
            return ENOMEM;
        end = start + rlen;
    }
    if ((end - start) >> m->pgshift > UINT32_MAX)
        return ENOMEM;

    struct vm_map_entry *e = map_entry_alloc(m, &vs->map);
    if (e == NULL)
        return ENOMEM;
    if (obj == NULL && shared) {
        if ((error = xvm_aobj_create(m, end - start, &obj)) != 0) {
            m_free(m, e);
            return error;
        }
    } else if (obj) {
        object_ref(obj);
    }
    /* Fixed mappings replace what was there; clipping cannot be undone,
     * so it happens after every allocation above. */
    struct vm_map_entry *first;
    if (fixed && (error = map_clip_range(m, &vs->map, start, end, &first)) != 0) {
        if (obj)
            object_unref(obj);
        m_free(m, e);
        return error;
    }
    if (fixed)
        vmspace_unmap(vs, start, end);
    e->start = start;
    e->end = end;
    e->obj = obj;
    e->offset = off;
    e->prot = (uint8_t)p;
    e->maxprot = (uint8_t)maxprot;
    e->inherit = shared ? XVM_INHERIT_SHARE : XVM_INHERIT_COPY;
    e->advice = XVM_ADV_NORMAL;
    e->cow = !shared;
    e->needs_copy = !shared;
    map_insert(&vs->map, e);
    *addr = start;
    return 0;
}

int xvm_munmap(xvm_vmspace *vs, uint64_t addr, uint64_t len)
{
    uint64_t end;
    struct vm_map_entry *first;
    int error;
    if (vs == NULL)
        return EINVAL;
    if ((error = check_range(vs, addr, len, &end)) != 0)
        return error;
    if ((error = map_clip_range(vs->m, &vs->map, addr, end, &first)) != 0)
        return error;
    vmspace_unmap(vs, addr, end);
    return 0;
}

/* Clipped walk over [addr, addr+len): fn on each entry inside. */
typedef int (*entry_fn)(struct xvm_vmspace *vs, struct vm_map_entry *e,
                        int arg);

static int range_apply(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                       entry_fn check, entry_fn apply, int arg)
{
    uint64_t end;
    struct vm_map_entry *e;
    int error;
    if (vs == NULL)
        return EINVAL;
    if ((error = check_range(vs, addr, len, &end)) != 0)
        return error;
    /* Validate every entry first, so a refusal changes nothing. */
    uint64_t at = addr;
    for (e = map_first_after(&vs->map, addr); at < end; e = e->next) {
        if (e == &vs->map.header || e->start > at)
            return ENOMEM;      /* a hole in the range, as POSIX says */
        if (check && (error = check(vs, e, arg)) != 0)
            return error;
        at = e->end;
    }
    if ((error = map_clip_range(vs->m, &vs->map, addr, end, &e)) != 0)
        return error;
    for (; e != &vs->map.header && e->start < end; e = e->next)
        if ((error = apply(vs, e, arg)) != 0)
            return error;
    return 0;
}

static int protect_check(struct xvm_vmspace *vs, struct vm_map_entry *e, int p)
{
    (void)vs;
    return ((unsigned)p & e->maxprot) == (unsigned)p ? 0 : EACCES;
}

static int protect_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int p)
{
    if ((e->prot & ~(unsigned)p) != 0)
        pmap_protect(vs->pmap, e->start, e->end, (unsigned)p);
    e->prot = (uint8_t)p;
    return 0;
}

int xvm_mprotect(xvm_vmspace *vs, uint64_t addr, uint64_t len, int prot)
{
    if (prot & ~XVM_PROT_ALL)
        return EINVAL;
    return range_apply(vs, addr, len, protect_check, protect_apply, prot);
}

static int inherit_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    (void)vs;
    e->inherit = (uint8_t)v;
    return 0;
}

int xvm_minherit(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                 enum xvm_inherit inh)
{
    if ((unsigned)inh > XVM_INHERIT_NONE)
        return EINVAL;
    return range_apply(vs, addr, len, NULL, inherit_apply, (int)inh);
}

static int advice_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    (void)vs;
    e->advice = (uint8_t)v;
    return 0;
}

int xvm_madvise(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                enum xvm_advice adv)
{
    if ((unsigned)adv > XVM_ADV_SEQUENTIAL)
        return EINVAL;
    return range_apply(vs, addr, len, NULL, advice_apply, (int)adv);
}

/*
 * mlock: faults every page of each entry in wired (as uvm_fault_wire).
 * Locks do not nest (POSIX); entry->wired is 0, 1, or WIRING while this
 * call may still have to undo it.
 */
#define WIRING 2

static void unwire_pages(struct xvm_vmspace *vs, struct vm_map_entry *e,
                         uint64_t upto)
{
    for (uint64_t va = e->start; va < upto; va += vs->m->pgsz)
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
    for (uint64_t va = e->start; va < e->end; va += vs->m->pgsz) {
        int error = uvm_fault(vs, va, access, true);
        if (error) {
            unwire_pages(vs, e, va);
            return error;
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

int xvm_mlock(xvm_vmspace *vs, uint64_t addr, uint64_t len)
{
    int error = range_apply(vs, addr, len, wire_check, wire_apply, 0);
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
    return range_apply(vs, addr, len, NULL, unwire_apply, 0);
}
