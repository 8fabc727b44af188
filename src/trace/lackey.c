/* lackey.c - valgrind lackey (--trace-mem=yes) logs to xipvm v1 traces: import and record. */
#include "lackey.h"

#include "elf.h"
#include "util.h"
#include "xipvm_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CHUNK_MASK (TRACE_ANON_CHUNK - 1)
#define USER_TOP   UINT64_C(0x80000000) /* 32-bit profiles: user VA below this */
#define IBUF_SIZE  (1u << 20)
#define OBUF_SIZE  (1u << 20)
#define LINE_CAP   1024u /* the longest line written (a spawn), NUL included */
#define MAX_CHUNKS ((TRACE_ANON_LIMIT - TRACE_ANON_BASE) / TRACE_ANON_CHUNK)
#define CTAB_SIZE  2048 /* power of two, > 2 * MAX_CHUNKS */
#define LINE_SHOW  40   /* bytes of a bad line quoted in errors */

struct range {
    uint64_t lo, hi; /* [lo, hi) */
};

struct chunk {
    uint64_t key;  /* original chunk number + 1; 0: empty */
    uint64_t base; /* relocated chunk address */
};

/* One importer run; heap-allocated because of the buffers and chunk table. */
struct imp {
    FILE *out;
    struct lackey_stats *st;
    struct trace_err *e;
    uint64_t lineno;

    uint32_t pid;
    struct xvm_trace_event access; /* the r/w/x line being written */

    /* ELF: img[] in file vaddrs; elf[] in traced addresses once the bias is known */
    int is_dyn, started;
    uint64_t entry, delta; /* delta: traced address => trace address */
    unsigned nelf;
    struct range img[ELF_MAX_LOAD], elf[ELF_MAX_LOAD];
    struct range elf_hit; /* last ELF range used (fast path) */

    /* anonymous relocation */
    uint64_t next_anon;
    uint64_t win_lo,
        win_last; /* last anon window, inclusive: one chunk minus the ELF */
    uint64_t win_base; /* trace address of win_lo */
    int win_ok;
    struct chunk ctab[CTAB_SIZE];

    size_t on;
    char obuf[OBUF_SIZE];
    char ibuf[IBUF_SIZE + 1]; /* +1: NUL after a last unterminated line */
};

/* ---------- errors ---------- */

/* => EINVAL with "line N: what: `text`" (text shortened). */
static int bad_line(struct imp *imp, const char *what, const char *s, size_t n)
{
    return trace_fail(imp->e, EINVAL, "line %llu: %s: `%.*s'",
                      (unsigned long long)imp->lineno, what,
                      (int)(n > LINE_SHOW ? LINE_SHOW : n), s);
}

/* ---------- output ---------- */

static int flush_out(struct imp *imp)
{
    if (imp->on > 0 && fwrite(imp->obuf, 1, imp->on, imp->out) != imp->on)
        return trace_fail(imp->e, errno ? errno : EIO, "writing the trace: %s",
                          strerror(errno ? errno : EIO));
    imp->on = 0;
    return 0;
}

static int put_raw(struct imp *imp, const char *s, size_t n)
{
    int r;

    if (imp->on + n > OBUF_SIZE && (r = flush_out(imp)) != 0)
        return r;
    memcpy(imp->obuf + imp->on, s, n);
    imp->on += n;
    return 0;
}

/* Every line goes through the trace formatter, straight into obuf. */
static int put_event(struct imp *imp, const struct xvm_trace_event *ev)
{
    int n, r;

    if (imp->on + LINE_CAP > OBUF_SIZE && (r = flush_out(imp)) != 0)
        return r;
    n = xvm_trace_format_event(ev, imp->obuf + imp->on, LINE_CAP);
    if (n == -ENOSPC)
        return trace_fail(imp->e, EINVAL, "spawn line too long (over %u bytes)",
                          LINE_CAP);
    if (n < 0)
        return trace_fail(imp->e, EINVAL,
                          "cannot write a %s line: a path or argument is "
                          "empty, holds whitespace or starts with '!'",
                          ev->op == XVM_T_SPAWN ? "spawn" : "mmap");
    imp->on += (size_t)n;
    imp->st->events++;
    return 0;
}

