/*
 * A free-list pool of fixed-size objects (anons, PV entries): the fault
 * path allocates and frees them constantly and must not pay malloc each
 * time.  Objects come from the machine's pack (core_pack: fault injection
 * still reaches them) when the list is empty and go back to the list.
 */
#ifndef XVM_POOL_H
#define XVM_POOL_H

#include <stddef.h>

#include "core.h"

struct pool_item {
    struct pool_item *next;
};

struct pool {
    struct pool_item *free;
    size_t size; /* object size, at least a pointer */
    size_t skew; /* a header's bytes before the object (core_pack) */
};

static inline void *pool_get(struct core *c, struct pool *p)
{
    struct pool_item *it = p->free;
    if (it == NULL)
        return core_pack(c, p->size < sizeof(*it) ? sizeof(*it) : p->size,
                         p->skew);
    p->free = it->next;
    return it;
}

static inline void pool_put(struct pool *p, void *obj)
{
    struct pool_item *it = obj;
    it->next = p->free;
    p->free = it;
}

static inline void pool_fini(struct core *c, struct pool *p)
{
    while (p->free) {
        struct pool_item *it = p->free;
        p->free = it->next;
        core_unpack(c, it);
    }
}

#endif
