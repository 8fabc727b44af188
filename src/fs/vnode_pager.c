/*
 * The vnode pager: file pages copied from flash into page-cache frames
 * through the block interface, with read-ahead.  Copy mode uses it for
 * every page; XIP mode only for fallback pages.
 */
#include <errno.h>
#include <string.h>

#include "vfs.h"

/* Reads file page off into dst: holes and bytes past EOF are zero. */
static int vnode_fill(struct vnode *vp, uint64_t off, uint8_t *dst)
{
    struct xvm_mount *mp = vp->mp;
    uint32_t pgsz = mp->vfs->core->pgsz, bsize = ffs_bsize(mp->fs);
    uint64_t end = vp->size - off < pgsz ? vp->size : off + pgsz;

    memset(dst, 0, pgsz);
    for (uint64_t at = off; at < end;) {
        uint64_t dev, boff = at % bsize;
        uint32_t alen;
        size_t n = end - at < bsize - boff ? (size_t)(end - at)
                                           : (size_t)(bsize - boff);
        int error = ffs_bmap(mp->fs, vp->ino, at / bsize, &dev, &alen);
        if (error)
            return error;
        if (dev != FFS_HOLE) {
            if (boff + n > alen)
                return EIO; /* the inode claims more than it has */
            if ((error =
                     flash_read(mp->flash, dev + boff, dst + (at - off), n)))
                return error;
        }
        at += n;
    }
    return 0;
}

/* => a new page-cache page at off, filled; nothing left behind on error.
 *    A page the page daemon freed before is read again: a refault. */
static int cache_fill(struct vnode *vp, uint64_t off, unsigned pqflags,
                      pageh *pg)
{
    struct xvm_object *obj = vp->obj;
    int error = object_page_alloc(obj, off, false, pqflags, pg);
    if (error)
        return error;
    if ((error = vnode_fill(vp, off, phys_ram_data(obj->objs->ph, *pg))) != 0) {
        object_page_free(obj, off);
        return error;
    }
    vp->mp->vfs->pagecache_fills++;
    object_filled(obj, off);
    acct_page(vp->mp->vfs->core, vp->acct, ACCT_CACHED,
              off >> obj->objs->core->pgshift);
    cpu_pagecache_fill(obj->objs->mmu->cpu);
    return 0;
}

int vnode_cache_get(struct vnode *vp, uint64_t off, unsigned flags,
                    unsigned readahead, pageh *pg)
{
    struct xvm_object *obj = vp->obj;
    if ((*pg = object_page(obj, off)) != PAGEH_NONE)
        return 0;
    if (flags & PGO_LOCKED)
        return ENOENT;
    int error = cache_fill(vp, off, 0, pg);
    if (error)
        return error;
    /* Read-ahead is a hint: it stops at the first page it cannot have. */
    for (unsigned k = 1; k <= readahead; k++) {
        uint64_t next = off + (uint64_t)k * obj->objs->core->pgsz;
        pageh ra;
        if (next >= obj->size)
            break;
        if (object_page(obj, next) != PAGEH_NONE)
            continue;
        if (cache_fill(vp, next, PDP_READAHEAD, &ra) != 0)
            break;
        vp->mp->vfs->readahead_pages++;
    }
    return 0;
}

static int vnode_get_page(struct xvm_object *obj, uint64_t off, unsigned flags,
                          pageh *pg)
{
    struct vnode *vp = obj->priv;
    if (off >= obj->size)
        return EFAULT;
    if (!(flags & PGO_LOCKED))
        acct_page(vp->mp->vfs->core, vp->acct, ACCT_TOUCHED,
                  off >> obj->objs->core->pgshift);
    return vnode_cache_get(vp, off, flags,
                           flags & PGO_LOCKED ? 0 : vp->mp->cfg.readahead, pg);
}

const struct pager_ops vnode_pager = {
    .name = "vnode",
    .get = vnode_get_page,
    .put = object_put_clean,
    .detach = vnode_detach,
};
