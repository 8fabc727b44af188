/*
 * Physical memory; see physmem.h.
 *
 * Host memory: the frames' bytes are one arena and their vm_pages one
 * array, both reserved address space that the host backs only where it
 * is touched (frames are used from the bottom up), so a machine costs
 * what it uses, whatever its RAM; both are backed up to 2 MiB at a time
 * as frames are first used (back_ahead), so a burst of new frames costs
 * one host call per 512 frames' bytes and per 52,428 frames' vm_pages,
 * not a host page fault per frame and per 102 vm_pages.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, madvise */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "physmem.h"

#define NO_PAGE        PAGE_NONE
#define POPULATE_BYTES (UINT32_C(2) << 20) /* the most backed at once */

/* The one update of the frame counters: by use, in use, and the mix of
 * uses when in-use frames peak (so RAM at peak adds up by kind). */
static void count_use(struct physmem *ph, int use, int64_t delta)
{
    gauge_add(&ph->use[use], delta);
    if (use == XVM_USE_FREE)
        return;
    uint64_t peak = ph->used.peak;
    gauge_add(&ph->used, delta);
    if (ph->used.peak > peak)
        for (int u = 0; u < XVM_USE_COUNT; u++)
            ph->used_mix[u] = ph->use[u].cur;
}

int phys_init(struct physmem *ph, struct core *core, uint64_t ram_pa,
              uint64_t ram_bytes)
{
    uint64_t n = ram_bytes >> core->pgshift;

    memset(ph, 0, sizeof(*ph));
    ph->core = core;
    ph->zero_page = PAGEH_NONE;
    long hp = sysconf(_SC_PAGESIZE);
    ph->host_page = hp > 0 ? (size_t)hp : 4096;
    if (n < PROFILE_RAM_MIN_PAGES || n >= NO_PAGE ||
        (ram_pa & (core->pgsz - 1)))
        return EINVAL;
    ph->npages = ph->nframes = (uint32_t)n;
    ph->ram = (struct ram_seg){ .pa = ram_pa, .npages = n, .first = 0 };
    if ((ph->pages = core_reserve(core, (size_t)n * sizeof(*ph->pages))) ==
            NULL ||
        (ph->arena = core_reserve(core, (size_t)n * core->pgsz)) == NULL)
        return ENOMEM;
    /* Frames from `fresh` on were never used: they are free without being
     * on the list, so a large RAM costs no host memory until touched. */
    ph->fresh = 0;
    ph->free_head = NO_PAGE;
    ph->nfree = (uint32_t)n;
    count_use(ph, XVM_USE_FREE, (int64_t)n);
    return phys_alloc(ph, XVM_USE_ZERO, true, &ph->zero_page);
}

void phys_fini(struct physmem *ph)
{
    size_t n = ph->nframes; /* memory disks' frames too */
    if (ph->pages)
        core_unreserve(ph->pages, n * sizeof(*ph->pages));
    if (ph->arena) /* else ph->core may be unset: never initialised */
        core_unreserve(ph->arena, n * ph->core->pgsz);
    core_free(ph->core, ph->dev);
    memset(ph, 0, sizeof(*ph));
}

/* Device segments are few (one per flash): a linear scan is fine. */
struct dev_seg *phys_dev_seg(const struct physmem *ph, uint64_t pa)
{
    for (unsigned i = 0; i < ph->ndev; i++) {
        struct dev_seg *d = &ph->dev[i];
        if (pa >= d->pa && ((pa - d->pa) >> ph->core->pgshift) < d->npages)
            return d;
    }
    return NULL;
}

uint64_t phys_addr(const struct physmem *ph, pageh h)
{
    if (page_is_device(h))
        return h & ~(uint64_t)1;
    const struct ram_seg *r = &ph->ram;
    return r->pa + ((uint64_t)((h >> 1) - r->first) << ph->core->pgshift);
}

pageh phys_lookup_device(const struct physmem *ph, uint64_t pa)
{
    if (phys_dev_seg(ph, pa))
        return page_device(pg_trunc(ph->core, pa));
    return PAGEH_NONE;
}

/* The host's cost of a frame beyond its bytes (doc/design.md): grow it
 * only knowingly. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct vm_page) == 40,
               "a vm_page is 40 host bytes on a 64-bit host");

uint8_t *phys_data(const struct physmem *ph, pageh h)
{
    if (!page_is_device(h))
        return phys_ram_data(ph, h);
    uint64_t pa = h & ~(uint64_t)1;
    const struct dev_seg *d = phys_dev_seg(ph, pa);
    /* Device memory is read-only to the simulation: the MMU never grants
     * write to a device page (see pmap_enter). */
    return d ? (uint8_t *)(uintptr_t)(d->data + (pa - d->pa)) : NULL;
}

