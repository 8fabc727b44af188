/*
 * Access to simulated memory: the emulated MMU's view of a process.
 * A TLB hit is a tag compare and a copy; a miss walks the page tables;
 * a missing or insufficient mapping runs the fault handler and retries.
 * Every piece of an access the software TLB translated also goes through
 * the CPU model (cpu_charge): what it costs, never what it does.
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

/* The table reads of a refill or walk the CPU's TLB model asked for. */
XVM_NOINLINE
static void walk_reads(struct xvm_vmspace *vs, uint64_t va, unsigned shift)
{
    struct cpu *c = vs->pmap_store.mmu->cpu;
    uint64_t pas[5];
    unsigned n = pmap_walk_pas(vs->pmap, va, pas);
    unsigned want = tlbm_walk_reads(&c->tlb, shift);
    for (unsigned i = 0; i < want && i < n; i++)
        cpu_walk_read(c, pas[i], vs->vm->core->prof->pte_size);
}

/* The CPU model's full path: its TLB (a miss reads the tables), then its
 * caches at the physical address, which tell RAM (a memory disk's too)
 * from NOR. */
XVM_NOINLINE
static void cpu_charge_full(struct xvm_vmspace *vs, const struct tlbent *e,
                            uint64_t va, size_t n, unsigned kind)
{
    struct cpu *c = vs->pmap_store.mmu->cpu;
    if (cpu_tlb(c, e->asid, va, kind, e->shift) >= TLBM_REFILL)
        walk_reads(vs, va, e->shift);
    cpu_cache(c, e->asid, va, e->pa + (va & (vs->vm->core->pgsz - 1)),
              (uint32_t)n, e->dev != NULL && !e->dev->ram, kind);
}

/*
 * The CPU model's cost of n bytes at va that the software TLB entry e
 * translated: a compare when the line is the one this side used last,
 * a count when the model is off, else the full path.  What the access
 * does is not its business.
 */
static XVM_INLINE void cpu_charge(struct xvm_vmspace *vs,
                                  const struct tlbent *e, uint64_t va, size_t n,
                                  unsigned kind)
{
    struct cpu *c = vs->pmap_store.mmu->cpu;
    if (!c->p.caches) /* model off: no line to remember */
        cpu_uncached(c, e->dev != NULL && !e->dev->ram, (uint32_t)n, kind);
    else if (!cpu_quick(c, e->asid, va, (uint32_t)n, kind))
        cpu_charge_full(vs, e, va, n, kind);
}

static unsigned cpu_kind(unsigned access)
{
    return access & XVM_PROT_WRITE  ? CPU_STORE
           : access & XVM_PROT_EXEC ? CPU_FETCH
                                    : CPU_LOAD;
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
        cpu_charge(vs, e, va, chunk, cpu_kind(access));
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
    struct pmap *pm = &vs->pmap_store;
    uint64_t vpn = va >> pm->pgshift, pgsz = ~pm->page_mask + 1;
    size_t off = (size_t)(va & ~pm->page_mask);
    struct tlbent *e = &pm->tlb_win[vpn & pm->tlb_mask];
    /* n > pgsz - off, not off + n > pgsz: a huge n must not wrap past it. */
    if (e->asid != pm->asid || e->vpn != vpn || (e->perm & access) != access ||
        n > pgsz - off)
        return NULL;
    pm->mmu->tlb.hits++;
    return e;
}

/* n bytes, in at most two fixed-size moves for up to 16 (each pair
 * overlapping within the n bytes, never past them): the sizes an
 * instruction fetch or a data access has. */
static inline void copy_small(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (n == 8) { /* the commonest, tested first */
        memcpy(d, s, 8);
    } else if (n > 16) {
        memcpy(d, s, n);
    } else if (n > 8) {
        uint64_t a, b;
        memcpy(&a, s, 8), memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8), memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4), memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4), memcpy(d + n - 4, &b, 4);
    } else if (n >= 2) {
        uint16_t a, b;
        memcpy(&a, s, 2), memcpy(&b, s + n - 2, 2);
        memcpy(d, &a, 2), memcpy(d + n - 2, &b, 2);
    } else if (n == 1) {
        *d = *s;
    }
}

/*
 * The hit's model cost where it needs no call: the model off (a count of
 * a line from memory), or on and the line the one this side used last.
 * => false, nothing counted: the caller takes cpu_charge.
 */
static XVM_INLINE bool charge_quick(struct xvm_vmspace *vs,
                                    const struct tlbent *e, uint64_t va,
                                    size_t n, unsigned kind)
{
    struct cpu *c = vs->pmap_store.mmu->cpu;
    if (c->p.caches)
        return cpu_quick(c, e->asid, va, (uint32_t)n, kind);
    cpu_uncached(c, false, (uint32_t)n, kind); /* a RAM page */
    return true;
}

/* A miss (or bad arguments): buf is where a read or fetch goes, what a
 * write stores.  Out of line, so that the hit paths' call is a jump. */
