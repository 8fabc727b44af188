/*
 * test_ffs.c - CMocka tests for the read-only FFS reader.
 *
 * Images are built at test time by makefs(8) from host trees and every
 * answer is compared with the host file system; corruption tests mutate
 * images and require an errno (or 0) with no crash and no leak.
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ffs.h"
#include "fstree.h"

#define BIG_SIZE (6u * 1024 * 1024 + 12345)
#define NBIGDIR  120 /* > one 4096-byte directory block of entries */

/* In-memory device with a counting allocator. */
struct mem_dev {
    uint8_t *data;
    uint64_t size;
    long outstanding;
    long allocs;
    long fail_at; /* allocation number that fails, -1 never */
};

static int dev_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct mem_dev *d = ctx;
    if (off > d->size || len > d->size - off)
        return EIO;
    memcpy(buf, d->data + off, len);
    return 0;
}

static void *dev_alloc(void *ctx, size_t n)
{
    struct mem_dev *d = ctx;
    if (d->fail_at >= 0 && d->allocs++ == d->fail_at)
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        d->outstanding++;
    return p;
}

static void dev_free(void *ctx, void *p)
{
    struct mem_dev *d = ctx;
    if (p != NULL)
        d->outstanding--;
    free(p);
}

static struct ffs_io make_io(struct mem_dev *d)
{
    struct ffs_io io = { d, d->size, dev_read, dev_alloc, dev_free, NULL };
    return io;
}

/* Host helpers. */

static void write_file(const char *root, const char *rel, size_t size,
                       uint64_t seed)
{
    char p[4096];
    tree_path(p, sizeof(p), root, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; i++)
        fputc((int)(tm_prng(&s) & 0xff), f);
    assert_int_equal(fclose(f), 0);
}

/* Data at 0 and 3 MiB, holes between and after (the host file is sparse). */
static void write_sparse(const char *root, const char *rel, off_t at,
                         off_t total)
{
    char p[4096];
    tree_path(p, sizeof(p), root, rel);
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "head", 4), 4);
    assert_true(lseek(fd, at, SEEK_SET) == at);
    assert_int_equal(write(fd, "middle", 6), 6);
    assert_int_equal(ftruncate(fd, total), 0);
    assert_int_equal(close(fd), 0);
}

static const size_t file_sizes[] = {
    1,
    511,
    512,
    513,
    1023,
    1024,
    1025,
    2047,
    2048,
    2049,
    4095,
    4096,
    4097,
    8191,
    8192,
    8193,
    16383,
    16384,
    16385,
    32767,
    32768,
    32769,
    65535,
    65536,
    65537,
    12 * 4096 - 1,
    12 * 4096,
    12 * 4096 + 1,
    12 * 8192 + 1,
    12 * 16384 + 1,
    12 * 32768 - 1,
    12 * 32768 + 1,
    12 * 32768 + 70000,
};

static void build_tree(const char *root, int with_big)
{
    char rel[256], target[600];
    write_file(root, "small", 5, 1);
    write_file(root, "empty", 0, 2);
    for (size_t i = 0; i < sizeof(file_sizes) / sizeof(file_sizes[0]); i++) {
        snprintf(rel, sizeof(rel), "sz_%zu", file_sizes[i]);
        write_file(root, rel, file_sizes[i], 100 + i);
    }
    if (with_big)
        write_file(root, "big", BIG_SIZE, 3);
    write_sparse(root, "sparse", 3 << 20, 5 << 20);
    write_sparse(root, "sparse_small", 20000, 40000);
    tree_dir(root, "d1");
    strcpy(rel, "d1");
    for (int i = 2; i <= 8; i++) {
        size_t n = strlen(rel);
        snprintf(rel + n, sizeof(rel) - n, "/d%d", i);
        tree_dir(root, rel);
    }
    strcat(rel, "/leaf");
    write_file(root, rel, 777, 4);
    tree_dir(root, "bigdir");
    for (int i = 0; i < NBIGDIR; i++) {
        snprintf(rel, sizeof(rel), "bigdir/entry_with_a_rather_long_name_%04d",
                 i);
        write_file(root, rel, (size_t)(i % 7), 500 + (uint64_t)i);
    }
    tree_link(root, "small", "lrel");
    tree_link(root, "../../small", "d1/d2/lup");
    tree_link(root, "/d1/d2/d3", "labs");
    tree_link(root, "d1", "ldir");
    tree_link(root, "loop2", "loop1");
    tree_link(root, "loop1", "loop2");
    tree_link(root, "lself", "lself");
    tree_link(root, "nonexistent", "ldangling");
    /* A slow symlink: target longer than the in-inode area. */
    strcpy(target, "");
    for (int i = 0; i < 70; i++)
        strcat(target, "./");
    strcat(target, "d1/../small");
    tree_link(root, target, "llong");
    /* Longer than a path (MAXPATHLEN): readlink gives it, namei refuses. */
    char huge[2001] = "";
    for (int i = 0; i < 1000; i++)
        strcat(huge, "a/");
    tree_link(root, huge, "lhuge");
    /* ch0 -> ch1 -> ... -> ch31 -> small is 32 links; chx adds a 33rd. */
    for (int i = 0; i < 32; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ch%d", i);
        if (i == 31)
            snprintf(target, sizeof(target), "small");
        else
            snprintf(target, sizeof(target), "ch%d", i + 1);
        tree_link(root, target, name);
    }
    tree_link(root, "ch0", "chx");
}

/* Runs makefs (without image_make's free-space reserve) => the image's bytes. */
static uint8_t *make_image(const char *tree, const char *img, int version,
                           const char *endian, unsigned bsize, unsigned fsize,
                           uint64_t *size)
{
    image_make_opts(tree, img, version, endian, bsize, fsize, "");
    uint8_t *data = file_slurp(img, size);
    assert_int_equal(unlink(img), 0);
    return data;
}

