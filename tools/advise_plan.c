/*
 * The advisor's choice (doc/advise.md, "The choice"): of the pages that
 * cost RAM in copy mode, keep XIP those whose XIP costs the least extra
 * flash over their compressed form; every other page is compressed.
 *
 * Each page i that costs RAM saves the same r bytes (a frame and its
 * vm_page) when kept XIP and costs d_i = xip_i - packed_i >= 0 more
 * flash.  Any choice S saving k frames spends
 *     flash(S) = F0 + sum_{i in S} d_i >= F0 + (the k smallest d_i),
 * F0 being every page compressed (pages that cost no RAM only add
 * d_i >= 0 if kept XIP): so the k cheapest, which this sorts first, are
 * the least flash that saves k frames, and the curve (flash[k], k r) is
 * the exact frontier.  A flash budget takes the largest k that fits, a
 * RAM budget the smallest k that leaves little enough RAM; both are
 * optimal because saving grows with k and flash never falls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "advise.h"

struct key {
    uint64_t extra, touches, page;
    uint32_t file;
    size_t idx;
};

/* Cheapest extra flash first; then hotter, then in file and page order. */
static int by_cost(const void *x, const void *y)
{
    const struct key *a = x, *b = y;
    if (a->extra != b->extra)
        return a->extra < b->extra ? -1 : 1;
    if (a->touches != b->touches)
        return a->touches > b->touches ? -1 : 1;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    return a->page < b->page ? -1 : a->page > b->page;
}

int adv_plan_make(const struct adv_page *pages, size_t npages,
                  struct adv_plan *plan)
{
    struct key *keys = NULL;
    size_t n = 0;
    uint64_t f0 = 0;
    memset(plan, 0, sizeof(*plan));
    for (size_t i = 0; i < npages; i++) {
        const struct adv_page *p = &pages[i];
        if (p->packed_bytes > p->xip_bytes)
            return EINVAL;
        if (p->ram_bytes == 0)
            continue;
        if (plan->frame_bytes && p->ram_bytes != plan->frame_bytes)
            return EINVAL;
        plan->frame_bytes = p->ram_bytes;
        n++;
    }
    if ((keys = malloc((n ? n : 1) * sizeof(*keys))) == NULL ||
        (plan->order = malloc((n ? n : 1) * sizeof(*plan->order))) == NULL ||
        (plan->flash = malloc((n + 1) * sizeof(*plan->flash))) == NULL ||
        (plan->saved = malloc((n + 1) * sizeof(*plan->saved))) == NULL) {
        free(keys);
        adv_plan_free(plan);
        return ENOMEM;
    }
    n = 0;
    for (size_t i = 0; i < npages; i++) {
        const struct adv_page *p = &pages[i];
        f0 += p->packed_bytes;
        plan->flash_xip += p->xip_bytes;
        plan->ram_copy += p->ram_bytes;
        if (p->ram_bytes)
            keys[n++] = (struct key){ p->xip_bytes - p->packed_bytes,
                                      p->touches, p->page, p->file, i };
    }
    qsort(keys, n, sizeof(*keys), by_cost);
    plan->n = n;
    plan->flash[0] = f0;
    plan->saved[0] = 0;
    for (size_t k = 0; k < n; k++) {
        plan->order[k] = keys[k].idx;
        plan->flash[k + 1] = plan->flash[k] + keys[k].extra;
        plan->saved[k + 1] = plan->saved[k] + plan->frame_bytes;
    }
    free(keys);
    return 0;
}

void adv_plan_free(struct adv_plan *plan)
{
    free(plan->order);
    free(plan->flash);
    free(plan->saved);
    memset(plan, 0, sizeof(*plan));
}

size_t adv_plan_flash_budget(const struct adv_plan *plan, uint64_t budget)
{
    if (plan->flash == NULL || budget < plan->flash[0])
        return ADV_NONE;
    /* flash[] never falls: the last k within the budget */
    size_t lo = 0, hi = plan->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (plan->flash[mid] <= budget)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

size_t adv_plan_ram_budget(const struct adv_plan *plan, uint64_t budget)
{
    if (plan->flash == NULL || budget >= plan->ram_copy)
        return 0;
    /* ram_copy - k r <= budget: k >= (ram_copy - budget) / r, rounded up */
    uint64_t need = plan->ram_copy - budget, r = plan->frame_bytes;
    return (size_t)((need + r - 1) / r);
}
