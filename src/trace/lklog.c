/*
 * lklog.c - one valgrind lackey log (--trace-mem=yes, --trace-syscalls=yes)
 * read as items: memory accesses (`I  ADDR,SIZE`, ` L|S|M ADDR,SIZE`) and
 * the system calls the importer follows, each with its result.
 *
 * valgrind prints a system call on one line, its result on the same line,
 * on a continuation line (` --> ...`) or, for one that blocks, on a later
 * completion line (`SYSCALL[P,T](N) ... [async] --> ...`); a successful
 * execve has none.  The preamble (`==PID== Command:`, `Parent PID:`) says
 * whose log it is; a forked child's log starts with fork's continuation.
 */
#include "lk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINE_SHOW 48 /* bytes of a bad line quoted in errors */

/* ---------- errors ---------- */

int lklog_bad(struct lklog *l, uint64_t line, const char *what)
{
    size_t n = l->line && line == l->lineno ? l->len : 0;
    if (n > 0)
        return trace_fail(l->e, EINVAL, "%s%sline %llu: %s: `%.*s'",
                          l->name ? l->name : "", l->name ? ": " : "",
                          (unsigned long long)line, what,
                          (int)(n > LINE_SHOW ? LINE_SHOW : n), l->line);
    return trace_fail(l->e, EINVAL, "%s%sline %llu: %s", l->name ? l->name : "",
                      l->name ? ": " : "", (unsigned long long)line, what);
}

/* ---------- lines ---------- */

/* => 1 and l->line, 0 at the end, or -1 (the errno in l->e). */
static int read_line(struct lklog *l)
{
    for (;;) {
        char *nl = l->have > l->pos
                       ? memchr(l->buf + l->pos, '\n', l->have - l->pos)
                       : NULL;
        if (nl != NULL) {
            *nl = '\0';
            l->line = l->buf + l->pos;
            l->len = (size_t)(nl - l->line);
            l->pos += l->len + 1;
            if (l->skipping) {
                l->skipping = 0;
                continue;
            }
            l->lineno++;
            l->st->lines++;
            if (l->len > 0 && l->line[l->len - 1] == '\r')
                l->line[--l->len] = '\0';
            return 1;
        }
        if (l->eof) {
            if (l->have > l->pos && !l->skipping) {
                l->lineno++;
                l->line = l->buf + l->pos;
                l->len = l->have - l->pos;
                l->line[l->len] = '\0';
                l->pos = l->have;
                /* valgrind execs right after printing execve's call:
                 * that line has no end (and may be cut short) */
                if (strncmp(l->line, "SYSCALL[", 8) == 0 &&
                    strstr(l->line, ") sys_execve ") != NULL) {
                    l->st->lines++;
                    l->cut = 1;
                    return 1;
                }
                lklog_bad(l, l->lineno, "the log ends in the middle of a line");
                return -1;
            }
            return 0;
        }
        if (l->stop != NULL && *l->stop) {
            trace_fail(l->e, EINTR, "interrupted");
            return -1;
        }
        memmove(l->buf, l->buf + l->pos, l->have - l->pos);
        l->have -= l->pos;
        l->pos = 0;
        if (l->have == LK_LINE_MAX) {
            /* an overlong line: judged by its start, then dropped (an
             * access or a system call dropped would change the trace) */
            if (!l->skipping) {
                l->lineno++;
                l->st->lines++;
                l->st->skipped++;
                if ((l->buf[0] == 'I' && l->buf[1] == ' ') ||
                    (l->buf[0] == ' ' && strchr("LSM", l->buf[1]) != NULL) ||
                    strncmp(l->buf, "SYSCALL[", 8) == 0) {
                    l->line = l->buf;
                    l->len = LINE_SHOW;
                    lklog_bad(l, l->lineno, "line too long");
                    return -1;
                }
            }
            l->skipping = 1;
            l->have = 0;
        }
        size_t got = fread(l->buf + l->have, 1, LK_LINE_MAX - l->have, l->f);
        l->have += got;
        if (got == 0) {
            if (ferror(l->f)) {
                trace_fail(l->e, errno ? errno : EIO, "%s: reading the log: %s",
                           l->name ? l->name : "lackey log",
                           strerror(errno ? errno : EIO));
                return -1;
            }
            l->eof = 1;
        }
    }
}

