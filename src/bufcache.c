/*
 * The buffer cache; see bufcache.h.
 */
#include <errno.h>
#include <string.h>

#include "bufcache.h"
#include "flash.h"
#include "machine.h"

#define NIL UINT32_MAX

int bufcache_init(struct xvm_machine *m, struct xvm_flash *f, unsigned cap,
                  struct bufcache *bc)
{
    memset(bc, 0, sizeof(*bc));
    bc->m = m;
    bc->f = f;
    bc->cap = cap;
    bc->head = bc->tail = NIL;
    hmap_init(&bc->index);
    if (cap && (bc->bufs = m_alloc(m, cap * sizeof(*bc->bufs))) == NULL)
        return ENOMEM;
    return 0;
}

void bufcache_fini(struct bufcache *bc)
{
    for (unsigned i = 0; i < bc->n; i++)
        phys_free(bc->m, bc->bufs[i].frame);
    m_free(bc->m, bc->bufs);
    hmap_fini(bc->m, &bc->index);
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

/* => a buffer to (re)fill: a new one while under the cap and RAM allows,
 *    else the least recently used; NIL when there is none at all. */
static uint32_t buf_take(struct bufcache *bc)
{
    pageh frame;
    if (bc->n < bc->cap && phys_alloc(bc->m, XVM_USE_BUFFER, false, &frame) == 0) {
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

/* Copies part of flash block blk, through a buffer when one can be had. */
static void read_block(struct bufcache *bc, uint64_t blk, size_t boff,
                       uint8_t *dst, size_t n)
{
    struct xvm_machine *m = bc->m;
    uint64_t v;
    if (hmap_get(&bc->index, blk, &v)) {
        m->st.buf_hits++;
        lru_unlink(bc, (uint32_t)v);
        lru_push(bc, (uint32_t)v);
        memcpy(dst, phys_page(m, bc->bufs[v].frame)->data + boff, n);
        return;
    }
    m->st.buf_misses++;
    uint64_t off = blk << m->pgshift;
    size_t fill = bc->f->len - off < m->pgsz ? (size_t)(bc->f->len - off) : m->pgsz;
    uint32_t i = buf_take(bc);
    if (i == NIL || hmap_put(m, &bc->index, blk, i) != 0) {
        if (i != NIL)
            lru_push(bc, i), bc->bufs[i].blk = UINT64_MAX;
        /* No buffer: read through, uncached. */
        memcpy(dst, bc->f->data + off + boff, n);
        flash_account(bc->f, n);
        return;
    }
    uint8_t *data = phys_page(m, bc->bufs[i].frame)->data;
    memcpy(data, bc->f->data + off, fill);
    flash_account(bc->f, fill);
    bc->bufs[i].blk = blk;
    lru_push(bc, i);
    memcpy(dst, data + boff, n);
}

int bufcache_read(struct bufcache *bc, uint64_t off, void *buf, size_t len)
{
    struct xvm_machine *m = bc->m;
    uint8_t *dst = buf;
    if (off > bc->f->len || bc->f->len - off < len)
        return EIO;
    while (len > 0) {
        size_t boff = (size_t)(off & (m->pgsz - 1));
        size_t n = m->pgsz - boff < len ? m->pgsz - boff : len;
        read_block(bc, off >> m->pgshift, boff, dst, n);
        dst += n;
        off += n;
        len -= n;
    }
    return 0;
}
