/*
 * The CPU model of a machine: its caches, its TLB model and its
 * latencies, consulted by every access of the access path and charged by
 * the fault handler and the pager.  It never changes what the VM does,
 * only what it costs: counts (references, misses, refills, line fills)
 * and time, in cycles of the core and picoseconds of memory, by bucket.
 *
 * A profile (struct cpu_params) holds every parameter; profiles are text
 * files of `key = value` lines (cpuprof.c, doc/time-model.md), and the
 * built-in ones are compiled in from src/cpu/profiles/.  The machine
 * owns one struct cpu, made from a profile by cpu_init.
 *
 * The access path calls, per page-sized piece of an access the software
 * TLB translated: cpu_tlb() (the modelled TLB; on a miss the caller sends
 * the page walk's PTE reads through cpu_walk_read()), then cpu_cache()
 * with the physical address.  Device (flash) pages fill their lines from
 * NOR, RAM pages from RAM.  With the caches off (`caches = off`, the
 * command's --no-cache) the model is off: no caches and no TLB model,
 * every access goes to memory at its latency (as an uncached machine's
 * would, and as the simulator charged flash before it had a CPU model).
 */
#ifndef XVM_CPU_H
#define XVM_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "core.h"
#include "tlbmodel.h"
#include "xipvm.h"

#define CPU_NAME_MAX 32

/* What a profile sets.  Latencies of memory are in picoseconds (the
 * files write ns with up to three decimals), of the core in cycles. */
struct cpu_params {
    char name[CPU_NAME_MAX];
    double clock_mhz;
    bool caches;                  /* false: no caches, no TLB model */
    struct cache_geom i1, d1, ll; /* ll.size 0: no last level */
    struct tlbm_config tlb;       /* walk_reads: set by the machine */
    uint32_t instr_cycles;        /* an instruction whose fetch hits I1 */
    uint32_t l1_hit_cycles;       /* a data access that hits D1 */
    uint32_t ll_hit_cycles;       /* an L1 line looked up in LL */
    uint64_t ram_line_ps;         /* a line filled from RAM or written back */
    uint64_t nor_first_ps;        /* NOR: the first word of a read */
    uint64_t nor_word_ps;         /* NOR: each further word (burst) */
    uint32_t nor_word_bytes;      /* NOR: bytes per word of the bus */
    uint32_t walk_cycles;         /* a hardware page walk, beyond its reads */
    uint32_t fault_cycles;        /* every fault: trap, lookup, pmap_enter */
    uint32_t fault_ahead_cycles;  /* each fault-ahead mapping entered */
    uint32_t zero_fill_cycles;    /* allocate and zero a page */
    uint32_t cow_copy_cycles;     /* allocate and copy a page */
    uint32_t pagecache_cycles;    /* pager and driver work of a fill */
    uint32_t block_access_ns;     /* the block interface: each read ... */
    uint32_t block_byte_ns;       /* ... plus each byte */
    uint64_t superpage_sizes;     /* bit n: 2^n-byte super pages allowed */
    bool superpages;              /* enter them (--superpages) */
};

/* The public handle (xipvm.h): a profile's parameters. */
struct xvm_cpu_profile {
    struct cpu_params p;
};

/* Time buckets: each cost goes to exactly one. */
enum cpu_bucket {
    CPU_EXEC,   /* the program's instructions and cache hits (L1, LL) */
    CPU_RAM,    /* line fills from RAM and write-backs, whoever's */
    CPU_FLASH,  /* line fills from NOR through the window */
    CPU_TLB,    /* refill handlers, STLB hits, walkers (their hits) */
    CPU_KERNEL, /* faults, zero fills, copies, page-cache fills, read() */
    CPU_BUCKETS
};

/* Kinds of access; equal to enum cache_kind. */
#define CPU_FETCH 0u
#define CPU_LOAD  1u
#define CPU_STORE 2u