/* Images already made from the fixture's tree, by format. */
struct cached_image {
    int version;
    const char *endian;
    unsigned bsize, fsize;
    uint8_t *data;
    uint64_t size;
};

/* The host tree, built once per group of tests, and its images. */
struct fixture {
    char *dir;      /* tree_new root */
    char tree[128]; /* host tree */
    char img[128];
    struct cached_image cache[32];
    size_t ncache;
};

static int fixture_up(void **state, int with_big)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->dir = tree_new();
    tree_path(fx->tree, sizeof(fx->tree), fx->dir, "tree");
    tree_path(fx->img, sizeof(fx->img), fx->dir, "fs.img");
    assert_int_equal(mkdir(fx->tree, 0755), 0);
    build_tree(fx->tree, with_big);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return fixture_up(state, 0);
}
static int setup_big(void **state)
{
    return fixture_up(state, 1);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    for (size_t i = 0; i < fx->ncache; i++)
        free(fx->cache[i].data);
    tree_remove(fx->dir);
    free(fx);
    return 0;
}

/* A copy of an image of the fixture's tree on an in-memory device; each
   format is made by makefs once per group. */
static struct mem_dev image_dev(struct fixture *fx, int version,
                                const char *endian, unsigned bsize,
                                unsigned fsize)
{
    struct mem_dev dev = { NULL, 0, 0, 0, -1 };
    struct cached_image *ci = NULL;
    for (size_t i = 0; i < fx->ncache && ci == NULL; i++)
        if (fx->cache[i].version == version &&
            strcmp(fx->cache[i].endian, endian) == 0 &&
            fx->cache[i].bsize == bsize && fx->cache[i].fsize == fsize)
            ci = &fx->cache[i];
    if (ci == NULL) {
        assert_true(fx->ncache < sizeof(fx->cache) / sizeof(fx->cache[0]));
        ci = &fx->cache[fx->ncache++];
        ci->version = version, ci->endian = endian;
        ci->bsize = bsize, ci->fsize = fsize;
        ci->data = make_image(fx->tree, fx->img, version, endian, bsize, fsize,
                              &ci->size);
    }
    dev.size = ci->size;
    dev.data = malloc(ci->size);
    assert_non_null(dev.data);
    memcpy(dev.data, ci->data, ci->size);
    return dev;
}

/* Verification against the host tree. */

struct ctx {
    struct ffs *fs;
    struct mem_dev *dev;
    const char *root;
    unsigned bsize, fsize;
    int ufs2;
    unsigned files, dirs, links;
};

static uint32_t lookup_ok(struct ffs *fs, const char *path, int follow)
{
    uint32_t ino = 0;
    int rc = ffs_namei(fs, path, follow, &ino);
    if (rc != 0)
        fail_msg("namei(%s, %d) = %d", path, follow, rc);
    return ino;
}

/* Expected di_blocks bytes of a file with no holes (data + indirect blocks). */
static uint64_t expected_alloc(const struct ctx *c, uint64_t size)
{
    uint64_t nblk = (size + c->bsize - 1) / c->bsize, bytes, ind = 0;
    uint64_t nindir = c->bsize / (c->ufs2 ? 8 : 4);
    if (nblk == 0)
        return 0;
    if (nblk <= 12) {
        uint64_t tail = size - (nblk - 1) * c->bsize;
        bytes =
            (nblk - 1) * c->bsize + (tail + c->fsize - 1) / c->fsize * c->fsize;
    } else {
        bytes = nblk * c->bsize;
        uint64_t r = nblk - 12;
        ind = 1;
        if (r > nindir)
            ind += 1 + (r - nindir + nindir - 1) / nindir;
    }
    return bytes + ind * c->bsize;
}

static void check_reg(struct ctx *c, const char *path, const char *host,
                      const struct stat *hs, uint32_t ino)
{
    uint64_t hsize;
    uint8_t *want = file_slurp(host, &hsize);
    uint8_t *got = malloc(hsize + 100);
    size_t done = 0;
    int sparse = strstr(path, "sparse") != NULL;

    assert_non_null(got);
    assert_int_equal(hsize, (uint64_t)hs->st_size);
    /* Whole-file read, asking past EOF. */
    assert_int_equal(ffs_read(c->fs, ino, 0, got, hsize + 100, &done), 0);
    assert_int_equal(done, hsize);
    assert_memory_equal(got, want, hsize);
    /* Unaligned chunked read. */
    uint64_t off = hsize > 777 ? 777 : 0;
    while (off < hsize) {
        size_t n = 3001;
        assert_int_equal(ffs_read(c->fs, ino, off, got, n, &done), 0);
        assert_int_equal(done, hsize - off < n ? hsize - off : n);
        assert_memory_equal(got, want + off, done);
        off += done;
    }
    assert_int_equal(ffs_read(c->fs, ino, hsize, got, 10, &done), 0);
    assert_int_equal(done, 0);
    /* Reassemble through bmap and raw device reads. */
    uint64_t nblk = (hsize + c->bsize - 1) / c->bsize;
    for (uint64_t b = 0; b < nblk; b++) {
        uint64_t dev_off, boff = b * c->bsize;
        uint32_t len;
        uint64_t n = hsize - boff < c->bsize ? hsize - boff : c->bsize;
        assert_int_equal(ffs_bmap(c->fs, ino, b, &dev_off, &len), 0);
        if (dev_off == FFS_HOLE) {
            for (uint64_t i = 0; i < n; i++)
                assert_int_equal(want[boff + i], 0);
            continue;
        }
        uint32_t exp_len = c->bsize;
        if (b < 12 && b == nblk - 1)
            exp_len = (uint32_t)((n + c->fsize - 1) / c->fsize * c->fsize);
        assert_int_equal(len, exp_len);
        assert_true(dev_off + len <= c->dev->size);
        assert_memory_equal(c->dev->data + dev_off, want + boff, n);
    }
    uint64_t dev_off;
    uint32_t len;
    assert_int_equal(ffs_bmap(c->fs, ino, nblk, &dev_off, &len), 0);
    assert_true(dev_off == FFS_HOLE && len == 0);
    struct ffs_stat st;
    assert_int_equal(ffs_stat(c->fs, ino, &st), 0);
    if (!sparse)
        assert_int_equal(st.alloc_bytes, expected_alloc(c, hsize));
    free(want);
    free(got);
}

