/*
 * The host's memory latency: the unit the scale rows' extra cost is told
 * in.  Spread over many processes or entries, an event's state no longer
 * fits the host's caches and each of its dependent loads waits for
 * memory; the time of one such load is what the simulator cannot go
 * below per miss, whatever its data structures.
 */
#define _DEFAULT_SOURCE /* madvise */
#include <stdlib.h>
#include <sys/mman.h>

#include "bench.h"

#define LINE  64
#define HUGE  ((size_t)2 << 20)
#define LOADS 4000000

struct span host_load_latency(size_t bytes)
{
    size_t n = bytes / LINE;
    char *buf = aligned_alloc(HUGE, (bytes + HUGE - 1) / HUGE * HUGE);
    struct span t = { -1, -1 };
    if (buf == NULL || n < 2) {
        free(buf);
        return t;
    }
    /* Huge pages, as the simulator's packed state has (core.c): the
     * host's TLB misses are not counted against the simulator. */
    (void)madvise(buf, bytes, MADV_HUGEPAGE);
    /* One cycle through every line in random order (Sattolo's shuffle
     * of the identity): each load's address is the one before's value,
     * so no two overlap and no prefetcher guesses the next. */
    size_t *next = malloc(n * sizeof(*next));
    if (next == NULL) {
        free(buf);
        return t;
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < n; i++)
        next[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(bench_rnd(&s) % i), v = next[i];
        next[i] = next[j], next[j] = v;
    }
    for (size_t i = 0; i < n; i++)
        *(void **)(buf + i * LINE) = buf + next[i] * LINE;
    free(next);
    void *volatile *p = (void *volatile *)buf;
    struct span t0 = tm_now(false);
    for (size_t i = 0; i < LOADS; i++)
        p = (void *volatile *)*p;
    t = tm_per(t0, false, LOADS);
    free(buf);
    return t;
}