struct cpu {
    struct core *core;
    struct cpu_params p;
    struct cache cache; /* when p.caches */
    struct tlbm tlb;
    uint64_t nor_fill_ps[2]; /* a line from NOR: [0] data, [1] fetch side */
    /* Counters (the report reads them). */
    uint64_t acc[3];               /* accesses by kind (pieces of a page) */
    uint64_t walk_refs;            /* PTE reads of walks and refills */
    uint64_t walk_d1_misses;       /* of those, D1 misses */
    uint64_t walk_ll_misses;       /* and LL misses */
    uint64_t ram_fills, nor_fills; /* lines from memory */
    uint64_t ram_writebacks;       /* dirty lines to RAM */
    uint64_t cyc[CPU_BUCKETS];     /* core cycles by bucket */
    uint64_t ps[CPU_BUCKETS];      /* memory picoseconds by bucket */
};

/* ---- profiles (cpuprof.c) ---- */

/* The built-in profiles compiled in from the files
 * src/cpu/profiles/NAME.cpu (cpu_builtin.c, generated at build time). */
struct cpu_builtin {
    const char *name, *text;
};
extern const struct cpu_builtin cpu_builtins[];
extern const size_t cpu_nbuiltins;

/* Every parameter zero but the few with a neutral default (caches on,
 * 1 cycle per instruction, 4-byte NOR words, the TLB kind's defaults). */
void cpu_params_init(struct cpu_params *p);
/*
 * One `key = value`.  => 0; EINVAL with "KEY: problem" in err: an unknown
 * key, a value that is not a number in range, a bad cache geometry (the
 * cachegrind rules, cache_geom_check), a page size the TLB cannot hold.
 */
int cpu_params_set(struct cpu_params *p, const char *key, const char *value,
                   char *err, size_t errlen);
/*
 * A whole profile file: `key = value` lines, `#` comments, blank lines;
 * later keys override earlier ones.  origin names the text in messages
 * ("FILE:LINE: KEY: problem").
 * => 0, or EINVAL (the first bad line; p is then unchanged).
 */
int cpu_params_parse(struct cpu_params *p, const char *text, const char *origin,
                     char *err, size_t errlen);
/* The profile as a whole: a clock above zero, caches that cachegrind
 * would accept, a TLB that tlbm_init would accept, super page sizes the
 * TLB holds.  => 0 or EINVAL naming the key. */
int cpu_params_check(const struct cpu_params *p, char *err, size_t errlen);
/* => the built-in called name, or NULL. */
const struct cpu_builtin *cpu_builtin_find(const char *name);

/* ---- the model ---- */

/*
 * cpu_init: a cold model from checked params for a machine whose page
 * walks read `levels` table entries.  Cache tags come from the core's
 * allocator.  => 0, EINVAL (bad params, message in err), ENOMEM.
 */
int cpu_init(struct cpu *c, struct core *core, const struct cpu_params *p,
             unsigned levels, char *err, size_t errlen);
void cpu_fini(struct cpu *c);

/* The cost of line fills and write-backs an access caused (cold path). */
void cpu_cache_miss(struct cpu *c, uint64_t r, bool dev, unsigned kind);

/* An access of n bytes at pa with the model off (--no-cache): straight
 * to memory, NOR in the words of the bus it spans (an unaligned one
 * spans one more), RAM at a line's latency. */
static XVM_INLINE void cpu_uncached(struct cpu *c, uint64_t pa, bool dev,
                                    uint32_t n, unsigned kind)
{
    c->acc[kind]++;
    if (dev) {
        uint64_t w = c->p.nor_word_bytes;
        uint64_t words = (pa + (n ? n - 1 : 0)) / w - pa / w + 1;
        c->nor_fills++;
        c->ps[CPU_FLASH] += c->p.nor_first_ps + (words - 1) * c->p.nor_word_ps;
        return;
    }
    if (kind == CPU_STORE)
        c->ram_writebacks++;
    else
        c->ram_fills++;
    c->ps[CPU_RAM] += c->p.ram_line_ps;
}