/* The hot path: one r/w/x line, from the importer's access event. */
static int put_access(struct imp *imp, enum xvm_trace_op op, uint64_t addr,
                      uint64_t size)
{
    struct xvm_trace_event *ev = &imp->access;
    int r;

    ev->op = op;
    ev->addr = addr;
    ev->len = size;
    if ((r = put_event(imp, ev)) != 0)
        return r;
    if (op == XVM_T_EXEC_FETCH)
        imp->st->ev_x++;
    else if (op == XVM_T_READ)
        imp->st->ev_r++;
    else
        imp->st->ev_w++;
    return 0;
}

/* ---------- the ELF ---------- */

/* Page-round and merge the PT_LOADs (ascending, as elf_parse checks). */
static int take_segments(struct imp *imp, const struct elf_image *im,
                         const char *path)
{
    uint64_t top, shift = im->is_dyn ? ELF_DYN_BASE : 0;

    imp->nelf = 0;
    for (unsigned i = 0; i < im->nload; i++) {
        uint64_t lo = im->load[i].vaddr & ~(TRACE_PAGE - 1);
        uint64_t end = im->load[i].vaddr + im->load[i].memsz;
        uint64_t hi = (end + TRACE_PAGE - 1) & ~(TRACE_PAGE - 1);

        /* a segment at the very top of the space cannot be page-rounded */
        if (hi < end)
            return trace_fail(imp->e, ERANGE, "%s: segment ends above 2^64",
                              path);
        if (imp->nelf > 0 && lo <= imp->img[imp->nelf - 1].hi) {
            if (hi > imp->img[imp->nelf - 1].hi)
                imp->img[imp->nelf - 1].hi = hi;
            continue;
        }
        imp->img[imp->nelf].lo = lo;
        imp->img[imp->nelf++].hi = hi;
    }
    top = imp->img[imp->nelf - 1].hi + shift;
    /* the trace must fit a 32-bit profile */
    if (top > USER_TOP || top < shift)
        return trace_fail(imp->e, ERANGE,
                          "%s: segments end at 0x%llx, above 0x%llx: the trace "
                          "would not fit a 32-bit profile",
                          path, (unsigned long long)top,
                          (unsigned long long)USER_TOP);
    imp->next_anon = trace_anon_start(top);
    return 0;
}

static int load_elf(struct imp *imp, const char *path)
{
    struct elf_image im;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    r = trace_load_elf(imp->e, path, &buf, &len, &im);
    free(buf);
    if (r != 0)
        return r;
    imp->is_dyn = im.is_dyn;
    imp->entry = im.entry;
    return take_segments(imp, &im, path);
}

/* The first instruction is the entry: fixes the ET_DYN bias and checks --exec. */
static int start_at(struct imp *imp, uint64_t addr)
{
    uint64_t bias = addr - imp->entry;

    if (!imp->is_dyn && addr != imp->entry)
        return trace_fail(imp->e, EINVAL,
                          "line %llu: first instruction at 0x%llx, not at the "
                          "ELF entry 0x%llx: is --exec the traced program?",
                          (unsigned long long)imp->lineno,
                          (unsigned long long)addr,
                          (unsigned long long)imp->entry);
    if (imp->is_dyn && (addr < imp->entry || (bias & (TRACE_PAGE - 1)) != 0))
        return trace_fail(
            imp->e, EINVAL,
            "line %llu: first instruction at 0x%llx does not "
            "match the ET_DYN entry 0x%llx at a page-aligned bias: is "
            "--exec the traced program?",
            (unsigned long long)imp->lineno, (unsigned long long)addr,
            (unsigned long long)imp->entry);
    if (bias > UINT64_MAX - imp->img[imp->nelf - 1].hi)
        return trace_fail(imp->e, EINVAL,
                          "line %llu: load bias 0x%llx puts the image above "
                          "2^64",
                          (unsigned long long)imp->lineno,
                          (unsigned long long)bias);
    for (unsigned i = 0; i < imp->nelf; i++) {
        imp->elf[i].lo = imp->img[i].lo + bias;
        imp->elf[i].hi = imp->img[i].hi + bias;
    }
    imp->delta = (imp->is_dyn ? ELF_DYN_BASE : 0) - bias;
    imp->elf_hit = imp->elf[0];
    imp->started = 1;
    return 0;
}

