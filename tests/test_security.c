/*
 * Security properties, one test each:
 *  - copy-on-write isolation: no process ever reads another's private
 *    write, across fork, exec and exit in every order (3 processes);
 *  - read-only file mappings cannot be written;
 *  - max_protection cannot be raised;
 *  - the flash image is never modified;
 *  - bytes past EOF read as zero, and no file's bytes appear in another
 *    file's mapping.
 * Images are made by makefs and the program by cc -static at test time.
 */
#define _DEFAULT_SOURCE
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf.h"
#include "flash.h"
#include "machine.h"
#include "vfs.h"

#define RW (XVM_PROT_READ | XVM_PROT_WRITE)
#define RX (XVM_PROT_READ | XVM_PROT_EXEC)
#define R  XVM_PROT_READ

/* Odd sizes around fragments, pages, blocks and the indirect boundary. */
static const uint64_t sizes[] = {
    1,     3,     100,   511,   513,   1023,  1025,   2047,
    2049,  3000,  4095,  4097,  5000,  6143,  6145,   7000,
    8191,  8193,  10001, 12287, 12289, 14000, 16383,  16385,
    20487, 24575, 32769, 40000, 49153, 65537, 100003, 200001,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Image layouts: with fragments (bsize > fsize) and whole blocks only. */
static const struct layout {
    int version;
    unsigned bsize, fsize;
} layouts[] = {
    { 1, 8192, 1024 },
    { 2, 16384, 2048 },
    { 2, 32768, 32768 },
};
#define NLAYOUTS (sizeof(layouts) / sizeof(layouts[0]))

static const char prog_c[] = "char data[4 * 4096] = { 1, 2, 3 };\n"
                             "int main(int argc, char **argv)\n"
                             "{\n"
                             "    (void)argv;\n"
                             "    data[argc] = 7;\n"
                             "    return data[0] - 1;\n"
                             "}\n";

struct fixture {
    char *tagged, *progtree, *dir;
    char img[NLAYOUTS][1024];  /* tagged files, one image per layout */
    char junk[NLAYOUTS][1024]; /* the same with junk past every EOF */
    char progimg[1024];
    bool have_prog;
    uint64_t dpage;    /* a file-backed page of the program's data */
    uint8_t dbytes[8]; /* its bytes at +16 in the file */
    uint64_t text;     /* an address in its text */
};

/* Byte o of tagged file k: a word naming the file and the offset. */
static uint8_t tag_byte(unsigned k, uint64_t o)
{
    uint64_t w = (UINT64_C(0xf1) << 56) | ((uint64_t)(k + 1) << 40) | (o / 8);
    return (uint8_t)(w >> (8 * (o % 8)));
}

static void tag_name(char *out, size_t cap, unsigned k)
{
    snprintf(out, cap, "%s/t%02u_%llu",
             k % 3 == 0   ? "a"
             : k % 3 == 1 ? "b/c"
                          : ".",
             k, (unsigned long long)sizes[k]);
}

static void write_tagged(const char *root, unsigned k)
{
    char rel[128], path[1200];
    tag_name(rel, sizeof(rel), k);
    tree_file(root, rel, 0, 1); /* parents and an empty file */
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    uint8_t *b = malloc(sizes[k]);
    assert_non_null(b);
    for (uint64_t o = 0; o < sizes[k]; o++)
        b[o] = tag_byte(k, o);
    file_spit(path, b, sizes[k]);
    free(b);
}

/* Fills the bytes past EOF in every file's last block or fragment run. */
static void plant_junk(const char *img, const char *out)
{
    uint64_t n;
    uint8_t *bytes = file_slurp(img, &n);
    struct tm_world w;
    tm_world_attach(&w, "amd64", 4u << 20, 0, bytes, n);
    tm_world_mount(&w, 0, TM_RA_DEFAULT, 0);
    xvm_mount *mp = w.mp;
    unsigned bsize = ffs_bsize(mp->fs), planted = 0;
    tm_quiet_begin(w.m);
    for (unsigned k = 0; k < NSIZES; k++) {
        char rel[128];
        uint32_t ino, alen;
        uint64_t dev, tail = sizes[k] % bsize;
        tag_name(rel, sizeof(rel), k);
        assert_int_equal(ffs_namei(mp->fs, rel, 1, &ino), 0);
        assert_int_equal(
            ffs_bmap(mp->fs, ino, (sizes[k] - 1) / bsize, &dev, &alen), 0);
        if (tail == 0 || dev == FFS_HOLE)
            continue;
        assert_true(alen > tail && dev + alen <= n);
        memset(bytes + dev + tail, 0xee, alen - tail);
        planted++;
    }
    tm_quiet_end(w.m);
    assert_true(planted > NSIZES / 2);
    tm_world_down(&w);
    file_spit(out, bytes, n);
    free(bytes);
}

static void build_prog(struct fixture *fx)
{
    char src[1200], cmd[2600], bin[1200];
    snprintf(src, sizeof(src), "%s/prog.c", fx->dir);
    file_spit(src, (const uint8_t *)prog_c, sizeof(prog_c) - 1);
    tree_dir(fx->progtree, "bin");
    snprintf(bin, sizeof(bin), "%s/bin/prog", fx->progtree);
    snprintf(cmd, sizeof(cmd), "cc -static -O1 -o '%s' '%s' >/dev/null 2>&1",
             bin, src);
    if (system(cmd) != 0)
        return;
    uint64_t n;
    struct elf_image img;
    uint8_t *b = file_slurp(bin, &n);
    if (elf_parse(b, (size_t)n, &img) == 0 && !img.is_dyn) {
        for (unsigned i = 0; i < img.nload; i++) {
            const struct elf_load *s = &img.load[i];
            uint64_t va = (s->vaddr + PG - 1) & ~(uint64_t)(PG - 1);
            if ((s->prot & ELF_PROT_EXEC) && !fx->text)
                fx->text = s->vaddr + s->filesz / 2;
            if ((s->prot & ELF_PROT_WRITE) && va + PG <= s->vaddr + s->filesz &&
                !fx->dpage) {
                fx->dpage = va;
                memcpy(fx->dbytes, b + s->offset + (va - s->vaddr) + 16, 8);
            }
        }
        fx->have_prog = fx->dpage && fx->text;
    }
    free(b);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->tagged = tree_new();
    fx->progtree = tree_new();
    fx->dir = tree_new();
    for (unsigned k = 0; k < NSIZES; k++)
        write_tagged(fx->tagged, k);
    for (size_t l = 0; l < NLAYOUTS; l++) {
        snprintf(fx->img[l], sizeof(fx->img[l]), "%s/tagged%zu.img", fx->dir,
                 l);
        snprintf(fx->junk[l], sizeof(fx->junk[l]), "%s/junk%zu.img", fx->dir,
                 l);
        image_make(fx->tagged, fx->img[l], layouts[l].version, "little",
                   layouts[l].bsize, layouts[l].fsize);
        plant_junk(fx->img[l], fx->junk[l]);
    }
    build_prog(fx);
    write_tagged(fx->progtree, 5);
    image_make_in(fx->progimg, sizeof(fx->progimg), fx->dir, "prog.img",
                  fx->progtree, 2, "little", 16384, 2048);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_remove(fx->tagged);
    tree_remove(fx->progtree);
    tree_remove(fx->dir);
    free(fx);
    return 0;
}

static void world_up(struct tm_world *w, const char *img, int xip, int ahead)
{
    tm_world_up(w, "amd64", 16u << 20, ahead, img, xip, TM_RA_DEFAULT);
}

static xvm_file *open_tagged(struct tm_world *w, unsigned k)
{
    char rel[128];
    xvm_file *f;
    tag_name(rel, sizeof(rel), k);
    assert_int_equal(xvm_open(w->mp, rel, XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_file_size(f), sizes[k]);
    return f;
}

/* ---- copy-on-write isolation ---- */

#define NPROC   3
#define NREG    4
#define ANON_VA UINT64_C(0x30000000)
static const char *const region_name[NREG] = { "data", "heap", "stack",
                                               "anon" };

enum act { A_FORK, A_EXEC, A_EXIT };

struct step {
    enum act act;
    uint32_t pid, parent;
};

struct order {
    struct step s[3 * NPROC];
    unsigned n;
};

struct cow {
    struct fixture *fx;
    struct tm_world w;
    uint64_t va[NREG];
    bool alive[NPROC + 1];
    uint64_t want[NPROC + 1][NREG];
    uint64_t seq, orders, events;
};

static uint64_t cow_tag(uint32_t pid, uint64_t seq, unsigned reg)
{
    return (UINT64_C(0x5ec) << 52) | ((uint64_t)pid << 44) | (seq << 4) | reg;
}

static void cow_fresh_image(struct cow *c, uint32_t pid)
{
    xvm_vmspace *vs = xvm_proc_vmspace(c->w.m, pid);
    struct xvm_proc_info in;
    uint64_t a = ANON_VA;
    assert_int_equal(xvm_proc_info(c->w.m, pid, &in), 0);
    assert_int_equal(xvm_brk(c->w.m, pid, in.brk + PG), 0);
    assert_int_equal(
        xvm_mmap(vs, &a, PG, RW, XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0), 0);
    c->va[1] = in.brk_base;
    c->va[2] = in.stack_top - 4 * PG;
    memcpy(&c->want[pid][0], c->fx->dbytes, 8);
    c->want[pid][1] = c->want[pid][2] = c->want[pid][3] = 0;
}

/* Every live process reads its own bytes, never another's. */
static void cow_verify(struct cow *c, const struct order *o, unsigned upto)
{
    for (uint32_t p = 1; p <= NPROC; p++) {
        if (!c->alive[p])
            continue;
        xvm_vmspace *vs = xvm_proc_vmspace(c->w.m, p);
        assert_non_null(vs);
        for (unsigned r = 0; r < NREG; r++) {
            uint64_t v = 0;
            assert_int_equal(xvm_read(vs, c->va[r], &v, 8), 0);
            if (v == c->want[p][r])
                continue;
            char order[128] = "";
            for (unsigned i = 0; i < upto; i++) {
                size_t len = strlen(order);
                snprintf(order + len, sizeof(order) - len, "%s%c%u",
                         i ? " " : "", "FEX"[o->s[i].act], o -> s[i].pid);
            }
            uint32_t writer = (uint32_t)(v >> 44) & 0xff;
            if (v >> 52 == 0x5ec && writer != p)
                fail_msg("order %s: pid %u reads pid %u's private write in %s",
                         order, p, writer, region_name[r]);
            fail_msg("order %s: pid %u %s reads %#llx, wrote %#llx", order, p,
                     region_name[r], (unsigned long long)v,
                     (unsigned long long)c->want[p][r]);
        }
    }
}

/* Every live process writes a new private value everywhere. */
static void cow_write_all(struct cow *c)
{
    for (uint32_t p = 1; p <= NPROC; p++) {
        if (!c->alive[p])
            continue;
        xvm_vmspace *vs = xvm_proc_vmspace(c->w.m, p);
        for (unsigned r = 0; r < NREG; r++) {
            uint64_t v = cow_tag(p, ++c->seq, r);
            assert_int_equal(xvm_write(vs, c->va[r], &v, 8), 0);
            c->want[p][r] = v;
        }
    }
}

static void cow_run(struct cow *c, const struct order *o)
{
    static const char *const argv[] = { "/bin/prog" };
    memset(c->alive, 0, sizeof(c->alive));
    assert_int_equal(xvm_spawn(c->w.m, c->w.mp, 1, "/bin/prog", 1, argv), 0);
    c->alive[1] = true;
    cow_fresh_image(c, 1);
    cow_verify(c, o, 0);
    cow_write_all(c);
    for (unsigned i = 0; i < o->n; i++) {
        const struct step *s = &o->s[i];
        switch (s->act) {
        case A_FORK:
            assert_int_equal(xvm_fork(c->w.m, s->parent, s->pid), 0);
            c->alive[s->pid] = true;
            memcpy(c->want[s->pid], c->want[s->parent], sizeof(c->want[0]));
            break;
        case A_EXEC:
            assert_int_equal(xvm_exec(c->w.m, s->pid, "/bin/prog", 1, argv), 0);
            cow_fresh_image(c, s->pid);
            break;
        case A_EXIT:
            assert_int_equal(xvm_exit(c->w.m, s->pid), 0);
            c->alive[s->pid] = false;
            break;
        }
        cow_verify(c, o, i + 1);
        cow_write_all(c);
        cow_verify(c, o, i + 1);
        c->events++;
    }
    for (uint32_t p = 1; p <= NPROC; p++)
        assert_false(c->alive[p]);
    assert_int_equal(tm_stats(c->w.m).pages[XVM_USE_ANON], 0);
    assert_int_equal(tm_stats(c->w.m).pv_entries, 0);
    c->orders++;
}

/* Depth first over every enabled action: a fork of an unborn pid from any
 * live one, one exec per process, an exit of any live process. */
static void cow_enumerate(struct cow *c, struct order *o, unsigned born,
                          unsigned alive, unsigned execd)
{
    bool any = false;
    for (uint32_t cp = 2; cp <= NPROC; cp++) {
        if (born & (1u << cp))
            continue;
        for (uint32_t pp = 1; pp <= NPROC; pp++) {
            if (!(alive & (1u << pp)))
                continue;
            any = true;
            o->s[o->n++] = (struct step){ A_FORK, cp, pp };
            cow_enumerate(c, o, born | 1u << cp, alive | 1u << cp, execd);
            o->n--;
        }
    }
    for (uint32_t p = 1; p <= NPROC; p++) {
        if (!(alive & (1u << p)))
            continue;
        any = true;
        if (!(execd & (1u << p))) {
            o->s[o->n++] = (struct step){ A_EXEC, p, 0 };
            cow_enumerate(c, o, born, alive, execd | 1u << p);
            o->n--;
        }
        o->s[o->n++] = (struct step){ A_EXIT, p, 0 };
        cow_enumerate(c, o, born, alive & ~(1u << p), execd);
        o->n--;
    }
    if (!any) {
        cow_run(c, o);
        if (c->orders % 64 == 0)
            tm_check(c->w.m);
    }
}

static void cow_isolation(struct fixture *fx, int xip)
{
    if (!fx->have_prog)
        fail_msg("could not build a static program with cc -static");
    struct cow c = { .fx = fx };
    struct order o = { .n = 0 };
    uint64_t hash = file_hash(fx->progimg);
    world_up(&c.w, fx->progimg, xip, xip);
    c.va[0] = fx->dpage + 16;
    c.va[3] = ANON_VA;
    cow_enumerate(&c, &o, 1u << 1, 1u << 1, 0);
    print_message("%s: %llu orders, %llu events\n", xip ? "xip" : "copy",
                  (unsigned long long)c.orders, (unsigned long long)c.events);
    assert_int_equal(c.orders, 2144);
    if (xip)
        assert_true(tm_stats(c.w.m).cow_from_device > 0);
    tm_world_down(&c.w);
    assert_true(file_hash(fx->progimg) == hash);
}

static void
test_security_cow_isolation_across_fork_exec_exit_in_every_order_xip(
    void **state)
{
    cow_isolation(*state, 1);
}

static void
test_security_cow_isolation_across_fork_exec_exit_in_every_order_copy(
    void **state)
{
    cow_isolation(*state, 0);
}

/* ---- read-only file mappings ---- */

/* The tagged file of three pages (8193 bytes), for the tests below. */
#define RO_FILE 17

/* Every byte of file k's first three pages, read at a (or by read() when
 * a is 0), is the file's. */
static void expect_file_bytes(struct tm_world *w, xvm_file *f, unsigned k,
                              uint64_t a)
{
    uint8_t buf[3 * PG];
    size_t done;
    memset(buf, 0x99, sizeof(buf));
    if (a == 0)
        assert_int_equal(xvm_pread(f, 0, buf, sizeof(buf), &done), 0);
    else
        assert_int_equal(xvm_read(w->vs, a, buf, sizeof(buf)), 0);
    for (uint64_t o = 0; o < sizes[k]; o++)
        assert_int_equal(buf[o], tag_byte(k, o));
}

/* Runs check on RO_FILE opened read-only, in a copy mount and then in
 * an XIP mount of the same image; the checker passes after each. */
static void on_each_mount(struct fixture *fx,
                          void (*check)(struct tm_world *w, xvm_file *f))
{
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        world_up(&w, fx->img[1], xip, 1);
        xvm_file *f = open_tagged(&w, RO_FILE);
        check(&w, f);
        tm_check(w.m);
        xvm_close(f);
        tm_world_down(&w);
    }
}

static void open_for_writing(struct tm_world *w, xvm_file *f)
{
    char rel[128];
    xvm_file *g;
    (void)f;
    tag_name(rel, sizeof(rel), RO_FILE);
    assert_int_equal(xvm_open(w->mp, rel, XVM_O_RDWR, &g), EROFS);
    assert_int_equal(xvm_open(w->mp, rel, XVM_O_WRONLY, &g), EROFS);
    assert_int_equal(xvm_flash_write(w->flash, 0, "x", 1), EROFS);
}

static void test_security_read_only_file_cannot_be_opened_for_writing(
    void **state)
{
    on_each_mount(*state, open_for_writing);
}

/* Shared and writable: refused, whatever max is asked for (EACCES: the
 * file is open read-only, as both kernels answer). */
static void map_shared_writable(struct tm_world *w, xvm_file *f)
{
    uint64_t a = 0, size = sizes[RO_FILE];
    assert_int_equal(xvm_mmap_file(w->vs, &a, size, RW, XVM_MAP_SHARED, f, 0),
                     EACCES);
    assert_int_equal(xvm_mmap_file(w->vs, &a, size, RW | XVM_PROT_MPROTECT(RW),
                                   XVM_MAP_SHARED, f, 0),
                     EACCES);
}

static void test_security_shared_writable_mapping_of_the_file_is_erofs(
    void **state)
{
    on_each_mount(*state, map_shared_writable);
}

/* Shared read-only: no write, no mprotect to write, even asked. */
static void write_shared_read_only(struct tm_world *w, xvm_file *f)
{
    uint64_t a = 0, b = 0, size = sizes[RO_FILE];
    uint8_t v = 0x99;
    assert_int_equal(xvm_mmap_file(w->vs, &a, size, R, XVM_MAP_SHARED, f, 0),
                     0);
    assert_int_equal(xvm_mmap_file(w->vs, &b, size,
                                   R | XVM_PROT_MPROTECT(XVM_PROT_ALL),
                                   XVM_MAP_SHARED, f, 0),
                     0);
    for (uint64_t off = 0; off < size; off += PG) {
        assert_int_equal(xvm_write(w->vs, a + off, &v, 1), EACCES);
        assert_int_equal(xvm_write(w->vs, b + off, &v, 1), EACCES);
    }
    assert_int_equal(xvm_mprotect(w->vs, a, PG, RW), EACCES);
    assert_int_equal(xvm_mprotect(w->vs, b, 3 * PG, RW), EACCES);
    assert_int_equal(xvm_mprotect(w->vs, b, 3 * PG, XVM_PROT_ALL), EACCES);
    assert_int_equal(xvm_write(w->vs, a, &v, 1), EACCES);
    /* Nothing changed: both mappings give the file. */
    expect_file_bytes(w, f, RO_FILE, a);
    expect_file_bytes(w, f, RO_FILE, b);
}

static void test_security_shared_read_only_file_mapping_stays_unwritable(
    void **state)
{
    on_each_mount(*state, write_shared_read_only);
}

/* Private with max read: mprotect beyond max is refused. */
static void raise_private_read_max(struct tm_world *w, xvm_file *f)
{
    uint64_t p = 0;
    uint8_t v = 0x99;
    assert_int_equal(xvm_mmap_file(w->vs, &p, sizes[RO_FILE],
                                   R | XVM_PROT_MPROTECT(R), XVM_MAP_PRIVATE, f,
                                   0),
                     0);
    assert_int_equal(xvm_mprotect(w->vs, p, PG, RW), EACCES);
    assert_int_equal(xvm_mprotect(w->vs, p, PG, RX), EACCES);
    assert_int_equal(xvm_write(w->vs, p, &v, 1), EACCES);
    /* Nothing changed: the mapping and read() give the file. */
    expect_file_bytes(w, f, RO_FILE, p);
    expect_file_bytes(w, f, RO_FILE, 0);
}

static void test_security_private_file_mapping_stays_within_max_read(
    void **state)
{
    on_each_mount(*state, raise_private_read_max);
}

/* A program's text cannot be written either. */
static void test_security_program_text_cannot_be_written(void **state)
{
    struct fixture *fx = *state;
    if (!fx->have_prog)
        fail_msg("could not build a static program with cc -static");
    static const char *const argv[] = { "/bin/prog" };
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        uint8_t before[16], after[16], v = 0xcc;
        world_up(&w, fx->progimg, xip, 1);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/prog", 1, argv), 0);
        assert_int_equal(xvm_fork(w.m, 1, 2), 0);
        xvm_vmspace *vs = xvm_proc_vmspace(w.m, 2);
        assert_int_equal(xvm_fetch(vs, fx->text, before, sizeof(before)), 0);
        assert_int_equal(xvm_write(vs, fx->text, &v, 1), EACCES);
        assert_int_equal(
            xvm_fetch(xvm_proc_vmspace(w.m, 1), fx->text, after, sizeof(after)),
            0);
        assert_memory_equal(before, after, sizeof(before));
        tm_check(w.m);
        assert_int_equal(xvm_exit(w.m, 1), 0);
        assert_int_equal(xvm_exit(w.m, 2), 0);
        tm_world_down(&w);
    }
}

