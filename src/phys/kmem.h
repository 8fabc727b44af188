/*
 * kmem: kernel memory in simulated RAM.
 *
 * Every kernel data structure of the simulated machine (map entries,
 * amaps and their slot arrays, anons, PV entries, address spaces, vnodes,
 * processes and their kernel stacks) is charged to simulated RAM at the
 * size the profile gives for its type (NetBSD's, doc/kernel-memory.md).
 * As NetBSD's pool(9) and kmem(9) do, small objects are packed into slabs:
 * frames of use XVM_USE_KERNEL, each holding objects of one size; a slab's
 * frame goes back to RAM when its last object is freed.  Allocations of
 * half a page or more take whole frames.
 *
 * The host object (the simulator's struct) is allocated beside, with a
 * small header naming its slab: the simulated size decides what RAM the
 * kernel uses, the host size only what the simulator does.  Kernel frames
 * have no host bytes of their own.
 *
 * A kernel allocation that cannot get a frame fails (NULL): the caller
 * unwinds and returns ENOMEM, and the page daemon may run before the
 * operation is retried.  Kernel memory is never paged.
 */
#ifndef XVM_KMEM_H
#define XVM_KMEM_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "core.h"
#include "counter.h"
#include "physmem.h"
#include "pool.h"
#include "xipvm.h"

/* Slab caches of allocations of several units (slot arrays): powers of
 * two from 16 bytes up to a quarter page; bigger ones take whole frames. */
#define KMEM_CLASSES 12

struct kcache {
    uint32_t size;     /* bytes of each object in the slab */
    uint32_t per_slab; /* objects a slab frame holds */
    uint32_t partial;  /* first slab with room (frame index), or none */
    uint64_t slabs;    /* slab frames */
    uint64_t objs;     /* objects in them */
};

struct kmem {
    struct physmem *ph;
    struct core *core;
    struct kcache fixed[XVM_KMEM_TYPES]; /* one size per type */
    struct kcache cls[KMEM_CLASSES];     /* by size class */
    unsigned nclasses;
    uint64_t big_pages;                   /* frames of big allocations */
    struct pool hostfree[XVM_KMEM_TYPES]; /* recycled host objects */
    size_t hostsize[XVM_KMEM_TYPES];      /* their size, set at first use */
    /* Counters. */
    struct gauge units[XVM_KMEM_TYPES]; /* objects live (slots for arrays) */
    struct gauge bytes;                 /* sum of units x their size */
    uint64_t refused; /* allocations a full RAM could not serve */
};

/* Links the allocator to physmem (ph->km) and sizes its caches. */
void kmem_init(struct kmem *km, struct physmem *ph);
/* Frees the recycled host objects; every object must be gone. */
void kmem_fini(struct kmem *km);

/*
 * => n units of type (1 for a structure, the slot count of an array),
 *    charged at the profile's size; host_size bytes of host memory,
 *    zeroed, for the simulator's own structure.
 * => NULL when RAM has no frame for a new slab (or host memory ran out).
 */
void *kmem_alloc(struct kmem *km, enum xvm_kmem_type type, uint64_t n,
                 size_t host_size);
/* Frees what kmem_alloc gave for (type, n); NULL is ignored. */
void kmem_free(struct kmem *km, enum xvm_kmem_type type, uint64_t n, void *p);

/* => the simulated bytes of n units of type. */
uint64_t kmem_size(const struct kmem *km, enum xvm_kmem_type type, uint64_t n);

/* Kernel frames equal the slabs and the pages of big allocations; each
 * slab's count of objects is within its capacity. */
void kmem_check(const struct kmem *km, struct check *ck);

#endif