/* ---------- relocation ---------- */

/* => the ELF range holding a, or NULL and [*gap_lo, *gap_hi) = the gap around a. */
static const struct range *elf_find(const struct imp *imp, uint64_t a,
                                    uint64_t *gap_lo, uint64_t *gap_hi)
{
    *gap_lo = 0;
    *gap_hi = UINT64_MAX; /* no range starts there: it is page-aligned */
    for (unsigned i = 0; i < imp->nelf; i++) {
        if (a < imp->elf[i].lo) {
            *gap_hi = imp->elf[i].lo;
            return NULL;
        }
        if (a < imp->elf[i].hi)
            return &imp->elf[i];
        *gap_lo = imp->elf[i].hi;
    }
    return NULL;
}

/* => *base: the relocated address of the chunk holding a; announces new chunks. */
static int chunk_base(struct imp *imp, uint64_t a, uint64_t *base)
{
    struct xvm_trace_event ev;
    uint64_t key = (a >> 20) + 1;
    size_t i =
        (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 53) & (CTAB_SIZE - 1);
    int r;

    for (; imp->ctab[i].key != 0; i = (i + 1) & (CTAB_SIZE - 1)) {
        if (imp->ctab[i].key == key) {
            *base = imp->ctab[i].base;
            return 0;
        }
    }
    if (imp->next_anon + TRACE_ANON_CHUNK > TRACE_ANON_LIMIT)
        return trace_fail(
            imp->e, ERANGE,
            "line %llu: more anonymous memory than fits below "
            "0x%llx (%llu chunks of 1 MiB): the trace would not fit a "
            "32-bit profile",
            (unsigned long long)imp->lineno,
            (unsigned long long)TRACE_ANON_LIMIT,
            (unsigned long long)imp->st->chunks);
    memset(&ev, 0, sizeof ev);
    ev.op = XVM_T_MMAP;
    ev.pid = imp->pid;
    ev.addr = imp->next_anon;
    ev.len = TRACE_ANON_CHUNK;
    ev.prot = XVM_PROT_READ | XVM_PROT_WRITE;
    ev.fixed = 1;
    if ((r = put_event(imp, &ev)) != 0)
        return r;
    imp->ctab[i].key = key;
    imp->ctab[i].base = *base = imp->next_anon;
    imp->next_anon += TRACE_ANON_CHUNK;
    imp->st->ev_mmap++;
    imp->st->chunks++;
    return 0;
}

/* Make the anon window (one chunk minus the ELF) around a, a not in the ELF. */
static int set_window(struct imp *imp, uint64_t a, uint64_t gap_lo,
                      uint64_t gap_hi)
{
    uint64_t clo = a & ~CHUNK_MASK, base;
    uint64_t glast = gap_hi == UINT64_MAX ? UINT64_MAX : gap_hi - 1;
    int r;

    if ((r = chunk_base(imp, a, &base)) != 0)
        return r;
    imp->win_lo = gap_lo > clo ? gap_lo : clo;
    /* inclusive end: the last chunk of the space ends at 2^64 - 1 */
    imp->win_last = glast < clo + CHUNK_MASK ? glast : clo + CHUNK_MASK;
    imp->win_base = base + (imp->win_lo & CHUNK_MASK);
    imp->win_ok = 1;
    return 0;
}