/* ---------- accesses ---------- */

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

/* => 'I', 'L', 'S', 'M' for a line lackey's --trace-mem wrote, else 0. */
static char access_kind(const char *s, size_t n)
{
    if (n >= 3 && s[0] == 'I' && s[1] == ' ' && s[2] == ' ')
        return 'I';
    if (n >= 3 && s[0] == ' ' && s[2] == ' ' &&
        (s[1] == 'L' || s[1] == 'S' || s[1] == 'M'))
        return s[1];
    return 0;
}

/* `HEX,DEC` then optional blanks. */
static int parse_access(struct lklog *l, struct lk_item *it)
{
    const signed char *hv = hexval();
    const char *p = l->line + 3, *end = l->line + l->len, *q = p;
    uint64_t a = 0, n = 0;

    for (; p < end && hv[(unsigned char)*p] != 0; p++)
        a = (a << 4) | (uint64_t)(hv[(unsigned char)*p] - 1);
    if (p == q)
        return lklog_bad(l, l->lineno, "bad address");
    if (p - q > 16)
        return lklog_bad(l, l->lineno, "address over 64 bits");
    if (p == end || *p != ',')
        return lklog_bad(l, l->lineno, "missing ',SIZE'");
    for (q = ++p; p < end && *p >= '0' && *p <= '9' && p - q < 8; p++)
        n = n * 10 + (uint64_t)(*p - '0');
    if (p == q)
        return lklog_bad(l, l->lineno, "missing size");
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p != end)
        return lklog_bad(l, l->lineno, "junk after size");
    if (n == 0 || n > LACKEY_MAX_SIZE)
        return lklog_bad(l, l->lineno, "size 0 or too large");
    if (a + (n - 1) < a)
        return lklog_bad(l, l->lineno, "access wraps past 2^64");
    it->addr = a;
    it->size = n;
    return 0;
}

/* ---------- system calls ---------- */

static const struct {
    const char *name;
    enum lk_sc sc;
} scnames[] = {
    { "sys_mmap", SC_MMAP },         { "sys_munmap", SC_MUNMAP },
    { "sys_mprotect", SC_MPROTECT }, { "sys_mremap", SC_MREMAP },
    { "sys_madvise", SC_MADVISE },   { "sys_brk", SC_BRK },
    { "sys_open", SC_OPEN },         { "sys_openat", SC_OPENAT },
    { "sys_close", SC_CLOSE },       { "sys_dup", SC_DUP },
    { "sys_dup2", SC_DUP2 },         { "sys_dup3", SC_DUP3 },
    { "sys_fcntl", SC_FCNTL },       { "sys_read", SC_READ },
    { "sys_pread64", SC_PREAD },     { "sys_lseek", SC_LSEEK },
    { "sys_chdir", SC_CHDIR },       { "sys_fchdir", SC_FCHDIR },
    { "sys_fork", SC_FORK },         { "sys_vfork", SC_FORK },
    { "sys_clone", SC_FORK },        { "sys_execve", SC_EXECVE },
    { "exit_group", SC_EXIT },       { "sys_exit_group", SC_EXIT },
    { "sys_wait4", SC_WAIT4 },       { "sys_memfd_create", SC_MEMFD },
};

static enum lk_sc sc_of(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(scnames) / sizeof(scnames[0]); i++)
        if (strlen(scnames[i].name) == n && memcmp(scnames[i].name, s, n) == 0)
            return scnames[i].sc;
    return SC_OTHER;
}

/* => past a decimal (maybe negative: two's complement) or 0x hex number
 *    at p, or NULL. */
