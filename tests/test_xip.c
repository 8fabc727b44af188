/*
 * Files on NOR flash through the XIP and copy-mode pagers, on real FFS
 * images made by makefs at test time.  Every byte read through XIP
 * mappings, copy-mode mappings and read() must equal the host file.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ffs_format.h"
#include "flash.h"
#include "machine.h"
#include "vfs.h"

struct tfile {
    const char *path;
    uint64_t size;
};

/* Sizes around pages, fragments, blocks and the indirect boundaries. */
static const struct tfile files[] = {
    { "empty", 0 },
    { "one", 1 },
    { "small", 100 },
    { "page_minus", 4095 },
    { "page", 4096 },
    { "page_plus", 4097 },
    { "frag5000", 5000 },
    { "ten_k", 10000 },
    { "mid", 65536 + 123 },
    { "bin/prog", 200000 },
    { "d1/d2/d3/d4/d5/d6/d7/d8/deep.txt", 3000 },
};
#define NFILES   (sizeof(files) / sizeof(files[0]))
#define BIG_SIZE (6u * 1024 * 1024 + 12345) /* double indirect at 4K */

struct fixture {
    char *small, *big; /* host trees */
    char *dir;         /* images */
};

static void make_tree(const char *root)
{
    for (size_t i = 0; i < NFILES; i++)
        tree_file(root, files[i].path, files[i].size, (uint32_t)i * 7919 + 1);
    tree_link(root, "d1/d2/d3/d4/d5/d6/d7/d8/deep.txt", "link_rel");
    tree_link(root, "/bin/prog", "link_abs");
    tree_dir(root, "emptydir");
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->small = tree_new();
    fx->big = tree_new();
    fx->dir = tree_new();
    make_tree(fx->small);
    make_tree(fx->big);
    tree_file(fx->big, "big", BIG_SIZE, 4242);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_remove(fx->small);
    tree_remove(fx->big);
    tree_remove(fx->dir);
    free(fx);
    return 0;
}

static uint64_t frames(xvm_machine *m, int use)
{
    return tm_stats(m).pages[use];
}

/*
 * Reads a file three ways and checks each page's placement: under XIP,
 * pages of full blocks before the tail must be mapped in place (and the
 * flash bytes there are the file's), a tail page that cannot fit in the
 * fragment run must be a page-cache copy.
 */
static void verify_file(struct tm_world *w, const char *path,
                        const uint8_t *host, uint64_t size, unsigned bsize,
                        unsigned fsize)
{
    xvm_file *f;
    uint64_t pages = (size + PG - 1) / PG, addr = 0;
    int xip = xvm_mount_is_xip(w->mp);
    assert_int_equal(xvm_open(w->mp, path, XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_file_size(f), size);
    uint8_t *buf = malloc(size + 2 * PG);
    size_t done = 0;
    uint64_t cache0 = frames(w->m, XVM_USE_PAGECACHE);

    assert_int_equal(xvm_pread(f, 0, buf, size + 100, &done), 0);
    assert_int_equal(done, size);
    assert_memory_equal(buf, host, size);
    if (size == 0) {
        xvm_close(f);
        free(buf);
        return;
    }
    assert_int_equal(
        xvm_mmap_file(w->vs, &addr, size, XVM_PROT_READ, XVM_MAP_PRIVATE, f, 0),
        0);
    memset(buf, 0xee, size + 2 * PG);
    assert_int_equal(xvm_read(w->vs, addr, buf, pages * PG), 0);
    assert_memory_equal(buf, host, size);
    for (uint64_t i = size; i < pages * PG; i++)
        assert_int_equal(buf[i], 0); /* past EOF: always zero */

    uint64_t base = xvm_flash_phys_base(w->flash), inplace = 0;
    uint64_t last = (size - 1) / bsize, tail = size - last * bsize;
    uint64_t fraglen =
        size > 12ull * bsize ? bsize : (tail + fsize - 1) / fsize * fsize;
    for (uint64_t p = 0; p < pages; p++) {
        uint64_t pa, off = p * PG;
        assert_int_equal(xvm_extract(w->vs, addr + off, &pa), 0);
        int in_flash = pa >= base && pa < base + xvm_flash_size(w->flash);
        assert_int_equal(in_flash && !xip, 0);
        if (!xip)
            continue;
        if (off / bsize < last)
            assert_true(in_flash); /* full block: in place */
        if (off / bsize == last && off % bsize + PG > fraglen)
            assert_false(in_flash); /* does not fit the run */
        if (in_flash) {
            inplace++;
            assert_memory_equal(w->flash->data + (pa - base), buf + off, PG);
        }
    }
    uint64_t copied = frames(w->m, XVM_USE_PAGECACHE) - cache0;
    /* Fault-ahead and read-ahead are off: exactly the pages touched. */
    assert_int_equal(copied, xip ? pages - inplace : pages);
    tm_check(w->m);
    assert_int_equal(xvm_munmap(w->vs, addr, size), 0);
    xvm_close(f);
    free(buf);
}

static void verify_image(const char *tree, const char *img, int big,
                         unsigned bsize, unsigned fsize)
{
    char host[1024];
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        tm_world_up(&w, "amd64", 64u << 20, 0, img, xip, 0);
        /* Through symbolic links and dot-dot too: (image path, host file). */
        static const char *const extra[][2] = {
            { "link_rel", "d1/d2/d3/d4/d5/d6/d7/d8/deep.txt" },
            { "/link_abs", "bin/prog" },
            { "/d1/../bin/prog", "bin/prog" },
            { "big", "big" },
        };
        for (size_t i = 0; i < NFILES + 3 + (size_t)big; i++) {
            const char *path =
                i < NFILES ? files[i].path : extra[i - NFILES][0];
            const char *hrel =
                i < NFILES ? files[i].path : extra[i - NFILES][1];
            uint64_t size;
            snprintf(host, sizeof(host), "%s/%s", tree, hrel);
            uint8_t *bytes = file_slurp(host, &size);
            verify_file(&w, path, bytes, size, bsize, fsize);
            free(bytes);
        }
        tm_world_down(&w);
    }
}

static void test_xip_every_byte_matches_copy_mode_read_and_host(void **state)
{
    struct fixture *fx = *state;
    static const unsigned geo[][2] = {
        { 4096, 512 },   { 8192, 1024 },   { 16384, 2048 },
        { 32768, 4096 }, { 32768, 32768 },
    };
    static const char *const endian[] = { "little", "big" };
    char img[1024];
    for (int v = 1; v <= 2; v++)
        for (int e = 0; e < 2; e++)
            for (size_t g = 0; g < 5; g++) {
                /* The 6 MiB file in two of the twenty layouts. */
                int big = g == 0 && v == e + 1;
                snprintf(img, sizeof(img), "%s/ufs%d-%s-%u.img", fx->dir, v,
                         endian[e], geo[g][0]);
                image_make(big ? fx->big : fx->small, img, v, endian[e],
                           geo[g][0], geo[g][1]);
                uint64_t before = file_hash(img);
                verify_image(big ? fx->big : fx->small, img, big, geo[g][0],
                             geo[g][1]);
                assert_true(file_hash(img) == before); /* never written */
                unlink(img);
            }
}

