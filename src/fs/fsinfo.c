/*
 * fsinfo: how each file of a mounted image would map under XIP, the
 * paper's open question of file-system layout (§11.5).  Runs quiet (see
 * core_quiet_begin), so it never disturbs an experiment's figures.
 *
 * Linear in the image's size: each directory is read once, each regular
 * file's inode is classified once however many links name it (a cache by
 * inode number), from its block map in runs (ffs_bmap_runs), so a hole
 * costs nothing however large and each allocated block is looked at once.
 * Damage does not stop the walk: a corrupt directory record, an
 * unreadable inode or block map, a loop, are each told to the caller as
 * an entry with its error, and the walk goes on with the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vfs.h"

#define MAX_DEPTH 256 /* directories deeper are told, not walked */
#define PATH_CAP  4096
#define STOP      (-2) /* the caller's fn asked to stop (w->stop) */

/* A regular file's classification, kept per inode. */
struct counts {
    uint64_t pages, xip, holes, fallbacks;
    int error;
};

struct walk {
    struct xvm_mount *mp;
    int (*fn)(void *arg, const struct xvm_file_info *fi);
    void *arg;
    char path[PATH_CAP];
    size_t len;
    unsigned depth;
    int first_error;   /* of an entry, returned at the end */
    int stop;          /* the caller's non-zero value */
    struct hmap seen;  /* directories walked: each has one parent */
    struct hmap files; /* inode -> index in counts */
    struct counts *counts;
    size_t ncounts, capcounts;
};

static int walk_dir(struct walk *w, uint32_t ino);

/* Tells the caller an entry (quiet off: the caller's work is counted as
 * usual).  => 0, or STOP when fn asked to stop. */
static int tell(struct walk *w, const struct xvm_file_info *fi)
{
    struct core *c = w->mp->vfs->core;
    if (w->stop)
        return STOP;
    if (fi->error && w->first_error == 0)
        w->first_error = fi->error;
    core_quiet_end(c);
    w->stop = w->fn(w->arg, fi);
    core_quiet_begin(c);
    return w->stop ? STOP : 0;
}

struct classify {
    struct xvm_mount *mp;
    uint64_t size;
    uint32_t bsize, pgsz;
    struct counts *k;
};

/* One run of the block map: every page of an allocated block by the
 * pager's own rule; a hole run in one step. */
static int classify_run(void *arg, uint64_t lblk, uint64_t n, uint64_t dev,
                        uint32_t len)
{
    struct classify *cl = arg;
    uint64_t from = lblk * cl->bsize, to = (lblk + n) * cl->bsize, pa;
    if (to > cl->size)
        to = cl->size;
    from = (from + cl->pgsz - 1) / cl->pgsz * cl->pgsz; /* first whole page */
    if (dev == FFS_HOLE) {
        uint64_t pages = (to + cl->pgsz - 1) / cl->pgsz - from / cl->pgsz;
        cl->k->holes += to > from ? pages : 0;
        return 0;
    }
    for (uint64_t off = from; off < to; off += cl->pgsz) {
        switch (xip_classify_block(cl->mp, cl->size, off, dev, len, &pa)) {
        case XIP_DEVICE: cl->k->xip++; break;
        case XIP_HOLE: cl->k->holes++; break;
        case XIP_FALLBACK: cl->k->fallbacks++; break;
        }
    }
    return 0;
}

/* => the classification of regular file ino of size bytes, made once. */
static int file_counts(struct walk *w, uint32_t ino, uint64_t size,
                       struct counts **out)
{
    struct core *c = w->mp->vfs->core;
    uint64_t v;
    if (hmap_get(&w->files, ino, &v)) {
        *out = &w->counts[v];
        return 0;
    }
    if (w->ncounts == w->capcounts) {
        size_t cap = w->capcounts ? 2 * w->capcounts : 64;
        struct counts *n = core_alloc(c, cap * sizeof(*n));
        if (n == NULL)
            return ENOMEM;
        if (w->ncounts)
            memcpy(n, w->counts, w->ncounts * sizeof(*n));
        core_free(c, w->counts);
        w->counts = n;
        w->capcounts = cap;
    }
    if (hmap_put(c, &w->files, ino, w->ncounts) != 0)
        return ENOMEM;
    struct counts *k = &w->counts[w->ncounts++];
    struct classify cl = { w->mp, size, ffs_bsize(w->mp->fs), c->pgsz, k };
    memset(k, 0, sizeof(*k));
    k->pages = pg_round(c, size) >> c->pgshift;
    k->error = ffs_bmap_runs(w->mp->fs, ino, classify_run, &cl);
    if (k->error == ENOMEM) {
        hmap_del(&w->files, ino);
        w->ncounts--;
        return ENOMEM;
    }
    *out = k;
    return 0;
}

