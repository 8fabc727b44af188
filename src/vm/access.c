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
    uint64_t vpn = va >> pm->pgshift;
    struct tlbent *e = tlb_lookup(&pm->mmu->tlb, pmap_tlb_slot(pm, vpn),
                                  pm->asid, vpn, access);
    if (e) {
        *out = e;
        return 0;
    }
    vmspace_prefetch(vs, va);
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
    cpu_cache(c, e->pa + (va & (vs->vm->core->pgsz - 1)), (uint32_t)n,
              e->dev != NULL && !e->dev->ram, kind);
}

/* => the physical address of va, which the software TLB entry e maps. */
static XVM_INLINE uint64_t ent_pa(const struct pmap *pm, const struct tlbent *e,
                                  uint64_t va)
{
    return e->pa + (va & ~pm->page_mask);
}

/*
 * The CPU model's cost of n bytes at va that the software TLB entry e
 * translated: a set lookup when the TLB model finds its entry without
 * changing state and its lines hit L1 (cpu_quick), a count when the
 * model is off, else the full path.  What the access does is not its
 * business.
 */
static XVM_INLINE void cpu_charge(struct xvm_vmspace *vs,
                                  const struct tlbent *e, uint64_t va, size_t n,
                                  unsigned kind)
{
    struct cpu *c = vs->pmap_store.mmu->cpu;
    uint64_t pa = ent_pa(&vs->pmap_store, e, va);
    if (!c->p.caches) /* model off: no line to remember */
        cpu_uncached(c, pa, e->dev != NULL && !e->dev->ram, (uint32_t)n, kind);
    else if (!cpu_quick(c, e->asid, va, pa, (uint32_t)n, kind, e->shift))
        cpu_charge_full(vs, e, va, n, kind);
}

static unsigned cpu_kind(unsigned access)
{
    return access & XVM_PROT_WRITE  ? CPU_STORE
           : access & XVM_PROT_EXEC ? CPU_FETCH
                                    : CPU_LOAD;
}

/*
 * n bytes at va, page by page.  buf receives a read or fetch (NULL:
 * discarded, a device page's bytes still counted as read), src is what
 * a write stores (NULL: zeros).
 */
XVM_NOINLINE
static int access_range(struct xvm_vmspace *vs, uint64_t va, uint8_t *buf,
                        const uint8_t *src, size_t n, unsigned access)
{
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
        uint8_t *host = e->host + off;
        if (access & XVM_PROT_WRITE) {
            if (src)
                memcpy(host, src, chunk), src += chunk;
            else
                memset(host, 0, chunk);
        } else if (e->dev) { /* in place: costs flash time */
            if (buf)
                phys_dev_read(vs->vm->ph, e->dev, buf, host, chunk),
                    buf += chunk;
            else
                phys_dev_count(vs->vm->ph, chunk);
        } else if (buf) {
            memcpy(buf, host, chunk), buf += chunk;
        }
        va += chunk;
        n -= chunk;
    }
    return 0;
}

/*
 * The fast path: the access stays in one page and hits the TLB.  Small
 * sizes copy with constant-size moves the compiler inlines.
 */
/* The software TLB as a lookup reads it; a batch keeps it in registers. */
struct tlb_view {
    struct tlbent *win;
    uint64_t mask, asid, page_mask;
    unsigned pgshift;
};

static inline struct tlb_view tlb_view_of(const struct pmap *pm)
{
    return (struct tlb_view){ pm->tlb_win, pm->tlb_mask, pm->asid,
                              pm->page_mask, pm->pgshift };
}

static inline struct tlbent *view_peek(const struct tlb_view *v, uint64_t va,
                                       size_t n, unsigned access)
{
    uint64_t vpn = va >> v->pgshift, pgsz = ~v->page_mask + 1;
    size_t off = (size_t)(va & ~v->page_mask);
    struct tlbent *e = &v->win[vpn & v->mask];
    /* n > pgsz - off, not off + n > pgsz: a huge n must not wrap past it. */
    if (e->asid != v->asid || e->vpn != vpn || (e->perm & access) != access ||
        n > pgsz - off)
        return NULL;
    return e;
}

static inline struct tlbent *tlb_peek(const struct pmap *pm, uint64_t va,
                                      size_t n, unsigned access)
{
    struct tlb_view v = tlb_view_of(pm);
    return view_peek(&v, va, n, access);
}

