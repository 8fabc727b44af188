/*
 * Block devices holding an image: NOR flash, or a memory disk (md(4),
 * paper §11.6) whose image lives in RAM.  An image the simulation only
 * reads, a block interface (counted and costed), and a window that can be
 * registered as a device segment so its pages map in place (paper §8.1,
 * §8.2).  Taking a memory disk's RAM, registering the window and mounting
 * are done above this layer.
 */
#ifndef XVM_FLASH_H
#define XVM_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "xipvm.h"

/* Block-interface reads of every flash device of a machine. */
struct flash_stats {
    uint64_t reads, bytes_read;
    uint64_t ns; /* simulated time of those reads */
};

/* The layer's state: the machine's flash devices. */
struct devices {
    struct core *core;
    struct xvm_flash *flashes;
    struct flash_stats st;
    struct swapdev *swap; /* the swap area (swap.c), or NULL */
};

struct xvm_machine;
struct xvm_mount;

struct xvm_flash {
    struct devices *devs;
    struct xvm_machine *owner; /* opaque here: for the machine's calls */
    struct xvm_flash_config cfg;
    const uint8_t *data; /* the image */
    uint64_t len;        /* image bytes */
    uint64_t seglen;     /* window: len rounded up to pages */
    void *map;           /* host mapping of an image file */
    size_t maplen;
    bool registered; /* window registered as a device segment */
    uint64_t md_pa;  /* memory disk: where its RAM is (carved), or 0 */
    struct xvm_mount *mounted;
    struct xvm_flash *next; /* the machine's list */
};

void devices_init(struct devices *devs, struct core *core);

/* => a new flash on the list, from an image file (mapped read-only) or a
 *    caller's buffer of whole pages; not registered, not mounted. */
int flash_open(struct devices *devs, const char *path,
               const struct xvm_flash_config *cfg, struct xvm_flash **out);
int flash_attach(struct devices *devs, const void *buf, uint64_t len,
                 const struct xvm_flash_config *cfg, struct xvm_flash **out);
/* Unlinks and frees f (the caller unregistered and unmounted it). */
void flash_free(struct xvm_flash *f);

/*
 * The block interface: copies [off, off+len) and counts it (not while the
 * core is quiet).  => 0, or EIO past the end of the image or when a read
 * error is injected (INJECT_FLASH_READ).
 */
int flash_read(struct xvm_flash *f, uint64_t off, void *buf, size_t len);

/*
 * => true when every byte of [off, off+len) is zero (bytes past the image
 *    read as zero).  Not counted: it stands for the layout guarantee a
 *    file system would record at makefs time (fallbacks, paper §11.5),
 *    not for a run-time read.
 */
bool flash_is_zero(const struct xvm_flash *f, uint64_t off, uint64_t len);

#endif