/* Appends "/name" to the path; => its old length, or ENAMETOOLONG. */
static int path_push(struct walk *w, const char *name, size_t *saved)
{
    size_t nlen = strlen(name);
    *saved = w->len;
    if (w->len + 1 + nlen + 1 > PATH_CAP)
        return ENAMETOOLONG;
    w->path[w->len++] = '/';
    memcpy(w->path + w->len, name, nlen + 1);
    w->len += nlen;
    return 0;
}

static void path_pop(struct walk *w, size_t saved)
{
    w->len = saved;
    w->path[saved] = '\0';
}

static int visit(void *arg, const char *name, uint32_t ino, enum ffs_type type)
{
    struct walk *w = arg;
    struct ffs_stat st;
    struct counts *k;
    size_t saved;
    struct xvm_file_info fi = { .path = w->path,
                                .ino = ino,
                                .type = (int)type };
    int rc;
    if ((fi.error = path_push(w, name, &saved)) != 0) {
        fi.path = name; /* the path does not fit: its last name */
        fi.problem = "path longer than 4096 bytes";
        return tell(w, &fi);
    }
    if ((fi.error = ffs_stat(w->mp->fs, ino, &st)) != 0) {
        fi.problem = "unreadable inode";
    } else {
        fi.size = st.size;
        fi.alloc_bytes = st.alloc_bytes;
    }
    if (fi.error == 0 && type == FFS_REG) {
        if ((rc = file_counts(w, ino, st.size, &k)) != 0)
            goto out;
        fi.pages = k->pages;
        if ((fi.error = k->error) != 0) {
            fi.problem = "bad block map";
        } else {
            fi.xip_pages = k->xip;
            fi.hole_pages = k->holes;
            fi.fallback_pages = k->fallbacks;
        }
    }
    if (fi.error == 0 && type == FFS_DIR) {
        /* A directory met twice is a loop in a corrupt image (FFS has no
         * directory hard links): told, not walked again. */
        if (hmap_get(&w->seen, ino, NULL)) {
            fi.error = ELOOP;
            fi.problem = "directory loop";
        } else if (w->depth >= MAX_DEPTH) {
            fi.error = ELOOP;
            fi.problem = "directories nested deeper than 256";
        }
    }
    if ((rc = tell(w, &fi)) == 0 && fi.error == 0 && type == FFS_DIR &&
        (rc = walk_dir(w, ino)) != 0 && rc != STOP && rc != ENOMEM) {
        fi.error = rc;
        fi.problem = "unreadable directory";
        rc = tell(w, &fi);
    }
out:
    path_pop(w, saved);
    return rc;
}

/* A corrupt record or unreadable block of the directory at w->path. */
static void bad_entry(void *arg, const struct ffs_bad_entry *b)
{
    struct walk *w = arg;
    char name[sizeof(b->name) + 40];
    size_t saved;
    struct xvm_file_info fi = { .ino = b->ino, .error = b->error };
    if (b->name[0])
        snprintf(name, sizeof(name), "%s", b->name);
    else
        snprintf(name, sizeof(name), "(entry at byte %llu)",
                 (unsigned long long)b->off);
    fi.problem = b->error == EINVAL ? "corrupt directory entry"
                                    : "unreadable directory block";
    if (path_push(w, name, &saved) != 0) {
        fi.path = w->path;
        (void)tell(w, &fi);
        return;
    }
    fi.path = w->path;
    (void)tell(w, &fi); /* a stop asked here comes with the next entry */
    path_pop(w, saved);
}

/* => 0; STOP, ENOMEM; or the error of the directory itself (its inode,
 *    its size), for the caller to tell. */
static int walk_dir(struct walk *w, uint32_t ino)
{
    if (hmap_put(w->mp->vfs->core, &w->seen, ino, 1) != 0)
        return ENOMEM;
    w->depth++;
    int error = ffs_readdir_salvage(w->mp->fs, ino, visit, bad_entry, w);
    w->depth--;
    return w->stop ? STOP : error;
}

int xvm_fsinfo(xvm_mount *mp,
               int (*fn)(void *arg, const struct xvm_file_info *fi), void *arg)
{
    if (mp == NULL || fn == NULL)
        return EINVAL;
    struct core *c = mp->vfs->core;
    struct walk *w = core_zalloc(c, sizeof(*w));
    if (w == NULL)
        return ENOMEM;
    w->mp = mp;
    w->fn = fn;
    w->arg = arg;
    hmap_init(&w->seen);
    hmap_init(&w->files);
    core_quiet_begin(c);
    int error = walk_dir(w, ffs_root(mp->fs));
    if (error != 0 && error != STOP && error != ENOMEM) {
        struct xvm_file_info fi = { .path = "/",
                                    .ino = ffs_root(mp->fs),
                                    .type = 2,
                                    .error = error,
                                    .problem = "unreadable directory" };
        (void)tell(w, &fi);
        error = 0;
    }
    core_quiet_end(c);
    if (error == STOP)
        error = w->stop;
    else if (error == 0)
        error = w->first_error;
    hmap_fini(c, &w->seen);
    hmap_fini(c, &w->files);
    core_free(c, w->counts);
    core_free(c, w);
    return error;
}
