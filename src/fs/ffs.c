/*
 * ffs.c - read-only FFS (UFS1/UFS2) reader.
 *
 * Every value taken from the image is range-checked before use; integers are
 * decoded byte by byte in the file system's byte order, so the host byte
 * order and alignment never matter.
 */
#include "ffs.h"
#include "ffs_format.h"

#include <errno.h>
#include <string.h>

/* Decoded dinode: only the fields the reader uses. */
struct ffs_inode {
    uint32_t ino;
    uint16_t mode;
    uint32_t nlink;
    uint64_t size;
    uint64_t blocks;
    int64_t db[FFS_NDADDR];
    int64_t ib[FFS_NIADDR];
    uint8_t shortlink[FFS_MAXSYMLINKLEN_UFS2];
};

struct ffs {
    struct ffs_io io;
    int ufs2;
    int big; /* file system is big-endian */
    uint32_t bsize, fsize, frag;
    unsigned bshift, fshift, fragshift;
    uint32_t nindir;
    unsigned nindir_shift;
    uint32_t ptr_size; /* 4 (UFS1) or 8 (UFS2) */
    uint32_t dinode_size;
    uint32_t inopb, ipg, fpg, ncg;
    uint32_t iblkno;
    uint32_t old_cgoffset, old_cgmask;
    uint64_t size_frags; /* fs size in fragments */
    uint32_t maxsymlinklen;
    uint64_t ninodes;
    /* The last inode read: bmap asks for the same one page after page,
     * and a read-only image never changes it. */
    struct ffs_inode last;
    int last_ok;
};

/* Byte-order aware decoders. */

static uint64_t get_n(int big, const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[big ? i : n - 1 - i] << (8 * (n - 1 - i));
    return v;
}

static uint16_t get16(int big, const uint8_t *p)
{
    return (uint16_t)get_n(big, p, 2);
}
static uint32_t get32(int big, const uint8_t *p)
{
    return (uint32_t)get_n(big, p, 4);
}
static uint64_t get64(int big, const uint8_t *p)
{
    return get_n(big, p, 8);
}

/* Signed decoders without implementation-defined conversions. */
static int64_t sget32(int big, const uint8_t *p)
{
    uint32_t v = get32(big, p);
    return v & 0x80000000u ? -(int64_t)(~v) - 1 : (int64_t)v;
}

static int64_t sget64(int big, const uint8_t *p)
{
    uint64_t v = get64(big, p);
    return v & UINT64_C(0x8000000000000000) ? -(int64_t)(~v) - 1 : (int64_t)v;
}

