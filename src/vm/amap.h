/*
 * amap: the overlay of private pages above a mapping (UVM's amap).
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

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "anon.h"
#include "check.h"
#include "vm.h"

#define AMAP_SHARED 0x1 /* referenced by an inherit-share mapping */

struct amap {
    uint32_t ref, flags;
    uint32_t nslot, nused;
    uint32_t *slots;
    uint32_t *bckptr;
    struct anon **anon;
    int32_t *ppref;
};

int amap_alloc(struct vm *vm, uint32_t nslot, struct amap **out);

static inline struct anon *amap_lookup(const struct amap *am, uint64_t slot)
{
    assert(slot < am->nslot);
    return am->anon[slot];
}

/* Puts an into slot; a previous anon there loses this reference. */
void amap_add(struct vm *vm, struct amap *am, uint64_t slot, struct anon *an);
/* A new reference from an entry covering [slot, slot+len). */
int amap_ref(struct vm *vm, struct amap *am, uint64_t slot, uint64_t len);
/* An entry is split in two: one more reference, same coverage. */
int amap_splitref(struct vm *vm, struct amap *am);
void amap_unref(struct vm *vm, struct amap *am, uint64_t slot, uint64_t len);
/*
 * => a new amap of len slots sharing the anons of old's [slot, slot+len)
 *    (each anon gains a reference), or of none when old is NULL; old then
 *    loses the reference for that range.  => 0, or ENOMEM with old as it was.
 */
int amap_copy(struct vm *vm, struct amap *old, uint64_t slot, uint64_t len,
              struct amap **out);
/* Lowers every mapping of the amap's anons to at most prot (a fork's
 * copy now shares them: the sharers' next write must fault). */
void amap_protect(struct vm *vm, struct amap *am, unsigned prot);

/*
 * One amap against what the maps say: refs entries reference it, cover[s]
 * of them cover slot s.  Checks the dense list, ppref, and that no anon
 * sits where nobody maps.
 */
void amap_check(const struct amap *am, uint64_t refs, const uint32_t *cover,
                struct check *ck);

#endif