void phys_copy(struct physmem *ph, pageh dst, pageh src)
{
    uint8_t *to = phys_ram_data(ph, dst);
    if (!page_is_device(src)) {
        memcpy(to, phys_ram_data(ph, src), ph->core->pgsz);
        return;
    }
    uint64_t pa = phys_addr(ph, src);
    const struct dev_seg *d = phys_dev_seg(ph, pa);
    phys_dev_read(ph, d, to, d->data + (pa - d->pa), ph->core->pgsz);
}

/*
 * Frames are first used in order: the host backs what frame i on needs
 * (each bytes a frame at base: their vm_pages, or their bytes) in runs,
 * in one call, not one host fault per host page; 16 frames first, twice
 * as many each time up to 2 MiB, so a small machine does not pay for a
 * big run.  *upto: the frames backed so far.
 */
static void back_ahead(const struct physmem *ph, uint8_t *base, size_t each,
                       uint32_t i, uint32_t *upto)
{
#ifdef MADV_POPULATE_WRITE
    if (i < *upto)
        return;
    uint32_t most = (uint32_t)(POPULATE_BYTES / each);
    uint32_t want = *upto < 16 ? 16 : *upto < most ? *upto : most;
    uint32_t n = ph->npages - i < want ? ph->npages - i : want;
    uintptr_t lo = (uintptr_t)(base + (size_t)i * each) & ~(ph->host_page - 1),
              hi = (uintptr_t)(base + (size_t)(i + n) * each);
    (void)madvise((void *)lo, hi - lo,
                  MADV_POPULATE_WRITE); /* a hint: may be refused */
    *upto = i + n;
#else
    (void)ph, (void)base, (void)each, (void)i, (void)upto;
#endif
}

uint64_t phys_backed_ahead(const struct physmem *ph)
{
    uint64_t b = 0;
    if (ph->populated > ph->fresh)
        b += (uint64_t)(ph->populated - ph->fresh) * ph->core->pgsz;
    if (ph->meta_populated > ph->fresh)
        b +=
            (uint64_t)(ph->meta_populated - ph->fresh) * sizeof(struct vm_page);
    return b;
}

int phys_alloc(struct physmem *ph, int use, bool zero, pageh *out)
{
    struct core *c = ph->core;

    if (core_inject(c, INJECT_FRAME))
        return ENOMEM;
    if (ph->nfree == 0) {
        ph->refused++;
        c->injected_last = false;
        return ENOMEM;
    }
    uint32_t i = ph->free_head != NO_PAGE ? ph->free_head : ph->fresh;
    struct vm_page *pg = &ph->pages[i];
    /* A frame never used has the host's zeros for bytes.  Kernel and
     * page-table frames leave their bytes alone (their contents live in
     * host structures), so theirs are not zeroed: nothing reads them. */
    bool never_used = i == ph->fresh,
         bytes = use != XVM_USE_KERNEL && use != XVM_USE_PAGETABLE;
    if (never_used || !bytes)
        zero = false;
    if (never_used) {
        back_ahead(ph, (uint8_t *)ph->pages, sizeof(*pg), i,
                   &ph->meta_populated);
        if (bytes)
            back_ahead(ph, ph->arena, c->pgsz, i, &ph->populated);
        ph->fresh++;
    } else {
        ph->free_head = pg->next_free;
    }
    ph->nfree--;
    pg->next_free = NO_PAGE;
    pg->flags = 0;
    pg->use = (uint8_t)use;
    pg->pv = NULL;
    pg->owner.obj = NULL;
    pg->offset = 0;
    pg->qprev = 0;
    pg->wire = 0;
    pg->loan = 0;
    if (zero)
        memset(phys_ram_data(ph, page_ram(i)), 0, c->pgsz);
    count_use(ph, XVM_USE_FREE, -1);
    count_use(ph, use, 1);
    *out = page_ram(i);
    return 0;
}

void phys_free(struct physmem *ph, pageh h)
{
    uint32_t i = (uint32_t)(h >> 1);
    struct vm_page *pg = &ph->pages[i];

    assert(pg->use != XVM_USE_FREE && pg->loan == 0);
    count_use(ph, pg->use, -1);
    count_use(ph, XVM_USE_FREE, 1);
    pg->use = XVM_USE_FREE;
    pg->flags = PG_FREE;
    pg->owner.obj = NULL;
    pg->next_free = ph->free_head;
    ph->free_head = i;
    ph->nfree++;
}

