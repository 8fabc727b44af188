/*
 * fsinfo: how each file of a mounted image would map under XIP, the
 * paper's open question of file-system layout (§11.5); and the walk over
 * a mount's files it is made of, which the per-file report walks too.
 * Both run quiet (see core_quiet_begin), so they never disturb an
 * experiment's figures.
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

struct walk {
    struct xvm_mount *mp;
    vfs_walk_fn fn;
    vfs_walk_bad_fn bad;
    void *arg;
    char path[PATH_CAP];
    size_t len;
    unsigned depth;
    int first_error;  /* of an entry, returned at the end */
    int stop;         /* the caller's non-zero value */
    struct hmap seen; /* directories walked: each has one parent */
};

static int walk_dir(struct walk *w, uint32_t ino);

/* Calls the caller's fn outside the quiet scope (the caller's work is
 * counted as usual).  => 0, or STOP when fn asked to stop. */
static int tell(struct walk *w, uint32_t ino, enum ffs_type type,
                const struct ffs_stat *st)
{
    struct core *c = w->mp->vfs->core;
    if (w->stop)
        return STOP;
    core_quiet_end(c);
    w->stop = w->fn(w->arg, w->path, ino, type, st);
    core_quiet_begin(c);
    return w->stop ? STOP : 0;
}

/* An entry that cannot be read, told to bad (when there is one). */
static int tell_bad(struct walk *w, const char *path, uint32_t ino,
                    enum ffs_type type, int error, const char *problem)
{
    struct core *c = w->mp->vfs->core;
    if (w->stop)
        return STOP;
    if (w->first_error == 0)
        w->first_error = error;
    if (w->bad == NULL)
        return 0;
    core_quiet_end(c);
    w->stop = w->bad(w->arg, path, ino, type, error, problem);
    core_quiet_begin(c);
    return w->stop ? STOP : 0;
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
    size_t saved;
    int rc;
    if (path_push(w, name, &saved) != 0) /* its last name */
        return tell_bad(w, name, ino, type, ENAMETOOLONG,
                        "path longer than 4096 bytes");
    if ((rc = ffs_stat(w->mp->fs, ino, &st)) != 0) {
        rc = tell_bad(w, w->path, ino, type, rc, "unreadable inode");
    } else if (type == FFS_DIR && hmap_get(&w->seen, ino, NULL)) {
        /* A directory met twice is a loop in a corrupt image (FFS has no
         * directory hard links): told, not walked again. */
        rc = tell_bad(w, w->path, ino, type, ELOOP, "directory loop");
    } else if (type == FFS_DIR && w->depth >= MAX_DEPTH) {
        rc = tell_bad(w, w->path, ino, type, ELOOP,
                      "directories nested deeper than 256");
    } else if ((rc = tell(w, ino, type, &st)) == 0 && type == FFS_DIR &&
               (rc = walk_dir(w, ino)) != 0 && rc != STOP && rc != ENOMEM) {
        rc = tell_bad(w, w->path, ino, type, rc, "unreadable directory");
    }
    path_pop(w, saved);
    return rc;
}

