/*
 * End to end: busybox-static and a program compiled at test time, in a
 * makefs image, with traces recorded at test time by valgrind lackey and
 * replayed with fault-ahead and read-ahead off, in copy and XIP mounts.
 * The expected page counts are computed here, from the ELF headers and
 * the trace file, without asking the simulator; then hand-written traces
 * with =HEX and !ERR check fork, exec, copy-on-write, protection and
 * unmapped accesses, and malformed traces their error messages.
 */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "fstree.h"
#include "elfconv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lackey.h"
#include "xipvm_trace.h"

/* Known bytes at known places: data, bss, heap (sbrk) and stack. */
static const char prog_c[] = "#include <unistd.h>\n"
                             "volatile unsigned int data_word = 0x11223344;\n"
                             "volatile char bss_buf[5 * 4096];\n"
                             "int main(void)\n"
                             "{\n"
                             "    volatile char stack[256];\n"
                             "    for (int i = 0; i < 256; i++)\n"
                             "        stack[i] = (char)i;\n"
                             "    data_word = 0xcafef00du;\n"
                             "    bss_buf[3 * 4096 + 7] = 0x77;\n"
                             "    char *h = sbrk(8192);\n"
                             "    if (h != (char *)-1) {\n"
                             "        h[100] = 0x33;\n"
                             "        h[4096 + 5] = 0x44;\n"
                             "    }\n"
                             "    return stack[3] == 3 ? 0 : 1;\n"
                             "}\n";

enum { T_BUSYBOX, T_PROG, NTRACE };
static const char *const image_path[NTRACE] = { "/bin/busybox", "/bin/prog" };

struct fixture {
    char *dir, *tree;
    char img[512], trace[NTRACE][512];
    uint8_t *bytes[NTRACE];
    uint64_t size[NTRACE];
    struct ec_elf elf[NTRACE];
    uint64_t data_word, bss_byte; /* addresses in the program, from nm */
};

static int run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "test_e2e: failed: %s\n", cmd);
        return -1;
    }
    return 0;
}

static uint64_t nm_symbol(const char *file, const char *sym)
{
    char cmd[1200], line[256], name[128], type;
    unsigned long long addr;
    uint64_t found = 0;
    snprintf(cmd, sizeof(cmd), "nm '%s'", file);
    FILE *p = popen(cmd, "r");
    while (p && fgets(line, sizeof(line), p))
        if (sscanf(line, "%llx %c %127s", &addr, &type, name) == 3 &&
            strcmp(name, sym) == 0)
            found = addr;
    if (p)
        pclose(p);
    return found;
}

static int record(struct fixture *fx, int which, const char *const *argv)
{
    struct lackey_opts o = { 0 };
    struct lackey_stats st;
    char err[256];
    int status = 0;
    snprintf(fx->trace[which], sizeof(fx->trace[which]), "%s/t%d.trace",
             fx->dir, which);
    FILE *out = fopen(fx->trace[which], "w");
    if (out == NULL)
        return -1;
    o.path_in_image = image_path[which];
    o.pid = 1;
    o.quiet = 1;
    int rc = lackey_record(argv, out, &o, &st, &status, err, sizeof(err));
    if (fclose(out) != 0 || rc != 0) {
        fprintf(stderr, "test_e2e: recording %s: %s\n", argv[0], err);
        return -1;
    }
    return st.events > 1000 ? 0 : -1;
}

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char cmd[4096], src[1024], bin[1024];
    fx->dir = tree_new();
    fx->tree = tree_new();
    tree_dir(fx->tree, "bin");
    snprintf(src, sizeof(src), "%s/prog.c", fx->dir);
    file_spit(src, (const uint8_t *)prog_c, sizeof(prog_c) - 1);
    snprintf(bin, sizeof(bin), "%s/bin/prog", fx->tree);
    snprintf(cmd, sizeof(cmd), "cc -static -O1 -o '%s' '%s'", bin, src);
    if (run(cmd) != 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "cp /bin/busybox '%s/bin/busybox'", fx->tree);
    if (run(cmd) != 0)
        return -1;
    for (int i = 0; i < NTRACE; i++) {
        char h[1024];
        snprintf(h, sizeof(h), "%s%s", fx->tree, image_path[i]);
        fx->bytes[i] = file_slurp(h, &fx->size[i]);
        if (ec_read(fx->bytes[i], fx->size[i], &fx->elf[i]) != 0)
            return -1;
    }
    fx->data_word = nm_symbol(bin, "data_word");
    fx->bss_byte = nm_symbol(bin, "bss_buf") + 3 * 4096 + 7;
    if (fx->data_word == 0 || fx->bss_byte < 4096)
        return -1;
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "img", fx->tree, 2,
                  "little", 32768, 4096);
    char bb[1024];
    snprintf(bb, sizeof(bb), "%s/bin/busybox", fx->tree);
    const char *bb_argv[] = { bb, "echo", "hi", NULL };
    const char *prog_argv[] = { bin, NULL };
    if (record(fx, T_BUSYBOX, bb_argv) != 0 ||
        record(fx, T_PROG, prog_argv) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx == NULL)
        return 0;
    for (int i = 0; i < NTRACE; i++)
        free(fx->bytes[i]);
    tree_remove(fx->dir);
    tree_remove(fx->tree);
    free(fx);
    return 0;
}

