/*
 * kmem: kernel objects in slabs of simulated RAM; see kmem.h.
 *
 * A slab is one frame of use XVM_USE_KERNEL.  Its vm_page says which cache
 * it belongs to (owner.kc), how many objects it holds (offset), and links
 * it on its cache's list of slabs with room (qnext, qprev), so taking and
 * giving back an object are O(1).  A big allocation (an object of a page
 * or more, or an array of half a page or more) takes whole frames, linked
 * through qnext; its first frame's offset counts them.
 *
 * Every host object carries one 8-byte header before it: the frame of its
 * slab (or the first frame of a big allocation).
 */
#include <assert.h>
#include <string.h>

#include "kmem.h"

#define HDR sizeof(uint64_t)

/* Structures come one at a time; the array types come by the slot, and
 * the kernel stack by the page. */
static bool is_array(enum xvm_kmem_type t)
{
    return t == XVM_KMEM_AMAP_SLOTS || t == XVM_KMEM_AMAP_ANONS ||
           t == XVM_KMEM_DEVICE_VM_PAGE;
}

static uint32_t round_up(uint32_t n, uint32_t align)
{
    return (n + align - 1) / align * align;
}

static void cache_init(struct kcache *kc, uint32_t size, uint32_t pgsz)
{
    kc->size = size;
    kc->per_slab = size <= pgsz ? pgsz / size : 0; /* 0: whole frames */
    kc->partial = PAGE_NONE;
    kc->slabs = 0;
    kc->objs = 0;
}

void kmem_init(struct kmem *km, struct physmem *ph)
{
    struct core *c = ph->core;
    const struct profile *p = c->prof;
    memset(km, 0, sizeof(*km));
    km->ph = ph;
    km->core = c;
    ph->km = km;
    uint32_t align = p->kmem_align ? p->kmem_align : 8;
    for (int t = 0; t < XVM_KMEM_TYPES; t++) {
        uint32_t size = round_up(p->kmem_size[t] ? p->kmem_size[t] : 1, align);
        /* A structure too big to share a page with another takes frames,
         * as the kernel stack does. */
        cache_init(&km->fixed[t], size, c->pgsz);
        if (km->fixed[t].per_slab < 2)
            km->fixed[t].per_slab = 0;
    }
    km->nclasses = 0;
    for (uint32_t size = 16; size <= c->pgsz / 2 && km->nclasses < KMEM_CLASSES;
         size *= 2)
        cache_init(&km->cls[km->nclasses++], size, c->pgsz);
}

void kmem_fini(struct kmem *km)
{
    for (int t = 0; t < XVM_KMEM_TYPES; t++)
        pool_fini(km->core, &km->hostfree[t]);
}

uint64_t kmem_size(const struct kmem *km, enum xvm_kmem_type type, uint64_t n)
{
    return n * km->core->prof->kmem_size[type];
}

/* => the cache that serves n units of type, or NULL for whole frames
 *    (*pages of them). */
static struct kcache *cache_for(struct kmem *km, enum xvm_kmem_type type,
                                uint64_t n, uint64_t *pages)
{
    uint32_t pgsz = km->core->pgsz;
    uint64_t bytes = kmem_size(km, type, n);
    *pages = 0;
    if (!is_array(type)) {
        struct kcache *kc = &km->fixed[type];
        if (kc->per_slab)
            return kc;
        *pages = (kc->size + (uint64_t)pgsz - 1) / pgsz;
        return NULL;
    }
    for (unsigned k = 0; k < km->nclasses; k++)
        if (bytes <= km->cls[k].size)
            return &km->cls[k];
    *pages = (bytes + pgsz - 1) / pgsz;
    return NULL;
}

/* ---- the list of slabs with room, linked through their vm_pages ---- */

static void slab_link(struct kmem *km, struct kcache *kc, uint32_t i)
{
    struct vm_page *pg = &km->ph->pages[i];
    pg->qprev = PAGE_NONE;
    pg->qnext = kc->partial;
    if (kc->partial != PAGE_NONE)
        km->ph->pages[kc->partial].qprev = i;
    kc->partial = i;
}

