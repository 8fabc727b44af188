/*
 * amap/anon: the overlay of private pages above a mapping (UVM's amap).
 *
 * An amap holds nslot slots; a used slot points at an anon, and the used
 * slots are also kept dense in slots[] with bckptr[] pointing back, so
 * walks cost O(used) and adding or removing costs O(1):
 *     slots[bckptr[s]] == s   for every used slot s.
 * ref counts the map entries that reference the amap.  While every
 * reference covers the whole amap, ppref is NULL; once an entry is split
 * (or references a part), ppref[s] counts the references covering slot s,
 * so a partial unmap frees exactly the anons nobody references any more.
 */
#ifndef XVM_AMAP_H
#define XVM_AMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "physmem.h"

struct xvm_machine;
struct vm_map_entry;

struct anon {
    uint32_t ref;               /* amap slots that point here */
    pageh page;                 /* always a RAM page */
};

#define AMAP_SHARED 0x1         /* referenced by an inherit-share mapping */

struct amap {
    uint32_t ref, flags;
    uint32_t nslot, nused;
    uint32_t *slots;
    uint32_t *bckptr;
    struct anon **anon;
    int32_t *ppref;
};

/* anon.c */
/* => a new anon with ref 1 owning a fresh frame (zeroed or copied from src). */
int anon_alloc(struct xvm_machine *m, const uint8_t *src, struct anon **out);
void anon_unref(struct xvm_machine *m, struct anon *an);

/* amap.c */
int amap_alloc(struct xvm_machine *m, uint32_t nslot, struct amap **out);
static inline struct anon *amap_lookup(const struct amap *am, uint64_t slot)
{
    return am->anon[slot];
}
/* Puts an into slot; a previous anon there loses this reference. */
void amap_add(struct xvm_machine *m, struct amap *am, uint64_t slot,
              struct anon *an);
/* A new reference from an entry covering [slot, slot+len). */
int amap_ref(struct xvm_machine *m, struct amap *am, uint64_t slot,
             uint64_t len);
/* An entry is split in two: one more reference, same coverage. */
int amap_splitref(struct xvm_machine *m, struct amap *am);
void amap_unref(struct xvm_machine *m, struct amap *am, uint64_t slot,
                uint64_t len);
/*
 * Resolves needs-copy for entry e: gives it an amap of its own (a new one,
 * or a copy whose slots share the old anons).  => 0 or ENOMEM, e unchanged.
 */
int amap_copy(struct xvm_machine *m, struct vm_map_entry *e);

#endif
