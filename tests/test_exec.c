/*
 * exec of real static programs from a makefs image: busybox, programs
 * compiled at test time (static and static-pie), and the static one
 * re-encoded as ELF64 big-endian and ELF32 of both byte orders.  Every
 * PT_LOAD is checked against the host file through the process's address
 * space; the stack, brk, fork/exec/exit and malformed programs too.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "fstree.h"
#include "elfconv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DYN_BASE UINT64_C(0x01000000) /* where xipvm.h places static-pie */

static const char prog_c[] = "#include <stdio.h>\n"
                             "static char big[3 * 4096 + 100];\n"
                             "int counter = 42;\n"
                             "int main(int argc, char **argv)\n"
                             "{\n"
                             "    big[argc] = (char)counter;\n"
                             "    printf(\"%s %d\\n\", argv[0], big[1]);\n"
                             "    return 0;\n"
                             "}\n";

enum { P_STATIC, P_PIE, P_BUSYBOX, P_BE64, P_LE32, P_BE32, NPROG };
static const char *const prog_path[NPROG] = {
    "/bin/prog",     "/bin/pie",      "/bin/busybox",
    "/bin/prog64be", "/bin/prog32le", "/bin/prog32be",
};

/* A dynamically linked program and its interpreter, both from the host. */
struct dynprog {
    char interp[256]; /* its PT_INTERP, where the image has ld.so too */
    uint8_t *bytes, *ld;
    uint64_t size, ldsize;
    struct ec_elf elf, ldelf;
};

struct fixture {
    char *dir, *tree;
    char img[512];
    uint8_t *bytes[NPROG];
    uint64_t size[NPROG];
    struct ec_elf elf[NPROG];
    uint8_t *shortbss; /* /bin/shortbss: its bss ends in its data's page */
    struct ec_elf shortbss_elf;
    struct dynprog dyn;
};

static char *host(const struct fixture *fx, const char *rel)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s%s", fx->tree, rel);
    return buf[k];
}

static int build(const struct fixture *fx, const char *flags, const char *out)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cc %s -o '%s' '%s/prog.c' >/dev/null 2>&1",
             flags, host(fx, out), fx->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_exec: build failed: %s\n", cmd);
        return -1;
    }
    return 0;
}

static int copy_file(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    return system(cmd) == 0 ? 0 : -1;
}

/* The PT_INTERP string of e (in bytes), or NULL; *off and *len where. */
static const char *interp_of(const struct ec_elf *e, const uint8_t *bytes,
                             uint64_t *off, uint64_t *len)
{
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == EC_PT_INTERP) {
            *off = e->ph[i].offset;
            *len = e->ph[i].filesz;
            return (const char *)bytes + *off;
        }
    return NULL;
}

/* A dynamic program whose PT_INTERP names path instead (same length). */
static void dyn_variant(const struct fixture *fx, const char *rel,
                        const char *interp, int keep_nul)
{
    uint64_t off = 0, len = 0;
    const struct dynprog *d = &fx->dyn;
    uint8_t *b = malloc(d->size);
    memcpy(b, d->bytes, d->size);
    interp_of(&d->elf, d->bytes, &off, &len);
    memcpy(b + off, interp, strlen(interp));
    if (!keep_nul)
        b[off + len - 1] = 'x'; /* no NUL at the end */
    file_spit(host(fx, rel), b, d->size);
    free(b);
}

/*
 * /dyn/prog: the dynamic build, with its interpreter at its PT_INTERP
 * path; and programs whose interpreter is missing (/bad/nointerp),
 * malformed (/bad/badinterp), itself dynamic (/bad/dyninterp), or whose
 * PT_INTERP lacks its NUL (/bad/nonul).  Replacement paths have the
 * original's length.
 */
static int dyn_setup(struct fixture *fx)
{
    struct dynprog *d = &fx->dyn;
    uint64_t off = 0, len = 0;
    char dirpath[256], alt[256];
    if (build(fx, "-O1", "/bad/dyn") != 0)
        return -1;
    d->bytes = file_slurp(host(fx, "/bad/dyn"), &d->size);
    const char *ip;
    if (ec_read(d->bytes, d->size, &d->elf) != 0 ||
        (ip = interp_of(&d->elf, d->bytes, &off, &len)) == NULL ||
        len >= sizeof(d->interp) || len < 12 || ip[len - 1] != '\0')
        return -1;
    memcpy(d->interp, ip, len);
    d->ld = file_slurp(d->interp, &d->ldsize); /* the host's ld.so */
    if (ec_read(d->ld, d->ldsize, &d->ldelf) != 0)
        return -1;
    snprintf(dirpath, sizeof(dirpath), "%s", d->interp);
    *strrchr(dirpath, '/') = '\0';
    tree_dir(fx->tree, dirpath + 1);
    tree_dir(fx->tree, "dyn");
    file_spit(host(fx, d->interp), d->ld, d->ldsize);
    file_spit(host(fx, "/dyn/prog"), d->bytes, d->size);
    size_t n = strlen(d->interp);
    snprintf(alt, sizeof(alt), "%s", d->interp);
    alt[n - 1] = '#'; /* nothing there */
    dyn_variant(fx, "/bad/nointerp", alt, 1);
    memset(alt, 'm', n), memcpy(alt, "/bad/", 5); /* a malformed ELF */
    file_spit(host(fx, alt), d->bytes, 2000);
    dyn_variant(fx, "/bad/badinterp", alt, 1);
    memset(alt, 'd', n), memcpy(alt, "/bad/", 5); /* itself dynamic */
    file_spit(host(fx, alt), d->bytes, d->size);
    dyn_variant(fx, "/bad/dyninterp", alt, 1);
    dyn_variant(fx, "/bad/nonul", d->interp, 0);
    return 0;
}

/*
 * /bin/shortbss: the static program with 8 bytes of bss, which end in
 * the page of the data's last file bytes, before other file bytes.
 */
static int shortbss_setup(struct fixture *fx)
{
    const struct ec_elf *e = &fx->elf[P_STATIC];
    uint64_t size = fx->size[P_STATIC];
    for (unsigned i = 0; i < e->phnum; i++) {
        struct ec_phdr h = e->ph[i];
        uint64_t fend = h.offset + h.filesz;
        if (h.type != EC_PT_LOAD || !(h.flags & EC_PF_W) || h.filesz == 0 ||
            fend % PG == 0 || fend % PG > PG - 64 || fend + 64 > size)
            continue;
        fx->shortbss = malloc(size);
        memcpy(fx->shortbss, fx->bytes[P_STATIC], size);
        h.memsz = h.filesz + 8;
        ec_write_phdr(fx->shortbss + e->phoff + (uint64_t)i * 56, &h, 1, 0);
        file_spit(host(fx, "/bin/shortbss"), fx->shortbss, size);
        return ec_read(fx->shortbss, size, &fx->shortbss_elf);
    }
    fprintf(stderr, "test_exec: no data segment for /bin/shortbss\n");
    return -1;
}