static const char *number(const char *p, uint64_t *v)
{
    const signed char *hv = hexval();
    const char *start;
    uint64_t x = 0;
    if (p[0] == '-' && p[1] >= '0' && p[1] <= '9') {
        const char *q = number(p + 1, &x);
        *v = 0 - x;
        return q;
    }
    if (p[0] == '0' && p[1] == 'x') {
        for (start = p += 2; hv[(unsigned char)*p] != 0 && p - start < 16; p++)
            x = x << 4 | (uint64_t)(hv[(unsigned char)*p] - 1);
        if (hv[(unsigned char)*p] != 0)
            return NULL;
    } else {
        for (start = p; *p >= '0' && *p <= '9'; p++) {
            uint64_t d = (uint64_t)(*p - '0');
            if (x > (UINT64_MAX - d) / 10)
                return NULL; /* past 2^64 - 1: not a value of the kernel's */
            x = x * 10 + d;
        }
    }
    *v = x;
    return p == start ? NULL : p;
}

/* The result after "--> ": Success(0x..), Failure(0x..), or [async].
 * => past the result, or NULL when there is none. */
static const char *parse_result(struct lk_sys *s, const char *p, int *async)
{
    *async = 0;
    for (;;) {
        while (*p == ' ')
            p++;
        if (strncmp(p, "[async]", 7) == 0) {
            *async = 1;
            return NULL;
        }
        if (*p != '[')
            break;
        const char *q = strchr(p, ']');
        if (q == NULL)
            return NULL;
        p = q + 1;
    }
    uint64_t v;
    const char *q;
    if (strncmp(p, "Success(", 8) == 0 && (q = number(p + 8, &v)) != NULL) {
        s->done = s->ok = 1;
        s->res = v;
        return *q == ')' ? q + 1 : NULL;
    }
    if (strncmp(p, "Failure(", 8) == 0 && (q = number(p + 8, &v)) != NULL) {
        s->done = 1;
        s->ok = 0;
        s->res = v;
        return *q == ')' ? q + 1 : NULL;
    }
    if (strncmp(p, "NoWriteResult", 13) == 0) {
        s->done = s->ok = 1;
        return p + 13;
    }
    return NULL;
}

/*
 * What follows a result on its line: valgrind ends the line of a clone
 * that starts a thread only when the parent runs again, so the new
 * thread's next line (an access, a system call) is glued to it.  That
 * rest is read as the next line.
 */
static void unglue(struct lklog *l, const char *end)
{
    if (end == NULL || *end != ' ')
        return;
    const char *rest = end + 1;
    if (rest[strspn(rest, " ")] == '\0')
        return;
    l->glued = (size_t)(rest - l->line);
}

/*
 * Arguments: numbers, each maybe followed by `(STRING)` (a pointer and
 * what it points at), up to the closing parenthesis.  => past it, or NULL.
 */
static const char *parse_args(struct lk_sys *s, const char *p, int hex_first)
{
    s->nargs = 0;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p == ')')
            return p + 1;
        uint64_t v = 0;
        if (s->nargs == 0 && hex_first) { /* clone's flags: %lx, no 0x */
            const signed char *hv = hexval();
            const char *q = p;
            for (; hv[(unsigned char)*p] != 0 && p - q < 16; p++)
                v = v << 4 | (uint64_t)(hv[(unsigned char)*p] - 1);
            if (p == q)
                return NULL;
        } else if ((p = number(p, &v)) == NULL) {
            return NULL;
        }
        if (s->nargs < 6)
            s->arg[s->nargs] = v;
        s->nargs++;
        if (*p == '(') {
            /* the string ends at the first ')' that ends this argument */
            const char *q = p + 1, *end = NULL;
            for (; (q = strchr(q, ')')) != NULL; q++)
                if (q[1] == ',' || (q[1] == ' ' && q[2] == ')')) {
                    end = q;
                    break;
                }
            if (end == NULL || (size_t)(end - p - 1) >= LK_PATH_MAX)
                return NULL;
            memcpy(s->path, p + 1, (size_t)(end - p - 1));
            s->path[end - p - 1] = '\0';
            s->has_path = 1;
            p = end + 1;
        }
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p != ')')
            return NULL;
    }
}

/* => 1 when a SYSCALL line parsed into s (0: a completion line, into the
 *    pending one; -1 malformed; -2 another process's, as when processes
 *    share one log).  *async: the result comes later. */