XVM_NOINLINE
static int access_miss(struct xvm_vmspace *vs, uint64_t va, void *buf, size_t n,
                       unsigned access)
{
    bool write = access & XVM_PROT_WRITE;
    return access_range(vs, va, write ? NULL : buf, write ? buf : NULL, n,
                        access);
}

/* The full hit path: a TLB hit, the model's count (quick, or its full
 * path out of line), device reads counted, then the copy; a miss goes
 * to access_miss. */
static XVM_INLINE int load_full(xvm_vmspace *vs, uint64_t va, void *buf,
                                size_t n, unsigned access, unsigned kind)
{
    struct tlbent *e = vs && buf ? tlb_hit(vs, va, n, access) : NULL;
    if (e == NULL)
        return access_miss(vs, va, buf, n, access);
    if (e->dev == NULL) {
        if (!charge_quick(vs, e, va, n, kind))
            cpu_charge_full(vs, e, va, n, kind);
    } else { /* a device page read in place: costs flash time, counted */
        cpu_charge(vs, e, va, n, kind);
        phys_dev_count(vs->vm->ph, n);
    }
    copy_small(buf, (const uint8_t *)(uintptr_t)(va + e->delta), n);
    return 0;
}

XVM_NOINLINE
static int read_full(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    return load_full(vs, va, buf, n, XVM_PROT_READ, CPU_LOAD);
}

XVM_NOINLINE
static int fetch_full(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    return load_full(vs, va, buf, n, XVM_PROT_EXEC, CPU_FETCH);
}

XVM_NOINLINE
static int write_full(xvm_vmspace *vs, uint64_t va, const void *buf, size_t n)
{
    struct tlbent *e = vs && buf ? tlb_hit(vs, va, n, XVM_PROT_WRITE) : NULL;
    if (e == NULL)
        return access_miss(vs, va, (void *)(uintptr_t)buf, n, XVM_PROT_WRITE);
    /* A RAM page: the TLB never grants write on a device page. */
    if (!charge_quick(vs, e, va, n, CPU_STORE))
        cpu_charge_full(vs, e, va, n, CPU_STORE);
    copy_small((uint8_t *)(uintptr_t)(va + e->delta), buf, n);
    return 0;
}

/*
 * The commonest access in a handful of instructions: 8 bytes that hit an
 * entry whose fast tag grants the kind (tlb.h: a RAM page, the CPU model
 * off).  The slot is the last byte's and the hit is the first byte's
 * offset from the tag being within a page: an access crossing into the
 * next page never hits, since consecutive pages never share a slot.  vs
 * and buf are tested together (their bits ANDed): a false alarm only
 * takes the full path, which tests them apart.  With the CPU model on
 * the pmap's fast_n is SIZE_MAX, so that the full path is two
 * instructions away (and a SIZE_MAX access still finds no fast tag).
 * A macro, so that a miss's tail call gets back va from the offset and
 * the hit keeps no copy of it.
 */
/* A miss's reload of the tag it compared, so that the hit keeps no copy
 * of it either. */
static inline uint64_t fast_tag(const struct tlbent *e, unsigned kind)
{
    XVM_OPAQUE(e);
    return e->fast[kind];
}

#define FAST_HIT(vs, va, buf, n, kind, out, full)                              \
    do {                                                                       \
        if (((uintptr_t)(vs) & (uintptr_t)(buf)) == 0 ||                       \
            (n) != (vs)->pmap_store.fast_n)                                    \
            return full(vs, va, buf, n);                                       \
        struct pmap *pm_ = &(vs)->pmap_store;                                  \
        const struct tlbent *e_ =                                              \
            (const struct tlbent *)((const char *)pm_->tlb_win +               \
                                    (((va) + 7) >>                             \
                                         (PMAP_FAST_PGSHIFT - TLB_ENT_SHIFT) & \
                                     pm_->tlb_maskb));                         \
        uint64_t d_ = (va)-e_->fast[kind]; /* the first byte's offset */       \
        XVM_OPAQUE(d_);                                                        \
        if (d_ > (UINT64_C(1) << PMAP_FAST_PGSHIFT) - 1 ||                     \
            e_->asid != pm_->asid)                                             \
            return full(vs, d_ + fast_tag(e_, kind), buf, n);                  \
        pm_->fast_hits[kind]++;                                                \
        (out) = e_->host + d_;                                                 \
    } while (0)

int xvm_read(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    const uint8_t *p;
    FAST_HIT(vs, va, buf, n, CPU_LOAD, p, read_full);
    memcpy(buf, p, 8);
    return 0;
}

int xvm_write(xvm_vmspace *vs, uint64_t va, const void *buf, size_t n)
{
    uint8_t *p;
    FAST_HIT(vs, va, buf, n, CPU_STORE, p, write_full);
    memcpy(p, buf, 8);
    return 0;
}

int xvm_fetch(xvm_vmspace *vs, uint64_t va, void *buf, size_t n)
{
    const uint8_t *p;
    FAST_HIT(vs, va, buf, n, CPU_FETCH, p, fetch_full);
    memcpy(buf, p, 8);
    return 0;
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
