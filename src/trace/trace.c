/* trace.c - parser and formatter for the xipvm trace format, versions 1 and 2 (doc/trace-format.md). */
#include "xipvm_trace.h"
#include "textscan.h"
#include "tracefmt.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* op + PID + PATH + XVM_TRACE_MAX_ARGS args + !ERR: the longest legal line */
#define TOK_MAX (XVM_TRACE_MAX_ARGS + 4)

struct toks {
    char *t[TOK_MAX];
    unsigned n;
    int overflow;
    int version; /* 2: strings hold escapes */
};

/* Messages for a numeric field: syntax error, value out of range. */
struct field {
    const char *bad, *range;
};

static const struct field F_PID = { "bad PID (want decimal or 0x hex)",
                                    "PID out of range (max 2^32-1)" };
static const struct field F_PPID = { "bad PPID (want decimal or 0x hex)",
                                     "PPID out of range (max 2^32-1)" };
static const struct field F_CPID = { "bad CPID (want decimal or 0x hex)",
                                     "CPID out of range (max 2^32-1)" };
static const struct field F_ADDR = { "bad ADDR (want decimal or 0x hex)",
                                     "ADDR overflows 64 bits" };
static const struct field F_LEN = { "bad LEN (want decimal or 0x hex)",
                                    "LEN overflows 64 bits" };
static const struct field F_SIZE = { "bad SIZE (want decimal or 0x hex)",
                                     "SIZE above 2^32" };
static const struct field F_OFF = { "bad OFF (want decimal or 0x hex)",
                                    "OFF overflows 64 bits" };
static const struct field F_RLEN = { "bad LEN (want decimal or 0x hex)",
                                     "LEN above 2^32" };

/* Every errno a trace event can fail with, in a fixed order: the binary
 * format writes a name as its index + 1 (doc/trace-format.md), so the
 * order never changes and new names go at the end. */
static const struct {
    int err;
    const char *name;
} errnames[] = {
    { EFAULT, "EFAULT" },
    { EACCES, "EACCES" },
    { ENOMEM, "ENOMEM" },
    { ENOEXEC, "ENOEXEC" },
    { ENOENT, "ENOENT" },
    { EINVAL, "EINVAL" },
    { EROFS, "EROFS" },
    { ESRCH, "ESRCH" },
    { EEXIST, "EEXIST" },
    { EPERM, "EPERM" },
    { EIO, "EIO" },
    { ELOOP, "ELOOP" },
    { ENOTDIR, "ENOTDIR" },
    { EISDIR, "EISDIR" },
    { ENAMETOOLONG, "ENAMETOOLONG" },
    { E2BIG, "E2BIG" },
    { EFBIG, "EFBIG" },
    { ENOSPC, "ENOSPC" },
    { EBUSY, "EBUSY" },
    { EOPNOTSUPP, "EOPNOTSUPP" },
    { ERANGE, "ERANGE" },
};

#define NERRNAMES (sizeof(errnames) / sizeof(errnames[0]))

int xvm_trace_errno_code(int err)
{
    for (size_t i = 0; i < NERRNAMES; i++)
        if (errnames[i].err == err)
            return (int)i + 1;
    return 0;
}

int xvm_trace_errno_from_code(int code)
{
    return code >= 1 && (size_t)code <= NERRNAMES ? errnames[code - 1].err : 0;
}

const char *xvm_trace_errno_name(int err)
{
    for (size_t i = 0; i < NERRNAMES; i++)
        if (errnames[i].err == err)
            return errnames[i].name;
    return NULL;
}

int xvm_trace_errno_from_name(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < NERRNAMES; i++)
        if (strcmp(errnames[i].name, name) == 0)
            return errnames[i].err;
    return 0;
}

/* ---------- lexing ---------- */

#define is_sep ts_is_sep

