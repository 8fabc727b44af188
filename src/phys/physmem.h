/*
 * Physical memory: RAM segments, whose frames each have a vm_page, and
 * device segments (paper §6.3), which have none.
 *
 * A page handle (pageh) follows the paper (§6.2, §7.1): it is either a RAM
 * page, encoded as its index in the vm_page array shifted left by one, or a
 * device page, encoded as its physical address with the low bit set.  Only
 * RAM pages are ever dereferenced.
 */
#ifndef XVM_PHYSMEM_H
#define XVM_PHYSMEM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core.h"
#include "counter.h"
#include "xipvm.h"

typedef uint64_t pageh;
#define PAGEH_NONE UINT64_MAX

struct pv_entry;
struct pt_dir;
struct xvm_object;
struct anon;
struct kcache;
struct kmem;

/* vm_page flags */
#define PG_FREE 0x01 /* on the free list */
#define PG_BUSY 0x02 /* being filled; not yet visible */
/* Page queues (the page daemon's policy, pdpolicy.h). */
#define PG_ACTIVE    0x04 /* on the active queue */
#define PG_INACTIVE  0x08 /* on the inactive queue */
#define PG_READAHEAD 0x10 /* read ahead and not used yet */
#define PG_CLEAN     0x20 /* anon page equal to its swap slot's copy */
#define PG_DEV       0x40 /* a device page's vm_page (the vm_page design) */

/*
 * One RAM frame's metadata: the vm_page.  The two links serve whichever
 * list the frame is on, by its use: the free list (next_free), a page
 * queue of the page daemon (qnext, qprev: anon, aobj and page-cache
 * pages), or a kernel slab cache's list of slabs with room (kmem.c).
 */
struct vm_page {
    struct pv_entry *pv; /* mappings of this page */
    union {
        struct xvm_object *obj; /* owner, for object pages */
        struct anon *anon;      /* owner, for anon pages */
        struct pt_dir *ptdir;   /* page tables: their host form, the
                                    entries in chunks (pmap.c) */
        struct kcache *kc;      /* kernel slabs: their cache */
    } owner;
    uint64_t offset; /* object offset; slabs: objects in use */
    union {
        uint32_t next_free; /* free-list link (index) */
        uint32_t qnext;     /* page queue or slab list: next (index) */
    };
    uint32_t qprev; /* page queue or slab list: previous (index) */
    uint32_t wire;  /* wired PTEs mapping the page */
    uint8_t use;    /* enum xvm_use */
    uint8_t flags;
    uint16_t loan; /* loans holding the page (UVM's loan_count, §11.3) */
};

#define LOAN_MAX UINT16_MAX /* loans of one page at once */

#define PAGE_NONE UINT32_MAX /* no frame: the end of a list */

struct ram_seg {
    uint64_t pa, npages;
    uint32_t first; /* index of its first vm_page */
};

struct dev_seg {
    uint64_t pa, npages;
    const uint8_t *data;
    bool ram;              /* a memory disk's (§11.6): lines fill from RAM,
                              not NOR (the CPU model) */
    uint64_t mapped;       /* valid PTEs mapping its pages (pmap.c): one count
                        per segment, as the paper's struct vm_physseg */
    struct vm_page *pages; /* the vm_page design: one per page (PG_DEV),
                              for their PV lists; else NULL */
};

/*
 * A memory disk's RAM (md(4), paper §11.6): frames at the top of RAM
 * taken out of the managed pages.  They are stacked: only the topmost
 * goes back to RAM, so one given back below another waits for it (gone).
 */
#define MD_MAX 8
struct md_carve {
    uint64_t pa, npages;
    bool gone; /* given back, waiting for those above it */
};

