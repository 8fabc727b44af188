/*
 * Open-addressing hash map; see hmap.h.
 */
#include <errno.h>
#include <string.h>

#include "hmap.h"
#include "core.h"

static size_t slot_of(const struct hmap *h, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (h->cap - 1);
}

void hmap_init(struct hmap *h)
{
    memset(h, 0, sizeof(*h));
}

void hmap_fini(struct core *c, struct hmap *h)
{
    core_free(c, h->keys);
    core_free(c, h->vals);
    hmap_init(h);
}

bool hmap_get(const struct hmap *h, uint64_t key, uint64_t *val)
{
    if (h->cap == 0 || key == HMAP_EMPTY)
        return false;
    for (size_t i = slot_of(h, key);; i = (i + 1) & (h->cap - 1)) {
        if (h->keys[i] == key) {
            if (val)
                *val = h->vals[i];
            return true;
        }
        if (h->keys[i] == HMAP_EMPTY)
            return false;
    }
}

static void insert_fresh(struct hmap *h, uint64_t key, uint64_t val)
{
    size_t i = slot_of(h, key);
    while (h->keys[i] != HMAP_EMPTY)
        i = (i + 1) & (h->cap - 1);
    h->keys[i] = key;
    h->vals[i] = val;
    h->n++;
}

static int grow(struct core *c, struct hmap *h)
{
    size_t ncap = h->cap ? h->cap * 2 : 16;
    uint64_t *nk = core_alloc(c, ncap * sizeof(*nk));
    uint64_t *nv = core_alloc(c, ncap * sizeof(*nv));
    if (nk == NULL || nv == NULL) {
        core_free(c, nk);
        core_free(c, nv);
        return ENOMEM;
    }
    memset(nk, 0xff, ncap * sizeof(*nk));
    struct hmap old = *h;
    h->keys = nk;
    h->vals = nv;
    h->cap = ncap;
    h->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] != HMAP_EMPTY)
            insert_fresh(h, old.keys[i], old.vals[i]);
    core_free(c, old.keys);
    core_free(c, old.vals);
    return 0;
}

int hmap_put(struct core *c, struct hmap *h, uint64_t key, uint64_t val)
{
    if (key == HMAP_EMPTY)
        return EINVAL;
    if (h->cap) {
        for (size_t i = slot_of(h, key);; i = (i + 1) & (h->cap - 1)) {
            if (h->keys[i] == key) {
                h->vals[i] = val;
                return 0;
            }
            if (h->keys[i] == HMAP_EMPTY)
                break;
        }
    }
    /* Keep the load factor at or below 1/2 so probes stay short. */
    if ((h->n + 1) * 2 > h->cap) {
        int error = grow(c, h);
        if (error)
            return error;
    }
    insert_fresh(h, key, val);
    return 0;
}

bool hmap_del(struct hmap *h, uint64_t key)
{
    if (h->cap == 0 || key == HMAP_EMPTY)
        return false;
    size_t mask = h->cap - 1, i = slot_of(h, key);
    while (h->keys[i] != key) {
        if (h->keys[i] == HMAP_EMPTY)
            return false;
        i = (i + 1) & mask;
    }
    /* Backward-shift: move later members of the probe run into the gap. */
    size_t gap = i;
    for (size_t j = (i + 1) & mask; h->keys[j] != HMAP_EMPTY;
         j = (j + 1) & mask) {
        size_t home = slot_of(h, h->keys[j]);
        if (((j - home) & mask) >= ((j - gap) & mask)) {
            h->keys[gap] = h->keys[j];
            h->vals[gap] = h->vals[j];
            gap = j;
        }
    }
    h->keys[gap] = HMAP_EMPTY;
    h->n--;
    return true;
}

bool hmap_next(const struct hmap *h, size_t *pos, uint64_t *key, uint64_t *val)
{
    for (; *pos < h->cap; (*pos)++) {
        if (h->keys[*pos] != HMAP_EMPTY) {
            if (key)
                *key = h->keys[*pos];
            if (val)
                *val = h->vals[*pos];
            (*pos)++;
            return true;
        }
    }
    return false;
}
