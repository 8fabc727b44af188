/* lackey.c - valgrind lackey (--trace-mem=yes) logs to xipvm v1 traces: import and record. */
#include "lackey.h"

#include "elf.h"
#include "xipvm_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PAGE       UINT64_C(0x1000)
#define CHUNK_MASK (LACKEY_CHUNK - 1)
#define USER_TOP   UINT64_C(0x80000000)  /* 32-bit profiles: user VA below this */
#define IBUF_SIZE  (1u << 20)
#define OBUF_SIZE  (1u << 20)
#define OBUF_SLACK 64                     /* room for one r/w/x line */
#define MAX_CHUNKS ((LACKEY_ANON_LIMIT - LACKEY_ANON_BASE) / LACKEY_CHUNK)
#define CTAB_SIZE  2048                   /* power of two, > 2 * MAX_CHUNKS */
#define LINE_SHOW  40                     /* bytes of a bad line quoted in errors */

struct range {
    uint64_t lo, hi;                      /* [lo, hi) */
};

struct chunk {
    uint64_t key;                         /* original chunk number + 1; 0: empty */
    uint64_t base;                        /* relocated chunk address */
};

/* One importer run; heap-allocated because of the buffers and chunk table. */
struct imp {
    FILE *out;
    struct lackey_stats *st;
    char *err;
    size_t errlen;
    uint64_t lineno;

    uint32_t pid;
    char pidstr[12];
    size_t pidlen;

    /* ELF: img[] in file vaddrs; elf[] in traced addresses once the bias is known */
    int is_dyn, started;
    uint64_t entry, delta;                /* delta: traced address => trace address */
    unsigned nelf;
    struct range img[ELF_MAX_LOAD], elf[ELF_MAX_LOAD];
    struct range elf_hit;                 /* last ELF range used (fast path) */

    /* anonymous relocation */
    uint64_t next_anon;
    uint64_t win_lo, win_last;            /* last anon window, inclusive: one chunk minus the ELF */
    uint64_t win_base;                    /* trace address of win_lo */
    int win_ok;
    struct chunk ctab[CTAB_SIZE];

    size_t on;
    char obuf[OBUF_SIZE];
    char ibuf[IBUF_SIZE + 1];             /* +1: NUL after a last unterminated line */
};

/* ---------- errors ---------- */

static int fail(struct imp *m, int e, const char *fmt, ...)
{
    va_list ap;

    if (m->err != NULL && m->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(m->err, m->errlen, fmt, ap);
        va_end(ap);
    }
    return e;
}

/* => EINVAL with "line N: what: `text`" (text shortened). */
static int bad_line(struct imp *m, const char *what, const char *s, size_t n)
{
    return fail(m, EINVAL, "line %llu: %s: `%.*s'", (unsigned long long)m->lineno,
                what, (int)(n > LINE_SHOW ? LINE_SHOW : n), s);
}

/* ---------- output ---------- */

static int flush_out(struct imp *m)
{
    if (m->on > 0 && fwrite(m->obuf, 1, m->on, m->out) != m->on)
        return fail(m, errno ? errno : EIO, "writing the trace: %s",
                    strerror(errno ? errno : EIO));
    m->on = 0;
    return 0;
}

static int put_raw(struct imp *m, const char *s, size_t n)
{
    int r;

    if (m->on + n > OBUF_SIZE && (r = flush_out(m)) != 0)
        return r;
    memcpy(m->obuf + m->on, s, n);
    m->on += n;
    return 0;
}

/* Rare lines (spawn, mmap) go through the canonical formatter. */
static int put_event(struct imp *m, const struct xvm_trace_event *ev)
{
    char line[1024];
    int n = xvm_trace_format_event(ev, line, sizeof line);

    if (n == -ENOSPC)
        return fail(m, EINVAL, "spawn line too long (over %zu bytes)", sizeof line);
    if (n < 0)
        return fail(m, EINVAL, "cannot write a %s line: a path or argument is "
                    "empty, holds whitespace or starts with '!'",
                    ev->op == XVM_T_SPAWN ? "spawn" : "mmap");
    m->st->events++;
    return put_raw(m, line, (size_t)n);
}