struct physmem {
    struct core *core;
    struct vm_page *pages;   /* every RAM frame (reserved, touched in use) */
    uint8_t *arena;          /* the frames' bytes, the same way */
    uint32_t populated;      /* arena frames below it are backed */
    uint32_t meta_populated; /* frames whose vm_pages are backed */
    size_t host_page;        /* the host's page size (madvise's unit) */
    uint32_t npages;
    uint32_t free_head, nfree;
    uint32_t fresh; /* frames from here on were never used */
    struct ram_seg ram;
    struct dev_seg *dev;
    unsigned ndev;
    struct md_carve md[MD_MAX]; /* memory disks' RAM, bottom up */
    unsigned nmd;
    uint64_t md_pages; /* frames they hold (use XVM_USE_MD) */
    uint32_t nframes;  /* frames of the vm_page array (RAM configured) */
    pageh zero_page;   /* the one shared zero page */
    struct kmem *km;   /* the kernel allocator on these frames (kmem.c) */
    /* Counters. */
    struct gauge use[XVM_USE_COUNT];    /* frames by use */
    struct gauge used;                  /* frames not free */
    uint64_t used_mix[XVM_USE_COUNT];   /* frames by use when used peaked */
    uint64_t device_pages;              /* pages in device segments */
    uint64_t dev_reads, dev_bytes_read; /* in place, through segments */
    uint64_t refused; /* frame allocations refused: RAM was full */
    /* Page-cache frames with a wired mapping: the page daemon cannot
     * drop them (phys_wire keeps it). */
    uint64_t wired_cache;
    /* Frames with a wired mapping, of any use (uvmexp.wired). */
    uint64_t wired;
};

static inline bool page_is_device(pageh h)
{
    return (h & 1) != 0;
}

static inline pageh page_device(uint64_t pa)
{
    return pa | 1;
}

static inline pageh page_ram(uint32_t index)
{
    return (pageh)index << 1;
}

/* => the zero page made; EINVAL for a bad size or base. */
int phys_init(struct physmem *ph, struct core *core, uint64_t ram_pa,
              uint64_t ram_bytes);
void phys_fini(struct physmem *ph);

/* Only for RAM pages (page tables walk through it at every level). */
static inline struct vm_page *phys_page(const struct physmem *ph, pageh h)
{
    return &ph->pages[h >> 1];
}

/* One wired PTE more (d = 1) or fewer (d = -1) maps RAM page pg. */
static inline void phys_wire(struct physmem *ph, struct vm_page *pg, int d)
{
    if (pg->wire == (d > 0 ? 0u : 1u)) {
        ph->wired += (uint64_t)(int64_t)d;
        if (pg->use == XVM_USE_PAGECACHE)
            ph->wired_cache += (uint64_t)(int64_t)d;
    }
    pg->wire += (uint32_t)d;
}

/* A RAM page's bytes: its frame's place in the arena.  Kernel and
 * page-table frames leave theirs untouched (kmem and pmap keep their
 * contents in host structures). */
static inline uint8_t *phys_ram_data(const struct physmem *ph, pageh h)
{
    return ph->arena + ((size_t)(h >> 1) << ph->core->pgshift);
}

/* => the device segment holding pa, or NULL. */
struct dev_seg *phys_dev_seg(const struct physmem *ph, uint64_t pa);

/* => the device page for pa, or PAGEH_NONE when no segment has it. */
pageh phys_lookup_device(const struct physmem *ph, uint64_t pa);

/* => the page at physical address pa (RAM or device), or PAGEH_NONE. */
static inline pageh phys_lookup(const struct physmem *ph, uint64_t pa)
{
    const struct ram_seg *r = &ph->ram;
    if (pa >= r->pa && ((pa - r->pa) >> ph->core->pgshift) < r->npages)
        return page_ram(r->first +
                        (uint32_t)((pa - r->pa) >> ph->core->pgshift));
    return phys_lookup_device(ph, pa);
}

uint64_t phys_addr(const struct physmem *ph, pageh h);
/* => host bytes backed ahead of the frames' first use (their bytes and
 *    vm_pages, at most 2 MiB of each): a fixed cost, not one per page. */
uint64_t phys_backed_ahead(const struct physmem *ph);

/* => host bytes of the page (RAM data or the device's backing store). */
uint8_t *phys_data(const struct physmem *ph, pageh h);

/*
 * Reads n bytes in place from device memory at src (inside segment d)
 * into dst, and counts them: the one way device bytes are read by the
 * CPU (loads, fetches, read(), copy-on-write copies).  What they cost is
 * the CPU model's business (the caller's layer charges it).
 */
/* Counts a read of n device bytes in place (the caller copies them). */
static inline void phys_dev_count(struct physmem *ph, size_t n)
{
    ph->dev_reads++;
    ph->dev_bytes_read += n;
}

