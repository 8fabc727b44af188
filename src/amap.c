/*
 * amap: see amap.h.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "amap.h"
#include "machine.h"
#include "map.h"
#include "pmap.h"

int amap_alloc(struct xvm_machine *m, uint32_t nslot, struct amap **out)
{
    struct amap *am = m_zalloc(m, sizeof(*am));
    if (am == NULL)
        return ENOMEM;
    am->slots = m_alloc(m, (size_t)nslot * sizeof(*am->slots));
    am->bckptr = m_alloc(m, (size_t)nslot * sizeof(*am->bckptr));
    am->anon = m_zalloc(m, (size_t)nslot * sizeof(*am->anon));
    if (am->slots == NULL || am->bckptr == NULL || am->anon == NULL) {
        m_free(m, am->slots);
        m_free(m, am->bckptr);
        m_free(m, am->anon);
        m_free(m, am);
        return ENOMEM;
    }
    am->nslot = nslot;
    am->ref = 1;
    *out = am;
    return 0;
}

static void amap_free(struct xvm_machine *m, struct amap *am)
{
    m_free(m, am->slots);
    m_free(m, am->bckptr);
    m_free(m, am->anon);
    m_free(m, am->ppref);
    m_free(m, am);
}

/* Empties a used slot: the dense list stays dense by moving its last. */
static void slot_clear(struct xvm_machine *m, struct amap *am, uint32_t s)
{
    struct anon *an = am->anon[s];
    uint32_t i = am->bckptr[s], last = am->slots[--am->nused];
    am->slots[i] = last;
    am->bckptr[last] = i;
    am->anon[s] = NULL;
    anon_unref(m, an);
}

void amap_add(struct xvm_machine *m, struct amap *am, uint64_t slot,
              struct anon *an)
{
    uint32_t s = (uint32_t)slot;
    struct anon *old = am->anon[s];
    if (old) {
        /* Other address spaces may map the old page through this shared
         * amap: they must fault and see the new one. */
        if (am->flags & AMAP_SHARED)
            pmap_page_protect(m, old->page, XVM_PROT_NONE);
        am->anon[s] = an;
        anon_unref(m, old);
        return;
    }
    am->anon[s] = an;
    am->bckptr[s] = am->nused;
    am->slots[am->nused++] = s;
}

/* Makes per-slot counts explicit; until now every reference was whole. */
static int pp_establish(struct xvm_machine *m, struct amap *am)
{
    if (am->ppref)
        return 0;
    am->ppref = m_alloc(m, (size_t)am->nslot * sizeof(*am->ppref));
    if (am->ppref == NULL)
        return ENOMEM;
    for (uint32_t i = 0; i < am->nslot; i++)
        am->ppref[i] = (int32_t)am->ref;
    return 0;
}

int amap_ref(struct xvm_machine *m, struct amap *am, uint64_t slot,
             uint64_t len)
{
    bool whole = slot == 0 && len == am->nslot;
    if (!whole || am->ppref) {
        int error = pp_establish(m, am);
        if (error)
            return error;
        for (uint64_t i = slot; i < slot + len; i++)
            am->ppref[i]++;
    }
    am->ref++;
    return 0;
}

int amap_splitref(struct xvm_machine *m, struct amap *am)
{
    int error = pp_establish(m, am);
    if (error)
        return error;
    am->ref++;
    return 0;
}

static void amap_wipeout(struct xvm_machine *m, struct amap *am)
{
    while (am->nused > 0)
        slot_clear(m, am, am->slots[am->nused - 1]);
    amap_free(m, am);
}

void amap_unref(struct xvm_machine *m, struct amap *am, uint64_t slot,
                uint64_t len)
{
    if (--am->ref == 0) {
        amap_wipeout(m, am);
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
                slot_clear(m, am, s);
        }
        return;
    }
    for (uint64_t i = slot; i < slot + len; i++)
        if (--am->ppref[i] == 0 && am->anon[i])
            slot_clear(m, am, (uint32_t)i);
}

int amap_copy(struct xvm_machine *m, struct vm_map_entry *e)
{
    uint64_t npages = (e->end - e->start) >> m->pgshift;
    struct amap *old = e->amap, *am;

    if (npages > UINT32_MAX)
        return ENOMEM;
    if (old && old->ref == 1) {
        /* Nobody else references it: it is already private. */
        e->needs_copy = false;
        return 0;
    }
    int error = amap_alloc(m, (uint32_t)npages, &am);
    if (error)
        return error;
    if (old) {
        for (uint32_t k = 0; k < old->nused; k++) {
            uint32_t s = old->slots[k];
            if (s < e->aoff || s >= e->aoff + npages)
                continue;
            struct anon *an = old->anon[s];
            an->ref++;
            amap_add(m, am, s - e->aoff, an);
        }
        amap_unref(m, old, e->aoff, npages);
    }
    m->st.amap_copies++;
    e->amap = am;
    e->aoff = 0;
    e->needs_copy = false;
    return 0;
}