/* Makes img = dir/name from the small tree, once per group: a later call
 * with the same name reuses it (no test writes an image). */
static void build(struct fixture *fx, char *img, size_t cap, const char *name,
                  int version, unsigned bsize, unsigned fsize)
{
    tree_path(img, cap, fx->dir, name);
    if (access(img, F_OK) == 0)
        return;
    image_make(fx->small, img, version, "little", bsize, fsize);
}

/* build, then an XIP world on the image. */
static void xip_up(struct tm_world *w, struct fixture *fx, const char *name,
                   int version, unsigned bsize, unsigned fsize)
{
    char img[1024];
    build(fx, img, sizeof(img), name, version, bsize, fsize);
    tm_world_up(w, "amd64", 64u << 20, 0, img, 1, 0);
}

/* The file bin/prog mapped private (RWX) by three processes of an XIP
 * world, each reading a byte of its second page. */
struct three {
    char img[1024];
    uint64_t hash, size;
    uint8_t *orig;
    struct tm_world w;
    xvm_file *f;
    xvm_vmspace *vs[3];
    uint64_t a[3];
};

static void three_up(struct fixture *fx, struct three *t)
{
    build(fx, t->img, sizeof(t->img), "cow.img", 2, 16384, 2048);
    t->hash = file_hash(t->img);
    t->orig = tree_slurp(fx->small, "bin/prog", &t->size);
    tm_world_up(&t->w, "amd64", 64u << 20, 0, t->img, 1, 0);
    assert_int_equal(xvm_open(t->w.mp, "bin/prog", XVM_O_RDONLY, &t->f), 0);
    for (int k = 0; k < 3; k++) {
        t->vs[k] = tm_vs(t->w.m);
        t->a[k] = 0;
        assert_int_equal(
            xvm_mmap_file(t->vs[k], &t->a[k], t->size,
                          XVM_PROT_READ | XVM_PROT_WRITE | XVM_PROT_EXEC,
                          XVM_MAP_PRIVATE, t->f, 0),
            0);
        assert_int_equal(tm_rd8(t->vs[k], t->a[k] + PG + 5), t->orig[PG + 5]);
    }
}

static void three_down(struct three *t)
{
    for (int k = 0; k < 3; k++)
        xvm_vmspace_destroy(t->vs[k]);
    xvm_close(t->f);
    tm_world_down(&t->w);
    assert_true(file_hash(t->img) == t->hash);
    free(t->orig);
}

/* Three processes share a file's device pages; one writes its copy. */
static void test_xip_private_write_promotes_device_page(void **state)
{
    struct three t;
    three_up(*state, &t);
    uint8_t *orig = t.orig;
    xvm_vmspace **vs = t.vs;
    uint64_t *a = t.a;
    struct xvm_stats s0 = tm_stats(t.w.m);
    assert_int_equal(s0.pv_device, 3);
    assert_int_equal(s0.pages[XVM_USE_PAGECACHE], 0);
    tm_wr8(vs[1], a[1] + PG + 5, (uint8_t)~orig[PG + 5]);
    tm_check(t.w.m);
    struct xvm_stats s1 = tm_stats(t.w.m);
    assert_int_equal(s1.cow_from_device - s0.cow_from_device, 1);
    assert_int_equal(s1.pages[XVM_USE_ANON], 1);
    assert_int_equal(s1.pv_device, 2);
    assert_int_equal(tm_rd8(vs[1], a[1] + PG + 5), (uint8_t)~orig[PG + 5]);
    assert_int_equal(tm_rd8(vs[1], a[1] + PG + 6), orig[PG + 6]);
    assert_int_equal(tm_rd8(vs[0], a[0] + PG + 5), orig[PG + 5]);
    assert_int_equal(tm_rd8(vs[2], a[2] + PG + 5), orig[PG + 5]);
    uint8_t b;
    size_t done;
    assert_int_equal(xvm_pread(t.f, PG + 5, &b, 1, &done), 0);
    assert_int_equal(b, orig[PG + 5]);
    three_down(&t);
}

/* Executing the file's text in place. */
static void test_xip_file_text_executes_in_place(void **state)
{
    struct three t;
    three_up(*state, &t);
    uint8_t code[64];
    assert_int_equal(xvm_fetch(t.vs[0], t.a[0] + 3 * PG - 32, code, 64), 0);
    assert_memory_equal(code, t.orig + 3 * PG - 32, 64);
    assert_true(tm_stats(t.w.m).flash_xip_bytes_read >= 64);
    three_down(&t);
}

/* Punches a hole (direct block 1 of bin/prog) into a copy of an image. */
static void punch_hole(const char *img, const char *holed, unsigned *bsize_out)
{
    uint64_t n;
    uint8_t *bytes = file_slurp(img, &n);
    struct tm_world w;
    uint32_t ino;
    uint64_t off;
    unsigned psz;
    tm_world_attach(&w, "amd64", 4u << 20, 0, bytes, n);
    tm_world_mount(&w, 0, TM_RA_DEFAULT, 0);
    tm_quiet_begin(w.m);
    assert_int_equal(ffs_namei(w.mp->fs, "bin/prog", 1, &ino), 0);
    assert_int_equal(ffs_db_offset(w.mp->fs, ino, 1, &off, &psz), 0);
    *bsize_out = ffs_bsize(w.mp->fs);
    tm_quiet_end(w.m);
    tm_world_down(&w);
    memset(bytes + off, 0, psz);
    file_spit(holed, bytes, n);
    free(bytes);
}

