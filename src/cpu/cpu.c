/*
 * The CPU model of a machine: see cpu.h.  What an access, a walk or the
 * kernel's work costs, by bucket; the time is computed from the counts
 * when a report asks (cpu_time), never on the access path.
 */
#include "cpu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void *core_alloc_cb(void *ctx, size_t n)
{
    return core_zalloc(ctx, n); /* the caches want zeroed tags */
}

static void core_free_cb(void *ctx, void *p)
{
    core_free(ctx, p);
}

/* A line of `line` bytes from NOR: the first word, then a burst. */
static uint64_t nor_line_ps(const struct cpu_params *p, uint32_t line)
{
    uint32_t words = (line + p->nor_word_bytes - 1) / p->nor_word_bytes;
    return p->nor_first_ps + (uint64_t)(words ? words - 1 : 0) * p->nor_word_ps;
}

int cpu_init(struct cpu *c, struct core *core, const struct cpu_params *p,
             unsigned levels, char *err, size_t errlen)
{
    int e;
    memset(c, 0, sizeof(*c));
    c->core = core;
    c->p = *p;
    if ((e = cpu_params_check(p, err, errlen)) != 0)
        return e;
    /* The refill handler or walker reads one entry per level; an R4000
     * refill reads the even and odd PTE of the pair at the last. */
    c->p.tlb.walk_reads = levels + (p->tlb.kind == TLBM_R4K);
    if (c->p.tlb.walk_reads < 2)
        c->p.tlb.walk_reads = 2;
    if ((e = tlbm_init(&c->tlb, &c->p.tlb, err, errlen)) != 0)
        return e;
    if (p->caches) {
        struct cache_config cc = {
            .i1 = p->i1,
            .d1 = p->d1,
            .ll = p->ll,
            .alloc = core_alloc_cb,
            .free = core_free_cb,
            .alloc_ctx = core,
        };
        if ((e = cache_init(&c->cache, &cc, err, errlen)) != 0) {
            tlbm_fini(&c->tlb);
            return e;
        }
    }
    /* Fills come in lines of the level next to memory. */
    bool ll = p->ll.size != 0;
    c->nor_fill_ps[0] = nor_line_ps(p, ll ? p->ll.line : p->d1.line);
    c->nor_fill_ps[1] = nor_line_ps(p, ll ? p->ll.line : p->i1.line);
    return 0;
}

void cpu_fini(struct cpu *c)
{
    if (c->p.caches)
        cache_fini(&c->cache);
    tlbm_fini(&c->tlb);
}

/* Fills and write-backs of one access (or walk read); L1 lines looked up
 * in LL cost ll_hit_cycles each, to bucket hits. */
static void miss_cost(struct cpu *c, uint64_t r, bool dev, unsigned side,
                      enum cpu_bucket hits)
{
    uint64_t fills = CACHE_FILLS(r), wbs = CACHE_WBS(r);
    if (c->cache.has_ll)
        c->cyc[hits] += (uint64_t)CACHE_L1_LINES(r) * c->p.ll_hit_cycles;
    if (dev) {
        c->nor_fills += fills;
        c->ps[CPU_FLASH] += fills * c->nor_fill_ps[side];
    } else {
        c->ram_fills += fills;
        c->ps[CPU_RAM] += fills * c->p.ram_line_ps;
    }
    c->ram_writebacks += wbs;
    c->ps[CPU_RAM] += wbs * c->p.ram_line_ps;
}

void cpu_cache_miss(struct cpu *c, uint64_t r, bool dev, unsigned kind)
{
    miss_cost(c, r, dev, kind == CPU_FETCH, CPU_EXEC);
}

unsigned cpu_tlb_miss(struct cpu *c, unsigned r, unsigned shift)
{
    (void)shift;
    switch (r) {
    case TLBM_HIT_L2: c->cyc[CPU_TLB] += c->p.tlb.stlb_cycles; break;
    case TLBM_REFILL: c->cyc[CPU_TLB] += c->p.tlb.refill_cycles; break;
    case TLBM_WALK: c->cyc[CPU_TLB] += c->p.walk_cycles; break;
    default: break;
    }
    return r;
}

void cpu_walk_read(struct cpu *c, uint64_t pa, uint32_t size)
{
    c->walk_refs++;
    if (!c->p.caches) {
        c->ram_fills++;
        c->ps[CPU_RAM] += c->p.ram_line_ps;
        return;
    }
    struct cache *k = &c->cache;
    uint64_t d1 = k->d1.misses[CACHE_R];
    uint64_t ll = k->ll.misses[CACHE_R];
    c->cyc[CPU_TLB] += c->p.l1_hit_cycles;
    uint64_t r = cache_load(k, pa, size);
    if (r != 0)
        miss_cost(c, r, false, 0, CPU_TLB);
    c->walk_d1_misses += k->d1.misses[CACHE_R] - d1;
    c->walk_ll_misses += k->ll.misses[CACHE_R] - ll;
}