/* ---- max_protection ---- */

static void expect_max(xvm_vmspace *vs, uint64_t a, uint64_t len, int max)
{
    for (int p = 0; p <= XVM_PROT_ALL; p++)
        assert_int_equal(xvm_mprotect(vs, a, len, p), (p & ~max) ? EACCES : 0);
}

/*
 * Mappings of every kind with their max protection: private anon a
 * (2 pages, max R), shared anon s (max RW), the read-only file shared
 * (f1) and private with max RX (f2).
 */
struct maxp {
    struct tm_world w;
    xvm_file *f;
    uint64_t a, s, f1, f2;
};

static void maxp_up(struct fixture *fx, struct maxp *t)
{
    world_up(&t->w, fx->img[1], 1, 0);
    xvm_vmspace *P = t->w.vs;
    t->a = t->s = t->f1 = t->f2 = 0;
    assert_int_equal(xvm_mmap(P, &t->a, 2 * PG, R | XVM_PROT_MPROTECT(R),
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    assert_int_equal(xvm_mmap(P, &t->s, PG, RW | XVM_PROT_MPROTECT(RW),
                              XVM_MAP_SHARED, NULL, 0),
                     0);
    t->f = open_tagged(&t->w, 20);
    assert_int_equal(xvm_mmap_file(P, &t->f1, PG, R, XVM_MAP_SHARED, t->f, 0),
                     0);
    assert_int_equal(xvm_mmap_file(P, &t->f2, PG, RX | XVM_PROT_MPROTECT(RX),
                                   XVM_MAP_PRIVATE, t->f, 0),
                     0);
}

static void maxp_down(struct maxp *t)
{
    tm_check(t->w.m);
    xvm_close(t->f);
    tm_world_down(&t->w);
}

/* Two adjacent private pages at 0x20000000: RW, then one of max R. */
static uint64_t map_rw_then_read_max(xvm_vmspace *P)
{
    uint64_t both = 0x20000000;
    assert_int_equal(
        xvm_mmap(P, &both, PG, RW, XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
        0);
    uint64_t b2 = both + PG;
    assert_int_equal(xvm_mmap(P, &b2, PG, R | XVM_PROT_MPROTECT(R),
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     0);
    return both;
}

/* prot beyond max at mmap time is refused. */
static void test_security_mmap_beyond_max_protection_is_eacces(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    world_up(&w, fx->img[1], 1, 0);
    uint64_t a = 0;
    assert_int_equal(xvm_mmap(w.vs, &a, PG, RW | XVM_PROT_MPROTECT(R),
                              XVM_MAP_PRIVATE, NULL, 0),
                     EACCES);
    tm_world_down(&w);
}

static void test_security_max_protection_cannot_be_raised(void **state)
{
    struct maxp t;
    maxp_up(*state, &t);
    xvm_vmspace *P = t.w.vs;
    expect_max(P, t.a, 2 * PG, R);
    expect_max(P, t.s, PG, RW);
    expect_max(P, t.f1, PG, RX); /* read-only file, shared: no write */
    expect_max(P, t.f2, PG, RX);
    /* Lowering prot never lowers max, and max never rises back. */
    assert_int_equal(xvm_mprotect(P, t.a, 2 * PG, XVM_PROT_NONE), 0);
    expect_max(P, t.a, 2 * PG, R);
    maxp_down(&t);
}

/* A range over two entries: one refusal changes nothing. */
static void test_security_mprotect_refused_over_two_entries_changes_neither(
    void **state)
{
    struct maxp t;
    maxp_up(*state, &t);
    xvm_vmspace *P = t.w.vs;
    uint8_t v = 1;
    assert_int_equal(xvm_mprotect(P, t.s, PG, XVM_PROT_NONE), 0);
    uint64_t both = map_rw_then_read_max(P), b2 = both + PG;
    assert_int_equal(xvm_mprotect(P, both, 2 * PG, RW), EACCES);
    assert_int_equal(xvm_write(P, b2, &v, 1), EACCES);
    assert_int_equal(xvm_write(P, both, &v, 1), 0);
    assert_int_equal(xvm_mprotect(P, both, PG, R), 0);
    assert_int_equal(xvm_mprotect(P, both, 2 * PG, RW), EACCES);
    assert_int_equal(xvm_write(P, both, &v, 1), EACCES); /* still R */
    maxp_down(&t);
}

/* After fork, in both processes; and in a fork of the fork. */
static void test_security_max_protection_holds_in_child_and_grandchild(
    void **state)
{
    struct maxp t;
    maxp_up(*state, &t);
    xvm_vmspace *P = t.w.vs, *C;
    uint64_t a = t.a, s = t.s, f1 = t.f1, f2 = t.f2;
    uint8_t v = 1;
    assert_int_equal(xvm_mprotect(P, a, 2 * PG, XVM_PROT_NONE), 0);
    assert_int_equal(xvm_mprotect(P, s, PG, XVM_PROT_NONE), 0);
    uint64_t b2 = map_rw_then_read_max(P) + PG;
    assert_int_equal(xvm_minherit(P, s, PG, XVM_INHERIT_SHARE), 0);
    assert_int_equal(xvm_vmspace_fork(P, &C), 0);
    xvm_vmspace *G;
    assert_int_equal(xvm_vmspace_fork(C, &G), 0);
    xvm_vmspace *all[3] = { P, C, G };
    for (int i = 0; i < 3; i++) {
        expect_max(all[i], a, 2 * PG, R);
        expect_max(all[i], s, PG, RW);
        expect_max(all[i], f1, PG, RX);
        expect_max(all[i], f2, PG, RX);
        expect_max(all[i], b2, PG, R);
        assert_int_equal(xvm_mprotect(all[i], b2, PG, R), 0);
        assert_int_equal(xvm_write(all[i], b2, &v, 1), EACCES);
        assert_int_equal(xvm_write(all[i], f1, &v, 1), EACCES);
        assert_int_equal(xvm_mprotect(all[i], f2, PG, R), 0);
        assert_int_equal(xvm_write(all[i], f2, &v, 1), EACCES);
    }
    /* The file's byte is still its own everywhere. */
    for (int i = 0; i < 3; i++) {
        uint8_t b;
        assert_int_equal(xvm_read(all[i], f1, &b, 1), 0);
        assert_int_equal(b, tag_byte(20, 0));
    }
    tm_check(t.w.m);
    xvm_vmspace_destroy(G);
    xvm_vmspace_destroy(C);
    maxp_down(&t);
}

/* ---- the flash image ---- */

/* Writes every page of every file through private mappings, mlocks,
 * forks and writes again: the flash never changes. */
static void scribble(struct tm_world *w)
{
    for (unsigned k = 0; k < NSIZES; k++) {
        xvm_file *f = open_tagged(w, k);
        uint64_t a = 0, len = sizes[k];
        uint8_t *buf = malloc(len);
        assert_int_equal(xvm_mmap_file(w->vs, &a, len, RW | XVM_PROT_EXEC,
                                       XVM_MAP_PRIVATE, f, 0),
                         0);
        memset(buf, 0xa5 ^ (int)k, len);
        assert_int_equal(xvm_write(w->vs, a, buf, len), 0);
        if (k % 4 == 0) /* every page is a private copy now */
            assert_int_equal(xvm_mlock(w->vs, a, len), 0);
        xvm_vmspace *c;
        assert_int_equal(xvm_vmspace_fork(w->vs, &c), 0);
        uint8_t z = 0;
        for (uint64_t o = 0; o < len; o += PG)
            assert_int_equal(xvm_write(c, a + o, &z, 1), 0);
        xvm_vmspace_destroy(c);
        memset(buf, 0, len);
        assert_int_equal(xvm_read(w->vs, a, buf, len), 0);
        for (uint64_t o = 0; o < len; o++)
            assert_int_equal(buf[o], 0xa5 ^ k);
        /* read() and a fresh shared mapping still give the file. */
        size_t done;
        uint64_t s = 0;
        assert_int_equal(xvm_pread(f, 0, buf, len, &done), 0);
        for (uint64_t o = 0; o < len; o++)
            assert_int_equal(buf[o], tag_byte(k, o));
        assert_int_equal(xvm_mmap_file(w->vs, &s, len, R, XVM_MAP_SHARED, f, 0),
                         0);
        assert_int_equal(xvm_read(w->vs, s, buf, len), 0);
        for (uint64_t o = 0; o < len; o++)
            assert_int_equal(buf[o], tag_byte(k, o));
        assert_int_equal(xvm_munmap(w->vs, a, len), 0);
        assert_int_equal(xvm_munmap(w->vs, s, len), 0);
        xvm_close(f);
        free(buf);
    }
    tm_check(w->m);
}

static uint64_t hash_bytes(const uint8_t *b, uint64_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static void test_security_flash_image_is_never_modified(void **state)
{
    struct fixture *fx = *state;
    for (size_t l = 0; l < NLAYOUTS; l++) {
        uint64_t before = file_hash(fx->img[l]);
        for (int xip = 0; xip < 2; xip++) {
            struct tm_world w;
            world_up(&w, fx->img[l], xip, 1);
            scribble(&w);
            tm_world_down(&w);
            assert_true(file_hash(fx->img[l]) == before);
        }
    }
}

/* A caller's buffer as the image: the same. */
static void test_security_callers_image_buffer_is_never_modified(void **state)
{
    struct fixture *fx = *state;
    uint64_t n;
    uint8_t *bytes = file_slurp(fx->img[0], &n);
    uint64_t before = hash_bytes(bytes, n);
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        tm_world_attach(&w, "sgimips", 16u << 20, 1, bytes, n);
        tm_world_mount(&w, xip, TM_RA_DEFAULT, 1);
        scribble(&w);
        tm_world_down(&w);
        assert_true(hash_bytes(bytes, n) == before);
    }
    free(bytes);
}

/* ---- bytes past EOF, and nobody else's ---- */

/* Reads every page of a mapping of file k: its own bytes, then zeros. */
static void check_mapping(struct tm_world *w, unsigned k, uint64_t a,
                          uint8_t *buf, const char *what)
{
    uint64_t size = sizes[k], pages = (size + PG - 1) / PG;
    for (uint64_t p = 0; p < pages; p++) {
        memset(buf, 0x5a, PG);
        assert_int_equal(xvm_read(w->vs, a + p * PG, buf, PG), 0);
        for (uint64_t i = 0; i < PG; i++) {
            uint64_t o = p * PG + i;
            uint8_t want = o < size ? tag_byte(k, o) : 0;
            if (buf[i] == want)
                continue;
            /* Whose byte is it?  Byte 5 of its word names the file. */
            uint64_t at = i - (o % 8) + 5;
            int owner = at < PG ? (int)buf[at] - 1 : -1;
            fail_msg(
                "%s: file %u (%llu bytes) offset %llu reads %#x, want %#x%s "
                "(the word's file tag says file %d)",
                what, k, (unsigned long long)size, (unsigned long long)o,
                buf[i], want, o >= size ? " past EOF" : "", owner);
        }
    }
}

static void check_image(const char *img, int xip, const char *what)
{
    struct tm_world w;
    uint8_t *buf = malloc(PG);
    world_up(&w, img, xip, 1);
    /* All files mapped at once, then each read page by page. */
    uint64_t priv[NSIZES], shar[NSIZES];
    xvm_file *f[NSIZES];
    for (unsigned k = 0; k < NSIZES; k++) {
        f[k] = open_tagged(&w, k);
        priv[k] = shar[k] = 0;
        assert_int_equal(xvm_mmap_file(w.vs, &priv[k], sizes[k], R,
                                       XVM_MAP_PRIVATE, f[k], 0),
                         0);
        assert_int_equal(xvm_mmap_file(w.vs, &shar[k], sizes[k], RX,
                                       XVM_MAP_SHARED, f[k], 0),
                         0);
    }
    for (unsigned k = 0; k < NSIZES; k++) {
        char tag[160];
        snprintf(tag, sizeof(tag), "%s %s private", what, xip ? "xip" : "copy");
        check_mapping(&w, k, priv[k], buf, tag);
        snprintf(tag, sizeof(tag), "%s %s shared", what, xip ? "xip" : "copy");
        check_mapping(&w, k, shar[k], buf, tag);
        /* read() stops at EOF. */
        size_t done;
        assert_int_equal(xvm_pread(f[k], sizes[k] - 1, buf, PG, &done), 0);
        assert_int_equal(done, 1);
        assert_int_equal(buf[0], tag_byte(k, sizes[k] - 1));
        assert_int_equal(xvm_pread(f[k], sizes[k], buf, PG, &done), 0);
        assert_int_equal(done, 0);
    }
    tm_check(w.m);
    for (unsigned k = 0; k < NSIZES; k++)
        xvm_close(f[k]);
    tm_world_down(&w);
    free(buf);
}

static void test_security_bytes_past_eof_read_zero_and_no_foreign_bytes(
    void **state)
{
    struct fixture *fx = *state;
    for (size_t l = 0; l < NLAYOUTS; l++) {
        char what[96];
        for (int xip = 0; xip < 2; xip++) {
            snprintf(what, sizeof(what), "ufs%d %u/%u", layouts[l].version,
                     layouts[l].bsize, layouts[l].fsize);
            check_image(fx->img[l], xip, what);
        }
    }
}

/* Junk on flash past every EOF must not show either. */
static void test_security_junk_on_flash_past_eof_never_shows(void **state)
{
    struct fixture *fx = *state;
    for (size_t l = 0; l < NLAYOUTS; l++) {
        char what[96];
        for (int xip = 0; xip < 2; xip++) {
            snprintf(what, sizeof(what), "ufs%d %u/%u junk", layouts[l].version,
                     layouts[l].bsize, layouts[l].fsize);
            check_image(fx->junk[l], xip, what);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_security_cow_isolation_across_fork_exec_exit_in_every_order_xip),
        cmocka_unit_test(
            test_security_cow_isolation_across_fork_exec_exit_in_every_order_copy),
        cmocka_unit_test(
            test_security_read_only_file_cannot_be_opened_for_writing),
        cmocka_unit_test(
            test_security_shared_writable_mapping_of_the_file_is_erofs),
        cmocka_unit_test(
            test_security_shared_read_only_file_mapping_stays_unwritable),
        cmocka_unit_test(
            test_security_private_file_mapping_stays_within_max_read),
        cmocka_unit_test(test_security_program_text_cannot_be_written),
        cmocka_unit_test(test_security_mmap_beyond_max_protection_is_eacces),
        cmocka_unit_test(test_security_max_protection_cannot_be_raised),
        cmocka_unit_test(
            test_security_mprotect_refused_over_two_entries_changes_neither),
        cmocka_unit_test(
            test_security_max_protection_holds_in_child_and_grandchild),
        cmocka_unit_test(test_security_flash_image_is_never_modified),
        cmocka_unit_test(test_security_callers_image_buffer_is_never_modified),
        cmocka_unit_test(
            test_security_bytes_past_eof_read_zero_and_no_foreign_bytes),
        cmocka_unit_test(test_security_junk_on_flash_past_eof_never_shows),
    };
    /* Every property holds whatever tracks the device pages. */
    return tm_run_designs("test_security", tests,
                          sizeof(tests) / sizeof(tests[0]), setup, teardown);
}