/*
 * /bad/wrap: the static-pie program with its last segment moved near
 * 2^64, so that its span, placed at DYN_BASE, wraps around to page 0.
 */
static int wrap_setup(struct fixture *fx)
{
    const struct ec_elf *e = &fx->elf[P_PIE];
    uint8_t *b = malloc(fx->size[P_PIE]);
    unsigned last = 0;
    memcpy(b, fx->bytes[P_PIE], fx->size[P_PIE]);
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == EC_PT_LOAD)
            last = i;
    struct ec_phdr h = e->ph[last];
    h.vaddr = h.paddr = UINT64_C(0xffffffffff000000) | (h.vaddr & 0xffffff);
    ec_write_phdr(b + e->phoff + (uint64_t)last * 56, &h, 1, 0);
    file_spit(host(fx, "/bad/wrap"), b, fx->size[P_PIE]);
    free(b);
    return e->type == 3 && h.vaddr + h.memsz > h.vaddr ? 0 : -1;
}

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char path[1024];
    fx->dir = tree_new();
    fx->tree = tree_new();
    tree_dir(fx->tree, "bin");
    tree_dir(fx->tree, "bad/dir");
    snprintf(path, sizeof(path), "%s/prog.c", fx->dir);
    file_spit(path, (const uint8_t *)prog_c, sizeof(prog_c) - 1);
    /* A build that fails is a failed test, not a skipped one. */
    if (build(fx, "-static -O1", "/bin/prog") != 0 ||
        build(fx, "-static-pie -fPIE -O1", "/bin/pie") != 0 ||
        copy_file("/bin/busybox", host(fx, "/bin/busybox")) != 0)
        return -1;
    for (int i = 0; i < NPROG; i++) {
        if (i >= P_BE64) {
            int to64 = i == P_BE64, be = i != P_LE32;
            if (ec_convert(fx->bytes[P_STATIC], fx->size[P_STATIC], to64, be,
                           &fx->bytes[i]) != 0)
                return -1;
            fx->size[i] = fx->size[P_STATIC];
            file_spit(host(fx, prog_path[i]), fx->bytes[i], fx->size[i]);
        } else {
            fx->bytes[i] = file_slurp(host(fx, prog_path[i]), &fx->size[i]);
        }
        if (ec_read(fx->bytes[i], fx->size[i], &fx->elf[i]) != 0)
            return -1;
    }
    /* Malformed programs, made from the real one. */
    const uint8_t *good = fx->bytes[P_STATIC];
    file_spit(host(fx, "/bad/truncated"), good,
              3000); /* headers, no segments */
    uint8_t *b = malloc(4096);
    memcpy(b, good, 4096);
    b[1] = 'X';
    file_spit(host(fx, "/bad/magic"), b, 4096);
    memcpy(b, good, 4096);
    b[32] = 0xf0, b[33] = 0xff, b[34] = 0x7f; /* e_phoff past EOF */
    file_spit(host(fx, "/bad/phoff"), b, 4096);
    free(b);
    file_spit(host(fx, "/bad/empty"), (const uint8_t *)"", 0);
    if (wrap_setup(fx) != 0)
        return -1;
    if (shortbss_setup(fx) != 0)
        return -1;
    if (dyn_setup(fx) != 0)
        return -1;
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "img", fx->tree, 2,
                  "little", 32768, 4096);
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx == NULL)
        return 0;
    for (int i = 0; i < NPROG; i++)
        free(fx->bytes[i]);
    free(fx->shortbss);
    free(fx->dyn.bytes);
    free(fx->dyn.ld);
    tree_remove(fx->dir);
    tree_remove(fx->tree);
    free(fx);
    return 0;
}

static void up(struct tm_world *w, const struct fixture *fx,
               const char *profile, int xip)
{
    tm_world_open(w, profile, 32u << 20, 0, fx->img);
    tm_world_mount(w, xip, 0, 0);
}

static uint64_t trunc_pg(uint64_t v)
{
    return v & ~(uint64_t)(PG - 1);
}
static uint64_t round_pg(uint64_t v)
{
    return trunc_pg(v + PG - 1);
}

static uint64_t bias_of(const struct ec_elf *e)
{
    uint64_t lo = UINT64_MAX;
    if (e->type != 3)
        return 0;
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == EC_PT_LOAD && e->ph[i].vaddr < lo)
            lo = e->ph[i].vaddr;
    return DYN_BASE - trunc_pg(lo);
}

/*
 * Every page of every PT_LOAD read through the process: the file part
 * equals the file (the whole first and last page, as the vnode maps
 * them), except that in a writable segment the bytes after p_filesz read
 * zero, as does all of bss; text refuses writes, data takes them without
 * touching the file.
 */
static void check_image(struct tm_world *w, const char *path,
                        const struct ec_elf *e, const uint8_t *file,
                        uint64_t size, uint64_t bias, uint32_t pid)
{
    xvm_vmspace *vs = xvm_proc_vmspace(w->m, pid);
    uint8_t page[PG], want[PG];
    unsigned nload = 0;
    int saw_text = 0, saw_data = 0;
    assert_non_null(vs);
    for (unsigned i = 0; i < e->phnum; i++) {
        const struct ec_phdr *h = &e->ph[i];
        if (h->type != EC_PT_LOAD)
            continue;
        nload++;
        uint64_t va = h->vaddr + bias, fend = va + h->filesz,
                 mend = va + h->memsz;
        int writable = (h->flags & EC_PF_W) != 0;
        for (uint64_t p = trunc_pg(va); p < round_pg(mend); p += PG) {
            for (unsigned k = 0; k < PG; k++) {
                uint64_t a = p + k,
                         off = trunc_pg(h->offset) + (a - trunc_pg(va));
                /* bss, and the part of the last file page exec zeroes:
                 * past p_filesz to the page's end, past p_memsz too */
                if (a >= round_pg(fend) ||
                    (writable && mend > fend && a >= fend))
                    want[k] = 0;
                else
                    want[k] = off < size ? file[off] : 0;
            }
            memset(page, 0xa5, sizeof(page));
            int rc = (h->flags & EC_PF_X) ? xvm_fetch(vs, p, page, PG)
                                          : xvm_read(vs, p, page, PG);
            if (rc != 0 || memcmp(page, want, PG) != 0)
                fail_msg("%s: segment %u page 0x%llx: rc %d or bytes differ",
                         path, i, (unsigned long long)p, rc);
        }
        uint8_t x = 0x5a;
        if (!writable) {
            assert_int_equal(xvm_write(vs, va, &x, 1), EACCES);
            saw_text = 1;
        } else if (h->filesz > 0) {
            uint8_t back = 0, orig = 0;
            size_t done = 0;
            xvm_file *f;
            assert_int_equal(xvm_write(vs, va, &x, 1), 0);
            assert_int_equal(xvm_read(vs, va, &back, 1), 0);
            assert_int_equal(back, 0x5a);
            assert_int_equal(xvm_open(w->mp, path, XVM_O_RDONLY, &f), 0);
            assert_int_equal(xvm_pread(f, h->offset, &orig, 1, &done), 0);
            assert_int_equal(done, 1);
            assert_int_equal(orig, file[h->offset]); /* the file is unchanged */
            xvm_close(f);
            saw_data = 1;
        }
        if (h->memsz > h->filesz) { /* bss takes writes and reads them back */
            uint8_t back = 0;
            assert_int_equal(xvm_write(vs, mend - 1, &x, 1), 0);
            assert_int_equal(xvm_read(vs, mend - 1, &back, 1), 0);
            assert_int_equal(back, 0x5a);
        }
    }
    assert_true(nload >= 2);
    assert_true(saw_text && saw_data);
}

