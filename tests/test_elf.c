/* test_elf.c - elf_parse against readelf on real binaries, synthetic and fuzzed input. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf.h"
#include "elfconv.h"

#define MAX_PH 64

/* ---------- small utilities ---------- */

struct blob {
    uint8_t *buf;
    size_t len;
};

static int read_whole(const char *path, struct blob *b)
{
    FILE *f = fopen(path, "rb");
    long n;

    b->buf = NULL;
    b->len = 0;
    if (f == NULL)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    b->buf = malloc((size_t)n);
    if (b->buf == NULL || fread(b->buf, 1, (size_t)n, f) != (size_t)n) {
        free(b->buf);
        b->buf = NULL;
        fclose(f);
        return -1;
    }
    b->len = (size_t)n;
    fclose(f);
    return 0;
}

static int write_whole(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL)
        return -1;
    ok = fwrite(buf, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
    return write_whole(path, (const uint8_t *)text, strlen(text));
}

/* ---------- independent reference: readelf -lhW ---------- */

struct ref {
    int ok, is64, big_endian, is_dyn, has_interp;
    uint64_t entry, phdr_vaddr;
    unsigned phnum, phentsize, nload;
    struct elf_load load[MAX_PH];
};

static int ref_flags(char **tok, int n)
{
    int prot = 0;
    for (int i = 0; i < n; i++) {
        for (const char *c = tok[i]; *c; c++) {
            if (*c == 'R')
                prot |= ELF_PROT_READ;
            else if (*c == 'W')
                prot |= ELF_PROT_WRITE;
            else if (*c == 'E')
                prot |= ELF_PROT_EXEC;
        }
    }
    return prot;
}

/* "  LOAD 0x.. 0x.. 0x.. 0x.. 0x.. R E 0x1000": flags are between memsz and align */
static void ref_phdr_line(char *line, struct ref *r)
{
    char *tok[16];
    int n = 0;

    for (char *t = strtok(line, " \t\n"); t && n < 16;
         t = strtok(NULL, " \t\n"))
        tok[n++] = t;
    if (n < 8)
        return;
    if (strcmp(tok[0], "PHDR") == 0)
        r->phdr_vaddr = strtoull(tok[2], NULL, 0);
    if (strcmp(tok[0], "INTERP") == 0)
        r->has_interp = 1;
    if (strcmp(tok[0], "LOAD") != 0 || r->nload >= MAX_PH)
        return;
    struct elf_load *s = &r->load[r->nload++];
    s->offset = strtoull(tok[1], NULL, 0);
    s->vaddr = strtoull(tok[2], NULL, 0);
    s->filesz = strtoull(tok[4], NULL, 0);
    s->memsz = strtoull(tok[5], NULL, 0);
    s->prot = ref_flags(tok + 6, n - 7);
    s->align = strtoull(tok[n - 1], NULL, 0);
}

static const char *after_colon(const char *line)
{
    const char *c = strchr(line, ':');
    return c ? c + 1 : "";
}

static void ref_header_line(const char *line, struct ref *r)
{
    const char *v = after_colon(line);

    if (strstr(line, "Class:"))
        r->is64 = strstr(v, "ELF64") != NULL;
    else if (strstr(line, "Data:"))
        r->big_endian = strstr(v, "big endian") != NULL;
    else if (strstr(line, "Type:"))
        r->is_dyn = strstr(v, "DYN") != NULL;
    else if (strstr(line, "Entry point address:"))
        r->entry = strtoull(v, NULL, 0);
    else if (strstr(line, "Number of program headers:"))
        r->phnum = (unsigned)strtoul(v, NULL, 0);
    else if (strstr(line, "Size of program headers:"))
        r->phentsize = (unsigned)strtoul(v, NULL, 0);
}

static int ref_load(const char *path, struct ref *r)
{
    char cmd[4200];
    char line[1024];
    FILE *p;
    int in_ph = 0;

    memset(r, 0, sizeof(*r));
    snprintf(cmd, sizeof(cmd), "readelf -lhW '%s' 2>/dev/null", path);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    while (fgets(line, sizeof(line), p)) {
        if (strstr(line, "Program Headers:"))
            in_ph = 1;
        else if (strstr(line, "Section to Segment"))
            in_ph = 0;
        else if (in_ph)
            ref_phdr_line(line, r);
        else
            ref_header_line(line, r);
    }
    r->ok = pclose(p) == 0 && r->phnum > 0;
    return r->ok ? 0 : -1;
}