/* Emit one access piece by piece: each piece lies in one ELF range or one anon window. */
static int access_slow(struct imp *imp, enum xvm_trace_op op, uint64_t a,
                       uint64_t n)
{
    const struct range *e;
    uint64_t gap_lo, gap_hi, piece;
    int r;

    while (n > 0) {
        if ((e = elf_find(imp, a, &gap_lo, &gap_hi)) != NULL) {
            piece = e->hi - a < n ? e->hi - a : n;
            imp->elf_hit = *e;
            imp->st->elf_bytes += piece;
            r = put_access(imp, op, a + imp->delta, piece);
        } else {
            if ((r = set_window(imp, a, gap_lo, gap_hi)) != 0)
                return r;
            /* the window is within one chunk: no overflow */
            piece = imp->win_last - a + 1 < n ? imp->win_last - a + 1 : n;
            imp->st->inferred_bytes += piece;
            r = put_access(imp, op, imp->win_base + (a - imp->win_lo), piece);
        }
        if (r != 0)
            return r;
        a += piece;
        n -= piece;
    }
    return 0;
}

/* => n >= 1 and a + n - 1 does not wrap (the parser checks). */
static int do_access(struct imp *imp, enum xvm_trace_op op, uint64_t a,
                     uint64_t n)
{
    uint64_t last = a + (n - 1);

    if (a >= imp->elf_hit.lo && last < imp->elf_hit.hi) {
        imp->st->elf_bytes += n;
        return put_access(imp, op, a + imp->delta, n);
    }
    if (imp->win_ok && a >= imp->win_lo && last <= imp->win_last) {
        imp->st->inferred_bytes += n;
        return put_access(imp, op, imp->win_base + (a - imp->win_lo), n);
    }
    return access_slow(imp, op, a, n);
}

/* ---------- parsing ---------- */

static const signed char *hexval(void)
{
    static const signed char t[256] = {
        ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
        ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
        ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
        ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    };
    return t; /* digit value + 1; 0: not a hex digit */
}

/* `HEX,DEC` then optional blanks; => 0 or EINVAL via bad_line. */
static int parse_access(struct imp *imp, const char *line, size_t len,
                        const char *p, const char *end, uint64_t *addr,
                        uint64_t *size)
{
    const signed char *hv = hexval();
    uint64_t a = 0, n = 0;
    const char *q = p;

    for (; p < end && hv[(unsigned char)*p] != 0; p++)
        a = (a << 4) | (uint64_t)(hv[(unsigned char)*p] - 1);
    if (p == q)
        return bad_line(imp, "bad address", line, len);
    if (p - q > 16)
        return bad_line(imp, "address over 64 bits", line, len);
    if (p == end || *p != ',')
        return bad_line(imp, "missing ',SIZE'", line, len);
    for (q = ++p; p < end && *p >= '0' && *p <= '9' && p - q < 8; p++)
        n = n * 10 + (uint64_t)(*p - '0');
    if (p == q)
        return bad_line(imp, "missing size", line, len);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p != end)
        return bad_line(imp, "junk after size", line, len);
    if (n == 0 || n > LACKEY_MAX_SIZE)
        return bad_line(imp, "size 0 or too large", line, len);
    if (a + (n - 1) < a)
        return bad_line(imp, "access wraps past 2^64", line, len);
    *addr = a;
    *size = n;
    return 0;
}

/* A SYSCALL line telling that the traced process forked (fork, vfork, clone-as-fork). */
static int is_fork_line(const char *s, size_t n)
{
    return n > 8 && memcmp(s, "SYSCALL[", 8) == 0 &&
           strstr(s, "created child") != NULL;
}

/* => 'I', 'L', 'S', 'M' for a line lackey's --trace-mem wrote, else 0. */
static char lackey_kind(const char *s, size_t n)
{
    if (n >= 3 && s[0] == 'I' && s[1] == ' ' && s[2] == ' ')
        return 'I';
    if (n >= 3 && s[0] == ' ' && s[2] == ' ' &&
        (s[1] == 'L' || s[1] == 'S' || s[1] == 'M'))
        return s[1];
    return 0;
}

