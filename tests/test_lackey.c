/* test_lackey.c - lackey import/record against real valgrind runs, checked in lockstep with the raw log. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf.h"
#include "fstree.h"
#include "lackey.h"
#include "testutil.h"
#include "xipvm_trace.h"

extern char **environ;

#define BUSYBOX "/bin/busybox"
#define MAXCH   1024
#define NDATA   8
#define NHEAP   16
#define NSTACK  4

/* The program compiled at test time: known pages of data, heap and stack written with 1-byte stores. */
static const char prog_src[] =
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "static char data[8 * 4096];\n"
    "int main(void)\n"
    "{\n"
    "    char *h = malloc(16 * 4096);\n"
    "    volatile char st[4 * 4096];\n"
    "    for (int i = 0; i < 8; i++) ((volatile char *)data)[i * 4096] = "
    "0x5a;\n"
    "    for (int i = 0; i < 16; i++) ((volatile char *)h)[i * 4096] = 0x5b;\n"
    "    for (int i = 0; i < 4; i++) st[i * 4096] = 0x5c;\n"
    "    printf(\"%p %p %p\\n\", (void *)data, (void *)h, (void *)st);\n"
    "    return 0;\n"
    "}\n";

struct prog {
    const char *path;
    int is_dyn;
    uint64_t entry;
    unsigned n;
    uint64_t lo[ELF_MAX_LOAD], hi[ELF_MAX_LOAD]; /* page-rounded, file vaddrs */
};

struct check {
    const struct prog *p;
    uint64_t bias, delta; /* traced => file vaddr; traced => trace */
    int started;
    FILE *tr;
    char line[8192];
    struct xvm_trace_event ev;
    uint64_t orig[MAXCH], base[MAXCH]; /* chunk map seen in the trace */
    unsigned nch;
    unsigned nann; /* mmap lines seen */
    uint64_t ann[MAXCH];
    uint64_t n_i, n_l, n_s, n_m; /* raw lines */
    uint64_t n_x, n_r, n_w, pieces, bytes;
    uint8_t *raw_pages,
        *tr_pages; /* ELF pages touched, by the log and by the trace */
    uint64_t span_lo, npages; /* trace addresses of the ELF span */
};

/* The programs compiled at test time, once for the whole group. */
struct progs {
    char dir[64];
    char path[2][256]; /* "" until built */
};

struct fixture {
    char dir[64];
    char path[256];
    struct check *c; /* freed by teardown even after a failure */
    struct progs *progs;
};

static const char *tmp(struct fixture *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    return f->path;
}

static int group_setup(void **state)
{
    struct progs *g = calloc(1, sizeof *g);

    assert_non_null(g);
    strcpy(g->dir, "/tmp/test_lackey.XXXXXX");
    assert_non_null(mkdtemp(g->dir));
    *state = g;
    return 0;
}

static int group_teardown(void **state)
{
    struct progs *g = *state;
    static const char *const names[] = { "prog.c", "prog", "progpie" };
    char path[320];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g->dir, names[i]);
        unlink(path);
    }
    rmdir(g->dir);
    free(g);
    return 0;
}

/* => a per-test fixture; the group's programs stay reachable from it. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    f->progs = *state;
    strcpy(f->dir, "/tmp/test_lackey.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->c = calloc(1, sizeof *f->c);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {
        "raw", "trace", "out", "bad", "stdout",
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp(f, names[i]));
    rmdir(f->dir);
    free(f->c->raw_pages);
    free(f->c->tr_pages);
    free(f->c);
    free(f);
    return 0;
}

/* => exit status of argv run with stdout on out_path (or inherited when NULL). */
static int run(const char *const *argv, const char *out_path)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = 0;

    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    if (out_path != NULL)
        assert_int_equal(
            posix_spawn_file_actions_addopen(
                &fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
            0);
    assert_int_equal(
        posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ),
        0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---------- the ELF, as the test sees it ---------- */

static void load_prog(const char *path, struct prog *p)
{
    FILE *fp = fopen(path, "rb");
    struct elf_image im;
    uint8_t *buf;
    long len;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)len);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    assert_int_equal(elf_parse(buf, (size_t)len, &im), 0);
    free(buf);
    memset(p, 0, sizeof *p);
    p->path = path;
    p->is_dyn = im.is_dyn;
    p->entry = im.entry;
    p->n = im.nload;
    for (unsigned i = 0; i < im.nload; i++) {
        p->lo[i] = im.load[i].vaddr & ~UINT64_C(0xfff);
        p->hi[i] =
            (im.load[i].vaddr + im.load[i].memsz + 0xfff) & ~UINT64_C(0xfff);
    }
}

/* ---------- lockstep check of a raw lackey log against its trace ---------- */

static int in_elf(const struct check *c, uint64_t a)
{
    uint64_t v = a - c->bias;

    for (unsigned i = 0; i < c->p->n; i++)
        if (v >= c->p->lo[i] && v < c->p->hi[i])
            return 1;
    return 0;
}

/* byte class: 0 in the ELF, else the original 1 MiB chunk number + 1 */
static uint64_t cls(const struct check *c, uint64_t a)
{
    return in_elf(c, a) ? 0 : (a >> 20) + 1;
}

static int in_trace_elf(const struct check *c, uint64_t t)
{
    uint64_t shift = c->p->is_dyn ? ELF_DYN_BASE : 0;

    for (unsigned i = 0; i < c->p->n; i++)
        if (t >= c->p->lo[i] + shift && t < c->p->hi[i] + shift)
            return 1;
    return 0;
}