/*
 * The modelled TLB for one access at va in address space asid, through a
 * mapping of 2^shift bytes.  => TLBM_HIT (the common case, inline) or
 * what the miss needs: TLBM_REFILL / TLBM_WALK (charged here; the caller
 * then sends the walk's table reads through cpu_walk_read) or
 * TLBM_HIT_L2 (charged here).
 */
unsigned cpu_tlb_miss(struct cpu *c, unsigned r, unsigned shift);

static XVM_INLINE unsigned cpu_tlb(struct cpu *c, uint64_t asid, uint64_t va,
                                   unsigned kind, unsigned shift)
{
    if (!c->p.caches)
        return TLBM_HIT; /* --no-cache: no caches, no TLB model */
    unsigned r = tlbm_access(&c->tlb, asid, va, kind == CPU_FETCH, shift);
    return r == TLBM_HIT ? r : cpu_tlb_miss(c, r, shift);
}

/* One table read of a refill handler or walker, at physical address pa:
 * through the data cache when the caches are on, counted apart from the
 * program's references. */
void cpu_walk_read(struct cpu *c, uint64_t pa, uint32_t size);

/*
 * The caches for n bytes at physical address pa (one page), of a device
 * (NOR) page or not.  An L1 hit costs nothing here: the execution
 * time comes from the reference counts.
 */
static XVM_INLINE void cpu_cache(struct cpu *c, uint64_t pa, uint32_t n,
                                 bool dev, unsigned kind)
{
    if (!c->p.caches) {
        cpu_uncached(c, pa, dev, n, kind);
        return;
    }
    uint64_t r = kind == CPU_FETCH  ? cache_fetch(&c->cache, pa, n)
                 : kind == CPU_LOAD ? cache_load(&c->cache, pa, n)
                                    : cache_store(&c->cache, pa, n);
    if (r != 0)
        cpu_cache_miss(c, r, dev, kind);
}

/* An L1 as cpu_quick reads it. */
struct cpu_l1_view {
    uint64_t *tags, *stamp, *clock;
    uint32_t *mru;
    uint64_t set_mask;
    uint32_t assoc, line_bits;
};

static XVM_INLINE struct cpu_l1_view cpu_l1_view_of(struct cache_level *l)
{
    return (struct cpu_l1_view){ l->tags,     l->stamp, &l->clock,   l->mru,
                                 l->set_mask, l->assoc, l->line_bits };
}

/* => the way of block b in its L1 set (its newest tested first), or
 *    assoc when the set does not hold it. */
static XVM_INLINE uint32_t cpu_l1_way(const struct cpu_l1_view *v, uint64_t b)
{
    uint64_t set = b & v->set_mask;
    const uint64_t *t = v->tags + set * v->assoc;
    uint32_t w = v->mru[set];
    if (t[w] >> 1 == b + 1)
        return w;
    for (w = 0; w < v->assoc && t[w] >> 1 != b + 1; w++)
        ;
    return w;
}

/* Block b, held in way w of its set, used: the newest of its set (as
 * set_ref makes it; where it is the newest already, its stamp need not
 * grow), dirty for a store.  => its tag. */
static XVM_INLINE uint64_t *cpu_l1_use(const struct cpu_l1_view *v, uint64_t b,
                                       uint32_t w, bool store)
{
    uint64_t set = b & v->set_mask, i = set * v->assoc + w;
    if (v->mru[set] != w) {
        v->stamp[i] = ++*v->clock;
        v->mru[set] = w;
    }
    v->tags[i] |= (uint64_t)store;
    return &v->tags[i];
}

/*
 * The L1 part of cpu_quick: an L1 hit of n bytes at pa, the line (or
 * the two, when they straddle) held in its set.  => true, each line used
 * as the cache's own hit would (cpu_l1_use) and *tag the first line's
 * tag; false, a miss: nothing changed.
 */
static XVM_INLINE bool cpu_l1_quick(const struct cpu_l1_view *v, uint64_t pa,
                                    uint32_t n, bool store, uint64_t **tag)
{
    uint64_t b = pa >> v->line_bits;
    uint64_t last = (pa + n - (n != 0)) >> v->line_bits;
    uint32_t w = cpu_l1_way(v, b), x = 0;
    if (w == v->assoc ||
        (last != b && (last != b + 1 || (x = cpu_l1_way(v, last)) == v->assoc)))
        return false;
    *tag = cpu_l1_use(v, b, w, store);
    if (last != b)
        cpu_l1_use(v, last, x, store);
    return true;
}

