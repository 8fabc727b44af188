/*
 * Fault injection: makes the Nth occurrence of a named site fail once,
 * for tests and fuzzers.  Each layer asks core_inject() at its own sites
 * (core.h); every allocation of the simulation goes through the core's
 * allocator and physmem's frame allocator, except the machine object
 * itself, the checker's scratch memory and the flash image's host
 * mapping.
 */
#include <errno.h>

#include "machine.h"

_Static_assert((int)XVM_INJECT_SITES == (int)INJECT_SITES &&
                   (int)XVM_INJECT_FLASH_READ == (int)INJECT_FLASH_READ &&
                   (int)XVM_INJECT_COW == (int)INJECT_COW,
               "enum xvm_inject_site and enum inject_site differ");

static const char *const site_names[INJECT_SITES] = {
    "alloc", "frame", "pagetable", "pv", "amap", "anon", "cow", "flash_read",
};

int xvm_inject(xvm_machine *m, enum xvm_inject_site site, uint64_t n)
{
    if (m == NULL || (unsigned)site >= INJECT_SITES)
        return EINVAL;
    /* Counters are 64-bit and only ever incremented: no wrap in practice. */
    struct core *c = &m->core;
    c->fail_at[site] = n ? c->occurred[site] + n : 0;
    return 0;
}

uint64_t xvm_inject_count(const xvm_machine *m, enum xvm_inject_site site)
{
    if (m == NULL || (unsigned)site >= INJECT_SITES)
        return 0;
    return m->core.occurred[site];
}

const char *xvm_inject_site_name(enum xvm_inject_site site)
{
    return (unsigned)site < INJECT_SITES ? site_names[site] : NULL;
}

void xvm_inject_failures(xvm_machine *m, uint64_t alloc_n, uint64_t frame_n)
{
    (void)xvm_inject(m, XVM_INJECT_ALLOC, alloc_n);
    (void)xvm_inject(m, XVM_INJECT_FRAME, frame_n);
}

void xvm_alloc_counts(const xvm_machine *m, uint64_t *allocs, uint64_t *frames)
{
    if (allocs)
        *allocs = xvm_inject_count(m, XVM_INJECT_ALLOC);
    if (frames)
        *frames = xvm_inject_count(m, XVM_INJECT_FRAME);
}