static void check_segments(struct tm_world *w, const struct fixture *fx,
                           int which, uint32_t pid)
{
    check_image(w, prog_path[which], &fx->elf[which], fx->bytes[which],
                fx->size[which], bias_of(&fx->elf[which]), pid);
}

static void test_exec_segments_read_back_the_file_bytes(void **state)
{
    struct fixture *fx = *state;
    static const char *const profiles[] = { "amd64", "sgimips" };
    for (int which = 0; which < NPROG; which++)
        for (int pr = 0; pr < 2; pr++)
            for (int xip = 0; xip < 2; xip++) {
                struct tm_world w;
                struct xvm_proc_info info;
                const char *argv[] = { prog_path[which], "one" };
                up(&w, fx, profiles[pr], xip);
                assert_int_equal(
                    xvm_spawn(w.m, w.mp, 1, prog_path[which], 2, argv), 0);
                assert_int_equal(xvm_proc_info(w.m, 1, &info), 0);
                assert_int_equal(info.entry, fx->elf[which].entry +
                                                 bias_of(&fx->elf[which]));
                assert_int_equal(info.load_base,
                                 fx->elf[which].type == 3 ? DYN_BASE : 0);
                check_segments(&w, fx, which, 1);
                tm_check(w.m);
                assert_int_equal(xvm_exit(w.m, 1), 0);
                tm_world_drop(&w);
            }
}

/*
 * Bss that ends inside the last file page: the rest of that page reads
 * zero past p_memsz too (file bytes follow there), as Linux and NetBSD
 * leave it; ld.so's first mallocs take that tail as zeroed memory.
 */
static void test_exec_last_data_page_reads_zero_past_short_bss(void **state)
{
    struct fixture *fx = *state;
    const struct ec_elf *e = &fx->shortbss_elf;
    int nonzero = 0;
    for (unsigned i = 0; i < e->phnum; i++) {
        const struct ec_phdr *h = &e->ph[i];
        if (h->type == EC_PT_LOAD && h->memsz > h->filesz)
            for (uint64_t o = h->offset + h->memsz;
                 o < round_pg(h->offset + h->memsz); o++)
                nonzero += fx->shortbss[o] != 0;
    }
    assert_true(nonzero > 0); /* else the test shows nothing */
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        up(&w, fx, "amd64", xip);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/shortbss", 0, NULL), 0);
        check_image(&w, "/bin/shortbss", e, fx->shortbss, fx->size[P_STATIC], 0,
                    1);
        tm_check(w.m);
        assert_int_equal(xvm_exit(w.m, 1), 0);
        tm_world_drop(&w);
    }
}

/* The converted images really are what they claim to be. */
static void test_exec_converted_images_have_their_class_and_order(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(fx->elf[P_BE64].is64, 1);
    assert_int_equal(fx->elf[P_BE64].be, 1);
    assert_int_equal(fx->elf[P_LE32].is64, 0);
    assert_int_equal(fx->elf[P_LE32].be, 0);
    assert_int_equal(fx->elf[P_BE32].is64, 0);
    assert_int_equal(fx->elf[P_BE32].be, 1);
    assert_int_equal(fx->elf[P_PIE].type, 3);    /* ET_DYN */
    assert_int_equal(fx->elf[P_STATIC].type, 2); /* ET_EXEC */
    for (int i = P_BE64; i <= P_BE32; i++) {
        assert_int_equal(fx->elf[i].phnum, fx->elf[P_STATIC].phnum);
        assert_int_equal(fx->elf[i].entry, fx->elf[P_STATIC].entry);
        for (unsigned k = 0; k < fx->elf[i].phnum; k++)
            assert_memory_equal(&fx->elf[i].ph[k], &fx->elf[P_STATIC].ph[k],
                                sizeof(struct ec_phdr));
    }
}

static uint64_t get_word(xvm_vmspace *vs, uint64_t va, int w, int be)
{
    uint8_t b[8];
    uint64_t v = 0;
    assert_int_equal(xvm_read(vs, va, b, (size_t)w), 0);
    for (int i = 0; i < w; i++)
        v |= (uint64_t)b[be ? w - 1 - i : i] << (8 * i);
    return v;
}

/* argc, argv[] and the strings, in the program's word size and byte order. */
static void test_exec_stack_holds_argc_and_argv(void **state)
{
    struct fixture *fx = *state;
    static const int progs[] = { P_STATIC, P_BE64, P_LE32, P_BE32, P_PIE };
    for (size_t n = 0; n < sizeof(progs) / sizeof(progs[0]); n++) {
        int which = progs[n];
        int w64 = fx->elf[which].is64, be = fx->elf[which].be, ws = w64 ? 8 : 4;
        const char *argv[] = { "prog", "alpha", "",
                               "a-longer-argument-string" };
        struct tm_world w;
        struct xvm_proc_info info;
        char s[64];
        up(&w, fx, "sgimips", 1);
        assert_int_equal(xvm_spawn(w.m, w.mp, 7, prog_path[which], 4, argv), 0);
        assert_int_equal(xvm_proc_info(w.m, 7, &info), 0);
        xvm_vmspace *vs = xvm_proc_vmspace(w.m, 7);
        assert_true(info.stack_pointer < info.stack_top);
        assert_int_equal(info.stack_pointer % 16, 0);
        assert_int_equal(info.stack_top, UINT64_C(0x80000000));
        assert_int_equal(get_word(vs, info.stack_pointer, ws, be), 4);
        for (int i = 0; i < 4; i++) {
            uint64_t p = get_word(
                vs, info.stack_pointer + (uint64_t)(i + 1) * ws, ws, be);
            assert_true(p > info.stack_pointer && p < info.stack_top);
            size_t len = strlen(argv[i]) + 1;
            assert_int_equal(xvm_read(vs, p, s, len), 0);
            assert_string_equal(s, argv[i]);
        }
        assert_int_equal(get_word(vs, info.stack_pointer + 5u * ws, ws, be), 0);
        assert_int_equal(get_word(vs, info.stack_pointer + 6u * ws, ws, be), 0);
        /* the stack is there below the frame too, writable, zero */
        assert_int_equal(tm_rd8(vs, info.stack_top - (1u << 20)), 0);
        tm_wr8(vs, info.stack_top - (1u << 20), 9);
        tm_world_drop(&w);
    }
}

