/*
 * xipvm advise: which pages of an image to keep XIP (uncompressed and
 * page-aligned on flash, mapped in place) and which to compress (copied
 * into the page cache when used), for a flash or a RAM budget.
 * doc/advise.md gives the model, the algorithm and why it is optimal.
 */
#ifndef XVM_ADVISE_H
#define XVM_ADVISE_H

#include <stddef.h>
#include <stdint.h>

/* One page of an image's file, as the advisor weighs it. */
struct adv_page {
    uint32_t file;         /* the caller's index of its file */
    uint64_t page;         /* its index in the file */
    uint32_t xip_bytes;    /* flash it takes kept XIP: a whole page */
    uint32_t packed_bytes; /* flash it takes compressed (at most xip_bytes) */
    uint32_t ram_bytes;    /* RAM it costs in copy mode: a frame and its
                              vm_page, or 0 (the run never copied it) */
    uint64_t touches;      /* how hot: ties go to the hotter page */
};

/*
 * The best choice for every flash size: pages that cost RAM in copy mode,
 * cheapest extra flash first.  Keeping the first k of order XIP and
 * compressing every other page is a choice that saves saved[k] bytes of
 * RAM with flash[k] bytes of flash, and no choice saves as much with
 * less flash (doc/advise.md).
 */
struct adv_plan {
    size_t *order;        /* n indexes into the pages */
    size_t n;             /* pages that cost RAM in copy mode */
    uint64_t *flash;      /* [0..n]: flash[0], every page compressed */
    uint64_t *saved;      /* [0..n]: saved[0] is 0 */
    uint64_t ram_copy;    /* RAM every page costs compressed (copy mode) */
    uint64_t flash_xip;   /* flash of every page XIP (a plain XIP image) */
    uint32_t frame_bytes; /* the one ram_bytes of pages that cost RAM */
};

/* => 0; EINVAL when a page's packed_bytes exceeds its xip_bytes or two
 *    pages cost different non-zero RAM (the model's frames are alike);
 *    ENOMEM. */
int adv_plan_make(const struct adv_page *pages, size_t npages,
                  struct adv_plan *plan);
void adv_plan_free(struct adv_plan *plan);

#define ADV_NONE ((size_t)-1)

/* => the k whose choice saves the most RAM within budget bytes of flash
 *    (the least flash among those), or ADV_NONE when even every page
 *    compressed does not fit. */
size_t adv_plan_flash_budget(const struct adv_plan *plan, uint64_t budget);
/* => the k whose choice needs the least flash while the pages left
 *    compressed cost at most budget bytes of RAM in copy mode. */
size_t adv_plan_ram_budget(const struct adv_plan *plan, uint64_t budget);

#endif
