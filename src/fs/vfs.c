/*
 * Mounts, vnodes, open files and read().
 */
#include <errno.h>
#include <string.h>

#include "kmem.h"
#include "pagedaemon.h"
#include "vfs.h"

#define DEFAULT_READAHEAD 4
#define DEFAULT_BUFFERS   16

void vfs_init(struct vfs *vfs, struct core *core, struct physmem *ph,
              struct objects *objs)
{
    *vfs = (struct vfs){ .core = core, .ph = ph, .objs = objs };
}

void xvm_mount_config_init(struct xvm_mount_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->readahead = DEFAULT_READAHEAD;
    cfg->buffers = DEFAULT_BUFFERS;
}

static void *io_alloc(void *ctx, size_t n)
{
    return core_alloc(((struct xvm_mount *)ctx)->vfs->core, n);
}

static void io_free(void *ctx, void *p)
{
    core_free(((struct xvm_mount *)ctx)->vfs->core, p);
}

/* Metadata comes through the buffer cache; inspection reads the flash
 * uncounted and leaves the cache as it was. */
static int io_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct xvm_mount *mp = ctx;
    if (core_is_quiet(mp->vfs->core))
        return flash_read(mp->flash, off, buf, len);
    return bufcache_read(&mp->bc, off, buf, len);
}

static int io_quiet(void *ctx)
{
    return core_is_quiet(((struct xvm_mount *)ctx)->vfs->core);
}

int vfs_mount(struct vfs *vfs, struct xvm_flash *f,
              const struct xvm_mount_config *cfg, struct xvm_mount **out)
{
    struct xvm_mount_config def;
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

    struct xvm_mount *mp = core_zalloc(vfs->core, sizeof(*mp));
    if (mp == NULL)
        return ENOMEM;
    mp->vfs = vfs;
    mp->flash = f;
    mp->cfg = *cfg;
    mp->xip = xip;
    mp->phys_base = xvm_flash_phys_base(f);
    hmap_init(&mp->vnodes);
    hmap_init(&mp->accts);
    struct ffs_io io = { mp, f->len, io_read, io_alloc, io_free, io_quiet };
    int error = bufcache_init(&mp->bc, vfs->ph, &vfs->objs->pd, f, cfg->buffers,
                              &vfs->buf);
    if (error == 0)
        error = ffs_mount(&io, &mp->fs);
    if (error == 0 && ffs_bsize(mp->fs) < vfs->core->pgsz && xip)
        error = EINVAL; /* blocks smaller than a page cannot XIP */
    if (error) {
        ffs_unmount(mp->fs);
        bufcache_fini(&mp->bc);
        hmap_fini(vfs->core, &mp->vnodes);
        core_free(vfs->core, mp);
        return error;
    }
    f->mounted = mp;
    mp->next = vfs->mounts;
    if (vfs->mounts)
        vfs->mounts->prev = mp;
    vfs->mounts = mp;
    *out = mp;
    return 0;
}

int xvm_unmount(xvm_mount *mp)
{
    if (mp == NULL)
        return EINVAL;
    if (mp->vnodes.n > 0)
        return EBUSY;
    struct vfs *vfs = mp->vfs;
    ffs_unmount(mp->fs);
    bufcache_fini(&mp->bc);
    hmap_fini(vfs->core, &mp->vnodes);
    acct_fini(mp);
    mp->flash->mounted = NULL;
    if (mp->prev)
        mp->prev->next = mp->next;
    else
        vfs->mounts = mp->next;
    if (mp->next)
        mp->next->prev = mp->prev;
    core_free(vfs->core, mp);
    return 0;
}

int xvm_mount_is_xip(const xvm_mount *mp)
{
    return mp && mp->xip;
}

int vnode_get(struct xvm_mount *mp, uint32_t ino, struct vnode **out)
{
    struct vfs *vfs = mp->vfs;
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
        return st.type == FFS_DIR ? EISDIR : EACCES; /* not a file */
    struct file_acct *acct;
    if ((error = acct_get(mp, ino, st.size, &acct)) != 0)
        return error;
    /* The vnode, its inode and the in-core dinode: kernel memory. */
    struct vnode *vp = kmem_alloc(vfs->ph->km, XVM_KMEM_VNODE, 1, sizeof(*vp));
    if (vp == NULL)
        return ENOMEM;
    vp->mp = mp;
    vp->acct = acct;
    vp->ino = ino;
    vp->size = st.size;
    /* The object spans whole pages; bytes past EOF read as zero. */
    error = object_create(vfs->objs, mp->xip ? &xip_pager : &vnode_pager,
                          pg_round(vfs->core, st.size), XVM_USE_PAGECACHE, -1,
                          &vp->obj);
    if (error) {
        kmem_free(vfs->ph->km, XVM_KMEM_VNODE, 1, vp);
        return error;
    }
    vp->obj->priv = vp;
    vp->obj->read_only = true;
    if ((error = hmap_put(vfs->core, &mp->vnodes, ino,
                          (uint64_t)(uintptr_t)vp)) != 0) {
        object_unref(vp->obj); /* detach frees the vnode */
        return error;
    }
    *out = vp;
    return 0;
}

