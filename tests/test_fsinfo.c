/*
 * fsinfo says why a file's pages need copies under XIP, for layouts made
 * on purpose: a makefs image whose files' fragment tails this test moves
 * (their block pointers rewritten, their bytes copied along) to a page
 * boundary or off one, a byte past EOF made non-zero, a hole punched.
 * Each reason is expected from the layout made here, by hand, and the XIP
 * pager must agree: the pages fsinfo says map in place are exactly the
 * ones a run maps in place, and every byte still reads as the file's.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine.h"
#include "vfs.h"

#define BSIZE 16384u
#define FSIZE 2048u

static int setup(void **state)
{
    struct tree_image *fx = tree_image_new();
    tree_file(fx->tree, "t", 5000, 11); /* 3 fragments: 6144 bytes */
    tree_file(fx->tree, "s", 3000, 12); /* 2 fragments: a page */
    tree_file(fx->tree, "big", 3 * BSIZE, 13);
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "frag.img", fx->tree, 2,
                  "little", BSIZE, FSIZE);
    *state = fx;
    return 0;
}

/* Where a file's direct block i is, read from the image by the reader. */
struct where {
    uint32_t ino;
    uint64_t ptr_off; /* the block pointer's place in the image */
    unsigned ptr_size;
    uint64_t dev;  /* the block's bytes */
    uint32_t alen; /* bytes allocated there */
};

static struct where locate(const uint8_t *bytes, uint64_t n, const char *path,
                           unsigned i)
{
    struct tm_world w;
    struct where wh;
    tm_world_attach(&w, "amd64", 4u << 20, 0, bytes, n);
    tm_world_mount(&w, 0, 0, 0);
    tm_quiet_begin(w.m);
    assert_int_equal(ffs_namei(w.mp->fs, path, 1, &wh.ino), 0);
    assert_int_equal(
        ffs_db_offset(w.mp->fs, wh.ino, i, &wh.ptr_off, &wh.ptr_size), 0);
    assert_int_equal(ffs_bmap(w.mp->fs, wh.ino, i, &wh.dev, &wh.alen), 0);
    tm_quiet_end(w.m);
    tm_world_down(&w);
    return wh;
}

/* A free block near the end of the image: its first byte. */
static uint64_t free_block(uint64_t n)
{
    return (n / BSIZE - 2) * BSIZE;
}

/* Moves a file's one-block tail (direct block 0) to byte `to` of the
 * image: its bytes copied there, the rest of its fragments zero, the
 * pointer rewritten (little-endian fragment number). */
static void move_tail(uint8_t *bytes, uint64_t n, const char *path, uint64_t to)
{
    struct where wh = locate(bytes, n, path, 0);
    assert_true(to % FSIZE == 0 && to / BSIZE == (to + wh.alen - 1) / BSIZE);
    assert_true(to + wh.alen <= n);
    for (uint64_t k = 0; k < wh.alen; k++)
        assert_int_equal(bytes[to + k], 0); /* free space */
    memmove(bytes + to, bytes + wh.dev, wh.alen);
    uint64_t frag = to / FSIZE;
    for (unsigned k = 0; k < wh.ptr_size; k++)
        bytes[wh.ptr_off + k] = (uint8_t)(frag >> (8 * k));
}

struct info {
    const char *want;
    struct xvm_file_info fi;
    int found;
};

static int find(void *arg, const struct xvm_file_info *fi)
{
    struct info *in = arg;
    if (fi->type == 1) {
        /* every copy has one reason */
        assert_int_equal(fi->spanning_pages + fi->unaligned_pages +
                             fi->tail_short_pages + fi->past_eof_pages,
                         fi->fallback_pages);
        assert_int_equal(fi->xip_pages + fi->hole_pages + fi->fallback_pages,
                         fi->pages);
    }
    if (strcmp(fi->path, in->want) == 0) {
        in->fi = *fi;
        in->fi.path = NULL;
        in->found = 1;
    }
    return 0;
}

static int in_place(void *arg, const struct xvm_file_report *fr)
{
    struct info *in = arg;
    if (strcmp(fr->path, in->want) == 0)
        in->found = (int)fr->pages_in_place + 1;
    return 0;
}

/*
 * fsinfo of path on the image bytes, and (given fx, the host tree) a run
 * that maps the file XIP and reads every page: the pages in place are
 * fsinfo's xip_pages, its fallbacks the run's, and the bytes the host
 * file's (zeros past EOF).
 */