/*
 * The common case in a few compares: an access of n bytes at va
 * (physical pa, one page, through a mapping of 2^shift bytes) that the
 * TLB model finds without changing state (tlbm_quick, from *memo: the
 * side's memo, or a run's copy of it) and that hits L1 (the line, or the
 * two lines when it straddles, held in its set: the hit makes each the
 * newest of its set, as the cache's own lookup would).
 * => true: *memo the entry used and its array's hit counted, as
 *    tlbm_access does, the access itself not yet counted; false, nothing
 *    changed: take cpu_tlb and cpu_cache.  The caches must be on.
 */
static XVM_INLINE bool cpu_quick_with(const struct tlbm *t,
                                      struct tlbm_memo *memo,
                                      const struct cpu_l1_view *l1,
                                      uint64_t asid, uint64_t va, uint64_t pa,
                                      uint32_t n, unsigned kind, unsigned shift,
                                      uint64_t **tag)
{
    /* The memo's hit first and without a copy (the commonest); another
     * entry's lookup fills m, and a lookup that fails leaves the memo. */
    struct tlbm_memo m;
    struct tlbm_array *a = NULL;
    bool memo_hit = tlbm_memo_covers(memo, asid, va);
    if ((!memo_hit &&
         !tlbm_quick_entry(t, asid, va, kind == CPU_FETCH, shift, &m, &a)) ||
        !cpu_l1_quick(l1, pa, n, kind == CPU_STORE, tag))
        return false;
    if (!memo_hit) {
        if (a != NULL)
            a->hits++;
        *memo = m;
    }
    return true;
}

/* cpu_quick_with on the model itself, the access counted. */
static XVM_INLINE bool cpu_quick(struct cpu *c, uint64_t asid, uint64_t va,
                                 uint64_t pa, uint32_t n, unsigned kind,
                                 unsigned shift)
{
    bool fetch = kind == CPU_FETCH;
    struct cache_level *l = fetch ? &c->cache.i1 : &c->cache.d1;
    struct cpu_l1_view v = cpu_l1_view_of(l);
    uint64_t *tag;
    if (!cpu_quick_with(&c->tlb, &c->tlb.memo[fetch], &v, asid, va, pa, n, kind,
                        shift, &tag))
        return false;
    l->refs[kind]++;
    c->tlb.st.lookups[fetch]++;
    return true;
}

/*
 * cpu_quick for a run of accesses with nothing else between them (a
 * batch): what it reads copied out once, so that the compiler keeps it
 * in registers, and its counts kept here until cpu_run_end adds them in.
 * Anything else that uses the model (cpu_tlb, cpu_cache, a flush) ends
 * the run first and begins another after.
 */
struct cpu_run {
    struct tlbm_memo memo[2]; /* the TLB model's: [0] data, [1] fetch */
    struct cpu_l1_view l1[2]; /* D1, I1 */
    uint64_t refs[3];         /* by kind: each also a TLB lookup */
};

static XVM_INLINE void cpu_run_begin(struct cpu *c, struct cpu_run *q)
{
    q->memo[0] = c->tlb.memo[0];
    q->memo[1] = c->tlb.memo[1];
    q->l1[0] = cpu_l1_view_of(&c->cache.d1);
    q->l1[1] = cpu_l1_view_of(&c->cache.i1);
    q->refs[0] = q->refs[1] = q->refs[2] = 0;
}

/* => the accesses the run counted so far. */
static XVM_INLINE uint64_t cpu_run_counted(const struct cpu_run *q)
{
    return q->refs[0] + q->refs[1] + q->refs[2];
}

