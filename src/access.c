/*
 * Access to simulated memory: the emulated MMU's view of a process.
 * A TLB hit is a tag compare and a copy; a miss walks the page tables;
 * a missing or insufficient mapping runs the fault handler and retries.
 */
#include <errno.h>
#include <string.h>

#include "fault.h"
#include "machine.h"
#include "pmap.h"
#include "vmspace.h"

/* A resolved fault allows the access; more retries mean a bug. */
#define MAX_RETRIES 3

/* => the TLB entry translating va for access. */
static int translate(struct xvm_vmspace *vs, uint64_t va, unsigned access,
                     struct tlbent **out)
{
    struct xvm_machine *m = vs->m;
    struct pmap *pm = vs->pmap;
    uint64_t vpn = va >> m->pgshift;
    struct tlbent *e = tlb_slot(&m->tlb, pm->asid, vpn);

    if (e->asid == pm->asid && e->vpn == vpn && (e->perm & access) == access) {
        m->st.tlb_hits++;
        *out = e;
        return 0;
    }
    m->st.tlb_misses++;
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
    struct xvm_machine *m = vs->m;
    if (va >= m->prof->va_max || m->prof->va_max - va < n)
        return EFAULT;
    while (n > 0) {
        size_t off = (size_t)(va & (m->pgsz - 1));
        size_t chunk = m->pgsz - off < n ? m->pgsz - off : n;
        struct tlbent *e;
        int error = translate(vs, va, access, &e);
        if (error)
            return error;
        uint8_t *host = e->host;
        if (e->dev)             /* in place: costs flash time */
            phys_dev_read(m, e->dev, chunk);
        if (src)
            memcpy(host + off, src, chunk), src += chunk;
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
static inline uint8_t *tlb_hit(struct xvm_vmspace *vs, uint64_t va, size_t n,
                               unsigned access)
{
    struct xvm_machine *m = vs->m;
    uint64_t asid = vs->pmap->asid, vpn = va >> m->pgshift;
    size_t off = (size_t)va & (m->pgsz - 1);
    struct tlbent *e = tlb_slot(&m->tlb, asid, vpn);
    /* n > pgsz - off, not off + n > pgsz: a huge n must not wrap past it. */
    if (e->asid != asid || e->vpn != vpn || (e->perm & access) != access ||
        n > m->pgsz - off)
        return NULL;
    m->st.tlb_hits++;
    if (e->dev)
        phys_dev_read(m, e->dev, n);
    return e->host + off;
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

int xvm_read(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    uint8_t *host = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_READ) : NULL;
    if (host) {
        copy_small(buf, host, n);
        return 0;
    }
    return access_range(vs, va, buf, NULL, n, XVM_PROT_READ);
}

int xvm_write(xvm_vmspace *vs, uint64_t va, const void *buf, size_t n)
{
    uint8_t *host = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_WRITE) : NULL;
    if (host) {
        copy_small(host, buf, n);
        return 0;
    }
    return access_range(vs, va, NULL, buf, n, XVM_PROT_WRITE);
}

int xvm_fetch(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    uint8_t *host = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_EXEC) : NULL;
    if (host) {
        copy_small(buf, host, n);
        return 0;
    }
    return access_range(vs, va, buf, NULL, n, XVM_PROT_EXEC);
}

int xvm_extract(xvm_vmspace *vs, uint64_t va, uint64_t *pa)
{
    if (vs == NULL || pa == NULL)
        return EINVAL;
    return pmap_extract(vs->pmap, va, pa);
}
