/*
 * The VM layer's state: every address space of a machine, the anon pool,
 * the fault-ahead table, and the layer's counters.  Modules of the layer
 * (anon, amap, map, vmspace, fault, access) share it.
 */
#ifndef XVM_VM_H
#define XVM_VM_H

#include <errno.h>
#include <stdint.h>

#include "core.h"
#include "maptree.h"
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
    /* beyond the paper (doc/beyond-the-paper.md) */
    uint64_t neighbour_skipped; /* fault-ahead mappings the reserve skipped */
    uint64_t forks, amap_slots_copied, sharer_scans;
    uint64_t loans, loan_pages, loan_device_pages, loan_breaks;
};

struct vm {
    struct core *core;
    struct physmem *ph;
    struct mmu *mmu;
    struct objects *objs;
    struct xvm_ahead ahead[3];               /* by enum xvm_advice */
    struct mt_spare mt_spare;                /* map tree nodes, reserved */
    struct xvm_vmspace *spaces;              /* every live address space */
    struct xvm_vmspace *oom_head, *oom_tail; /* to be killed (vm_oom) */
    /* The neighbour reserve (paper §11.2): fault-ahead mappings are
     * skipped at or below reserve_pages free frames, or at or above
     * pv_limit PV entries in use; 0: no bound. */
    uint64_t reserve_pages, pv_limit;
    struct xvm_loan *loans; /* loans not yet ended (loan.c) */
    uint64_t nloans;
    struct vm_stats st;
};

void vm_init(struct vm *vm, struct core *core, struct physmem *ph,
             struct mmu *mmu, struct objects *objs,
             const struct xvm_ahead ahead[3]);
/* Bounds the fault-ahead mappings (struct xvm_config's neighbour_reserve,
 * in pages here, and neighbour_pv_limit). */
void vm_set_neighbour_reserve(struct vm *vm, uint64_t pages, uint64_t pv_limit);
/* Destroys every address space (machine teardown). */
void vm_fini(struct vm *vm);
/* => EDEADLK while a pager's get or put runs, else 0: the fault or scan
 *    that called it holds map entries and pages (UVM holds the map's
 *    lock), so calls that fault or change maps must not come in. */
static inline int vm_reentered(const struct vm *vm)
{
    return vm->objs->in_pager ? EDEADLK : 0;
}

#endif
