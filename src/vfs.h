/*
 * The file-system layer: mounts of a read-only FFS on a flash, vnodes
 * (each one a uvm_object with a vnode or XIP pager), open files.
 */
#ifndef XVM_VFS_H
#define XVM_VFS_H

#include <stdbool.h>
#include <stdint.h>

#include "bufcache.h"
#include "ffs.h"
#include "hmap.h"
#include "object.h"
#include "xipvm.h"

struct xvm_mount {
    struct xvm_machine *m;
    struct xvm_flash *flash;
    struct xvm_mount_config cfg;
    bool xip;                   /* mount and vnodes XIP-capable (§4.4) */
    uint64_t phys_base;         /* asked of the device at mount (§8.2) */
    struct bufcache bc;
    struct ffs *fs;             /* metadata through the buffer cache */
    struct ffs *qfs;            /* reads the image directly, uncounted:
                                   for the checker and fsinfo */
    struct hmap vnodes;         /* ino -> struct vnode * */
};

struct vnode {
    struct xvm_mount *mp;
    struct xvm_object *obj;     /* obj->priv == this vnode */
    uint32_t ino;
    uint64_t size;
};

struct xvm_file {
    struct vnode *vp;           /* holds one reference on vp->obj */
    int oflags;
};

/* => the vnode for a regular file, with one new reference on its object. */
int vnode_get(struct xvm_mount *mp, uint32_t ino, struct vnode **out);
/* The pagers' shared detach: the vnode leaves its mount. */
void vnode_detach(struct xvm_object *obj);

/* vnode_pager.c: the page cache (copy mode and XIP fallbacks). */
extern const struct pager_ops vnode_pager;
/* Page-cache page at off: resident, or read from flash (ENOENT if
 * PGO_LOCKED and not resident).  => readahead: pages to read after it. */
int vnode_cache_get(struct vnode *vp, uint64_t off, unsigned flags,
                    unsigned readahead, pageh *pg);

/* xip_pager.c */
extern const struct pager_ops xip_pager;
enum xip_kind { XIP_DEVICE, XIP_HOLE, XIP_FALLBACK };
/* How file page off maps under XIP; *pa for XIP_DEVICE.  quiet: no
 * accounting (checker, fsinfo). */
int xip_classify(struct vnode *vp, uint64_t off, bool quiet,
                 enum xip_kind *kind, uint64_t *pa);

#endif
