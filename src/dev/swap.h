/*
 * A swap area on a block device (UVM's uvm_swap.c and its drum): page-
 * sized slots, allocated and freed by number, read and written whole,
 * each transfer counted and costed by the device's own model (an access
 * plus a cost per byte, one for page-out, one for page-in).  Slots are
 * numbered from 1; 0 means none (an_swslot == 0).  The contents of a slot
 * take host memory only once written.
 */
#ifndef XVM_SWAP_H
#define XVM_SWAP_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "core.h"
#include "counter.h"
#include "xipvm.h"

/* The most slots a swap area has: slot numbers (1 on) are 32 bits. */
#define SWAP_MAX_SLOTS (UINT32_MAX - 1)

struct swapdev {
    struct core *core;
    struct xvm_swap_config cfg;
    uint32_t nslots;
    uint64_t *bitmap; /* slot s in use: bit s - 1 */
    uint8_t **data;   /* slot s's page: data[s - 1], made at first write */
    uint32_t data_hi; /* data[] past it was never made */
    uint32_t hint;    /* where the next search starts */
    /* Counters. */
    struct gauge used; /* slots in use */
    /* Of those, slots whose page is in RAM too (paged in, or a page-out
     * that could not write): the page can go again without a new slot.
     * The anon and aobj pagers keep it. */
    uint64_t in_ram;
    uint64_t writes, reads;
    uint64_t bytes_written, bytes_read;
    uint64_t ns; /* simulated time of those transfers */
};

/* => a swap area of cfg->bytes (whole pages); EINVAL for a bad size or
 *    more than 2^32 - 1 pages, ENOMEM. */
int swap_create(struct core *core, const struct xvm_swap_config *cfg,
                struct swapdev **out);
void swap_destroy(struct swapdev *sw);

/* => true when every slot is in use (uvm_swapisfull). */
static inline bool swap_full(const struct swapdev *sw)
{
    return sw->used.cur >= sw->nslots;
}

/* => whether a page-out can still be had: a free slot, or a page in RAM
 *    whose slot it already holds (dropped if clean, else written there
 *    again).  uvm_swapisfull() counts only pages that are nowhere else. */
static inline bool swap_can_page_out(const struct swapdev *sw)
{
    return !swap_full(sw) || sw->in_ram > 0;
}

/* => 0 and a free slot, or ENOSPC. */
int swap_alloc(struct swapdev *sw, uint32_t *slot);
void swap_free(struct swapdev *sw, uint32_t slot);
/* Page-out: one page into a slot.  => 0, or ENOMEM (host memory). */
int swap_write(struct swapdev *sw, uint32_t slot, const void *page);
/* Page-in: one page from a slot (zeros if never written). */
void swap_read(struct swapdev *sw, uint32_t slot, void *page);

/* The bitmap agrees with the count of slots in use. */
void swap_check(const struct swapdev *sw, struct check *ck);

#endif