/* Reads the auxiliary vector after argv and envp: aux[type] = value. */
static void read_auxv(xvm_vmspace *vs, const struct xvm_proc_info *info, int ws,
                      int be, uint64_t aux[16], int *seen)
{
    uint64_t sp = info->stack_pointer;
    uint64_t argc = get_word(vs, sp, ws, be);
    uint64_t at = sp + (argc + 2) * (uint64_t)ws;  /* past argv's NULL */
    assert_int_equal(get_word(vs, at, ws, be), 0); /* envp's NULL */
    at += (uint64_t)ws;
    *seen = 0;
    for (int n = 0; n < 16; n++, at += 2u * (uint64_t)ws) {
        uint64_t type = get_word(vs, at, ws, be);
        if (type == 0)
            return;
        assert_true(type < 16);
        aux[type] = get_word(vs, at + (uint64_t)ws, ws, be);
        *seen |= 1 << type;
    }
    fail_msg("no AT_NULL in 16 pairs");
}

/* Program headers' vaddr: PT_PHDR's (type 6) in the test's own reader. */
static uint64_t phdr_vaddr(const struct ec_elf *e)
{
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == 6)
            return e->ph[i].vaddr;
    return 0;
}

/*
 * argv as a trace holds it (PATH and 256 arguments, a line of 64 KiB)
 * and as kernels take it (NetBSD's ARG_MAX, 256 KiB of strings): all of
 * it on the stack; more is E2BIG, and nothing is left behind.
 */
static void test_exec_takes_the_arguments_a_trace_holds(void **state)
{
    struct fixture *fx = *state;
    enum { MANY = 257, LONG = 60000, BIG = (128 << 10) - 8 };
    static const char *argv[1025];
    char *big = malloc(BIG), s[16];
    struct tm_world w;
    struct xvm_proc_info info;
    memset(big, 'a', BIG - 1);
    big[BIG - 1] = '\0';
    for (int i = 0; i < 1025; i++)
        argv[i] = i == 1 ? big + BIG - 1 - LONG : "x";
    up(&w, fx, "sgimips", 1);
    struct xvm_stats st0 = tm_stats(w.m);
    assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/prog", MANY, argv), 0);
    assert_int_equal(xvm_proc_info(w.m, 1, &info), 0);
    xvm_vmspace *vs = xvm_proc_vmspace(w.m, 1);
    assert_int_equal(get_word(vs, info.stack_pointer, 8, 0), MANY);
    for (int i = 1; i < MANY; i += MANY - 2) {
        uint64_t p = get_word(vs, info.stack_pointer + (i + 1) * 8u, 8, 0);
        size_t n = i == 1 ? LONG + 1 : 2;
        assert_int_equal(xvm_read(vs, p + n - 2, s, 2), 0);
        assert_memory_equal(s, argv[i] + n - 2, 2);
    }
    /* 1024 arguments, or 256 KiB of them, but no more */
    argv[1] = argv[2] = argv[3] = big;
    assert_int_equal(xvm_exec(w.m, 1, "/bin/prog", 3, argv), 0);
    assert_int_equal(xvm_exec(w.m, 1, "/bin/prog", 4, argv), E2BIG);
    argv[1] = argv[2] = argv[3] = "x";
    assert_int_equal(xvm_exec(w.m, 1, "/bin/prog", 1024, argv), 0);
    assert_int_equal(xvm_exec(w.m, 1, "/bin/prog", 1025, argv), E2BIG);
    assert_int_equal(xvm_exit(w.m, 1), 0);
    struct xvm_stats st = tm_stats(w.m);
    assert_int_equal(st.pages[XVM_USE_ANON], st0.pages[XVM_USE_ANON]);
    tm_check(w.m);
    tm_world_drop(&w);
    free(big);
}

/*
 * A dynamically linked program: its interpreter (ld.so, from the host) is
 * mapped at 0x20000000 as well, both read back as their files, execution
 * starts at ld.so's entry, and the stack's auxiliary vector tells ld.so
 * where the program is, in the program's word size and byte order.
 */
static void test_exec_dynamic_program_starts_in_its_interpreter(void **state)
{
    struct fixture *fx = *state;
    const struct dynprog *d = &fx->dyn;
    static const char *const profiles[] = { "amd64", "sgimips" };
    const uint64_t ibase = UINT64_C(0x20000000);
    uint64_t bias = bias_of(&d->elf), ibias = bias_of(&d->ldelf);
    ibias += ibase - DYN_BASE; /* bias_of places ET_DYN at DYN_BASE */
    assert_int_equal(d->elf.type, 3);
    assert_int_equal(d->ldelf.type, 3);
    for (int pr = 0; pr < 2; pr++)
        for (int xip = 0; xip < 2; xip++) {
            struct tm_world w;
            struct xvm_proc_info info;
            uint64_t aux[16] = { 0 };
            int seen, ws = d->elf.is64 ? 8 : 4;
            const char *argv[] = { "/dyn/prog", "one", "two" };
            up(&w, fx, profiles[pr], xip);
            struct xvm_stats st0 = tm_stats(w.m);
            assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/dyn/prog", 3, argv), 0);
            assert_int_equal(xvm_proc_info(w.m, 1, &info), 0);
            assert_int_equal(info.entry, d->ldelf.entry + ibias);
            assert_int_equal(info.program_entry, d->elf.entry + bias);
            assert_int_equal(info.interp_base, ibase);
            assert_int_equal(info.load_base, DYN_BASE);
            read_auxv(xvm_proc_vmspace(w.m, 1), &info, ws, d->elf.be, aux,
                      &seen);
            /* AT_PHDR 3 .. AT_ENTRY 9, all there */
            assert_int_equal(seen & 0x3f8, 0x3f8);
            assert_int_equal(aux[3], phdr_vaddr(&d->elf) + bias);
            assert_int_equal(aux[4], d->elf.is64 ? 56 : 32);
            assert_int_equal(aux[5], d->elf.phnum);
            assert_int_equal(aux[6], PG);
            assert_int_equal(aux[7], ibase);
            assert_int_equal(aux[8], 0);
            assert_int_equal(aux[9], d->elf.entry + bias);
            check_image(&w, "/dyn/prog", &d->elf, d->bytes, d->size, bias, 1);
            check_image(&w, d->interp, &d->ldelf, d->ld, d->ldsize, ibias, 1);
            /* the interpreter's first instruction is there */
            uint8_t insn[4];
            assert_int_equal(xvm_fetch(xvm_proc_vmspace(w.m, 1), info.entry,
                                       insn, sizeof(insn)),
                             0);
            assert_memory_equal(
                insn, d->ld + (d->ldelf.entry - trunc_pg(d->ldelf.ph[0].vaddr)),
                sizeof(insn));
            /* fork and exec into it from another program, then all exit */
            assert_int_equal(xvm_fork(w.m, 1, 2), 0);
            assert_int_equal(xvm_exec(w.m, 2, "/bin/prog", 0, NULL), 0);
            assert_int_equal(xvm_exec(w.m, 2, "/dyn/prog", 3, argv), 0);
            assert_int_equal(xvm_proc_info(w.m, 2, &info), 0);
            assert_int_equal(info.entry, d->ldelf.entry + ibias);
            tm_check(w.m);
            assert_int_equal(xvm_exit(w.m, 2), 0);
            assert_int_equal(xvm_exit(w.m, 1), 0);
            struct xvm_stats st = tm_stats(w.m);
            assert_int_equal(st.pages[XVM_USE_ANON], st0.pages[XVM_USE_ANON]);
            assert_int_equal(st.pv_entries, 0);
            /* no file stays open: the mount can go */
            assert_int_equal(xvm_unmount(w.mp), 0);
            assert_int_equal(xvm_flash_close(w.flash), 0);
            tm_world_drop(&w);
        }
}

