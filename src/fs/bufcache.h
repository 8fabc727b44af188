/*
 * The buffer cache: file-system metadata read through the flash's block
 * interface, kept in a bounded number of page-sized buffers whose frames
 * come from simulated RAM (XVM_USE_BUFFER), evicted least recently used.
 * The page daemon takes frames back from it when free pages are short
 * (buf_drain), least recently used first; it grows again as RAM allows.
 */
#ifndef XVM_BUFCACHE_H
#define XVM_BUFCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "core.h"
#include "flash.h"
#include "hmap.h"
#include "pagedaemon.h"
#include "physmem.h"

struct buf {
    uint64_t blk; /* flash offset >> page shift */
    pageh frame;
    uint32_t prev, next; /* LRU list, most recent first */
};

/* Hits and misses of every buffer cache of a machine, and the buffers
 * the page daemon freed. */
struct buf_stats {
    uint64_t hits, misses, drained;
};

struct bufcache {
    struct core *core;
    struct physmem *ph;
    struct xvm_flash *f;
    struct buf_stats *st;
    unsigned cap, n;
    struct buf *bufs;
    uint32_t head, tail;
    struct hmap index; /* blk -> buffer */
    bool reading;      /* a read uses a buffer: none may be drained */
    struct pagedaemon *pd;
    struct shrinker shrinker; /* on pd's list */
};

/* => pd: the page daemon that may drain the buffers, or NULL. */
int bufcache_init(struct bufcache *bc, struct physmem *ph,
                  struct pagedaemon *pd, struct xvm_flash *f, unsigned cap,
                  struct buf_stats *st);
void bufcache_fini(struct bufcache *bc);
/* => 0, or EIO past the end of the device or when the flash fails a
 *    read (no buffer then keeps the block).  Never fails for lack of
 *    frames: it then reads through without caching. */
int bufcache_read(struct bufcache *bc, uint64_t off, void *buf, size_t len);

/* The LRU list and the index agree; every buffer's frame is a buffer. */
void bufcache_check(const struct bufcache *bc, struct check *ck);

#endif