static struct xvm_file_info explain(struct tree_image *fx, const uint8_t *bytes,
                                    uint64_t n, const char *path)
{
    struct tm_world w;
    struct info in = { .want = path };
    tm_world_attach(&w, "amd64", 16u << 20, 0, bytes, n);
    tm_world_mount(&w, 1, 0, 1);
    assert_int_equal(xvm_fsinfo(w.mp, find, &in), 0);
    assert_true(in.found);
    if (fx == NULL) { /* fsinfo alone */
        tm_world_down(&w);
        return in.fi;
    }

    uint64_t size;
    uint8_t *host = tree_slurp(fx->tree, path + 1, &size);
    uint64_t pages = (size + PG - 1) / PG, va = 0;
    uint8_t *got = malloc(pages * PG);
    xvm_file *f;
    assert_int_equal(xvm_open(w.mp, path, XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_mmap_file(w.vs, &va, pages * PG, XVM_PROT_READ,
                                   XVM_MAP_PRIVATE, f, 0),
                     0);
    xvm_close(f);
    assert_int_equal(xvm_read(w.vs, va, got, pages * PG), 0);
    assert_memory_equal(got, host, size);
    for (uint64_t k = size; k < pages * PG; k++)
        assert_int_equal(got[k], 0);
    struct info run = { .want = path };
    assert_int_equal(xvm_file_report(w.mp, in_place, &run), 0);
    assert_int_equal(run.found - 1, in.fi.xip_pages);
    assert_int_equal(tm_stats(w.m).fallback_pages - w.st0.fallback_pages,
                     in.fi.fallback_pages);
    free(got);
    free(host);
    tm_world_down(&w);
    return in.fi;
}

/* explain() of path on the image with its tail moved to byte `at` of
 * a free block. */
static struct xvm_file_info moved(struct tree_image *fx, const char *path,
                                  uint64_t at)
{
    uint64_t n;
    uint8_t *b = file_slurp(fx->img, &n);
    move_tail(b, n, path + 1, free_block(n) + at);
    struct xvm_file_info fi = explain(fx, b, n, path);
    free(b);
    return fi;
}

static void test_fsinfo_tail_on_a_page_boundary_ending_short(void **state)
{
    /* t's 3 fragments from a page boundary: page 0 in place, page 1
     * would show the 2048 bytes after them */
    struct xvm_file_info fi = moved(*state, "/t", 0);
    assert_int_equal(fi.pages, 2);
    assert_int_equal(fi.xip_pages, 1);
    assert_int_equal(fi.tail_short_pages, 1);
    assert_int_equal(fi.fallback_pages, 1);
}

static void test_fsinfo_tail_off_a_page_boundary(void **state)
{
    /* one fragment past a page boundary: neither page can map */
    struct xvm_file_info fi = moved(*state, "/t", FSIZE);
    assert_int_equal(fi.xip_pages, 0);
    assert_int_equal(fi.unaligned_pages, 2);
    assert_int_equal(fi.fallback_pages, 2);
}

static void test_fsinfo_bytes_past_eof_not_zero(void **state)
{
    struct tree_image *fx = *state;
    uint64_t n, to;
    uint8_t *b = file_slurp(fx->img, &n);
    /* s: 3000 bytes in two fragments, a whole page: in place ... */
    move_tail(b, n, "s", to = free_block(n));
    struct xvm_file_info fi = explain(fx, b, n, "/s");
    assert_int_equal(fi.xip_pages, 1);
    assert_int_equal(fi.fallback_pages, 0);
    /* ... until a byte past its end is not zero on flash */
    b[to + 3500] = 0x5a;
    fi = explain(fx, b, n, "/s");
    assert_int_equal(fi.xip_pages, 0);
    assert_int_equal(fi.past_eof_pages, 1);
    assert_int_equal(fi.fallback_pages, 1);
    free(b);
}

static void test_fsinfo_holes_are_no_copies(void **state)
{
    struct tree_image *fx = *state;
    uint64_t n;
    uint8_t *b = file_slurp(fx->img, &n);
    struct where wh = locate(b, n, "big", 1);
    memset(b + wh.ptr_off, 0, wh.ptr_size); /* block 1: a hole */
    struct xvm_file_info fi = explain(NULL, b, n, "/big");
    assert_int_equal(fi.hole_pages, BSIZE / PG);
    assert_int_equal(fi.xip_pages, 2 * BSIZE / PG);
    assert_int_equal(fi.fallback_pages, 0);
    free(b);
}

/* The rule's first test, which no FFS meets on 4 KiB pages: blocks
 * smaller than a page (a profile with 32 KiB pages would meet it). */
static void test_fsinfo_rule_blocks_smaller_than_a_page(void **state)
{
    struct tree_image *fx = *state;
    struct tm_world w;
    tm_world_up(&w, "amd64", 16u << 20, 0, fx->img, 1, 0);
    struct core *c = w.mp->vfs->core;
    uint32_t pgsz = c->pgsz;
    assert_int_equal(xip_rule(w.mp, 3 * BSIZE, 0, 0, BSIZE), XIP_OK);
    c->pgsz = 2 * BSIZE; /* for this one call of the rule alone */
    enum xip_why why = xip_rule(w.mp, 3 * BSIZE, 0, 0, BSIZE);
    c->pgsz = pgsz;
    assert_int_equal(why, XIP_WHY_SPANNING);
    assert_int_equal(xip_rule(w.mp, 3 * BSIZE, 0, FFS_HOLE, 0), XIP_WHY_HOLE);
    assert_int_equal(xip_rule(w.mp, 3 * BSIZE, 0, FSIZE, BSIZE),
                     XIP_WHY_UNALIGNED);
    tm_world_down(&w);
}

/* Totals over an image with hard links: `paths` sums each path's
 * figures, `inodes_sum` each inode's once, as the host's tree holds
 * them (sizes and inodes from stat(2) there). */
struct links {
    struct xvm_fsinfo_totals t;
    uint64_t firsts, a_alloc;
};

static int total(void *arg, const struct xvm_file_info *fi)
{
    struct links *l = arg;
    xvm_fsinfo_add(&l->t, fi);
    l->firsts += fi->first_link != 0;
    if (fi->type == 1 && strcmp(fi->path, "/a") == 0)
        l->a_alloc = fi->alloc_bytes;
    return 0;
}

static void test_fsinfo_totals_count_hard_links_once(void **state)
{
    (void)state;
    struct tree_image fx;
    char a[1024], b[1024], c[1024];
    tree_image_init(&fx);
    tree_file(fx.tree, "a", 40000, 21);
    tree_file(fx.tree, "other", 9000, 22);
    tree_dir(fx.tree, "d");
    tree_path(a, sizeof(a), fx.tree, "a");
    tree_path(b, sizeof(b), fx.tree, "d/b");
    tree_path(c, sizeof(c), fx.tree, "d/c");
    assert_int_equal(link(a, b), 0);
    assert_int_equal(link(a, c), 0);
    /* the host's figures: every path, and each inode once */
    const char *rel[4] = { "a", "d/b", "d/c", "other" };
    uint64_t by_path = 0, by_inode = 0, pages = 0, ino[4], ninos = 0;
    for (int i = 0; i < 4; i++) {
        char path[1024];
        struct stat st;
        tree_path(path, sizeof(path), fx.tree, rel[i]);
        assert_int_equal(stat(path, &st), 0);
        by_path += (uint64_t)st.st_size;
        int seen = 0;
        for (uint64_t k = 0; k < ninos; k++)
            seen |= ino[k] == (uint64_t)st.st_ino;
        if (!seen) {
            ino[ninos++] = (uint64_t)st.st_ino;
            by_inode += (uint64_t)st.st_size;
            pages += ((uint64_t)st.st_size + PG - 1) / PG;
        }
    }
    assert_int_equal(ninos, 2);
    image_make_in(fx.img, sizeof(fx.img), fx.dir, "links.img", fx.tree, 2,
                  "little", BSIZE, FSIZE);

    struct tm_world w;
    struct links l = { 0 };
    tm_world_up(&w, "amd64", 16u << 20, 0, fx.img, 1, 0);
    assert_int_equal(xvm_fsinfo(w.mp, total, &l), 0);
    tm_world_down(&w);
    assert_int_equal(l.t.regular_files, 4);
    assert_int_equal(l.t.inodes, ninos);
    assert_int_equal(l.firsts, ninos);
    assert_int_equal(l.t.damaged, 0);
    assert_int_equal(l.t.paths.size, by_path);
    assert_int_equal(l.t.inodes_sum.size, by_inode);
    assert_int_equal(l.t.inodes_sum.pages, pages);
    /* a's blocks counted under each of its three paths, once by inode */
    assert_true(l.a_alloc >= 40000);
    assert_int_equal(l.t.paths.alloc_bytes,
                     l.t.inodes_sum.alloc_bytes + 2 * l.a_alloc);
    assert_int_equal(l.t.inodes_sum.xip_pages + l.t.inodes_sum.hole_pages +
                         l.t.inodes_sum.fallback_pages,
                     pages);
    /* a damaged entry counts there alone; no pointer, no change */
    struct xvm_file_info bad = {
        .path = "/x", .type = 1, .size = 7, .error = EINVAL
    };
    struct xvm_fsinfo_totals before = l.t;
    xvm_fsinfo_add(&l.t, &bad);
    assert_int_equal(l.t.damaged, 1);
    assert_int_equal(l.t.regular_files, before.regular_files);
    assert_int_equal(l.t.paths.size, before.paths.size);
    xvm_fsinfo_add(NULL, &bad);
    xvm_fsinfo_add(&l.t, NULL);
    assert_int_equal(l.t.damaged, 1);
    tree_image_fini(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsinfo_tail_on_a_page_boundary_ending_short),
        cmocka_unit_test(test_fsinfo_tail_off_a_page_boundary),
        cmocka_unit_test(test_fsinfo_bytes_past_eof_not_zero),
        cmocka_unit_test(test_fsinfo_holes_are_no_copies),
        cmocka_unit_test(test_fsinfo_rule_blocks_smaller_than_a_page),
        cmocka_unit_test(test_fsinfo_totals_count_hard_links_once),
    };
    return cmocka_run_group_tests(tests, setup, tree_image_teardown);
}