static char *put_hex(char *p, uint64_t v)
{
    static const char dig[] = "0123456789abcdef";
    int sh = 60;

    *p++ = '0';
    *p++ = 'x';
    while (sh > 0 && (v >> sh) == 0)
        sh -= 4;
    for (; sh >= 0; sh -= 4)
        *p++ = dig[(v >> sh) & 15];
    return p;
}

static char *put_dec(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* Hot path: the same text xvm_trace_format_event writes, without its checks. */
static int put_access(struct imp *m, char op, uint64_t addr, uint64_t size)
{
    char *p;
    int r;

    if (m->on + OBUF_SLACK > OBUF_SIZE && (r = flush_out(m)) != 0)
        return r;
    p = m->obuf + m->on;
    *p++ = op;
    *p++ = ' ';
    memcpy(p, m->pidstr, m->pidlen);
    p += m->pidlen;
    *p++ = ' ';
    p = put_hex(p, addr);
    *p++ = ' ';
    p = put_dec(p, size);
    *p++ = '\n';
    m->on = (size_t)(p - m->obuf);
    m->st->events++;
    if (op == 'x')
        m->st->ev_x++;
    else if (op == 'r')
        m->st->ev_r++;
    else
        m->st->ev_w++;
    return 0;
}

/* ---------- the ELF ---------- */

static int read_file(struct imp *m, const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    int e;

    if (f == NULL)
        return fail(m, errno, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        fclose(f);
        return fail(m, ENOEXEC, "%s: not a regular non-empty file", path);
    }
    *len = (size_t)sb.st_size;
    *buf = malloc(*len);
    if (*buf == NULL) {
        fclose(f);
        return fail(m, ENOMEM, "%s: out of memory", path);
    }
    if (fread(*buf, 1, *len, f) != *len) {
        e = ferror(f) && errno ? errno : EIO;
        free(*buf);
        fclose(f);
        return fail(m, e, "%s: read failed", path);
    }
    fclose(f);
    return 0;
}

/* Page-round and merge the PT_LOADs (ascending, as elf_parse checks). */
static int take_segments(struct imp *m, const struct elf_image *im, const char *path)
{
    uint64_t top, shift = im->is_dyn ? ELF_DYN_BASE : 0;

    m->nelf = 0;
    for (unsigned i = 0; i < im->nload; i++) {
        uint64_t lo = im->load[i].vaddr & ~(PAGE - 1);
        uint64_t end = im->load[i].vaddr + im->load[i].memsz;
        uint64_t hi = (end + PAGE - 1) & ~(PAGE - 1);

        /* a segment at the very top of the space cannot be page-rounded */
        if (hi < end)
            return fail(m, ERANGE, "%s: segment ends above 2^64", path);
        if (m->nelf > 0 && lo <= m->img[m->nelf - 1].hi) {
            if (hi > m->img[m->nelf - 1].hi)
                m->img[m->nelf - 1].hi = hi;
            continue;
        }
        m->img[m->nelf].lo = lo;
        m->img[m->nelf++].hi = hi;
    }
    top = m->img[m->nelf - 1].hi + shift;
    /* the trace must fit a 32-bit profile */
    if (top > USER_TOP || top < shift)
        return fail(m, ERANGE, "%s: segments end at 0x%llx, above 0x%llx: the trace "
                    "would not fit a 32-bit profile", path,
                    (unsigned long long)top, (unsigned long long)USER_TOP);
    m->next_anon = LACKEY_ANON_BASE;
    /* anonymous chunks go above the program when it reaches their base */
    if (top > LACKEY_ANON_BASE)
        m->next_anon = (top + CHUNK_MASK) & ~CHUNK_MASK;
    return 0;
}

static int load_elf(struct imp *m, const char *path)
{
    struct elf_image im;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    if (path == NULL)
        return fail(m, EINVAL, "no ELF program given (--exec)");
    if ((r = read_file(m, path, &buf, &len)) != 0)
        return r;
    r = elf_parse(buf, len, &im);
    free(buf);
    if (r != 0)
        return fail(m, ENOEXEC, "%s: not a loadable ELF program", path);
    /* the first instruction would be the interpreter's, not the program's */
    if (im.has_interp)
        return fail(m, ENOEXEC, "%s: dynamically linked (PT_INTERP); only static "
                    "programs (-static, -static-pie) can be imported", path);
    m->is_dyn = im.is_dyn;
    m->entry = im.entry;
    return take_segments(m, &im, path);
}

/* The first instruction is the entry: fixes the ET_DYN bias and checks --exec. */
static int start_at(struct imp *m, uint64_t addr)
{
    uint64_t bias = addr - m->entry;

    if (!m->is_dyn && addr != m->entry)
        return fail(m, EINVAL, "line %llu: first instruction at 0x%llx, not at the "
                    "ELF entry 0x%llx: is --exec the traced program?",
                    (unsigned long long)m->lineno, (unsigned long long)addr,
                    (unsigned long long)m->entry);
    if (m->is_dyn && (addr < m->entry || (bias & (PAGE - 1)) != 0))
        return fail(m, EINVAL, "line %llu: first instruction at 0x%llx does not "
                    "match the ET_DYN entry 0x%llx at a page-aligned bias: is "
                    "--exec the traced program?", (unsigned long long)m->lineno,
                    (unsigned long long)addr, (unsigned long long)m->entry);
    if (bias > UINT64_MAX - m->img[m->nelf - 1].hi)
        return fail(m, EINVAL, "line %llu: load bias 0x%llx puts the image above "
                    "2^64", (unsigned long long)m->lineno, (unsigned long long)bias);
    for (unsigned i = 0; i < m->nelf; i++) {
        m->elf[i].lo = m->img[i].lo + bias;
        m->elf[i].hi = m->img[i].hi + bias;
    }
    m->delta = (m->is_dyn ? ELF_DYN_BASE : 0) - bias;
    m->elf_hit = m->elf[0];
    m->started = 1;
    return 0;
}

/* ---------- relocation ---------- */

/* => the ELF range holding a, or NULL and [*gap_lo, *gap_hi) = the gap around a. */
static const struct range *elf_find(const struct imp *m, uint64_t a,
                                    uint64_t *gap_lo, uint64_t *gap_hi)
{
    *gap_lo = 0;
    *gap_hi = UINT64_MAX;                 /* no range starts there: it is page-aligned */
    for (unsigned i = 0; i < m->nelf; i++) {
        if (a < m->elf[i].lo) {
            *gap_hi = m->elf[i].lo;
            return NULL;
        }
        if (a < m->elf[i].hi)
            return &m->elf[i];
        *gap_lo = m->elf[i].hi;
    }
    return NULL;
}

/* => *base: the relocated address of the chunk holding a; announces new chunks. */
static int chunk_base(struct imp *m, uint64_t a, uint64_t *base)
{
    struct xvm_trace_event ev;
    uint64_t key = (a >> 20) + 1;
    size_t i = (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> 53) & (CTAB_SIZE - 1);
    int r;

    for (; m->ctab[i].key != 0; i = (i + 1) & (CTAB_SIZE - 1)) {
        if (m->ctab[i].key == key) {
            *base = m->ctab[i].base;
            return 0;
        }
    }
    if (m->next_anon + LACKEY_CHUNK > LACKEY_ANON_LIMIT)
        return fail(m, ERANGE, "line %llu: more anonymous memory than fits below "
                    "0x%llx (%llu chunks of 1 MiB): the trace would not fit a "
                    "32-bit profile", (unsigned long long)m->lineno,
                    (unsigned long long)LACKEY_ANON_LIMIT,
                    (unsigned long long)m->st->chunks);
    memset(&ev, 0, sizeof ev);
    ev.op = XVM_T_MMAP;
    ev.pid = m->pid;
    ev.addr = m->next_anon;
    ev.len = LACKEY_CHUNK;
    ev.prot = XVM_PROT_READ | XVM_PROT_WRITE;
    ev.fixed = 1;
    if ((r = put_event(m, &ev)) != 0)
        return r;
    m->ctab[i].key = key;
    m->ctab[i].base = *base = m->next_anon;
    m->next_anon += LACKEY_CHUNK;
    m->st->ev_mmap++;
    m->st->chunks++;
    return 0;
}

/* Make the anon window (one chunk minus the ELF) around a, a not in the ELF. */
static int set_window(struct imp *m, uint64_t a, uint64_t gap_lo, uint64_t gap_hi)
{
    uint64_t clo = a & ~CHUNK_MASK, base;
    uint64_t glast = gap_hi == UINT64_MAX ? UINT64_MAX : gap_hi - 1;
    int r;

    if ((r = chunk_base(m, a, &base)) != 0)
        return r;
    m->win_lo = gap_lo > clo ? gap_lo : clo;
    /* inclusive end: the last chunk of the space ends at 2^64 - 1 */
    m->win_last = glast < clo + CHUNK_MASK ? glast : clo + CHUNK_MASK;
    m->win_base = base + (m->win_lo & CHUNK_MASK);
    m->win_ok = 1;
    return 0;
}

/* Emit one access piece by piece: each piece lies in one ELF range or one anon window. */
static int access_slow(struct imp *m, char op, uint64_t a, uint64_t n)
{
    const struct range *e;
    uint64_t gap_lo, gap_hi, piece;
    int r;

    while (n > 0) {
        if ((e = elf_find(m, a, &gap_lo, &gap_hi)) != NULL) {
            piece = e->hi - a < n ? e->hi - a : n;
            m->elf_hit = *e;
            m->st->elf_bytes += piece;
            r = put_access(m, op, a + m->delta, piece);
        } else {
            if ((r = set_window(m, a, gap_lo, gap_hi)) != 0)
                return r;
            /* the window is within one chunk: no overflow */
            piece = m->win_last - a + 1 < n ? m->win_last - a + 1 : n;
            m->st->inferred_bytes += piece;
            r = put_access(m, op, m->win_base + (a - m->win_lo), piece);
        }
        if (r != 0)
            return r;
        a += piece;
        n -= piece;
    }
    return 0;
}

/* => n >= 1 and a + n - 1 does not wrap (the parser checks). */
static int do_access(struct imp *m, char op, uint64_t a, uint64_t n)
{
    uint64_t last = a + (n - 1);

    if (a >= m->elf_hit.lo && last < m->elf_hit.hi) {
        m->st->elf_bytes += n;
        return put_access(m, op, a + m->delta, n);
    }
    if (m->win_ok && a >= m->win_lo && last <= m->win_last) {
        m->st->inferred_bytes += n;
        return put_access(m, op, m->win_base + (a - m->win_lo), n);
    }
    return access_slow(m, op, a, n);
}

/* ---------- parsing ---------- */

static const signed char *hexval(void)
{
    static const signed char t[256] = {
        ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
        ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
        ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
        ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    };
    return t;                             /* digit value + 1; 0: not a hex digit */
}

/* `HEX,DEC` then optional blanks; => 0 or EINVAL via bad_line. */
static int parse_access(struct imp *m, const char *line, size_t len, const char *p,
                        const char *end, uint64_t *addr, uint64_t *size)
{
    const signed char *hv = hexval();
    uint64_t a = 0, n = 0;
    const char *q = p;

    for (; p < end && hv[(unsigned char)*p] != 0; p++)
        a = (a << 4) | (uint64_t)(hv[(unsigned char)*p] - 1);
    if (p == q)
        return bad_line(m, "bad address", line, len);
    if (p - q > 16)
        return bad_line(m, "address over 64 bits", line, len);
    if (p == end || *p != ',')
        return bad_line(m, "missing ',SIZE'", line, len);
    for (q = ++p; p < end && *p >= '0' && *p <= '9' && p - q < 8; p++)
        n = n * 10 + (uint64_t)(*p - '0');
    if (p == q)
        return bad_line(m, "missing size", line, len);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p != end)
        return bad_line(m, "junk after size", line, len);
    if (n == 0 || n > LACKEY_MAX_SIZE)
        return bad_line(m, "size 0 or too large", line, len);
    if (a + (n - 1) < a)
        return bad_line(m, "access wraps past 2^64", line, len);
    *addr = a;
    *size = n;
    return 0;
}