static void test_xip_hole_maps_zero_page_and_write_zero_fills(void **state)
{
    struct fixture *fx = *state;
    char img[1024], holed[1024];
    unsigned bsize;
    build(fx, img, sizeof(img), "hole.img", 1, 8192, 1024);
    snprintf(holed, sizeof(holed), "%s/holed.img", fx->dir);
    punch_hole(img, holed, &bsize);
    uint64_t size;
    uint8_t *expect = tree_slurp(fx->small, "bin/prog", &size);
    memset(expect + bsize, 0, bsize); /* block 1 is now a hole */
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        tm_world_up(&w, "amd64", 64u << 20, 0, holed, xip, 0);
        xvm_file *f;
        uint64_t a = 0, pa1, pa2;
        assert_int_equal(xvm_open(w.mp, "/bin/prog", XVM_O_RDONLY, &f), 0);
        assert_int_equal(xvm_mmap_file(w.vs, &a, size,
                                       XVM_PROT_READ | XVM_PROT_WRITE,
                                       XVM_MAP_PRIVATE, f, 0),
                         0);
        uint8_t *buf = malloc(size);
        assert_int_equal(xvm_read(w.vs, a, buf, size), 0);
        assert_memory_equal(buf, expect, size);
        size_t done;
        assert_int_equal(xvm_pread(f, 0, buf, size, &done), 0);
        assert_memory_equal(buf, expect, size);
        if (xip) {
            /* Both pages of the hole map the one zero page. */
            assert_int_equal(xvm_extract(w.vs, a + bsize, &pa1), 0);
            assert_int_equal(xvm_extract(w.vs, a + bsize + PG, &pa2), 0);
            assert_int_equal(pa1, pa2);
            assert_true(tm_stats(w.m).xip_hole_maps >= 2);
        }
        uint64_t anon0 = frames(w.m, XVM_USE_ANON);
        tm_wr8(w.vs, a + bsize + 10, 0x77);
        assert_int_equal(frames(w.m, XVM_USE_ANON), anon0 + 1);
        assert_int_equal(tm_rd8(w.vs, a + bsize + 10), 0x77);
        assert_int_equal(tm_rd8(w.vs, a + bsize + 11), 0);
        assert_int_equal(tm_rd8(w.vs, a + bsize + PG), 0);
        tm_check(w.m);
        free(buf);
        assert_int_equal(xvm_munmap(w.vs, a, size), 0);
        xvm_close(f);
        tm_world_down(&w);
    }
    free(expect);
}

struct totals {
    uint64_t files, dirs, links, pages, xip, holes, fallbacks;
};

static int sum_info(void *arg, const struct xvm_file_info *fi)
{
    struct totals *t = arg;
    t->files += fi->type == 1;
    t->dirs += fi->type == 2;
    t->links += fi->type == 3;
    if (fi->type == 1) {
        assert_int_equal(fi->pages, (fi->size + PG - 1) / PG);
        assert_int_equal(fi->xip_pages + fi->hole_pages + fi->fallback_pages,
                         fi->pages);
        if (strcmp(fi->path, "/frag5000") == 0)
            assert_int_equal(fi->fallback_pages, 1);
    }
    t->pages += fi->pages;
    t->xip += fi->xip_pages;
    t->holes += fi->hole_pages;
    t->fallbacks += fi->fallback_pages;
    return 0;
}

static void test_fsinfo_counts_every_file_and_page(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    xip_up(&w, fx, "info.img", 2, 8192, 1024);
    struct totals t = { 0 };
    struct xvm_stats s0 = tm_stats(w.m);
    assert_int_equal(xvm_fsinfo(w.mp, sum_info, &t), 0);
    assert_int_equal(t.files, NFILES);
    assert_int_equal(t.links, 2);
    assert_int_equal(t.dirs, 8 + 2); /* d1..d8, bin, emptydir */
    assert_int_equal(t.xip + t.holes + t.fallbacks, t.pages);
    /* Files with a fragment tail that cannot hold a page fall back. */
    assert_true(t.fallbacks >= 5);
    /* fsinfo reads without accounting. */
    assert_int_equal(tm_stats(w.m).flash_block_reads, s0.flash_block_reads);
    tm_world_down(&w);
}

static int count_info(void *arg, const struct xvm_file_info *fi)
{
    (void)fi;
    ++*(unsigned *)arg;
    return 0;
}

/*
 * Corrupt images must not make fsinfo walk forever: a file claiming an
 * absurd size gives EFBIG; a directory that contains itself gives ELOOP.
 */
static void fsinfo_of_damaged(struct fixture *fx, int damage)
{
    char img[1024];
    build(fx, img, sizeof(img), "absurd.img", 2, 16384, 2048);
    uint64_t n, off;
    unsigned psz;
    uint32_t ino;
    uint8_t *bytes = file_slurp(img, &n);
    struct tm_world w;
    tm_world_attach(&w, "amd64", 16u << 20, 0, bytes, n);
    tm_world_mount(&w, 1, 0, 0);
    tm_quiet_begin(w.m);
    if (damage == 0) {
        /* UFS2 di_size sits 96 bytes before di_db[0]. */
        assert_int_equal(ffs_namei(w.mp->fs, "bin/prog", 1, &ino), 0);
        assert_int_equal(ffs_db_offset(w.mp->fs, ino, 0, &off, &psz), 0);
        for (int k = 0; k < 8; k++)
            bytes[off - 96 + (uint64_t)k] = k == 6 ? 0x40 : 0; /* 2^54 bytes */
    } else {
        /* The root's first entry (".") renamed: a subdirectory that is
         * the root itself. */
        uint64_t dir0;
        uint32_t len;
        assert_int_equal(ffs_bmap(w.mp->fs, 2, 0, &dir0, &len), 0);
        bytes[dir0 + 8] = 'z'; /* "." -> "z", still inode 2 */
    }
    tm_quiet_end(w.m);
    ffs_invalidate(w.mp->fs);
    unsigned seen = 0;
    assert_int_equal(xvm_fsinfo(w.mp, count_info, &seen),
                     damage ? ELOOP : EFBIG);
    tm_world_down(&w);
    free(bytes);
}

static void test_fsinfo_refuses_an_absurd_file_size_with_efbig(void **state)
{
    fsinfo_of_damaged(*state, 0);
}

static void test_fsinfo_refuses_a_directory_loop_with_eloop(void **state)
{
    fsinfo_of_damaged(*state, 1);
}

/* fsinfo's figures of one file, by path. */
struct one_file {
    const char *path;
    struct xvm_file_info fi;
    unsigned seen, errors;
};

static int find_info(void *arg, const struct xvm_file_info *fi)
{
    struct one_file *o = arg;
    o->errors += fi->error != 0;
    if (strcmp(fi->path, o->path) == 0) {
        o->fi = *fi;
        o->fi.path = NULL;
        o->seen++;
    }
    return 0;
}

