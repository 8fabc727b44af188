/*
 * NOR flash device: memory-mappable window + block interface + physical
 * base (paper §8.1, §8.2).
 */
#ifndef XVM_FLASH_H
#define XVM_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "xipvm.h"

struct xvm_flash {
    struct xvm_machine *m;
    struct xvm_flash_config cfg;
    const uint8_t *data;        /* the image */
    uint64_t len;               /* image bytes */
    uint64_t seglen;            /* window: len rounded up to pages */
    void *map;                  /* host mapping of an image file */
    size_t maplen;
    bool registered;            /* window registered as a device segment */
    struct xvm_mount *mounted;
    struct xvm_flash *next;     /* the machine's list */
};

/* Counts and costs a read of len bytes through the block interface. */
void flash_account(struct xvm_flash *f, uint64_t len);

#endif
