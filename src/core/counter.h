/*
 * Typed counters.  A gauge is a level that goes up and down (frames in
 * use, PV entries): it keeps its current value, its peak, the total ever
 * added, and the peak since the last sample (so a timeline never loses a
 * peak between its samples).  Events that only ever add (faults, reads)
 * are plain uint64_t.  Each counter has one owner: the layer whose state
 * struct holds it.
 */
#ifndef XVM_COUNTER_H
#define XVM_COUNTER_H

#include <stdint.h>

struct gauge {
    uint64_t cur, peak, total;
    uint64_t window_peak; /* peak since gauge_window_reset() */
};

static inline void gauge_add(struct gauge *g, int64_t delta)
{
    g->cur += (uint64_t)delta;
    if (delta > 0) {
        g->total += (uint64_t)delta;
        if (g->cur > g->peak)
            g->peak = g->cur;
        if (g->cur > g->window_peak)
            g->window_peak = g->cur;
    }
}

/* Starts a new sampling window at the current value. */
static inline void gauge_window_reset(struct gauge *g)
{
    g->window_peak = g->cur;
}

#endif
