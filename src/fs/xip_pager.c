/*
 * The XIP vnode pager (paper §7.3): file offset -> bmap -> flash physical
 * address -> device page.  No page cache, no vm_page.
 *
 * A page maps in place only when it is one page-aligned, contiguous run
 * of this file's own blocks and whatever of it lies past EOF is zero on
 * flash; otherwise (fragments, unaligned tails, foreign bytes) it falls
 * back to a page-cache copy, so bytes past EOF always read as zero and
 * never expose another file's.  Holes map the machine's zero page.
 */
#include <errno.h>
#include <string.h>

#include "vfs.h"

enum xip_why xip_rule(struct xvm_mount *mp, uint64_t size, uint64_t off,
                      uint64_t dev, uint32_t alen)
{
    uint32_t pgsz = mp->vfs->core->pgsz, bsize = ffs_bsize(mp->fs);
    uint64_t boff = off % bsize;
    if (dev == FFS_HOLE)
        return XIP_WHY_HOLE;
    if (bsize < pgsz)
        return XIP_WHY_SPANNING;
    if ((dev + boff) & (pgsz - 1))
        return XIP_WHY_UNALIGNED;
    if (boff + pgsz > alen)
        return XIP_WHY_TAIL_SHORT;
    uint64_t tail = size - off;
    if (tail < pgsz &&
        !flash_is_zero(mp->flash, dev + boff + tail, pgsz - tail))
        return XIP_WHY_PAST_EOF;
    return XIP_OK;
}

int xip_explain(struct vnode *vp, uint64_t off, enum xip_why *why, uint64_t *pa)
{
    struct xvm_mount *mp = vp->mp;
    uint32_t bsize = ffs_bsize(mp->fs), alen;
    uint64_t dev;
    int error = ffs_bmap(mp->fs, vp->ino, off / bsize, &dev, &alen);
    if (error)
        return error;
    *why = xip_rule(mp, vp->size, off, dev, alen);
    if (*why == XIP_OK)
        *pa = mp->phys_base + dev + off % bsize;
    return 0;
}

int xip_classify(struct vnode *vp, uint64_t off, enum xip_kind *kind,
                 uint64_t *pa)
{
    enum xip_why why;
    int error = xip_explain(vp, off, &why, pa);
    if (error == 0)
        *kind = why == XIP_OK         ? XIP_DEVICE
                : why == XIP_WHY_HOLE ? XIP_HOLE
                                      : XIP_FALLBACK;
    return error;
}

static int xip_get(struct xvm_object *obj, uint64_t off, unsigned flags,
                   pageh *pg)
{
    struct vnode *vp = obj->priv;
    struct vfs *vfs = vp->mp->vfs;
    enum xip_kind kind;
    uint64_t pa = 0;

    if (off >= obj->size)
        return EFAULT;
    bool count = !(flags & PGO_LOCKED); /* a fault's or read()'s page */
    uint64_t pgidx = off >> vfs->core->pgshift;
    if (count)
        acct_page(vp->mp->vfs->core, vp->acct, ACCT_TOUCHED, pgidx);
    /* A fallback copy made earlier. */
    if ((*pg = object_page(obj, off)) != PAGEH_NONE)
        return 0;
    int error = xip_classify(vp, off, &kind, &pa);
    if (error)
        return error;
    switch (kind) {
    case XIP_DEVICE:
        *pg = page_device(pa);
        if (count)
            acct_page(vp->mp->vfs->core, vp->acct, ACCT_IN_PLACE, pgidx);
        return 0;
    case XIP_HOLE:
        *pg = vfs->ph->zero_page;
        if (!core_is_quiet(vfs->core))
            vfs->xip_hole_maps++;
        return 0;
    case XIP_FALLBACK: break;
    }
    if ((error = vnode_cache_get(vp, off, flags, 0, pg)) == 0 &&
        !(flags & PGO_LOCKED))
        vfs->fallback_pages++;
    return error;
}

const struct pager_ops xip_pager = {
    .name = "xip",
    .get = xip_get,
    .put = object_put_clean,
    .detach = vnode_detach,
};