/* A static program's auxiliary vector: no interpreter, AT_BASE 0. */
static void test_exec_static_program_has_an_auxiliary_vector(void **state)
{
    struct fixture *fx = *state;
    static const int progs[] = { P_STATIC, P_PIE, P_BE32 };
    for (size_t n = 0; n < sizeof(progs) / sizeof(progs[0]); n++) {
        int which = progs[n];
        const struct ec_elf *e = &fx->elf[which];
        struct tm_world w;
        struct xvm_proc_info info;
        uint64_t aux[16] = { 0 };
        int seen;
        up(&w, fx, "sgimips", 0);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, prog_path[which], 0, NULL), 0);
        assert_int_equal(xvm_proc_info(w.m, 1, &info), 0);
        assert_int_equal(info.interp_base, 0);
        assert_int_equal(info.entry, info.program_entry);
        read_auxv(xvm_proc_vmspace(w.m, 1), &info, e->is64 ? 8 : 4, e->be, aux,
                  &seen);
        assert_int_equal(seen & 0x3f8, 0x3f8);
        assert_int_equal(aux[7], 0);
        assert_int_equal(aux[9], e->entry + bias_of(e));
        assert_int_equal(aux[5], e->phnum);
        tm_world_drop(&w);
    }
}

/* /bin/prog spawned as pid 3 (copy mode); => its vmspace and break base. */
static xvm_vmspace *brk_up(struct tm_world *w, const struct fixture *fx,
                           uint64_t *base)
{
    struct xvm_proc_info info;
    up(w, fx, "amd64", 0);
    assert_int_equal(xvm_spawn(w->m, w->mp, 3, "/bin/prog", 0, NULL), 0);
    assert_int_equal(xvm_proc_info(w->m, 3, &info), 0);
    *base = info.brk_base;
    return xvm_proc_vmspace(w->m, 3);
}

/* The heap of three pages and 5 bytes, its first and last page written. */
static void brk_grow(struct tm_world *w, xvm_vmspace *vs, uint64_t base)
{
    assert_int_equal(xvm_brk(w->m, 3, base + 3 * PG + 5), 0);
    tm_wr8(vs, base + 3 * PG + 4, 0x42);
    tm_wr8(vs, base, 0x43);
}

static void test_exec_brk_starts_empty_right_after_bss(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    struct xvm_proc_info info;
    uint64_t base;
    xvm_vmspace *vs = brk_up(&w, fx, &base);
    uint64_t hi = 0;
    for (unsigned i = 0; i < fx->elf[P_STATIC].phnum; i++)
        if (fx->elf[P_STATIC].ph[i].type == EC_PT_LOAD)
            hi = fx->elf[P_STATIC].ph[i].vaddr + fx->elf[P_STATIC].ph[i].memsz;
    assert_int_equal(base, round_pg(hi)); /* right after bss */
    assert_int_equal(xvm_proc_info(w.m, 3, &info), 0);
    assert_int_equal(info.brk, base);
    uint8_t b;
    assert_int_equal(xvm_read(vs, base, &b, 1), EFAULT);
    tm_check(w.m);
    tm_world_drop(&w);
}

static void test_exec_brk_grows_by_zero_pages_up_to_the_break(void **state)
{
    struct tm_world w;
    struct xvm_proc_info info;
    uint64_t base;
    xvm_vmspace *vs = brk_up(&w, *state, &base);
    uint8_t b;
    assert_int_equal(xvm_brk(w.m, 3, base + 3 * PG + 5), 0);
    assert_int_equal(xvm_proc_info(w.m, 3, &info), 0);
    assert_int_equal(info.brk, base + 3 * PG + 5);
    assert_int_equal(tm_rd8(vs, base + 3 * PG + 4), 0);
    tm_wr8(vs, base + 3 * PG + 4, 0x42);
    tm_wr8(vs, base, 0x43);
    assert_int_equal(tm_rd8(vs, base + 3 * PG + 4), 0x42);
    assert_int_equal(xvm_read(vs, base + 4 * PG, &b, 1), EFAULT);
    tm_check(w.m);
    tm_world_drop(&w);
}

/* shrink: the pages above the new break go away with their memory */
static void test_exec_brk_shrink_frees_the_pages_above_the_break(void **state)
{
    struct tm_world w;
    uint64_t base;
    xvm_vmspace *vs = brk_up(&w, *state, &base);
    uint8_t b;
    brk_grow(&w, vs, base);
    uint64_t anon = tm_stats(w.m).pages[XVM_USE_ANON];
    assert_int_equal(xvm_brk(w.m, 3, base + PG), 0);
    assert_int_equal(tm_stats(w.m).pages[XVM_USE_ANON], anon - 1);
    assert_int_equal(xvm_read(vs, base + 3 * PG + 4, &b, 1), EFAULT);
    assert_int_equal(tm_rd8(vs, base), 0x43);
    /* grow again: fresh zero pages */
    assert_int_equal(xvm_brk(w.m, 3, base + 4 * PG), 0);
    assert_int_equal(tm_rd8(vs, base + 3 * PG + 4), 0);
    tm_check(w.m);
    tm_world_drop(&w);
}

static void test_exec_brk_below_base_or_of_unknown_pid_is_refused(void **state)
{
    struct tm_world w;
    uint64_t base;
    xvm_vmspace *vs = brk_up(&w, *state, &base);
    brk_grow(&w, vs, base);
    assert_int_equal(xvm_brk(w.m, 3, base - 1), EINVAL);
    assert_int_equal(xvm_brk(w.m, 4, base + PG), ESRCH);
    tm_check(w.m);
    tm_world_drop(&w);
}