static void assert_images_equal(const struct elf_image *a,
                                const struct elf_image *b)
{
    assert_int_equal(a->is64, b->is64);
    assert_int_equal(a->big_endian, b->big_endian);
    assert_int_equal(a->is_dyn, b->is_dyn);
    assert_int_equal(a->machine, b->machine);
    assert_int_equal(a->entry, b->entry);
    assert_int_equal(a->phdr_vaddr, b->phdr_vaddr);
    assert_int_equal(a->phnum, b->phnum);
    assert_int_equal(a->phentsize, b->phentsize);
    assert_int_equal(a->has_interp, b->has_interp);
    assert_int_equal(a->nload, b->nload);
    for (unsigned i = 0; i < a->nload; i++) {
        assert_int_equal(a->load[i].vaddr, b->load[i].vaddr);
        assert_int_equal(a->load[i].memsz, b->load[i].memsz);
        assert_int_equal(a->load[i].offset, b->load[i].offset);
        assert_int_equal(a->load[i].filesz, b->load[i].filesz);
        assert_int_equal(a->load[i].align, b->load[i].align);
        assert_int_equal(a->load[i].prot, b->load[i].prot);
    }
    assert_int_equal(a->lo, b->lo);
    assert_int_equal(a->hi, b->hi);
}

/* img against readelf's view; readelf -lh gives no e_machine number. */
static void assert_matches_ref(const struct elf_image *img, const struct ref *r)
{
    struct elf_image want = *img;

    assert_int_equal(img->nload, r->nload);
    want.is64 = r->is64, want.big_endian = r->big_endian,
    want.is_dyn = r->is_dyn;
    want.has_interp = r->has_interp, want.entry = r->entry;
    want.phdr_vaddr = r->phdr_vaddr;
    assert_int_equal(img->phnum, r->phnum);
    assert_int_equal(img->phentsize, r->phentsize);
    memcpy(want.load, r->load, r->nload * sizeof(r->load[0]));
    want.lo = r->load[0].vaddr;
    want.hi = r->load[r->nload - 1].vaddr + r->load[r->nload - 1].memsz;
    assert_images_equal(img, &want);
}

/* ---------- test-side ELF model: builder of synthetic images ---------- */

struct tb {
    int is64, be;
    uint8_t ident_class, ident_data, ident_version;
    uint16_t type, machine, phentsize, phnum;
    uint32_t version;
    uint64_t entry, phoff;
    struct ec_phdr ph[MAX_PH];
};

static void tb_write_ehdr(const struct tb *t, uint8_t *b)
{
    int w = t->is64 ? 8 : 4, be = t->be;

    memset(b, 0, t->is64 ? 64 : 52);
    b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F';
    b[4] = t->ident_class, b[5] = t->ident_data, b[6] = t->ident_version;
    ec_put(b + 16, t->type, 2, be);
    ec_put(b + 18, t->machine, 2, be);
    ec_put(b + 20, t->version, 4, be);
    ec_put(b + 24, t->entry, w, be);
    ec_put(b + 24 + w, t->phoff, w, be);
    ec_put(b + (t->is64 ? 52 : 40), t->is64 ? 64 : 52, 2, be); /* e_ehsize */
    ec_put(b + (t->is64 ? 54 : 42), t->phentsize, 2, be);
    ec_put(b + (t->is64 ? 56 : 44), t->phnum, 2, be);
}

/* => writes ehdr and as many phdrs as fit in len (phentsize step, as declared) */
static void tb_write(const struct tb *t, uint8_t *buf, size_t len)
{
    size_t ent = t->is64 ? 56 : 32;

    tb_write_ehdr(t, buf);
    for (unsigned i = 0; i < t->phnum && i < MAX_PH; i++) {
        uint64_t at = t->phoff + (uint64_t)i * t->phentsize;
        if (t->phentsize < ent || at > len || len - at < ent)
            break;
        ec_write_phdr(buf + at, &t->ph[i], t->is64, t->be);
    }
}

/* ---------- fixture: real binaries built at test time ---------- */

enum { BIN_STATIC, BIN_PIE, BIN_M32, BIN_BUSYBOX, NBIN };

struct fixture {
    char dir[64];
    char path[NBIN][512];
    struct blob bin[NBIN];
};

static const char prog_c[] = "#include <stdio.h>\n"
                             "static char big[1 << 16];\n"
                             "int counter = 42;\n"
                             "int main(int argc, char **argv)\n"
                             "{\n"
                             "    big[argc] = (char)counter;\n"
                             "    printf(\"%s %d\\n\", argv[0], big[1]);\n"
                             "    return 0;\n"
                             "}\n";

/* used when there is no 32-bit libc: still a real linker-made ELF32 */
static const char start_c[] = "int data = 1;\n"
                              "static char bss[4096];\n"
                              "void _start(void)\n"
                              "{\n"
                              "    bss[0] = (char)data;\n"
                              "    for (;;)\n"
                              "        ;\n"
                              "}\n";