/* Next r/w/x event of the trace; mmap lines are checked and remembered on the way. */
static void next_access(struct check *c)
{
    for (;;) {
        assert_non_null(fgets(c->line, sizeof c->line, c->tr));
        assert_int_equal(xvm_trace_parse_line(c->line, &c->ev, NULL), 1);
        if (c->ev.op != XVM_T_MMAP)
            break;
        assert_int_equal(c->ev.len, TRACE_ANON_CHUNK);
        assert_int_equal(c->ev.prot, XVM_PROT_READ | XVM_PROT_WRITE);
        assert_true(!c->ev.shared && c->ev.fixed && c->ev.path == NULL);
        assert_true(c->ev.addr >= TRACE_ANON_BASE &&
                    c->ev.addr % TRACE_ANON_CHUNK == 0);
        assert_true(c->ev.addr + TRACE_ANON_CHUNK <= TRACE_ANON_LIMIT);
        assert_false(in_trace_elf(c, c->ev.addr) ||
                     in_trace_elf(c, c->ev.addr + TRACE_ANON_CHUNK - 1));
        for (unsigned i = 0; i < c->nann; i++)
            assert_true(c->ann[i] != c->ev.addr);
        assert_true(c->nann < MAXCH);
        c->ann[c->nann++] = c->ev.addr;
    }
    assert_true(c->ev.op == XVM_T_READ || c->ev.op == XVM_T_WRITE ||
                c->ev.op == XVM_T_EXEC_FETCH);
    assert_int_equal(c->ev.pid, 7);
    assert_true(c->ev.addr + c->ev.len <= UINT64_C(0x80000000));
}

static int announced(const struct check *c, uint64_t base)
{
    for (unsigned i = 0; i < c->nann; i++)
        if (c->ann[i] == base)
            return 1;
    return 0;
}

/* => the trace address of traced address a, learning the chunk map on first use. */
static uint64_t expect_addr(struct check *c, uint64_t a, uint64_t got)
{
    uint64_t ch = a >> 20;

    if (in_elf(c, a))
        return a + c->delta;
    for (unsigned i = 0; i < c->nch; i++)
        if (c->orig[i] == ch)
            return c->base[i] + (a & 0xfffff);
    /* a new chunk: announced before use, used by no other chunk */
    assert_true(announced(c, got & ~UINT64_C(0xfffff)));
    for (unsigned i = 0; i < c->nch; i++)
        assert_true(c->base[i] != (got & ~UINT64_C(0xfffff)));
    assert_true(c->nch < MAXCH);
    c->orig[c->nch] = ch;
    c->base[c->nch++] = got & ~UINT64_C(0xfffff);
    return got;
}

static void mark_page(const struct check *c, uint8_t *pages, uint64_t t)
{
    assert_true(t >= c->span_lo && (t - c->span_lo) / 4096 < c->npages);
    pages[(t - c->span_lo) / 4096] = 1;
}

/* One raw access of n bytes at a, op 'x'/'r'/'w': split where the byte class changes. */
static void check_access(struct check *c, int op, uint64_t a, uint64_t n)
{
    uint64_t i = 0;

    while (i < n) {
        uint64_t j = i + 1, want;

        while (j < n && cls(c, a + j) == cls(c, a + i))
            j++;
        next_access(c);
        assert_int_equal(c->ev.op, op == 'x'   ? XVM_T_EXEC_FETCH
                                   : op == 'r' ? XVM_T_READ
                                               : XVM_T_WRITE);
        assert_int_equal(c->ev.len, j - i);
        want = expect_addr(c, a + i, c->ev.addr);
        assert_int_equal(c->ev.addr, want);
        for (uint64_t k = i; k < j; k++) {
            if (in_elf(c, a + k)) {
                mark_page(c, c->raw_pages, a + k + c->delta);
                mark_page(c, c->tr_pages, c->ev.addr + (k - i));
            }
        }
        *(op == 'x' ? &c->n_x : op == 'r' ? &c->n_r : &c->n_w) += 1;
        c->pieces++;
        c->bytes += j - i;
        i = j;
    }
}

static void raw_line(struct check *c, const char *s)
{
    char kind, *end;
    uint64_t a, n;

    if (s[0] == 'I' && s[1] == ' ' && s[2] == ' ')
        kind = 'I';
    else if (s[0] == ' ' && strchr("LSM", s[1]) != NULL && s[1] != '\0' &&
             s[2] == ' ')
        kind = s[1];
    else
        return;
    a = strtoull(s + 3, &end, 16);
    assert_int_equal(*end, ',');
    n = strtoull(end + 1, NULL, 10);
    if (!c->started) {
        assert_int_equal(kind, 'I');
        c->bias = a - c->p->entry;
        if (!c->p->is_dyn)
            assert_int_equal(c->bias, 0);
        c->delta = (c->p->is_dyn ? ELF_DYN_BASE : 0) - c->bias;
        c->started = 1;
    }
    if (kind == 'I') {
        c->n_i++;
        check_access(c, 'x', a, n);
    } else if (kind == 'L') {
        c->n_l++;
        check_access(c, 'r', a, n);
    } else if (kind == 'S') {
        c->n_s++;
        check_access(c, 'w', a, n);
    } else {
        c->n_m++;
        check_access(c, 'r', a, n);
        check_access(c, 'w', a, n);
    }
}

