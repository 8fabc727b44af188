/*
 * The core: see core.h.
 */
#define _DEFAULT_SOURCE /* madvise, MAP_ANONYMOUS, MAP_NORESERVE */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

/* The pack's chunks: the first small (a small machine costs little),
 * each twice the last up to a huge page's size, aligned to it. */
#define PACK_FIRST ((size_t)64 << 10)
#define PACK_MAX   ((size_t)2 << 20)
#define PACK_LINE  64

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

void *core_reserve(struct core *c, size_t len)
{
    if (core_inject(c, INJECT_ALLOC))
        return NULL;
    void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void core_unreserve(void *p, size_t len)
{
    if (p)
        munmap(p, len ? len : 1);
}

void core_fini(struct core *c)
{
    while (c->pack) {
        struct pack_chunk *k = c->pack;
        c->pack = k->prev;
        free(k);
    }
    c->pack_used = 0;
}

/* A new chunk of at least n bytes past its header, or NULL. */
static struct pack_chunk *pack_grow(struct core *c, size_t n)
{
    size_t size = c->pack == NULL            ? PACK_FIRST
                  : c->pack->size < PACK_MAX ? 2 * c->pack->size
                                             : PACK_MAX;
    while (size < n + PACK_LINE)
        size *= 2;
    struct pack_chunk *k =
        aligned_alloc(size < PACK_MAX ? PACK_LINE : PACK_MAX, size);
    if (k == NULL)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= PACK_MAX)
        (void)madvise(k, size, MADV_HUGEPAGE); /* a hint: may be refused */
#endif
    k->prev = c->pack;
    k->size = size;
    c->pack = k;
    c->pack_used = PACK_LINE; /* the header's line */
    return k;
}

void *core_pack(struct core *c, size_t n, size_t skew)
{
    if (!CORE_PACKED)
        return core_alloc(c, n);
    if (core_inject(c, INJECT_ALLOC))
        return NULL;
    n = n ? (n + 15) & ~(size_t)15 : 16;
    size_t align = n >= skew + PACK_LINE ? PACK_LINE : 16;
    for (int tries = 0; tries < 2; tries++) {
        struct pack_chunk *k = c->pack;
        if (k != NULL) {
            /* The object past skew on its alignment. */
            size_t at =
                (c->pack_used + skew + align - 1) / align * align - skew;
            if (at + n <= k->size) {
                c->pack_used = at + n;
                return (uint8_t *)k + at;
            }
        }
        if (pack_grow(c, n + skew + align) == NULL)
            return NULL;
    }
    return NULL;
}