static int build(struct fixture *fx, int which, const char *flags,
                 const char *src)
{
    char cmd[1200], out[sizeof(fx->path[0])];

    /* via a local: gcc -Wrestrict sees fx->dir and fx->path as one object */
    snprintf(out, sizeof(out), "%s/bin%d", fx->dir, which);
    memcpy(fx->path[which], out, sizeof(out));
    snprintf(cmd, sizeof(cmd), "cc %s -o %s %s/%s >/dev/null 2>&1", flags, out,
             fx->dir, src);
    if (system(cmd) != 0 || read_whole(fx->path[which], &fx->bin[which]) != 0) {
        fx->path[which][0] = '\0';
        return -1;
    }
    return 0;
}

static int is_static_file(const char *path)
{
    struct ref r;
    return ref_load(path, &r) == 0 && !r.has_interp;
}

/* /bin/busybox, or whichever busybox the busybox-static package installed */
static void find_busybox(struct fixture *fx)
{
    char line[512];
    FILE *p;
    const char *cand = NULL;

    if (is_static_file("/bin/busybox"))
        cand = "/bin/busybox";
    p = cand ? NULL : popen("dpkg -L busybox-static 2>/dev/null", "r");
    while (p && fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        size_t n = strlen(line);
        if (n >= 8 && strcmp(line + n - 8, "/busybox") == 0 &&
            is_static_file(line) && !fx->path[BIN_BUSYBOX][0])
            snprintf(fx->path[BIN_BUSYBOX], sizeof(fx->path[0]), "%s", line);
    }
    if (p)
        pclose(p);
    if (cand)
        snprintf(fx->path[BIN_BUSYBOX], sizeof(fx->path[0]), "%s", cand);
    if (fx->path[BIN_BUSYBOX][0] &&
        read_whole(fx->path[BIN_BUSYBOX], &fx->bin[BIN_BUSYBOX]) != 0)
        fx->path[BIN_BUSYBOX][0] = '\0';
}

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char file[128];

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_elf.XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(file, sizeof(file), "%s/prog.c", fx->dir);
    write_text(file, prog_c);
    snprintf(file, sizeof(file), "%s/start.c", fx->dir);
    write_text(file, start_c);
    build(fx, BIN_STATIC, "-static -O1", "prog.c");
    build(fx, BIN_PIE, "-static-pie -fPIE -O1", "prog.c");
    if (build(fx, BIN_M32, "-m32 -static -O1", "prog.c") != 0)
        build(fx, BIN_M32, "-m32 -static -nostdlib -ffreestanding -O1",
              "start.c");
    find_busybox(fx);
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    for (int i = 0; i < NBIN; i++)
        free(fx->bin[i].buf);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (strncmp(fx->dir, "/tmp/test_elf.", 14) == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx->dir);
    free(fx);
    return 0;
}

/* ---------- tests on real binaries ---------- */

/* => the parse of binary which, after checking it against readelf. */
static struct elf_image check_real(void **state, int which)
{
    struct fixture *fx = *state;
    struct elf_image img;
    struct ref r;

    if (fx->bin[which].buf == NULL) {
        print_message("binary %d unavailable on this machine, skipped\n",
                      which);
        skip();
    }
    assert_int_equal(ref_load(fx->path[which], &r), 0);
    assert_int_equal(elf_parse(fx->bin[which].buf, fx->bin[which].len, &img),
                     0);
    assert_matches_ref(&img, &r);
    return img;
}

static void test_elf_static_executable_matches_readelf(void **state)
{
    struct elf_image img = check_real(state, BIN_STATIC);
    assert_int_equal(img.is_dyn, 0);
    assert_int_equal(img.has_interp, 0);
}

static void test_elf_static_pie_matches_readelf_and_is_dyn(void **state)
{
    struct elf_image img = check_real(state, BIN_PIE);
    assert_int_equal(img.is_dyn, 1);
}

static void test_elf_elf32_executable_matches_readelf(void **state)
{
    struct elf_image img = check_real(state, BIN_M32);
    assert_int_equal(img.is64, 0);
    assert_int_equal(img.phentsize, 32);
}

static void test_elf_static_busybox_matches_readelf(void **state)
{
    check_real(state, BIN_BUSYBOX);
}

