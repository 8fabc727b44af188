/*
 * The CPU cache hierarchy as a cost model: an L1 instruction cache (I1), an
 * L1 data cache (D1) and an optional unified last level (LL), each with its
 * own size, associativity and line size, LRU replacement, write-back with
 * write-allocate.  It only counts: it never holds data and never changes
 * what the VM does, only what an access costs.
 *
 * References and misses are counted exactly as valgrind's cachegrind
 * counts them (doc/cpu-model.md), so a trace replayed here and the same
 * program run under `valgrind --tool=cachegrind --cache-sim=yes` agree:
 *
 *   - an access touching two lines is one reference; it misses in L1 when
 *     either line misses (both lines are looked up and become MRU);
 *   - LL is consulted only on an L1 miss, and then for every LL line the
 *     access touches (both, even when only one L1 line missed); the LL miss
 *     is counted once;
 *   - a modify (read-modify-write, lackey's M) is one data *read*
 *     reference; the write cannot miss after the read;
 *   - a write miss allocates the line, like a read miss (write-allocate);
 *   - geometries follow cachegrind's rules (cache_geom_check).
 *
 * Write-backs are this model's addition, for the time model: a dirty line
 * evicted from D1 is written into LL when LL holds it (marking it dirty
 * there, without touching LL's LRU order, so cachegrind's miss counts are
 * unchanged) and to memory otherwise; a dirty line evicted from LL goes to
 * memory.  I1 lines are never dirty.
 *
 * Every access returns a word: 0 on an L1 hit (the common case, decided
 * inline without a call), else CACHE_L1_MISS with the number of L1 lines
 * that missed (CACHE_L1_LINES, 1 or 2 unless the access is larger than a
 * line), the number of lines that came from memory (CACHE_FILLS; LL lines
 * when there is an LL, the rest came from LL) and the number of dirty
 * lines written to memory (CACHE_WBS: its own 32 bits, since one dirty
 * D1 line may go out as thousands of smaller LL lines).  The caller
 * charges RAM or flash by the physical address it passed: when accesses
 * are split at page boundaries, all the lines of one access are in one
 * page, so one address decides.
 *
 * No globals: everything lives in a struct cache the caller owns.
 */
#ifndef XVM_CPU_CACHE_H
#define XVM_CPU_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h" /* XVM_INLINE */

/* One level's shape, cachegrind's `SIZE,ASSOC,LINE`; size 0: absent. */
struct cache_geom {
    uint32_t size;  /* bytes */
    uint32_t assoc; /* ways; size / line: fully associative */
    uint32_t line;  /* bytes, a power of two, at least 16 */
};

/* cachegrind's smallest line: no instruction then spans three lines. */
#define CACHE_MIN_LINE 16u
/* Largest access: one page.  Larger ones are counted as this many bytes. */
#define CACHE_MAX_ACCESS 4096u

struct cache_config {
    struct cache_geom i1, d1, ll; /* ll.size == 0: no last level */
    /* Host memory for the tag arrays, taken once by cache_init; it must
     * come zeroed (calloc does; a large one then costs nothing until
     * lines fill).  NULL: calloc. */
    void *(*alloc)(void *ctx, size_t n);
    void (*free)(void *ctx, void *p);
    void *alloc_ctx;
};

/* Counter index: instruction fetch, data read (and modify), data write. */
enum cache_kind { CACHE_I = 0, CACHE_R = 1, CACHE_W = 2 };

/*
 * One level.  LRU by use stamps rather than by moving tags: a hit on any
 * way costs one branch-free scan of the set and a store, never a shuffle
 * (a move-to-front set cost ~40 ns per hit on a random order).  mru[set]
 * names the way used last, so a repeat needs no scan at all.
 */
struct cache_level {
    uint64_t *tags;  /* sets * assoc: (block + 1) << 1 | dirty; 0 empty */
    uint64_t *stamp; /* sets * assoc: clock at last use; 0 never */
    uint32_t *mru;   /* sets: the way used last */
    uint64_t clock;
    uint64_t set_mask; /* sets - 1 */
    uint32_t assoc;
    uint32_t line_bits;
    struct cache_geom geom;
    /* refs: accesses that looked this level up (for LL: L1 misses). */
    uint64_t refs[3], misses[3]; /* by enum cache_kind */
    uint64_t writebacks;         /* dirty lines evicted from this level */
};

struct cache {
    struct cache_level i1, d1, ll;
    bool has_ll;
    uint32_t min_line;       /* smallest line of all levels */
    uint64_t mem_fills;      /* lines read from memory */
    uint64_t mem_writebacks; /* dirty lines written to memory */
    void (*free)(void *ctx, void *p);
    void *alloc_ctx;
};

/* An empty way: tags store block + 1, so no line has tag 0. */
#define CACHE_EMPTY 0

/* The access result word (64 bits). */
#define CACHE_L1_MISS     1u
#define CACHE_FILLS(r)    (((r) >> 1) & 0x3ffu)  /* lines from memory */
#define CACHE_L1_LINES(r) (((r) >> 22) & 0x3ffu) /* L1 lines missed */
#define CACHE_WBS(r)      ((uint64_t)(r) >> 32)  /* lines to memory */

/*
 * cache_geom_check: is g a geometry cachegrind accepts?
 * => opt names the option in the message ("--D1"); err may be NULL.
 * => 0, or EINVAL with a message such as "--D1: line size 48 is not a
 *    power of two": a zero field, a line not a power of two or below 16,
 *    a size not above the line, more ways than lines, ways * line not
 *    dividing the size, a set count not a power of two, a size of 2 GiB
 *    or more (cachegrind's int).  The size itself need not be a power of
 *    two (12 MiB, 24 ways, 64 B lines is fine: 8192 sets).
 */
