/*
 * The per-file report (xvm_file_report): pages touched, mapped in place,
 * cached and copied on write, processes and text relocations, for each
 * file of a makefs image, after a scripted run whose every figure is
 * counted here by hand (fault-ahead and read-ahead off, so a page is
 * touched exactly when the script faults on it or reads it).
 */
#include "testutil.h"
#include "fstree.h"
#include "elfconv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NDATA 6 /* pages of /lib/data */

struct fixture {
    struct tree_image ti;
    uint64_t bb_cow;     /* bss partial pages of busybox: copies per exec */
    uint64_t bb_touched; /* its pages exec itself touches */
};

struct got {
    const char *want;
    struct xvm_file_report fr;
    int found, files;
};

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * A shared object that asks for text relocations: an ELF64 header, a
 * PT_LOAD of the whole file (3 pages, r-x) and a PT_DYNAMIC holding
 * DT_TEXTREL then DT_NULL.
 */
static void write_textrel_so(const char *path)
{
    uint8_t b[3 * PG];
    memset(b, 0x90, sizeof(b));
    memset(b, 0, 64 + 2 * 56);
    memcpy(b, "\177ELF\2\1\1", 7);
    put(b + 16, 3, 2);     /* ET_DYN */
    put(b + 18, 62, 2);    /* x86-64 */
    put(b + 20, 1, 4);     /* EV_CURRENT */
    put(b + 24, 0x100, 8); /* e_entry */
    put(b + 32, 64, 8);    /* e_phoff */
    put(b + 52, 64, 2);    /* e_ehsize */
    put(b + 54, 56, 2);    /* e_phentsize */
    put(b + 56, 2, 2);     /* e_phnum */
    uint8_t *ph = b + 64;
    put(ph, 1, 4), put(ph + 4, 5, 4); /* PT_LOAD, r-x */
    put(ph + 32, sizeof(b), 8), put(ph + 40, sizeof(b), 8);
    put(ph + 48, PG, 8);
    ph += 56;
    put(ph, 2, 4), put(ph + 4, 4, 4); /* PT_DYNAMIC */
    put(ph + 8, 0x200, 8), put(ph + 16, 0x200, 8);
    put(ph + 32, 32, 8), put(ph + 40, 32, 8);
    memset(b + 0x200, 0, 32);
    put(b + 0x200, 22, 8); /* DT_TEXTREL, then DT_NULL */
    file_spit(path, b, sizeof(b));
}

/* busybox's exec touches page 0 (headers) and, when bss starts inside a
 * file page of a writable segment, that page (exec zeroes its tail: one
 * copy on write per exec).  Counted from the host file here. */
static void busybox_pages(struct fixture *fx)
{
    uint64_t n;
    uint8_t *b = file_slurp("/bin/busybox", &n);
    struct ec_elf e;
    assert_int_equal(ec_read(b, n, &e), 0);
    assert_int_equal(e.type, 2); /* static ET_EXEC */
    fx->bb_touched = 1;
    for (unsigned i = 0; i < e.phnum; i++) {
        const struct ec_phdr *h = &e.ph[i];
        uint64_t fend = h->vaddr + h->filesz;
        if (h->type != EC_PT_LOAD || !(h->flags & EC_PF_W) || !h->filesz ||
            h->memsz <= h->filesz || fend % PG == 0)
            continue;
        fx->bb_cow++;
        if ((h->offset + h->filesz) / PG != 0)
            fx->bb_touched++;
    }
    free(b);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char path[1024];
    tree_image_init(&fx->ti);
    tree_dir(fx->ti.tree, "bin");
    tree_file(fx->ti.tree, "lib/data", NDATA * PG, 7);
    /* a hard link: one inode, two paths */
    char data[1024];
    tree_path(data, sizeof(data), fx->ti.tree, "lib/data");
    tree_path(path, sizeof(path), fx->ti.tree, "lib/data.link");
    assert_int_equal(link(data, path), 0);
    tree_file(fx->ti.tree, "etc/untouched", 3 * PG + 5, 9);
    tree_path(path, sizeof(path), fx->ti.tree, "lib/tr.so");
    write_textrel_so(path);
    uint64_t n;
    uint8_t *bb = file_slurp("/bin/busybox", &n);
    tree_path(path, sizeof(path), fx->ti.tree, "bin/busybox");
    file_spit(path, bb, n);
    free(bb);
    busybox_pages(fx);
    /* blocks of one page: every whole page of a file maps in place */
    image_make_in(fx->ti.img, sizeof(fx->ti.img), fx->ti.dir, "img",
                  fx->ti.tree, 2, "little", 4096, 4096);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_image_fini(&fx->ti);
    free(fx);
    return 0;
}