/* ---------- expectations from the ELF and the trace alone ---------- */

static uint64_t trunc_pg(uint64_t v)
{
    return v & ~(uint64_t)(PG - 1);
}
static uint64_t round_pg(uint64_t v)
{
    return trunc_pg(v + PG - 1);
}

#define STACK_TOP  UINT64_C(0x80000000) /* sgimips: top of kuseg */
#define ANON_PAGES ((TRACE_ANON_LIMIT - TRACE_ANON_BASE) / PG)

struct expect {
    /* inputs */
    const struct ec_elf *elf;
    uint64_t file_pages;
    uint64_t lo, npages;     /* the ELF's page range */
    uint8_t *first;          /* per ELF page: 0, 'r' (read/exec) or 'w' */
    uint8_t *written;        /* per ELF page */
    uint8_t *file_touched;   /* per file page */
    uint8_t *anon_written;   /* per page of the anonymous chunk area */
    uint64_t brk_lo, brk_hi; /* the heap the trace's brk lines grow */
    uint8_t *heap_written;   /* per page of the heap */
    unsigned argc;
    size_t argbytes; /* argument strings, NULs included */
    uint64_t events, writes_to_readonly;
    /* results */
    uint64_t pagecache_copy;  /* distinct file pages, exec's included */
    uint64_t device_maps_xip; /* file-part pages first touched by a read */
    uint64_t anon;            /* distinct pages written privately */
};

static const struct ec_phdr *seg_of(const struct expect *x, uint64_t va)
{
    for (unsigned i = 0; i < x->elf->phnum; i++) {
        const struct ec_phdr *h = &x->elf->ph[i];
        if (h->type == EC_PT_LOAD && va >= trunc_pg(h->vaddr) &&
            va < round_pg(h->vaddr + h->memsz))
            return h;
    }
    return NULL;
}

/* file page under va, or UINT64_MAX when va is not in a file part */
static uint64_t file_page(const struct ec_phdr *h, uint64_t va)
{
    if (h == NULL || va >= round_pg(h->vaddr + h->filesz))
        return UINT64_MAX;
    return (trunc_pg(h->offset) + (trunc_pg(va) - trunc_pg(h->vaddr))) / PG;
}

static void touch(struct expect *x, uint64_t va, int write)
{
    const struct ec_phdr *h = seg_of(x, va);
    if (h) {
        uint64_t i = (trunc_pg(va) - x->lo) / PG, fp = file_page(h, va);
        if (!x->first[i])
            x->first[i] = write ? 'w' : 'r';
        if (write) {
            x->written[i] = 1;
            if (!(h->flags & EC_PF_W))
                x->writes_to_readonly++;
        }
        if (fp != UINT64_MAX)
            x->file_touched[fp] = 1;
    } else if (va >= TRACE_ANON_BASE && va < TRACE_ANON_LIMIT) {
        if (write)
            x->anon_written[(va - TRACE_ANON_BASE) / PG] = 1;
    } else if (va >= x->brk_lo && va < x->brk_hi) {
        if (write)
            x->heap_written[(va - x->brk_lo) / PG] = 1;
    } else {
        fail_msg(
            "trace touches 0x%llx, outside the ELF and the anonymous chunks",
            (unsigned long long)va);
    }
}