static int parse_syscall(struct lklog *l, struct lk_sys *s, int *async)
{
    const char *p = l->line + 8; /* past "SYSCALL[" */
    uint64_t pid, tid, nr;
    *async = 0;
    memset(s, 0, offsetof(struct lk_sys, path));
    s->path[0] = '\0';
    s->line = l->lineno;
    if ((p = number(p, &pid)) == NULL || *p++ != ',' ||
        (p = number(p, &tid)) == NULL || *p++ != ']' || *p++ != '(' ||
        (p = number(p, &nr)) == NULL || *p++ != ')' || *p++ != ' ')
        return -1;
    if (l->pid != 0 && pid != l->pid) /* a log with a preamble */
        return -2;
    s->tid = (unsigned)tid;
    s->nr = (unsigned)nr;
    if (strncmp(p, "... [async] --> ", 16) == 0) {
        for (unsigned i = 0; i < LK_PEND; i++) {
            struct lk_sys *q = &l->pend[i];
            if (q->used && q->tid == s->tid && q->nr == s->nr) {
                int again;
                unglue(l, parse_result(q, p + 16, &again));
                q->used = 0;
                *s = *q;
                s->completion = 1;
                return 0;
            }
        }
        int again;
        s->sc = SC_OTHER; /* its start was before this log: ignored */
        unglue(l, parse_result(s, p + 16, &again));
        return 0;
    }
    size_t n = strcspn(p, " ([");
    s->sc = sc_of(p, n);
    const char *args = strchr(p + n, '(');
    if (args == NULL)
        return s->sc == SC_OTHER ? 1 : -1;
    const char *tail =
        parse_args(s, args + 1, n == 9 && strncmp(p, "sys_clone", 9) == 0);
    if (tail == NULL && s->sc == SC_EXECVE && l->cut) {
        /* the log's last line, cut: as much of the path as there is */
        const char *q = strchr(args + 1, '(');
        size_t k = q ? strcspn(q + 1, ")") : 0;
        if (q == NULL || k >= LK_PATH_MAX)
            return -1;
        memcpy(s->path, q + 1, k);
        s->path[k] = '\0';
        s->has_path = 1;
        s->partial = q[1 + k] != ')';
        return 1;
    }
    if (tail == NULL)
        return s->sc == SC_OTHER ? 1 : -1;
    const char *cc = strstr(tail, "created child ");
    uint64_t child;
    if (cc != NULL && number(cc + 14, &child) != NULL && child > 0 &&
        child <= UINT32_MAX)
        s->child = (uint32_t)child;
    if (s->sc == SC_FORK && s->child == 0)
        s->sc = SC_OTHER; /* a thread, not a process */
    const char *res = strstr(tail, "--> ");
    if (res != NULL)
        unglue(l, parse_result(s, res + 4, async));
    return 1;
}

/* ---------- the preamble ---------- */

/* valgrind's "==PID== " prefix: => past it, *pid set, or NULL. */
static const char *vg_prefix(const char *s, uint32_t *pid)
{
    uint64_t v;
    const char *p;
    if (s[0] != '=' || s[1] != '=' || (p = number(s + 2, &v)) == NULL ||
        p[0] != '=' || p[1] != '=' || v == 0 || v > UINT32_MAX)
        return NULL;
    *pid = (uint32_t)v;
    return p[2] == ' ' ? p + 3 : p + 2;
}

/* Does a log line continue a system call's (" --> ...")?  Asked of every
 * line: a call to strncmp here was a sixth of the import. */
static inline bool is_arrow(const char *s)
{
    return s[0] == ' ' && s[1] == '-' && s[2] == '-' && s[3] == '>' &&
           s[4] == ' ';
}

/* Reads the preamble: pid, parent, Command (arguments with newlines run
 * on over lines until "Parent PID:"), and how the log goes on. */