/* tlb_peek, the hit counted. */
static inline struct tlbent *tlb_hit(struct xvm_vmspace *vs, uint64_t va,
                                     size_t n, unsigned access)
{
    struct tlbent *e = tlb_peek(&vs->pmap_store, va, n, access);
    if (e)
        vs->pmap_store.mmu->tlb.hits++;
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

/* A hit's cost: the model's (cpu_charge), and a device page's bytes
 * read in place, counted. */
static XVM_INLINE void charge_hit(struct xvm_vmspace *vs,
                                  const struct tlbent *e, uint64_t va, size_t n,
                                  unsigned kind)
{
    cpu_charge(vs, e, va, n, kind);
    if (e->dev)
        phys_dev_count(vs->vm->ph, n);
}

/* A miss (or bad arguments): buf is where a read or fetch goes, what a
 * write stores.  Out of line, so that the hit paths' call is a jump. */
XVM_NOINLINE
static int access_miss(struct xvm_vmspace *vs, uint64_t va, void *buf, size_t n,
                       unsigned access)
{
    bool write = access & XVM_PROT_WRITE;
    if (vs == NULL || (buf == NULL && n))
        return EINVAL;
    return access_range(vs, va, write ? NULL : buf, write ? buf : NULL, n,
                        access);
}

/* The full hit path: a TLB hit, its cost (charge_hit), then the copy;
 * a miss goes to access_miss. */
static XVM_INLINE int load_full(xvm_vmspace *vs, uint64_t va, void *buf,
                                size_t n, unsigned access, unsigned kind)
{
    struct tlbent *e = vs && buf ? tlb_hit(vs, va, n, access) : NULL;
    if (e == NULL)
        return access_miss(vs, va, buf, n, access);
    charge_hit(vs, e, va, n, kind);
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
    cpu_charge(vs, e, va, n, CPU_STORE);
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

static const unsigned kind_prot[3] = { XVM_PROT_EXEC, XVM_PROT_READ,
                                       XVM_PROT_WRITE };

/* What a batch's write stores at p: n zero bytes, small ones inline. */
static inline void zero_small(uint8_t *p, size_t n)
{
    static const uint8_t zeros[16];
    if (n <= 16)
        copy_small(p, zeros, n);
    else
        memset(p, 0, n);
}

/* One access of a batch through the access path's own steps, no bytes. */
static int batch_one(xvm_vmspace *vs, uint64_t va, uint32_t len, unsigned kind)
{
    struct tlbent *e = tlb_hit(vs, va, len, kind_prot[kind]);
    if (e == NULL)
        return access_range(vs, va, NULL, NULL, len, kind_prot[kind]);
    charge_hit(vs, e, va, len, kind);
    if (kind == CPU_STORE) /* a RAM page */
        zero_small((uint8_t *)(uintptr_t)(va + e->delta), len);
    return 0;
}

/* The page of a batch's side: its software TLB entry's. */
struct batch_page {
    uint64_t page;   /* its va */
    uint64_t pa_off; /* physical minus virtual address in it */
    uint64_t delta;  /* host minus virtual address (a store's zeros) */
    uint64_t dev;    /* all ones: a device page, read in place */
};

/*
 * What a batch's side (data, fetch) used last, when that access was all
 * hits that change no state: the lines of the access, the newest of their
 * L1 sets, on a page whose software TLB entry and TLB model's entry (the
 * side's memo, which stays so until the side uses another) it hit.
 * Another access of the side within the lines is the same again: counted
 * and nothing else; within the page, it asks only whether its line hits
 * L1.  Anything that goes the general way forgets both sides.  The spans
 * are by access kind, 0 where the page's entry does not allow it (and
 * the lines' for a store when they are two: only one line's tag is kept
 * to mark dirty), so that one compare answers for kind and place.
 */
struct batch_memo {
    uint64_t lo;       /* lines: va of the first */
    uint64_t lspan[3]; /* lines: bytes, by kind; 0: none */
    uint64_t pspan[3]; /* the page: bytes, by kind; 0: none */
    uint64_t *tag;     /* one line: its L1 tag; NULL: two */
    struct batch_page cur;
};

/* => whether the len bytes at va lie within [lo, lo + span). */
static inline bool within(uint64_t lo, uint64_t span, uint64_t va, uint32_t len)
{
    uint64_t d = va - lo;
    return d < span && span - d >= len;
}

/* The lines of len bytes at va, the first one's L1 tag, in the memo of
 * the fetch side or the data side (only its own kinds' spans). */
static inline void memo_lines(struct batch_memo *m, bool fetch, uint64_t va,
                              uint32_t len, unsigned line_bits, uint64_t *tag)
{
    uint64_t first = va >> line_bits;
    uint64_t last = (va + len - (len != 0)) >> line_bits;
    uint64_t span = (last - first + 1) << line_bits;
    m->lo = first << line_bits;
    m->tag = last == first ? tag : NULL;
    if (fetch) {
        m->lspan[CPU_FETCH] = span; /* a fetch made the memo: allowed */
    } else {
        m->lspan[CPU_LOAD] = m->pspan[CPU_LOAD] ? span : 0;
        m->lspan[CPU_STORE] = m->pspan[CPU_STORE] && m->tag ? span : 0;
    }
}

/* The memo's page: the one the software TLB entry e maps (v's page size)
 * at va, for the fetch side (a fetch allowed) or the data side. */
static inline void memo_page(struct batch_memo *m, bool fetch,
                             const struct tlbent *e, const struct tlb_view *v,
                             uint64_t va)
{
    uint64_t page = va & v->page_mask, pgspan = ~v->page_mask + 1;
    m->cur = (struct batch_page){
        .page = page,
        .pa_off = e->pa - page,
        .delta = e->delta,
        .dev = e->dev ? ~UINT64_C(0) : 0,
    };
    if (fetch) {
        m->pspan[CPU_FETCH] = pgspan;
    } else {
        m->pspan[CPU_LOAD] = e->perm & XVM_PROT_READ ? pgspan : 0;
        m->pspan[CPU_STORE] = e->perm & XVM_PROT_WRITE ? pgspan : 0;
    }
}

/* A batch with the CPU model on, between its accesses. */
struct batch {
    xvm_vmspace *vs;
    struct cpu_run q;
    struct tlb_view v;
    struct batch_memo fm, dm; /* fetch, data */
    uint64_t dev_reads, dev_bytes;
};

/* What an access of a batch on page p reads or writes. */
static inline void batch_bytes(struct batch *b, const struct batch_page *p,
                               uint64_t va, uint32_t len, unsigned kind)
{
    b->dev_reads += p->dev & 1;
    b->dev_bytes += p->dev & len;
    if (kind == CPU_STORE)
        zero_small((uint8_t *)(uintptr_t)(va + p->delta), len);
}

/*
 * An access beyond its side's memo, when it hits the software TLB and
 * takes cpu_quick's case: counted in the run, the side's memo made from
 * it.  => false (nothing done) for any other: batch_slow's.
 */
static XVM_INLINE bool batch_step_kind(struct batch *b, uint64_t va,
                                       uint32_t len, unsigned kind)
{
    struct cpu *c = b->vs->pmap_store.mmu->cpu;
    uint64_t *tag;
    const struct tlbent *e = view_peek(&b->v, va, len, kind_prot[kind]);
    if (e == NULL ||
        !cpu_run_quick(&b->q, c, b->v.asid, va, e->pa + (va & ~b->v.page_mask),
                       len, kind, e->shift, &tag))
        return false;
    bool fetch = kind == CPU_FETCH;
    struct batch_memo *m = fetch ? &b->fm : &b->dm;
    memo_page(m, fetch, e, &b->v, va);
    memo_lines(m, fetch, va, len, b->q.l1[fetch].line_bits, tag);
    batch_bytes(b, &m->cur, va, len, kind);
    return true;
}

/* batch_step_kind made once for each kind, so that each side's copy
 * keeps only its own case (and its registers). */
XVM_NOINLINE
static bool batch_step(struct batch *b, uint64_t va, uint32_t len,
                       unsigned kind)
{
    if (kind == CPU_FETCH)
        return batch_step_kind(b, va, len, CPU_FETCH);
    if (kind == CPU_LOAD)
        return batch_step_kind(b, va, len, CPU_LOAD);
    return batch_step_kind(b, va, len, CPU_STORE);
}

/* An access the general way: the run ended (its counts added in) before
 * and begun again after, both sides' memos forgotten.  => 0 or its
 * error. */
XVM_NOINLINE
static int batch_slow(struct batch *b, uint64_t va, uint32_t len, unsigned kind)
{
    struct pmap *pm = &b->vs->pmap_store;
    struct cpu *c = pm->mmu->cpu;
    pm->mmu->tlb.hits += cpu_run_counted(&b->q);
    cpu_run_end(c, &b->q);
    memset(&b->fm, 0, sizeof(b->fm)); /* no spans: nothing hits */
    memset(&b->dm, 0, sizeof(b->dm));
    int error = batch_one(b->vs, va, len, kind);
    cpu_run_begin(c, &b->q);
    b->v = tlb_view_of(pm); /* a fault may have given a new asid */
    return error;
}

/* Accesses on each side's page are counted in registers (scalars, which
 * the compiler keeps there) until that side's page may change: then the
 * fetch side's tally goes into the run's counts and the device reads of
 * its page, zeroed. */
static inline void tally_fetch(struct batch *b, uint64_t *fetches,
                               uint64_t *fbytes)
{
    b->q.refs[CPU_FETCH] += *fetches;
    b->dev_reads += *fetches & b->fm.cur.dev;
    b->dev_bytes += *fbytes & b->fm.cur.dev;
    *fetches = *fbytes = 0;
}

/* The data side's, the same way. */
static inline void tally_data(struct batch *b, uint64_t *loads,
                              uint64_t *lbytes, uint64_t *stores)
{
    b->q.refs[CPU_LOAD] += *loads;
    b->q.refs[CPU_STORE] += *stores;
    b->dev_reads += *loads & b->dm.cur.dev;
    b->dev_bytes += *lbytes & b->dm.cur.dev;
    *loads = *lbytes = *stores = 0;
}

/*
 * Is an access of the kind at va within its side's lines, or on its
 * side's page and an L1 hit (the lines then its)?  A side's memo is set
 * by an access its page's entry allowed (the fetch side's by a fetch).
 */
static inline bool batch_hit(struct batch_memo *m, const struct cpu_l1_view *l1,
                             uint64_t va, uint32_t len, unsigned kind)
{
    uint64_t *tag;
    bool store = kind == CPU_STORE;
    if (within(m->lo, m->lspan[kind], va, len)) {
        if (store)
            *m->tag |= 1; /* dirty */
        return true;
    }
    if (!within(m->cur.page, m->pspan[kind], va, len) ||
        !cpu_l1_quick(l1, va + m->cur.pa_off, len, store, &tag))
        return false;
    memo_lines(m, kind == CPU_FETCH, va, len, l1->line_bits, tag);
    return true;
}

/*
 * A batch with the CPU model on.  An access on its side's page that hits
 * L1 (within the side's lines: a compare) is counted in registers
 * (tally_fetch, tally_data), in the loop the replay spends most of its time
 * in; any other is batch_step's, or failing that batch_slow's.
 */
static int batch_quick(xvm_vmspace *vs, const struct xvm_access *a, size_t n,
                       size_t *done)
{
    struct pmap *pm = &vs->pmap_store;
    struct cpu *c = pm->mmu->cpu;
    struct batch b = { .vs = vs, .v = tlb_view_of(pm) };
    uint64_t fetches = 0, fbytes = 0, loads = 0, lbytes = 0, stores = 0;
    int error = 0;
    size_t i;
    cpu_run_begin(c, &b.q);
    for (i = 0; i < n; i++) {
        uint64_t va = a[i].va;
        uint32_t len = a[i].len, kind = a[i].kind;
        if (kind == CPU_FETCH) {
            if (batch_hit(&b.fm, &b.q.l1[1], va, len, CPU_FETCH)) {
                fetches++, fbytes += len;
                continue;
            }
            /* Only the access's side may change its page. */
            tally_fetch(&b, &fetches, &fbytes);
        } else if (kind == CPU_LOAD) {
            if (batch_hit(&b.dm, &b.q.l1[0], va, len, CPU_LOAD)) {
                loads++, lbytes += len;
                continue;
            }
            tally_data(&b, &loads, &lbytes, &stores);
        } else if (kind == CPU_STORE) {
            if (batch_hit(&b.dm, &b.q.l1[0], va, len, CPU_STORE)) {
                stores++;
                zero_small((uint8_t *)(uintptr_t)(va + b.dm.cur.delta), len);
                continue;
            }
            tally_data(&b, &loads, &lbytes, &stores);
        } else {
            error = EINVAL;
            break;
        }
        if (batch_step(&b, va, len, kind))
            continue;
        tally_fetch(&b, &fetches, &fbytes);
        tally_data(&b, &loads, &lbytes, &stores);
        if ((error = batch_slow(&b, va, len, kind)) != 0)
            break;
    }
    tally_fetch(&b, &fetches, &fbytes);
    tally_data(&b, &loads, &lbytes, &stores);
    pm->mmu->tlb.hits += cpu_run_counted(&b.q);
    cpu_run_end(c, &b.q);
    vs->vm->ph->dev_reads += b.dev_reads;
    vs->vm->ph->dev_bytes_read += b.dev_bytes;
    *done = i;
    return error;
}

_Static_assert(XVM_ACCESS_FETCH == CPU_FETCH && XVM_ACCESS_READ == CPU_LOAD &&
                   XVM_ACCESS_WRITE == CPU_STORE,
               "an access's kind is the CPU model's");

int xvm_access_batch(xvm_vmspace *vs, const struct xvm_access *a, size_t n,
                     size_t *done)
{
    size_t i = 0, dummy;
    int error = 0;
    if (vs == NULL || (a == NULL && n))
        n = 0, error = EINVAL;
    else if (vs->pmap_store.mmu->cpu->p.caches)
        return batch_quick(vs, a, n, done ? done : &dummy);
    for (; i < n; i++) {
        if (a[i].kind > XVM_ACCESS_WRITE) {
            error = EINVAL;
            break;
        }
        if ((error = batch_one(vs, a[i].va, a[i].len, a[i].kind)) != 0)
            break;
    }
    if (done)
        *done = i;
    return error;
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