static void tokenize(char *s, struct toks *tk)
{
    tk->n = 0;
    tk->overflow = 0;
    for (;;) {
        while (is_sep(*s))
            s++;
        if (*s == '\0')
            return;
        if (tk->n == TOK_MAX) {
            tk->overflow = 1;
            return;
        }
        tk->t[tk->n++] = s;
        while (*s != '\0' && !is_sep(*s))
            s++;
        if (*s == '\0')
            return;
        *s++ = '\0';
    }
}

static int hexval(char c)
{
    return ts_hex_digit[(unsigned char)c] - 1; /* stored +1: 0 means none */
}

/*
 * A PATH, ARG or LABEL token of a version 2 trace, unescaped in place:
 * `\\` is a backslash, `\xHH` the byte HH (not 00), and the token `\e`
 * alone the empty string.  => 0, or -EINVAL for any other backslash.
 */
static int unescape(const struct toks *tk, char *s, const char **msg)
{
    char *out = s;

    if (tk->version < 2)
        return 0;
    if (s[0] == '\\' && s[1] == 'e' && s[2] == '\0') {
        s[0] = '\0';
        return 0;
    }
    for (const char *in = s; *in;) {
        if (*in != '\\') {
            *out++ = *in++;
            continue;
        }
        if (in[1] == '\\') {
            *out++ = '\\';
            in += 2;
            continue;
        }
        int hi = in[1] == 'x' ? hexval(in[2]) : -1;
        int lo = hi >= 0 ? hexval(in[3]) : -1;
        if (lo < 0 || (hi | lo) == 0) {
            *msg = "bad escape (want \\\\, \\xHH other than \\x00, or \\e "
                   "alone)";
            return -EINVAL;
        }
        *out++ = (char)(hi << 4 | lo);
        in += 4;
    }
    *out = '\0';
    return 0;
}

/* => 0 ok, 1 syntax error, 2 overflow.  Decimal or 0x hex, no sign.
 * Traces run to hundreds of millions of numbers: no division per digit. */