static int read_preamble(struct lklog *l)
{
    size_t cap = 0, n = 0;
    int in_command = 0, r;
    while ((r = read_line(l)) == 1) {
        uint32_t pid = 0;
        const char *p = vg_prefix(l->line, &pid);
        if (in_command && p == NULL) {
            /* an argument holding a newline: the rest of it has no
             * "==PID== " in front; the next valgrind line ends the
             * command (valgrind writes "Parent PID:" only when tracing
             * children, so it cannot be the only end: without it the
             * whole log became the command, copied line after line) */
            size_t add = l->len + 1;
            char *c = realloc(l->command, cap + add + 1);
            if (c == NULL)
                return trace_fail(l->e, ENOMEM, "out of memory");
            l->command = c, cap += add;
            l->command[n++] = '\n';
            memcpy(l->command + n, l->line, l->len + 1);
            n += l->len;
            continue;
        }
        in_command = 0;
        if (p != NULL) {
            uint64_t v;
            l->pid = pid;
            if (strncmp(p, "Command: ", 9) == 0 && l->command == NULL) {
                n = strlen(p + 9);
                if ((l->command = malloc(n + 1)) == NULL)
                    return trace_fail(l->e, ENOMEM, "out of memory");
                memcpy(l->command, p + 9, n + 1);
                cap = n;
                in_command = 1;
            } else if (strncmp(p, "Parent PID: ", 12) == 0 &&
                       number(p + 12, &v) != NULL && v <= UINT32_MAX) {
                l->ppid = (uint32_t)v;
            }
            continue;
        }
        if (strncmp(l->line, "--", 2) == 0)
            continue;
        l->fork_child = is_arrow(l->line);
        break;
    }
    return r < 0 ? l->e->code : 0;
}

/* ---------- items ---------- */

static void reset(struct lklog *l)
{
    l->cut = 0;
    l->lineno = 0;
    l->have = l->pos = 0;
    l->eof = l->skipping = l->pushback = 0;
    l->glued = 0;
    l->line = NULL;
    l->len = 0;
    memset(l->pend, 0, sizeof(l->pend));
    l->cont.used = 0;
}

int lklog_rewind(struct lklog *l)
{
    if (fseek(l->f, l->start, SEEK_SET) != 0)
        return trace_fail(l->e, errno ? errno : EIO, "%s: cannot rewind: %s",
                          l->name ? l->name : "lackey log",
                          strerror(errno ? errno : EIO));
    clearerr(l->f);
    reset(l);
    return 0;
}

int lklog_open(struct lklog *l, const char *path, FILE *f,
               struct lackey_stats *st, struct trace_err *e)
{
    memset(l, 0, offsetof(struct lklog, pend));
    l->name = path;
    l->e = e;
    l->st = st;
    reset(l);
    if (path != NULL) {
        if ((l->f = fopen(path, "rb")) == NULL)
            return trace_fail(e, errno, "%s: %s", path, strerror(errno));
        l->own = 1;
    } else if ((l->start = ftell(f)) < 0 || fseek(f, l->start, SEEK_SET)) {
        /* a pipe: the layout scan reads the log twice, so keep a copy */
        char tmp[65536];
        size_t got;
        if ((l->f = tmpfile()) == NULL)
            return trace_fail(e, errno, "tmpfile: %s", strerror(errno));
        l->own = 1;
        l->start = 0;
        while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
            if (fwrite(tmp, 1, got, l->f) != got)
                return trace_fail(e, errno ? errno : EIO, "copying the log: %s",
                                  strerror(errno ? errno : EIO));
        if (ferror(f))
            return trace_fail(e, errno ? errno : EIO,
                              "reading the lackey log: %s",
                              strerror(errno ? errno : EIO));
        /* Reading a stream just written needs a flush and a seek between
         * (C11 7.21.5.3): without them the last buffer never reaches the
         * copy and the log looks cut. */
        if (fflush(l->f) != 0 || fseek(l->f, 0, SEEK_SET) != 0)
            return trace_fail(e, errno ? errno : EIO, "copying the log: %s",
                              strerror(errno ? errno : EIO));
    } else {
        l->f = f;
    }
    if ((l->buf = malloc(LK_LINE_MAX + 1)) == NULL)
        return trace_fail(e, ENOMEM, "out of memory");
    uint64_t lines = st->lines, skipped = st->skipped;
    int r = read_preamble(l);
    st->lines = lines, st->skipped = skipped; /* counted on the real pass */
    return r ? r : lklog_rewind(l);
}

void lklog_close(struct lklog *l)
{
    if (l->own && l->f != NULL)
        fclose(l->f);
    free(l->buf);
    free(l->command);
    l->f = NULL;
    l->buf = NULL;
    l->command = NULL;
}