void cpu_tlb_flush_page(struct cpu *c, uint64_t asid, uint64_t va)
{
    if (!c->p.caches)
        return; /* the model is off: no TLB to flush */
    tlbm_flush_page(&c->tlb, asid, va);
}

void cpu_tlb_flush_asid(struct cpu *c, uint64_t asid)
{
    if (!c->p.caches)
        return;
    tlbm_flush_asid(&c->tlb, asid);
}

/* ---- the kernel's work ---- */

static void kernel(struct cpu *c, uint64_t cycles)
{
    if (!core_is_quiet(c->core))
        c->cyc[CPU_KERNEL] += cycles;
}

void cpu_fault(struct cpu *c)
{
    kernel(c, c->p.fault_cycles);
}

void cpu_fault_ahead(struct cpu *c)
{
    kernel(c, c->p.fault_ahead_cycles);
}

void cpu_zero_fill(struct cpu *c)
{
    kernel(c, c->p.zero_fill_cycles);
}

void cpu_pagecache_fill(struct cpu *c)
{
    kernel(c, c->p.pagecache_cycles);
}

void cpu_copy(struct cpu *c, uint64_t off, uint64_t bytes, bool from_flash)
{
    if (core_is_quiet(c->core) || bytes == 0)
        return;
    uint64_t pg = c->core->pgsz;
    kernel(c, (bytes * c->p.cow_copy_cycles + pg - 1) / pg);
    if (from_flash) {
        uint32_t line = c->p.ll.size ? c->p.ll.line : c->p.d1.line;
        uint64_t lines = (off + bytes - 1) / line - off / line + 1;
        c->nor_fills += lines;
        c->ps[CPU_FLASH] += lines * c->nor_fill_ps[0];
    }
}

/* ---- figures ---- */

void cpu_counts(const struct cpu *c, const uint64_t fast[3],
                struct cpu_counts *n)
{
    const struct cache *k = &c->cache;
    memset(n, 0, sizeof(*n));
    if (c->p.caches) {
        n->i1_refs = k->i1.refs[CACHE_I];
        n->i1_misses = k->i1.misses[CACHE_I];
        n->d1_refs = k->d1.refs[CACHE_R] + k->d1.refs[CACHE_W] - c->walk_refs;
        n->d1_misses =
            k->d1.misses[CACHE_R] + k->d1.misses[CACHE_W] - c->walk_d1_misses;
        if (k->has_ll)
            n->ll_misses = k->ll.misses[CACHE_I] + k->ll.misses[CACHE_R] +
                           k->ll.misses[CACHE_W] - c->walk_ll_misses;
    } else {
        const uint64_t *f = fast;
        n->i1_refs = c->acc[CPU_FETCH] + f[CPU_FETCH];
        n->d1_refs =
            c->acc[CPU_LOAD] + c->acc[CPU_STORE] + f[CPU_LOAD] + f[CPU_STORE];
    }
    n->tlb_misses = c->tlb.st.misses[0] + c->tlb.st.misses[1];
    n->tlb_refills = c->tlb.st.refills + c->tlb.st.walks;
}

void cpu_time(const struct cpu *c, const uint64_t fast[3], uint64_t block_ns,
              struct cpu_time *t)
{
    struct cpu_counts n;
    cpu_counts(c, fast, &n);
    uint64_t cyc[CPU_BUCKETS];
    memcpy(cyc, c->cyc, sizeof(cyc));
    cyc[CPU_EXEC] += n.i1_refs * c->p.instr_cycles +
                     n.d1_refs * (uint64_t)c->p.l1_hit_cycles;
    memset(t, 0, sizeof(*t));
    for (int b = 0; b < CPU_BUCKETS; b++) {
        uint64_t ps = c->ps[b];
        if (b == CPU_RAM)
            ps += (fast[0] + fast[1] + fast[2]) * c->p.ram_line_ps;
        t->ns[b] =
            (double)cyc[b] * 1000.0 / c->p.clock_mhz + (double)ps / 1000.0;
        if (b == CPU_KERNEL)
            t->ns[b] += (double)block_ns;
        t->total_ns += t->ns[b];
    }
    t->cycles = t->total_ns * c->p.clock_mhz / 1000.0;
}

void cpu_ram_lines(const struct cpu *c, const uint64_t fast[3], uint64_t *fills,
                   uint64_t *writebacks)
{
    *fills = c->ram_fills + fast[CPU_LOAD] + fast[CPU_FETCH];
    *writebacks = c->ram_writebacks + fast[CPU_STORE];
}

int cpu_check(const struct cpu *c, char *err, size_t errlen)
{
    int e = c->p.caches ? cache_check_l1(&c->cache, err, errlen) : 0;
    return e ? e : tlbm_check(&c->tlb, err, errlen);
}