/* Import raw with --exec p and check the whole trace against the raw log. */
static void check_import(struct fixture *f, const char *raw,
                         const struct prog *p, struct check *c)
{
    struct lackey_opts o = { .exec_host_path = p->path,
                             .path_in_image = "/bin/prog",
                             .pid = 7 };
    const char *args[] = { "a1", "a2" };
    struct lackey_stats st;
    char err[256], line[8192];
    uint64_t shift = p->is_dyn ? ELF_DYN_BASE : 0;
    FILE *in = fopen(raw, "r"), *out = fopen(tmp(f, "trace"), "w+");

    o.argc = 2;
    o.argv = args;
    assert_non_null(in);
    assert_non_null(out);
    assert_int_equal(lackey_import(in, out, &o, &st, err, sizeof err), 0);
    fclose(in);
    rewind(out);

    memset(c, 0, sizeof *c);
    c->p = p;
    c->tr = out;
    c->span_lo = p->lo[0] + shift;
    c->npages = (p->hi[p->n - 1] - p->lo[0]) / 4096;
    c->raw_pages = calloc(c->npages, 1);
    c->tr_pages = calloc(c->npages, 1);
    assert_true(c->raw_pages != NULL && c->tr_pages != NULL);

    assert_non_null(fgets(line, sizeof line, out));
    assert_int_equal(xvm_trace_check_header(line), 0);
    assert_non_null(fgets(line, sizeof line, out));
    assert_string_equal(line, "spawn 7 /bin/prog a1 a2\n");

    /* the first event is the entry */
    in = fopen(raw, "r");
    assert_non_null(in);
    while (fgets(line, sizeof line, in) != NULL) {
        raw_line(c, line);
        if (c->n_x == 1 && c->pieces == 1)
            assert_int_equal(c->ev.addr, p->entry + shift);
    }
    fclose(in);
    assert_null(
        fgets(line, sizeof line, out)); /* nothing after the last access */
    fclose(out);

    /* counts: every raw access is in the trace, split only at class changes */
    assert_true(c->n_i > 0);
    assert_int_equal(st.instr, c->n_i);
    assert_int_equal(st.loads, c->n_l);
    assert_int_equal(st.stores, c->n_s);
    assert_int_equal(st.modifies, c->n_m);
    assert_int_equal(st.ev_x, c->n_x);
    assert_int_equal(st.ev_r, c->n_r);
    assert_int_equal(st.ev_w, c->n_w);
    assert_true(c->n_x >= c->n_i && c->n_r >= c->n_l + c->n_m &&
                c->n_w >= c->n_s + c->n_m);
    assert_int_equal(st.ev_mmap, c->nann);
    assert_int_equal(st.chunks, c->nch);
    assert_int_equal(c->nann, c->nch);
    assert_int_equal(st.events, 1 + c->pieces + c->nann);
    assert_int_equal(st.elf_bytes + st.inferred_bytes, c->bytes);
    assert_true(st.inferred_bytes > 0 && st.elf_bytes > 0);
    assert_int_equal(st.lines, st.skipped + c->n_i + c->n_l + c->n_s + c->n_m);
    /* the same ELF pages, computed from the log and from the trace */
    assert_memory_equal(c->raw_pages, c->tr_pages, c->npages);
    free(c->raw_pages);
    free(c->tr_pages);
    c->raw_pages = c->tr_pages = NULL;
}

/* What a process of a recorded trace has mapped, trace side. */
#define MAXREG 4096
struct tproc {
    uint32_t pid;
    int alive;
    unsigned n;
    uint64_t lo[MAXREG], hi[MAXREG]; /* its mmap lines */
    uint64_t brk_lo, brk_hi;         /* its heap */
};

static struct tproc *tproc_find(struct tproc *ps, unsigned n, uint32_t pid)
{
    for (unsigned i = 0; i < n; i++)
        if (ps[i].pid == pid && ps[i].alive)
            return &ps[i];
    return NULL;
}

/*
 * Check a recorded trace on its own: every process is spawned or forked
 * before it acts and exits at the end; every access lies in the
 * program's segments (at ELF_DYN_BASE for ET_DYN), in the process's heap
 * (its brk lines, from the page after the program), or in what its mmap
 * lines mapped (inherited at fork); mmaps stay in the anonymous chunk
 * area.
 */
static void check_trace_alone(const char *path, const struct prog *p,
                              uint32_t pid, const struct lackey_stats *st)
{
    FILE *fp = fopen(path, "r");
    char line[8192];
    struct xvm_trace_event ev;
    uint64_t n[3] = { 0, 0, 0 }, nmmap = 0;
    uint64_t shift = p->is_dyn ? ELF_DYN_BASE : 0;
    unsigned first = 1, np = 0, nforks = 0;
    struct tproc *ps = calloc(64, sizeof(*ps));

    assert_non_null(fp);
    assert_non_null(ps);
    assert_non_null(fgets(line, sizeof line, fp));
    assert_int_equal(xvm_trace_check_header(line), 0);
    assert_non_null(fgets(line, sizeof line, fp));
    assert_int_equal(xvm_trace_parse_line(line, &ev, NULL), 1);
    assert_int_equal(ev.op, XVM_T_SPAWN);
    assert_int_equal(ev.pid, pid);
    ps[np].pid = pid;
    ps[np].alive = 1;
    ps[np].brk_lo = ps[np].brk_hi = p->hi[p->n - 1] + shift;
    np++;
    while (fgets(line, sizeof line, fp) != NULL) {
        int in = 0;

        assert_int_equal(xvm_trace_parse_line(line, &ev, NULL), 1);
        struct tproc *t = tproc_find(ps, np, ev.pid);
        if (t == NULL)
            fail_msg("event of a process that is not there: %s", line);
        switch (ev.op) {
        case XVM_T_FORK:
            assert_true(np < 64 && tproc_find(ps, np, ev.pid2) == NULL);
            ps[np] = *t;
            ps[np].pid = ev.pid2;
            np++, nforks++;
            continue;
        case XVM_T_EXIT: t->alive = 0; continue;
        case XVM_T_MMAP:
            assert_true(ev.fixed && ev.addr >= TRACE_ANON_BASE &&
                        ev.addr + ev.len <= TRACE_ANON_LIMIT);
            assert_true(t->n < MAXREG);
            t->lo[t->n] = ev.addr;
            t->hi[t->n++] = ev.addr + ev.len;
            nmmap++;
            continue;
        case XVM_T_BRK:
            assert_true(ev.addr >= t->brk_lo);
            t->brk_hi = ev.addr;
            continue;
        case XVM_T_MPROTECT:
        case XVM_T_MUNMAP:
        case XVM_T_PREAD: continue;
        case XVM_T_EXEC_FETCH:
        case XVM_T_READ:
        case XVM_T_WRITE: break;
        default: fail_msg("unexpected line: %s", line);
        }
        if (first) {
            assert_int_equal(ev.op, XVM_T_EXEC_FETCH);
            assert_int_equal(ev.addr, p->entry + shift);
            first = 0;
        }
        assert_true(ev.addr + ev.len <= UINT64_C(0x80000000));
        for (unsigned i = 0; i < p->n && !in; i++)
            in = ev.addr >= p->lo[i] + shift &&
                 ev.addr + ev.len <= p->hi[i] + shift;
        /* adjacent rounded segments may be merged: check both ends */
        for (unsigned i = 0; i + 1 < p->n && !in; i++)
            in = p->hi[i] == p->lo[i + 1] && ev.addr >= p->lo[i] + shift &&
                 ev.addr + ev.len <= p->hi[i + 1] + shift;
        in = in || (ev.addr >= t->brk_lo &&
                    ev.addr + ev.len <= ((t->brk_hi + 4095) & ~UINT64_C(4095)));
        for (unsigned i = 0; i < t->n && !in; i++)
            in = ev.addr >= t->lo[i] && ev.addr + ev.len <= t->hi[i];
        if (!in)
            fail_msg("access outside the program, heap and mappings: %s", line);
        n[ev.op == XVM_T_EXEC_FETCH ? 0 : ev.op == XVM_T_READ ? 1 : 2]++;
    }
    fclose(fp);
    for (unsigned i = 0; i < np; i++)
        assert_false(ps[i].alive); /* every process exits */
    free(ps);
    assert_int_equal(n[0], st->ev_x);
    assert_int_equal(n[1], st->ev_r);
    assert_int_equal(n[2], st->ev_w);
    assert_int_equal(nmmap, st->ev_mmap);
    assert_int_equal(np, st->procs);
    assert_int_equal(nforks + 1, st->procs);
}