static int parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        if (*s == '\0')
            return 1;
        for (; *s; s++) {
            int d = hexval(*s);
            if (d < 0)
                return 1;
            if (x >> 60)
                return 2;
            x = x << 4 | (unsigned)d;
        }
        *v = x;
        return 0;
    }
    if (*s == '\0')
        return 1;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (d > 9)
            return 1;
        if (x > UINT64_MAX / 10 ||
            (x == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return 2;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static int num(const char *s, uint64_t max, uint64_t *v, const struct field *f,
               const char **msg)
{
    int rc = parse_u64(s, v);

    if (rc == 0 && *v <= max)
        return 0;
    *msg = rc == 1 ? f->bad : f->range;
    return -EINVAL;
}

static int pid(const char *s, uint32_t *v, const struct field *f,
               const char **msg)
{
    uint64_t x = 0;
    int rc = num(s, UINT32_MAX, &x, f, msg);

    *v = (uint32_t)x;
    return rc;
}

/* => letters r, w, x in any order, each at most once, '-' as filler. */
static int parse_prot(const char *s, int *prot, const char **msg)
{
    *prot = 0;
    for (; *s; s++) {
        int bit = *s == 'r'   ? XVM_PROT_READ
                  : *s == 'w' ? XVM_PROT_WRITE
                  : *s == 'x' ? XVM_PROT_EXEC
                              : 0;
        if (*s == '-')
            continue;
        if (bit == 0 || (*prot & bit)) {
            *msg = "bad PROT (want letters r, w, x or -)";
            return -EINVAL;
        }
        *prot |= bit;
    }
    return 0;
}

static int parse_flags(const char *s, struct xvm_trace_event *ev,
                       const char **msg)
{
    const char *rest = s;

    if (strncmp(s, "private", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "shared", 6) == 0)
        rest = s + 6, ev->shared = 1;
    if (rest != s && (*rest == '\0' || strcmp(rest, ",fixed") == 0)) {
        ev->fixed = *rest != '\0';
        return 0;
    }
    *msg = "bad FLAGS (want private or shared, optionally ,fixed)";
    return -EINVAL;
}

/* => tok is "=HEX"; size already parsed. Decodes into ev->data. */
static int parse_data(const char *tok, uint64_t size,
                      struct xvm_trace_event *ev, const char **msg)
{
    const char *h = tok + 1;
    size_t nd = strlen(h);

    if (size == 0 || size > XVM_TRACE_MAX_DATA) {
        *msg = "SIZE must be 1..4096 when =HEX is given";
        return -EINVAL;
    }
    if (nd % 2 != 0) {
        *msg = "=HEX has an odd number of digits";
        return -EINVAL;
    }
    if (nd / 2 != size) {
        *msg = "=HEX length differs from SIZE";
        return -EINVAL;
    }
    for (size_t i = 0; i < size; i++) {
        int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            *msg = "=HEX has a non-hex digit";
            return -EINVAL;
        }
        ev->data[i] = (uint8_t)(hi << 4 | lo);
    }
    ev->has_data = 1;
    ev->ndata = (size_t)size;
    return 0;
}

/* ---------- per-op field parsers; t[0] is the op, n excludes !ERR ---------- */

static int nfields(const struct toks *tk, unsigned lo, unsigned hi,
                   const char **msg)
{
    if (tk->n - 1 < lo) {
        *msg = "missing fields";
        return -EINVAL;
    }
    if (tk->n - 1 > hi) {
        *msg = "too many fields";
        return -EINVAL;
    }
    return 0;
}

static int op_spawn(struct toks *tk, struct xvm_trace_event *ev,
                    const char **msg)
{
    int rc = nfields(tk, 2, 2 + XVM_TRACE_MAX_ARGS, msg);

    if (rc == 0)
        rc = pid(tk->t[1], &ev->pid, &F_PID, msg);
    if (rc || (rc = unescape(tk, tk->t[2], msg)) != 0)
        return rc;
    ev->path = tk->t[2];
    ev->argc = tk->n - 3;
    for (unsigned i = 0; i < ev->argc; i++) {
        if ((rc = unescape(tk, tk->t[3 + i], msg)) != 0)
            return rc;
        ev->argv[i] = tk->t[3 + i];
    }
    return 0;
}

static int op_fork(struct toks *tk, struct xvm_trace_event *ev,
                   const char **msg)
{
    int rc = nfields(tk, 2, 2, msg);

    if (rc == 0)
        rc = pid(tk->t[1], &ev->pid, &F_PPID, msg);
    if (rc == 0)
        rc = pid(tk->t[2], &ev->pid2, &F_CPID, msg);
    return rc;
}

static int op_exit(struct toks *tk, struct xvm_trace_event *ev,
                   const char **msg)
{
    int rc = nfields(tk, 1, 1, msg);

    return rc ? rc : pid(tk->t[1], &ev->pid, &F_PID, msg);
}

/* PID ADDR LEN: shared prefix of mmap, munmap, mprotect */
static int pid_addr_len(struct toks *tk, struct xvm_trace_event *ev,
                        const char **msg)
{
    int rc = pid(tk->t[1], &ev->pid, &F_PID, msg);

    if (rc == 0)
        rc = num(tk->t[2], UINT64_MAX, &ev->addr, &F_ADDR, msg);
    if (rc == 0)
        rc = num(tk->t[3], UINT64_MAX, &ev->len, &F_LEN, msg);
    return rc;
}

static int op_mmap(struct toks *tk, struct xvm_trace_event *ev,
                   const char **msg)
{
    int rc = nfields(tk, 5, 7, msg);

    /* PATH comes with OFF or not at all */
    if (rc == 0 && tk->n == 7) {
        *msg = "mmap PATH needs OFF";
        return -EINVAL;
    }
    if (rc == 0)
        rc = pid_addr_len(tk, ev, msg);
    if (rc == 0)
        rc = parse_prot(tk->t[4], &ev->prot, msg);
    if (rc == 0)
        rc = parse_flags(tk->t[5], ev, msg);
    if (rc == 0 && tk->n == 8) {
        ev->path = tk->t[6];
        rc = num(tk->t[7], UINT64_MAX, &ev->off, &F_OFF, msg);
        if (rc == 0)
            rc = unescape(tk, tk->t[6], msg);
    }
    return rc;
}

/* pread PID ADDR LEN PATH OFF */
static int op_pread(struct toks *tk, struct xvm_trace_event *ev,
                    const char **msg)
{
    int rc = nfields(tk, 5, 5, msg);

    if (rc == 0)
        rc = pid(tk->t[1], &ev->pid, &F_PID, msg);
    if (rc == 0)
        rc = num(tk->t[2], UINT64_MAX, &ev->addr, &F_ADDR, msg);
    if (rc == 0)
        rc = num(tk->t[3], XVM_TRACE_MAX_SIZE, &ev->len, &F_RLEN, msg);
    if (rc == 0)
        rc = num(tk->t[5], UINT64_MAX, &ev->off, &F_OFF, msg);
    if (rc == 0)
        rc = unescape(tk, tk->t[4], msg);
    ev->path = tk->t[4];
    return rc;
}

static int op_munmap(struct toks *tk, struct xvm_trace_event *ev,
                     const char **msg)
{
    int rc = nfields(tk, 3, 3, msg);

    return rc ? rc : pid_addr_len(tk, ev, msg);
}

static int op_mprotect(struct toks *tk, struct xvm_trace_event *ev,
                       const char **msg)
{
    int rc = nfields(tk, 4, 4, msg);

    if (rc == 0)
        rc = pid_addr_len(tk, ev, msg);
    return rc ? rc : parse_prot(tk->t[4], &ev->prot, msg);
}

static int op_brk(struct toks *tk, struct xvm_trace_event *ev, const char **msg)
{
    int rc = nfields(tk, 2, 2, msg);

    if (rc == 0)
        rc = pid(tk->t[1], &ev->pid, &F_PID, msg);
    return rc ? rc : num(tk->t[2], UINT64_MAX, &ev->addr, &F_ADDR, msg);
}

/* r/w/x: PID ADDR SIZE, plus =HEX for r and w; loan and unloan (§11.3)
 * the same: PID ADDR LEN, plus =HEX for unloan */
static int op_access(struct toks *tk, struct xvm_trace_event *ev,
                     const char **msg)
{
    bool no_data = ev->op == XVM_T_EXEC_FETCH || ev->op == XVM_T_LOAN;
    int rc = nfields(tk, 3, no_data ? 3 : 4, msg);

    if (rc == 0)
        rc = pid(tk->t[1], &ev->pid, &F_PID, msg);
    if (rc == 0)
        rc = num(tk->t[2], UINT64_MAX, &ev->addr, &F_ADDR, msg);
    if (rc == 0)
        rc = num(tk->t[3], XVM_TRACE_MAX_SIZE, &ev->len, &F_SIZE, msg);
    if (rc == 0 && ev->len == 0 &&
        (ev->op == XVM_T_LOAN || ev->op == XVM_T_UNLOAN)) {
        *msg = "LEN out of range (1 to 2^32)"; /* a loan of nothing */
        return -EINVAL;
    }
    if (rc || tk->n == 4)
        return rc;
    if (tk->t[4][0] != '=') {
        *msg = "expected =HEX after SIZE";
        return -EINVAL;
    }
    return parse_data(tk->t[4], ev->len, ev, msg);
}

static int op_mark(struct toks *tk, struct xvm_trace_event *ev,
                   const char **msg)
{
    int rc = nfields(tk, 1, 1, msg);

    if (rc == 0)
        rc = unescape(tk, tk->t[1], msg);
    ev->label = tk->t[1];
    return rc;
}

typedef int (*op_fn)(struct toks *, struct xvm_trace_event *, const char **);

/* hot ops first: the lookup is a linear scan */
static const struct {
    const char *name;
    enum xvm_trace_op op;
    op_fn fn;
} ops[] = {
    { "r", XVM_T_READ, op_access },
    { "w", XVM_T_WRITE, op_access },
    { "x", XVM_T_EXEC_FETCH, op_access },
    { "mmap", XVM_T_MMAP, op_mmap },
    { "munmap", XVM_T_MUNMAP, op_munmap },
    { "mprotect", XVM_T_MPROTECT, op_mprotect },
    { "brk", XVM_T_BRK, op_brk },
    { "fork", XVM_T_FORK, op_fork },
    { "spawn", XVM_T_SPAWN, op_spawn },
    { "exec", XVM_T_EXEC, op_spawn },
    { "exit", XVM_T_EXIT, op_exit },
    { "mark", XVM_T_MARK, op_mark },
    { "pread", XVM_T_PREAD, op_pread },
    { "loan", XVM_T_LOAN, op_access },
    { "unloan", XVM_T_UNLOAN, op_access },
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

void xvm_trace_event_reset(struct xvm_trace_event *ev)
{
    trace_event_clear(ev);
}

/* => strips a trailing !ERR token into ev->expect_err. */
static int take_err(struct toks *tk, struct xvm_trace_event *ev,
                    const char **msg)
{
    const char *last = tk->t[tk->n - 1];

    if (tk->n < 2 || last[0] != '!')
        return 0;
    ev->expect_err = xvm_trace_errno_from_name(last + 1);
    if (ev->expect_err == 0) {
        *msg = "unknown !ERR name";
        return -EINVAL;
    }
    tk->n--;
    return 0;
}

/* strcmp(a, b) == 0 for short words, without a library call per line. */
static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int parse_tokens(struct toks *tk, struct xvm_trace_event *ev,
                        const char **msg)
{
    int rc;

    if (tk->overflow) {
        *msg = "too many fields";
        return -EINVAL;
    }
    rc = take_err(tk, ev, msg);
    if (rc)
        return rc;
    /* The first letter settles most ops before any strcmp. */
    for (size_t i = 0; i < NOPS; i++) {
        if (tk->t[0][0] == ops[i].name[0] && same(tk->t[0], ops[i].name)) {
            ev->op = ops[i].op;
            return ops[i].fn(tk, ev, msg);
        }
    }
    *msg = "unknown op";
    return -EINVAL;
}

/*
 * The bulk of real traces: "r|w|x PID ADDR SIZE" and nothing else, up to
 * end (the line's length: a NUL byte before it sends the line to the
 * general path, which refuses it).  => 1 when it was such a line; 0 sends
 * anything else (=HEX, !ERR, junk, out-of-range values) to the general
 * path.
 */
static inline int fast_access(const char *p, const char *end,
                              struct xvm_trace_event *ev)
{
    if ((p = ts_access(p, 0, ev)) == NULL)
        return 0;
    while (p < end && is_sep(*p))
        p++;
    if (p == end)
        return 1;
    trace_event_clear(ev);
    return 0;
}

static int written_fits(const struct xvm_trace_event *ev);

/* A line written back is at most 4 times as long (a byte escaped as \xHH)
 * and a few bytes (0x, PROT's filler): only a longer line than this can
 * make an event whose line is too long to write. */
#define MAY_OUTGROW (XVM_TRACE_MAX_LINE / 4 - 64)

int trace_parse_text_v(char *line, size_t len, int version,
                       struct xvm_trace_event *ev, const char **msg)
{
    const char *dummy = NULL;
    struct toks tk;
    int rc;

    tk.version = version;
    if (msg == NULL)
        msg = &dummy;
    *msg = NULL;
    trace_event_clear(ev);
    if (line == NULL)
        return 0;
    /* The limit is on the bytes before the '\n' (doc/trace-format.md). */
    size_t body = len > 0 && line[len - 1] == '\n' ? len - 1 : len;
    if (body < XVM_TRACE_MAX_LINE && fast_access(line, line + len, ev))
        return 1;
    if (memchr(line, '\0', len) != NULL) {
        *msg = "NUL byte in the line";
        return -EINVAL;
    }
    if (body >= XVM_TRACE_MAX_LINE) {
        *msg = "line longer than 65535 bytes";
        return -EINVAL;
    }
    tokenize(line, &tk);
    if (tk.n == 0 || tk.t[0][0] == '#')
        return 0;
    rc = parse_tokens(&tk, ev, msg);
    if (rc == 0 && body >= MAY_OUTGROW && !written_fits(ev)) {
        /* As in the binary form: every trace converts to the other. */
        *msg = "event longer than a trace line once written (escapes, hex)";
        rc = -EINVAL;
    }
    return rc ? rc : 1;
}

int xvm_trace_parse_text(char *line, size_t len, struct xvm_trace_event *ev,
                         const char **msg)
{
    return trace_parse_text_v(line, len, XVM_TRACE_VERSION, ev, msg);
}

int xvm_trace_parse_line_v(char *line, int version, struct xvm_trace_event *ev,
                           const char **msg)
{
    return trace_parse_text_v(line, line ? strlen(line) : 0, version, ev, msg);
}

int xvm_trace_parse_line(char *line, struct xvm_trace_event *ev,
                         const char **msg)
{
    return xvm_trace_parse_line_v(line, XVM_TRACE_VERSION, ev, msg);
}

int xvm_trace_header_version(const char *line)
{
    static const char magic[] = "xipvm-trace ";

    if (line == NULL || strncmp(line, magic, sizeof(magic) - 1) != 0)
        return 0;
    line += sizeof(magic) - 1;
    int version = line[0] == '1' ? 1 : line[0] == '2' ? 2 : 0;
    for (line++; version && *line; line++)
        if (!is_sep(*line))
            return 0;
    return version;
}

int xvm_trace_check_header(const char *line)
{
    return xvm_trace_header_version(line) ? 0 : EINVAL;
}

/* ---------- formatting ---------- */

struct out {
    char *p;
    size_t cap, n;
    int full;
};

static void put_char(struct out *o, char c)
{
    /* keep one byte for the final NUL */
    if (o->n + 1 >= o->cap) {
        o->full = 1;
        return;
    }
    if (o->p) /* NULL: counting only (written_fits) */
        o->p[o->n] = c;
    o->n++;
}

static void put_str(struct out *o, const char *s)
{
    while (*s)
        put_char(o, *s++);
}

static void put_dec(struct out *o, uint64_t v)
{
    char tmp[20];
    int i = 0;

    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i > 0)
        put_char(o, tmp[--i]);
}

static void put_hex(struct out *o, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    int shift = 60;

    put_str(o, "0x");
    while (shift > 0 && ((v >> shift) & 0xf) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        put_char(o, digits[(v >> shift) & 0xf]);
}

static void put_sp_dec(struct out *o, uint64_t v)
{
    put_char(o, ' ');
    put_dec(o, v);
}

static void put_sp_hex(struct out *o, uint64_t v)
{
    put_char(o, ' ');
    put_hex(o, v);
}

/* A byte that a string token cannot hold as itself. */
static int must_escape(unsigned char c, int first)
{
    return c <= 0x20 || c == 0x7f || c == '\\' || (first && c == '!');
}

/* A PATH, ARG or LABEL, escaped where it must be (version 2). */
static void put_esc(struct out *o, const char *s)
{
    static const char digits[] = "0123456789abcdef";

    if (*s == '\0') {
        put_str(o, "\\e");
        return;
    }
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
            put_str(o, "\\\\");
        } else if (must_escape(c, p == s)) {
            put_str(o, "\\x");
            put_char(o, digits[c >> 4]);
            put_char(o, digits[c & 0xf]);
        } else {
            put_char(o, (char)c);
        }
    }
}