/* Reads the trace file: the spawn line's arguments and every access. */
static void read_trace(struct expect *x, const char *path)
{
    char line[512], op[16];
    unsigned pid;
    unsigned long long addr, size;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, XVM_TRACE_HEADER "\n");
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        x->events++;
        if (strncmp(line, "spawn ", 6) == 0) {
            /* the image path is argv[0], then the arguments */
            char *save = NULL, *t = strtok_r(line + 6, " \n", &save);
            assert_non_null(t); /* the pid */
            while ((t = strtok_r(NULL, " \n", &save)) != NULL)
                x->argc++, x->argbytes += strlen(t) + 1;
            continue;
        }
        if (strncmp(line, "mmap ", 5) == 0) {
            assert_non_null(strstr(line, "private,fixed"));
            continue;
        }
        /* the heap: brk grows it right after the program's last page */
        if (sscanf(line, "brk %u %llx", &pid, &addr) == 2) {
            assert_true(round_pg(addr) >= x->brk_lo);
            assert_true(round_pg(addr) - x->brk_lo <= (64u << 20));
            if (round_pg(addr) > x->brk_hi)
                x->brk_hi = round_pg(addr);
            continue;
        }
        /* RELRO made read-only: no page count changes */
        if (strncmp(line, "mprotect ", 9) == 0)
            continue;
        /* the process's exit ends the trace: replay_path stops before it */
        if (strncmp(line, "exit ", 5) == 0) {
            x->events--;
            assert_null(fgets(line, sizeof(line), f));
            break;
        }
        if (sscanf(line, "%15s %u %llx %llu", op, &pid, &addr, &size) != 4 ||
            strlen(op) != 1 || strchr("rwx", op[0]) == NULL)
            fail_msg("unexpected trace line: %s", line);
        for (uint64_t p = trunc_pg(addr); p < addr + size; p += PG)
            touch(x, p, op[0] == 'w');
    }
    fclose(f);
}

/*
 * What exec itself does on top of the trace (src/exec.c, and NetBSD's
 * exec_elf): it reads the first page of the file for the ELF headers
 * (through the file's pages: one page-cache page in copy mode), zeroes the
 * rest of the last file page of a writable segment whose bss starts inside
 * it (a copy-on-write of that file page: the file page is read, an anon is
 * made), and writes the argument strings and argc/argv/envp/auxv at the
 * top of the stack (anons for the pages that frame spans).
 */
static void add_exec(struct expect *x)
{
    x->file_touched[0] = 1;
    for (unsigned i = 0; i < x->elf->phnum; i++) {
        const struct ec_phdr *h = &x->elf->ph[i];
        uint64_t fend = h->vaddr + h->filesz;
        if (h->type != EC_PT_LOAD || !(h->flags & EC_PF_W) ||
            h->memsz <= h->filesz || h->filesz == 0 || fend % PG == 0)
            continue;
        uint64_t k = (trunc_pg(fend) - x->lo) / PG;
        x->first[k] = 'w'; /* exec runs before the trace */
        x->written[k] = 1;
        x->file_touched[file_page(h, fend)] = 1;
    }
}

static uint64_t stack_pages(const struct expect *x)
{
    unsigned w = x->elf->is64 ? 8 : 4;
    uint64_t sp = STACK_TOP - x->argbytes;
    /* argc argv NULL, envp NULL, 8 auxv pairs */
    sp = (sp - (uint64_t)(x->argc + 3 + 16) * w) & ~UINT64_C(15);
    return (STACK_TOP - trunc_pg(sp)) / PG;
}