/* A SYSCALL line telling that the traced process forked (fork, vfork, clone-as-fork). */
static int is_fork_line(const char *s, size_t n)
{
    return n > 8 && memcmp(s, "SYSCALL[", 8) == 0 && strstr(s, "created child") != NULL;
}

/* => 'I', 'L', 'S', 'M' for a line lackey's --trace-mem wrote, else 0. */
static char lackey_kind(const char *s, size_t n)
{
    if (n >= 3 && s[0] == 'I' && s[1] == ' ' && s[2] == ' ')
        return 'I';
    if (n >= 3 && s[0] == ' ' && s[2] == ' ' && (s[1] == 'L' || s[1] == 'S' || s[1] == 'M'))
        return s[1];
    return 0;
}

/* => s[n] == '\0'; 0 or an errno. */
static int do_line(struct imp *m, const char *s, size_t n)
{
    uint64_t a = 0, size = 0;
    char kind;
    int r;

    m->lineno++;
    m->st->lines++;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if ((kind = lackey_kind(s, n)) == 0) {
        m->st->skipped++;
        if (is_fork_line(s, n))
            m->st->forks++;
        return 0;
    }
    if ((r = parse_access(m, s, n, s + 3, s + n, &a, &size)) != 0)
        return r;
    if (!m->started) {
        if (kind != 'I')
            return bad_line(m, "data access before the first instruction", s, n);
        if ((r = start_at(m, a)) != 0)
            return r;
    }
    switch (kind) {
    case 'I':
        m->st->instr++;
        return do_access(m, 'x', a, size);
    case 'L':
        m->st->loads++;
        return do_access(m, 'r', a, size);
    case 'S':
        m->st->stores++;
        return do_access(m, 'w', a, size);
    default:
        m->st->modifies++;
        if ((r = do_access(m, 'r', a, size)) != 0)
            return r;
        return do_access(m, 'w', a, size);
    }
}