static void put_sp_str(struct out *o, const char *s)
{
    put_char(o, ' ');
    put_esc(o, s);
}

int xvm_trace_escape(const char *s, char *buf, size_t cap)
{
    struct out o = { buf, cap > INT_MAX ? INT_MAX : cap, 0, 0 };
    if (s == NULL)
        return -EINVAL;
    if (buf == NULL || cap == 0)
        return -ENOSPC;
    put_esc(&o, s);
    if (o.full)
        return -ENOSPC;
    buf[o.n] = '\0';
    return (int)o.n;
}

static void put_prot(struct out *o, int prot)
{
    put_char(o, ' ');
    put_char(o, (prot & XVM_PROT_READ) ? 'r' : '-');
    put_char(o, (prot & XVM_PROT_WRITE) ? 'w' : '-');
    put_char(o, (prot & XVM_PROT_EXEC) ? 'x' : '-');
}

/* => a string token written as itself, in any position, any version. */
int xvm_trace_token_ok(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    for (const char *p = s; *p; p++)
        if (must_escape((unsigned char)*p, p == s))
            return 0;
    return 1;
}

/* Every string is written (escaped as needed): none may be NULL. */
static int check_strings(const struct xvm_trace_event *ev)
{
    if (ev->op == XVM_T_MARK)
        return ev->label != NULL;
    if (ev->op == XVM_T_MMAP)
        return ev->path != NULL || ev->off == 0;
    if (ev->op == XVM_T_PREAD)
        return ev->path != NULL && ev->len <= XVM_TRACE_MAX_SIZE;
    if (ev->op != XVM_T_SPAWN && ev->op != XVM_T_EXEC)
        return 1;
    if (ev->path == NULL || ev->argc > XVM_TRACE_MAX_ARGS)
        return 0;
    for (unsigned i = 0; i < ev->argc; i++)
        if (ev->argv[i] == NULL)
            return 0;
    return 1;
}