static void check_link(struct ctx *c, const char *host, uint32_t ino)
{
    char want[4096], got[4096];
    ssize_t n = readlink(host, want, sizeof(want));
    size_t len;
    assert_true(n > 0);
    assert_int_equal(ffs_readlink(c->fs, ino, got, sizeof(got), &len), 0);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(got, want, len);
    assert_int_equal(got[len], '\0');
    /* Truncating readlink copies exactly cap bytes. */
    assert_int_equal(ffs_readlink(c->fs, ino, got, 3, &len), 0);
    assert_int_equal(len, n < 3 ? (size_t)n : 3);
    assert_memory_equal(got, want, len);
    struct ffs_stat st;
    assert_int_equal(ffs_stat(c->fs, ino, &st), 0);
    assert_int_equal(st.size, (uint64_t)n);
}

struct dent {
    char name[256];
    uint32_t ino;
    enum ffs_type type;
};
struct dlist {
    struct dent *v;
    size_t n, cap;
};

static int collect(void *arg, const char *name, uint32_t ino,
                   enum ffs_type type)
{
    struct dlist *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        assert_non_null(l->v);
    }
    assert_true(strlen(name) < 256);
    strcpy(l->v[l->n].name, name);
    l->v[l->n].ino = ino;
    l->v[l->n].type = type;
    l->n++;
    return 0;
}

static int stop_first(void *arg, const char *name, uint32_t ino,
                      enum ffs_type type)
{
    (void)name;
    (void)ino;
    (void)type;
    ++*(int *)arg;
    return 77;
}

static enum ffs_type host_type(mode_t m)
{
    return S_ISREG(m)   ? FFS_REG
           : S_ISDIR(m) ? FFS_DIR
           : S_ISLNK(m) ? FFS_LNK
                        : FFS_OTHER;
}

static void check_dir(struct ctx *c, const char *path, const char *host,
                      uint32_t ino);

/* Compare entry name of directory path/host with the image. */
static void check_entry(struct ctx *c, const char *path, const char *host,
                        const char *name, const struct dent *d,
                        unsigned *subdirs)
{
    char cpath[2048], chost[4096];
    struct stat hs;
    struct ffs_stat st;

    tree_path(chost, sizeof(chost), host, name);
    if (path[0] == '\0')
        snprintf(cpath, sizeof(cpath), "%s", name);
    else
        tree_path(cpath, sizeof(cpath), path, name);
    assert_int_equal(lstat(chost, &hs), 0);
    uint32_t ino = lookup_ok(c->fs, cpath, 0);
    assert_int_equal(ino, d->ino);
    assert_int_equal(d->type, host_type(hs.st_mode));
    assert_int_equal(ffs_stat(c->fs, ino, &st), 0);
    assert_int_equal(st.ino, ino);
    assert_int_equal(st.type, host_type(hs.st_mode));
    assert_int_equal(st.mode & 07777, hs.st_mode & 07777);
    if (S_ISREG(hs.st_mode)) {
        assert_int_equal(st.nlink, 1);
        assert_int_equal(st.size, (uint64_t)hs.st_size);
        check_reg(c, cpath, chost, &hs, ino);
        c->files++;
    } else if (S_ISLNK(hs.st_mode)) {
        check_link(c, chost, ino);
        c->links++;
    } else {
        assert_true(S_ISDIR(hs.st_mode));
        ++*subdirs;
        check_dir(c, cpath, chost, ino);
    }
}

static void check_dir(struct ctx *c, const char *path, const char *host,
                      uint32_t ino)
{
    struct dlist l = { NULL, 0, 0 };
    size_t nhost = 0;
    unsigned subdirs = 0;
    struct dirent *de;
    DIR *dir = opendir(host);

    assert_non_null(dir);
    assert_int_equal(ffs_readdir(c->fs, ino, collect, &l), 0);
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        nhost++;
        size_t i;
        for (i = 0; i < l.n && strcmp(l.v[i].name, de->d_name) != 0; i++)
            ;
        if (i == l.n)
            fail_msg("%s/%s missing from image", path, de->d_name);
        check_entry(c, path, host, de->d_name, &l.v[i], &subdirs);
    }
    closedir(dir);
    assert_int_equal(l.n, nhost);
    struct ffs_stat st;
    assert_int_equal(ffs_stat(c->fs, ino, &st), 0);
    assert_int_equal(st.type, FFS_DIR);
    assert_int_equal(st.nlink, 2 + subdirs);
    if (nhost > 0) {
        int calls = 0;
        assert_int_equal(ffs_readdir(c->fs, ino, stop_first, &calls), 77);
        assert_int_equal(calls, 1);
    }
    free(l.v);
    c->dirs++;
}

static void expect_err(struct ffs *fs, const char *path, int follow, int err)
{
    uint32_t ino = 12345;
    int rc = ffs_namei(fs, path, follow, &ino);
    if (rc != err)
        fail_msg("namei(%s, %d) = %d, want %d", path, follow, rc, err);
}

