/*
 * fsinfo: how each file of a mounted image would map under XIP, the
 * paper's open question of file-system layout (§11.5); and the walk over
 * a mount's files it is made of, which the per-file report walks too.
 * Both run quiet (see core_quiet_begin), so they never disturb an
 * experiment's figures.
 */
#include <errno.h>
#include <string.h>

#include "vfs.h"

#define MAX_DEPTH  64 /* deeper means a directory loop */
#define PATH_CAP   4096
#define SPARSE_MAX 64 /* a file's pages over the image's pages */

struct walk {
    struct xvm_mount *mp;
    vfs_walk_fn fn;
    void *arg;
    char path[PATH_CAP];
    size_t len;
    unsigned depth;
    struct hmap seen; /* directories walked: each has one parent */
};

static int walk_dir(struct walk *w, uint32_t ino);

static int visit(void *arg, const char *name, uint32_t ino, enum ffs_type type)
{
    struct walk *w = arg;
    size_t nlen = strlen(name), saved = w->len;
    struct ffs_stat st;
    if (saved + 1 + nlen + 1 > PATH_CAP)
        return ENAMETOOLONG;
    w->path[w->len++] = '/';
    memcpy(w->path + w->len, name, nlen + 1);
    w->len += nlen;

    int error = ffs_stat(w->mp->fs, ino, &st);
    if (error == 0) {
        /* The caller's work is the caller's: counted as usual. */
        core_quiet_end(w->mp->vfs->core);
        error = w->fn(w->arg, w->path, ino, type, &st);
        core_quiet_begin(w->mp->vfs->core);
    }
    if (error == 0 && type == FFS_DIR)
        error = walk_dir(w, ino);
    w->len = saved;
    w->path[saved] = '\0';
    return error;
}

static int walk_dir(struct walk *w, uint32_t ino)
{
    /* A directory met twice is a loop in a corrupt image (FFS has no
     * directory hard links): the walk would never end. */
    if (hmap_get(&w->seen, ino, NULL))
        return ELOOP;
    if (hmap_put(w->mp->vfs->core, &w->seen, ino, 1) != 0)
        return ENOMEM;
    if (++w->depth > MAX_DEPTH)
        return ELOOP;
    int error = ffs_readdir(w->mp->fs, ino, visit, w);
    w->depth--;
    return error;
}

int vfs_walk(struct xvm_mount *mp, vfs_walk_fn fn, void *arg)
{
    struct core *c = mp->vfs->core;
    struct walk *w = core_zalloc(c, sizeof(*w));
    if (w == NULL)
        return ENOMEM;
    w->mp = mp;
    w->fn = fn;
    w->arg = arg;
    hmap_init(&w->seen);
    core_quiet_begin(c);
    int error = walk_dir(w, ffs_root(mp->fs));
    core_quiet_end(c);
    hmap_fini(c, &w->seen);
    core_free(c, w);
    return error;
}

struct info_walk {
    struct xvm_mount *mp;
    int (*fn)(void *arg, const struct xvm_file_info *fi);
    void *arg;
};

/* One page, by the pager's rule: in place, a hole, or a copy and why. */
static void count_why(struct xvm_file_info *fi, enum xip_why why)
{
    switch (why) {
    case XIP_OK: fi->xip_pages++; return;
    case XIP_WHY_HOLE: fi->hole_pages++; return;
    case XIP_WHY_SPANNING: fi->spanning_pages++; break;
    case XIP_WHY_UNALIGNED: fi->unaligned_pages++; break;
    case XIP_WHY_TAIL_SHORT: fi->tail_short_pages++; break;
    case XIP_WHY_PAST_EOF: fi->past_eof_pages++; break;
    }
    fi->fallback_pages++;
}

/* Classifies every page of a regular file; a vnode only for the walk. */
static int count_pages(struct xvm_mount *mp, uint32_t ino,
                       struct xvm_file_info *fi)
{
    const struct core *c = mp->vfs->core;
    struct vnode vn = { .mp = mp, .ino = ino, .size = fi->size };
    fi->pages = pg_round(c, fi->size) >> c->pgshift;
    /* Sparse files may outgrow their image, but not absurdly: a corrupt
     * size must not make the walk endless. */
    if (fi->pages > SPARSE_MAX * (mp->flash->seglen >> c->pgshift) + 1024)
        return EFBIG;
    for (uint64_t p = 0; p < fi->pages; p++) {
        enum xip_why why;
        uint64_t pa;
        int error = xip_explain(&vn, p << c->pgshift, &why, &pa);
        if (error)
            return error;
        count_why(fi, why);
    }
    return 0;
}

static int info_visit(void *arg, const char *path, uint32_t ino,
                      enum ffs_type type, const struct ffs_stat *st)
{
    struct info_walk *iw = arg;
    struct core *c = iw->mp->vfs->core;
    struct xvm_file_info fi = {
        .path = path,
        .type = (int)type,
        .size = st->size,
        .alloc_bytes = st->alloc_bytes,
    };
    if (type == FFS_REG) {
        core_quiet_begin(c);
        int error = count_pages(iw->mp, ino, &fi);
        core_quiet_end(c);
        if (error)
            return error;
    }
    return iw->fn(iw->arg, &fi);
}

int xvm_fsinfo(xvm_mount *mp,
               int (*fn)(void *arg, const struct xvm_file_info *fi), void *arg)
{
    if (mp == NULL || fn == NULL)
        return EINVAL;
    struct info_walk iw = { mp, fn, arg };
    return vfs_walk(mp, info_visit, &iw);
}