static int check_access(const struct xvm_trace_event *ev)
{
    if (ev->len > XVM_TRACE_MAX_SIZE)
        return 0;
    if (!ev->has_data)
        return 1;
    return ev->op != XVM_T_EXEC_FETCH && ev->len >= 1 &&
           ev->len <= XVM_TRACE_MAX_DATA && ev->ndata == ev->len;
}

/* => 1 when the event can be written so that it parses back equal. */
int trace_event_ok(const struct xvm_trace_event *ev)
{
    if ((unsigned)ev->op > XVM_T_UNLOAN)
        return 0;
    if (ev->expect_err != 0 && xvm_trace_errno_name(ev->expect_err) == NULL)
        return 0;
    if ((ev->op == XVM_T_MMAP || ev->op == XVM_T_MPROTECT) &&
        (ev->prot & ~7) != 0)
        return 0;
    if ((ev->op == XVM_T_READ || ev->op == XVM_T_WRITE ||
         ev->op == XVM_T_EXEC_FETCH || ev->op == XVM_T_UNLOAN) &&
        !check_access(ev))
        return 0;
    if (ev->op == XVM_T_LOAN && (ev->len > XVM_TRACE_MAX_SIZE || ev->has_data))
        return 0;
    if ((ev->op == XVM_T_LOAN || ev->op == XVM_T_UNLOAN) && ev->len == 0)
        return 0;
    return check_strings(ev);
}