/* parse of the converted file equals the original apart from class/order */
static void check_conversion(struct fixture *fx, const struct blob *src,
                             int to64, int to_be)
{
    struct elf_image a, b;
    struct blob dst = { 0 };
    struct ref r;
    char path[160];

    assert_int_equal(elf_parse(src->buf, src->len, &a), 0);
    assert_int_equal(ec_convert(src->buf, src->len, to64, to_be, &dst.buf), 0);
    dst.len = src->len;
    assert_int_equal(elf_parse(dst.buf, dst.len, &b), 0);
    assert_int_equal(b.is64, to64);
    assert_int_equal(b.big_endian, to_be);
    assert_int_equal(b.phentsize, to64 ? 56 : 32);
    a.is64 = b.is64, a.big_endian = b.big_endian, a.phentsize = b.phentsize;
    assert_images_equal(&a, &b);
    /* and readelf agrees with the converted file too */
    snprintf(path, sizeof(path), "%s/conv%d%d", fx->dir, to64, to_be);
    assert_int_equal(write_whole(path, dst.buf, dst.len), 0);
    assert_int_equal(ref_load(path, &r), 0);
    assert_matches_ref(&b, &r);
    free(dst.buf);
}

static void test_elf_converted_to_big_endian_parses_as_the_original(
    void **state)
{
    struct fixture *fx = *state;
    int done = 0;

    for (int i = 0; i < NBIN; i++) {
        struct elf_image img;
        if (fx->bin[i].buf == NULL ||
            elf_parse(fx->bin[i].buf, fx->bin[i].len, &img) != 0 || !img.is64)
            continue;
        check_conversion(fx, &fx->bin[i], 1, 1);
        done++;
    }
    if (!done)
        skip();
}

static void test_elf_converted_to_elf32_parses_as_the_original(void **state)
{
    struct fixture *fx = *state;
    int done = 0;

    /* real ELF32 when -m32 works */
    if (fx->bin[BIN_M32].buf) {
        check_conversion(fx, &fx->bin[BIN_M32], 0, 1);
        done++;
    }
    /* otherwise (and also) narrow real ELF64 files whose values fit */
    for (int i = 0; i < NBIN; i++) {
        if (i == BIN_M32 || fx->bin[i].buf == NULL)
            continue;
        check_conversion(fx, &fx->bin[i], 0, 0);
        check_conversion(fx, &fx->bin[i], 0, 1);
        done++;
    }
    if (!done)
        skip();
}

/* ---------- synthetic images: one rejection at a time ---------- */

#define SYN_LEN 0x3000

/* A minimal valid image: PHDR, INTERP-free, text r-x and data rw- with bss. */
static void syn_base(struct tb *t, int is64, int be)
{
    memset(t, 0, sizeof(*t));
    t->is64 = is64, t->be = be;
    t->ident_class = is64 ? 2 : 1, t->ident_data = be ? 2 : 1,
    t->ident_version = 1;
    t->type = 2, t->machine = 62, t->version = 1;
    t->phentsize = is64 ? 56 : 32;
    t->phoff = is64 ? 64 : 52;
    t->phnum = 3;
    t->entry = 0x401100;
    t->ph[0] = (struct ec_phdr){ .type = 6,
                                 .flags = 4,
                                 .offset = t->phoff,
                                 .vaddr = 0x400000 + t->phoff,
                                 .filesz = 3u * t->phentsize,
                                 .memsz = 3u * t->phentsize,
                                 .align = 8 };
    t->ph[1] = (struct ec_phdr){ .type = 1,
                                 .flags = 5,
                                 .offset = 0,
                                 .vaddr = 0x400000,
                                 .filesz = 0x2000,
                                 .memsz = 0x2000,
                                 .align = 0x1000 };
    t->ph[2] = (struct ec_phdr){ .type = 1,
                                 .flags = 6,
                                 .offset = 0x2000,
                                 .vaddr = 0x403000,
                                 .filesz = 0x800,
                                 .memsz = 0x5000,
                                 .align = 0x1000 };
}

static int syn_parse(const struct tb *t, size_t len, struct elf_image *img)
{
    uint8_t *buf = calloc(1, len < 64 ? 64 : len);
    int rc;

    assert_non_null(buf);
    tb_write(t, buf, len < 64 ? 64 : len);
    rc = elf_parse(buf, len, img);
    free(buf);
    return rc;
}

static void expect_reject(const struct tb *t)
{
    struct elf_image img;
    assert_int_equal(syn_parse(t, SYN_LEN, &img), ENOEXEC);
}

static void expect_accept(const struct tb *t)
{
    struct elf_image img;
    assert_int_equal(syn_parse(t, SYN_LEN, &img), 0);
}

static void syn_valid(int is64, int be)
{
    struct elf_image img;
    struct tb t;

    syn_base(&t, is64, be);
    assert_int_equal(syn_parse(&t, SYN_LEN, &img), 0);
    assert_int_equal(img.is64, is64);
    assert_int_equal(img.big_endian, be);
    assert_int_equal(img.machine, 62);
    assert_int_equal(img.phdr_vaddr, 0x400000 + t.phoff);
    assert_int_equal(img.nload, 2);
    assert_int_equal(img.load[0].prot, ELF_PROT_READ | ELF_PROT_EXEC);
    assert_int_equal(img.load[1].prot, ELF_PROT_READ | ELF_PROT_WRITE);
    assert_int_equal(img.lo, 0x400000);
    assert_int_equal(img.hi, 0x408000);
}