static void expect_compute(struct expect *x, const struct ec_elf *e,
                           uint64_t file_size, const char *trace)
{
    memset(x, 0, sizeof(*x));
    x->elf = e;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == EC_PT_LOAD) {
            lo = e->ph[i].vaddr < lo ? e->ph[i].vaddr : lo;
            hi = e->ph[i].vaddr + e->ph[i].memsz > hi
                     ? e->ph[i].vaddr + e->ph[i].memsz
                     : hi;
        }
    assert_int_equal(e->type, 2); /* ET_EXEC: trace addresses are the ELF's */
    x->lo = trunc_pg(lo);
    x->npages = (round_pg(hi) - x->lo) / PG;
    x->file_pages = round_pg(file_size) / PG;
    x->first = calloc(x->npages, 1);
    x->written = calloc(x->npages, 1);
    x->file_touched = calloc(x->file_pages, 1);
    x->anon_written = calloc(ANON_PAGES, 1);
    x->brk_lo = x->brk_hi = round_pg(hi);
    x->heap_written = calloc((64u << 20) / PG, 1);
    read_trace(x, trace);
    add_exec(x);
    for (uint64_t i = 0; i < x->file_pages; i++)
        x->pagecache_copy += x->file_touched[i];
    for (uint64_t i = 0; i < x->npages; i++) {
        uint64_t va = x->lo + i * PG;
        const struct ec_phdr *h = seg_of(x, va);
        x->anon += x->written[i];
        if (file_page(h, va) != UINT64_MAX && x->first[i] == 'r')
            x->device_maps_xip++;
    }
    for (uint64_t i = 0; i < ANON_PAGES; i++)
        x->anon += x->anon_written[i];
    for (uint64_t i = 0; i < (x->brk_hi - x->brk_lo) / PG; i++)
        x->anon += x->heap_written[i];
    x->anon += stack_pages(x);
}

static void expect_free(struct expect *x)
{
    free(x->first);
    free(x->written);
    free(x->file_touched);
    free(x->anon_written);
    free(x->heap_written);
}

/* ---------- replay ---------- */

/* As tools/world.c sets it up for --fault-ahead 0 --readahead 0. */
static void up(struct tm_world *w, const struct fixture *fx, int xip)
{
    tm_world_open(w, "sgimips", 64u << 20, 0, fx->img);
    tm_world_mount(w, xip, 0, 0);
}

static void replay_path(struct tm_world *w, const char *path,
                        struct xvm_replay_totals *t)
{
    char line[1024], msg[256];
    int mism;
    xvm_replay *r;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(xvm_replay_create(w->m, w->mp, &r), 0);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "exit ", 5) == 0)
            break; /* the last line: the test looks first, then exits */
        if (xvm_replay_line(r, line, &mism, msg, sizeof(msg)) != 0)
            fail_msg("%s: %s", path, msg);
        if (mism)
            fail_msg("%s: mismatch: %s", path, msg);
    }
    fclose(f);
    xvm_replay_totals(r, t);
    xvm_replay_destroy(r);
}

static int fallbacks(void *arg, const struct xvm_file_info *fi)
{
    *(uint64_t *)arg += fi->fallback_pages;
    return 0;
}