/* Streams lines through do_line; a line longer than the buffer is skipped, or an error if it is lackey's. */
static int run(struct imp *m, FILE *in)
{
    size_t have = 0, pos = 0, got;
    int r, eof = 0, skipping = 0;

    for (;;) {
        char *nl = have > pos ? memchr(m->ibuf + pos, '\n', have - pos) : NULL;

        if (nl != NULL) {
            *nl = '\0';
            if (!skipping && (r = do_line(m, m->ibuf + pos, (size_t)(nl - m->ibuf) - pos)) != 0)
                return r;
            skipping = 0;
            pos = (size_t)(nl - m->ibuf) + 1;
            continue;
        }
        if (eof) {
            m->ibuf[have] = '\0';
            if (have > pos && !skipping)
                return do_line(m, m->ibuf + pos, have - pos);
            return 0;
        }
        memmove(m->ibuf, m->ibuf + pos, have - pos);
        have -= pos;
        pos = 0;
        if (have == IBUF_SIZE) {
            /* an overlong line: judge it by its start, then drop the rest */
            if (!skipping) {
                m->lineno++;
                m->st->lines++;
                m->st->skipped++;
                if (lackey_kind(m->ibuf, have) != 0)
                    return bad_line(m, "line too long", m->ibuf, have);
            }
            skipping = 1;
            have = 0;
        }
        got = fread(m->ibuf + have, 1, IBUF_SIZE - have, in);
        have += got;
        if (got == 0) {
            if (ferror(in))
                return fail(m, errno ? errno : EIO, "reading the lackey log: %s",
                            strerror(errno ? errno : EIO));
            eof = 1;
        }
    }
}