static void syn_header_rejects(int is64, int be)
{
    struct tb t;
    struct elf_image img;

    syn_base(&t, is64, be), t.ident_class = 3, expect_reject(&t);
    syn_base(&t, is64, be), t.ident_class = 0, expect_reject(&t);
    syn_base(&t, is64, be), t.ident_data = 0, expect_reject(&t);
    syn_base(&t, is64, be), t.ident_data = 3, expect_reject(&t);
    syn_base(&t, is64, be), t.ident_version = 2, expect_reject(&t);
    syn_base(&t, is64, be), t.version = 2, expect_reject(&t);
    syn_base(&t, is64, be), t.type = 1, expect_reject(&t); /* ET_REL */
    syn_base(&t, is64, be), t.type = 4, expect_reject(&t); /* ET_CORE */
    syn_base(&t, is64, be), t.type = 3, expect_accept(&t); /* ET_DYN */
    syn_base(&t, is64, be), t.phentsize = is64 ? 32 : 56, expect_reject(&t);
    syn_base(&t, is64, be), t.phentsize++, expect_reject(&t);
    /* a lone entry would read fine with either stride: only the size check stops it */
    syn_base(&t, is64, be), t.ph[0] = t.ph[1], t.phnum = 1, expect_accept(&t);
    syn_base(&t, is64, be), t.ph[0] = t.ph[1], t.phnum = 1, t.phentsize += 8,
                            expect_reject(&t);
    syn_base(&t, is64, be), t.phnum = 0, expect_reject(&t);
    syn_base(&t, is64, be), t.phnum = 0xffff, expect_reject(&t);
    /* table one byte past the end, exactly at the end, past-the-end offset */
    syn_base(&t, is64, be), t.phoff = SYN_LEN - 3u * t.phentsize + 1,
                            expect_reject(&t);
    syn_base(&t, is64, be), t.phoff = SYN_LEN - 3u * t.phentsize,
                            expect_accept(&t);
    syn_base(&t, is64, be), t.phoff = SYN_LEN + 1, expect_reject(&t);
    syn_base(&t, is64, be), t.phoff = is64 ? UINT64_MAX - 8 : UINT32_MAX - 8,
                            expect_reject(&t);
    /* no PT_LOAD at all */
    syn_base(&t, is64, be), t.ph[1].type = 4, t.ph[2].type = 4,
                            expect_reject(&t);
    /* file shorter than the header */
    syn_base(&t, is64, be);
    assert_int_equal(syn_parse(&t, is64 ? 63 : 51, &img), ENOEXEC);
    {
        uint8_t bad[SYN_LEN] = { 0 };
        tb_write(&t, bad, sizeof(bad));
        bad[1] = 'e';
        assert_int_equal(elf_parse(bad, sizeof(bad), &img), ENOEXEC);
        assert_int_equal(elf_parse(NULL, 0, &img), ENOEXEC);
    }
}

static void syn_segment_rejects(int is64, int be)
{
    uint64_t top = is64 ? UINT64_MAX : UINT32_MAX;
    struct tb t;

    syn_base(&t, is64, be), t.ph[2].filesz = t.ph[2].memsz + 1,
                            expect_reject(&t);
    syn_base(&t, is64, be), t.ph[2].filesz = SYN_LEN - 0x2000 + 1,
                            expect_reject(&t);
    syn_base(&t, is64, be), t.ph[2].filesz = SYN_LEN - 0x2000,
                            expect_accept(&t);
    syn_base(&t, is64, be), t.ph[2].offset = top - 0xfff, t.ph[2].align = 1,
                            t.ph[2].filesz = 0x1000, expect_reject(&t);
    syn_base(&t, is64, be), t.ph[2].offset = SYN_LEN + 1, t.ph[2].filesz = 0,
                            t.ph[2].align = 0, expect_reject(&t);
    /* end wraps (ELF64) or reaches 2^32 (ELF32) */
    syn_base(&t, is64, be), t.ph[2].memsz = top - 0x403000 + 1,
                            expect_reject(&t);
    syn_base(&t, is64, be), t.ph[2].memsz = top - 0x403000, expect_accept(&t);
    /* misaligned; alignment ignored when 0, 1 or not a power of two */
    syn_base(&t, is64, be), t.ph[2].vaddr = 0x403010, expect_reject(&t);
    syn_base(&t, is64, be), t.ph[2].vaddr = 0x403010, t.ph[2].align = 0x10,
                            expect_accept(&t);
    syn_base(&t, is64, be), t.ph[2].vaddr = 0x403010, t.ph[2].align = 1,
                            expect_accept(&t);
    syn_base(&t, is64, be), t.ph[2].vaddr = 0x403010, t.ph[2].align = 0,
                            expect_accept(&t);
    syn_base(&t, is64, be), t.ph[2].vaddr = 0x403010, t.ph[2].align = 0x3000,
                            expect_accept(&t);
    /* unsorted and overlapping */
    syn_base(&t, is64, be);
    {
        struct ec_phdr x = t.ph[1];
        t.ph[1] = t.ph[2];
        t.ph[2] = x;
    }
    t.entry = 0x401100;
    expect_reject(&t);
    syn_base(&t, is64, be), t.ph[1].memsz = 0x3001, t.ph[1].align = 1,
                            expect_reject(&t);
    syn_base(&t, is64, be), t.ph[1].memsz = 0x3000, expect_accept(&t);
}