static inline void phys_dev_read(struct physmem *ph, const struct dev_seg *d,
                                 void *dst, const uint8_t *src, size_t n)
{
    (void)d;
    memcpy(dst, src, n);
    phys_dev_count(ph, n);
}

/* => true when page h is on NOR flash: a device page not of a memory
 *    disk (whose lines fill from RAM). */
static inline bool phys_on_nor(const struct physmem *ph, pageh h)
{
    const struct dev_seg *d;
    return page_is_device(h) &&
           (d = phys_dev_seg(ph, phys_addr(ph, h))) != NULL && !d->ram;
}

/* Copies page src (RAM or device: device reads are counted) into the RAM
 * page dst. */
void phys_copy(struct physmem *ph, pageh dst, pageh src);

/*
 * Frame allocation, O(1).
 * => use: enum xvm_use (not FREE); zero: clear the frame.  Kernel frames
 *    (XVM_USE_KERNEL) get no host bytes.
 * => 0, or ENOMEM when RAM (or host memory for the frame) ran out; a
 *    full RAM counts in `refused`, injected failures do not.
 */
int phys_alloc(struct physmem *ph, int use, bool zero, pageh *out);
/* => whether RAM was full since `refused` was `since`, and that refusal,
 *    not an injected failure, came last: a call failing then ran out of
 *    memory (the page daemon retries it, the OOM killer kills for it). */
static inline bool phys_ran_out(const struct physmem *ph, uint64_t since)
{
    return ph->refused != since && !ph->core->injected_last;
}
/* => a page no loan holds (loaned pages go through phys_orphan). */
void phys_free(struct physmem *ph, pageh h);
/* Frees a page its owner no longer has, unless loans hold it: it then
 * stays, of use XVM_USE_LOAN and without owner, until the last loan of it
 * ends (phys_unloan).  The caller unmapped and dequeued it. */
void phys_release(struct physmem *ph, pageh h);
/* One loan of a RAM page ends; an orphan no loan holds is freed. */
void phys_unloan(struct physmem *ph, pageh h);

/* => true when a RAM page is lent to an I/O: it must not be mapped
 *    writable (a write copies it first, §11.3). */
static inline bool page_loaned(const struct physmem *ph, pageh h)
{
    return !page_is_device(h) && phys_page(ph, h)->loan != 0;
}

/* => pages: len / page size vm_pages for it (the vm_page design), or NULL.
 * => EINVAL for a bad range, EEXIST when it overlaps a segment, ERANGE
 *    when it lies beyond the physical addresses the PTEs reach. */
int phys_load_device(struct physmem *ph, uint64_t pa, uint64_t len,
                     const void *data, bool ram, struct vm_page *pages);
/* => EINVAL when no segment starts at pa; else 0 and its vm_pages (or
 *    NULL) in *pages for the caller to free.  The caller makes sure that
 *    no page of it is mapped any more. */
int phys_unload_device(struct physmem *ph, uint64_t pa, struct vm_page **pages);

/* => the vm_page of a device page in a segment that has them, else NULL. */
static inline struct vm_page *phys_dev_page(const struct physmem *ph,
                                            const struct dev_seg *d, pageh h)
{
    return d->pages
               ? &d->pages[((h & ~(uint64_t)1) - d->pa) >> ph->core->pgshift]
               : NULL;
}
/*
 * Memory disks (paper §11.6): the top npages frames of RAM leave the
 * managed pages (no vm_page is ever used for them; they count as use
 * XVM_USE_MD, which has no vm_page metadata) so that the caller can
 * register them as a device segment.
 * => 0 and *pa; EBUSY when one of them was ever allocated (a memory disk
 *    is set up at boot); ENOMEM when keep frames or fewer would remain;
 *    E2BIG past MD_MAX of them.
 */
int phys_md_carve(struct physmem *ph, uint64_t npages, uint64_t keep,
                  uint64_t *pa);
/* Gives a memory disk's frames back to RAM (once those above it went). */
void phys_md_release(struct physmem *ph, uint64_t pa);

/* => the lowest 16 MiB boundary above RAM and every device segment. */
uint64_t phys_free_base(const struct physmem *ph);

/* Frames: each free xor in use, the free list, the counters by use. */
void phys_check(const struct physmem *ph, struct check *ck);

#endif
