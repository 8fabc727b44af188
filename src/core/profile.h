/*
 * Machine profiles: the sizes that drive translation and accounting.
 */
#ifndef XVM_PROFILE_H
#define XVM_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "xipvm.h"

/* The fewest frames a machine may have: the page daemon's targets need
 * them. */
#define PROFILE_RAM_MIN_PAGES 4

struct profile {
    const char *name;
    unsigned page_shift;
    unsigned levels;        /* page-table levels */
    unsigned level_bits[4]; /* index bits per level, root first */
    unsigned pte_size;      /* 4 or 8 bytes */
    unsigned vm_page_size;  /* modelled sizeof(struct vm_page) */
    bool big_endian;        /* byte order of PTEs in simulated RAM */
    unsigned tlb_entries;   /* default software TLB size */
    uint64_t va_max;        /* end of user address space */
    uint64_t ram_max;       /* the most RAM a machine may have */
    /* Kernel memory: bytes of one unit of each kernel object type (its
     * sizeof in NetBSD on this machine; doc/kernel-memory.md says where
     * each comes from), and the pool allocator's alignment. */
    uint32_t kmem_size[XVM_KMEM_TYPES];
    uint32_t kmem_align;
};

/* => the profile called name, or NULL. */
const struct profile *profile_find(const char *name);

#endif