/* The pager's rule, page by page (what fsinfo did before runs). */
static void pager_counts(struct tm_world *w, const char *path, uint64_t *xip,
                         uint64_t *holes, uint64_t *fallbacks)
{
    uint32_t ino;
    struct ffs_stat st;
    *xip = *holes = *fallbacks = 0;
    tm_quiet_begin(w->m);
    assert_int_equal(ffs_namei(w->mp->fs, path, 1, &ino), 0);
    assert_int_equal(ffs_stat(w->mp->fs, ino, &st), 0);
    struct vnode vn = { .mp = w->mp, .ino = ino, .size = st.size };
    for (uint64_t off = 0; off < st.size; off += PG) {
        enum xip_kind kind;
        uint64_t pa;
        assert_int_equal(xip_classify(&vn, off, &kind, &pa), 0);
        *xip += kind == XIP_DEVICE;
        *holes += kind == XIP_HOLE;
        *fallbacks += kind == XIP_FALLBACK;
    }
    tm_quiet_end(w->m);
}

/* Patches n little-endian bytes of value v at off of a mounted image. */
static void poke(uint8_t *img, uint64_t off, unsigned n, uint64_t v)
{
    for (unsigned k = 0; k < n; k++)
        img[off + k] = (uint8_t)(v >> (8 * k));
}

/* The image's bytes attached and mounted XIP (amd64, 64 MiB) in *w, and
 * where path's inode keeps its first direct block pointer (*off, *psz:
 * its size) in them. */
static uint8_t *attach_at_inode(struct tm_world *w, const char *img,
                                const char *path, uint64_t *off, unsigned *psz)
{
    uint64_t n;
    uint32_t ino;
    uint8_t *bytes = file_slurp(img, &n);
    tm_world_attach(w, "amd64", 64u << 20, 0, bytes, n);
    tm_world_mount(w, 1, 0, 0);
    tm_quiet_begin(w->m);
    assert_int_equal(ffs_namei(w->mp->fs, path, 1, &ino), 0);
    assert_int_equal(ffs_db_offset(w->mp->fs, ino, 0, off, psz), 0);
    tm_quiet_end(w->m);
    return bytes;
}

/*
 * fsinfo walks block maps in runs: on files with holes in the direct
 * blocks, a whole single-indirect range missing and a sparse tail reaching
 * the double and triple indirect ranges, and on files of every size, its
 * figures equal the pager's, page by page.
 */
static void test_fsinfo_equals_the_pager_page_by_page(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        int version;
        unsigned bsize, fsize;
    } geo[] = { { 1, 4096, 512 }, { 2, 16384, 2048 }, { 2, 65536, 8192 } };
    for (size_t g = 0; g < sizeof(geo) / sizeof(geo[0]); g++) {
        char img[1024], name[32];
        uint64_t off;
        unsigned psz;
        snprintf(name, sizeof(name), "runs%zu.img", g);
        image_make_in(img, sizeof(img), fx->dir, name, fx->big, geo[g].version,
                      "little", geo[g].bsize, geo[g].fsize);
        struct tm_world w;
        uint8_t *bytes = attach_at_inode(&w, img, "big", &off, &psz);
        int ufs2 = geo[g].version == 2;
        uint64_t dino = off - (ufs2 ? FFS_DI2_DB : FFS_DI1_DB);
        poke(bytes, off + 3 * psz, psz, 0); /* db[3]: a hole */
        poke(bytes, dino + (ufs2 ? FFS_DI2_IB : FFS_DI1_IB), psz, 0);
        uint64_t nindir = geo[g].bsize / psz;
        uint64_t sparse = (12 + nindir + 5) * geo[g].bsize + 1000;
        uint64_t di_size = dino + (ufs2 ? FFS_DI2_SIZE : FFS_DI1_SIZE);
        poke(bytes, di_size, 8, sparse); /* into double indirect */
        ffs_invalidate(w.mp->fs);
        for (size_t i = 0; i <= NFILES; i++) {
            const char *path = i < NFILES ? files[i].path : "big";
            char full[256];
            uint64_t xip, holes, fb;
            snprintf(full, sizeof(full), "/%s", path);
            struct one_file o = { .path = full };
            assert_int_equal(xvm_fsinfo(w.mp, find_info, &o), 0);
            assert_int_equal(o.seen, 1);
            assert_int_equal(o.errors, 0);
            if (i < NFILES && files[i].size > (uint64_t)16 * PG * 64)
                continue;
            pager_counts(&w, path, &xip, &holes, &fb);
            assert_int_equal(o.fi.xip_pages, xip);
            assert_int_equal(o.fi.hole_pages, holes);
            assert_int_equal(o.fi.fallback_pages, fb);
            assert_int_equal(o.fi.pages, xip + holes + fb);
            if (i == NFILES) { /* the holes are there */
                assert_true(holes > nindir);
                assert_true(xip > 0);
            }
        }
        /* Far into the triple indirect range (2^20 and more blocks), then
         * 7 * nindir^2 blocks further: only holes more, in no time. */
        struct one_file o0 = { .path = "/big" }, o1 = { .path = "/big" };
        uint64_t huge = (12 + nindir + nindir * nindir + nindir * 3) *
                        (uint64_t)geo[g].bsize;
        uint64_t more = 7 * nindir * nindir * (uint64_t)geo[g].bsize;
        poke(bytes, di_size, 8, huge);
        ffs_invalidate(w.mp->fs);
        assert_int_equal(xvm_fsinfo(w.mp, find_info, &o0), 0);
        poke(bytes, di_size, 8, huge + more);
        ffs_invalidate(w.mp->fs);
        assert_int_equal(xvm_fsinfo(w.mp, find_info, &o1), 0);
        assert_int_equal(o1.fi.pages, (huge + more) / PG);
        assert_int_equal(o0.fi.pages, o0.fi.xip_pages + o0.fi.hole_pages +
                                          o0.fi.fallback_pages);
        assert_int_equal(o1.fi.xip_pages, o0.fi.xip_pages);
        assert_int_equal(o1.fi.fallback_pages, o0.fi.fallback_pages);
        assert_int_equal(o1.fi.hole_pages, o0.fi.hole_pages + more / PG);
        tm_world_down(&w);
        free(bytes);
    }
}

struct link_info {
    unsigned links, errors;
    struct xvm_file_info first;
};

static int links_info(void *arg, const struct xvm_file_info *fi)
{
    struct link_info *l = arg;
    l->errors += fi->error != 0;
    if (fi->type != 1 || strncmp(fi->path, "/l/", 3) != 0)
        return 0;
    if (l->links++ == 0) {
        l->first = *fi;
    } else {
        assert_int_equal(fi->ino, l->first.ino);
        assert_int_equal(fi->pages, l->first.pages);
        assert_int_equal(fi->xip_pages, l->first.xip_pages);
        assert_int_equal(fi->hole_pages, l->first.hole_pages);
        assert_int_equal(fi->fallback_pages, l->first.fallback_pages);
    }
    return 0;
}