static void check_recorded(const struct fixture *fx, int which)
{
    struct expect x;
    expect_compute(&x, &fx->elf[which], fx->size[which], fx->trace[which]);
    assert_int_equal(x.writes_to_readonly, 0);
    /*
     * No file page of these programs needs a page-cache copy under XIP:
     * both are larger than the 12 direct blocks of 32 KiB, and FFS puts
     * only a file's last *direct* block in fragments, so every block is
     * whole and every 4 KiB page of it lies in place on the flash.
     */
    assert_true(fx->size[which] > 12u * 32768u);
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        struct xvm_replay_totals t;
        up(&w, fx, xip);
        replay_path(&w, fx->trace[which], &t);
        struct xvm_stats st = tm_stats(w.m);
        assert_int_equal(t.events, x.events);
        assert_int_equal(t.mismatches, 0);
        /*
         * Counts at the end of the replay, with the process alive: nothing
         * was unmapped, no process exited and RAM was never short (no
         * reclaim), so they equal the peaks; both are checked.
         */
        assert_int_equal(st.reclaimed, 0);
        assert_int_equal(st.pages[XVM_USE_PAGECACHE],
                         st.pages_peak[XVM_USE_PAGECACHE]);
        assert_int_equal(st.pages[XVM_USE_ANON], st.pages_peak[XVM_USE_ANON]);
        if (!xip) {
            if (st.pages[XVM_USE_PAGECACHE] != x.pagecache_copy)
                fail_msg("%s copy: page cache %llu, expected %llu",
                         image_path[which],
                         (unsigned long long)st.pages[XVM_USE_PAGECACHE],
                         (unsigned long long)x.pagecache_copy);
            assert_int_equal(st.device_maps, 0);
        } else {
            uint64_t fb = 0;
            assert_int_equal(xvm_fsinfo(w.mp, fallbacks, &fb), 0);
            assert_int_equal(fb, 0);
            assert_int_equal(st.fallback_pages, 0);
            assert_int_equal(st.pages_peak[XVM_USE_PAGECACHE],
                             st.fallback_pages);
            if (st.device_maps != x.device_maps_xip)
                fail_msg("%s xip: device pages mapped %llu, expected %llu",
                         image_path[which], (unsigned long long)st.device_maps,
                         (unsigned long long)x.device_maps_xip);
        }
        if (st.pages[XVM_USE_ANON] != x.anon)
            fail_msg("%s %s: anon pages %llu, expected %llu", image_path[which],
                     xip ? "xip" : "copy",
                     (unsigned long long)st.pages[XVM_USE_ANON],
                     (unsigned long long)x.anon);
        if (which == T_PROG) {
            /*
             * The program's writes hit its data word and bss byte (lackey
             * logs no values, so the replay stores zeros there), while the
             * file keeps its initial bytes.
             */
            xvm_vmspace *vs = xvm_proc_vmspace(w.m, 1);
            uint8_t b[4], f4[4];
            size_t done;
            xvm_file *f;
            assert_true(x.written[(trunc_pg(fx->data_word) - x.lo) / PG]);
            assert_true(x.written[(trunc_pg(fx->bss_byte) - x.lo) / PG]);
            assert_int_equal(xvm_read(vs, fx->data_word, b, 4), 0);
            assert_memory_equal(b, "\0\0\0\0", 4);
            assert_int_equal(xvm_open(w.mp, "/bin/prog", XVM_O_RDONLY, &f), 0);
            const struct ec_phdr *h = seg_of(&x, fx->data_word);
            assert_int_equal(xvm_pread(f,
                                       h->offset + (fx->data_word - h->vaddr),
                                       f4, 4, &done),
                             0);
            assert_memory_equal(f4, "\x44\x33\x22\x11", 4);
            xvm_close(f);
            assert_true(x.anon >
                        stack_pages(&x) + 2); /* heap and stack writes */
        }
        assert_int_equal(xvm_exit(w.m, 1), 0);
        assert_int_equal(tm_stats(w.m).pages[XVM_USE_ANON], 0);
        tm_world_drop(&w);
    }
    expect_free(&x);
}

static void test_busybox_trace_pages_match_independent_counts(void **state)
{
    check_recorded(*state, T_BUSYBOX);
}

static void test_program_trace_pages_match_independent_counts(void **state)
{
    check_recorded(*state, T_PROG);
}

/* ---------- hand-written traces ---------- */

struct outcome {
    int error; /* of the first malformed line */
    char error_msg[256];
    uint64_t mismatches;
    char msgs[8][256]; /* of the first mismatches */
    uint64_t events;
};

static void replay_text(const struct fixture *fx, int xip, const char *text,
                        struct outcome *o)
{
    struct tm_world w;
    struct xvm_replay_totals t;
    xvm_replay *r;
    char *copy = strdup(text), *save = NULL, msg[256];
    int mism;
    memset(o, 0, sizeof(*o));
    up(&w, fx, xip);
    assert_int_equal(xvm_replay_create(w.m, w.mp, &r), 0);
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        int rc = xvm_replay_line(r, line, &mism, msg, sizeof(msg));
        if (rc) {
            o->error = rc;
            snprintf(o->error_msg, sizeof(o->error_msg), "%s", msg);
            break;
        }
        if (mism && o->mismatches < 8)
            snprintf(o->msgs[o->mismatches], sizeof(o->msgs[0]), "%s", msg);
        o->mismatches += (uint64_t)mism;
    }
    xvm_replay_totals(r, &t);
    assert_int_equal(t.mismatches, o->mismatches);
    o->events = t.events;
    xvm_replay_destroy(r);
    free(copy);
    tm_check(w.m);
    tm_world_drop(&w);
}