static void check_paths(struct ctx *c)
{
    struct ffs *fs = c->fs;
    uint32_t small = lookup_ok(fs, "small", 0), root = ffs_root(fs);
    char longp[1100], longc[300];

    assert_int_equal(lookup_ok(fs, "/", 1), root);
    assert_int_equal(lookup_ok(fs, "/..", 1), root);
    assert_int_equal(lookup_ok(fs, "/small", 0), small);
    assert_int_equal(lookup_ok(fs, "d1/../small", 0), small);
    assert_int_equal(lookup_ok(fs, "./d1/./d2", 0), lookup_ok(fs, "d1/d2", 0));
    assert_int_equal(lookup_ok(fs, "lrel", 1), small);
    assert_true(lookup_ok(fs, "lrel", 0) != small);
    assert_int_equal(lookup_ok(fs, "d1/d2/lup", 1), small);
    assert_int_equal(lookup_ok(fs, "labs", 1), lookup_ok(fs, "d1/d2/d3", 0));
    assert_int_equal(lookup_ok(fs, "labs/d4/d5", 0),
                     lookup_ok(fs, "/d1/d2/d3/d4/d5", 0));
    assert_int_equal(lookup_ok(fs, "/ldir/d2/", 0), lookup_ok(fs, "d1/d2", 0));
    assert_int_equal(lookup_ok(fs, "ldir/", 0), lookup_ok(fs, "d1", 0));
    assert_int_equal(lookup_ok(fs, "llong", 1), small);
    assert_int_equal(lookup_ok(fs, "ch0", 1), small);
    assert_int_equal(lookup_ok(fs, "d1/d2/d3/d4/d5/d6/d7/d8/leaf", 1),
                     lookup_ok(fs, "labs/d4/../d4/d5/d6/d7/d8/leaf", 1));
    expect_err(fs, "lhuge", 1, ENAMETOOLONG);
    expect_err(fs, "chx", 1, ELOOP);
    expect_err(fs, "loop1", 1, ELOOP);
    expect_err(fs, "lself/x", 0, ELOOP);
    expect_err(fs, "ldangling", 1, ENOENT);
    expect_err(fs, "nonexistent", 0, ENOENT);
    expect_err(fs, "", 0, ENOENT);
    expect_err(fs, "small/x", 0, ENOTDIR);
    expect_err(fs, "small/", 0, ENOTDIR);
    expect_err(fs, "lrel/", 0, ENOTDIR);
    memset(longp, 'a', sizeof(longp));
    longp[1024] = '\0';
    expect_err(fs, longp, 0, ENAMETOOLONG);
    memset(longc, 'b', sizeof(longc));
    longc[256] = '\0';
    expect_err(fs, longc, 0, ENAMETOOLONG);
    /* Non-symlink and out-of-range inodes. */
    char buf[8];
    size_t len;
    struct ffs_stat st;
    assert_int_equal(ffs_readlink(fs, small, buf, sizeof(buf), &len), EINVAL);
    assert_int_equal(ffs_stat(fs, 0, &st), EINVAL);
    assert_int_equal(ffs_stat(fs, (uint32_t)ffs_ninodes(fs), &st), EINVAL);
    assert_int_equal(ffs_readdir(fs, small, collect, NULL), ENOTDIR);
}

static void verify_image(struct fixture *fx, int version, const char *endian,
                         unsigned bsize, unsigned fsize)
{
    struct mem_dev dev = image_dev(fx, version, endian, bsize, fsize);
    struct ffs_io io = make_io(&dev);
    struct ffs *fs = NULL;

    assert_int_equal(ffs_mount(&io, &fs), 0);
    assert_int_equal(ffs_bsize(fs), bsize);
    assert_int_equal(ffs_fsize(fs), fsize);
    assert_int_equal(ffs_is_ufs2(fs), version == 2);
    assert_int_equal(ffs_is_big_endian(fs), strcmp(endian, "big") == 0);
    assert_int_equal(ffs_root(fs), 2);
    struct ctx c = { fs, &dev, fx->tree, bsize, fsize, version == 2, 0, 0, 0 };
    check_dir(&c, "", fx->tree, ffs_root(fs));
    check_paths(&c);
    /* Every host object was visited: 39 + NBIGDIR files, 10 dirs, 43 links. */
    assert_int_equal(c.files, 39 + NBIGDIR);
    assert_int_equal(c.dirs, 10);
    assert_int_equal(c.links, 43);
    ffs_unmount(fs);
    assert_int_equal(dev.outstanding, 0);
    free(dev.data);
}

static void test_ffs_every_format_reads_back_the_host_tree(void **state)
{
    static const unsigned geo[][2] = {
        { 4096, 512 },   { 8192, 1024 },   { 16384, 2048 },
        { 32768, 4096 }, { 32768, 32768 },
    };
    struct fixture *fx = *state;
    for (int v = 1; v <= 2; v++)
        for (int e = 0; e < 2; e++)
            for (size_t g = 0; g < sizeof(geo) / sizeof(geo[0]); g++)
                verify_image(fx, v, e ? "big" : "little", geo[g][0], geo[g][1]);
}

/* Corruption. */

static const int known_errs[] = {
    0, EINVAL, EIO, ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EFBIG, ENOMEM,
};

static void check_rc(int rc)
{
    for (size_t i = 0; i < sizeof(known_errs) / sizeof(known_errs[0]); i++)
        if (rc == known_errs[i])
            return;
    fail_msg("unexpected return %d", rc);
}

struct walk_state {
    struct ffs *fs;
    int depth;
    unsigned budget;
};