static void syn_entry_rejects(int is64, int be)
{
    struct tb t;

    syn_base(&t, is64, be), t.entry = 0x403100,
                            expect_reject(&t); /* in rw- data */
    syn_base(&t, is64, be), t.entry = 0x402000,
                            expect_reject(&t); /* one past text */
    syn_base(&t, is64, be), t.entry = 0x401fff,
                            expect_accept(&t); /* last text byte */
    syn_base(&t, is64, be), t.entry = 0x400000, expect_accept(&t);
    syn_base(&t, is64, be), t.entry = 0x3fffff, expect_reject(&t);
    syn_base(&t, is64, be), t.entry = 0, expect_reject(&t);
    syn_base(&t, is64, be), t.ph[1].flags = 4,
                            expect_reject(&t); /* text not exec */
}

/* exactly ELF_MAX_LOAD tiny segments pass; one more fails */
static void syn_count_limits(int is64, int be)
{
    struct elf_image img;
    struct tb t;

    for (unsigned n = ELF_MAX_LOAD; n <= ELF_MAX_LOAD + 1; n++) {
        syn_base(&t, is64, be);
        t.phnum = (uint16_t)n;
        t.entry = 0x400000;
        for (unsigned i = 0; i < n; i++)
            t.ph[i] = (struct ec_phdr){ .type = 1,
                                        .flags = 5,
                                        .offset = 0x1000 * i,
                                        .vaddr = 0x400000 + 0x1000 * i,
                                        .filesz = 0x100,
                                        .memsz = 0x1000,
                                        .align = 0x1000 };
        assert_int_equal(syn_parse(&t, 0x20000, &img),
                         n <= ELF_MAX_LOAD ? 0 : ENOEXEC);
    }
}

/* PT_INTERP is reported, not rejected */
static void syn_interp(int is64, int be)
{
    struct elf_image img;
    struct tb t;

    syn_base(&t, is64, be);
    t.ph[0].type = 3;
    assert_int_equal(syn_parse(&t, SYN_LEN, &img), 0);
    assert_int_equal(img.has_interp, 1);
    assert_int_equal(img.phdr_vaddr, 0);
    /* a second PT_INTERP is ignored, as Linux and NetBSD take the first */
    t.ph[3] = (struct ec_phdr){ .type = 3, .offset = 0x1000, .filesz = 8 };
    t.phnum = 4;
    assert_int_equal(syn_parse(&t, SYN_LEN, &img), 0);
    assert_int_equal(img.interp_off, t.ph[0].offset);
    assert_int_equal(img.interp_len, t.ph[0].filesz);
}

/* Runs one family of synthetic cases in all four class/order combinations. */
static void syn_all(void (*family)(int is64, int be))
{
    for (int is64 = 0; is64 <= 1; is64++)
        for (int be = 0; be <= 1; be++)
            family(is64, be);
}

static void test_elf_minimal_synthetic_image_is_accepted(void **state)
{
    (void)state;
    syn_all(syn_valid);
}

static void test_elf_bad_header_fields_are_enoexec(void **state)
{
    (void)state;
    syn_all(syn_header_rejects);
}

static void test_elf_bad_load_segments_are_enoexec(void **state)
{
    (void)state;
    syn_all(syn_segment_rejects);
}

static void test_elf_entry_outside_executable_text_is_enoexec(void **state)
{
    (void)state;
    syn_all(syn_entry_rejects);
}

static void test_elf_more_than_max_load_segments_is_enoexec(void **state)
{
    (void)state;
    syn_all(syn_count_limits);
}

static void test_elf_interp_is_reported_not_refused(void **state)
{
    (void)state;
    syn_all(syn_interp);
}

