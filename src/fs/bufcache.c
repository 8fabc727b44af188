/*
 * The buffer cache; see bufcache.h.
 */
#include <errno.h>
#include <string.h>

#include "bufcache.h"

#define NIL UINT32_MAX

static uint64_t drainable(void *arg);
static uint64_t drain(void *arg, uint64_t n);

int bufcache_init(struct bufcache *bc, struct physmem *ph,
                  struct pagedaemon *pd, struct xvm_flash *f, unsigned cap,
                  struct buf_stats *st)
{
    memset(bc, 0, sizeof(*bc));
    bc->core = ph->core;
    bc->ph = ph;
    bc->f = f;
    bc->st = st;
    /* Each buffer is a frame of RAM: no more can ever be in use. */
    if (cap > ph->npages)
        cap = ph->npages;
    bc->cap = cap;
    bc->head = bc->tail = NIL;
    hmap_init(&bc->index);
    if (cap &&
        (bc->bufs = core_alloc(bc->core, cap * sizeof(*bc->bufs))) == NULL)
        return ENOMEM;
    if (pd) {
        bc->pd = pd;
        bc->shrinker = (struct shrinker){ drainable, drain, bc, NULL, NULL };
        pagedaemon_shrinker_add(pd, &bc->shrinker);
    }
    return 0;
}

void bufcache_fini(struct bufcache *bc)
{
    if (bc->pd)
        pagedaemon_shrinker_remove(bc->pd, &bc->shrinker);
    for (unsigned i = 0; i < bc->n; i++)
        phys_free(bc->ph, bc->bufs[i].frame);
    core_free(bc->core, bc->bufs);
    hmap_fini(bc->core, &bc->index);
    memset(bc, 0, sizeof(*bc));
}

static void lru_unlink(struct bufcache *bc, uint32_t i)
{
    struct buf *b = &bc->bufs[i];
    if (b->prev != NIL)
        bc->bufs[b->prev].next = b->next;
    else
        bc->head = b->next;
    if (b->next != NIL)
        bc->bufs[b->next].prev = b->prev;
    else
        bc->tail = b->prev;
}

static void lru_push(struct bufcache *bc, uint32_t i)
{
    struct buf *b = &bc->bufs[i];
    b->prev = NIL;
    b->next = bc->head;
    if (bc->head != NIL)
        bc->bufs[bc->head].prev = i;
    bc->head = i;
    if (bc->tail == NIL)
        bc->tail = i;
}

static uint64_t drainable(void *arg)
{
    const struct bufcache *bc = arg;
    return bc->reading ? 0 : bc->n;
}

/* Frees the frames of up to n buffers, least recently used first; the
 * last buffer of the array takes each freed one's place.
 * => frames freed */
static uint64_t drain(void *arg, uint64_t n)
{
    struct bufcache *bc = arg;
    uint64_t freed = 0;
    for (; freed < n && !bc->reading && bc->tail != NIL; freed++) {
        uint32_t i = bc->tail, last = bc->n - 1;
        lru_unlink(bc, i);
        if (bc->bufs[i].blk != UINT64_MAX)
            hmap_del(&bc->index, bc->bufs[i].blk);
        phys_free(bc->ph, bc->bufs[i].frame);
        bc->n--;
        if (i == last)
            continue;
        struct buf *b = &bc->bufs[i];
        *b = bc->bufs[last];
        if (b->prev != NIL)
            bc->bufs[b->prev].next = i;
        else
            bc->head = i;
        if (b->next != NIL)
            bc->bufs[b->next].prev = i;
        else
            bc->tail = i;
        /* The block is indexed already: a new value, no allocation. */
        if (b->blk != UINT64_MAX)
            (void)hmap_put(bc->core, &bc->index, b->blk, i);
    }
    bc->st->drained += freed;
    return freed;
}

/* => a buffer to (re)fill: a new one while under the cap and RAM allows,
 *    else the least recently used; NIL when there is none at all. */
