/*
 * The file-system layer: mounts of a read-only FFS on a flash, vnodes
 * (each one a uvm_object with a vnode or XIP pager), open files, read().
 */
#ifndef XVM_VFS_H
#define XVM_VFS_H

#include <stdbool.h>
#include <stdint.h>

#include "bufcache.h"
#include "check.h"
#include "core.h"
#include "ffs.h"
#include "flash.h"
#include "hmap.h"
#include "object.h"
#include "runs.h"
#include "xipvm.h"

/* The layer's state: every mount of a machine, and the layer's counters. */
struct vfs {
    struct core *core;
    struct physmem *ph;
    struct objects *objs;
    struct xvm_mount *mounts;
    struct xvm_file *files;   /* open files, freed with the machine */
    struct buf_stats buf;     /* every mount's buffer cache */
    uint64_t pagecache_fills; /* file pages read into RAM */
    uint64_t readahead_pages; /* of which read ahead */
    uint64_t fallback_pages;  /* XIP pages that needed a copy */
    uint64_t xip_hole_maps;   /* XIP holes mapped to the zero page */
};

/*
 * Per-file accounting (acct.c), for the per-file report: distinct pages
 * of the file in each map below, copies on write of its pages, and the
 * address spaces that mapped it.  One record per inode of a mount.
 */
enum acct_map {
    ACCT_TOUCHED,  /* asked of the pager by a fault or read() */
    ACCT_IN_PLACE, /* of those, given as device pages (XIP) */
    ACCT_CACHED,   /* read into the page cache (read-ahead too) */
    ACCT_WRITTEN,  /* copied on write into an anon at least once */
    ACCT_MAPS
};

struct file_acct {
    uint32_t ino;
    uint64_t npages;
    struct runs bits;          /* page -> its maps and counts (acct.c) */
    uint64_t pages[ACCT_MAPS]; /* bits set in each */
    uint64_t copied;           /* copy-on-write copies of its pages */
    uint64_t text_copied;      /* of those, in executable mappings */
    uint64_t processes;        /* address spaces that mapped it */
};

struct xvm_mount {
    struct vfs *vfs;
    struct xvm_flash *flash;
    struct xvm_mount_config cfg;
    bool xip;           /* mount and vnodes XIP-capable (§4.4) */
    uint64_t phys_base; /* asked of the device at mount (§8.2) */
    struct bufcache bc;
    struct ffs *fs;                /* metadata through the buffer cache */
    struct hmap vnodes;            /* ino -> struct vnode * */
    struct hmap accts;             /* ino -> struct file_acct * */
    struct xvm_mount *next, *prev; /* the layer's list */
};

struct vnode {
    struct xvm_mount *mp;
    struct xvm_object *obj; /* obj->priv == this vnode */
    uint32_t ino;
    uint64_t size;
    struct file_acct *acct; /* the mount's record of this inode */
};

struct xvm_file {
    struct vnode *vp; /* holds one reference on vp->obj */
    int oflags;
    struct xvm_file *next, *prev; /* on vfs->files */
};

/* Closes the files left open (the machine is being destroyed). */
void vfs_close_files(struct vfs *vfs);

void vfs_init(struct vfs *vfs, struct core *core, struct physmem *ph,
              struct objects *objs);

/* => EINVAL for a bad image; EOPNOTSUPP for xip on a flash whose window
 *    is not a device segment; EBUSY when f is mounted already. */
int vfs_mount(struct vfs *vfs, struct xvm_flash *f,
              const struct xvm_mount_config *cfg, struct xvm_mount **out);

/* => the vnode for a regular file, with one new reference on its object. */
int vnode_get(struct xvm_mount *mp, uint32_t ino, struct vnode **out);
/* The pagers' shared detach: the vnode leaves its mount. */
void vnode_detach(struct xvm_object *obj);

/* => a second open file on the same vnode (a process's text at fork). */
int file_dup(struct xvm_file *f, struct xvm_file **out);

