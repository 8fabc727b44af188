/*
 * Fault injection: makes the Nth host allocation or the Nth frame
 * allocation from now fail once, for tests and fuzzers.  Every allocation
 * of the simulation goes through the core's allocator and physmem's
 * frame allocator, except the machine object itself, the checker's
 * scratch memory and the flash image's host mapping.
 */
#include "machine.h"

void xvm_inject_failures(xvm_machine *m, uint64_t alloc_n, uint64_t frame_n)
{
    if (m == NULL)
        return;
    /* Counters are 64-bit and only ever incremented: no wrap in practice. */
    struct core *c = &m->core;
    c->fail_at[INJECT_ALLOC] =
        alloc_n ? c->occurred[INJECT_ALLOC] + alloc_n : 0;
    c->fail_at[INJECT_FRAME] =
        frame_n ? c->occurred[INJECT_FRAME] + frame_n : 0;
}

void xvm_alloc_counts(const xvm_machine *m, uint64_t *allocs, uint64_t *frames)
{
    if (allocs)
        *allocs = m ? m->core.occurred[INJECT_ALLOC] : 0;
    if (frames)
        *frames = m ? m->core.occurred[INJECT_FRAME] : 0;
}