/* Hard links to one sparse file (two whole blocks, then a hole of 80 MiB
 * less): every link listed with its figures. */
static void test_fsinfo_lists_every_hard_link(void **state)
{
    struct fixture *fx = *state;
    char *tree = tree_new(), img[1024], a[1024], b[1024];
    enum { LINKS = 2000 };
    tree_file(tree, "l/f0000", 32768, 7);
    tree_path(a, sizeof(a), tree, "l/f0000");
    for (int i = 1; i < LINKS; i++) {
        char rel[32];
        snprintf(rel, sizeof(rel), "l/f%04d", i);
        tree_path(b, sizeof(b), tree, rel);
        assert_int_equal(link(a, b), 0);
    }
    image_make_in(img, sizeof(img), fx->dir, "links.img", tree, 2, "little",
                  16384, 2048);
    tree_remove(tree);
    uint64_t off;
    unsigned psz;
    struct tm_world w;
    uint8_t *bytes = attach_at_inode(&w, img, "l/f0000", &off, &psz);
    poke(bytes, off - FFS_DI2_DB + FFS_DI2_SIZE, 8, (uint64_t)80 << 20);
    ffs_invalidate(w.mp->fs);
    struct link_info l = { 0 };
    assert_int_equal(xvm_fsinfo(w.mp, links_info, &l), 0);
    assert_int_equal(l.links, LINKS);
    assert_int_equal(l.errors, 0);
    assert_int_equal(l.first.pages, (80u << 20) / PG);
    assert_int_equal(l.first.xip_pages, 8);
    assert_int_equal(l.first.hole_pages, l.first.pages - 8);
    tm_world_down(&w);
    free(bytes);
}

struct listing {
    char names[64][64];
    uint64_t inos[64];
    unsigned n;
    struct xvm_file_info bad;
    char bad_path[256];
    unsigned nbad;
};

static int list_dir(void *arg, const struct xvm_file_info *fi)
{
    struct listing *l = arg;
    if (fi->error) {
        l->bad = *fi;
        snprintf(l->bad_path, sizeof(l->bad_path), "%s", fi->path);
        l->nbad++;
    } else if (strncmp(fi->path, "/d/", 3) == 0 && l->n < 64) {
        snprintf(l->names[l->n], sizeof(l->names[0]), "%s", fi->path + 3);
        l->inos[l->n++] = fi->ino;
    }
    return 0;
}

static int has_name(const struct listing *l, const char *name)
{
    for (unsigned i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return 1;
    return 0;
}

/*
 * A corrupt record in a directory: fsinfo names its path and inode, lists
 * every entry of the other chunks and those before it in its own, and
 * returns EINVAL once all are told.  Which entries are lost is worked out
 * from the image's bytes: the records after it in its 512-byte chunk.
 */
static void test_fsinfo_tells_a_corrupt_entry_and_lists_the_rest(void **state)
{
    struct fixture *fx = *state;
    char *tree = tree_new(), img[1024];
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "d/entry_with_a_long_name_%03d", i);
        tree_file(tree, rel, 100, (uint32_t)i);
    }
    image_make_in(img, sizeof(img), fx->dir, "dirs.img", tree, 1, "little",
                  4096, 512);
    tree_remove(tree);
    uint64_t n;
    uint8_t *bytes = file_slurp(img, &n);
    struct tm_world w;
    tm_world_attach(&w, "amd64", 64u << 20, 0, bytes, n);
    tm_world_mount(&w, 1, 0, 0);
    struct listing before = { 0 };
    assert_int_equal(xvm_fsinfo(w.mp, list_dir, &before), 0);
    assert_int_equal(before.n, N);
    /* The directory's records, by where their names lie in the image. */
    uint32_t dino;
    uint64_t dev;
    uint32_t len;
    tm_quiet_begin(w.m);
    assert_int_equal(ffs_namei(w.mp->fs, "d", 1, &dino), 0);
    assert_int_equal(ffs_bmap(w.mp->fs, dino, 0, &dev, &len), 0);
    tm_quiet_end(w.m);
    uint64_t at[N];
    for (int i = 0; i < N; i++) {
        const char *nm = before.names[i];
        size_t k = strlen(nm);
        at[i] = UINT64_MAX;
        for (uint64_t o = dev; o + k <= dev + len; o++)
            if (memcmp(bytes + o, nm, k) == 0 && bytes[o - 1] == k)
                at[i] = o - 8 - dev; /* the record starts 8 bytes before */
        assert_true(at[i] != UINT64_MAX);
    }
    /* Break the third record of the first chunk: its length is 2. */
    int victim = -1;
    for (int i = 0; i < N; i++)
        if (at[i] < FFS_DIRBLKSIZ && (victim < 0 || at[i] < at[victim]) &&
            at[i] > 24 + 40)
            victim = i;
    assert_true(victim >= 0);
    poke(bytes, dev + at[victim] + 4, 2, 2);
    ffs_invalidate(w.mp->fs);
    struct listing after = { 0 };
    assert_int_equal(xvm_fsinfo(w.mp, list_dir, &after), EINVAL);
    assert_int_equal(after.nbad, 1);
    char want[128];
    snprintf(want, sizeof(want), "/d/%s", before.names[victim]);
    assert_string_equal(after.bad_path, want);
    assert_int_equal(after.bad.ino, before.inos[victim]);
    assert_int_equal(after.bad.error, EINVAL);
    assert_string_equal(after.bad.problem, "corrupt directory entry");
    unsigned lost = 0;
    for (int i = 0; i < N; i++) {
        int gone = at[i] / FFS_DIRBLKSIZ == at[victim] / FFS_DIRBLKSIZ &&
                   at[i] >= at[victim];
        lost += gone;
        assert_int_equal(has_name(&after, before.names[i]), !gone);
    }
    assert_int_equal(after.n, N - lost);
    assert_true(after.n > N / 2);
    tm_world_down(&w);
    free(bytes);
}

static void test_fallback_page_for_fragment_tail_is_counted(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    xip_up(&w, fx, "frag.img", 2, 8192, 1024);
    xvm_file *f;
    uint64_t a = 0;
    assert_int_equal(xvm_open(w.mp, "frag5000", XVM_O_RDONLY, &f), 0);
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, 5000, XVM_PROT_READ, XVM_MAP_SHARED, f, 0), 0);
    tm_rd8(w.vs, a + 4096);
    struct xvm_stats st = tm_stats(w.m);
    assert_int_equal(st.fallback_pages, 1);
    assert_int_equal(st.pages[XVM_USE_PAGECACHE], 1);
    tm_rd8(w.vs, a + 4097);
    assert_int_equal(tm_stats(w.m).fallback_pages, 1);
    tm_check(w.m);
    xvm_close(f);
    tm_world_down(&w);
}

