/*
 * The core: see core.h.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

void core_init(struct core *c, const struct profile *prof)
{
    memset(c, 0, sizeof(*c));
    c->prof = prof;
    c->pgshift = prof->page_shift;
    c->pgsz = UINT32_C(1) << prof->page_shift;
}

void *core_alloc(struct core *c, size_t n)
{
    if (core_inject(c, INJECT_ALLOC))
        return NULL;
    return malloc(n ? n : 1);
}

void *core_zalloc(struct core *c, size_t n)
{
    void *p = core_alloc(c, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void core_free(struct core *c, void *p)
{
    (void)c;
    free(p);
}
