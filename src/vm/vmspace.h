/*
 * vmspace: one address space, a vm_map over a pmap.
 */
#ifndef XVM_VMSPACE_H
#define XVM_VMSPACE_H

#include "check.h"
#include "map.h"
#include "pmap.h"
#include "vm.h"

struct xvm_vmspace {
    /* What the access path and a fault read first, together: the layer,
     * the pmap kept in place (its id and leaf hint), then the map's hint;
     * a process's state then costs the host few cache lines per access. */
    struct vm *vm;
    struct pmap *pmap; /* &pmap_store */
    struct pmap pmap_store;
    struct vm_map map;
    struct hmap files; /* file records (struct file_acct *) it mapped */
    struct xvm_vmspace *next, *prev; /* the layer's list */
    void *owner; /* the process running in it (opaque here), or NULL */
    bool oom;    /* out of memory: on the VM layer's queue to be killed */
    struct xvm_vmspace *oom_next;
};

int vmspace_create(struct vm *vm, struct xvm_vmspace **out);
/* Frees the space (NULL: nothing), its entries and tables, whoever runs
 * in it (the process layer's exit and exec; xvm_vmspace_destroy refuses
 * those). */
void vmspace_destroy(struct xvm_vmspace *vs);
/* Takes back what vs's mappings added to their files' processes: an
 * exec that failed (or is restarted) made no process. */
void vmspace_uncount_files(struct xvm_vmspace *vs);

/* On a software-TLB miss at va: asks the host for the lines of vs a
 * translation and a fault read (past the first, which the TLB lookup
 * read), for the page tables' lines (pmap_prefetch) and for the map entry
 * holding va, so that these misses overlap (core.h, XVM_PREFETCH).  When
 * the map's hint is not that entry the tree finds it here (its upper
 * levels stay in the host's caches): the leaf's miss then overlaps the
 * page table's, and only the entry's comes after it.  Changes nothing. */
static inline void vmspace_prefetch(const struct xvm_vmspace *vs, uint64_t va)
{
    const char *p = (const char *)vs;
    for (size_t off = 64; off < offsetof(struct xvm_vmspace, map.header);
         off += 64)
        XVM_PREFETCH(p + off);
    const struct vm_map_entry *h = vs->map.hint;
    if (h != NULL && h->start <= va && va < h->end)
        XVM_PREFETCH(h);
    else /* the tree's leaf is the miss to start now; then its entry */
        XVM_PREFETCH(mt_floor(&vs->map.tree, va));
    pmap_prefetch(&vs->pmap_store, va);
}

/*
 * Runs body(vs, args) with the page daemon's retry (pagedaemon_retry).
 * When it still fails with ENOMEM because RAM was full (not an injected
 * failure, not a lack of address space), the space's process is queued
 * for the OOM killer (vm_oom).  => body's result.
 */
int vmspace_call(struct xvm_vmspace *vs,
                 int (*body)(struct xvm_vmspace *vs, void *args), void *args);
/* Queues vs's process to be killed: a fault could not get memory after
 * the page daemon ran (NetBSD: "killed: out of swap").  Spaces without a
 * process only fail the call. */
void vm_oom(struct xvm_vmspace *vs);
/* => the next space whose process is to be killed, or NULL. */
struct xvm_vmspace *vm_oom_take(struct vm *vm);

/*
 * Removes every mapping of amap slot `slot` in the address spaces whose
 * entries reference am: the amap-copy design's way (no PV entries for
 * device pages) to make the sharers of an amap shared by minherit see a
 * page just promoted into it.  O(spaces x entries): rare.
 */
void vm_unmap_sharers(struct vm *vm, const struct amap *am, uint64_t slot);

/* Unmaps [start, end) (page aligned): pmap, amap and object references. */
void vmspace_unmap(struct xvm_vmspace *vs, uint64_t start, uint64_t end);

/* => EINVAL unless [addr, addr+len) is a page-aligned user range; else 0
 *    and its end (len rounded up to pages). */
int vmspace_check_range(struct xvm_vmspace *vs, uint64_t addr, uint64_t len,
                        uint64_t *end);

/* Clipped walk over [addr, addr+len): check on every entry first (a
 * refusal changes nothing), then apply on each.  => 0 for len 0 at an
 * aligned address; EINVAL for a bad range, ENOMEM for a hole in it (as
 * POSIX says), or their errors. */
typedef int (*entry_fn)(struct xvm_vmspace *vs, struct vm_map_entry *e,
                        int arg);
int vmspace_range_apply(struct xvm_vmspace *vs, uint64_t addr, uint64_t len,
                        entry_fn check, entry_fn apply, int arg);

/*
 * The layer's invariants: every map (map_check), amaps and anons against
 * the entries that reference them, and every valid PTE and TLB grant
 * against what its map entry allows and holds.
 */
void vm_check(struct vm *vm, struct check *ck);

#endif
