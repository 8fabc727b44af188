/*
 * vm_map: the entries of one address space, kept both in an address-
 * ordered list (for range walks) and in a treap keyed by start address
 * (for O(log n) lookup).
 */
#ifndef XVM_MAP_H
#define XVM_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "amap.h"
#include "check.h"
#include "vm.h"

struct xvm_object;

struct vm_map_entry {
    struct vm_map_entry *prev, *next;  /* address order; map->header ends */
    struct vm_map_entry *left, *right; /* treap */
    uint32_t prio;
    uint64_t start, end;
    struct xvm_object *obj; /* NULL: anonymous zero-fill */
    uint64_t offset;        /* object offset of start */
    struct amap *amap;      /* private pages, or NULL */
    uint64_t aoff;          /* amap slot of start */
    uint8_t prot, maxprot, inherit, advice;
    bool cow;        /* private: copy on write */
    bool text;       /* was ever executable: its copies are writes to text */
    bool needs_copy; /* amap must be copied before a write */
    uint32_t wired;  /* mlock count */
};

struct vm_map {
    struct vm_map_entry header; /* list sentinel */
    struct vm_map_entry *root;
    uint64_t nentries;
    uint64_t minva, maxva;
    uint32_t rng; /* treap priorities */
};

void map_init(struct vm_map *map, uint64_t minva, uint64_t maxva);
/* => the entry containing va, or NULL. */
struct vm_map_entry *map_lookup(const struct vm_map *map, uint64_t va);
/* => the first entry ending after va (it may start after va), or header. */
struct vm_map_entry *map_first_after(struct vm_map *map, uint64_t va);
struct vm_map_entry *map_entry_alloc(struct vm *vm, struct vm_map *map);
void map_insert(struct vm_map *map, struct vm_map_entry *e);
void map_remove(struct vm_map *map, struct vm_map_entry *e);
/* Splits e so that one entry ends and the next starts at va (ENOMEM). */
int map_clip(struct vm *vm, struct vm_map *map, struct vm_map_entry *e,
             uint64_t va);
/* Clips so [start, end) is made of whole entries; => first entry or header. */
int map_clip_range(struct vm *vm, struct vm_map *map, uint64_t start,
                   uint64_t end, struct vm_map_entry **first);
/* => a free range of len bytes at or after hint (first fit), or ENOMEM. */
int map_findspace(struct vm_map *map, uint64_t hint, uint64_t len,
                  uint64_t *addr);
/* Drops an entry's references (amap, object) and frees it. */
void map_entry_free(struct vm *vm, struct vm_map_entry *e);
/* Frees an entry that holds no reference (a failed allocation's). */
void map_entry_release(struct vm *vm, struct vm_map_entry *e);

/*
 * Resolves needs-copy for the entry holding va before a write: gives it an
 * amap of its own (a new one, or a copy whose slots share the old anons).
 * With chunk, a large entry is first clipped to the aligned chunk around va,
 * as UVM's amap_copy chunks, so amaps (and their copies after fork) cost what is
 * touched, not what is mapped.  => 0 and *ep (the entry now holding va),
 * or ENOMEM with the entry unchanged (clips aside).
 */
int map_copy_amap(struct vm *vm, struct vm_map *map, uint64_t va, bool chunk,
                  struct vm_map_entry **ep);

/*
 * The map's own invariants: the treap (order, heap, size), the list
 * (sorted, disjoint, linked), lookups, and each entry's protection,
 * amap bounds and references.
 */
void map_check(const struct vm *vm, const struct vm_map *map, struct check *ck);

#define map_foreach(map, e)                                                    \
    for ((e) = (map)->header.next; (e) != &(map)->header; (e) = (e)->next)

#endif