/* ---------- malformed input: truncation and mutation ---------- */

/* invariants any accepted image must satisfy */
static void check_invariants(const struct elf_image *img, size_t len)
{
    int exec_hit = 0;

    assert_true(img->nload >= 1 && img->nload <= ELF_MAX_LOAD);
    for (unsigned i = 0; i < img->nload; i++) {
        const struct elf_load *s = &img->load[i];
        assert_true(s->filesz <= s->memsz);
        assert_true(s->offset <= len && s->filesz <= len - s->offset);
        assert_true(s->vaddr + s->memsz >= s->vaddr);
        if (i > 0)
            assert_true(s->vaddr >=
                        img->load[i - 1].vaddr + img->load[i - 1].memsz);
        if ((s->prot & ELF_PROT_EXEC) && img->entry >= s->vaddr &&
            img->entry < s->vaddr + s->memsz)
            exec_hit = 1;
    }
    assert_true(exec_hit);
    assert_int_equal(img->lo, img->load[0].vaddr);
}

static void parse_prefix(const struct blob *b, size_t n, int must_fail)
{
    struct elf_image img;
    uint8_t *copy = malloc(n ? n : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, b->buf, n);
    /* exact-size heap copy so ASan sees any read past n */
    rc = elf_parse(copy, n, &img);
    assert_true(rc == 0 || rc == ENOEXEC);
    if (must_fail)
        assert_int_equal(rc, ENOEXEC);
    if (rc == 0)
        check_invariants(&img, n);
    free(copy);
}

static void truncate_one(const struct blob *b)
{
    struct elf_image img;
    size_t need = 0;

    assert_int_equal(elf_parse(b->buf, b->len, &img), 0);
    for (unsigned i = 0; i < img.nload; i++)
        if (img.load[i].offset + img.load[i].filesz > need)
            need = img.load[i].offset + img.load[i].filesz;
    for (size_t n = 0; n <= 256 && n <= b->len; n++)
        parse_prefix(b, n, n < need);
    size_t later[] = { 511,      512,      4095, 4096,       4097,
                       need / 2, need - 1, need, b->len - 1, b->len };
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++)
        if (later[i] <= b->len)
            parse_prefix(b, later[i], later[i] < need);
}

static void test_elf_truncated_files_are_enoexec_or_consistent(void **state)
{
    struct fixture *fx = *state;
    struct tb t;
    int done = 0;

    for (int i = 0; i < NBIN; i++) {
        if (fx->bin[i].buf) {
            truncate_one(&fx->bin[i]);
            done++;
        }
    }
    /* synthetic ones always run, in all four class/order combinations */
    for (int is64 = 0; is64 <= 1; is64++) {
        for (int be = 0; be <= 1; be++) {
            struct blob b = { calloc(1, SYN_LEN), SYN_LEN };
            assert_non_null(b.buf);
            syn_base(&t, is64, be);
            tb_write(&t, b.buf, b.len);
            truncate_one(&b);
            free(b.buf);
        }
    }
    (void)done;
}

static const uint64_t interesting[] = {
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x1000,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000ULL,
    UINT64_MAX,
    UINT64_MAX - 1,
    0x8000000000000000ULL,
};

/* mutate header bytes: flips, and "interesting" values over whole fields */
static void mutate_once(uint8_t *buf, size_t hot, uint64_t *seed)
{
    unsigned nflip = 1 + (unsigned)(tm_prng(seed) % 4);

    for (unsigned k = 0; k < nflip; k++) {
        uint64_t r = tm_prng(seed);
        size_t at = (size_t)(r >> 8) % hot;
        switch (r & 3) {
        case 0:
        case 1: buf[at] ^= (uint8_t)(1u << ((r >> 4) & 7)); break;
        case 2: buf[at] = (uint8_t)(r >> 40); break;
        default: {
            uint64_t v = interesting[(r >> 40) % (sizeof(interesting) / 8)];
            size_t w = (size_t)1 << ((r >> 56) % 4);
            at &= ~(w - 1);
            for (size_t i = 0; i < w && at + i < hot; i++)
                buf[at + i] = (uint8_t)(v >> (8 * i));
        }
        }
    }
}

static void fuzz_one(const struct blob *orig, unsigned iters, uint64_t seed)
{
    struct elf_image img;
    uint8_t *buf = malloc(orig->len);
    size_t hot = orig->len < 1024 ? orig->len : 1024;
    unsigned accepted = 0;

    assert_non_null(buf);
    memcpy(buf, orig->buf, orig->len);
    for (unsigned it = 0; it < iters; it++) {
        mutate_once(buf, hot, &seed);
        int rc = elf_parse(buf, orig->len, &img);
        assert_true(rc == 0 || rc == ENOEXEC);
        if (rc == 0) {
            check_invariants(&img, orig->len);
            accepted++;
        }
        memcpy(buf, orig->buf, hot); /* restore only what was touched */
    }
    /* some mutations (e.g. of unused bytes) must leave the file valid */
    assert_true(accepted > 0);
    free(buf);
}