/* ---------- import ---------- */

static int write_head(struct imp *m, const struct lackey_opts *o)
{
    struct xvm_trace_event ev;
    int r;

    if (o->argc > XVM_TRACE_MAX_ARGS || (o->argc > 0 && o->argv == NULL))
        return fail(m, EINVAL, "too many spawn arguments (%u, at most %d)",
                    o->argc, XVM_TRACE_MAX_ARGS);
    if ((r = put_raw(m, "xipvm-trace 1\n", 14)) != 0)
        return r;
    memset(&ev, 0, sizeof ev);
    ev.op = XVM_T_SPAWN;
    ev.pid = m->pid;
    ev.path = o->path_in_image != NULL ? o->path_in_image : o->exec_host_path;
    ev.argc = o->argc;
    for (unsigned i = 0; i < o->argc; i++) {
        ev.argv[i] = o->argv[i];
        if (!xvm_trace_token_ok(o->argv[i]))
            return fail(m, EINVAL, "spawn argument `%s' is empty, holds whitespace "
                        "or starts with '!': a v1 trace cannot carry it",
                        o->argv[i] != NULL ? o->argv[i] : "(null)");
    }
    return put_event(m, &ev);
}

static struct imp *imp_new(FILE *out, const struct lackey_opts *o,
                           struct lackey_stats *st, char *err, size_t errlen)
{
    struct imp *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->out = out;
    m->st = st;
    m->err = err;
    m->errlen = errlen;
    m->pid = o->pid;
    m->pidlen = (size_t)(put_dec(m->pidstr, o->pid) - m->pidstr);
    m->elf_hit.lo = m->elf_hit.hi = 0;    /* empty until the first instruction */
    return m;
}

