/*
 * Access to simulated memory: the emulated MMU's view of a process.
 * A TLB hit is a tag compare and a copy; a miss walks the page tables;
 * a missing or insufficient mapping runs the fault handler and retries.
 */
#include <errno.h>
#include <string.h>

#include "fault.h"

/* A resolved fault allows the access; more retries mean a bug. */
#define MAX_RETRIES 3

/* => the TLB entry translating va for access. */
static int translate(struct xvm_vmspace *vs, uint64_t va, unsigned access,
                     struct tlbent **out)
{
    struct pmap *pm = vs->pmap;
    struct tlbent *e = tlb_lookup(&pm->mmu->tlb, pm->asid,
                                  va >> vs->vm->core->pgshift, access);
    if (e) {
        *out = e;
        return 0;
    }
    for (int tries = 0; tries <= MAX_RETRIES; tries++) {
        if (pmap_translate(pm, va, access, out) == 0)
            return 0;
        int error = uvm_fault(vs, va, access, false);
        if (error)
            return error;
    }
    return EFAULT;
}

XVM_NOINLINE
static int access_range(struct xvm_vmspace *vs, uint64_t va, uint8_t *buf,
                        const uint8_t *src, size_t n, unsigned access)
{
    if (vs == NULL || (buf == NULL && src == NULL && n))
        return EINVAL;
    const struct core *c = vs->vm->core;
    uint64_t va_max = c->prof->va_max;
    if (va >= va_max || va_max - va < n)
        return EFAULT;
    while (n > 0) {
        size_t off = (size_t)(va & (c->pgsz - 1));
        size_t chunk = c->pgsz - off < n ? c->pgsz - off : n;
        struct tlbent *e;
        int error = translate(vs, va, access, &e);
        if (error)
            return error;
        uint8_t *host = e->host;
        if (src)
            memcpy(host + off, src, chunk), src += chunk;
        else if (e->dev) /* in place: costs flash time */
            phys_dev_read(vs->vm->ph, e->dev, buf, host + off, chunk),
                buf += chunk;
        else
            memcpy(buf, host + off, chunk), buf += chunk;
        va += chunk;
        n -= chunk;
    }
    return 0;
}

/*
 * The fast path: the access stays in one page and hits the TLB.  Small
 * sizes copy with constant-size moves the compiler inlines.
 */
static inline struct tlbent *tlb_hit(struct xvm_vmspace *vs, uint64_t va,
                                     size_t n, unsigned access)
{
    const struct core *c = vs->vm->core;
    struct tlb *t = &vs->pmap->mmu->tlb;
    uint64_t asid = vs->pmap->asid, vpn = va >> c->pgshift;
    size_t off = (size_t)va & (c->pgsz - 1);
    struct tlbent *e = tlb_slot(t, asid, vpn);
    /* n > pgsz - off, not off + n > pgsz: a huge n must not wrap past it. */
    if (e->asid != asid || e->vpn != vpn || (e->perm & access) != access ||
        n > c->pgsz - off)
        return NULL;
    t->hits++;
    return e;
}

static inline void copy_small(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 8: memcpy(dst, src, 8); break;
    case 4: memcpy(dst, src, 4); break;
    case 2: memcpy(dst, src, 2); break;
    case 1: memcpy(dst, src, 1); break;
    default: memcpy(dst, src, n); break;
    }
}

/* A read or fetch that hit: device bytes are read (and counted) in place. */
static inline void load_hit(struct xvm_vmspace *vs, const struct tlbent *e,
                            uint64_t va, void *buf, size_t n)
{
    const uint8_t *src = e->host + (va & (vs->vm->core->pgsz - 1));
    if (e->dev)
        phys_dev_read(vs->vm->ph, e->dev, buf, src, n);
    else
        copy_small(buf, src, n);
}

int xvm_read(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    struct tlbent *e = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_READ) : NULL;
    if (e) {
        load_hit(vs, e, va, buf, n);
        return 0;
    }
    return access_range(vs, va, buf, NULL, n, XVM_PROT_READ);
}

int xvm_write(xvm_vmspace *vs, uint64_t va, const void *buf, size_t n)
{
    struct tlbent *e = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_WRITE) : NULL;
    if (e) {
        copy_small(e->host + (va & (vs->vm->core->pgsz - 1)), buf, n);
        return 0;
    }
    return access_range(vs, va, NULL, buf, n, XVM_PROT_WRITE);
}

int xvm_fetch(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    struct tlbent *e = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_EXEC) : NULL;
    if (e) {
        load_hit(vs, e, va, buf, n);
        return 0;
    }
    return access_range(vs, va, buf, NULL, n, XVM_PROT_EXEC);
}

int xvm_extract(xvm_vmspace *vs, uint64_t va, uint64_t *pa)
{
    if (vs == NULL || pa == NULL)
        return EINVAL;
    int error = pmap_extract(vs->pmap, va, pa);
    /* Mapped, but no translation yet: not the same as nothing there. */
    if (error == EFAULT && va < vs->vm->core->prof->va_max &&
        map_lookup(&vs->map, va) != NULL)
        return ENOENT;
    return error;
}