/* A corrupt record or unreadable block of the directory at w->path. */
static void bad_entry(void *arg, const struct ffs_bad_entry *b)
{
    struct walk *w = arg;
    char name[sizeof(b->name) + 40];
    size_t saved;
    const char *problem = b->error == EINVAL ? "corrupt directory entry"
                                             : "unreadable directory block";
    if (b->name[0])
        snprintf(name, sizeof(name), "%s", b->name);
    else
        snprintf(name, sizeof(name), "(entry at byte %llu)",
                 (unsigned long long)b->off);
    if (path_push(w, name, &saved) != 0) {
        (void)tell_bad(w, w->path, b->ino, FFS_OTHER, b->error, problem);
        return;
    }
    /* a stop asked here comes with the next entry */
    (void)tell_bad(w, w->path, b->ino, FFS_OTHER, b->error, problem);
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

int vfs_walk(struct xvm_mount *mp, vfs_walk_fn fn, vfs_walk_bad_fn bad,
             void *arg)
{
    struct core *c = mp->vfs->core;
    struct walk *w = core_zalloc(c, sizeof(*w));
    if (w == NULL)
        return ENOMEM;
    w->mp = mp;
    w->fn = fn;
    w->bad = bad;
    w->arg = arg;
    hmap_init(&w->seen);
    core_quiet_begin(c);
    int error = walk_dir(w, ffs_root(mp->fs));
    if (error != 0 && error != STOP && error != ENOMEM) {
        (void)tell_bad(w, "/", ffs_root(mp->fs), FFS_DIR, error,
                       "unreadable directory");
        error = 0;
    }
    core_quiet_end(c);
    if (error == STOP)
        error = w->stop;
    else if (error == 0)
        error = w->first_error;
    hmap_fini(c, &w->seen);
    core_free(c, w);
    return error;
}

/* ---- fsinfo: the walk, each regular file classified ---- */

/* A regular file's classification, kept per inode: its pages by the
 * pager's rule (enum xip_why). */
#define NWHY (XIP_WHY_PAST_EOF + 1)
struct counts {
    uint64_t pages, why[NWHY];
    int error;
};

struct info_walk {
    struct xvm_mount *mp;
    int (*fn)(void *arg, const struct xvm_file_info *fi);
    void *arg;
    struct hmap files; /* inode -> index in counts */
    struct counts *counts;
    size_t ncounts, capcounts;
};

struct classify {
    struct xvm_mount *mp;
    uint64_t size;
    uint32_t bsize, pgsz;
    struct counts *k;
};

/* One run of the block map: every page of an allocated block by the
 * pager's own rule (xip_rule); a hole run in one step. */
static int classify_run(void *arg, uint64_t lblk, uint64_t n, uint64_t dev,
                        uint32_t len)
{
    struct classify *cl = arg;
    uint64_t from = lblk * cl->bsize, to = (lblk + n) * cl->bsize;
    if (to > cl->size)
        to = cl->size;
    from = (from + cl->pgsz - 1) / cl->pgsz * cl->pgsz; /* first whole page */
    if (dev == FFS_HOLE) {
        uint64_t pages = (to + cl->pgsz - 1) / cl->pgsz - from / cl->pgsz;
        cl->k->why[XIP_WHY_HOLE] += to > from ? pages : 0;
        return 0;
    }
    for (uint64_t off = from; off < to; off += cl->pgsz)
        cl->k->why[xip_rule(cl->mp, cl->size, off, dev, len)]++;
    return 0;
}

/* => the classification of regular file ino of size bytes, made once
 *    (quiet, as the walk). */
static int file_counts(struct info_walk *iw, uint32_t ino, uint64_t size,
                       struct counts **out, int *first)
{
    struct core *c = iw->mp->vfs->core;
    uint64_t v;
    *first = 0;
    if (hmap_get(&iw->files, ino, &v)) {
        *out = &iw->counts[v];
        return 0;
    }
    if (iw->ncounts == iw->capcounts) {
        size_t cap = iw->capcounts ? 2 * iw->capcounts : 64;
        struct counts *n = core_alloc(c, cap * sizeof(*n));
        if (n == NULL)
            return ENOMEM;
        if (iw->ncounts)
            memcpy(n, iw->counts, iw->ncounts * sizeof(*n));
        core_free(c, iw->counts);
        iw->counts = n;
        iw->capcounts = cap;
    }
    if (hmap_put(c, &iw->files, ino, iw->ncounts) != 0)
        return ENOMEM;
    struct counts *k = &iw->counts[iw->ncounts++];
    struct classify cl = { iw->mp, size, ffs_bsize(iw->mp->fs), c->pgsz, k };
    memset(k, 0, sizeof(*k));
    k->pages = pg_round(c, size) >> c->pgshift;
    core_quiet_begin(c);
    k->error = ffs_bmap_runs(iw->mp->fs, ino, classify_run, &cl);
    core_quiet_end(c);
    if (k->error == ENOMEM) {
        hmap_del(&iw->files, ino);
        iw->ncounts--;
        return ENOMEM;
    }
    *out = k;
    *first = 1;
    return 0;
}

static int info_visit(void *arg, const char *path, uint32_t ino,
                      enum ffs_type type, const struct ffs_stat *st)
{
    struct info_walk *iw = arg;
    struct counts *k;
    struct xvm_file_info fi = {
        .path = path,
        .ino = ino,
        .type = (int)type,
        .size = st->size,
        .alloc_bytes = st->alloc_bytes,
    };
    if (type == FFS_REG) {
        int error = file_counts(iw, ino, st->size, &k, &fi.first_link);
        if (error)
            return error;
        fi.pages = k->pages;
        if ((fi.error = k->error) != 0) {
            fi.problem = "bad block map";
        } else {
            fi.xip_pages = k->why[XIP_OK];
            fi.hole_pages = k->why[XIP_WHY_HOLE];
            fi.spanning_pages = k->why[XIP_WHY_SPANNING];
            fi.unaligned_pages = k->why[XIP_WHY_UNALIGNED];
            fi.tail_short_pages = k->why[XIP_WHY_TAIL_SHORT];
            fi.past_eof_pages = k->why[XIP_WHY_PAST_EOF];
            fi.fallback_pages = fi.spanning_pages + fi.unaligned_pages +
                                fi.tail_short_pages + fi.past_eof_pages;
        }
    }
    return iw->fn(iw->arg, &fi);
}

static int info_bad(void *arg, const char *path, uint32_t ino,
                    enum ffs_type type, int error, const char *problem)
{
    struct info_walk *iw = arg;
    struct xvm_file_info fi = {
        .path = path,
        .ino = ino,
        .type = (int)type,
        .error = error,
        .problem = problem,
    };
    return iw->fn(iw->arg, &fi);
}

int xvm_fsinfo(xvm_mount *mp,
               int (*fn)(void *arg, const struct xvm_file_info *fi), void *arg)
{
    if (mp == NULL || fn == NULL)
        return EINVAL;
    struct core *c = mp->vfs->core;
    struct info_walk iw = { .mp = mp, .fn = fn, .arg = arg };
    hmap_init(&iw.files);
    int error = vfs_walk(mp, info_visit, info_bad, &iw);
    /* a block map's error is the entry's: the first one once all are told */
    for (size_t i = 0; error == 0 && i < iw.ncounts; i++)
        error = iw.counts[i].error;
    hmap_fini(c, &iw.files);
    core_free(c, iw.counts);
    return error;
}

/* ---- the totals ---- */

static void sum_counts(struct xvm_file_info *sum,
                       const struct xvm_file_info *fi)
{
    sum->size += fi->size;
    sum->alloc_bytes += fi->alloc_bytes;
    sum->pages += fi->pages;
    sum->xip_pages += fi->xip_pages;
    sum->hole_pages += fi->hole_pages;
    sum->fallback_pages += fi->fallback_pages;
    sum->spanning_pages += fi->spanning_pages;
    sum->unaligned_pages += fi->unaligned_pages;
    sum->tail_short_pages += fi->tail_short_pages;
    sum->past_eof_pages += fi->past_eof_pages;
}

void xvm_fsinfo_add(struct xvm_fsinfo_totals *t, const struct xvm_file_info *fi)
{
    if (t == NULL || fi == NULL)
        return;
    if (fi->error) {
        t->damaged++;
        return;
    }
    if (fi->type != FFS_REG)
        return;
    t->regular_files++;
    sum_counts(&t->paths, fi);
    if (!fi->first_link)
        return;
    t->inodes++;
    t->inodes_with_copies += fi->fallback_pages > 0;
    sum_counts(&t->inodes_sum, fi);
}