/* An XIP world on mode.img with bin/prog open read-only in *f. */
static void mode_up(struct fixture *fx, struct tm_world *w, xvm_file **f)
{
    xip_up(w, fx, "mode.img", 2, 16384, 2048);
    assert_int_equal(xvm_open(w->mp, "bin/prog", XVM_O_RDONLY, f), 0);
}

static void test_file_open_for_writing_or_of_no_file_is_refused(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    xip_up(&w, fx, "mode.img", 2, 16384, 2048);
    xvm_file *f;
    assert_int_equal(xvm_open(w.mp, "bin/prog", XVM_O_RDWR, &f), EROFS);
    assert_int_equal(xvm_open(w.mp, "bin/prog", XVM_O_WRONLY, &f), EROFS);
    assert_int_equal(xvm_open(w.mp, "bin", XVM_O_RDONLY, &f), EISDIR);
    assert_int_equal(xvm_open(w.mp, "nope", XVM_O_RDONLY, &f), ENOENT);
    assert_int_equal(xvm_open(w.mp, "one/x", XVM_O_RDONLY, &f), ENOTDIR);
    tm_world_down(&w);
}

static void test_file_shared_mapping_of_read_only_file_stays_read_only(
    void **state)
{
    struct tm_world w;
    xvm_file *f;
    uint64_t a = 0;
    mode_up(*state, &w, &f);
    assert_int_equal(xvm_mmap_file(w.vs, &a, PG, XVM_PROT_READ | XVM_PROT_WRITE,
                                   XVM_MAP_SHARED, f, 0),
                     EACCES); /* opened read-only: as Linux and NetBSD */
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, PG, XVM_PROT_READ, XVM_MAP_SHARED, f, 0), 0);
    assert_int_equal(xvm_mprotect(w.vs, a, PG, XVM_PROT_READ | XVM_PROT_WRITE),
                     EACCES);
    uint8_t v = 1;
    assert_int_equal(xvm_write(w.vs, a, &v, 1), EACCES);
    tm_check(w.m);
    assert_int_equal(xvm_munmap(w.vs, a, PG), 0);
    xvm_close(f);
    tm_world_down(&w);
}

static void test_file_private_mapping_is_written_without_touching_the_file(
    void **state)
{
    struct tm_world w;
    xvm_file *f;
    uint64_t a = 0, p = 0;
    mode_up(*state, &w, &f);
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, PG, XVM_PROT_READ, XVM_MAP_SHARED, f, 0), 0);
    assert_int_equal(
        xvm_mmap_file(w.vs, &p, PG, XVM_PROT_READ, XVM_MAP_PRIVATE, f, 0), 0);
    assert_int_equal(xvm_mprotect(w.vs, p, PG, XVM_PROT_READ | XVM_PROT_WRITE),
                     0);
    uint8_t orig;
    size_t done;
    assert_int_equal(xvm_pread(f, 0, &orig, 1, &done), 0);
    tm_wr8(w.vs, p, (uint8_t)(orig + 1));
    assert_int_equal(tm_rd8(w.vs, p), (uint8_t)(orig + 1));
    assert_int_equal(tm_rd8(w.vs, a), orig); /* the file is untouched */
    tm_check(w.m);
    assert_int_equal(xvm_munmap(w.vs, a, PG), 0);
    assert_int_equal(xvm_munmap(w.vs, p, PG), 0);
    xvm_close(f);
    tm_world_down(&w);
}

static void test_file_mapping_at_unaligned_offset_or_past_eof_is_einval(
    void **state)
{
    struct tm_world w;
    xvm_file *f;
    uint64_t p = 0;
    mode_up(*state, &w, &f);
    assert_int_equal(
        xvm_mmap_file(w.vs, &p, PG, XVM_PROT_READ, XVM_MAP_PRIVATE, f, 3),
        EINVAL);
    assert_int_equal(
        xvm_mmap_file(w.vs, &p, 400000, XVM_PROT_READ, XVM_MAP_PRIVATE, f, 0),
        EINVAL);
    tm_check(w.m);
    xvm_close(f);
    tm_world_down(&w);
}

/* Busy: an open file keeps the mount, the mount keeps the flash. */
static void test_file_open_keeps_the_mount_and_the_flash_busy(void **state)
{
    struct tm_world w;
    xvm_file *f;
    mode_up(*state, &w, &f);
    assert_int_equal(xvm_unmount(w.mp), EBUSY);
    assert_int_equal(xvm_flash_close(w.flash), EBUSY);
    assert_int_equal(xvm_flash_write(w.flash, 0, "x", 1), EROFS);
    tm_check(w.m);
    xvm_close(f);
    tm_world_down(&w);
}

/* The mapping still holds the vnode once the file is closed. */
static void test_file_mapping_keeps_the_mount_busy_after_close(void **state)
{
    struct tm_world w;
    xvm_file *f;
    uint64_t a = 0;
    mode_up(*state, &w, &f);
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, PG, XVM_PROT_READ, XVM_MAP_SHARED, f, 0), 0);
    tm_check(w.m);
    xvm_close(f);
    assert_int_equal(xvm_unmount(w.mp), EBUSY);
    assert_int_equal(xvm_munmap(w.vs, a, PG), 0);
    tm_world_down(&w);
}