static int exercise_entry(void *arg, const char *name, uint32_t ino,
                          enum ffs_type type)
{
    struct walk_state *w = arg;
    struct ffs_stat st;
    uint8_t buf[2000];
    size_t done;
    uint64_t dev_off;
    uint32_t len;
    (void)name;

    if (w->budget == 0)
        return 0;
    w->budget--;
    check_rc(ffs_stat(w->fs, ino, &st));
    if (type == FFS_DIR && w->depth < 10) {
        w->depth++;
        check_rc(ffs_readdir(w->fs, ino, exercise_entry, w));
        w->depth--;
    } else if (type == FFS_LNK) {
        check_rc(ffs_readlink(w->fs, ino, (char *)buf, sizeof(buf), &done));
    } else {
        uint32_t bs = ffs_bsize(w->fs);
        uint64_t nindir = bs / (ffs_is_ufs2(w->fs) ? 8 : 4);
        const uint64_t offs[] = { 0, 12 * (uint64_t)bs - 100,
                                  (12 + nindir) * bs + 5,
                                  (12 + nindir + nindir * nindir) * bs };
        for (size_t i = 0; i < 4; i++) {
            check_rc(ffs_read(w->fs, ino, offs[i], buf, sizeof(buf), &done));
            assert_true(done <= sizeof(buf));
            check_rc(ffs_bmap(w->fs, ino, offs[i] / bs, &dev_off, &len));
        }
    }
    return 0;
}

static const char *const probe_paths[] = {
    "small",     "lrel",     "labs/d4",
    "d1/d2/lup", "llong",    "ch0",
    "loop1",     "bigdir/x", "d1/d2/d3/d4/d5/d6/d7/d8/leaf",
    "big",       "ldir/d2/",
};

/* Mount and touch everything; all results must be errnos; no leaks. */
static void exercise(struct mem_dev *dev)
{
    struct ffs_io io = make_io(dev);
    struct ffs *fs = NULL;
    int rc = ffs_mount(&io, &fs);
    check_rc(rc);
    if (rc == 0) {
        struct walk_state w = { fs, 0, 150 };
        uint32_t ino;
        check_rc(ffs_readdir(fs, ffs_root(fs), exercise_entry, &w));
        for (size_t i = 0; i < sizeof(probe_paths) / sizeof(probe_paths[0]);
             i++) {
            check_rc(ffs_namei(fs, probe_paths[i], 1, &ino));
            check_rc(ffs_namei(fs, probe_paths[i], 0, &ino));
        }
        ffs_unmount(fs);
    } else {
        assert_null(fs);
    }
    assert_int_equal(dev->outstanding, 0);
}

/* Test-side decoding, to aim corruption at metadata. */
static uint64_t rd(const struct mem_dev *d, int big, uint64_t off, unsigned n)
{
    uint64_t v = 0;
    assert_true(off + n <= d->size);
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | d->data[off + (big ? i : n - 1 - i)];
    return v;
}

struct layout {
    int big, ufs2;
    uint64_t sb, fsize, bsize, frag, iblkno, ipg, fpg, inopb, isize;
};

static void get_layout(const struct mem_dev *d, struct layout *l)
{
    l->sb = 8192;
    l->big = rd(d, 0, l->sb + 1372, 4) != 0x011954 &&
             rd(d, 0, l->sb + 1372, 4) != 0x19540119;
    l->ufs2 = rd(d, l->big, l->sb + 1372, 4) == 0x19540119;
    l->bsize = rd(d, l->big, l->sb + 48, 4);
    l->fsize = rd(d, l->big, l->sb + 52, 4);
    l->frag = l->bsize / l->fsize;
    l->iblkno = rd(d, l->big, l->sb + 16, 4);
    l->ipg = rd(d, l->big, l->sb + 184, 4);
    l->fpg = rd(d, l->big, l->sb + 188, 4);
    l->isize = l->ufs2 ? 256 : 128;
    l->inopb = l->bsize / l->isize;
}

static uint64_t inode_off(const struct layout *l, uint32_t ino)
{
    uint64_t cg = ino / l->ipg;
    return (cg * l->fpg + l->iblkno + (ino % l->ipg) / l->inopb * l->frag) *
               l->fsize +
           (ino % l->inopb) * l->isize;
}

/* Device offset of indirect pointer slot i (0..2) of inode ino, and its block. */
static uint64_t ind_block(const struct mem_dev *d, const struct layout *l,
                          uint32_t ino, int i)
{
    uint64_t p = inode_off(l, ino) +
                 (l->ufs2 ? 208 + 8 * (uint64_t)i : 88 + 4 * (uint64_t)i);
    return rd(d, l->big, p, l->ufs2 ? 8 : 4) * l->fsize;
}

static void wr(struct mem_dev *d, int big, uint64_t off, unsigned n, uint64_t v)
{
    assert_true(off + n <= d->size);
    for (unsigned i = 0; i < n; i++)
        d->data[off + (big ? n - 1 - i : i)] = (uint8_t)(v >> (8 * i));
}

/* Set direct pointer 0 of the file at path, run f, restore. */
static int with_db0(struct mem_dev *d, const struct layout *l, struct ffs *fs,
                    const char *path, uint64_t v, int use_bmap)
{
    uint32_t ino = lookup_ok(fs, path, 0);
    uint64_t at = inode_off(l, ino) + (l->ufs2 ? 112 : 40),
             ps = l->ufs2 ? 8 : 4;
    uint64_t save = rd(d, l->big, at, (unsigned)ps), dev_off;
    uint32_t len;
    uint8_t buf[64];
    size_t done;
    int rc;

    wr(d, l->big, at, (unsigned)ps, v);
    ffs_invalidate(fs);
    if (use_bmap)
        rc = ffs_bmap(fs, ino, 0, &dev_off, &len);
    else
        rc = ffs_read(fs, ino, 0, buf, sizeof(buf), &done);
    wr(d, l->big, at, (unsigned)ps, save);
    ffs_invalidate(fs);
    return rc;
}

