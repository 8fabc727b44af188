/*
 * Mounts, vnodes and open files.
 */
#include <errno.h>
#include <string.h>

#include "flash.h"
#include "machine.h"
#include "pagedaemon.h"
#include "vfs.h"
#include "vmspace.h"

#define DEFAULT_READAHEAD 4
#define DEFAULT_BUFFERS 16

void xvm_mount_config_init(struct xvm_mount_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->readahead = DEFAULT_READAHEAD;
    cfg->buffers = DEFAULT_BUFFERS;
}

static void *io_alloc(void *ctx, size_t n)
{
    return m_alloc(((struct xvm_mount *)ctx)->m, n);
}

static void io_free(void *ctx, void *p)
{
    m_free(((struct xvm_mount *)ctx)->m, p);
}

static int io_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    return bufcache_read(&((struct xvm_mount *)ctx)->bc, off, buf, len);
}

static int io_read_quiet(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct xvm_flash *f = ((struct xvm_mount *)ctx)->flash;
    if (off > f->len || f->len - off < len)
        return EIO;
    memcpy(buf, f->data + off, len);
    return 0;
}

int xvm_mount_flash(xvm_flash *f, const struct xvm_mount_config *cfg,
                    xvm_mount **out)
{
    struct xvm_mount_config def;
    if (f == NULL || out == NULL)
        return EINVAL;
    if (cfg == NULL) {
        xvm_mount_config_init(&def);
        cfg = &def;
    }
    if (f->mounted)
        return EBUSY;
    bool xip = cfg->flags & XVM_MOUNT_XIP;
    /* XIP needs the device's physical base: only a mappable one has it. */
    if (xip && !f->registered)
        return EOPNOTSUPP;
    if (cfg->flags & ~XVM_MOUNT_XIP)
        return EINVAL;

    struct xvm_machine *m = f->m;
    struct xvm_mount *mp = m_zalloc(m, sizeof(*mp));
    if (mp == NULL)
        return ENOMEM;
    mp->m = m;
    mp->flash = f;
    mp->cfg = *cfg;
    mp->xip = xip;
    mp->phys_base = xvm_flash_phys_base(f);
    hmap_init(&mp->vnodes);
    struct ffs_io io = { mp, f->len, io_read, io_alloc, io_free };
    struct ffs_io qio = { mp, f->len, io_read_quiet, io_alloc, io_free };
    int error = bufcache_init(m, f, cfg->buffers, &mp->bc);
    if (error == 0)
        error = ffs_mount(&io, &mp->fs);
    if (error == 0)
        error = ffs_mount(&qio, &mp->qfs);
    if (error == 0 && ffs_bsize(mp->fs) < m->pgsz && xip)
        error = EINVAL;         /* blocks smaller than a page cannot XIP */
    if (error) {
        ffs_unmount(mp->fs);
        ffs_unmount(mp->qfs);
        bufcache_fini(&mp->bc);
        m_free(m, mp);
        return error;
    }
    f->mounted = mp;
    *out = mp;
    return 0;
}

int xvm_unmount(xvm_mount *mp)
{
    if (mp == NULL)
        return EINVAL;
    if (mp->vnodes.n > 0)
        return EBUSY;
    ffs_unmount(mp->fs);
    ffs_unmount(mp->qfs);
    bufcache_fini(&mp->bc);
    hmap_fini(mp->m, &mp->vnodes);
    mp->flash->mounted = NULL;
    m_free(mp->m, mp);
    return 0;
}

int xvm_mount_is_xip(const xvm_mount *mp)
{
    return mp && mp->xip;
}