/* vnode_pager.c: the page cache (copy mode and XIP fallbacks). */
extern const struct pager_ops vnode_pager;
/* Page-cache page at off: resident, or read from flash (ENOENT if
 * PGO_LOCKED and not resident).  => readahead: pages to read after it. */
int vnode_cache_get(struct vnode *vp, uint64_t off, unsigned flags,
                    unsigned readahead, pageh *pg);

/* xip_pager.c */
extern const struct pager_ops xip_pager;
enum xip_kind { XIP_DEVICE, XIP_HOLE, XIP_FALLBACK };
/* How file page off maps under XIP; *pa for XIP_DEVICE. */
int xip_classify(struct vnode *vp, uint64_t off, enum xip_kind *kind,
                 uint64_t *pa);
/* Why a page maps as it does: the XIP pager's one rule, the first test
 * a page fails (fsinfo tells them). */
enum xip_why {
    XIP_OK,             /* in place */
    XIP_WHY_HOLE,       /* a hole: the zero page */
    XIP_WHY_SPANNING,   /* blocks smaller than a page: it spans several */
    XIP_WHY_UNALIGNED,  /* it starts off a page boundary on flash */
    XIP_WHY_TAIL_SHORT, /* a fragment tail ending before the page does */
    XIP_WHY_PAST_EOF,   /* bytes past EOF not zero on flash */
};
/* => the rule for page off of a file of size bytes, its block at dev
 *    with alen bytes allocated there (ffs_bmap's). */
enum xip_why xip_rule(struct xvm_mount *mp, uint64_t size, uint64_t off,
                      uint64_t dev, uint32_t alen);
/* xip_rule for page off of vp (its block map read); *pa for XIP_OK. */
int xip_explain(struct vnode *vp, uint64_t off, enum xip_why *why,
                uint64_t *pa);

/* acct.c: the record of inode ino (size bytes), made on first use. */
int acct_get(struct xvm_mount *mp, uint32_t ino, uint64_t size,
             struct file_acct **out);
/* => the record of ino, or NULL when nothing was ever counted for it. */
const struct file_acct *acct_find(const struct xvm_mount *mp, uint32_t ino);
/* Page pgidx of the file enters map which (counted once). */
void acct_page(struct core *c, struct file_acct *a, enum acct_map which,
               uint64_t pgidx);
/* A copy on write of page pgidx into an anon (text: in a mapping that
 * was ever executable). */
void acct_copy(struct core *c, struct file_acct *a, uint64_t pgidx, bool text);
/* Calls fn for each page the record counted anything for, in page order.
 * => 0, fn's non-zero value, or ENOMEM. */
int acct_pages(struct core *c, const struct file_acct *a,
               int (*fn)(void *arg, const struct xvm_page_report *pr),
               void *arg);
/* => the record behind a vnode's object, or NULL for other objects. */
struct file_acct *vnode_acct(const struct xvm_object *obj);
/* Frees every record of the mount. */
void acct_fini(struct xvm_mount *mp);

/*
 * Walks every file, directory and link of the mount, depth first, quiet
 * (core_quiet_begin); fn and bad run outside the quiet scope.  fsinfo and
 * the per-file report are both walks.  Each directory is read once; an
 * entry that cannot be read (a corrupt record, its inode, a directory
 * loop, a path too long) goes to bad (NULL: skipped) and the walk goes
 * on.  A non-zero return from fn or bad stops the walk and is returned.
 * => 0, or the first entry's error once all are told, or ENOMEM.
 */
typedef int (*vfs_walk_fn)(void *arg, const char *path, uint32_t ino,
                           enum ffs_type type, const struct ffs_stat *st);
typedef int (*vfs_walk_bad_fn)(void *arg, const char *path, uint32_t ino,
                               enum ffs_type type, int error,
                               const char *problem);
int vfs_walk(struct xvm_mount *mp, vfs_walk_fn fn, vfs_walk_bad_fn bad,
             void *arg);

/* Mounts, their vnodes (one per inode, each on a live object that names
 * it) and their buffer caches. */
void vfs_check(const struct vfs *vfs, struct check *ck);

#endif