/* Patch n bytes of the first root directory entry at field off, expect err. */
static void root_entry_patch(struct mem_dev *d, const struct layout *l,
                             struct ffs *fs, uint64_t dir0, unsigned off,
                             unsigned n, uint64_t v)
{
    uint64_t save = rd(d, l->big, dir0 + off, n);
    uint32_t ino;
    struct dlist dl = { NULL, 0, 0 };

    wr(d, l->big, dir0 + off, n, v);
    assert_int_equal(ffs_readdir(fs, 2, collect, &dl), EINVAL);
    assert_int_equal(ffs_namei(fs, "small", 0, &ino), EINVAL);
    wr(d, l->big, dir0 + off, n, save);
    free(dl.v);
    assert_int_equal(ffs_namei(fs, "small", 0, &ino), 0);
}

/*
 * Specific corruptions with exactly one right answer, each on a UFS1
 * big-endian and a UFS2 little-endian image.
 */
struct targeted {
    struct mem_dev dev;
    struct ffs_io io;
    struct ffs *fs;
    struct layout l;
    uint64_t frags, ps; /* fragments on the device, bytes a block pointer */
};

static void targeted_up(struct fixture *fx, int v, struct targeted *t)
{
    t->dev = image_dev(fx, v, v == 1 ? "big" : "little", 4096, 512);
    t->io = make_io(&t->dev);
    t->frags = t->dev.size / 512, t->ps = v == 2 ? 8 : 4;
    get_layout(&t->dev, &t->l);
    assert_int_equal(ffs_mount(&t->io, &t->fs), 0);
}

static void targeted_down(struct targeted *t)
{
    ffs_unmount(t->fs);
    assert_int_equal(t->dev.outstanding, 0);
    free(t->dev.data);
}

/* Runs check on the UFS1 (big-endian) image, then on the UFS2
 * (little-endian) one, each mounted, then unmounted leaking nothing. */
static void on_each_format(struct fixture *fx,
                           void (*check)(struct targeted *t, int v))
{
    for (int v = 1; v <= 2; v++) {
        struct targeted t;
        targeted_up(fx, v, &t);
        check(&t, v);
        targeted_down(&t);
    }
}

static void corrupt_directory_entry(struct targeted *t, int v)
{
    uint64_t dir0;
    uint32_t len;
    (void)v;
    assert_int_equal(ffs_bmap(t->fs, 2, 0, &dir0, &len), 0);
    root_entry_patch(&t->dev, &t->l, t->fs, dir0, 4, 2, 0);   /* reclen 0 */
    root_entry_patch(&t->dev, &t->l, t->fs, dir0, 4, 2, 516); /* past the
                                                                chunk */
    root_entry_patch(&t->dev, &t->l, t->fs, dir0, 4, 2,
                     14); /* not a multiple of 4 */
    root_entry_patch(&t->dev, &t->l, t->fs, dir0, 7, 1,
                     200); /* name longer than record */
    root_entry_patch(&t->dev, &t->l, t->fs, dir0, 0, 4,
                     0xffffff00); /* inode out of range */
}

static void test_ffs_corrupt_directory_entry_is_einval(void **state)
{
    on_each_format(*state, corrupt_directory_entry);
}

/* Block numbers outside the fs, negative, or misaligned. */
static void bad_block_pointer(struct targeted *t, int v)
{
    struct mem_dev *d = &t->dev;
    (void)v;
    for (int b = 0; b < 2; b++) {
        assert_int_equal(with_db0(d, &t->l, t->fs, "sz_8192", t->frags + 64, b),
                         EINVAL);
        assert_int_equal(with_db0(d, &t->l, t->fs, "sz_8192", t->frags - 4, b),
                         EINVAL);
        assert_int_equal(with_db0(d, &t->l, t->fs, "sz_8192",
                                  t->ps == 8 ? UINT64_MAX : 0xffffffff, b),
                         EINVAL);
        assert_int_equal(with_db0(d, &t->l, t->fs, "sz_8192", 64 + 1, b),
                         EINVAL);
        assert_int_equal(with_db0(d, &t->l, t->fs, "sz_1025", 64 + 6, b),
                         EINVAL);
        assert_int_equal(with_db0(d, &t->l, t->fs, "sz_1025", 64 + 5, b), 0);
    }
}

static void test_ffs_block_pointer_outside_or_misaligned_is_einval(void **state)
{
    on_each_format(*state, bad_block_pointer);
}

static void oversized_symlink(struct targeted *t, int v)
{
    char buf[64];
    size_t n;
    uint32_t ino = lookup_ok(t->fs, "llong", 0);
    uint64_t szoff = inode_off(&t->l, ino) + (v == 2 ? 16 : 8);
    wr(&t->dev, t->l.big, szoff, 8, 5000);
    ffs_invalidate(t->fs);
    /* readlink copies what fits, or finds the block map too short for the
     * size (where the link's one fragment is less than a block); only
     * namei refuses a link text longer than a path */
    int rc = ffs_readlink(t->fs, ino, buf, sizeof(buf), &n);
    if (rc == 0) {
        assert_int_equal(n, sizeof(buf));
        assert_memory_equal(buf, "./././", 6);
    } else {
        assert_int_equal(rc, EINVAL);
    }
    assert_int_equal(ffs_namei(t->fs, "llong", 1, &ino), ENAMETOOLONG);
}

static void test_ffs_oversized_symlink_is_enametoolong(void **state)
{
    on_each_format(*state, oversized_symlink);
}