static void put_access(struct out *o, const struct xvm_trace_event *ev)
{
    static const char digits[] = "0123456789abcdef";

    put_sp_hex(o, ev->addr);
    put_sp_dec(o, ev->len);
    if (!ev->has_data)
        return;
    put_str(o, " =");
    for (size_t i = 0; i < ev->ndata; i++) {
        put_char(o, digits[ev->data[i] >> 4]);
        put_char(o, digits[ev->data[i] & 0xf]);
    }
}

static void put_spawn(struct out *o, const struct xvm_trace_event *ev)
{
    put_sp_str(o, ev->path);
    for (unsigned i = 0; i < ev->argc; i++)
        put_sp_str(o, ev->argv[i]);
}

static void put_mmap(struct out *o, const struct xvm_trace_event *ev)
{
    put_sp_hex(o, ev->addr);
    put_sp_dec(o, ev->len);
    put_prot(o, ev->prot);
    put_str(o, ev->shared ? " shared" : " private");
    if (ev->fixed)
        put_str(o, ",fixed");
    if (ev->path) {
        put_sp_str(o, ev->path);
        put_sp_hex(o, ev->off);
    }
}

/* everything after "OP PID" */
static void put_body(struct out *o, const struct xvm_trace_event *ev)
{
    switch (ev->op) {
    case XVM_T_SPAWN:
    case XVM_T_EXEC: put_spawn(o, ev); break;
    case XVM_T_FORK: put_sp_dec(o, ev->pid2); break;
    case XVM_T_MMAP: put_mmap(o, ev); break;
    case XVM_T_MUNMAP: put_sp_hex(o, ev->addr), put_sp_dec(o, ev->len); break;
    case XVM_T_MPROTECT:
        put_sp_hex(o, ev->addr), put_sp_dec(o, ev->len), put_prot(o, ev->prot);
        break;
    case XVM_T_BRK: put_sp_hex(o, ev->addr); break;
    case XVM_T_READ:
    case XVM_T_WRITE:
    case XVM_T_EXEC_FETCH:
    case XVM_T_LOAN:
    case XVM_T_UNLOAN: put_access(o, ev); break;
    case XVM_T_PREAD:
        put_sp_hex(o, ev->addr), put_sp_dec(o, ev->len);
        put_sp_str(o, ev->path), put_sp_hex(o, ev->off);
        break;
    case XVM_T_EXIT:
    case XVM_T_MARK: break;
    }
}