static void test_exec_brk_back_to_its_base_unmaps_the_heap(void **state)
{
    struct tm_world w;
    uint64_t base;
    xvm_vmspace *vs = brk_up(&w, *state, &base);
    uint8_t b;
    brk_grow(&w, vs, base);
    assert_int_equal(xvm_brk(w.m, 3, base), 0);
    assert_int_equal(xvm_read(vs, base, &b, 1), EFAULT);
    tm_check(w.m);
    tm_world_drop(&w);
}

static const struct ec_phdr *data_seg(const struct fixture *fx, int which)
{
    for (unsigned i = 0; i < fx->elf[which].phnum; i++)
        if (fx->elf[which].ph[i].type == EC_PT_LOAD &&
            (fx->elf[which].ph[i].flags & EC_PF_W))
            return &fx->elf[which].ph[i];
    fail_msg("no data segment");
    return NULL;
}

static uint64_t data_va(const struct fixture *fx, int which)
{
    return data_seg(fx, which)->vaddr + bias_of(&fx->elf[which]);
}

/* /bin/prog as pid 1 and its fork, pid 2 (sgimips, XIP or copy). */
static void fork_up(struct tm_world *w, const struct fixture *fx, int xip)
{
    up(w, fx, "sgimips", xip);
    assert_int_equal(xvm_spawn(w->m, w->mp, 1, "/bin/prog", 0, NULL), 0);
    assert_int_equal(xvm_fork(w->m, 1, 2), 0);
}

static void test_exec_spawn_and_fork_refuse_taken_or_unknown_pids(void **state)
{
    struct fixture *fx = *state;
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        up(&w, fx, "sgimips", xip);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/prog", 0, NULL), 0);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/prog", 0, NULL), EEXIST);
        assert_int_equal(xvm_spawn(w.m, w.mp, 2, "/bin/nothere", 0, NULL),
                         ENOENT);
        assert_int_equal(xvm_fork(w.m, 1, 2), 0);
        assert_int_equal(xvm_fork(w.m, 1, 2), EEXIST);
        assert_int_equal(xvm_fork(w.m, 9, 3), ESRCH);
        assert_int_equal(xvm_exec(w.m, 5, "/bin/prog", 0, NULL), ESRCH);
        tm_check(w.m);
        tm_world_drop(&w);
    }
}

/* Runs check on /bin/prog as pid 1 and its fork, pid 2, in a copy mount
 * and then in an XIP mount; the checker passes after each. */
static void on_parent_and_child(const struct fixture *fx,
                                void (*check)(const struct fixture *fx,
                                              struct tm_world *w))
{
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        fork_up(&w, fx, xip);
        check(fx, &w);
        tm_check(w.m);
        tm_world_drop(&w);
    }
}

/* copy-on-write: the child's write is its own */
static void write_own_data(const struct fixture *fx, struct tm_world *w)
{
    uint64_t d = data_va(fx, P_STATIC);
    const uint8_t *dfile = fx->bytes[P_STATIC] + data_seg(fx, P_STATIC)->offset;
    uint8_t orig = dfile[0];
    xvm_vmspace *p = xvm_proc_vmspace(w->m, 1), *c = xvm_proc_vmspace(w->m, 2);
    assert_non_null(c);
    assert_ptr_not_equal(p, c);
    assert_int_equal(tm_rd8(c, d), orig);
    tm_wr8(c, d, (uint8_t)(orig ^ 0xff));
    assert_int_equal(tm_rd8(p, d), orig);
    assert_int_equal(tm_rd8(c, d), (uint8_t)(orig ^ 0xff));
    tm_wr8(p, d + 1, 0x11);
    assert_int_equal(tm_rd8(c, d + 1), dfile[1]);
}

static void test_exec_forked_child_and_parent_write_their_own_data(void **state)
{
    on_parent_and_child(*state, write_own_data);
}

/* exec replaces the child's image; the parent is untouched */
static void exec_in_child(const struct fixture *fx, struct tm_world *w)
{
    uint64_t d = data_va(fx, P_STATIC), dbb = data_va(fx, P_BUSYBOX);
    xvm_vmspace *p = xvm_proc_vmspace(w->m, 1), *c;
    tm_wr8(p, d + 1, 0x11);
    const char *argv[] = { "busybox", "true" };
    assert_int_equal(xvm_exec(w->m, 2, "/bin/busybox", 2, argv), 0);
    c = xvm_proc_vmspace(w->m, 2);
    struct xvm_proc_info info;
    assert_int_equal(xvm_proc_info(w->m, 2, &info), 0);
    assert_int_equal(info.entry, fx->elf[P_BUSYBOX].entry);
    uint8_t b;
    assert_int_equal(xvm_read(c, dbb, &b, 1), 0);
    assert_int_equal(tm_rd8(p, d + 1), 0x11);
}

static void test_exec_replaces_the_childs_image_only(void **state)
{
    on_parent_and_child(*state, exec_in_child);
}

static void exit_both(const struct fixture *fx, struct tm_world *w)
{
    uint64_t d = data_va(fx, P_STATIC);
    struct xvm_proc_info info;
    tm_wr8(xvm_proc_vmspace(w->m, 2), d, 1);
    tm_wr8(xvm_proc_vmspace(w->m, 1), d + 1, 0x11);
    assert_int_equal(xvm_exit(w->m, 2), 0);
    assert_int_equal(xvm_exit(w->m, 2), ESRCH);
    assert_null(xvm_proc_vmspace(w->m, 2));
    assert_int_equal(xvm_proc_info(w->m, 2, &info), ESRCH);
    assert_int_equal(xvm_exit(w->m, 1), 0);
    struct xvm_stats st = tm_stats(w->m);
    assert_int_equal(st.pages[XVM_USE_ANON], 0);
    assert_int_equal(st.pages[XVM_USE_PAGETABLE],
                     w->st0.pages[XVM_USE_PAGETABLE]);
}

static void test_exec_exit_frees_the_process_and_its_pid(void **state)
{
    on_parent_and_child(*state, exit_both);
}

/* A process's address space is its process's: xvm_vmspace_destroy of it
 * (a caller holding xvm_proc_vmspace's pointer) changes nothing, and the
 * process runs on and exits as before.  (It used to free the space under
 * the process, which freed it again at exit.) */