/* => 1 when s is one the importer follows: then it is l->out. */
static int deliver(struct lklog *l, const struct lk_sys *s, struct lk_item *it)
{
    if (s->sc == SC_OTHER)
        return 0;
    l->out = *s;
    l->out.used = 0;
    it->type = LKI_SYSCALL;
    it->sys = &l->out;
    it->line = s->line;
    l->st->syscalls++;
    return 1;
}

/* The system call waiting for its continuation line goes without one. */
static int flush_cont(struct lklog *l, struct lk_item *it)
{
    l->cont.used = 0;
    return deliver(l, &l->cont, it);
}

int lklog_next(struct lklog *l, struct lk_item *it)
{
    for (;;) {
        int r = 1;
        if (l->pushback) {
            l->pushback = 0;
        } else if (l->glued > 0) {
            l->line += l->glued;
            l->len -= l->glued;
            l->glued = 0;
        } else if ((r = read_line(l)) < 0) {
            return l->e->code;
        }
        if (r == 0) {
            if (l->cont.used && flush_cont(l, it))
                return 0;
            it->type = LKI_EOF;
            it->line = l->lineno;
            return 0;
        }
        int is_cont = is_arrow(l->line);
        if (l->cont.used && !is_cont) {
            l->pushback = 1;
            if (flush_cont(l, it))
                return 0;
            continue;
        }
        char kind = access_kind(l->line, l->len);
        if (kind != 0) {
            if ((r = parse_access(l, it)) != 0)
                return r;
            it->type = LKI_ACCESS;
            it->acc = kind;
            it->line = l->lineno;
            switch (kind) {
            case 'I': l->st->instr++; break;
            case 'L': l->st->loads++; break;
            case 'S': l->st->stores++; break;
            default: l->st->modifies++; break;
            }
            return 0;
        }
        l->st->skipped++;
        if (is_cont) {
            if (l->cont.used) {
                int async;
                unglue(l, parse_result(&l->cont, l->line + 5, &async));
                l->cont.used = 0;
                if (deliver(l, &l->cont, it))
                    return 0;
            }
            continue; /* a forked child's first line, and the like */
        }
        if (strncmp(l->line, "SYSCALL[", 8) != 0)
            continue;
        struct lk_sys s;
        int async;
        int k = parse_syscall(l, &s, &async);
        if (k == -2)
            return lklog_bad(l, l->lineno,
                             "a system call of another process than the "
                             "log's (one log per process: valgrind "
                             "--log-file=NAME.%p)");
        if (k < 0) {
            if (s.sc == SC_FORK)
                l->st->forks++;
            return lklog_bad(l, l->lineno, "malformed system call");
        }
        if (s.sc == SC_FORK)
            l->st->forks++;
        if (k == 0) { /* completion of an [async] one */
            if (deliver(l, &s, it))
                return 0;
            continue;
        }
        if (async) {
            unsigned i = 0;
            while (i < LK_PEND && l->pend[i].used && l->pend[i].tid != s.tid)
                i++;
            if (i == LK_PEND)
                return lklog_bad(l, l->lineno,
                                 "more threads in system calls than followed");
            s.used = 1;
            l->pend[i] = s;
            /* a wait blocks here: the scheduler acts at the call (its
             * completion is not always printed: a signal may end it) */
            if (s.sc == SC_WAIT4) {
                s.used = 0;
                if (deliver(l, &s, it))
                    return 0;
            }
            continue;
        }
        if (s.done) {
            if (deliver(l, &s, it))
                return 0;
            continue;
        }
        s.used = 1;
        l->cont = s; /* its result on the next line, or none (execve) */
    }
}

/* ---------- valgrind's Command line ---------- */

int lk_command_words(char *s, char **words, int max)
{
    int n = 0;
    char *out = s;
    words[n++] = out;
    for (char *in = s; *in; in++) {
        if (*in == '\\' && in[1] != '\0') {
            *out++ = *++in;
        } else if (*in == ' ') {
            *out++ = '\0';
            if (n == max)
                return -1;
            words[n++] = out;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return n;
}
