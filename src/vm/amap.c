/*
 * amap: see amap.h.
 */
#include <errno.h>
#include <string.h>

#include "amap.h"
#include "kmem.h"

/* The header and the slot arrays are kernel memory, as amap_alloc1()
 * allocates them: the structure from a pool, each array by kmem_alloc. */
static void amap_free(struct vm *vm, struct amap *am)
{
    struct kmem *km = vm->ph->km;
    uint32_t n = am->nslot;
    kmem_free(km, XVM_KMEM_AMAP_SLOTS, n, am->slots);
    kmem_free(km, XVM_KMEM_AMAP_SLOTS, n, am->bckptr);
    kmem_free(km, XVM_KMEM_AMAP_ANONS, n, am->anon);
    kmem_free(km, XVM_KMEM_AMAP_SLOTS, n, am->ppref);
    kmem_free(km, XVM_KMEM_AMAP, 1, am);
}

int amap_alloc(struct vm *vm, uint32_t nslot, struct amap **out)
{
    struct kmem *km = vm->ph->km;
    if (nslot == 0)
        return EINVAL;
    if (core_inject(vm->core, INJECT_AMAP))
        return ENOMEM;
    struct amap *am = kmem_alloc(km, XVM_KMEM_AMAP, 1, sizeof(*am));
    if (am == NULL)
        return ENOMEM;
    am->nslot = nslot;
    am->slots = kmem_alloc(km, XVM_KMEM_AMAP_SLOTS, nslot,
                           (size_t)nslot * sizeof(*am->slots));
    am->bckptr = kmem_alloc(km, XVM_KMEM_AMAP_SLOTS, nslot,
                            (size_t)nslot * sizeof(*am->bckptr));
    am->anon = kmem_alloc(km, XVM_KMEM_AMAP_ANONS, nslot,
                          (size_t)nslot * sizeof(*am->anon));
    if (am->slots == NULL || am->bckptr == NULL || am->anon == NULL) {
        amap_free(vm, am);
        return ENOMEM;
    }
    am->ref = 1;
    *out = am;
    return 0;
}

/* Empties a used slot: the dense list stays dense by moving its last. */
static void slot_clear(struct vm *vm, struct amap *am, uint32_t s)
{
    struct anon *an = am->anon[s];
    assert(an != NULL && am->slots[am->bckptr[s]] == s);
    uint32_t i = am->bckptr[s], last = am->slots[--am->nused];
    am->slots[i] = last;
    am->bckptr[last] = i;
    am->anon[s] = NULL;
    anon_unref(vm, an);
}

void amap_add(struct vm *vm, struct amap *am, uint64_t slot, struct anon *an)
{
    assert(slot < am->nslot && an != NULL && an->ref > 0);
    uint32_t s = (uint32_t)slot;
    struct anon *old = am->anon[s];
    if (old) {
        /* Other address spaces may map the old page through this shared
         * amap: they must fault and see the new one. */
        if ((am->flags & AMAP_SHARED) && old->page != PAGEH_NONE)
            pmap_page_protect(vm->mmu, old->page, XVM_PROT_NONE);
        am->anon[s] = an;
        anon_unref(vm, old);
        return;
    }
    am->anon[s] = an;
    am->bckptr[s] = am->nused;
    am->slots[am->nused++] = s;
}

/* Makes per-slot counts explicit; until now every reference was whole. */
static int pp_establish(struct vm *vm, struct amap *am)
{
    if (am->ppref)
        return 0;
    am->ppref = kmem_alloc(vm->ph->km, XVM_KMEM_AMAP_SLOTS, am->nslot,
                           (size_t)am->nslot * sizeof(*am->ppref));
    if (am->ppref == NULL)
        return ENOMEM;
    for (uint32_t i = 0; i < am->nslot; i++)
        am->ppref[i] = (int32_t)am->ref;
    return 0;
}