static void oversized_directory(struct targeted *t, int v)
{
    uint32_t ino = lookup_ok(t->fs, "d1", 0);
    uint64_t szoff = inode_off(&t->l, ino) + (v == 2 ? 16 : 8);
    wr(&t->dev, t->l.big, szoff, 8, 700);
    ffs_invalidate(t->fs);
    assert_int_equal(ffs_namei(t->fs, "d1/d2", 0, &ino), EINVAL);
}

static void test_ffs_directory_size_past_its_blocks_is_einval(void **state)
{
    on_each_format(*state, oversized_directory);
}

struct region {
    uint64_t off, len;
};

/* Flip `flips` random bytes inside r, exercise, restore. */
static void fuzz_region(struct mem_dev *d, struct region r, unsigned iters,
                        unsigned flips, uint64_t *seed)
{
    uint64_t pos[16];
    uint8_t old[16];
    assert_true(flips <= 16 && r.len > 0 && r.off + r.len <= d->size);
    for (unsigned it = 0; it < iters; it++) {
        for (unsigned k = 0; k < flips; k++) {
            pos[k] = r.off + tm_prng(seed) % r.len;
            old[k] = d->data[pos[k]];
            uint8_t x = (uint8_t)tm_prng(seed);
            d->data[pos[k]] ^= x ? x : 0x80;
        }
        exercise(d);
        for (unsigned k = flips; k-- > 0;)
            d->data[pos[k]] = old[k];
    }
}

static void corrupt_image(struct fixture *fx, int version, const char *endian,
                          unsigned bsize, unsigned fsize, uint64_t seed)
{
    struct mem_dev dev = image_dev(fx, version, endian, bsize, fsize);
    uint8_t *clean = malloc(dev.size);
    assert_non_null(clean);
    memcpy(clean, dev.data, dev.size);
    struct ffs_io io = make_io(&dev);
    struct ffs *fs;
    struct layout l;
    uint32_t big, bigdir, root = 2, d8;

    get_layout(&dev, &l);
    assert_int_equal(ffs_mount(&io, &fs), 0);
    big = lookup_ok(fs, "big", 0);
    bigdir = lookup_ok(fs, "bigdir", 0);
    d8 = lookup_ok(fs, "d1/d2/d3/d4/d5/d6/d7/d8", 0);
    uint64_t dir0, dir1, leafdir;
    uint32_t len;
    assert_int_equal(ffs_bmap(fs, bigdir, 0, &dir0, &len), 0);
    assert_int_equal(ffs_bmap(fs, bigdir, 1, &dir1, &len), 0);
    assert_int_equal(ffs_bmap(fs, d8, 0, &leafdir, &len), 0);
    ffs_unmount(fs);
    uint64_t ind1 = ind_block(&dev, &l, big, 0),
             ind2 = ind_block(&dev, &l, big, 1);
    assert_true(ind1 != 0 && ind2 != 0);
    uint64_t ind2b = rd(&dev, l.big, ind2, l.ufs2 ? 8 : 4) * l.fsize;
    assert_true(ind2b != 0);

    struct region regs[] = {
        { l.sb, 1376 },                     /* superblock */
        { inode_off(&l, root), l.isize },   /* root inode */
        { inode_off(&l, 2), l.isize * 60 }, /* inode area */
        { inode_off(&l, big), l.isize },    /* big file inode */
        { dir0, l.bsize },
        { dir1, 512 },
        { leafdir, 512 }, /* directories */
        { ind1, l.bsize },
        { ind2, l.bsize },
        { ind2b, l.bsize }, /* indirect blocks */
    };
    for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        fuzz_region(&dev, regs[i], 100, 1, &seed);
        fuzz_region(&dev, regs[i], 40, 4, &seed);
        assert_memory_equal(dev.data, clean, dev.size);
    }
    /* Pointers in indirect blocks replaced by large/negative values. */
    for (unsigned it = 0; it < 40; it++) {
        uint64_t base =
            (it & 1 ? ind1 : ind2b) + (tm_prng(&seed) % (l.bsize / 4)) * 4;
        uint8_t save[4];
        memcpy(save, dev.data + base, 4);
        memset(dev.data + base, it % 3 == 0 ? 0xff : 0x7f, 4);
        exercise(&dev);
        memcpy(dev.data + base, save, 4);
    }
    free(clean);
    free(dev.data);
}

static void test_ffs_random_corruption_gives_errnos_only(void **state)
{
    struct fixture *fx = *state;
    corrupt_image(fx, 1, "little", 4096, 512, 0x1234);
    corrupt_image(fx, 2, "big", 4096, 512, 0x5678);
    corrupt_image(fx, 1, "big", 4096, 1024, 0x9abc);
}

/* Every superblock byte flipped in turn. */
static void test_ffs_every_superblock_byte_flipped_gives_errnos(void **state)
{
    struct fixture *fx = *state;
    for (int v = 1; v <= 2; v++) {
        struct mem_dev dev =
            image_dev(fx, v, v == 1 ? "big" : "little", 4096, 512);
        for (uint64_t i = 0; i < 1376; i++) {
            dev.data[8192 + i] ^= 0xff;
            exercise(&dev);
            dev.data[8192 + i] ^= 0xff;
        }
        free(dev.data);
    }
}

static void test_ffs_truncated_image_fails_mount_with_eio(void **state)
{
    struct fixture *fx = *state;
    for (int v = 1; v <= 2; v++) {
        struct mem_dev dev = image_dev(fx, v, "little", 8192, 1024);
        uint64_t full = dev.size;
        const uint64_t lens[] = {
            0,           1,           100,     8192,
            8192 + 1375, 8192 + 1376, 65536,   65536 + 1376,
            full / 2,    full - 1024, full - 1
        };
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            struct ffs *fs = (struct ffs *)&dev;
            dev.size = lens[i];
            struct ffs_io io = make_io(&dev);
            assert_int_equal(ffs_mount(&io, &fs), EIO);
            assert_null(fs);
            assert_int_equal(dev.outstanding, 0);
        }
        dev.size = full;
        exercise(&dev);
        free(dev.data);
    }
}

