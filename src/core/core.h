/*
 * The floor every layer stands on: the profile and its page geometry,
 * the host allocator with fault injection, and the inspection scope.
 * One per machine; every layer's state points at it.
 */
#ifndef XVM_CORE_H
#define XVM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/*
 * Places where a test can make the Nth occurrence fail (xvm_inject); the
 * same order as enum xvm_inject_site.  Each layer asks at its own site.
 */
enum inject_site {
    INJECT_ALLOC,      /* host memory of the simulation (core) */
    INJECT_FRAME,      /* a frame of simulated RAM (phys) */
    INJECT_PAGETABLE,  /* a page-table page (pmap) */
    INJECT_PV,         /* a PV entry (pmap) */
    INJECT_AMAP,       /* an amap, new or copied (vm) */
    INJECT_ANON,       /* an anon (vm) */
    INJECT_COW,        /* a copy-on-write promotion (vm) */
    INJECT_FLASH_READ, /* a block read of a flash (dev): EIO */
    INJECT_SITES
};

/* A chunk of the pack (core_pack), its header at its start. */
struct pack_chunk {
    struct pack_chunk *prev;
    size_t size;
};

struct core {
    const struct profile *prof;
    uint32_t pgsz;
    unsigned pgshift;
    uint64_t occurred[INJECT_SITES]; /* occurrences so far, per site */
    uint64_t fail_at[INJECT_SITES];  /* occurrence that fails; 0: none */
    /* The last allocation that failed was an injected one, not one a
     * full RAM refused (physmem clears it): only the latter is retried
     * by the page daemon or kills. */
    bool injected_last;
    unsigned quiet;          /* > 0: inspecting (see core_quiet_begin) */
    struct pack_chunk *pack; /* core_pack's chunks, newest first */
    size_t pack_used;        /* bytes of the newest carved */
};

void core_init(struct core *c, const struct profile *prof);
/* Gives the pack's memory back (core_pack): after every layer's fini. */
void core_fini(struct core *c);

/*
 * => true when this occurrence of site is the one set to fail.
 * Every occurrence is counted, failing or not; inspection (quiet) neither
 * counts nor fails.
 */
static inline bool core_inject(struct core *c, enum inject_site site)
{
    if (c->quiet || ++c->occurred[site] != c->fail_at[site])
        return false;
    c->injected_last = true;
    return true;
}

/* Host memory of the simulation; NULL on failure (or injected failure). */
void *core_alloc(struct core *c, size_t n);
void *core_zalloc(struct core *c, size_t n);
void core_free(struct core *c, void *p);
/* len bytes of zeroed address space that the host backs only where it is
 * touched (its fresh pages, whatever malloc's debugging or a sanitizer
 * would do with calloc): a large array costs what is used of it.  NULL
 * when the host refuses (or an injected failure). */
void *core_reserve(struct core *c, size_t len);
void core_unreserve(void *p, size_t len); /* NULL is ignored */

/*
 * The pack: host memory for the small objects a process is made of and
 * that their layers recycle themselves (pools: address spaces, map
 * entries and other kernel objects, tree nodes, page-table blocks, PV
 * entries), carved in order from chunks that grow to 2 MiB, which the
 * host may back with huge pages (Linux: MADV_HUGEPAGE).  So the state
 * of thousands of processes sits in a few host pages, not one or two
 * per process: a fault in a process out of the caches then misses the
 * host's caches, not its TLB too.  An object of 64 bytes or more past
 * `skew` (a header before it) starts, past the header, on a cache line.
 * Never freed one by one: core_unpack drops an object (a pool's fini),
 * core_fini the whole.  Under AddressSanitizer each object is a malloc
 * of its own, so that overflows between them are still caught.
 * => NULL on failure (or injected failure, INJECT_ALLOC as core_alloc).
 */
#if defined(__SANITIZE_ADDRESS__)
#define CORE_PACKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORE_PACKED 0
#endif
#endif
#ifndef CORE_PACKED
#define CORE_PACKED 1
#endif
void *core_pack(struct core *c, size_t n, size_t skew);
/* An object of the pack its user no longer keeps (a pool's fini). */
static inline void core_unpack(struct core *c, void *p)
{
    if (!CORE_PACKED)
        core_free(c, p);
    (void)c, (void)p;
}

/*
 * Inspection (the checker, fsinfo) must change no figure and no state the
 * simulation depends on: between begin and end, layers read devices
 * without counting and bypass their caches.  Scopes nest.
 */
static inline void core_quiet_begin(struct core *c)
{
    c->quiet++;
}

static inline void core_quiet_end(struct core *c)
{
    c->quiet--;
}

static inline bool core_is_quiet(const struct core *c)
{
    return c->quiet != 0;
}

static inline uint64_t pg_trunc(const struct core *c, uint64_t va)
{
    return va & ~(uint64_t)(c->pgsz - 1);
}

static inline uint64_t pg_round(const struct core *c, uint64_t va)
{
    return (va + c->pgsz - 1) & ~(uint64_t)(c->pgsz - 1);
}

/* Keeps a slow path out of its caller's fast path (register spills). */
#if defined(__GNUC__)
#define XVM_NOINLINE __attribute__((noinline))
#else
#define XVM_NOINLINE
#endif

/* A fast path that must melt into its caller, so that constant arguments
 * (the kind of access) fold away. */
#if defined(__GNUC__)
#define XVM_INLINE inline __attribute__((always_inline))
#else
#define XVM_INLINE inline
#endif

/* The compiler forgets what it knew of x's value (no code): a fast path's
 * register stays the one it computed, and a slow path recomputes what it
 * needs from it instead of the fast path keeping a copy. */
#if defined(__GNUC__)
#define XVM_OPAQUE(x) __asm__("" : "+r"(x))
#else
#define XVM_OPAQUE(x) ((void)0)
#endif

/* Asks the host to bring the cache line holding p (to read, or to write
 * with _W) while the caller goes on: independent misses overlap instead of
 * coming one after the other.  A hint, nothing else: p may be anything,
 * even NULL; compilers without the builtin get no code. */
#if defined(__GNUC__)
#define XVM_PREFETCH(p)   __builtin_prefetch((p), 0)
#define XVM_PREFETCH_W(p) __builtin_prefetch((p), 1)
#else
#define XVM_PREFETCH(p)   ((void)(p))
#define XVM_PREFETCH_W(p) ((void)(p))
#endif

#endif