static XVM_INLINE void cpu_run_end(struct cpu *c, const struct cpu_run *q)
{
    uint64_t data = q->refs[CPU_LOAD] + q->refs[CPU_STORE];
    c->tlb.memo[0] = q->memo[0];
    c->tlb.memo[1] = q->memo[1];
    c->cache.i1.refs[CPU_FETCH] += q->refs[CPU_FETCH];
    c->cache.d1.refs[CPU_LOAD] += q->refs[CPU_LOAD];
    c->cache.d1.refs[CPU_STORE] += q->refs[CPU_STORE];
    c->tlb.st.lookups[0] += data;
    c->tlb.st.lookups[1] += q->refs[CPU_FETCH];
}

/* cpu_quick within a run; *tag: the (first) line's L1 tag. */
static XVM_INLINE bool cpu_run_quick(struct cpu_run *q, const struct cpu *c,
                                     uint64_t asid, uint64_t va, uint64_t pa,
                                     uint32_t n, unsigned kind, unsigned shift,
                                     uint64_t **tag)
{
    bool fetch = kind == CPU_FETCH;
    if (!cpu_quick_with(&c->tlb, &q->memo[fetch], &q->l1[fetch], asid, va, pa,
                        n, kind, shift, tag))
        return false;
    q->refs[kind]++;
    return true;
}

/* An access counted as cpu_run_quick's again: the same side's lines, TLB
 * entry and ways as one it counted, nothing else between. */
static XVM_INLINE void cpu_run_count(struct cpu_run *q, unsigned kind)
{
    q->refs[kind]++;
}

/* The modelled TLB's entries of a page, or of an address space, go:
 * wherever the software TLB drops entries. */
void cpu_tlb_flush_page(struct cpu *c, uint64_t asid, uint64_t va);
void cpu_tlb_flush_asid(struct cpu *c, uint64_t asid);

/* ---- the kernel's work (fault handler, pagers, read()) ---- */

void cpu_fault(struct cpu *c);          /* a fault taken */
void cpu_fault_ahead(struct cpu *c);    /* a neighbour mapping entered */
void cpu_zero_fill(struct cpu *c);      /* a page zeroed */
void cpu_pagecache_fill(struct cpu *c); /* a page read into the page cache
                                           (its block read is the flash
                                           device's own cost) */
/* A copy of bytes by the kernel from offset off of a page (copy-on-write:
 * a page; read(): the bytes): cow_copy_cycles per page, and when the
 * source is on flash every line the bytes span is read from NOR. */
void cpu_copy(struct cpu *c, uint64_t off, uint64_t bytes, bool from_flash);

/* ---- figures ---- */

/*
 * fast[kind]: the accesses by kind that the hit path counted apart (the
 * pmaps' fast_hits: the model off, a RAM page, a software TLB hit), each
 * as cpu_uncached would have: an access, a line from RAM (a write-back
 * for a store) and its latency.  The figures below add them in, so that
 * such a hit is one increment.
 */

/* The time of the run, ns, by bucket; block_ns is the block interface's
 * time, which the device layer keeps and the kernel bucket holds. */
struct cpu_time {
    double ns[CPU_BUCKETS];
    double total_ns, cycles;
};
void cpu_time(const struct cpu *c, const uint64_t fast[3], uint64_t block_ns,
              struct cpu_time *t);
/* Lines filled from RAM and written back to it, fast included. */
void cpu_ram_lines(const struct cpu *c, const uint64_t fast[3], uint64_t *fills,
                   uint64_t *writebacks);

/* The program's references and misses (walk reads taken out), as
 * cachegrind counts them. */
struct cpu_counts {
    uint64_t i1_refs, i1_misses, d1_refs, d1_misses, ll_misses;
    uint64_t tlb_misses, tlb_refills;
};
void cpu_counts(const struct cpu *c, const uint64_t fast[3],
                struct cpu_counts *n);

/* The TLB model's and the L1 caches' invariants (every entry; the LL's
 * walk, hundreds of thousands of lines, is left to cache_check's own
 * callers: the machine checker runs after every step of a test). */
int cpu_check(const struct cpu *c, char *err, size_t errlen);

#endif