static uint32_t buf_take(struct bufcache *bc)
{
    pageh frame;
    if (bc->n < bc->cap &&
        phys_alloc(bc->ph, XVM_USE_BUFFER, false, &frame) == 0) {
        bc->bufs[bc->n].frame = frame;
        return bc->n++;
    }
    uint32_t i = bc->tail;
    if (i != NIL) {
        lru_unlink(bc, i);
        if (bc->bufs[i].blk != UINT64_MAX)
            hmap_del(&bc->index, bc->bufs[i].blk);
    }
    return i;
}

/*
 * Copies part of flash block blk, through a buffer when one can be had.
 * => 0, or the flash's error (EIO): the buffer then holds no block.
 */
static int read_block(struct bufcache *bc, uint64_t blk, size_t boff,
                      uint8_t *dst, size_t n)
{
    uint32_t pgsz = bc->core->pgsz;
    uint64_t v;
    if (hmap_get(&bc->index, blk, &v)) {
        bc->st->hits++;
        lru_unlink(bc, (uint32_t)v);
        lru_push(bc, (uint32_t)v);
        memcpy(dst, phys_ram_data(bc->ph, bc->bufs[v].frame) + boff, n);
        return 0;
    }
    bc->st->misses++;
    uint64_t off = blk << bc->core->pgshift;
    size_t fill = bc->f->len - off < pgsz ? (size_t)(bc->f->len - off) : pgsz;
    uint32_t i = buf_take(bc);
    if (i == NIL || hmap_put(bc->core, &bc->index, blk, i) != 0) {
        if (i != NIL)
            lru_push(bc, i), bc->bufs[i].blk = UINT64_MAX;
        /* No buffer: read through, uncached. */
        return flash_read(bc->f, off + boff, dst, n);
    }
    uint8_t *data = phys_ram_data(bc->ph, bc->bufs[i].frame);
    int error = flash_read(bc->f, off, data, fill);
    if (error) {
        hmap_del(&bc->index, blk);
        bc->bufs[i].blk = UINT64_MAX;
        lru_push(bc, i);
        return error;
    }
    bc->bufs[i].blk = blk;
    lru_push(bc, i);
    memcpy(dst, data + boff, n);
    return 0;
}

int bufcache_read(struct bufcache *bc, uint64_t off, void *buf, size_t len)
{
    uint32_t pgsz = bc->core->pgsz;
    uint8_t *dst = buf;
    int error = 0;
    if (off > bc->f->len || bc->f->len - off < len)
        return EIO;
    bc->reading = true;
    while (len > 0 && error == 0) {
        size_t boff = (size_t)(off & (pgsz - 1));
        size_t n = pgsz - boff < len ? pgsz - boff : len;
        error = read_block(bc, off >> bc->core->pgshift, boff, dst, n);
        dst += n;
        off += n;
        len -= n;
    }
    bc->reading = false;
    return error;
}

void bufcache_check(const struct bufcache *bc, struct check *ck)
{
    unsigned listed = 0;
    uint64_t v;
    for (uint32_t i = bc->head, prev = NIL; i != NIL;
         prev = i, i = bc->bufs[i].next) {
        const struct buf *b = &bc->bufs[i];
        if (i >= bc->n || b->prev != prev || ++listed > bc->n)
            return (void)check_fail(ck, "buffer cache: LRU list broken at %u",
                                    i);
        if (phys_page(bc->ph, b->frame)->use != XVM_USE_BUFFER)
            return (void)check_fail(ck, "buffer %u: its frame is not a buffer",
                                    i);
        if (b->blk != UINT64_MAX &&
            (!hmap_get(&bc->index, b->blk, &v) || v != i))
            return (void)check_fail(ck, "buffer %u: not indexed by its block",
                                    i);
        if (bc->bufs[i].next == NIL && bc->tail != i)
            return (void)check_fail(ck, "buffer cache: tail is not the last");
    }
    if (listed != bc->n)
        return (void)check_fail(ck,
                                "buffer cache: %u buffers, %u on the LRU "
                                "list",
                                bc->n, listed);
    for (size_t i = 0; hmap_next(&bc->index, &i, NULL, &v);)
        if (v >= bc->n)
            return (void)check_fail(ck, "buffer cache: index names no buffer");
}