static void destroy_a_process_space(const struct fixture *fx,
                                    struct tm_world *w)
{
    uint64_t d = data_va(fx, P_STATIC);
    xvm_vmspace *c = xvm_proc_vmspace(w->m, 2);
    struct xvm_vmspace_stats before, after;
    tm_wr8(c, d, 0x5a);
    assert_int_equal(xvm_vmspace_stats(c, &before), 0);
    xvm_vmspace_destroy(c);
    tm_check(w->m);
    assert_ptr_equal(xvm_proc_vmspace(w->m, 2), c);
    assert_int_equal(xvm_vmspace_stats(c, &after), 0);
    assert_int_equal(after.map_entries, before.map_entries);
    assert_int_equal(after.resident, before.resident);
    assert_int_equal(tm_rd8(c, d), 0x5a);
    assert_int_equal(xvm_exit(w->m, 2), 0);
    tm_check(w->m);
    struct xvm_stats st = tm_stats(w->m);
    assert_int_equal(st.kmem_units[XVM_KMEM_VMSPACE], 1); /* the parent's */
}

static void test_exec_destroying_a_process_space_is_refused(void **state)
{
    on_parent_and_child(*state, destroy_a_process_space);
}

struct bad {
    const char *path;
    int error;
};
static const struct bad bads[] = {
    { "/bad/truncated", ENOEXEC }, { "/bad/magic", ENOEXEC },
    { "/bad/phoff", ENOEXEC },     { "/bad/nointerp", ENOENT },
    { "/bad/empty", ENOEXEC },     { "/bad/dir", EACCES },
    { "/bad/missing", ENOENT },    { "/bin", EACCES },
    { "/bad/badinterp", ENOEXEC }, { "/bad/nonul", ENOEXEC },
    { "/bad/wrap", ENOEXEC },
};
#define NBAD (sizeof(bads) / sizeof(bads[0]))

/* The dynamic program really is one (it has PT_INTERP). */
static int has_interp(const char *path)
{
    uint64_t n;
    struct ec_elf e;
    uint8_t *b = file_slurp(path, &n);
    int r = ec_read(b, n, &e) == 0 && e.phnum > 0;
    int found = 0;
    for (unsigned i = 0; r && i < e.phnum; i++)
        found |= e.ph[i].type == EC_PT_INTERP;
    free(b);
    return found;
}

/* Frames of the kinds a process owns; file pages may stay cached. */
static void assert_frames_back(struct tm_world *w)
{
    struct xvm_stats st = tm_stats(w->m);
    assert_int_equal(st.pages[XVM_USE_ANON], w->st0.pages[XVM_USE_ANON]);
    assert_int_equal(st.pages[XVM_USE_AOBJ], w->st0.pages[XVM_USE_AOBJ]);
    assert_int_equal(st.pages[XVM_USE_PAGETABLE],
                     w->st0.pages[XVM_USE_PAGETABLE]);
    assert_int_equal(st.pv_entries, 0);
    tm_check(w->m);
}

static void test_exec_malformed_programs_are_refused_without_leaks(void **state)
{
    struct fixture *fx = *state;
    assert_true(has_interp(host(fx, "/bad/nointerp")));
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        up(&w, fx, "amd64", xip);
        for (size_t i = 0; i < NBAD; i++) {
            int rc = xvm_spawn(w.m, w.mp, 1, bads[i].path, 0, NULL);
            if (rc != bads[i].error)
                fail_msg("spawn %s: %d, expected %d", bads[i].path, rc,
                         bads[i].error);
            assert_null(xvm_proc_vmspace(w.m, 1));
            assert_frames_back(&w);
        }
        /* the same again: nothing accumulates, not even cached pages */
        struct xvm_stats before = tm_stats(w.m);
        for (size_t i = 0; i < NBAD; i++)
            assert_int_equal(xvm_spawn(w.m, w.mp, 1, bads[i].path, 0, NULL),
                             bads[i].error);
        struct xvm_stats after = tm_stats(w.m);
        assert_memory_equal(before.pages, after.pages, sizeof(before.pages));
        /* with nothing running the mount can go: no file was left open */
        assert_int_equal(xvm_unmount(w.mp), 0);
        assert_int_equal(xvm_flash_close(w.flash), 0);
        tm_world_drop(&w);
    }
}

/* xvm_file_report's processes for path. */
struct procs_of {
    const char *path;
    uint64_t n;
};
static int count_procs(void *arg, const struct xvm_file_report *fr)
{
    struct procs_of *p = arg;
    if (strcmp(fr->path, p->path) == 0)
        p->n = fr->processes;
    return 0;
}

/*
 * An interpreter with a PT_INTERP of its own (/bad/dyninterp's is the
 * dynamic program itself): runs, that PT_INTERP not followed, as in
 * NetBSD's and Linux's exec; ld.so, which it names, is not mapped.
 */
static void test_exec_interpreters_own_interpreter_is_not_loaded(void **state)
{
    struct fixture *fx = *state;
    const struct dynprog *d = &fx->dyn;
    char inner[256];
    size_t n = strlen(d->interp);
    memset(inner, 'd', n), memcpy(inner, "/bad/", 5), inner[n] = '\0';
    uint64_t ibias = bias_of(&d->elf) + (UINT64_C(0x20000000) - DYN_BASE);
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        struct xvm_proc_info info;
        struct procs_of ld = { d->interp, 0 }, in = { inner, 0 };
        up(&w, fx, "amd64", xip);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bad/dyninterp", 0, NULL), 0);
        assert_int_equal(xvm_proc_info(w.m, 1, &info), 0);
        assert_int_equal(info.entry, d->elf.entry + ibias);
        check_image(&w, inner, &d->elf, d->bytes, d->size, ibias, 1);
        assert_int_equal(xvm_file_report(w.mp, count_procs, &ld), 0);
        assert_int_equal(xvm_file_report(w.mp, count_procs, &in), 0);
        assert_int_equal(ld.n, 0);
        assert_int_equal(in.n, 1);
        tm_check(w.m);
        assert_int_equal(xvm_exit(w.m, 1), 0);
        assert_frames_back(&w);
        tm_world_drop(&w);
    }
}

static void test_exec_failed_exec_leaves_the_old_image_running(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    struct xvm_proc_info before, after;
    up(&w, fx, "sgimips", 1);
    const char *argv[] = { "prog", "x" };
    assert_int_equal(xvm_spawn(w.m, w.mp, 4, "/bin/prog", 2, argv), 0);
    xvm_vmspace *vs = xvm_proc_vmspace(w.m, 4);
    uint64_t d = data_va(fx, P_STATIC);
    tm_wr8(vs, d, 0x77);
    assert_int_equal(xvm_proc_info(w.m, 4, &before), 0);
    struct xvm_stats st0 = tm_stats(w.m);
    for (size_t i = 0; i < NBAD; i++) {
        assert_int_equal(xvm_exec(w.m, 4, bads[i].path, 0, NULL),
                         bads[i].error);
        assert_ptr_equal(xvm_proc_vmspace(w.m, 4), vs);
        assert_int_equal(tm_rd8(vs, d), 0x77);
        assert_int_equal(xvm_proc_info(w.m, 4, &after), 0);
        assert_memory_equal(&before, &after, sizeof(before));
        struct xvm_stats st = tm_stats(w.m);
        assert_int_equal(st.pages[XVM_USE_ANON], st0.pages[XVM_USE_ANON]);
        assert_int_equal(st.pages[XVM_USE_PAGETABLE],
                         st0.pages[XVM_USE_PAGETABLE]);
    }
    tm_check(w.m);
    /* and a good exec still works afterwards */
    assert_int_equal(xvm_exec(w.m, 4, "/bin/prog32be", 2, argv), 0);
    assert_int_equal(xvm_exit(w.m, 4), 0);
    assert_frames_back(&w);
    tm_world_drop(&w);
}

