/*
 * A sparse array in runs; see runs.h.
 */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "runs.h"

void runs_init(struct runs *r, unsigned width)
{
    hmap_init(&r->chunks);
    r->n = 0;
    r->width = width;
}

void runs_fini(struct core *c, struct runs *r)
{
    uint64_t v;
    for (size_t i = 0; hmap_next(&r->chunks, &i, NULL, &v);)
        core_free(c, (void *)(uintptr_t)v);
    hmap_fini(c, &r->chunks);
    r->n = 0;
}

static void *chunk_of(const struct runs *r, uint64_t i)
{
    uint64_t v;
    return hmap_get(&r->chunks, i / RUNS_LEN, &v) ? (void *)(uintptr_t)v : NULL;
}

static uint64_t word(const struct runs *r, const void *chunk, unsigned at)
{
    return r->width == 4 ? ((const uint32_t *)chunk)[at]
                         : ((const uint64_t *)chunk)[at];
}

uint64_t runs_get(const struct runs *r, uint64_t i)
{
    const void *k = chunk_of(r, i);
    return k ? word(r, k, i % RUNS_LEN) : 0;
}

/* => the words chunk holds. */
static unsigned chunk_held(const struct runs *r, const void *chunk)
{
    unsigned n = 0;
    for (unsigned at = 0; at < RUNS_LEN; at++)
        n += word(r, chunk, at) != 0;
    return n;
}

int runs_set(struct core *c, struct runs *r, uint64_t i, uint64_t w)
{
    void *k = chunk_of(r, i);
    if (r->width == 4)
        w = (uint32_t)w;
    if (k == NULL) {
        if (w == 0)
            return 0;
        if ((k = core_zalloc(c, (size_t)RUNS_LEN * r->width)) == NULL)
            return ENOMEM;
        if (hmap_put(c, &r->chunks, i / RUNS_LEN, (uintptr_t)k) != 0) {
            core_free(c, k);
            return ENOMEM;
        }
    }
    unsigned at = i % RUNS_LEN;
    uint64_t old = word(r, k, at);
    if (old == 0 && w != 0)
        r->n++;
    else if (old != 0 && w == 0)
        r->n--;
    if (r->width == 4)
        ((uint32_t *)k)[at] = (uint32_t)w;
    else
        ((uint64_t *)k)[at] = w;
    if (w == 0 && chunk_held(r, k) == 0) { /* its last word went */
        hmap_del(&r->chunks, i / RUNS_LEN);
        core_free(c, k);
    }
    return 0;
}

bool runs_next(const struct runs *r, struct runs_pos *pos, uint64_t *i,
               uint64_t *w)
{
    for (;;) {
        for (; pos->chunk && pos->at < RUNS_LEN; pos->at++) {
            uint64_t v = word(r, pos->chunk, pos->at);
            if (v) {
                *i = pos->run * RUNS_LEN + pos->at++;
                *w = v;
                return true;
            }
        }
        uint64_t v;
        if (!hmap_next(&r->chunks, &pos->slot, &pos->run, &v))
            return false;
        pos->chunk = (const void *)(uintptr_t)v;
        pos->at = 0;
    }
}

void runs_check(const struct runs *r, struct check *ck)
{
    uint64_t run, v, held = 0;
    for (size_t i = 0; !ck->error && hmap_next(&r->chunks, &i, &run, &v);) {
        unsigned n = chunk_held(r, (const void *)(uintptr_t)v);
        if (n == 0)
            check_fail(ck, "run %llu kept with no word",
                       (unsigned long long)run);
        held += n;
    }
    if (!ck->error && held != r->n)
        check_fail(ck, "runs count %llu words, hold %llu",
                   (unsigned long long)r->n, (unsigned long long)held);
}