int amap_ref(struct vm *vm, struct amap *am, uint64_t slot, uint64_t len)
{
    assert(slot + len <= am->nslot && am->ref > 0);
    bool whole = slot == 0 && len == am->nslot;
    if (!whole || am->ppref) {
        int error = pp_establish(vm, am);
        if (error)
            return error;
        for (uint64_t i = slot; i < slot + len; i++)
            am->ppref[i]++;
    }
    am->ref++;
    return 0;
}

int amap_splitref(struct vm *vm, struct amap *am)
{
    int error = pp_establish(vm, am);
    if (error)
        return error;
    am->ref++;
    return 0;
}

static void amap_wipeout(struct vm *vm, struct amap *am)
{
    while (am->nused > 0)
        slot_clear(vm, am, am->slots[am->nused - 1]);
    amap_free(vm, am);
}

void amap_unref(struct vm *vm, struct amap *am, uint64_t slot, uint64_t len)
{
    assert(am->ref > 0 && slot + len <= am->nslot);
    if (--am->ref == 0) {
        amap_wipeout(vm, am);
        return;
    }
    /* Partial references always come with ppref (amap_ref, splitref). */
    if (am->ppref == NULL)
        return;
    if (len > am->nused) {
        /* Cheaper to walk the used slots than the range. */
        for (uint64_t i = slot; i < slot + len; i++)
            am->ppref[i]--;
        for (uint32_t k = am->nused; k-- > 0;) {
            uint32_t s = am->slots[k];
            if (s >= slot && s < slot + len && am->ppref[s] == 0)
                slot_clear(vm, am, s);
        }
        return;
    }
    for (uint64_t i = slot; i < slot + len; i++)
        if (--am->ppref[i] == 0 && am->anon[i])
            slot_clear(vm, am, (uint32_t)i);
}

int amap_copy(struct vm *vm, struct amap *old, uint64_t slot, uint64_t len,
              struct amap **out)
{
    struct amap *am;
    if (len > UINT32_MAX)
        return ENOMEM;
    int error = amap_alloc(vm, (uint32_t)len, &am);
    if (error)
        return error;
    if (old) {
        for (uint32_t k = 0; k < old->nused; k++) {
            uint32_t s = old->slots[k];
            if (s < slot || s >= slot + len)
                continue;
            struct anon *an = old->anon[s];
            an->ref++;
            amap_add(vm, am, s - slot, an);
        }
        amap_unref(vm, old, slot, len);
        vm->st.amap_slots_copied += len;
    }
    vm->st.amap_copies++;
    *out = am;
    return 0;
}

void amap_protect(struct vm *vm, struct amap *am, unsigned prot)
{
    for (uint32_t k = 0; k < am->nused; k++) {
        pageh pg = am->anon[am->slots[k]]->page;
        if (pg != PAGEH_NONE) /* a paged-out anon has no mapping */
            pmap_page_protect(vm->mmu, pg, prot);
    }
}

void amap_check(const struct amap *am, uint64_t refs, const uint32_t *cover,
                struct check *ck)
{
    if (am->ref != refs)
        return (void)check_fail(ck,
                                "amap %p: ref %u, referenced by %llu "
                                "entries",
                                (const void *)am, am->ref,
                                (unsigned long long)refs);
    uint32_t used = 0;
    for (uint32_t s = 0; s < am->nslot; s++) {
        if (am->anon[s] == NULL)
            continue;
        used++;
        if (am->bckptr[s] >= am->nused || am->slots[am->bckptr[s]] != s)
            return (void)check_fail(ck,
                                    "amap %p slot %u: am_slots[am_bckptr"
                                    "[x]] != x",
                                    (const void *)am, s);
        if (cover[s] == 0)
            return (void)check_fail(ck, "amap %p slot %u: anon nobody maps",
                                    (const void *)am, s);
    }
    for (uint32_t s = 0; am->ppref && s < am->nslot; s++)
        if ((uint32_t)am->ppref[s] != cover[s])
            return (void)check_fail(ck,
                                    "amap %p slot %u: ppref %d, covered "
                                    "%u times",
                                    (const void *)am, s, am->ppref[s],
                                    cover[s]);
    if (used != am->nused)
        return (void)check_fail(ck, "amap %p: nused %u, %u slots used",
                                (const void *)am, am->nused, used);
}
