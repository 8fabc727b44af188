/*
 * ffs.h - read-only reader for FFS (UFS1 and UFS2) images, either byte order.
 *
 * The reader never trusts the image: every block number, inode number,
 * directory record and symlink is validated, so a corrupt image yields an
 * errno value, never a crash, hang or out-of-bounds access.
 */
#ifndef XVM_FFS_H
#define XVM_FFS_H

#include <stddef.h>
#include <stdint.h>

/* Block I/O and memory for the reader; the VM core supplies these (buffer cache, counted allocator). */
struct ffs_io {
    void *ctx;
    uint64_t size; /* device bytes */
    int (*read)(void *ctx, uint64_t off, void *buf,
                size_t len);             /* 0, or EIO when off+len > size */
    void *(*alloc)(void *ctx, size_t n); /* NULL on failure -> ENOMEM */
    void (*free)(void *ctx, void *p);
    /* => non-zero while the caller inspects (checker, fsinfo): the reader
     *    then keeps nothing it reads.  NULL: never. */
    int (*quiet)(void *ctx);
};

#define FFS_HOLE UINT64_MAX

enum ffs_type { FFS_REG = 1, FFS_DIR, FFS_LNK, FFS_OTHER };

struct ffs_stat {
    uint32_t ino;
    enum ffs_type type;
    uint16_t mode; /* full st_mode: type and permission bits */
    uint32_t nlink;
    uint64_t size;
    uint64_t alloc_bytes; /* di_blocks * 512 */
};

struct ffs; /* opaque mounted file system */

/*
 * => io is copied; io->ctx must stay valid until ffs_unmount.
 * => probes the superblock at 65536 then 8192, either byte order.
 * => 0 and *out set; EINVAL bad image; EIO device shorter than the fs or a
 *    read error; ENOMEM.
 */
int ffs_mount(const struct ffs_io *io, struct ffs **out);

/*
 * The device must not change while mounted (it is read-only flash): the
 * reader keeps the last inode it decoded.  After patching a mounted image
 * on purpose (tests), ffs_invalidate() forgets it, as a remount would.
 */
void ffs_invalidate(struct ffs *fs);

/* => fs may be NULL; frees everything ffs_mount allocated. */
void ffs_unmount(struct ffs *fs);

uint32_t ffs_bsize(const struct ffs *fs);
uint32_t ffs_fsize(const struct ffs *fs);
int ffs_is_ufs2(const struct ffs *fs);
int ffs_is_big_endian(const struct ffs *fs);
uint32_t ffs_root(const struct ffs *fs); /* ROOTINO = 2 */
/* => number of inodes (ncg * ipg); valid inode numbers are 2 .. n-1. */
uint64_t ffs_ninodes(const struct ffs *fs);

/*
 * => path absolute or relative to the root, at most 1023 bytes, components
 *    at most 255 bytes; "." and ".." handled, ".." of the root is the root.
 * => symlinks on intermediate components are always followed; the last
 *    component's only when follow_last; a trailing '/' forces following and
 *    requires a directory.
 * => ENOENT (also for ""), ENOTDIR, ELOOP (more than 32 symlinks),
 *    ENAMETOOLONG, EINVAL (NULL argument or corrupt image), EIO, ENOMEM.
 */
int ffs_namei(struct ffs *fs, const char *path, int follow_last, uint32_t *ino);

/* => EINVAL for inode numbers outside 2 .. ffs_ninodes-1 or NULL st. */
int ffs_stat(struct ffs *fs, uint32_t ino, struct ffs_stat *st);

/*
 * => logical block lblk (bsize bytes) -> device byte offset of its first byte.
 * => *len = bytes allocated there: bsize, or roundup(tail, fsize) for the
 *    last block of a file shorter than NDADDR blocks.
 * => holes and blocks at or past EOF: *dev_off = FFS_HOLE, *len = 0.
 * => EINVAL for block numbers outside the fs or misaligned; EFBIG beyond
 *    triple indirect range; EIO.
 */
int ffs_bmap(struct ffs *fs, uint32_t ino, uint64_t lblk, uint64_t *dev_off,
             uint32_t *len);

/* => reads up to EOF (*done < len only at EOF); holes read as zero. */
int ffs_read(struct ffs *fs, uint32_t ino, uint64_t off, void *buf, size_t len,
             size_t *done);

/*
 * => EINVAL if ino is not a symlink; copies min(size, cap) bytes, adds a
 *    NUL when cap > size; *len = bytes copied (without the NUL).
 */
int ffs_readlink(struct ffs *fs, uint32_t ino, char *buf, size_t cap,
                 size_t *len);

/*
 * => calls fn for each entry except "." and ".."; stops and returns fn's
 *    value if non-zero.  ENOTDIR if ino is not a directory; EINVAL on a
 *    corrupt directory (entries before the corruption were delivered).
 */
int ffs_readdir(struct ffs *fs, uint32_t ino,
                int (*fn)(void *arg, const char *name, uint32_t ino,
                          enum ffs_type type),
                void *arg);

/* A directory record or block that cannot be read (ffs_readdir_salvage). */
struct ffs_bad_entry {
    uint64_t off;           /* its byte offset in the directory */
    uint32_t ino;           /* the record's inode number as stored, or 0 */
    int error;              /* EINVAL (corrupt), EIO... */
    char name[4 * 255 + 1]; /* its name as far as it can be read ("\xNN"
                               for bytes that cannot be shown), or "" */
};
typedef void (*ffs_bad_fn)(void *arg, const struct ffs_bad_entry *b);

/*
 * ffs_readdir that goes on past damage: a corrupt record (and the rest of
 * its 512-byte chunk, whose chain is broken) or an unreadable block goes
 * to bad, then the walk continues with the next chunk or block.  The
 * return value is for the directory itself (ENOTDIR, EINVAL for its
 * inode or size, ENOMEM) or fn's non-zero value.
 */
int ffs_readdir_salvage(struct ffs *fs, uint32_t ino,
                        int (*fn)(void *arg, const char *name, uint32_t ino,
                                  enum ffs_type type),
                        ffs_bad_fn bad, void *arg);

/*
 * The block map of a file in runs, in order: fn(arg, lblk, n, dev_off,
 * len) for each allocated block (n 1; dev_off and len as ffs_bmap says)
 * and for each run of holes up to EOF (dev_off FFS_HOLE, len 0), however
 * long.  Each indirect block is read once and a missing one is a hole
 * run: the walk is linear in the file's allocated blocks.
 * => 0; the errors of ffs_bmap (EINVAL, EFBIG for a file past triple
 *    indirect, EIO); ENOMEM; or fn's non-zero value.
 */
typedef int (*ffs_run_fn)(void *arg, uint64_t lblk, uint64_t n,
                          uint64_t dev_off, uint32_t len);
int ffs_bmap_runs(struct ffs *fs, uint32_t ino, ffs_run_fn fn, void *arg);

/*
 * => device byte offset of direct block pointer i (< 12) of inode ino and
 *    the pointer's size (4 UFS1, 8 UFS2): lets tests punch holes in images,
 *    which makefs never writes.
 */
int ffs_db_offset(const struct ffs *fs, uint32_t ino, unsigned i, uint64_t *off,
                  unsigned *ptr_size);

#endif /* XVM_FFS_H */