/* => s[n] == '\0'; 0 or an errno. */
static int do_line(struct imp *imp, const char *s, size_t n)
{
    uint64_t a = 0, size = 0;
    char kind;
    int r;

    imp->lineno++;
    imp->st->lines++;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if ((kind = lackey_kind(s, n)) == 0) {
        imp->st->skipped++;
        if (is_fork_line(s, n))
            imp->st->forks++;
        return 0;
    }
    if ((r = parse_access(imp, s, n, s + 3, s + n, &a, &size)) != 0)
        return r;
    if (!imp->started) {
        if (kind != 'I')
            return bad_line(imp, "data access before the first instruction", s,
                            n);
        if ((r = start_at(imp, a)) != 0)
            return r;
    }
    switch (kind) {
    case 'I':
        imp->st->instr++;
        return do_access(imp, XVM_T_EXEC_FETCH, a, size);
    case 'L': imp->st->loads++; return do_access(imp, XVM_T_READ, a, size);
    case 'S': imp->st->stores++; return do_access(imp, XVM_T_WRITE, a, size);
    default:
        imp->st->modifies++;
        if ((r = do_access(imp, XVM_T_READ, a, size)) != 0)
            return r;
        return do_access(imp, XVM_T_WRITE, a, size);
    }
}

/* Streams lines through do_line; a line longer than the buffer is skipped, or an error if it is lackey's. */
static int run(struct imp *imp, FILE *in)
{
    size_t have = 0, pos = 0, got;
    int r, eof = 0, skipping = 0;

    for (;;) {
        char *nl =
            have > pos ? memchr(imp->ibuf + pos, '\n', have - pos) : NULL;

        if (nl != NULL) {
            *nl = '\0';
            if (!skipping && (r = do_line(imp, imp->ibuf + pos,
                                          (size_t)(nl - imp->ibuf) - pos)) != 0)
                return r;
            skipping = 0;
            pos = (size_t)(nl - imp->ibuf) + 1;
            continue;
        }
        if (eof) {
            imp->ibuf[have] = '\0';
            if (have > pos && !skipping)
                return do_line(imp, imp->ibuf + pos, have - pos);
            return 0;
        }
        memmove(imp->ibuf, imp->ibuf + pos, have - pos);
        have -= pos;
        pos = 0;
        if (have == IBUF_SIZE) {
            /* an overlong line: judge it by its start, then drop the rest */
            if (!skipping) {
                imp->lineno++;
                imp->st->lines++;
                imp->st->skipped++;
                if (lackey_kind(imp->ibuf, have) != 0)
                    return bad_line(imp, "line too long", imp->ibuf, have);
            }
            skipping = 1;
            have = 0;
        }
        got = fread(imp->ibuf + have, 1, IBUF_SIZE - have, in);
        have += got;
        if (got == 0) {
            if (ferror(in))
                return trace_fail(imp->e, errno ? errno : EIO,
                                  "reading the lackey log: %s",
                                  strerror(errno ? errno : EIO));
            eof = 1;
        }
    }
}

/* ---------- import ---------- */

static int write_head(struct imp *imp, const struct lackey_opts *o)
{
    struct xvm_trace_event ev;
    int r;

    if (o->argc > XVM_TRACE_MAX_ARGS || (o->argc > 0 && o->argv == NULL))
        return trace_fail(imp->e, EINVAL,
                          "too many spawn arguments (%u, at most %d)", o->argc,
                          XVM_TRACE_MAX_ARGS);
    static const char head[] = XVM_TRACE_HEADER "\n";

    if ((r = put_raw(imp, head, sizeof head - 1)) != 0)
        return r;
    memset(&ev, 0, sizeof ev);
    ev.op = XVM_T_SPAWN;
    ev.pid = imp->pid;
    ev.path = o->path_in_image != NULL ? o->path_in_image : o->exec_host_path;
    ev.argc = o->argc;
    for (unsigned i = 0; i < o->argc; i++) {
        ev.argv[i] = o->argv[i];
        if (!xvm_trace_token_ok(o->argv[i]))
            return trace_fail(imp->e, EINVAL,
                              "spawn argument `%s' is empty, holds whitespace "
                              "or starts with '!': a v1 trace cannot carry it",
                              o->argv[i] != NULL ? o->argv[i] : "(null)");
    }
    return put_event(imp, &ev);
}

static struct imp *imp_new(FILE *out, const struct lackey_opts *o,
                           struct lackey_stats *st, struct trace_err *e)
{
    struct imp *imp = calloc(1, sizeof *imp);