void phys_release(struct physmem *ph, pageh h)
{
    struct vm_page *pg = phys_page(ph, h);
    if (pg->loan == 0) {
        phys_free(ph, h);
        return;
    }
    count_use(ph, pg->use, -1);
    count_use(ph, XVM_USE_LOAN, 1);
    pg->use = XVM_USE_LOAN;
    pg->owner.obj = NULL;
    pg->flags = 0;
}

void phys_unloan(struct physmem *ph, pageh h)
{
    struct vm_page *pg = phys_page(ph, h);
    assert(pg->loan > 0);
    if (--pg->loan == 0 && pg->use == XVM_USE_LOAN)
        phys_free(ph, h);
}

int phys_load_device(struct physmem *ph, uint64_t pa, uint64_t len,
                     const void *data, bool ram, struct vm_page *pages)
{
    struct core *c = ph->core;

    if (data == NULL || len == 0 || (pa & (c->pgsz - 1)) ||
        (len & (c->pgsz - 1)) || pa + len < pa)
        return EINVAL;
    /* 4-byte PTEs hold 20-bit frame numbers: the segment must fit. */
    if (c->prof->pte_size == 4 && pa + len > (UINT64_C(1) << 32))
        return ERANGE;
    uint64_t end = pa + len;
    const struct ram_seg *r = &ph->ram;
    uint64_t rend = r->pa + (r->npages << c->pgshift);
    if (pa < rend && r->pa < end)
        return EINVAL;
    for (unsigned i = 0; i < ph->ndev; i++) {
        uint64_t dend = ph->dev[i].pa + (ph->dev[i].npages << c->pgshift);
        if (pa < dend && ph->dev[i].pa < end)
            return EEXIST;
    }
    struct dev_seg *nd = core_alloc(c, (ph->ndev + 1) * sizeof(*nd));
    if (nd == NULL)
        return ENOMEM;
    if (ph->ndev)
        memcpy(nd, ph->dev, ph->ndev * sizeof(*nd));
    nd[ph->ndev] =
        (struct dev_seg){ pa, len >> c->pgshift, data, ram, 0, pages };
    for (uint64_t i = 0; pages && i < len >> c->pgshift; i++)
        pages[i].flags = PG_DEV;
    core_free(c, ph->dev);
    ph->dev = nd;
    ph->ndev++;
    ph->device_pages += len >> c->pgshift;
    return 0;
}

int phys_unload_device(struct physmem *ph, uint64_t pa, struct vm_page **pages)
{
    struct dev_seg *d = phys_dev_seg(ph, pa);
    if (d == NULL || d->pa != pa)
        return EINVAL;
    *pages = d->pages;
    ph->device_pages -= d->npages;
    *d = ph->dev[--ph->ndev];
    return 0;
}

/* ---- memory disks (§11.6) ---- */

/* Moves the top of managed RAM by delta frames (its frames from `fresh`
 * on were never used, so they are free without being on the list). */
static void ram_resize(struct physmem *ph, int64_t delta)
{
    ph->npages = (uint32_t)((int64_t)ph->npages + delta);
    ph->ram.npages = ph->npages;
    ph->nfree = (uint32_t)((int64_t)ph->nfree + delta);
    ph->md_pages = (uint64_t)((int64_t)ph->md_pages - delta);
    count_use(ph, XVM_USE_FREE, delta);
    count_use(ph, XVM_USE_MD, -delta);
}

int phys_md_carve(struct physmem *ph, uint64_t npages, uint64_t keep,
                  uint64_t *pa)
{
    if (npages == 0)
        return EINVAL;
    if (ph->nmd == MD_MAX)
        return E2BIG;
    if (npages >= ph->npages || ph->npages - npages <= keep)
        return ENOMEM;
    uint32_t first = ph->npages - (uint32_t)npages;
    if (first < ph->fresh)
        return EBUSY; /* frames there were used: only at boot */
    ram_resize(ph, -(int64_t)npages);
    *pa = ph->ram.pa + ((uint64_t)first << ph->core->pgshift);
    ph->md[ph->nmd++] = (struct md_carve){ *pa, npages, false };
    return 0;
}

void phys_md_release(struct physmem *ph, uint64_t pa)
{
    for (unsigned i = 0; i < ph->nmd; i++)
        if (ph->md[i].pa == pa)
            ph->md[i].gone = true;
    while (ph->nmd && ph->md[ph->nmd - 1].gone)
        ram_resize(ph, (int64_t)ph->md[--ph->nmd].npages);
}