static int collect(void *arg, const struct xvm_file_report *fr)
{
    struct got *g = arg;
    g->files++;
    if (strcmp(fr->path, g->want) == 0) {
        g->fr = *fr;
        g->fr.path = NULL;
        g->found = 1;
    }
    return 0;
}

static struct xvm_file_report report_of(xvm_mount *mp, const char *path,
                                        int *files)
{
    struct got g = { .want = path };
    assert_int_equal(xvm_file_report(mp, collect, &g), 0);
    if (!g.found)
        fail_msg("%s not in the report", path);
    if (files)
        *files = g.files;
    return g.fr;
}

static uint64_t map_file(xvm_mount *mp, xvm_vmspace *vs, const char *path,
                         uint64_t len, int prot)
{
    xvm_file *f;
    uint64_t va = 0;
    assert_int_equal(xvm_open(mp, path, XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_mmap_file(vs, &va, len, prot, XVM_MAP_PRIVATE, f, 0),
                     0);
    xvm_close(f);
    return va;
}

static void test_files_report_counts_each_files_pages_by_hand(void **state)
{
    struct fixture *fx = *state;
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        tm_world_up(&w, "amd64", 64u << 20, 0, fx->ti.img, xip, 0);
        xvm_machine *m = w.m;
        assert_int_equal(xvm_spawn(m, w.mp, 1, "/bin/busybox", 0, NULL), 0);
        assert_int_equal(xvm_spawn(m, w.mp, 2, "/bin/busybox", 0, NULL), 0);
        assert_int_equal(xvm_fork(m, 2, 3), 0); /* maps nothing itself */
        xvm_vmspace *p1 = xvm_proc_vmspace(m, 1), *p2 = xvm_proc_vmspace(m, 2),
                    *p3 = xvm_proc_vmspace(m, 3);

        /* /lib/data: pid 1 reads pages 0, 2, 5 and writes 2; pid 3 maps
         * it too and reads page 1; read() of page 3 */
        uint64_t d1 = map_file(w.mp, p1, "/lib/data", NDATA * PG,
                               XVM_PROT_READ | XVM_PROT_WRITE);
        tm_rd8(p1, d1), tm_rd8(p1, d1 + 2 * PG + 9), tm_rd8(p1, d1 + 5 * PG);
        tm_wr8(p1, d1 + 2 * PG, 1);
        tm_wr8(p1, d1 + 2 * PG + 1, 2); /* the same copy */
        uint64_t d3 =
            map_file(w.mp, p3, "/lib/data", NDATA * PG, XVM_PROT_READ);
        tm_rd8(p3, d3 + PG);
        xvm_file *f;
        char buf[10];
        size_t done;
        assert_int_equal(xvm_open(w.mp, "/lib/data", XVM_O_RDONLY, &f), 0);
        assert_int_equal(xvm_pread(f, 3 * PG + 7, buf, sizeof(buf), &done), 0);
        xvm_close(f);

        /* /lib/tr.so: text made writable, as ld.so does for TEXTREL */
        uint64_t t = map_file(w.mp, p2, "/lib/tr.so", 3 * PG,
                              XVM_PROT_READ | XVM_PROT_EXEC);
        assert_int_equal(
            xvm_mprotect(p2, t, 3 * PG, XVM_PROT_READ | XVM_PROT_WRITE), 0);
        tm_wr8(p2, t + PG + 3, 0xcc);
        tm_check(m);

        int files = 0;
        struct xvm_file_report r = report_of(w.mp, "/lib/data", &files);
        assert_int_equal(files, 5); /* four files, one of them twice */
        assert_int_equal(r.size, NDATA * PG);
        assert_int_equal(r.file_pages, NDATA);
        assert_int_equal(r.pages_touched, 5); /* 0, 1, 2, 3, 5 */
        assert_int_equal(r.pages_in_place, xip ? 5 : 0);
        assert_int_equal(r.pages_cached, xip ? 0 : 5);
        assert_int_equal(r.pages_copied, 1);
        assert_int_equal(r.text_pages_copied, 0);
        assert_int_equal(r.processes, 2);
        assert_int_equal(r.textrel, 0);

        r = report_of(w.mp, "/lib/tr.so", NULL);
        assert_int_equal(r.file_pages, 3);
        assert_int_equal(r.pages_touched, 1);
        assert_int_equal(r.pages_in_place, xip ? 1 : 0);
        assert_int_equal(r.pages_cached, xip ? 0 : 1);
        assert_int_equal(r.pages_copied, 1);
        assert_int_equal(r.text_pages_copied, 1);
        assert_int_equal(r.processes, 1);
        assert_int_equal(r.textrel, 1);

        r = report_of(w.mp, "/bin/busybox", NULL);
        assert_int_equal(r.processes, 2);
        assert_int_equal(r.pages_copied, 2 * fx->bb_cow);
        assert_int_equal(r.text_pages_copied, 0);
        assert_int_equal(r.pages_touched, fx->bb_touched);
        assert_int_equal(r.textrel, 0);

        r = report_of(w.mp, "/etc/untouched", NULL);
        assert_int_equal(r.file_pages, 4);
        assert_int_equal(
            r.pages_touched + r.pages_cached + r.processes + r.pages_copied, 0);

        /* the report changes nothing: taken twice, the same */
        struct xvm_stats a = tm_stats(m);
        r = report_of(w.mp, "/lib/tr.so", NULL);
        struct xvm_stats b = tm_stats(m);
        assert_memory_equal(&a, &b, sizeof(a));
        assert_int_equal(r.textrel, 1);

        /* the records outlive the processes and their vnodes */
        assert_int_equal(xvm_exit(m, 3), 0);
        assert_int_equal(xvm_exit(m, 2), 0);
        assert_int_equal(xvm_exit(m, 1), 0);
        r = report_of(w.mp, "/lib/data", NULL);
        assert_int_equal(r.pages_touched, 5);
        assert_int_equal(r.processes, 2);
        tm_world_down(&w);
    }
}