    if (imp == NULL)
        return NULL;
    imp->out = out;
    imp->st = st;
    imp->e = e;
    imp->pid = o->pid;
    xvm_trace_event_reset(&imp->access);
    imp->access.pid = o->pid;
    imp->elf_hit.lo = imp->elf_hit.hi =
        0; /* empty until the first instruction */
    return imp;
}

/* Everything before reading the log: so record can fail before running valgrind. */
static int imp_prepare(struct imp *imp, const struct lackey_opts *o)
{
    int r;

    if ((r = load_elf(imp, o->exec_host_path)) != 0)
        return r;
    return write_head(imp, o);
}

static int imp_finish(struct imp *imp, FILE *in)
{
    int r = run(imp, in);

    if (r == 0 && imp->st->instr == 0)
        r = trace_fail(imp->e, EINVAL,
                       "line %llu: no lackey instruction lines: is this the "
                       "output of valgrind --tool=lackey --trace-mem=yes?",
                       (unsigned long long)imp->lineno);
    if (r == 0)
        r = flush_out(imp);
    if (r == 0 && fflush(imp->out) != 0)
        r = trace_fail(imp->e, errno ? errno : EIO, "writing the trace: %s",
                       strerror(errno ? errno : EIO));
    return r;
}

int lackey_import(FILE *in, FILE *out, const struct lackey_opts *o,
                  struct lackey_stats *st, char *err, size_t errlen)
{
    struct lackey_stats local;
    struct trace_err e;
    struct imp *imp;
    int r;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof *st);
    trace_err_init(&e, err, errlen);
    if (in == NULL || out == NULL || o == NULL)
        return trace_fail(&e, EINVAL, "lackey_import: NULL argument");
    if ((imp = imp_new(out, o, st, &e)) == NULL)
        return trace_fail(&e, ENOMEM, "out of memory");
    r = imp_prepare(imp, o);
    if (r == 0)
        r = imp_finish(imp, in);
    free(imp);
    return r;
}

/* ---------- record ---------- */

/* => path of prog: itself when it holds '/', else the first executable in $PATH. */
static int find_program(const char *prog, char *buf, size_t cap)
{
    const char *dirs = getenv("PATH");

    if (strchr(prog, '/') != NULL) {
        if (strlen(prog) >= cap)
            return ENAMETOOLONG;
        strcpy(buf, prog);
        return access(prog, X_OK) == 0 ? 0 : errno;
    }
    for (const char *d = dirs != NULL ? dirs : "/usr/bin:/bin";; d++) {
        size_t n = strcspn(d, ":");
        int w = snprintf(buf, cap, "%.*s/%s", (int)n, n > 0 ? d : ".", prog);

        if (w > 0 && (size_t)w < cap && access(buf, X_OK) == 0)
            return 0;
        d += n;
        if (*d == '\0')
            return ENOENT;
    }
}

struct child {
    pid_t pid;
    int logfd; /* read end of the log pipe */
};

/* The file actions that route the log pipe and the program's stdio. */
static int child_fds(posix_spawn_file_actions_t *fa, int wfd, int logfd,
                     FILE *out, int quiet)
{
    int r = posix_spawn_file_actions_adddup2(fa, wfd, logfd);

    if (r == 0 && quiet) {
        r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
        if (r == 0)
            r = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY,
                                                 0);
        if (r == 0)
            r = posix_spawn_file_actions_adddup2(fa, 1, 2);
    } else if (r == 0 && fileno(out) == 1) {
        /* the program must not write into the trace */
        r = posix_spawn_file_actions_adddup2(fa, 2, 1);
    }
    return r;
}