/* Updating the image: unmount, close, open the new image, mount (§3.5). */
static void test_image_replaced_after_unmount_is_read_anew(void **state)
{
    struct fixture *fx = *state;
    char img1[1024], img2[1024];
    build(fx, img1, sizeof(img1), "v1.img", 2, 16384, 2048);
    char *tree = tree_new();
    tree_file(tree, "bin/prog", 9000, 99);
    image_make_in(img2, sizeof(img2), fx->dir, "v2.img", tree, 2, "big", 16384,
                  2048);
    struct tm_world w;
    tm_world_up(&w, "amd64", 64u << 20, 0, img1, 1, 0);
    xvm_file *f;
    assert_int_equal(xvm_open(w.mp, "bin/prog", XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_file_size(f), 200000);
    xvm_close(f);
    assert_int_equal(xvm_unmount(w.mp), 0);
    assert_int_equal(xvm_flash_close(w.flash), 0);
    assert_int_equal(xvm_flash_open(w.m, img2, NULL, &w.flash), 0);
    assert_int_equal(xvm_mount_flash(w.flash, NULL, &w.mp), 0);
    assert_int_equal(xvm_open(w.mp, "bin/prog", XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_file_size(f), 9000);
    uint8_t b[16];
    size_t done;
    assert_int_equal(xvm_pread(f, 0, b, sizeof(b), &done), 0);
    uint64_t n;
    uint8_t *want = tree_slurp(tree, "bin/prog", &n);
    assert_memory_equal(b, want, sizeof(b));
    free(want);
    xvm_close(f);
    tm_world_down(&w);
    tree_remove(tree);
}

/* Copy mode with less RAM than the file: the page daemon makes room. */
static void test_copy_mode_reclaims_page_cache_under_pressure(void **state)
{
    struct fixture *fx = *state;
    char img[1024], host[1024];
    image_make_in(img, sizeof(img), fx->dir, "pressure.img", fx->big, 2,
                  "little", 16384, 2048);
    snprintf(host, sizeof(host), "%s/big", fx->big);
    uint64_t size;
    uint8_t *want = file_slurp(host, &size);
    struct tm_world w;
    tm_world_up(&w, "amd64", 1u << 20, 0, img, 0,
                4); /* 256 frames, 6 MiB file */
    xvm_file *f;
    uint64_t a = 0;
    assert_int_equal(xvm_open(w.mp, "big", XVM_O_RDONLY, &f), 0);
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, size, XVM_PROT_READ, XVM_MAP_PRIVATE, f, 0), 0);
    uint8_t *buf = malloc(PG);
    for (uint64_t off = 0; off < size; off += PG) {
        size_t n = size - off < PG ? (size_t)(size - off) : PG;
        assert_int_equal(xvm_read(w.vs, a + off, buf, n), 0);
        assert_memory_equal(buf, want + off, n);
    }
    struct xvm_stats st = tm_stats(w.m);
    assert_true(st.reclaimed > 0);
    assert_true(st.readahead_pages > 0);
    tm_check(w.m);
    /* read() too. */
    size_t done;
    assert_int_equal(xvm_pread(f, size - PG, buf, PG, &done), 0);
    assert_memory_equal(buf, want + size - PG, PG);
    free(buf);
    free(want);
    xvm_close(f);
    tm_world_down(&w);
}

static void test_readahead_reads_the_configured_pages(void **state)
{
    struct fixture *fx = *state;
    char img[1024];
    build(fx, img, sizeof(img), "ra.img", 2, 16384, 2048);
    for (unsigned ra = 0; ra <= 8; ra += 4) {
        struct tm_world w;
        tm_world_up(&w, "amd64", 64u << 20, 0, img, 0, ra);
        xvm_file *f;
        uint64_t a = 0;
        assert_int_equal(xvm_open(w.mp, "bin/prog", XVM_O_RDONLY, &f), 0);
        assert_int_equal(xvm_mmap_file(w.vs, &a, 200000, XVM_PROT_READ,
                                       XVM_MAP_PRIVATE, f, 0),
                         0);
        struct xvm_stats s0 = tm_stats(w.m);
        tm_rd8(w.vs, a + 10 * PG);
        struct xvm_stats s1 = tm_stats(w.m);
        assert_int_equal(
            s1.pages[XVM_USE_PAGECACHE] - s0.pages[XVM_USE_PAGECACHE], 1 + ra);
        /* Flash bytes read: the pages plus metadata through buffers. */
        assert_true(s1.flash_block_bytes_read - s0.flash_block_bytes_read >=
                    (1 + ra) * PG);
        xvm_close(f);
        tm_world_down(&w);
    }
}

/* The bytes of err.img (UFS1, 4096/512) and a machine to attach them. */
static uint8_t *mount_errors_up(struct fixture *fx, uint64_t *n,
                                xvm_machine **m)
{
    char img[1024];
    build(fx, img, sizeof(img), "err.img", 1, 4096, 512);
    uint8_t *bytes = file_slurp(img, n);
    *m = tm_machine("sgimips", 8u << 20, 0);
    return bytes;
}

/* Whatever was refused, the machine holds no device page. */
static void mount_errors_down(xvm_machine *m, uint8_t *bytes)
{
    tm_check(m);
    assert_int_equal(tm_stats(m).device_pages, 0);
    xvm_machine_destroy(m);
    free(bytes);
}

/* A device that is not memory-mappable cannot XIP. */
static void test_mount_xip_of_flash_not_memory_mappable_is_eopnotsupp(
    void **state)
{
    uint64_t n;
    xvm_machine *m;
    uint8_t *bytes = mount_errors_up(*state, &n, &m);
    struct xvm_flash_config fc;
    struct xvm_mount_config mc;
    xvm_flash *f;
    xvm_mount *mp;
    xvm_flash_config_init(&fc);
    fc.xip_capable = 0;
    assert_int_equal(xvm_flash_attach(m, bytes, n, &fc, &f), 0);
    assert_int_equal(xvm_flash_phys_base(f), 0);
    xvm_mount_config_init(&mc);
    mc.flags = XVM_MOUNT_XIP;
    assert_int_equal(xvm_mount_flash(f, &mc, &mp), EOPNOTSUPP);
    assert_int_equal(xvm_mount_flash(f, NULL, &mp), 0);
    assert_int_equal(xvm_unmount(mp), 0);
    assert_int_equal(xvm_flash_close(f), 0);
    mount_errors_down(m, bytes);
}

static void test_mount_of_a_mounted_flash_is_ebusy(void **state)
{
    uint64_t n;
    xvm_machine *m;
    uint8_t *bytes = mount_errors_up(*state, &n, &m);
    struct xvm_flash_config fc;
    xvm_flash *f;
    xvm_mount *mp, *mp2;
    xvm_flash_config_init(&fc);
    fc.xip_capable = 0;
    assert_int_equal(xvm_flash_attach(m, bytes, n, &fc, &f), 0);
    assert_int_equal(xvm_mount_flash(f, NULL, &mp), 0);
    assert_int_equal(xvm_mount_flash(f, NULL, &mp2), EBUSY);
    assert_int_equal(xvm_unmount(mp), 0);
    assert_int_equal(xvm_flash_close(f), 0);
    mount_errors_down(m, bytes);
}

/* Garbage: a bad superblock. */
static void test_mount_of_garbage_is_einval(void **state)
{
    uint64_t n;
    xvm_machine *m;
    uint8_t *bytes = mount_errors_up(*state, &n, &m);
    xvm_flash *f;
    xvm_mount *mp;
    uint8_t *junk = calloc(1, 1 << 20);
    assert_int_equal(xvm_flash_attach(m, junk, 1 << 20, NULL, &f), 0);
    assert_int_equal(xvm_mount_flash(f, NULL, &mp), EINVAL);
    assert_int_equal(xvm_flash_close(f), 0);
    mount_errors_down(m, bytes);
    free(junk);
}