uint64_t phys_free_base(const struct physmem *ph)
{
    const uint64_t align = UINT64_C(16) << 20;
    unsigned shift = ph->core->pgshift;
    uint64_t top = ph->ram.pa + (ph->ram.npages << shift);
    for (unsigned i = 0; i < ph->ndev; i++) {
        uint64_t end = ph->dev[i].pa + (ph->dev[i].npages << shift);
        if (end > top)
            top = end;
    }
    return (top + align - 1) & ~(align - 1);
}

const char *xvm_use_name(enum xvm_use use)
{
    static const char *const names[XVM_USE_COUNT] = {
        "free", "anon",   "aobj",   "page_cache", "page_table",
        "zero", "buffer", "kernel", "md",         "loan",
    };
    return (unsigned)use < XVM_USE_COUNT ? names[use] : "?";
}

void phys_check(const struct physmem *ph, struct check *ck)
{
    uint64_t by_use[XVM_USE_COUNT] = { 0 }, onlist = 0;

    /* Frames from `fresh` on were never used: free, not listed, untouched
     * (reading their vm_pages would make the host back them). */
    by_use[XVM_USE_FREE] = ph->npages - ph->fresh;
    for (uint32_t i = 0; i < ph->fresh; i++) {
        const struct vm_page *pg = &ph->pages[i];
        if (pg->use >= XVM_USE_COUNT)
            return (void)check_fail(ck, "frame %u: bad use %u", i, pg->use);
        bool listed = i < ph->fresh;
        if ((pg->use == XVM_USE_FREE && listed) != ((pg->flags & PG_FREE) != 0))
            return (void)check_fail(
                ck, "frame %u: free flag disagrees with use", i);
        if (pg->use == XVM_USE_FREE && pg->pv)
            return (void)check_fail(ck, "frame %u: free but mapped", i);
        if ((pg->use == XVM_USE_FREE && pg->loan) ||
            (pg->use == XVM_USE_LOAN && (pg->loan == 0 || pg->pv)))
            return (void)check_fail(ck, "frame %u: %s with %u loans", i,
                                    xvm_use_name(pg->use), pg->loan);
        by_use[pg->use]++;
    }
    for (uint32_t i = ph->free_head; i != NO_PAGE; i = ph->pages[i].next_free) {
        if (i >= ph->fresh || !(ph->pages[i].flags & PG_FREE) ||
            ++onlist > ph->nfree)
            return (void)check_fail(ck, "free list corrupt at frame %u", i);
    }
    if (onlist + (ph->npages - ph->fresh) != ph->nfree ||
        by_use[XVM_USE_FREE] != ph->nfree)
        return (void)check_fail(ck,
                                "free list holds %llu frames, %llu are free",
                                (unsigned long long)onlist,
                                (unsigned long long)by_use[XVM_USE_FREE]);
    /* Memory disks' frames are counted, but beyond the managed ones. */
    uint64_t md = 0,
             at = ph->ram.pa + ((uint64_t)ph->npages << ph->core->pgshift);
    for (unsigned i = ph->nmd; i-- > 0;) { /* the last carved is lowest */
        if (ph->md[i].pa != at)
            return (void)check_fail(ck, "memory disk %u not stacked on RAM", i);
        md += ph->md[i].npages;
        at += ph->md[i].npages << ph->core->pgshift;
    }
    if (ph->md_pages != md || ph->npages + md != ph->nframes)
        return (void)check_fail(
            ck, "memory disks hold %llu frames, counted %llu",
            (unsigned long long)md, (unsigned long long)ph->md_pages);
    for (uint32_t i = ph->npages; i < ph->nframes; i++)
        if (ph->pages[i].use != XVM_USE_FREE)
            return (void)check_fail(ck, "frame %u of a memory disk was used",
                                    i);
    by_use[XVM_USE_MD] = md;
    uint64_t sum = 0;
    for (int u = 0; u < XVM_USE_COUNT; u++) {
        sum += by_use[u];
        if (by_use[u] != ph->use[u].cur)
            return (void)check_fail(ck, "%s frames: counted %llu, found %llu",
                                    xvm_use_name(u),
                                    (unsigned long long)ph->use[u].cur,
                                    (unsigned long long)by_use[u]);
    }
    if (sum != ph->nframes || ph->used.cur != ph->nframes - ph->nfree)
        return (void)check_fail(ck, "frames add up to %llu, RAM has %u",
                                (unsigned long long)sum, ph->nframes);
    if (ph->zero_page == PAGEH_NONE ||
        phys_page(ph, ph->zero_page)->use != XVM_USE_ZERO)
        return (void)check_fail(ck, "zero page lost");
}