int cache_geom_check(const char *opt, const struct cache_geom *g, char *err,
                     size_t errlen);

/*
 * cache_geom_parse: "SIZE,ASSOC,LINE", as in `--I1=32768,8,64`.
 * => decimal numbers; SIZE may end in K or M (KiB, MiB: 32K = 32768).
 * => 0 with *g set and checked, or EINVAL with a message naming opt.
 */
int cache_geom_parse(const char *opt, const char *val, struct cache_geom *g,
                     char *err, size_t errlen);

/*
 * cache_parse_option: one command-line word, `--I1=...`, `--D1=...`,
 * `--LL=...` (or cachegrind's older `--L2=...`), into cfg.
 * => 0 when parsed; ENOENT when arg is none of these (cfg untouched);
 *    EINVAL with a message for a bad value.
 */
int cache_parse_option(struct cache_config *cfg, const char *arg, char *err,
                       size_t errlen);

/* A cachegrind-like default: 32 KiB 8-way I1 and D1, 2 MiB 16-way LL, 64 B
 * lines, malloc. */
void cache_config_default(struct cache_config *cfg);

/* => host bytes cache_init takes for cfg: 16 per line and 4 per set of
 *    every level (a 2 MiB 16-way LL of 64 B lines: 520 KiB). */
size_t cache_host_bytes(const struct cache_config *cfg);

/*
 * cache_init: an empty (cold) hierarchy in caller-owned c.
 * => every geometry checked (options named --I1, --D1, --LL in err).
 * => 0; EINVAL (bad geometry); ENOMEM (the allocator failed; nothing
 *    is left allocated).  cache_fini releases.
 */
int cache_init(struct cache *c, const struct cache_config *cfg, char *err,
               size_t errlen);
void cache_fini(struct cache *c);

/* Empties every level; dirty lines are written back and counted. */
void cache_flush(struct cache *c);
/* Zeroes every counter; the contents stay. */
void cache_reset_stats(struct cache *c);

/*
 * cache_check: the invariants: each tag sits in its own set, no block
 * twice in a set, stamps distinct and zero exactly on empty ways, mru[]
 * the newest way of its set, no dirty I1 line.
 * => 0, or EINVAL with a message.  Walks every tag: not for hot paths.
 */
int cache_check(const struct cache *c, char *err, size_t errlen);
/* The same for I1 and D1 only: a few thousand lines, where an LL has
 * hundreds of thousands (the machine checker runs after every step). */
int cache_check_l1(const struct cache *c, char *err, size_t errlen);

/* The part of an access that is not a single-line MRU hit (cache.c). */
uint64_t cache_access_slow(struct cache *c, struct cache_level *l,
                           unsigned kind, bool dirty, uint64_t addr,
                           uint32_t size);

/*
 * The hot path: one reference of size bytes at addr to level l.  A hit on
 * the way its set used last, by a one-line access, costs two shifts, a
 * mask, two loads and a compare; everything else goes to
 * cache_access_slow.
 */
static XVM_INLINE uint64_t cache_access_(struct cache *c, struct cache_level *l,
                                         unsigned kind, bool dirty,
                                         uint64_t addr, uint32_t size)
{
    uint64_t b = addr >> l->line_bits;
    uint64_t last = addr + (size ? size - 1 : 0);
    if (last >> l->line_bits == b && last >= addr) {
        uint64_t set = b & l->set_mask;
        uint64_t *t = l->tags + set * l->assoc + l->mru[set];
        if (*t >> 1 == b + 1) {
            l->refs[kind]++;
            *t |= (uint64_t)dirty;
            return 0;
        }
    }
    return cache_access_slow(c, l, kind, dirty, addr, size);
}

/*
 * The per-access API.  addr is what indexes the caches (the physical
 * address in the machine; the virtual one when matching cachegrind),
 * size the bytes accessed (0 counts as 1; above CACHE_MAX_ACCESS as
 * CACHE_MAX_ACCESS).
 * => 0 on an L1 hit; else CACHE_L1_MISS | missing L1 lines, memory
 *    fills and write-backs, read with CACHE_L1_LINES(), CACHE_FILLS()
 *    and CACHE_WBS().
 * => fetch: I1 (then LL); load: D1 read; store: D1 write, the line
 *    becomes dirty; modify: one D1 read reference that also dirties the
 *    line (cachegrind counts a modify as a read).
 */
static XVM_INLINE uint64_t cache_fetch(struct cache *c, uint64_t addr,
                                       uint32_t size)
{
    return cache_access_(c, &c->i1, CACHE_I, false, addr, size);
}

static XVM_INLINE uint64_t cache_load(struct cache *c, uint64_t addr,
                                      uint32_t size)
{
    return cache_access_(c, &c->d1, CACHE_R, false, addr, size);
}

static XVM_INLINE uint64_t cache_store(struct cache *c, uint64_t addr,
                                       uint32_t size)
{
    return cache_access_(c, &c->d1, CACHE_W, true, addr, size);
}

static XVM_INLINE uint64_t cache_modify(struct cache *c, uint64_t addr,
                                        uint32_t size)
{
    return cache_access_(c, &c->d1, CACHE_R, true, addr, size);
}

/*
 * cachegrind counts a data access larger than its smallest line (FXSAVE,
 * XSAVE: lackey reports up to 512 bytes) as that many bytes; callers
 * matching cachegrind pass sizes through this.
 */
static inline uint32_t cache_cg_size(const struct cache *c, uint32_t size)
{
    return size > c->min_line ? c->min_line : size;
}

#endif