static void test_elf_mutated_headers_are_enoexec_or_consistent(void **state)
{
    struct fixture *fx = *state;
    struct tb t;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;

    for (int i = 0; i < NBIN; i++)
        if (fx->bin[i].buf)
            fuzz_one(&fx->bin[i], 20000, seed + (uint64_t)i);
    for (int is64 = 0; is64 <= 1; is64++) {
        for (int be = 0; be <= 1; be++) {
            struct blob b = { calloc(1, SYN_LEN), SYN_LEN };
            assert_non_null(b.buf);
            syn_base(&t, is64, be);
            tb_write(&t, b.buf, b.len);
            fuzz_one(&b, 20000, seed ^ (uint64_t)(is64 * 2 + be));
            free(b.buf);
        }
    }
}

/* pure garbage, with and without a valid-looking ident */
static void test_elf_random_bytes_are_enoexec_or_consistent(void **state)
{
    uint64_t seed = 12345;
    struct elf_image img;
    (void)state;

    for (unsigned it = 0; it < 20000; it++) {
        size_t n = (size_t)(tm_prng(&seed) % 600);
        uint8_t *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tm_prng(&seed);
        if (n >= 7 && (it & 1)) {
            buf[0] = 0x7f, buf[1] = 'E', buf[2] = 'L', buf[3] = 'F';
            buf[4] = (uint8_t)(1 + (it >> 1) % 2),
            buf[5] = (uint8_t)(1 + (it >> 2) % 2);
            buf[6] = 1;
        }
        int rc = elf_parse(buf, n, &img);
        assert_true(rc == 0 || rc == ENOEXEC);
        if (rc == 0)
            check_invariants(&img, n);
        free(buf);
    }
}

/* exec's bss rule: only bss starting inside the last file page of a
 * writable segment costs a zeroing write (one copy-on-write page). */
static void test_bss_partial_page_only_for_writable_mid_page_bss(void **state)
{
    (void)state;
    struct elf_load l = { .vaddr = 0x10100,
                          .filesz = 0x200,
                          .memsz = 0x3000,
                          .prot = ELF_PROT_READ | ELF_PROT_WRITE };
    assert_int_equal(elf_bss_partial_page(&l, 4096), 4096 - 0x300);
    l.memsz = 0x280; /* bss ends inside the page: zeroed to its end */
    assert_int_equal(elf_bss_partial_page(&l, 4096), 4096 - 0x300);
    l.memsz = 0x200; /* no bss */
    assert_int_equal(elf_bss_partial_page(&l, 4096), 0);
    l.memsz = 0x3000;
    l.prot = ELF_PROT_READ; /* read-only: nothing written */
    assert_int_equal(elf_bss_partial_page(&l, 4096), 0);
    l.prot = ELF_PROT_READ | ELF_PROT_WRITE;
    l.filesz = 0xf00; /* file bytes end on a page boundary */
    assert_int_equal(elf_bss_partial_page(&l, 4096), 0);
    l.filesz = 0; /* all bss: anonymous zero-fill */
    assert_int_equal(elf_bss_partial_page(&l, 4096), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_static_executable_matches_readelf),
        cmocka_unit_test(test_elf_static_pie_matches_readelf_and_is_dyn),
        cmocka_unit_test(test_elf_elf32_executable_matches_readelf),
        cmocka_unit_test(test_elf_static_busybox_matches_readelf),
        cmocka_unit_test(
            test_elf_converted_to_big_endian_parses_as_the_original),
        cmocka_unit_test(test_elf_converted_to_elf32_parses_as_the_original),
        cmocka_unit_test(test_elf_minimal_synthetic_image_is_accepted),
        cmocka_unit_test(test_elf_bad_header_fields_are_enoexec),
        cmocka_unit_test(test_elf_bad_load_segments_are_enoexec),
        cmocka_unit_test(test_elf_entry_outside_executable_text_is_enoexec),
        cmocka_unit_test(test_elf_more_than_max_load_segments_is_enoexec),
        cmocka_unit_test(test_elf_interp_is_reported_not_refused),
        cmocka_unit_test(test_elf_truncated_files_are_enoexec_or_consistent),
        cmocka_unit_test(test_elf_mutated_headers_are_enoexec_or_consistent),
        cmocka_unit_test(test_elf_random_bytes_are_enoexec_or_consistent),
        cmocka_unit_test(test_bss_partial_page_only_for_writable_mid_page_bss),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