/* log2 of v if v is a power of two, else -1. */
static int ilog2_exact(int64_t v)
{
    if (v <= 0 || (v & (v - 1)) != 0)
        return -1;
    int s = 0;
    while ((INT64_C(1) << s) != v)
        s++;
    return s;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Superblock parsing. */

/* Detect magic in either byte order; 0 if none. */
static int sb_magic(const uint8_t *sb, int *big, int *ufs2)
{
    for (int b = 0; b < 2; b++) {
        uint32_t m = get32(b, sb + FFS_SB_MAGIC);
        if (m == FFS_UFS1_MAGIC || m == FFS_UFS2_MAGIC) {
            *big = b;
            *ufs2 = m == FFS_UFS2_MAGIC;
            return 1;
        }
    }
    return 0;
}

/* Block/fragment geometry: powers of two, consistent shifts. */
static int sb_geometry(struct ffs *fs, const uint8_t *sb)
{
    int big = fs->big;
    int64_t bsize = sget32(big, sb + FFS_SB_BSIZE);
    int64_t fsize = sget32(big, sb + FFS_SB_FSIZE);
    int bshift = ilog2_exact(bsize), fshift = ilog2_exact(fsize);

    if (bshift < 12 || bshift > 16 || fshift < 9 || fshift > bshift)
        return EINVAL;
    if (bshift - fshift > 3) /* MAXFRAG is 8 */
        return EINVAL;
    if (sget32(big, sb + FFS_SB_FRAG) != bsize / fsize ||
        sget32(big, sb + FFS_SB_BSHIFT) != bshift ||
        sget32(big, sb + FFS_SB_FSHIFT) != fshift ||
        sget32(big, sb + FFS_SB_FRAGSHIFT) != bshift - fshift)
        return EINVAL;
    fs->bsize = (uint32_t)bsize;
    fs->fsize = (uint32_t)fsize;
    fs->frag = (uint32_t)(bsize / fsize);
    fs->bshift = (unsigned)bshift;
    fs->fshift = (unsigned)fshift;
    fs->fragshift = (unsigned)(bshift - fshift);
    fs->ptr_size = fs->ufs2 ? 8 : 4;
    fs->dinode_size = fs->ufs2 ? FFS_DINODE2_SIZE : FFS_DINODE1_SIZE;
    fs->nindir = fs->bsize / fs->ptr_size;
    fs->nindir_shift = (unsigned)(bshift - (fs->ufs2 ? 3 : 2));
    fs->inopb = fs->bsize / fs->dinode_size;
    if (sget32(big, sb + FFS_SB_NINDIR) != fs->nindir ||
        sget32(big, sb + FFS_SB_INOPB) != fs->inopb)
        return EINVAL;
    return 0;
}

/* Cylinder groups and inode area. */
static int sb_groups(struct ffs *fs, const uint8_t *sb)
{
    int big = fs->big;
    int64_t ncg = sget32(big, sb + FFS_SB_NCG);
    int64_t ipg = sget32(big, sb + FFS_SB_IPG);
    int64_t fpg = sget32(big, sb + FFS_SB_FPG);
    int64_t iblkno = sget32(big, sb + FFS_SB_IBLKNO);

    if (ncg < 1 || ipg < 1 || fpg < 1 || iblkno < 0)
        return EINVAL;
    if (ipg % fs->inopb != 0 || fpg % fs->frag != 0)
        return EINVAL;
    /* The inode blocks must fit inside a cylinder group. */
    if ((uint64_t)iblkno + ((uint64_t)(ipg / fs->inopb) << fs->fragshift) >
        (uint64_t)fpg)
        return EINVAL;
    fs->ncg = (uint32_t)ncg;
    fs->ipg = (uint32_t)ipg;
    fs->fpg = (uint32_t)fpg;
    fs->iblkno = (uint32_t)iblkno;
    fs->ninodes = (uint64_t)ncg * (uint64_t)ipg;
    if (fs->ninodes > UINT64_C(0x100000000)) /* inode numbers are 32-bit */
        return EINVAL;
    if (!fs->ufs2) {
        int64_t cgoff = sget32(big, sb + FFS_SB_OLD_CGOFFSET);
        if (cgoff < 0 || cgoff >= fpg)
            return EINVAL;
        fs->old_cgoffset = (uint32_t)cgoff;
        fs->old_cgmask = get32(big, sb + FFS_SB_OLD_CGMASK);
    }
    return 0;
}

/* File system size (in frags) against the groups and the device. */
static int sb_size(struct ffs *fs, const uint8_t *sb, uint64_t dev_size)
{
    int big = fs->big;
    int64_t size;

    /* UFS1 without FS_FLAGS_UPDATED only has the 32-bit fs_old_size. */
    if (fs->ufs2 || (sb[FFS_SB_OLD_FLAGS] & FFS_FLAGS_UPDATED))
        size = sget64(big, sb + FFS_SB_SIZE);
    else
        size = sget32(big, sb + FFS_SB_OLD_SIZE);
    if (size < 1)
        return EINVAL;
    if ((uint64_t)size > (uint64_t)fs->ncg * fs->fpg ||
        (uint64_t)size <= (uint64_t)(fs->ncg - 1) * fs->fpg)
        return EINVAL;
    if ((uint64_t)size > (UINT64_MAX >> fs->fshift))
        return EINVAL;
    fs->size_frags = (uint64_t)size;
    if (fs->size_frags << fs->fshift > dev_size)
        return EIO; /* valid fs on a short device */
    return 0;
}

/* Remaining format parameters. */
static int sb_misc(struct ffs *fs, const uint8_t *sb, uint32_t loc)
{
    int big = fs->big;
    int64_t maxsym = sget32(big, sb + FFS_SB_MAXSYMLINKLEN);

    if (maxsym < 0 ||
        maxsym > (fs->ufs2 ? FFS_MAXSYMLINKLEN_UFS2 : FFS_MAXSYMLINKLEN_UFS1))
        return EINVAL;
    fs->maxsymlinklen = (uint32_t)maxsym;
    /* A UFS2 superblock records where it lives; a mismatch is a stray copy. */
    if (fs->ufs2 && sget64(big, sb + FFS_SB_SBLOCKLOC) != (int64_t)loc)
        return EINVAL;
    /* UFS1 only at 8192: a UFS1 magic at 65536 is a backup or data. */
    if (!fs->ufs2 && loc != FFS_SBLOCK_UFS1)
        return EINVAL;
    /* Only 4.4BSD directories (with d_type) are supported. */
    if (!fs->ufs2 && sget32(big, sb + FFS_SB_OLD_INODEFMT) != FFS_44INODEFMT)
        return EINVAL;
    return 0;
}

static int parse_sb(struct ffs *fs, const uint8_t *sb, uint32_t loc,
                    uint64_t dev_size)
{
    int err;

    if (!sb_magic(sb, &fs->big, &fs->ufs2))
        return EINVAL;
    if ((err = sb_misc(fs, sb, loc)) != 0 || (err = sb_geometry(fs, sb)) != 0 ||
        (err = sb_groups(fs, sb)) != 0 ||
        (err = sb_size(fs, sb, dev_size)) != 0)
        return err;
    return 0;
}

/* Inodes. */

static int is_fast_symlink(const struct ffs *fs, const struct ffs_inode *ip)
{
    return ip->size < fs->maxsymlinklen ||
           (fs->maxsymlinklen == 0 && ip->blocks == 0);
}

static void decode_inode(const struct ffs *fs, const uint8_t *raw,
                         struct ffs_inode *ip)
{
    int big = fs->big;

    if (fs->ufs2) {
        ip->mode = get16(big, raw + FFS_DI2_MODE);
        ip->nlink = get16(big, raw + FFS_DI2_NLINK);
        ip->size = get64(big, raw + FFS_DI2_SIZE);
        ip->blocks = get64(big, raw + FFS_DI2_BLOCKS);
        for (unsigned i = 0; i < FFS_NDADDR; i++)
            ip->db[i] = sget64(big, raw + FFS_DI2_DB + 8 * i);
        for (unsigned i = 0; i < FFS_NIADDR; i++)
            ip->ib[i] = sget64(big, raw + FFS_DI2_IB + 8 * i);
        memcpy(ip->shortlink, raw + FFS_DI2_SHORTLINK, FFS_MAXSYMLINKLEN_UFS2);
    } else {
        ip->mode = get16(big, raw + FFS_DI1_MODE);
        ip->nlink = get16(big, raw + FFS_DI1_NLINK);
        ip->size = get64(big, raw + FFS_DI1_SIZE);
        ip->blocks = get32(big, raw + FFS_DI1_BLOCKS);
        for (unsigned i = 0; i < FFS_NDADDR; i++)
            ip->db[i] = sget32(big, raw + FFS_DI1_DB + 4 * i);
        for (unsigned i = 0; i < FFS_NIADDR; i++)
            ip->ib[i] = sget32(big, raw + FFS_DI1_IB + 4 * i);
        memcpy(ip->shortlink, raw + FFS_DI1_SHORTLINK, FFS_MAXSYMLINKLEN_UFS1);
    }
}

/* Locate inode ino: cgimin + block within the inode area + slot. */
static int inode_offset(const struct ffs *fs, uint32_t ino, uint64_t *off)
{
    uint64_t cg, start, fsba;

    if (ino < FFS_ROOTINO || ino >= fs->ninodes)
        return EINVAL;
    cg = ino / fs->ipg;
    start = (uint64_t)fs->fpg * cg;
    if (!fs->ufs2)
        start += (uint64_t)fs->old_cgoffset * (cg & ~(uint64_t)fs->old_cgmask);
    fsba = start + fs->iblkno +
           ((uint64_t)((ino % fs->ipg) / fs->inopb) << fs->fragshift);
    if (fsba + fs->frag > fs->size_frags)
        return EINVAL;
    *off = (fsba << fs->fshift) + (uint64_t)(ino % fs->inopb) * fs->dinode_size;
    return 0;
}

int ffs_db_offset(const struct ffs *fs, uint32_t ino, unsigned i, uint64_t *off,
                  unsigned *ptr_size)
{
    int err = i < FFS_NDADDR ? inode_offset(fs, ino, off) : EINVAL;
    if (err == 0) {
        *off +=
            (fs->ufs2 ? FFS_DI2_DB : FFS_DI1_DB) + (uint64_t)i * fs->ptr_size;
        *ptr_size = fs->ptr_size;
    }
    return err;
}

/* Read and decode inode ino. */
static int read_inode(struct ffs *fs, uint32_t ino, struct ffs_inode *ip)
{
    uint8_t raw[FFS_DINODE2_SIZE];
    uint64_t off;
    int err;

    /* Inspection must not change what later reads cost: no cache then. */
    int cache = fs->io.quiet == NULL || !fs->io.quiet(fs->io.ctx);
    if (cache && fs->last_ok && fs->last.ino == ino) {
        *ip = fs->last;
        return 0;
    }
    if ((err = inode_offset(fs, ino, &off)) != 0)
        return err;
    err = fs->io.read(fs->io.ctx, off, raw, fs->dinode_size);
    if (err != 0)
        return err;
    memset(ip, 0, sizeof(*ip));
    ip->ino = ino;
    decode_inode(fs, raw, ip);
    if (ip->size > (uint64_t)INT64_MAX)
        return EINVAL;
    if (cache) {
        fs->last = *ip;
        fs->last_ok = 1;
    }
    return 0;
}

/* Block mapping. */

/* A run of nfrags starting at frag addr must lie in the fs and inside one block. */
static int check_run(const struct ffs *fs, int64_t addr, uint32_t nfrags)
{
    if (addr < 0 || (uint64_t)addr + nfrags > fs->size_frags)
        return EINVAL;
    if (((uint64_t)addr & (fs->frag - 1)) + nfrags > fs->frag)
        return EINVAL;
    return 0;
}

/* Read one block pointer: entry idx of the indirect block at frag addr. */
static int read_ptr(struct ffs *fs, int64_t blk, uint64_t idx, int64_t *out)
{
    uint8_t b[8];
    int err = check_run(fs, blk, fs->frag);

    if (err != 0)
        return err;
    err = fs->io.read(fs->io.ctx,
                      ((uint64_t)blk << fs->fshift) + idx * fs->ptr_size, b,
                      fs->ptr_size);
    if (err != 0)
        return err;
    *out = fs->ufs2 ? sget64(fs->big, b) : sget32(fs->big, b);
    return 0;
}

/* rel = lblk - NDADDR; walk single, double or triple indirect blocks. */
static int walk_indirect(struct ffs *fs, const struct ffs_inode *ip,
                         uint64_t rel, int64_t *addr)
{
    unsigned level = 0;
    uint64_t span = fs->nindir;
    int64_t blk;

    while (rel >= span) {
        rel -= span;
        if (++level == FFS_NIADDR)
            return EFBIG;
        span <<= fs->nindir_shift;
    }
    blk = ip->ib[level];
    for (int d = (int)level; d >= 0 && blk != 0; d--) {
        uint64_t idx =
            (rel >> (fs->nindir_shift * (unsigned)d)) & (fs->nindir - 1);
        int err = read_ptr(fs, blk, idx, &blk);
        if (err != 0)
            return err;
    }
    *addr = blk;
    return 0;
}

static int bmap_inode(struct ffs *fs, const struct ffs_inode *ip, uint64_t lblk,
                      uint64_t *dev_off, uint32_t *len)
{
    uint64_t nblocks = (ip->size + fs->bsize - 1) >> fs->bshift;
    uint32_t nfrags = fs->frag;
    int64_t addr;
    int err;

    *dev_off = FFS_HOLE;
    *len = 0;
    if (lblk >= nblocks)
        return 0;
    /* Only a direct block can end in a fragment run. */
    if (lblk < FFS_NDADDR && ip->size < (lblk + 1) << fs->bshift) {
        uint64_t tail = ip->size & (fs->bsize - 1);
        nfrags = (uint32_t)((tail + fs->fsize - 1) >> fs->fshift);
    }
    if (lblk < FFS_NDADDR)
        addr = ip->db[lblk];
    else if ((err = walk_indirect(fs, ip, lblk - FFS_NDADDR, &addr)) != 0)
        return err;
    if (addr == 0)
        return 0;
    if ((err = check_run(fs, addr, nfrags)) != 0)
        return err;
    *dev_off = (uint64_t)addr << fs->fshift;
    *len = nfrags << fs->fshift;
    return 0;
}

/*
 * The block map in runs, for whole-file walks (fsinfo): every allocated
 * block once, every hole as one run however large, each indirect block
 * read once.  The same checks as bmap_inode, block for block.
 */
struct runs {
    struct ffs *fs;
    const struct ffs_inode *ip;
    uint64_t nblocks;
    uint64_t hole_at, hole_n; /* a hole run not yet told */
    ffs_run_fn fn;
    void *arg;
    uint8_t *ind[FFS_NIADDR]; /* one indirect block per level */
};

static int run_flush(struct runs *r)
{
    int err = 0;
    if (r->hole_n)
        err = r->fn(r->arg, r->hole_at, r->hole_n, FFS_HOLE, 0);
    r->hole_n = 0;
    return err;
}

/* Blocks [lblk, lblk + n) are a hole (clipped to EOF). */
static int run_hole(struct runs *r, uint64_t lblk, uint64_t n)
{
    if (lblk >= r->nblocks)
        return 0;
    n = min_u64(n, r->nblocks - lblk);
    if (r->hole_n && r->hole_at + r->hole_n == lblk) {
        r->hole_n += n;
        return 0;
    }
    int err = run_flush(r);
    r->hole_at = lblk;
    r->hole_n = n;
    return err;
}

static int run_block(struct runs *r, uint64_t lblk, int64_t addr)
{
    struct ffs *fs = r->fs;
    uint32_t nfrags = fs->frag;
    int err;
    if (addr == 0)
        return run_hole(r, lblk, 1);
    if (lblk < FFS_NDADDR && r->ip->size < (lblk + 1) << fs->bshift) {
        uint64_t tail = r->ip->size & (fs->bsize - 1);
        nfrags = (uint32_t)((tail + fs->fsize - 1) >> fs->fshift);
    }
    if ((err = check_run(fs, addr, nfrags)) != 0 || (err = run_flush(r)) != 0)
        return err;
    return r->fn(r->arg, lblk, 1, (uint64_t)addr << fs->fshift,
                 nfrags << fs->fshift);
}

/* The tree below indirect block blk at level d (0: pointers to data),
 * mapping span blocks from lblk. */
static int run_tree(struct runs *r, int64_t blk, unsigned d, uint64_t lblk,
                    uint64_t span)
{
    struct ffs *fs = r->fs;
    uint64_t child = span >> fs->nindir_shift;
    int err;
    if (lblk >= r->nblocks)
        return 0;
    if (blk == 0)
        return run_hole(r, lblk, span);
    if ((err = check_run(fs, blk, fs->frag)) != 0 ||
        (err = fs->io.read(fs->io.ctx, (uint64_t)blk << fs->fshift, r->ind[d],
                           fs->bsize)) != 0)
        return err;
    for (uint32_t i = 0; i < fs->nindir && lblk + i * child < r->nblocks; i++) {
        const uint8_t *p = r->ind[d] + (size_t)i * fs->ptr_size;
        int64_t a = fs->ufs2 ? sget64(fs->big, p) : sget32(fs->big, p);
        err = d == 0 ? run_block(r, lblk + i, a)
                     : run_tree(r, a, d - 1, lblk + i * child, child);
        if (err != 0)
            return err;
    }
    return 0;
}

int ffs_bmap_runs(struct ffs *fs, uint32_t ino, ffs_run_fn fn, void *arg)
{
    struct ffs_inode ip;
    struct runs r = { .fs = fs, .ip = &ip, .fn = fn, .arg = arg };
    int err;
    if (fs == NULL || fn == NULL)
        return EINVAL;
    if ((err = read_inode(fs, ino, &ip)) != 0)
        return err;
    r.nblocks = (ip.size + fs->bsize - 1) >> fs->bshift;
    uint64_t lblk = FFS_NDADDR, span = fs->nindir, max = FFS_NDADDR;
    for (unsigned l = 0; l < FFS_NIADDR; l++, span <<= fs->nindir_shift)
        max += span;
    if (r.nblocks > max)
        return EFBIG; /* past triple indirect: bmap says so too */
    for (uint64_t b = 0; b < FFS_NDADDR && b < r.nblocks && err == 0; b++)
        err = run_block(&r, b, ip.db[b]);
    span = fs->nindir;
    for (unsigned l = 0; l < FFS_NIADDR && err == 0 && lblk < r.nblocks; l++) {
        if ((r.ind[l] = fs->io.alloc(fs->io.ctx, fs->bsize)) == NULL)
            err = ENOMEM;
        else
            err = run_tree(&r, ip.ib[l], l, lblk, span);
        lblk += span;
        span <<= fs->nindir_shift;
    }
    if (err == 0)
        err = run_flush(&r);
    for (unsigned l = 0; l < FFS_NIADDR; l++)
        if (r.ind[l])
            fs->io.free(fs->io.ctx, r.ind[l]);
    return err;
}

/* Read file bytes [off, off+len) clipped to EOF; holes zero. */
static int read_data(struct ffs *fs, const struct ffs_inode *ip, uint64_t off,
                     uint8_t *p, size_t len, size_t *done)
{
    uint64_t want;

    *done = 0;
    if (off >= ip->size)
        return 0;
    want = min_u64(len, ip->size - off);
    while (want > 0) {
        uint64_t lblk = off >> fs->bshift, boff = off & (fs->bsize - 1);
        uint64_t n = min_u64(fs->bsize - boff, want), dev_off;
        uint32_t blen;
        int err = bmap_inode(fs, ip, lblk, &dev_off, &blen);

        if (err != 0)
            return err;
        if (dev_off == FFS_HOLE)
            memset(p, 0, (size_t)n);
        else if (boff + n > blen)
            return EINVAL;
        else if ((err = fs->io.read(fs->io.ctx, dev_off + boff, p,
                                    (size_t)n)) != 0)
            return err;
        p += n;
        off += n;
        want -= n;
        *done += (size_t)n;
    }
    return 0;
}

/* Directories. */

typedef int (*dirent_fn)(struct ffs *fs, void *arg, const char *name,
                         size_t namlen, uint32_t ino, unsigned dtype);

/* Walk one DIRBLKSIZ chunk; entries never straddle chunks.  On EINVAL,
 * *fault is the offset of the bad record in the chunk. */
static int parse_chunk(struct ffs *fs, const uint8_t *c, dirent_fn fn,
                       void *arg, uint32_t *fault)
{
    char name[FFS_MAXNAMLEN + 1];
    uint32_t pos = 0;

    while (pos < FFS_DIRBLKSIZ) {
        const uint8_t *e = c + pos;
        uint32_t ino, reclen, namlen;
        int rc;

        *fault = pos;
        if (FFS_DIRBLKSIZ - pos < FFS_DIRENT_NAME)
            return EINVAL;
        ino = get32(fs->big, e + FFS_DIRENT_INO);
        reclen = get16(fs->big, e + FFS_DIRENT_RECLEN);
        namlen = e[FFS_DIRENT_NAMLEN];
        if (reclen < FFS_DIRENT_NAME || reclen % 4 != 0 ||
            reclen > FFS_DIRBLKSIZ - pos)
            return EINVAL;
        pos += reclen;
        if (ino == 0)
            continue; /* free slot */
        if (namlen == 0 || FFS_DIRENT_NAME + namlen > reclen)
            return EINVAL;
        if (ino < FFS_ROOTINO || ino >= fs->ninodes)
            return EINVAL;
        memcpy(name, e + FFS_DIRENT_NAME, namlen);
        name[namlen] = '\0';
        if (memchr(name, '\0', namlen) != NULL ||
            memchr(name, '/', namlen) != NULL)
            return EINVAL;
        rc = fn(fs, arg, name, namlen, ino, e[FFS_DIRENT_TYPE]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* What can be read of a bad record at e (rest bytes left in its chunk). */
static void describe_bad(const struct ffs *fs, const uint8_t *e, uint32_t rest,
                         uint64_t off, struct ffs_bad_entry *b)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    memset(b, 0, sizeof(*b));
    b->off = off;
    b->error = EINVAL;
    if (rest < FFS_DIRENT_NAME)
        return;
    b->ino = get32(fs->big, e + FFS_DIRENT_INO);
    uint32_t n = e[FFS_DIRENT_NAMLEN];
    if (n > rest - FFS_DIRENT_NAME)
        n = rest - FFS_DIRENT_NAME;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t ch = e[FFS_DIRENT_NAME + i];
        if (ch > 0x20 && ch < 0x7f && ch != '/' && ch != '\\') {
            b->name[k++] = (char)ch;
        } else { /* \xNN: the name may hold anything */
            b->name[k++] = '\\', b->name[k++] = 'x';
            b->name[k++] = hex[ch >> 4], b->name[k++] = hex[ch & 15];
        }
    }
    b->name[k] = '\0';
}

/*
 * Calls fn for every live entry of directory ip; fn's non-zero value stops.
 * bad NULL: the first corrupt record or block is the error.  Else each
 * goes to bad, and the walk goes on with the next chunk or block (the
 * records of a chunk after a corrupt one cannot be found: their chain
 * of record lengths is broken).
 */
static int dir_iterate(struct ffs *fs, const struct ffs_inode *ip, dirent_fn fn,
                       void *arg, ffs_bad_fn bad, void *bad_arg)
{
    uint8_t *buf;
    int err = 0;

    if ((ip->mode & FFS_IFMT) != FFS_IFDIR)
        return ENOTDIR;
    /* Bounds the walk: a directory fits in the fs and is whole chunks. */
    if (ip->size % FFS_DIRBLKSIZ != 0 || ip->size > fs->size_frags
                                                        << fs->fshift)
        return EINVAL;
    buf = fs->io.alloc(fs->io.ctx, fs->bsize);
    if (buf == NULL)
        return ENOMEM;
    for (uint64_t off = 0; off < ip->size && err == 0; off += fs->bsize) {
        uint64_t n = min_u64(fs->bsize, ip->size - off), dev_off;
        uint32_t blen, fault = 0;

        err = bmap_inode(fs, ip, off >> fs->bshift, &dev_off, &blen);
        if (err == 0 && (dev_off == FFS_HOLE || n > blen))
            err = EINVAL; /* directories have no holes */
        if (err == 0)
            err = fs->io.read(fs->io.ctx, dev_off, buf, (size_t)n);
        if (err != 0 && bad && err != ENOMEM) {
            struct ffs_bad_entry b = { .off = off, .error = err };
            bad(bad_arg, &b);
            err = 0;
            continue;
        }
        for (uint64_t c = 0; c < n && err == 0; c += FFS_DIRBLKSIZ) {
            err = parse_chunk(fs, buf + c, fn, arg, &fault);
            if (err == EINVAL && bad) {
                struct ffs_bad_entry b;
                describe_bad(fs, buf + c + fault, FFS_DIRBLKSIZ - fault,
                             off + c + fault, &b);
                bad(bad_arg, &b);
                err = 0;
            }
        }
    }
    fs->io.free(fs->io.ctx, buf);
    return err;
}

struct lookup_arg {
    const char *name;
    size_t namlen;
    uint32_t ino;
};

#define LOOKUP_FOUND (-1) /* stop value distinct from errno values */

static int lookup_cb(struct ffs *fs, void *arg, const char *name, size_t namlen,
                     uint32_t ino, unsigned dtype)
{
    struct lookup_arg *la = arg;

    (void)fs;
    (void)dtype;
    if (namlen != la->namlen || memcmp(name, la->name, namlen) != 0)
        return 0;
    la->ino = ino;
    return LOOKUP_FOUND;
}

static int dir_lookup(struct ffs *fs, const struct ffs_inode *dp,
                      const char *name, size_t namlen, uint32_t *ino)
{
    struct lookup_arg la = { name, namlen, 0 };
    int rc = dir_iterate(fs, dp, lookup_cb, &la, NULL, NULL);

    if (rc == LOOKUP_FOUND) {
        *ino = la.ino;
        return 0;
    }
    return rc != 0 ? rc : ENOENT;
}

static enum ffs_type mode_type(uint16_t mode)
{
    switch (mode & FFS_IFMT) {
    case FFS_IFREG: return FFS_REG;
    case FFS_IFDIR: return FFS_DIR;
    case FFS_IFLNK: return FFS_LNK;
    default: return FFS_OTHER;
    }
}

/* Symlinks. */

/* Copies min(size, cap) bytes of the link text into buf; *len = bytes copied. */
static int link_text(struct ffs *fs, const struct ffs_inode *ip, char *buf,
                     size_t cap, size_t *len)
{
    size_t n;

    *len = 0;
    if ((ip->mode & FFS_IFMT) != FFS_IFLNK)
        return EINVAL;
    n = (size_t)min_u64(ip->size, cap);
    if (is_fast_symlink(fs, ip)) {
        size_t area =
            fs->ufs2 ? FFS_MAXSYMLINKLEN_UFS2 : FFS_MAXSYMLINKLEN_UFS1;
        if (ip->size > area)
            return EINVAL;
        memcpy(buf, ip->shortlink, n);
    } else {
        size_t got;
        int err = read_data(fs, ip, 0, (uint8_t *)buf, n, &got);
        if (err != 0)
            return err;
        if (got != n)
            return EINVAL;
    }
    if (n < cap)
        buf[n] = '\0';
    *len = n;
    return 0;
}

/* Path lookup. */

/* strlen bounded by max (returns max if no NUL before it). */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

struct walk {
    char *path; /* remaining path, MAXPATHLEN bytes */
    char *link; /* scratch for link text, MAXPATHLEN bytes */
    size_t pos;
    uint32_t cur;
    unsigned hops;
};

/* Replace path[0..end) by the link text of ip; restart from root if absolute. */
static int splice_link(struct ffs *fs, struct walk *w,
                       const struct ffs_inode *ip, size_t end)
{
    size_t llen, rest;
    int err;

    if (++w->hops > FFS_MAXSYMLINKS)
        return ELOOP;
    /* namei's limit, not readlink's: the text must fit a path buffer. */
    if (ip->size >= FFS_MAXPATHLEN)
        return ENAMETOOLONG;
    if ((err = link_text(fs, ip, w->link, FFS_MAXPATHLEN, &llen)) != 0)
        return err;
    if (llen == 0)
        return ENOENT;
    rest = strlen(w->path + end);
    if (llen + rest >= FFS_MAXPATHLEN)
        return ENAMETOOLONG;
    memmove(w->path + llen, w->path + end, rest + 1);
    memcpy(w->path, w->link, llen);
    w->pos = 0;
    if (w->link[0] == '/')
        w->cur = FFS_ROOTINO;
    return 0;
}

/* Resolve one component starting at w->pos; *finished when nothing is left. */
static int walk_step(struct ffs *fs, struct walk *w, int follow_last,
                     int *finished)
{
    struct ffs_inode dp, ip;
    size_t start, end, next;
    uint32_t child;
    int err, last;

    while (w->path[w->pos] == '/')
        w->pos++;
    if (w->path[w->pos] == '\0') {
        *finished = 1;
        return 0;
    }
    start = w->pos;
    for (end = start; w->path[end] != '\0' && w->path[end] != '/'; end++)
        ;
    if (end - start > FFS_MAXNAMLEN)
        return ENAMETOOLONG;
    for (next = end; w->path[next] == '/'; next++)
        ;
    last = w->path[next] == '\0';
    if ((err = read_inode(fs, w->cur, &dp)) != 0)
        return err;
    if ((dp.mode & FFS_IFMT) != FFS_IFDIR)
        return ENOTDIR;
    w->pos = end;
    if (end - start == 1 && w->path[start] == '.')
        return 0;
    if ((err = dir_lookup(fs, &dp, w->path + start, end - start, &child)) != 0)
        return err;
    if ((err = read_inode(fs, child, &ip)) != 0)
        return err;
    /* A trailing '/' (end != next) forces following like a later component. */
    if ((ip.mode & FFS_IFMT) == FFS_IFLNK &&
        (!last || follow_last || end != next))
        return splice_link(fs, w, &ip, end);
    w->cur = child;
    return 0;
}

static int walk_path(struct ffs *fs, struct walk *w, int follow_last,
                     uint32_t *ino)
{
    struct ffs_inode ip;
    int finished = 0, err;

    while (!finished)
        if ((err = walk_step(fs, w, follow_last, &finished)) != 0)
            return err;
    /* A path ending in '/' names a directory. */
    if (w->pos > 0 && w->path[w->pos - 1] == '/') {
        if ((err = read_inode(fs, w->cur, &ip)) != 0)
            return err;
        if ((ip.mode & FFS_IFMT) != FFS_IFDIR)
            return ENOTDIR;
    }
    *ino = w->cur;
    return 0;
}

/* Public interface. */

/* Find a valid superblock: EINVAL if none, EIO if only a short device stopped one. */
static int probe_sb(const struct ffs_io *io, struct ffs *fs)
{
    const uint32_t locs[2] = { FFS_SBLOCK_UFS2, FFS_SBLOCK_UFS1 };
    uint8_t sb[FFS_SB_READ_LEN];
    int err = EIO, seen_short = 0;

    for (unsigned i = 0; i < 2; i++) {
        int rc;
        if (io->size < (uint64_t)locs[i] + FFS_SB_READ_LEN)
            continue; /* device too short for this copy */
        if ((rc = io->read(io->ctx, locs[i], sb, sizeof(sb))) != 0)
            return rc;
        memset(fs, 0, sizeof(*fs));
        rc = parse_sb(fs, sb, locs[i], io->size);
        if (rc == 0)
            return 0;
        seen_short |= rc == EIO;
        err = EINVAL;
    }
    return seen_short ? EIO : err;
}

int ffs_mount(const struct ffs_io *io, struct ffs **out)
{
    struct ffs tmp, *fs;
    struct ffs_inode root;
    int err;

    if (out != NULL)
        *out = NULL;
    if (io == NULL || out == NULL || io->read == NULL || io->alloc == NULL ||
        io->free == NULL)
        return EINVAL;
    if ((err = probe_sb(io, &tmp)) != 0)
        return err;
    tmp.io = *io;
    tmp.last_ok = 0;
    /* The root must be a directory, or nothing else can work. */
    if ((err = read_inode(&tmp, FFS_ROOTINO, &root)) != 0)
        return err;
    if ((root.mode & FFS_IFMT) != FFS_IFDIR)
        return EINVAL;
    fs = io->alloc(io->ctx, sizeof(*fs));
    if (fs == NULL)
        return ENOMEM;
    *fs = tmp;
    *out = fs;
    return 0;
}

void ffs_unmount(struct ffs *fs)
{
    if (fs != NULL)
        fs->io.free(fs->io.ctx, fs);
}

void ffs_invalidate(struct ffs *fs)
{
    if (fs)
        fs->last_ok = 0;
}

uint32_t ffs_bsize(const struct ffs *fs)
{
    return fs->bsize;
}
uint32_t ffs_fsize(const struct ffs *fs)
{
    return fs->fsize;
}
int ffs_is_ufs2(const struct ffs *fs)
{
    return fs->ufs2;
}
int ffs_is_big_endian(const struct ffs *fs)
{
    return fs->big;
}
uint32_t ffs_root(const struct ffs *fs)
{
    (void)fs;
    return FFS_ROOTINO;
}
uint64_t ffs_ninodes(const struct ffs *fs)
{
    return fs->ninodes;
}

int ffs_namei(struct ffs *fs, const char *path, int follow_last, uint32_t *ino)
{
    struct walk w;
    size_t plen;
    int err;

    if (fs == NULL || path == NULL || ino == NULL)
        return EINVAL;
    plen = bounded_len(path, FFS_MAXPATHLEN);
    if (plen >= FFS_MAXPATHLEN)
        return ENAMETOOLONG;
    if (plen == 0)
        return ENOENT;
    w.path = fs->io.alloc(fs->io.ctx, 2 * FFS_MAXPATHLEN);
    if (w.path == NULL)
        return ENOMEM;
    w.link = w.path + FFS_MAXPATHLEN;
    memcpy(w.path, path, plen + 1);
    w.pos = 0;
    w.cur = FFS_ROOTINO;
    w.hops = 0;
    err = walk_path(fs, &w, follow_last, ino);
    fs->io.free(fs->io.ctx, w.path);
    return err;
}

int ffs_stat(struct ffs *fs, uint32_t ino, struct ffs_stat *st)
{
    struct ffs_inode ip;
    int err;

    if (fs == NULL || st == NULL)
        return EINVAL;
    if ((err = read_inode(fs, ino, &ip)) != 0)
        return err;
    st->ino = ino;
    st->type = mode_type(ip.mode);
    st->mode = ip.mode;
    st->nlink = ip.nlink;
    st->size = ip.size;
    /* Saturate rather than wrap on a corrupt block count. */
    st->alloc_bytes = ip.blocks > UINT64_MAX / FFS_DEV_BSIZE
                          ? UINT64_MAX
                          : ip.blocks * FFS_DEV_BSIZE;
    return 0;
}

int ffs_bmap(struct ffs *fs, uint32_t ino, uint64_t lblk, uint64_t *dev_off,
             uint32_t *len)
{
    struct ffs_inode ip;
    int err;

    if (fs == NULL || dev_off == NULL || len == NULL)
        return EINVAL;
    *dev_off = FFS_HOLE;
    *len = 0;
    if ((err = read_inode(fs, ino, &ip)) != 0)
        return err;
    /* Fast symlinks keep text, not block numbers, in db[]. */
    if ((ip.mode & FFS_IFMT) == FFS_IFLNK && is_fast_symlink(fs, &ip))
        return 0;
    return bmap_inode(fs, &ip, lblk, dev_off, len);
}

int ffs_read(struct ffs *fs, uint32_t ino, uint64_t off, void *buf, size_t len,
             size_t *done)
{
    struct ffs_inode ip;
    size_t got = 0;
    int err;

    if (done != NULL)
        *done = 0;
    if (fs == NULL || done == NULL || (buf == NULL && len > 0))
        return EINVAL;
    if ((err = read_inode(fs, ino, &ip)) != 0)
        return err;
    if ((ip.mode & FFS_IFMT) == FFS_IFLNK && is_fast_symlink(fs, &ip)) {
        char text[FFS_MAXSYMLINKLEN_UFS2];
        size_t n;
        if ((err = link_text(fs, &ip, text, sizeof(text), &n)) != 0)
            return err;
        if (off < n) {
            got = (size_t)min_u64(len, n - off);
            memcpy(buf, text + off, got);
        }
        *done = got;
        return 0;
    }
    err = read_data(fs, &ip, off, buf, len, &got);
    *done = got;
    return err;
}

int ffs_readlink(struct ffs *fs, uint32_t ino, char *buf, size_t cap,
                 size_t *len)
{
    struct ffs_inode ip;
    int err;

    if (len != NULL)
        *len = 0;
    if (fs == NULL || len == NULL || (buf == NULL && cap > 0))
        return EINVAL;
    if ((err = read_inode(fs, ino, &ip)) != 0)
        return err;
    return link_text(fs, &ip, buf, cap, len);
}

struct readdir_arg {
    int (*fn)(void *arg, const char *name, uint32_t ino, enum ffs_type type);
    void *arg;
};

static int readdir_cb(struct ffs *fs, void *arg, const char *name,
                      size_t namlen, uint32_t ino, unsigned dtype)
{
    struct readdir_arg *ra = arg;
    enum ffs_type type;

    if ((namlen == 1 && name[0] == '.') ||
        (namlen == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    switch (dtype) {
    case FFS_DT_REG: type = FFS_REG; break;
    case FFS_DT_DIR: type = FFS_DIR; break;
    case FFS_DT_LNK: type = FFS_LNK; break;
    case FFS_DT_UNKNOWN: {
        struct ffs_inode ip;
        int err = read_inode(fs, ino, &ip);
        if (err != 0)
            return err;
        type = mode_type(ip.mode);
        break;
    }
    default: type = FFS_OTHER; break;
    }
    return ra->fn(ra->arg, name, ino, type);
}

int ffs_readdir(struct ffs *fs, uint32_t ino,
                int (*fn)(void *arg, const char *name, uint32_t ino,
                          enum ffs_type type),
                void *arg)
{
    return ffs_readdir_salvage(fs, ino, fn, NULL, arg);
}

int ffs_readdir_salvage(struct ffs *fs, uint32_t ino,
                        int (*fn)(void *arg, const char *name, uint32_t ino,
                                  enum ffs_type type),
                        ffs_bad_fn bad, void *arg)
{
    struct readdir_arg ra = { fn, arg };
    struct ffs_inode ip;
    int err;

    if (fs == NULL || fn == NULL)
        return EINVAL;
    if ((err = read_inode(fs, ino, &ip)) != 0)
        return err;
    return dir_iterate(fs, &ip, readdir_cb, &ra, bad, arg);
}