/* Allocation failure at every allocation point: ENOMEM, nothing leaked. */
static void test_ffs_allocation_failure_anywhere_is_enomem_without_leaks(
    void **state)
{
    struct fixture *fx = *state;
    struct mem_dev dev = image_dev(fx, 2, "little", 4096, 512);
    int saw_ok = 0;
    for (long k = 0; k < 10 && !saw_ok; k++) {
        struct ffs_io io = make_io(&dev);
        struct ffs *fs = NULL;
        struct dlist l = { NULL, 0, 0 };
        uint32_t ino;
        dev.allocs = 0;
        dev.fail_at = k;
        int rc = ffs_mount(&io, &fs);
        if (rc == 0) {
            int r1 = ffs_namei(fs, "d1/d2/lup", 1, &ino);
            int r2 = ffs_readdir(fs, 2, collect, &l);
            assert_true(r1 == 0 || r1 == ENOMEM);
            assert_true(r2 == 0 || r2 == ENOMEM);
            saw_ok = r1 == 0 && r2 == 0;
            ffs_unmount(fs);
        } else {
            assert_int_equal(rc, ENOMEM);
        }
        free(l.v);
        assert_int_equal(dev.outstanding, 0);
    }
    assert_true(saw_ok);
    free(dev.data);
}

/* Holes: zero a direct and an indirect pointer of a file; reads give zeros. */
static void test_ffs_zeroed_block_pointers_read_as_holes(void **state)
{
    struct fixture *fx = *state;
    for (int v = 1; v <= 2; v++) {
        struct mem_dev dev =
            image_dev(fx, v, v == 1 ? "little" : "big", 4096, 512);
        struct ffs_io io = make_io(&dev);
        struct ffs *fs;
        struct layout l;
        uint64_t hsize, dev_off;
        uint32_t len;
        char host[256];
        size_t done;

        get_layout(&dev, &l);
        tree_path(host, sizeof(host), fx->tree, "big");
        uint8_t *want = file_slurp(host, &hsize), *got = malloc(hsize);
        assert_non_null(got);
        assert_int_equal(ffs_mount(&io, &fs), 0);
        uint32_t ino = lookup_ok(fs, "big", 0);
        uint64_t ip = inode_off(&l, ino), ps = l.ufs2 ? 8 : 4;
        uint64_t ind1 = ind_block(&dev, &l, ino, 0);
        memset(dev.data + ip + (l.ufs2 ? 112 : 40) + 3 * ps, 0, ps); /* db[3] */
        memset(dev.data + ind1 + 5 * ps, 0, ps); /* block 12+5 */
        memset(dev.data + ip + (l.ufs2 ? 208 : 88) + ps, 0, ps); /* ib[1] */
        ffs_invalidate(fs);
        memset(want + 3 * 4096, 0, 4096);
        memset(want + 17 * 4096, 0, 4096);
        uint64_t dbl = (12 + 4096 / ps) * 4096;
        memset(want + dbl, 0, hsize - dbl);
        assert_int_equal(ffs_read(fs, ino, 0, got, hsize, &done), 0);
        assert_int_equal(done, hsize);
        assert_memory_equal(got, want, hsize);
        assert_int_equal(ffs_bmap(fs, ino, 3, &dev_off, &len), 0);
        assert_true(dev_off == FFS_HOLE && len == 0);
        assert_int_equal(ffs_bmap(fs, ino, 17, &dev_off, &len), 0);
        assert_true(dev_off == FFS_HOLE);
        assert_int_equal(ffs_bmap(fs, ino, dbl / 4096 + 3, &dev_off, &len), 0);
        assert_true(dev_off == FFS_HOLE);
        assert_int_equal(ffs_bmap(fs, ino, 4, &dev_off, &len), 0);
        assert_true(dev_off != FFS_HOLE && len == 4096);
        ffs_unmount(fs);
        assert_int_equal(dev.outstanding, 0);
        free(want);
        free(got);
        free(dev.data);
    }
}

/* => optional argv[1]: cmocka test-name filter (glob). */
int main(int argc, char **argv)
{
    /* Two trees, each built once: with the 6 MiB file "big" (whose
       indirect blocks the tests below aim at) and without. */
    const struct CMUnitTest with_big[] = {
        cmocka_unit_test(test_ffs_every_format_reads_back_the_host_tree),
        cmocka_unit_test(test_ffs_zeroed_block_pointers_read_as_holes),
        cmocka_unit_test(test_ffs_random_corruption_gives_errnos_only),
    };
    const struct CMUnitTest without_big[] = {
        cmocka_unit_test(test_ffs_truncated_image_fails_mount_with_eio),
        cmocka_unit_test(test_ffs_corrupt_directory_entry_is_einval),
        cmocka_unit_test(
            test_ffs_block_pointer_outside_or_misaligned_is_einval),
        cmocka_unit_test(test_ffs_oversized_symlink_is_enametoolong),
        cmocka_unit_test(test_ffs_directory_size_past_its_blocks_is_einval),
        cmocka_unit_test(
            test_ffs_allocation_failure_anywhere_is_enomem_without_leaks),
        cmocka_unit_test(test_ffs_every_superblock_byte_flipped_gives_errnos),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    int failed = cmocka_run_group_tests(with_big, setup_big, teardown);
    return failed + cmocka_run_group_tests(without_big, setup, teardown);
}