/* xvm_file_report's callback: the report of the file named arg. */
static int report_of(void *arg, const struct xvm_file_report *fr)
{
    struct xvm_file_report *out = arg;
    if (strcmp(fr->path, out->path) == 0) {
        const char *path = out->path; /* fr's is valid in the call only */
        *out = *fr;
        out->path = path;
    }
    return 0;
}

/*
 * An exec refused for its arguments maps nothing first: no fault, no
 * copy of the data page, no process in the program's file report.
 */
static void test_exec_refused_exec_leaves_no_trace_in_the_figures(void **state)
{
    struct fixture *fx = *state;
    enum { BIG = 200 << 10 };
    char *big = malloc(BIG);
    const char *argv[] = { "/bin/prog", big, big };
    memset(big, 'a', BIG - 1);
    big[BIG - 1] = '\0';
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        struct xvm_file_report fr = { .path = "/bin/prog" };
        up(&w, fx, "amd64", xip);
        struct xvm_stats st0 = tm_stats(w.m);
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/prog", 3, argv), E2BIG);
        struct xvm_stats st = tm_stats(w.m);
        assert_int_equal(st.faults, st0.faults);
        assert_int_equal(st.cow_promotions, st0.cow_promotions);
        assert_int_equal(xvm_file_report(w.mp, report_of, &fr), 0);
        assert_int_equal(fr.processes, 0);
        assert_int_equal(fr.pages_copied, 0);
        /* the same exec with the arguments it can take runs */
        assert_int_equal(xvm_spawn(w.m, w.mp, 1, "/bin/prog", 2, argv), 0);
        assert_int_equal(xvm_file_report(w.mp, report_of, &fr), 0);
        assert_int_equal(fr.processes, 1);
        assert_int_equal(fr.pages_copied, 1); /* its bss page */
        assert_int_equal(xvm_exit(w.m, 1), 0);
        tm_check(w.m);
        tm_world_drop(&w);
    }
    free(big);
}

/*
 * An exec that runs out of RAM after mapping its program (its stack,
 * its tables) made no process: the file's processes stay 0, however
 * many times the page daemon restarted it.  RAM grows a page at a time
 * until the spawn runs; then it counts once.
 */
static void test_exec_spawn_out_of_memory_counts_no_process(void **state)
{
    struct fixture *fx = *state;
    int failed = 0;
    for (uint64_t ram = 16 << 10; ram <= (1u << 20); ram += PG) {
        struct tm_world w;
        struct xvm_file_report fr = { .path = "/bin/prog" };
        tm_world_open(&w, "sgimips", ram, 0, fx->img);
        tm_world_mount(&w, 1, 0, 0);
        int error = xvm_spawn(w.m, w.mp, 1, "/bin/prog", 0, NULL);
        assert_int_equal(xvm_file_report(w.mp, report_of, &fr), 0);
        if (error == 0) {
            assert_int_equal(fr.processes, 1);
            tm_world_drop(&w);
            break;
        }
        assert_int_equal(error, ENOMEM);
        assert_int_equal(fr.processes, 0);
        failed++;
        tm_world_drop(&w);
    }
    assert_true(failed > 0);
}

/* A NULL argument string is bad input: EINVAL, not a crash. */
static void test_exec_null_argument_string_is_einval(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    up(&w, fx, "sgimips", 1);
    struct xvm_stats st0 = tm_stats(w.m);
    const char *argv[] = { "prog", NULL, "x" };
    assert_int_equal(xvm_spawn(w.m, w.mp, 5, "/bin/prog", 3, argv), EINVAL);
    assert_null(xvm_proc_vmspace(w.m, 5));
    assert_int_equal(xvm_spawn(w.m, w.mp, 5, "/bin/prog", 1, argv), 0);
    assert_int_equal(xvm_exec(w.m, 5, "/bin/prog", 3, argv), EINVAL);
    assert_int_equal(xvm_exit(w.m, 5), 0);
    struct xvm_stats st = tm_stats(w.m);
    assert_int_equal(st.pages[XVM_USE_ANON], st0.pages[XVM_USE_ANON]);
    assert_int_equal(st.pages[XVM_USE_PAGETABLE], st0.pages[XVM_USE_PAGETABLE]);
    tm_check(w.m);
    tm_world_drop(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_null_argument_string_is_einval),
        cmocka_unit_test(test_exec_refused_exec_leaves_no_trace_in_the_figures),
        cmocka_unit_test(test_exec_converted_images_have_their_class_and_order),
        cmocka_unit_test(test_exec_segments_read_back_the_file_bytes),
        cmocka_unit_test(test_exec_last_data_page_reads_zero_past_short_bss),
        cmocka_unit_test(test_exec_stack_holds_argc_and_argv),
        cmocka_unit_test(test_exec_takes_the_arguments_a_trace_holds),
        cmocka_unit_test(test_exec_dynamic_program_starts_in_its_interpreter),
        cmocka_unit_test(test_exec_interpreters_own_interpreter_is_not_loaded),
        cmocka_unit_test(test_exec_static_program_has_an_auxiliary_vector),
        cmocka_unit_test(test_exec_brk_starts_empty_right_after_bss),
        cmocka_unit_test(test_exec_brk_grows_by_zero_pages_up_to_the_break),
        cmocka_unit_test(test_exec_brk_shrink_frees_the_pages_above_the_break),
        cmocka_unit_test(test_exec_brk_below_base_or_of_unknown_pid_is_refused),
        cmocka_unit_test(test_exec_brk_back_to_its_base_unmaps_the_heap),
        cmocka_unit_test(test_exec_spawn_and_fork_refuse_taken_or_unknown_pids),
        cmocka_unit_test(
            test_exec_forked_child_and_parent_write_their_own_data),
        cmocka_unit_test(test_exec_replaces_the_childs_image_only),
        cmocka_unit_test(test_exec_exit_frees_the_process_and_its_pid),
        cmocka_unit_test(test_exec_destroying_a_process_space_is_refused),
        cmocka_unit_test(
            test_exec_malformed_programs_are_refused_without_leaks),
        cmocka_unit_test(test_exec_failed_exec_leaves_the_old_image_running),
        cmocka_unit_test(test_exec_spawn_out_of_memory_counts_no_process),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