/* => vargv: valgrind's argv for prog + args (caller frees). */
static const char **valgrind_argv(const char *prog, const char *const *argv,
                                  int logfd, char *fdopt, size_t fdcap)
{
    static const char *const head[] = {
        "valgrind",
        "--tool=lackey",
        "--trace-mem=yes",
        "--trace-syscalls=yes",
        "--trace-children=no",
        "--child-silent-after-fork=yes",
    };
    size_t nh = sizeof head / sizeof head[0], na = 0, k = 0;
    const char **v;

    while (argv[na] != NULL)
        na++;
    if ((v = calloc(nh + na + 4, sizeof *v)) == NULL)
        return NULL;
    snprintf(fdopt, fdcap, "--log-fd=%d", logfd);
    for (size_t i = 0; i < nh; i++)
        v[k++] = head[i];
    v[k++] = fdopt;
    v[k++] = "--";
    v[k++] = prog;
    for (size_t i = 1; i < na; i++)
        v[k++] = argv[i];
    return v;
}

static int spawn_valgrind(struct imp *imp, const char *prog,
                          const char *const *argv, FILE *out, int quiet,
                          struct child *c)
{
    posix_spawn_file_actions_t fa;
    char fdopt[32];
    const char **v;
    int p[2], r, logfd;

    if (pipe(p) != 0)
        return trace_fail(imp->e, errno, "pipe: %s", strerror(errno));
    /* neither end leaks into other children; the child gets a dup2'd copy */
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    logfd = p[1] == 3 ? 4 : 3;
    v = valgrind_argv(prog, argv, logfd, fdopt, sizeof fdopt);
    r = v == NULL ? ENOMEM : posix_spawn_file_actions_init(&fa);
    if (r == 0) {
        r = child_fds(&fa, p[1], logfd, out, quiet);
        if (r == 0)
            r = posix_spawnp(&c->pid, "valgrind", &fa, NULL, (char *const *)v,
                             environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    free(v);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        return trace_fail(imp->e, r, "cannot run valgrind: %s", strerror(r));
    }
    c->logfd = p[0];
    return 0;
}

static int wait_child(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

/* Import from the pipe; on failure stop valgrind rather than let it block. */
static int import_child(struct imp *imp, struct child *c, int *status)
{
    FILE *in = fdopen(c->logfd, "r");
    int r, w;

    if (in == NULL) {
        r = trace_fail(imp->e, errno, "fdopen: %s", strerror(errno));
        close(c->logfd);
    } else {
        r = imp_finish(imp, in);
        fclose(in);
    }
    if (r != 0)
        kill(c->pid, SIGKILL);
    if ((w = wait_child(c->pid, status)) != 0 && r == 0)
        r = trace_fail(imp->e, w, "waitpid: %s", strerror(w));
    return r;
}

int lackey_record(const char *const *argv, FILE *out,
                  const struct lackey_opts *o, struct lackey_stats *st,
                  int *child_status, char *err, size_t errlen)
{
    struct lackey_stats local;
    struct lackey_opts eo;
    struct trace_err e;
    struct child c;
    struct imp *imp;
    char prog[4096];
    int r, status = 0;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof *st);
    trace_err_init(&e, err, errlen);
    if (argv == NULL || argv[0] == NULL || out == NULL || o == NULL)
        return trace_fail(&e, EINVAL, "lackey_record: no program");
    if ((imp = imp_new(out, o, st, &e)) == NULL)
        return trace_fail(&e, ENOMEM, "out of memory");
    eo = *o;
    if ((r = find_program(argv[0], prog, sizeof prog)) != 0) {
        r = trace_fail(imp->e, r, "%s: %s", argv[0], strerror(r));
        goto done;
    }
    if (eo.exec_host_path == NULL)
        eo.exec_host_path = prog;
    if (eo.argv == NULL) {
        eo.argv = argv + 1;
        for (eo.argc = 0; argv[eo.argc + 1] != NULL; eo.argc++)
            ;
    }
    if ((r = imp_prepare(imp, &eo)) != 0 ||
        (r = spawn_valgrind(imp, prog, argv, out, o->quiet, &c)) != 0)
        goto done;
    r = import_child(imp, &c, &status);
    if (child_status != NULL)
        *child_status = status;
    /* valgrind itself failed (bad option, program not runnable): no log */
    if (r == EINVAL && st->instr == 0 &&
        !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        r = trace_fail(imp->e, ECHILD,
                       "valgrind produced no trace (wait status 0x%x); "
                       "see its messages above",
                       (unsigned)status);
done:
    free(imp);
    return r;
}