static void fmt(char *buf, size_t cap, const char *tmpl, uint64_t data)
{
    /* tmpl holds %1$llx for the program's data word address */
    snprintf(buf, cap, tmpl, (unsigned long long)data);
}

/* Replays tmpl (see fmt) in copy and XIP mounts: no error, no mismatch,
 * and one event a line after the header. */
static void replay_clean(const struct fixture *fx, const char *tmpl)
{
    char text[4096];
    uint64_t lines = 0;
    fmt(text, sizeof(text), tmpl, fx->data_word);
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    for (int xip = 0; xip < 2; xip++) {
        struct outcome o;
        replay_text(fx, xip, text, &o);
        assert_int_equal(o.error, 0);
        if (o.mismatches)
            fail_msg("%s: %llu mismatches, first: %s", xip ? "xip" : "copy",
                     (unsigned long long)o.mismatches, o.msgs[0]);
        assert_int_equal(o.events, lines - 1);
    }
}

static void test_e2e_trace_of_fork_copies_on_write(void **state)
{
    replay_clean(*state, "xipvm-trace 1\n"
                         "spawn 1 /bin/prog\n"
                         "r 1 0x400000 4 =7f454c46\n"
                         "x 1 0x401000 16\n"
                         "r 1 0x%1$llx 4 =44332211\n"
                         "w 1 0x%1$llx 4 =aabbccdd\n"
                         "mmap 1 0x40000000 8192 rw- private,fixed\n"
                         "w 1 0x40000000 4 =01020304\n"
                         "fork 1 2\n"
                         "fork 1 2 !EEXIST\n"
                         "fork 5 6 !ESRCH\n"
                         "w 2 0x%1$llx 4 =00000000\n"
                         "w 2 0x40000000 2 =ffff\n"
                         "r 1 0x%1$llx 4 =aabbccdd\n"
                         "r 1 0x40000000 4 =01020304\n"
                         "r 2 0x%1$llx 4 =00000000\n"
                         "r 2 0x40000000 4 =ffff0304\n"
                         "exit 2\n"
                         "exit 1\n");
}

static void test_e2e_trace_of_exec_replaces_the_child_image_only(void **state)
{
    replay_clean(*state, "xipvm-trace 1\n"
                         "spawn 1 /bin/prog\n"
                         "mmap 1 0x40000000 8192 rw- private,fixed\n"
                         "w 1 0x40000000 4 =01020304\n"
                         "fork 1 2\n"
                         "w 2 0x40000000 2 =ffff\n"
                         "exec 2 /bin/busybox true\n"
                         "r 2 0x40000000 1 !EFAULT\n"
                         "r 1 0x40000000 4 =01020304\n"
                         "exec 2 /bin/nothere !ENOENT\n"
                         "exec 2 /bin !EACCES\n"
                         "exit 2\n"
                         "exit 1\n");
}

static void test_e2e_trace_of_writes_to_protected_pages_gets_eacces(
    void **state)
{
    replay_clean(*state, "xipvm-trace 1\n"
                         "spawn 1 /bin/prog\n"
                         "x 1 0x401000 1\n"
                         "w 1 0x401000 1 =90 !EACCES\n"
                         "mmap 1 0x40000000 8192 rw- private,fixed\n"
                         "w 1 0x40000000 4 =01020304\n"
                         "mprotect 1 0x40000000 4096 r\n"
                         "w 1 0x40000000 1 =ff !EACCES\n"
                         "r 1 0x40000000 4 =01020304\n"
                         "w 1 0x40001000 1 =ee\n"
                         "exit 1\n");
}

static void test_e2e_trace_of_unmapped_accesses_gets_efault(void **state)
{
    replay_clean(*state, "xipvm-trace 1\n"
                         "spawn 1 /bin/prog\n"
                         "r 1 0x50000000 1 !EFAULT\n"
                         "w 1 0x50000000 1 !EFAULT\n"
                         "mmap 1 0x40000000 8192 rw- private,fixed\n"
                         "w 1 0x40000000 4 =01020304\n"
                         "munmap 1 0x40000000 8192\n"
                         "r 1 0x40000000 1 !EFAULT\n"
                         "r 1 0x40001000 1 !EFAULT\n"
                         "brk 1 0x7fff0000 !EINVAL\n"
                         "exit 1\n");
}