static const char *const op_names[] = {
    [XVM_T_SPAWN] = "spawn",
    [XVM_T_FORK] = "fork",
    [XVM_T_EXEC] = "exec",
    [XVM_T_EXIT] = "exit",
    [XVM_T_MMAP] = "mmap",
    [XVM_T_MUNMAP] = "munmap",
    [XVM_T_MPROTECT] = "mprotect",
    [XVM_T_BRK] = "brk",
    [XVM_T_READ] = "r",
    [XVM_T_WRITE] = "w",
    [XVM_T_EXEC_FETCH] = "x",
    [XVM_T_MARK] = "mark",
    [XVM_T_PREAD] = "pread",
    [XVM_T_LOAN] = "loan",
    [XVM_T_UNLOAN] = "unloan",
};

static void put_event(struct out *o, const struct xvm_trace_event *ev)
{
    put_str(o, op_names[ev->op]);
    if (ev->op == XVM_T_MARK)
        put_sp_str(o, ev->label);
    else
        put_sp_dec(o, ev->pid);
    put_body(o, ev);
    if (ev->expect_err) {
        put_str(o, " !");
        put_str(o, xvm_trace_errno_name(ev->expect_err));
    }
    put_char(o, '\n');
}

/* => 1 when ev's line, written, fits XVM_TRACE_MAX_LINE with its '\n'. */
static int written_fits(const struct xvm_trace_event *ev)
{
    struct out o = { NULL, XVM_TRACE_MAX_LINE + 1, 0, 0 };
    put_event(&o, ev);
    return !o.full;
}

int xvm_trace_format_event(const struct xvm_trace_event *ev, char *buf,
                           size_t cap)
{
    /* the length is returned as int: never produce more than INT_MAX bytes */
    struct out o = { buf, cap > INT_MAX ? INT_MAX : cap, 0, 0 };

    if (ev == NULL || !trace_event_ok(ev))
        return -EINVAL;
    if (buf == NULL || cap == 0)
        return -ENOSPC;
    put_event(&o, ev);
    if (o.full)
        return -ENOSPC;
    buf[o.n] = '\0';
    return (int)o.n;
}
