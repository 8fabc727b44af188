/*
 * Fault injection: makes the Nth host allocation (m_alloc) or the Nth
 * frame allocation (phys_alloc) from now fail once, for tests and fuzzers.
 * Every allocation of the simulation goes through those two, except the
 * machine object itself, the checker's scratch memory and the flash
 * image's host mapping.
 */
#include "machine.h"

void xvm_inject_failures(xvm_machine *m, uint64_t alloc_n, uint64_t frame_n)
{
    if (m == NULL)
        return;
    /* Counters are 64-bit and only ever incremented: no wrap in practice. */
    m->fail_alloc_at = alloc_n ? m->nalloc + alloc_n : 0;
    m->fail_frame_at = frame_n ? m->nframe + frame_n : 0;
}

void xvm_alloc_counts(const xvm_machine *m, uint64_t *allocs, uint64_t *frames)
{
    if (allocs)
        *allocs = m ? m->nalloc : 0;
    if (frames)
        *frames = m ? m->nframe : 0;
}