static void test_e2e_trace_of_exit_ends_the_pid(void **state)
{
    replay_clean(*state, "xipvm-trace 1\n"
                         "spawn 1 /bin/prog\n"
                         "fork 1 2\n"
                         "exit 2\n"
                         "exit 2 !ESRCH\n"
                         "r 2 0x400000 1 !ESRCH\n"
                         "mark end\n"
                         "exit 1\n");
}

static void test_unmet_expectations_count_as_mismatches(void **state)
{
    struct fixture *fx = *state;
    char text[2048];
    fmt(text, sizeof(text),
        "xipvm-trace 1\n"
        "spawn 1 /bin/prog\n"
        "r 1 0x%1$llx 4 =44332211\n" /* right */
        "r 1 0x%1$llx 4 =44332212\n" /* 4: bytes differ */
        "r 1 0x400000 1 !EFAULT\n"   /* 5: error expected, none */
        "r 1 0x50000000 1\n"         /* 6: unexpected error */
        "w 1 0x400000 1 !EFAULT\n"   /* 7: EACCES, not EFAULT */
        "fork 1 2\n"
        "w 2 0x%1$llx 1 =00\n"
        "r 1 0x%1$llx 1 =00\n" /* 10: the child's write leaked? no */
        "exit 1\n",
        fx->data_word);
    struct outcome o;
    replay_text(fx, 1, text, &o);
    assert_int_equal(o.error, 0);
    assert_int_equal(o.mismatches, 5);
    assert_string_equal(o.msgs[0], "line 4: bytes read differ from =HEX");
    assert_non_null(strstr(o.msgs[1], "line 5: expected EFAULT, got success"));
    assert_non_null(strstr(o.msgs[2], "line 6: expected success, got EFAULT"));
    assert_non_null(strstr(o.msgs[3], "line 7: expected EFAULT, got EACCES"));
    assert_non_null(strstr(o.msgs[4], "line 10:"));
}

static void test_malformed_traces_name_their_line(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        { "xipvm-trace 3\nspawn 1 /bin/prog\n", "line 1:" },
        { "spawn 1 /bin/prog\n", "line 1:" },
        { "xipvm-trace 1\n# comment\nspawn 1 /bin/prog\nread 1 0x400000 1\n",
          "line 4:" },
        { "xipvm-trace 1\nspawn 1 /bin/prog\nr 1 0x40z000 1\n", "line 3:" },
        { "xipvm-trace 1\nspawn 1 /bin/prog\nexit 4294967296\n", "line 3:" },
        { "xipvm-trace 1\nfork 1\n", "line 2:" },
        { "xipvm-trace 1\nspawn 1 /bin/prog\nr 1 0x400000 2 =7f\n", "line 3:" },
        { "xipvm-trace 1\nspawn 1 /bin/prog\nr 1 0x400000 1 !ENOSUCH\n",
          "line 3:" },
        { "xipvm-trace 1\nspawn 1 /bin/prog\nmprotect 1 0x400000 4096 rwq\n",
          "line 3:" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct outcome o;
        replay_text(fx, 0, cases[i].text, &o);
        assert_int_equal(o.error, EINVAL);
        if (strncmp(o.error_msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: message '%s', expected it to start '%s'", i,
                     o.error_msg, cases[i].msg);
        assert_true(strlen(o.error_msg) > strlen(cases[i].msg) + 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busybox_trace_pages_match_independent_counts),
        cmocka_unit_test(test_program_trace_pages_match_independent_counts),
        cmocka_unit_test(test_e2e_trace_of_fork_copies_on_write),
        cmocka_unit_test(test_e2e_trace_of_exec_replaces_the_child_image_only),
        cmocka_unit_test(
            test_e2e_trace_of_writes_to_protected_pages_gets_eacces),
        cmocka_unit_test(test_e2e_trace_of_unmapped_accesses_gets_efault),
        cmocka_unit_test(test_e2e_trace_of_exit_ends_the_pid),
        cmocka_unit_test(test_unmet_expectations_count_as_mismatches),
        cmocka_unit_test(test_malformed_traces_name_their_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
