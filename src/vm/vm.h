/*
 * The VM layer's state: every address space of a machine, the anon pool,
 * the fault-ahead table, and the layer's counters.  Modules of the layer
 * (anon, amap, map, vmspace, fault, access) share it.
 */
#ifndef XVM_VM_H
#define XVM_VM_H

#include <stdint.h>

#include "core.h"
#include "object.h"
#include "physmem.h"
#include "pmap.h"
#include "xipvm.h"

struct vm_stats {
    uint64_t faults, faults_read, faults_write, faults_exec;
    uint64_t faults_upper, faults_lower;
    uint64_t zero_fills, cow_promotions, cow_from_device, zero_page_maps;
    uint64_t neighbour_maps, device_maps;
    uint64_t amap_copies, enomem;
};

struct vm {
    struct core *core;
    struct physmem *ph;
    struct mmu *mmu;
    struct objects *objs;
    struct xvm_ahead ahead[3];               /* by enum xvm_advice */
    struct xvm_vmspace *spaces;              /* every live address space */
    struct xvm_vmspace *oom_head, *oom_tail; /* to be killed (vm_oom) */
    struct vm_stats st;
};

void vm_init(struct vm *vm, struct core *core, struct physmem *ph,
             struct mmu *mmu, struct objects *objs,
             const struct xvm_ahead ahead[3]);
/* Destroys every address space (machine teardown). */
void vm_fini(struct vm *vm);

#endif