/* What the per-page report says of a page. */
struct page_want {
    uint64_t page, touches, copies;
    int written;
};

struct pages_got {
    struct xvm_page_report pr[16];
    size_t n;
    int stop_after; /* fn's value after that many pages: stops the walk */
};

static int collect_page(void *arg, const struct xvm_page_report *pr)
{
    struct pages_got *g = arg;
    assert_true(g->n < 16);
    g->pr[g->n++] = *pr;
    return g->stop_after && g->n == (size_t)g->stop_after ? 42 : 0;
}

static void test_files_pages_count_touches_and_writes_by_hand(void **state)
{
    struct fixture *fx = *state;
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        tm_world_up(&w, "amd64", 64u << 20, 0, fx->ti.img, xip, 0);
        xvm_machine *m = w.m;
        assert_int_equal(xvm_spawn(m, w.mp, 1, "/bin/busybox", 0, NULL), 0);
        assert_int_equal(xvm_fork(m, 1, 2), 0);
        xvm_vmspace *p1 = xvm_proc_vmspace(m, 1), *p2 = xvm_proc_vmspace(m, 2);
        /* /lib/data: page 0 read by both (a fault each), page 2 read then
         * written by pid 1 (the write faults again: the pager is asked
         * for the page it copies) and written by pid 2 at once (one
         * fault, one copy), page 4 read() twice, page 5 read twice by one
         * process (the second read a TLB hit: no touch) */
        uint64_t d1 = map_file(w.mp, p1, "/lib/data", NDATA * PG,
                               XVM_PROT_READ | XVM_PROT_WRITE);
        uint64_t d2 = map_file(w.mp, p2, "/lib/data.link", NDATA * PG,
                               XVM_PROT_READ | XVM_PROT_WRITE);
        tm_rd8(p1, d1), tm_rd8(p2, d2);
        tm_rd8(p1, d1 + 2 * PG), tm_wr8(p1, d1 + 2 * PG, 1);
        tm_wr8(p1, d1 + 2 * PG + 8, 2); /* the same copy */
        tm_wr8(p2, d2 + 2 * PG + 5, 3);
        tm_rd8(p1, d1 + 5 * PG), tm_rd8(p1, d1 + 5 * PG + 1);
        xvm_file *f;
        char buf[8];
        size_t done;
        assert_int_equal(xvm_open(w.mp, "/lib/data", XVM_O_RDONLY, &f), 0);
        assert_int_equal(xvm_pread(f, 4 * PG, buf, sizeof(buf), &done), 0);
        assert_int_equal(xvm_pread(f, 4 * PG + 9, buf, sizeof(buf), &done), 0);
        xvm_close(f);
        tm_check(m);

        struct xvm_file_report a = report_of(w.mp, "/lib/data", NULL);
        struct xvm_file_report b = report_of(w.mp, "/lib/data.link", NULL);
        assert_int_equal(a.ino, b.ino); /* one inode */
        assert_int_equal(a.pages_touched, 4);
        assert_int_equal(a.pages_written, 1);
        assert_int_equal(a.pages_copied, 2);

        static const struct page_want want[] = {
            { 0, 2, 0, 0 },
            { 2, 3, 2, 1 },
            { 4, 2, 0, 0 },
            { 5, 1, 0, 0 },
        };
        struct xvm_stats s0 = tm_stats(m);
        struct pages_got g = { .n = 0 };
        assert_int_equal(xvm_file_pages(w.mp, a.ino, collect_page, &g), 0);
        struct xvm_stats s1 = tm_stats(m);
        assert_memory_equal(&s0, &s1, sizeof(s0)); /* inspection is quiet */
        assert_int_equal(g.n, 4);
        for (size_t i = 0; i < 4; i++) {
            assert_int_equal(g.pr[i].page, want[i].page);
            assert_int_equal(g.pr[i].touches, want[i].touches);
            assert_int_equal(g.pr[i].copies, want[i].copies);
            assert_int_equal(g.pr[i].written, want[i].written);
            /* read() of a device page reads it in place too */
            assert_int_equal(g.pr[i].in_place, xip);
            assert_int_equal(g.pr[i].cached, !xip);
        }

        /* a file nothing touched has no pages; fn's value stops the walk */
        struct xvm_file_report u = report_of(w.mp, "/etc/untouched", NULL);
        g.n = 0;
        assert_int_equal(xvm_file_pages(w.mp, u.ino, collect_page, &g), 0);
        assert_int_equal(g.n, 0);
        g.stop_after = 2;
        assert_int_equal(xvm_file_pages(w.mp, a.ino, collect_page, &g), 42);
        assert_int_equal(g.n, 2);

        /* no such regular file: the root directory, inode 0, out of range */
        g.n = 0;
        assert_int_equal(xvm_file_pages(w.mp, 2, collect_page, &g), ENOENT);
        assert_int_equal(xvm_file_pages(w.mp, 0, collect_page, &g), ENOENT);
        assert_int_equal(
            xvm_file_pages(w.mp, UINT64_C(1) << 40, collect_page, &g), ENOENT);
        assert_int_equal(xvm_file_pages(w.mp, a.ino, NULL, &g), EINVAL);
        assert_int_equal(xvm_file_pages(NULL, a.ino, collect_page, &g), EINVAL);
        assert_int_equal(g.n, 0);
        tm_world_drop(&w);
    }
}

static void test_files_report_without_a_mount_is_einval(void **state)
{
    (void)state;
    assert_int_equal(xvm_file_report(NULL, collect, NULL), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_report_without_a_mount_is_einval),
        cmocka_unit_test_setup_teardown(
            test_files_report_counts_each_files_pages_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_files_pages_count_touches_and_writes_by_hand, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