static void slab_unlink(struct kmem *km, struct kcache *kc, uint32_t i)
{
    struct vm_page *pg = &km->ph->pages[i];
    if (pg->qprev != PAGE_NONE)
        km->ph->pages[pg->qprev].qnext = pg->qnext;
    else
        kc->partial = pg->qnext;
    if (pg->qnext != PAGE_NONE)
        km->ph->pages[pg->qnext].qprev = pg->qprev;
}

/* => the frame of the slab that took one more object; false if no RAM. */
static bool slab_get(struct kmem *km, struct kcache *kc, uint32_t *frame)
{
    uint32_t i = kc->partial;
    if (i == PAGE_NONE) {
        pageh h;
        if (phys_alloc(km->ph, XVM_USE_KERNEL, false, &h) != 0)
            return false;
        i = (uint32_t)(h >> 1);
        struct vm_page *pg = &km->ph->pages[i];
        pg->owner.kc = kc;
        pg->offset = 0;
        slab_link(km, kc, i);
        kc->slabs++;
    }
    struct vm_page *pg = &km->ph->pages[i];
    if (++pg->offset == kc->per_slab)
        slab_unlink(km, kc, i);
    kc->objs++;
    *frame = i;
    return true;
}

static void slab_put(struct kmem *km, struct kcache *kc, uint32_t i)
{
    struct vm_page *pg = &km->ph->pages[i];
    assert(pg->use == XVM_USE_KERNEL && pg->owner.kc == kc && pg->offset > 0);
    bool was_full = pg->offset == kc->per_slab;
    kc->objs--;
    if (--pg->offset == 0) {
        if (!was_full)
            slab_unlink(km, kc, i);
        pg->owner.kc = NULL;
        phys_free(km->ph, page_ram(i));
        kc->slabs--;
    } else if (was_full) {
        slab_link(km, kc, i);
    }
}

static void big_put(struct kmem *km, uint32_t first)
{
    for (uint32_t i = first; i != PAGE_NONE;) {
        uint32_t next = km->ph->pages[i].qnext;
        phys_free(km->ph, page_ram(i));
        km->big_pages--;
        i = next;
    }
}

static bool big_get(struct kmem *km, uint64_t pages, uint32_t *first)
{
    uint32_t head = PAGE_NONE;
    for (uint64_t k = 0; k < pages; k++) {
        pageh h;
        if (phys_alloc(km->ph, XVM_USE_KERNEL, false, &h) != 0) {
            big_put(km, head);
            return false;
        }
        uint32_t i = (uint32_t)(h >> 1);
        struct vm_page *pg = &km->ph->pages[i];
        pg->owner.kc = NULL;
        pg->offset = 0;
        pg->qnext = head;
        head = i;
        km->big_pages++;
    }
    km->ph->pages[head].offset = pages;
    *first = head;
    return true;
}

/* ---- allocation ---- */

void *kmem_alloc(struct kmem *km, enum xvm_kmem_type type, uint64_t n,
                 size_t host_size)
{
    assert((unsigned)type < XVM_KMEM_TYPES && n > 0);
    uint64_t pages;
    struct kcache *kc = cache_for(km, type, n, &pages);
    uint8_t *h;
    bool pooled = !is_array(type);

    if (pooled) {
        /* One host size per structure type: its objects are recycled. */
        assert(km->hostsize[type] == 0 || km->hostsize[type] == host_size);
        km->hostsize[type] = host_size;
        km->hostfree[type].size = HDR + host_size;
        km->hostfree[type].skew = HDR; /* the object on a line */
        h = pool_get(km->core, &km->hostfree[type]);
    } else {
        h = core_alloc(km->core, HDR + host_size);
    }
    if (h == NULL)
        return NULL;
    uint32_t frame;
    uint64_t full = km->ph->refused;
    if (kc ? !slab_get(km, kc, &frame) : !big_get(km, pages, &frame)) {
        if (pooled)
            pool_put(&km->hostfree[type], h);
        else
            core_free(km->core, h);
        km->refused += km->ph->refused != full; /* not injected failures */
        return NULL;
    }
    uint64_t tag = frame;
    memcpy(h, &tag, HDR);
    memset(h + HDR, 0, host_size);
    gauge_add(&km->units[type], (int64_t)n);
    gauge_add(&km->bytes, (int64_t)kmem_size(km, type, n));
    return h + HDR;
}

