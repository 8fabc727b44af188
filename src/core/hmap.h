/*
 * A small open-addressing hash map from 64-bit keys to 64-bit values,
 * with linear probing and backward-shift deletion (no tombstones).
 * Used for device PV lists (pa -> PV), the runs of struct runs, inodes'
 * records and by the checker.  Memory comes from the machine's allocator.
 */
#ifndef XVM_HMAP_H
#define XVM_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HMAP_EMPTY UINT64_MAX /* a key that can never be stored */

struct core;

struct hmap {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

void hmap_init(struct hmap *h);
void hmap_fini(struct core *c, struct hmap *h);
bool hmap_get(const struct hmap *h, uint64_t key, uint64_t *val);
/* => 0, or ENOMEM (the map is unchanged). */
int hmap_put(struct core *c, struct hmap *h, uint64_t key, uint64_t val);
bool hmap_del(struct hmap *h, uint64_t key);

/* Iteration: for (size_t i = 0; hmap_next(h, &i, &k, &v);) */
bool hmap_next(const struct hmap *h, size_t *pos, uint64_t *key, uint64_t *val);

#endif
