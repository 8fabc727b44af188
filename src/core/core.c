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

/* calloc: a large block is fresh zero pages, touched only when used. */
void *core_zalloc(struct core *c, size_t n)
{
    if (core_inject(c, INJECT_ALLOC))
        return NULL;
    return calloc(1, n ? n : 1);
}

void core_free(struct core *c, void *p)
{
    (void)c;
    free(p);
}