/* Everything before reading the log: so record can fail before running valgrind. */
static int imp_prepare(struct imp *m, const struct lackey_opts *o)
{
    int r;

    if ((r = load_elf(m, o->exec_host_path)) != 0)
        return r;
    return write_head(m, o);
}

static int imp_finish(struct imp *m, FILE *in)
{
    int r = run(m, in);

    if (r == 0 && m->st->instr == 0)
        r = fail(m, EINVAL, "line %llu: no lackey instruction lines: is this the "
                 "output of valgrind --tool=lackey --trace-mem=yes?",
                 (unsigned long long)m->lineno);
    if (r == 0)
        r = flush_out(m);
    if (r == 0 && fflush(m->out) != 0)
        r = fail(m, errno ? errno : EIO, "writing the trace: %s",
                 strerror(errno ? errno : EIO));
    return r;
}

int lackey_import(FILE *in, FILE *out, const struct lackey_opts *o,
                  struct lackey_stats *st, char *err, size_t errlen)
{
    struct lackey_stats local;
    struct imp *m;
    int r;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof *st);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (in == NULL || out == NULL || o == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "lackey_import: NULL argument");
        return EINVAL;
    }
    if ((m = imp_new(out, o, st, err, errlen)) == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    r = imp_prepare(m, o);
    if (r == 0)
        r = imp_finish(m, in);
    free(m);
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
    for (const char *d = dirs != NULL ? dirs : "/usr/bin:/bin"; ; d++) {
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
    int logfd;                            /* read end of the log pipe */
};

/* The file actions that route the log pipe and the program's stdio. */
static int child_fds(posix_spawn_file_actions_t *fa, int wfd, int logfd,
                     FILE *out, int quiet)
{
    int r = posix_spawn_file_actions_adddup2(fa, wfd, logfd);

    if (r == 0 && quiet) {
        r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
        if (r == 0)
            r = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0);
        if (r == 0)
            r = posix_spawn_file_actions_adddup2(fa, 1, 2);
    } else if (r == 0 && fileno(out) == 1) {
        /* the program must not write into the trace */
        r = posix_spawn_file_actions_adddup2(fa, 2, 1);
    }
    return r;
}

