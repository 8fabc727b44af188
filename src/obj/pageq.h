/*
 * The page queues as every layer sees them: the page daemon's state (its
 * policy, free targets and counters) and the calls that tell it about
 * pageable pages.  Pageable pages are anons, aobj pages and page-cache
 * pages; page tables, buffers, kernel memory and the zero page never are.
 *
 *   pageq_enqueue   a page became pageable (filled, promoted, paged in)
 *   pageq_activate  it was used: a fault mapped it, read() copied it
 *   pageq_dequeue   it is being freed
 *
 * The daemon itself (scans, free targets, retries) is pagedaemon.c.
 */
#ifndef XVM_PAGEQ_H
#define XVM_PAGEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "pdpolicy.h"
#include "physmem.h"

struct mmu;
struct swapdev;

/* How the page daemon frees a page it does not own (an anon's: the VM
 * layer above registers it). */
struct anon_pager {
    /* Pages out (or drops a clean copy of) anon page pg and frees it.
     * => 0 freed; ENOSPC no swap space (or none); EAGAIN not now. */
    int (*pageout)(void *arg, uint32_t pg);
};

/* Frames the page daemon can have back that are on no page queue: a file
 * system's metadata buffers (UVM's buf_drain).  The layer above registers
 * one per cache (pagedaemon_shrinker_add). */
struct shrinker {
    uint64_t (*count)(void *arg); /* frames it could free now */
    /* Frees up to n frames, least recently used first.  => frames freed */
    uint64_t (*shrink)(void *arg, uint64_t n);
    void *arg;
    struct shrinker *next, *prev; /* the daemon's list */
};

struct pagedaemon {
    struct physmem *ph;
    struct mmu *mmu;
    const struct pdpolicy_ops *ops; /* = &own */
    struct pdpolicy_ops own;    /* the policy's, optional members filled in */
    void *st;                   /* the policy's state */
    uint64_t freemin, freetarg; /* pages (uvmexp.freemin, freetarg) */
    /* The targets configured, in pages; 0: from the managed pages. */
    uint64_t want_min, want_targ;
    const struct anon_pager *anon;
    void *anon_arg;
    struct swapdev *swap; /* or NULL */
    struct shrinker *shrinkers;
    /* Counters (the policy keeps its own: pdpolicy_stats). */
    uint64_t runs;             /* scans run (pdrevs) */
    uint64_t freed;            /* pages freed (pdfreed) */
    uint64_t reclaimed;        /* page-cache pages freed */
    uint64_t readahead_unused; /* of those, read ahead and never used */
    uint64_t readahead_used;   /* read-ahead pages used before freed */
    uint64_t swapped_out;      /* anon and aobj pages paged out */
    uint64_t execpages;        /* page-cache pages of executable-mapped
                                 objects (object.c keeps it) */
};

/* Page flag of the queues (the policy's own flags are its business). */
#define PG_QUEUED 0x40

static inline void pageq_enqueue(struct pagedaemon *pd, pageh h, unsigned flags)
{
    uint32_t i = (uint32_t)(h >> 1);
    struct vm_page *pg = phys_page(pd->ph, h);
    pg->flags |= PG_QUEUED;
    if (flags & PDP_READAHEAD)
        pg->flags |= PG_READAHEAD;
    pd->ops->enqueue(pd->st, i, flags);
}

static inline void pageq_activate(struct pagedaemon *pd, pageh h)
{
    if (page_is_device(h))
        return;
    struct vm_page *pg = phys_page(pd->ph, h);
    if (!(pg->flags & PG_QUEUED))
        return; /* not pageable: zero page, page tables */
    if (pg->flags & PG_READAHEAD) {
        pg->flags &= (uint8_t)~PG_READAHEAD;
        pd->readahead_used++;
    }
    pd->ops->activate(pd->st, (uint32_t)(h >> 1));
}

static inline void pageq_dequeue(struct pagedaemon *pd, pageh h)
{
    struct vm_page *pg = phys_page(pd->ph, h);
    if (!(pg->flags & PG_QUEUED))
        return;
    pd->ops->dequeue(pd->st, (uint32_t)(h >> 1));
    pg->flags &= (uint8_t) ~(PG_QUEUED | PG_READAHEAD);
}

#endif
