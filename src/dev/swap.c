/*
 * The swap area; see swap.h.  Slots are found by a next-fit walk of the
 * bitmap, 64 at a time, from where the last one was found (uvm_swap.c
 * allocates from a blist, also next-fit in spirit).
 */
#include <errno.h>
#include <string.h>

#include "profile.h"
#include "swap.h"

void xvm_swap_config_init(struct xvm_swap_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    /* A managed NAND (eMMC-class) device: a 4 KiB random read in about
     * 0.1 ms, a write in about 0.4 ms (doc/sizing.md). */
    cfg->ns_read_access = 60000;
    cfg->ns_read_byte = 10;
    cfg->ns_write_access = 300000;
    cfg->ns_write_byte = 25;
}

uint64_t xvm_profile_swap_max(const char *name)
{
    const struct profile *p = name ? profile_find(name) : NULL;
    return p ? (uint64_t)SWAP_MAX_SLOTS << p->page_shift : 0;
}

static size_t swap_bitmap_bytes(const struct swapdev *sw)
{
    return ((size_t)sw->nslots + 63) / 64 * sizeof(uint64_t);
}

int swap_create(struct core *core, const struct xvm_swap_config *cfg,
                struct swapdev **out)
{
    uint64_t pages = cfg->bytes >> core->pgshift;
    if (cfg->bytes == 0 || (cfg->bytes & (core->pgsz - 1)) ||
        pages > SWAP_MAX_SLOTS)
        return EINVAL;
    struct swapdev *sw = core_zalloc(core, sizeof(*sw));
    if (sw == NULL)
        return ENOMEM;
    sw->core = core;
    sw->cfg = *cfg;
    sw->nslots = (uint32_t)pages;
    sw->bitmap = core_reserve(core, swap_bitmap_bytes(sw));
    sw->data = core_reserve(core, pages * sizeof(*sw->data));
    if (sw->bitmap == NULL || sw->data == NULL) {
        swap_destroy(sw);
        return ENOMEM;
    }
    *out = sw;
    return 0;
}

void swap_destroy(struct swapdev *sw)
{
    if (sw == NULL)
        return;
    for (uint32_t i = 0; sw->data && i < sw->data_hi; i++)
        core_free(sw->core, sw->data[i]);
    core_unreserve(sw->data, (size_t)sw->nslots * sizeof(*sw->data));
    core_unreserve(sw->bitmap, swap_bitmap_bytes(sw));
    core_free(sw->core, sw);
}

int swap_alloc(struct swapdev *sw, uint32_t *slot)
{
    if (swap_full(sw))
        return ENOSPC;
    uint32_t words = (sw->nslots + 63) / 64;
    for (uint32_t k = 0; k <= words; k++) {
        uint32_t w = (sw->hint / 64 + k) % words;
        uint64_t free = ~sw->bitmap[w];
        if (free == 0)
            continue;
        unsigned b = 0;
        while (!(free >> b & 1))
            b++;
        uint32_t s = w * 64 + b;
        if (s >= sw->nslots)
            continue; /* the last word's tail: not slots */
        sw->bitmap[w] |= UINT64_C(1) << b;
        sw->hint = s;
        gauge_add(&sw->used, 1);
        *slot = s + 1;
        return 0;
    }
    return ENOSPC;
}

void swap_free(struct swapdev *sw, uint32_t slot)
{
    uint32_t s = slot - 1;
    sw->bitmap[s / 64] &= ~(UINT64_C(1) << (s % 64));
    gauge_add(&sw->used, -1);
}

int swap_write(struct swapdev *sw, uint32_t slot, const void *page)
{
    uint32_t pgsz = sw->core->pgsz;
    uint8_t **d = &sw->data[slot - 1];
    if (*d == NULL && (*d = core_alloc(sw->core, pgsz)) == NULL)
        return ENOMEM;
    if (slot > sw->data_hi)
        sw->data_hi = slot;
    memcpy(*d, page, pgsz);
    sw->writes++;
    sw->bytes_written += pgsz;
    sw->ns += sw->cfg.ns_write_access + (uint64_t)pgsz * sw->cfg.ns_write_byte;
    return 0;
}

void swap_read(struct swapdev *sw, uint32_t slot, void *page)
{
    uint32_t pgsz = sw->core->pgsz;
    const uint8_t *d = sw->data[slot - 1];
    if (d)
        memcpy(page, d, pgsz);
    else
        memset(page, 0, pgsz);
    sw->reads++;
    sw->bytes_read += pgsz;
    sw->ns += sw->cfg.ns_read_access + (uint64_t)pgsz * sw->cfg.ns_read_byte;
}

void swap_check(const struct swapdev *sw, struct check *ck)
{
    uint64_t used = 0;
    for (uint32_t s = 0; s < sw->nslots; s++)
        used += sw->bitmap[s / 64] >> (s % 64) & 1;
    if (used != sw->used.cur)
        check_fail(ck, "swap: %llu slots marked, %llu counted in use",
                   (unsigned long long)used, (unsigned long long)sw->used.cur);
}