void kmem_free(struct kmem *km, enum xvm_kmem_type type, uint64_t n, void *p)
{
    if (p == NULL)
        return;
    uint8_t *h = (uint8_t *)p - HDR;
    uint64_t tag, pages;
    memcpy(&tag, h, HDR);
    struct kcache *kc = cache_for(km, type, n, &pages);
    if (kc)
        slab_put(km, kc, (uint32_t)tag);
    else
        big_put(km, (uint32_t)tag);
    gauge_add(&km->units[type], -(int64_t)n);
    gauge_add(&km->bytes, -(int64_t)kmem_size(km, type, n));
    if (!is_array(type))
        pool_put(&km->hostfree[type], h);
    else
        core_free(km->core, h);
}

/* ---- invariants ---- */

static void check_cache(const struct kmem *km, const struct kcache *kc,
                        uint64_t *slabs, struct check *ck)
{
    const struct physmem *ph = km->ph;
    uint64_t room = 0;
    for (uint32_t i = kc->partial, prev = PAGE_NONE; i != PAGE_NONE;
         prev = i, i = ph->pages[i].qnext) {
        const struct vm_page *pg = &ph->pages[i];
        if (i >= ph->npages || pg->use != XVM_USE_KERNEL ||
            pg->owner.kc != kc || pg->qprev != prev ||
            pg->offset >= kc->per_slab || ++room > kc->slabs)
            return (void)check_fail(ck,
                                    "kmem: slab list of %u-byte objects "
                                    "broken at frame %u",
                                    kc->size, i);
    }
    *slabs += kc->slabs;
}

void kmem_check(const struct kmem *km, struct check *ck)
{
    const struct physmem *ph = km->ph;
    uint64_t slabs = 0, frames = 0, big = 0;
    for (int t = 0; t < XVM_KMEM_TYPES && !ck->error; t++)
        check_cache(km, &km->fixed[t], &slabs, ck);
    for (unsigned k = 0; k < km->nclasses && !ck->error; k++)
        check_cache(km, &km->cls[k], &slabs, ck);
    if (ck->error)
        return;
    /* Every kernel frame is a slab of some cache holding what it says,
     * or part of a big allocation. */
    uint64_t objs_seen = 0, objs = 0;
    for (uint32_t i = 0; i < ph->fresh; i++) { /* the rest never used */
        const struct vm_page *pg = &ph->pages[i];
        if (pg->use != XVM_USE_KERNEL)
            continue;
        frames++;
        if (pg->owner.kc == NULL) {
            big++;
            continue;
        }
        if (pg->offset == 0 || pg->offset > pg->owner.kc->per_slab)
            return (void)check_fail(ck,
                                    "kmem: slab at frame %u holds %llu "
                                    "objects",
                                    i, (unsigned long long)pg->offset);
        objs_seen += pg->offset;
    }
    for (int t = 0; t < XVM_KMEM_TYPES; t++)
        objs += km->fixed[t].objs;
    for (unsigned k = 0; k < km->nclasses; k++)
        objs += km->cls[k].objs;
    if (frames != ph->use[XVM_USE_KERNEL].cur || big != km->big_pages ||
        frames != slabs + big || objs_seen != objs)
        check_fail(ck,
                   "kmem: %llu kernel frames, %llu slabs + %llu big pages; "
                   "%llu objects counted, %llu in slabs",
                   (unsigned long long)frames, (unsigned long long)slabs,
                   (unsigned long long)km->big_pages, (unsigned long long)objs,
                   (unsigned long long)objs_seen);
}