int vnode_get(struct xvm_mount *mp, uint32_t ino, struct vnode **out)
{
    struct xvm_machine *m = mp->m;
    struct ffs_stat st;
    uint64_t v;
    if (hmap_get(&mp->vnodes, ino, &v)) {
        struct vnode *vp = (struct vnode *)(uintptr_t)v;
        object_ref(vp->obj);
        *out = vp;
        return 0;
    }
    int error = ffs_stat(mp->fs, ino, &st);
    if (error)
        return error;
    if (st.type != FFS_REG)
        return st.type == FFS_DIR ? EISDIR : EINVAL;
    struct vnode *vp = m_zalloc(m, sizeof(*vp));
    if (vp == NULL)
        return ENOMEM;
    vp->mp = mp;
    vp->ino = ino;
    vp->size = st.size;
    /* The object spans whole pages; bytes past EOF read as zero. */
    error = object_create(m, mp->xip ? &xip_pager : &vnode_pager,
                          m_round(m, st.size), XVM_USE_PAGECACHE, &vp->obj);
    if (error) {
        m_free(m, vp);
        return error;
    }
    vp->obj->priv = vp;
    vp->obj->read_only = true;
    if ((error = hmap_put(m, &mp->vnodes, ino, (uint64_t)(uintptr_t)vp)) != 0) {
        object_unref(vp->obj);          /* detach frees the vnode */
        return error;
    }
    *out = vp;
    return 0;
}

void vnode_detach(struct xvm_object *obj)
{
    struct vnode *vp = obj->priv;
    hmap_del(&vp->mp->vnodes, vp->ino);
    m_free(vp->mp->m, vp);
}

int xvm_open(xvm_mount *mp, const char *path, int oflags, xvm_file **out)
{
    uint32_t ino;
    struct vnode *vp;
    if (mp == NULL || path == NULL || out == NULL ||
        (oflags & ~(XVM_O_WRONLY | XVM_O_RDWR)) ||
        (oflags & XVM_O_WRONLY && oflags & XVM_O_RDWR))
        return EINVAL;
    int error = ffs_namei(mp->fs, path, 1, &ino);
    if (error)
        return error;
    if (oflags != XVM_O_RDONLY)
        return EROFS;
    if ((error = vnode_get(mp, ino, &vp)) != 0)
        return error;
    struct xvm_file *f = m_alloc(mp->m, sizeof(*f));
    if (f == NULL) {
        object_unref(vp->obj);
        return ENOMEM;
    }
    f->vp = vp;
    f->oflags = oflags;
    *out = f;
    return 0;
}

void xvm_close(xvm_file *f)
{
    if (f == NULL)
        return;
    struct xvm_machine *m = f->vp->mp->m;
    object_unref(f->vp->obj);
    m_free(m, f);
}

uint64_t xvm_file_size(const xvm_file *f)
{
    return f ? f->vp->size : 0;
}

/* One page of a file for read(): any pager, restarted after reclaim. */
static int pread_page(struct vnode *vp, uint64_t off, pageh *pg)
{
    int error;
    while ((error = vp->obj->ops->get(vp->obj, off, 0, pg)) == ENOMEM &&
           pagedaemon_reclaim(vp->mp->m) > 0)
        ;
    return error;
}

int xvm_pread(xvm_file *f, uint64_t off, void *buf, size_t len, size_t *done)
{
    size_t n = 0;
    if (done)
        *done = 0;
    if (f == NULL || (buf == NULL && len))
        return EINVAL;
    struct vnode *vp = f->vp;
    struct xvm_machine *m = vp->mp->m;
    while (n < len && off < vp->size) {
        uint64_t poff = m_trunc(m, off);
        size_t in = (size_t)(off - poff);
        size_t chunk = m->pgsz - in;
        if (chunk > len - n)
            chunk = len - n;
        if (chunk > vp->size - off)
            chunk = (size_t)(vp->size - off);
        pageh pg;
        int error = pread_page(vp, poff, &pg);
        if (error) {
            if (done)
                *done = n;
            return error;
        }
        memcpy((uint8_t *)buf + n, phys_data(m, pg) + in, chunk);
        if (page_is_device(pg))
            phys_dev_read(m, phys_dev_seg(m, phys_addr(m, pg)), chunk);
        n += chunk;
        off += chunk;
    }
    if (done)
        *done = n;
    return 0;
}

int xvm_mmap_file(xvm_vmspace *vs, uint64_t *addr, uint64_t len, int prot,
                  int flags, xvm_file *f, uint64_t off)
{
    if (vs == NULL || f == NULL)
        return EINVAL;
    /* Open read-only on a read-only file system: a shared mapping can
     * never write back. */
    if ((flags & XVM_MAP_SHARED) && (prot & XVM_PROT_WRITE))
        return EROFS;
    if (f->vp->mp->m != vs->m)
        return EINVAL;
    return xvm_mmap(vs, addr, len, prot, flags, f->vp->obj, off);
}