static void test_mount_of_truncated_image_is_eio_or_einval(void **state)
{
    uint64_t n;
    xvm_machine *m;
    uint8_t *bytes = mount_errors_up(*state, &n, &m);
    xvm_flash *f;
    xvm_mount *mp;
    for (uint64_t len = 4096; len < n; len *= 3) {
        assert_int_equal(xvm_flash_attach(m, bytes, len, NULL, &f), 0);
        int err = xvm_mount_flash(f, NULL, &mp);
        assert_true(err == EIO || err == EINVAL);
        assert_int_equal(xvm_flash_close(f), 0);
    }
    mount_errors_down(m, bytes);
}

static void test_flash_attach_open_and_read_refuse_bad_arguments(void **state)
{
    uint64_t n;
    xvm_machine *m;
    uint8_t *bytes = mount_errors_up(*state, &n, &m);
    xvm_flash *f;
    uint8_t junk[1];
    assert_int_equal(xvm_flash_attach(m, bytes, 100, NULL, &f), EINVAL);
    assert_int_equal(xvm_flash_open(m, "/nonexistent.img", NULL, &f), ENOENT);
    assert_int_equal(xvm_flash_open(m, "/tmp", NULL, &f), EINVAL);
    assert_int_equal(xvm_flash_read(NULL, 0, junk, 1), EINVAL);
    mount_errors_down(m, bytes);
}

static int known_error(int e)
{
    return e == 0 || e == EINVAL || e == EIO || e == ENOENT || e == ENOTDIR ||
           e == ELOOP || e == EISDIR || e == ENAMETOOLONG || e == EFBIG ||
           e == EFAULT || e == ENOMEM;
}

/* Reads every file through every path of a damaged image. */
static void exercise_damaged(xvm_machine *m, const uint8_t *bytes, uint64_t n,
                             int xip)
{
    xvm_flash *f;
    xvm_mount *mp;
    struct xvm_mount_config mc;
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    assert_int_equal(xvm_flash_attach(m, bytes, n, NULL, &f), 0);
    int err = xvm_mount_flash(f, &mc, &mp);
    assert_true(known_error(err));
    if (err == 0) {
        xvm_vmspace *vs = tm_vs(m);
        for (size_t i = 0; i < NFILES; i++) {
            xvm_file *fl;
            if (!known_error(
                    err = xvm_open(mp, files[i].path, XVM_O_RDONLY, &fl)))
                fail_msg("open %s: %d", files[i].path, err);
            if (err)
                continue;
            uint64_t size = xvm_file_size(fl), a = 0;
            uint8_t buf[512];
            size_t done;
            for (uint64_t off = 0; off < size && off < (1u << 20); off += 4000)
                assert_true(
                    known_error(xvm_pread(fl, off, buf, sizeof(buf), &done)));
            if (size && size < (1u << 24) &&
                xvm_mmap_file(vs, &a, size, XVM_PROT_READ, XVM_MAP_PRIVATE, fl,
                              0) == 0) {
                for (uint64_t off = 0; off < size; off += PG)
                    assert_true(known_error(xvm_read(vs, a + off, buf, 1)));
                assert_int_equal(xvm_munmap(vs, a, size), 0);
            }
            xvm_close(fl);
        }
        xvm_vmspace_destroy(vs);
        tm_check(m);
        assert_int_equal(xvm_unmount(mp), 0);
    }
    assert_int_equal(xvm_flash_close(f), 0);
}

static void test_corrupted_images_give_errors_and_keep_machine_sane(
    void **state)
{
    struct fixture *fx = *state;
    char img[1024];
    build(fx, img, sizeof(img), "bad.img", 2, 8192, 1024);
    uint64_t n;
    uint8_t *orig = file_slurp(img, &n);
    uint8_t *bytes = malloc(n);
    xvm_machine *m = tm_machine("amd64", 16u << 20, 1);
    uint32_t x = 2024;
    for (int round = 0; round < 60; round++) {
        memcpy(bytes, orig, n);
        /* Flip a few bytes, mostly in the metadata-rich first 256 KiB. */
        for (int k = 0; k < 8; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            uint64_t at = (round & 1) ? x % (256u << 10) : 8192 + x % 8192;
            bytes[at % n] ^= (uint8_t)(1u << (x >> 29));
        }
        exercise_damaged(m, bytes, n, round & 2);
    }
    tm_check(m);
    assert_int_equal(tm_stats(m).pages[XVM_USE_PAGECACHE], 0);
    xvm_machine_destroy(m);
    free(bytes);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xip_every_byte_matches_copy_mode_read_and_host),
        cmocka_unit_test(test_xip_private_write_promotes_device_page),
        cmocka_unit_test(test_xip_file_text_executes_in_place),
        cmocka_unit_test(test_xip_hole_maps_zero_page_and_write_zero_fills),
        cmocka_unit_test(test_fsinfo_counts_every_file_and_page),
        cmocka_unit_test(test_fsinfo_refuses_an_absurd_file_size_with_efbig),
        cmocka_unit_test(test_fsinfo_refuses_a_directory_loop_with_eloop),
        cmocka_unit_test(test_fsinfo_equals_the_pager_page_by_page),
        cmocka_unit_test(test_fsinfo_lists_every_hard_link),
        cmocka_unit_test(test_fsinfo_tells_a_corrupt_entry_and_lists_the_rest),
        cmocka_unit_test(test_fallback_page_for_fragment_tail_is_counted),
        cmocka_unit_test(test_file_open_for_writing_or_of_no_file_is_refused),
        cmocka_unit_test(
            test_file_shared_mapping_of_read_only_file_stays_read_only),
        cmocka_unit_test(
            test_file_private_mapping_is_written_without_touching_the_file),
        cmocka_unit_test(
            test_file_mapping_at_unaligned_offset_or_past_eof_is_einval),
        cmocka_unit_test(test_file_open_keeps_the_mount_and_the_flash_busy),
        cmocka_unit_test(test_file_mapping_keeps_the_mount_busy_after_close),
        cmocka_unit_test(test_image_replaced_after_unmount_is_read_anew),
        cmocka_unit_test(test_copy_mode_reclaims_page_cache_under_pressure),
        cmocka_unit_test(test_readahead_reads_the_configured_pages),
        cmocka_unit_test(
            test_mount_xip_of_flash_not_memory_mappable_is_eopnotsupp),
        cmocka_unit_test(test_mount_of_a_mounted_flash_is_ebusy),
        cmocka_unit_test(test_mount_of_garbage_is_einval),
        cmocka_unit_test(test_mount_of_truncated_image_is_eio_or_einval),
        cmocka_unit_test(test_flash_attach_open_and_read_refuse_bad_arguments),
        cmocka_unit_test(
            test_corrupted_images_give_errors_and_keep_machine_sane),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