void vnode_detach(struct xvm_object *obj)
{
    struct vnode *vp = obj->priv;
    hmap_del(&vp->mp->vnodes, vp->ino);
    kmem_free(vp->mp->vfs->ph->km, XVM_KMEM_VNODE, 1, vp);
}

static void file_link(struct vfs *vfs, struct xvm_file *f)
{
    f->prev = NULL;
    f->next = vfs->files;
    if (vfs->files)
        vfs->files->prev = f;
    vfs->files = f;
}

struct vnode_get_args {
    struct xvm_mount *mp;
    uint32_t ino;
    struct vnode **out;
};

static int vnode_get_op(void *arg)
{
    struct vnode_get_args *g = arg;
    return vnode_get(g->mp, g->ino, g->out);
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
    /* A new vnode is kernel memory: the page daemon's to find. */
    struct vnode_get_args g = { mp, ino, &vp };
    if ((error = pagedaemon_retry(&mp->vfs->objs->pd, vnode_get_op, &g)) != 0)
        return error;
    struct xvm_file *f = core_alloc(mp->vfs->core, sizeof(*f));
    if (f == NULL) {
        object_unref(vp->obj);
        return ENOMEM;
    }
    f->vp = vp;
    f->oflags = oflags;
    file_link(mp->vfs, f);
    *out = f;
    return 0;
}

int file_dup(struct xvm_file *f, struct xvm_file **out)
{
    struct xvm_file *nf = core_alloc(f->vp->mp->vfs->core, sizeof(*nf));
    if (nf == NULL)
        return ENOMEM;
    *nf = *f;
    object_ref(f->vp->obj);
    file_link(f->vp->mp->vfs, nf);
    *out = nf;
    return 0;
}

void xvm_close(xvm_file *f)
{
    if (f == NULL)
        return;
    struct vfs *vfs = f->vp->mp->vfs;
    if (f->prev)
        f->prev->next = f->next;
    else
        vfs->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    object_unref(f->vp->obj);
    core_free(vfs->core, f);
}

void vfs_close_files(struct vfs *vfs)
{
    while (vfs->files)
        xvm_close(vfs->files);
}

uint64_t xvm_file_size(const xvm_file *f)
{
    return f ? f->vp->size : 0;
}

struct page_get {
    struct xvm_object *obj;
    uint64_t off;
    pageh pg;
};

static int page_get(void *arg)
{
    struct page_get *g = arg;
    return g->obj->ops->get(g->obj, g->off, 0, &g->pg);
}

int xvm_pread(xvm_file *f, uint64_t off, void *buf, size_t len, size_t *done)
{
    size_t n = 0;
    if (done)
        *done = 0;
    if (f == NULL || (buf == NULL && len))
        return EINVAL;
    struct vnode *vp = f->vp;
    struct vfs *vfs = vp->mp->vfs;
    uint32_t pgsz = vfs->core->pgsz;
    while (n < len && off < vp->size) {
        struct page_get g = { vp->obj, pg_trunc(vfs->core, off), 0 };
        size_t in = (size_t)(off - g.off);
        size_t chunk = pgsz - in;
        if (chunk > len - n)
            chunk = len - n;
        if (chunk > vp->size - off)
            chunk = (size_t)(vp->size - off);
        /* Any pager; restarted after the page daemon freed RAM. */
        int error = pagedaemon_retry(&vfs->objs->pd, page_get, &g);
        if (error) {
            if (done)
                *done = n;
            return error;
        }
        pageq_activate(&vfs->objs->pd, g.pg);
        const uint8_t *src = phys_data(vfs->ph, g.pg) + in;
        cpu_copy(vfs->objs->mmu->cpu, in, chunk, phys_on_nor(vfs->ph, g.pg));
        if (page_is_device(g.pg))
            phys_dev_read(vfs->ph,
                          phys_dev_seg(vfs->ph, phys_addr(vfs->ph, g.pg)),
                          (uint8_t *)buf + n, src, chunk);
        else
            memcpy((uint8_t *)buf + n, src, chunk);
        n += chunk;
        off += chunk;
    }
    if (done)
        *done = n;
    return 0;
}

void vfs_check(const struct vfs *vfs, struct check *ck)
{
    for (struct xvm_mount *mp = vfs->mounts; mp && !ck->error; mp = mp->next) {
        uint64_t ino, v;
        if (mp->flash->mounted != mp)
            return (void)check_fail(ck, "mount: its flash names another mount");
        for (size_t i = 0; hmap_next(&mp->vnodes, &i, &ino, &v);) {
            struct vnode *vp = (struct vnode *)(uintptr_t)v;
            if (vp->mp != mp || vp->ino != ino || vp->obj == NULL ||
                vp->obj->priv != vp || vp->obj->refs == 0)
                return (void)check_fail(ck,
                                        "vnode of inode %llu: not its "
                                        "object's, or dead",
                                        (unsigned long long)ino);
            if (vp->obj->size != pg_round(vfs->core, vp->size))
                return (void)check_fail(ck,
                                        "vnode of inode %llu: object "
                                        "size differs from the file's",
                                        (unsigned long long)ino);
        }
        bufcache_check(&mp->bc, ck);
    }
}
