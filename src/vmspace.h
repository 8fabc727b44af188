/*
 * vmspace: one address space, a vm_map over a pmap.
 */
#ifndef XVM_VMSPACE_H
#define XVM_VMSPACE_H

#include "map.h"
#include "pmap.h"

struct xvm_vmspace {
    struct xvm_machine *m;
    struct vm_map map;
    struct pmap *pmap;
    struct xvm_vmspace *next, *prev;    /* the machine's list */
};

/* Unmaps [start, end) (page aligned): pmap, amap and object references. */
void vmspace_unmap(struct xvm_vmspace *vs, uint64_t start, uint64_t end);

#endif