/* => vargv: valgrind's argv for prog + args (caller frees). */
static const char **valgrind_argv(const char *prog, const char *const *argv, int logfd,
                                  char *fdopt, size_t fdcap)
{
    static const char *const head[] = {
        "valgrind", "--tool=lackey", "--trace-mem=yes", "--trace-syscalls=yes",
        "--trace-children=no", "--child-silent-after-fork=yes",
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

static int spawn_valgrind(struct imp *m, const char *prog, const char *const *argv,
                          FILE *out, int quiet, struct child *c)
{
    posix_spawn_file_actions_t fa;
    char fdopt[32];
    const char **v;
    int p[2], r, logfd;

    if (pipe(p) != 0)
        return fail(m, errno, "pipe: %s", strerror(errno));
    /* neither end leaks into other children; the child gets a dup2'd copy */
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    logfd = p[1] == 3 ? 4 : 3;
    v = valgrind_argv(prog, argv, logfd, fdopt, sizeof fdopt);
    r = v == NULL ? ENOMEM : posix_spawn_file_actions_init(&fa);
    if (r == 0) {
        r = child_fds(&fa, p[1], logfd, out, quiet);
        if (r == 0)
            r = posix_spawnp(&c->pid, "valgrind", &fa, NULL, (char *const *)v, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    free(v);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        return fail(m, r, "cannot run valgrind: %s", strerror(r));
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
static int import_child(struct imp *m, struct child *c, int *status)
{
    FILE *in = fdopen(c->logfd, "r");
    int r, w;

    if (in == NULL) {
        r = fail(m, errno, "fdopen: %s", strerror(errno));
        close(c->logfd);
    } else {
        r = imp_finish(m, in);
        fclose(in);
    }
    if (r != 0)
        kill(c->pid, SIGKILL);
    if ((w = wait_child(c->pid, status)) != 0 && r == 0)
        r = fail(m, w, "waitpid: %s", strerror(w));
    return r;
}

int lackey_record(const char *const *argv, FILE *out, const struct lackey_opts *o,
                  struct lackey_stats *st, int *child_status, char *err, size_t errlen)
{
    struct lackey_stats local;
    struct lackey_opts eo;
    struct child c;
    struct imp *m;
    char prog[4096];
    int r, status = 0;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof *st);
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (argv == NULL || argv[0] == NULL || out == NULL || o == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "lackey_record: no program");
        return EINVAL;
    }
    if ((m = imp_new(out, o, st, err, errlen)) == NULL)
        return ENOMEM;
    eo = *o;
    if ((r = find_program(argv[0], prog, sizeof prog)) != 0) {
        r = fail(m, r, "%s: %s", argv[0], strerror(r));
        goto done;
    }
    if (eo.exec_host_path == NULL)
        eo.exec_host_path = prog;
    if (eo.argv == NULL) {
        eo.argv = argv + 1;
        for (eo.argc = 0; argv[eo.argc + 1] != NULL; eo.argc++)
            ;
    }
    if ((r = imp_prepare(m, &eo)) != 0 ||
        (r = spawn_valgrind(m, prog, argv, out, o->quiet, &c)) != 0)
        goto done;
    r = import_child(m, &c, &status);
    if (child_status != NULL)
        *child_status = status;
    /* valgrind itself failed (bad option, program not runnable): no log */
    if (r == EINVAL && st->instr == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        r = fail(m, ECHILD, "valgrind produced no trace (wait status 0x%x); "
                 "see its messages above", (unsigned)status);
done:
    free(m);
    return r;
}