/* Record argv into the fixture's trace and check it. */
static void record(struct fixture *f, const char *const *argv,
                   const struct prog *p, int quiet, struct lackey_stats *st)
{
    struct lackey_opts o = { .pid = 1, .quiet = quiet };
    char err[256], path[256];
    int status = -1;
    FILE *out;

    snprintf(path, sizeof path, "%s", tmp(f, "trace"));
    out = fopen(path, "w");
    assert_non_null(out);
    assert_int_equal(lackey_record(argv, out, &o, st, &status, err, sizeof err),
                     0);
    fclose(out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(st->forks, 0);
    check_trace_alone(path, p, 1, st);
}

/* valgrind the program by hand into raw (program stdout into "stdout"). */
static void valgrind_raw(struct fixture *f, const char *const *prog_argv)
{
    const char *argv[16] = { "valgrind", "--tool=lackey", "--trace-mem=yes" };
    char logopt[300];
    size_t k = 3;
    char outp[256];

    snprintf(logopt, sizeof logopt, "--log-file=%s", tmp(f, "raw"));
    argv[k++] = logopt;
    argv[k++] = "--";
    for (size_t i = 0; prog_argv[i] != NULL && k < 15; i++)
        argv[k++] = prog_argv[i];
    argv[k] = NULL;
    snprintf(outp, sizeof outp, "%s", tmp(f, "stdout"));
    assert_int_equal(run(argv, outp), 0);
}

/* ---------- tests on real programs ---------- */

static void test_lackey_record_of_busybox_true_is_a_valid_trace(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = { BUSYBOX, "true", NULL };
    struct lackey_stats st;
    struct prog p;

    load_prog(BUSYBOX, &p);
    assert_false(p.is_dyn);
    record(f, argv, &p, 1, &st);
    assert_true(st.instr > 1000 && st.chunks >= 1);
}

static void test_lackey_import_of_busybox_true_matches_the_raw_log(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = { BUSYBOX, "true", NULL };
    struct check *c = f->c;
    struct prog p;
    char raw[256];

    load_prog(BUSYBOX, &p);
    valgrind_raw(f, argv);
    snprintf(raw, sizeof raw, "%s", tmp(f, "raw"));
    check_import(f, raw, &p, c);
}

/* A log read from a pipe (copied aside, it is read twice) gives the trace
 * the same log gives from a file, to its last line. */
static void test_lackey_import_from_a_pipe_equals_the_import_from_a_file(
    void **state)
{
    struct fixture *f = *state;
    const char *argv[] = { BUSYBOX, "true", NULL };
    struct lackey_opts o = { .exec_host_path = BUSYBOX, .pid = 1 };
    char raw[256], cmd[600], err[256];
    valgrind_raw(f, argv);
    snprintf(raw, sizeof raw, "%s", tmp(f, "raw"));
    snprintf(cmd, sizeof cmd, "cat '%s'", raw);
    FILE *in = fopen(raw, "r"), *a = tmpfile(), *b = tmpfile();
    FILE *pipe = popen(cmd, "r");
    assert_true(in && a && b && pipe);
    assert_int_equal(lackey_import(in, a, &o, NULL, err, sizeof err), 0);
    if (lackey_import(pipe, b, &o, NULL, err, sizeof err) != 0)
        fail_msg("from a pipe: %s", err);
    assert_int_equal(pclose(pipe), 0);
    fclose(in);
    rewind(a);
    rewind(b);
    int x, y;
    do {
        x = getc(a);
        y = getc(b);
        assert_int_equal(x, y);
    } while (x != EOF);
    fclose(a);
    fclose(b);
}

static void test_lackey_record_passes_the_program_output_through(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = { "busybox", "echo", "hi", NULL }; /* found in $PATH */
    struct lackey_stats st;
    struct prog p;
    char buf[16] = { 0 };
    int saved, fd;
    FILE *fp;

    load_prog(BUSYBOX, &p);
    /* the program's stdout goes through unchanged: catch it on our fd 1 */
    fflush(stdout);
    saved = dup(1);
    fd = open(tmp(f, "out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    record(f, argv, &p, 0, &st);
    dup2(saved, 1);
    close(saved);
    fp = fopen(tmp(f, "out"), "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "hi\n");
}

static void test_lackey_import_of_busybox_echo_matches_the_raw_log(void **state)
{
    struct fixture *f = *state;
    struct check *c = f->c;
    struct prog p;
    char raw[256];

    load_prog(BUSYBOX, &p);
    valgrind_raw(f, (const char *const[]){ BUSYBOX, "echo", "hi", NULL });
    snprintf(raw, sizeof raw, "%s", tmp(f, "raw"));
    check_import(f, raw, &p, c);
}

/* Is there a `w PID T 1` line in the trace? */
static int has_write1(const char *trace, uint64_t t)
{
    FILE *fp = fopen(trace, "r");
    char line[8192];
    struct xvm_trace_event ev;
    int found = 0;

    assert_non_null(fp);
    while (!found && fgets(line, sizeof line, fp) != NULL)
        found = xvm_trace_parse_line(line, &ev, NULL) == 1 &&
                ev.op == XVM_T_WRITE && ev.addr == t && ev.len == 1;
    fclose(fp);
    return found;
}

/* The compiled program: its data, heap and stack pages are written where the trace says. */
static void check_known_pages(struct fixture *f, const struct check *c)
{
    unsigned long long d, h, s;
    FILE *fp = fopen(tmp(f, "stdout"), "r");
    uint64_t want[NDATA + NHEAP + NSTACK];
    unsigned n = 0;

    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%llx %llx %llx", &d, &h, &s), 3);
    fclose(fp);
    for (unsigned i = 0; i < NDATA; i++)
        want[n++] = d + i * 4096u;
    for (unsigned i = 0; i < NHEAP; i++)
        want[n++] = h + i * 4096u;
    for (unsigned i = 0; i < NSTACK; i++)
        want[n++] = s + i * 4096u;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = 0;

        if (in_elf(c, want[i]))
            t = want[i] + c->delta;
        else
            for (unsigned k = 0; k < c->nch; k++)
                if (c->orig[k] == want[i] >> 20)
                    t = c->base[k] + (want[i] & 0xfffff);
        assert_true(t != 0);
        /* data in the ELF, heap and stack relocated */
        assert_int_equal(in_trace_elf(c, t), i < NDATA);
        if (!has_write1(tmp(f, "trace"), t))
            fail_msg("no 1-byte write at 0x%llx (page %u of data/heap/stack)",
                     (unsigned long long)t, i);
    }
}

/* The test program built with -static (or -static-pie when pie) into the
   group's directory, once; => its path, with p loaded from it. */
static const char *built_prog(struct fixture *f, int pie, struct prog *p)
{
    struct progs *g = f->progs;
    const char *cc[] = {
        "cc", pie ? "-static-pie" : "-static", "-O1", "-o", NULL, NULL, NULL
    };
    char src[320], out[sizeof(g->path[0])];
    FILE *fp;

    if (g->path[pie][0] == '\0') {
        snprintf(src, sizeof src, "%s/prog.c", g->dir);
        fp = fopen(src, "w");
        assert_non_null(fp);
        fputs(prog_src, fp);
        fclose(fp);
        /* via a local: gcc -Wrestrict sees g->dir and g->path as one
           object */
        snprintf(out, sizeof out, "%s/%s", g->dir, pie ? "progpie" : "prog");
        cc[4] = out;
        cc[5] = src;
        /* the toolchain supports this here: a failure is a failure, not a
           skip */
        assert_int_equal(run(cc, NULL), 0);
        memcpy(g->path[pie], out, sizeof out);
    }
    load_prog(g->path[pie], p);
    assert_int_equal(p->is_dyn, pie);
    return g->path[pie];
}

static void record_prog(struct fixture *f, int pie)
{
    struct lackey_stats st;
    struct prog p;
    const char *out = built_prog(f, pie, &p);

    record(f, (const char *const[]){ out, NULL }, &p, 1, &st);
    assert_true(st.chunks >= 2); /* heap and stack */
}

static void import_prog(struct fixture *f, int pie)
{
    struct check *c = f->c;
    struct prog p;
    char raw[256];
    const char *out = built_prog(f, pie, &p);

    valgrind_raw(f, (const char *const[]){ out, NULL });
    snprintf(raw, sizeof raw, "%s", tmp(f, "raw"));
    check_import(f, raw, &p, c);
    check_known_pages(f, c);
}

static void test_lackey_record_of_static_program_maps_heap_and_stack(
    void **state)
{
    record_prog(*state, 0);
}

static void test_lackey_import_of_static_program_writes_its_known_pages(
    void **state)
{
    import_prog(*state, 0);
}

static void test_lackey_record_of_static_pie_maps_heap_and_stack(void **state)
{
    record_prog(*state, 1);
}

static void test_lackey_import_of_static_pie_writes_its_known_pages(
    void **state)
{
    import_prog(*state, 1);
}

static void test_lackey_record_follows_the_forks_of_the_program(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = { BUSYBOX, "sh", "-c", "true|true", NULL };
    struct lackey_opts o = { .pid = 1, .quiet = 1 };
    struct lackey_stats st;
    char err[256];
    int status = -1;
    FILE *out = fopen(tmp(f, "trace"), "w");
    struct prog p;

    assert_non_null(out);
    load_prog(BUSYBOX, &p);
    assert_int_equal(
        lackey_record(argv, out, &o, &st, &status, err, sizeof err), 0);
    fclose(out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(st.forks >= 2);
    assert_true(st.procs >= 3); /* the shell and both sides of the pipe */
    check_trace_alone(tmp(f, "trace"), &p, 1, &st);
}

/* A program that shares memory as daemons do: a memfd (16 pages) and an
 * shm_open file (8 pages) mapped MAP_SHARED, written, then a fork whose
 * child writes both; exits 0 only when the parent sees those writes. */
static const char shm_src[] =
    "#define _GNU_SOURCE\n"
    "#include <fcntl.h>\n"
    "#include <string.h>\n"
    "#include <sys/mman.h>\n"
    "#include <sys/wait.h>\n"
    "#include <unistd.h>\n"
    "int main(void)\n"
    "{\n"
    "    int fd = memfd_create(\"ring\", MFD_CLOEXEC), sfd;\n"
    "    char *p, *q;\n"
    "    if (fd < 0 || ftruncate(fd, 16 * 4096) != 0)\n"
    "        return 1;\n"
    "    p = mmap(0, 16 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);\n"
    "    sfd = shm_open(\"/xipvm-test-lackey\", O_RDWR | O_CREAT, 0600);\n"
    "    shm_unlink(\"/xipvm-test-lackey\");\n"
    "    if (p == MAP_FAILED || sfd < 0 || ftruncate(sfd, 8 * 4096) != 0)\n"
    "        return 2;\n"
    "    q = mmap(0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);\n"
    "    if (q == MAP_FAILED)\n"
    "        return 3;\n"
    "    close(sfd);\n"
    "    memset(p, 1, 8 * 4096);\n"
    "    memset(q, 3, 8 * 4096);\n"
    "    pid_t c = fork();\n"
    "    if (c == 0) {\n"
    "        memset(p + 8 * 4096, 2, 8 * 4096);\n"
    "        q[0] = 4;\n"
    "        _exit(0);\n"
    "    }\n"
    "    waitpid(c, 0, 0);\n"
    "    if (p[16 * 4096 - 1] != 2 || q[0] != 4)\n"
    "        return 4;\n"
    "    munmap(p, 16 * 4096);\n"
    "    munmap(q, 8 * 4096);\n"
    "    close(fd);\n"
    "    return 0;\n"
    "}\n";

/*
 * Memory of memfd_create and shm_open, recorded: it is shared anonymous
 * memory (no file of the image), one object for parent and child, and
 * the trace replays with no mismatch holding the host's 24 pages of it.
 */
static void test_lackey_record_of_memfd_and_shm_is_shared_memory(void **state)
{
    char *dir = tree_new(), src[1024], prog[1024], root[1024], trace[1024];
    char img[1024], err[512], line[1 << 16], msg[256];
    struct lackey_opts o = { .pid = 1, .quiet = 1, .root_dir = root };
    struct lackey_stats st;
    struct xvm_replay_totals t;
    struct tm_world w;
    xvm_replay *r;
    int status = -1, mism, shared = 0;
    (void)state;
    tree_path(src, sizeof src, dir, "shm.c");
    tree_path(prog, sizeof prog, dir, "shm");
    tree_path(root, sizeof root, dir, "root");
    tree_path(trace, sizeof trace, dir, "trace");
    tree_path(img, sizeof img, dir, "img");
    file_spit(src, (const uint8_t *)shm_src, strlen(shm_src));
    assert_int_equal(
        run((const char *[]){ "cc", "-static", "-O1", "-o", prog, src, NULL },
            NULL),
        0);
    FILE *out = fopen(trace, "w");
    assert_non_null(out);
    if (lackey_record((const char *[]){ prog, NULL }, out, &o, &st, &status,
                      err, sizeof err) != 0)
        fail_msg("%s", err);
    fclose(out);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(st.procs, 2);
    assert_int_equal(st.files, 1); /* the program alone */
    FILE *in = fopen(trace, "r");
    assert_non_null(in);
    while (fgets(line, sizeof line, in))
        shared += strncmp(line, "mmap 1 ", 7) == 0 &&
                  strstr(line, " rw- shared,fixed\n") != NULL;
    assert_int_equal(shared, 2);
    image_make(root, img, 2, "little", 32768, 4096);
    tm_world_up(&w, "amd64", 64u << 20, 0, img, 1, 0);
    assert_int_equal(xvm_replay_create(w.m, w.mp, &r), 0);
    rewind(in);
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        if (xvm_replay_line(r, line, &mism, msg, sizeof msg) != 0 || mism)
            fail_msg("%s", msg);
    }
    fclose(in);
    xvm_replay_totals(r, &t);
    xvm_replay_destroy(r);
    assert_int_equal(t.mismatches, 0);
    assert_int_equal(tm_stats(w.m).pages_peak[XVM_USE_AOBJ], 24);
    tm_world_down(&w);
    tree_remove(dir);
}

/* => lackey_record's error for argv (its trace into the fixture's), with
 * its message in err. */
static int record_error(struct fixture *f, const char *const *argv, char *err,
                        size_t errlen)
{
    struct lackey_opts o = { .pid = 1, .quiet = 1 };
    struct lackey_stats st;
    int status;
    FILE *out = fopen(tmp(f, "trace"), "w");

    assert_non_null(out);
    int rc = lackey_record(argv, out, &o, &st, &status, err, errlen);
    fclose(out);
    return rc;
}

static void test_lackey_record_of_missing_program_is_enoent(void **state)
{
    char err[256];

    assert_int_equal(
        record_error(*state,
                     (const char *const[]){ "no-such-program-xyz", NULL }, err,
                     sizeof err),
        ENOENT);
    assert_non_null(strstr(err, "no-such-program-xyz"));
}

static void test_lackey_record_of_non_executable_is_eacces(void **state)
{
    char err[256];

    assert_int_equal(record_error(*state,
                                  (const char *const[]){ "/etc/passwd", NULL },
                                  err, sizeof err),
                     EACCES);
}

/* ---------- synthetic input ---------- */

/* Import text with --exec busybox; => the error, trace text in out (caller frees). */
static int import_str(const char *text, size_t len, const char *exec, char *err,
                      size_t errlen, char **out, struct lackey_stats *st)
{
    struct lackey_opts o = { .exec_host_path = exec, .pid = 1 };
    size_t outlen = 0;
    FILE *in = fmemopen((void *)(uintptr_t)text, len > 0 ? len : 1, "r");
    FILE *of = open_memstream(out, &outlen);
    int r;

    assert_non_null(in);
    assert_non_null(of);
    if (len == 0)
        fgetc(in); /* fmemopen needs size > 0: consume it */
    r = lackey_import(in, of, &o, st, err, errlen);
    fclose(in);
    fclose(of);
    return r;
}

static void expect_bad(const char *text, int want, const char *msg)
{
    struct lackey_stats st;
    char err[256], *out = NULL;

    assert_int_equal(
        import_str(text, strlen(text), BUSYBOX, err, sizeof err, &out, &st),
        want);
    if (strstr(err, msg) == NULL)
        fail_msg("error `%s' lacks `%s'", err, msg);
    free(out);
}

#define START "I  0040ebf0,2\n"

static void test_lackey_malformed_log_is_einval_naming_the_line(void **state)
{
    (void)state;
    expect_bad("I  zz,2\n", EINVAL, "line 1: bad address");
    expect_bad(START " L 1000\n", EINVAL, "line 2: missing ',SIZE'");
    expect_bad(START " L 1000,\n", EINVAL, "line 2: missing size");
    expect_bad(START " S 1000,0\n", EINVAL, "line 2: size 0");
    expect_bad(START " S 1000,99999999\n", EINVAL, "line 2:");
    expect_bad(START " M ffffffffffffffff,8\n", EINVAL, "line 2: access wraps");
    expect_bad(START " L 10000000000000000,8\n", EINVAL,
               "line 2: address over 64 bits");
    expect_bad(START " L 1000,8x\n", EINVAL, "line 2: junk");
    /* truncated: a log must end with a whole line */
    expect_bad(START "==1== hi\n S 7ff0", EINVAL,
               "line 3: the log ends in the middle of a line");
    expect_bad(START " S 7ff0,", EINVAL,
               "line 2: the log ends in the middle of a line");
    expect_bad(START " S 7ff0,4", EINVAL,
               "line 2: the log ends in the middle of a line");
    expect_bad(" L 1000,8\n" START, EINVAL,
               "line 1: data access before the first");
    expect_bad("I  00401000,2\n", EINVAL,
               "line 1: first instruction at 0x401000");
    expect_bad("", EINVAL, "line 0: no lackey instruction lines");
    expect_bad("==1== Lackey\nhello world\n", EINVAL,
               "line 2: no lackey instruction");
    /* processes sharing one log (--log-file without %p): pid 6's call in
     * pid 5's log */
    expect_bad("==5== Command: /bin/busybox\n\n" START
               "SYSCALL[6,6](12) sys_brk ( 0x0 ) --> Success(0x600000)\n",
               EINVAL, "line 4: a system call of another process");
}

static void test_lackey_import_with_non_elf_exec_is_enoexec(void **state)
{
    struct fixture *f = *state;
    struct lackey_stats st;
    char err[256], *out = NULL;
    FILE *fp = fopen(tmp(f, "bad"), "w");

    assert_non_null(fp);
    fputs("#!/bin/sh\necho not an ELF\n", fp);
    fclose(fp);
    assert_int_equal(import_str(START, strlen(START), tmp(f, "bad"), err,
                                sizeof err, &out, &st),
                     ENOEXEC);
    assert_non_null(strstr(err, "not a loadable ELF"));
    free(out);
}

static void test_lackey_import_with_missing_exec_is_enoent(void **state)
{
    struct lackey_stats st;
    char err[256], *out = NULL;

    (void)state;
    assert_int_equal(import_str(START, strlen(START), "/nonexistent/x", err,
                                sizeof err, &out, &st),
                     ENOENT);
    free(out);
}

static void test_lackey_import_without_exec_is_einval(void **state)
{
    struct lackey_stats st;
    char err[256], *out = NULL;

    (void)state;
    assert_int_equal(
        import_str(START, strlen(START), NULL, err, sizeof err, &out, &st),
        EINVAL);
    free(out);
}

/* a dynamically linked program starts in its interpreter: busybox's
 * entry is not ls's interpreter's */
static void test_lackey_import_with_dynamic_exec_starts_in_its_interpreter(
    void **state)
{
    struct lackey_stats st;
    char err[256], *out = NULL;
    const char *dyn = "/usr/bin/ls";

    (void)state;
    assert_int_equal(
        import_str(START, strlen(START), dyn, err, sizeof err, &out, &st),
        EINVAL);
    assert_non_null(strstr(err, "not at its interpreter's entry"));
    free(out);
}

/* Splits at a chunk edge and at the ELF end; the exact relocated text. */
static void test_lackey_accesses_split_at_chunk_edges_and_the_elf_end(
    void **state)
{
    struct lackey_stats st;
    char err[256], *out = NULL;
    /* busybox's last segment ends at 0x5ebb58: page-rounded 0x5ec000 */
    const char *in = START " L 1fff0ffffc,8\n"
                           " S 5ebffc,8\n"
                           " M 5eb000,4\n"
                           "not lackey\n"
                           "SYSCALL[5,1](56) sys_clone ( 1200011 )   "
                           "clone(fork): process 5 created child 6\n"
                           "I  0040ebf2,3\r\n";
    const char *want =
        XVM_TRACE_HEADER "\n"
                         "spawn 1 /bin/busybox\n"
                         "x 1 0x40ebf0 2\n"
                         "mmap 1 0x40000000 1048576 rw- private,fixed\n"
                         "r 1 0x400ffffc 4\n"
                         "mmap 1 0x40100000 1048576 rw- private,fixed\n"
                         "r 1 0x40100000 4\n"
                         "w 1 0x5ebffc 4\n"
                         "mmap 1 0x40200000 1048576 rw- private,fixed\n"
                         "w 1 0x402ec000 4\n"
                         "r 1 0x5eb000 4\n"
                         "w 1 0x5eb000 4\n"
                         "x 1 0x40ebf2 3\n";

    (void)state;
    assert_int_equal(
        import_str(in, strlen(in), BUSYBOX, err, sizeof err, &out, &st), 0);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(st.lines, 7);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.forks, 1);
    assert_int_equal(st.chunks, 3);
    assert_int_equal(st.elf_bytes, 2 + 4 + 4 + 4 + 3);
    assert_int_equal(st.inferred_bytes, 8 + 4);
    assert_int_equal(st.events, 1 + 8 + 3);
}

/* More chunks than fit below TRACE_ANON_LIMIT: ERANGE, no crash. */
static void test_lackey_more_chunks_than_fit_is_erange(void **state)
{
    size_t cap = 1100 * 32 + 64, n = 0;
    char *in = malloc(cap), err[256], *out = NULL;
    struct lackey_stats st;

    (void)state;
    assert_non_null(in);
    n += (size_t)snprintf(in + n, cap - n, START);
    for (unsigned i = 0; i < 1100; i++)
        n += (size_t)snprintf(in + n, cap - n, " L %x,8\n",
                              0x10000000u + i * 0x100000u);
    assert_int_equal(import_str(in, n, BUSYBOX, err, sizeof err, &out, &st),
                     ERANGE);
    assert_non_null(strstr(err, "line 1025"));
    assert_int_equal(st.chunks,
                     (TRACE_ANON_LIMIT - TRACE_ANON_BASE) / TRACE_ANON_CHUNK);
    free(out);
    free(in);
}

/* A line longer than the reader's buffer: skipped when foreign, an error when lackey's. */
#define LONG_LINE ((2u << 20) + 10)

static void test_lackey_overlong_foreign_line_is_skipped(void **state)
{
    size_t big = LONG_LINE, n;
    char *in = malloc(big + 64), err[256], *out = NULL;
    struct lackey_stats st;

    (void)state;
    assert_non_null(in);
    n = (size_t)sprintf(in, START);
    memset(in + n, 'y', big);
    n += big;
    n += (size_t)sprintf(in + n, "\n L 1000,8\n");
    assert_int_equal(import_str(in, n, BUSYBOX, err, sizeof err, &out, &st), 0);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.loads, 1);
    free(out);
    free(in);
}

/* A line of head, LONG_LINE fill bytes and tail is "line too long" at
 * line 2: dropping it would change the trace. */
static void overlong_is_einval(const char *head, char fill, const char *tail)
{
    size_t big = LONG_LINE, n;
    char *in = malloc(big + 128), err[256], *out = NULL;
    struct lackey_stats st;

    assert_non_null(in);
    n = (size_t)sprintf(in, START "%s", head);
    memset(in + n, fill, big);
    n += big;
    n += (size_t)sprintf(in + n, "%s\n", tail);
    assert_int_equal(import_str(in, n, BUSYBOX, err, sizeof err, &out, &st),
                     EINVAL);
    assert_non_null(strstr(err, "line 2: line too long"));
    free(out);
    free(in);
}

static void test_lackey_overlong_lackey_line_is_einval(void **state)
{
    (void)state;
    overlong_is_einval("I  ", '0', "");
}

static void test_lackey_overlong_syscall_line_is_einval(void **state)
{
    (void)state;
    overlong_is_einval("SYSCALL[100,1](231) exit_group( 0", ' ',
                       ") --> [pre-success] Success(0x0) ");
}

/* Arguments with spaces, empty, or starting with '!': carried, escaped. */
static void test_lackey_spawn_arguments_are_escaped(void **state)
{
    static const char want[] =
        "spawn 1 /bin/busybox two\\x20words \\e \\x21x\n";
    struct lackey_opts o = { .exec_host_path = BUSYBOX,
                             .pid = 1,
                             .argc = 3,
                             .argv = (const char *const[]){ "two words", "",
                                                            "!x" } };
    char err[256], *buf = NULL;
    size_t len = 0;
    FILE *in = fmemopen((void *)(uintptr_t)START, strlen(START), "r");
    FILE *of = open_memstream(&buf, &len);
    struct xvm_trace_event ev;

    (void)state;
    assert_int_equal(lackey_import(in, of, &o, NULL, err, sizeof err), 0);
    fclose(in);
    fclose(of);
    char *spawn = strchr(buf, '\n') + 1;
    assert_memory_equal(spawn, want, strlen(want));
    spawn[strlen(want) - 1] = '\0';
    assert_int_equal(xvm_trace_parse_line(spawn, &ev, NULL), 1);
    assert_int_equal(ev.argc, 3);
    assert_string_equal(ev.argv[0], "two words");
    assert_string_equal(ev.argv[1], "");
    assert_string_equal(ev.argv[2], "!x");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lackey_malformed_log_is_einval_naming_the_line),
        cmocka_unit_test(
            test_lackey_accesses_split_at_chunk_edges_and_the_elf_end),
        cmocka_unit_test(test_lackey_more_chunks_than_fit_is_erange),
        cmocka_unit_test(test_lackey_overlong_foreign_line_is_skipped),
        cmocka_unit_test(test_lackey_overlong_lackey_line_is_einval),
        cmocka_unit_test(test_lackey_overlong_syscall_line_is_einval),
        cmocka_unit_test(test_lackey_spawn_arguments_are_escaped),
        cmocka_unit_test_setup_teardown(
            test_lackey_import_with_non_elf_exec_is_enoexec, setup, teardown),
        cmocka_unit_test(test_lackey_import_with_missing_exec_is_enoent),
        cmocka_unit_test(test_lackey_import_without_exec_is_einval),
        cmocka_unit_test(
            test_lackey_import_with_dynamic_exec_starts_in_its_interpreter),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_of_missing_program_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_of_non_executable_is_eacces, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_of_busybox_true_is_a_valid_trace, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_import_of_busybox_true_matches_the_raw_log, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_import_from_a_pipe_equals_the_import_from_a_file, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_passes_the_program_output_through, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_import_of_busybox_echo_matches_the_raw_log, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_of_static_program_maps_heap_and_stack, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_import_of_static_program_writes_its_known_pages, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_of_static_pie_maps_heap_and_stack, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_import_of_static_pie_writes_its_known_pages, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_follows_the_forks_of_the_program, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lackey_record_of_memfd_and_shm_is_shared_memory, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
