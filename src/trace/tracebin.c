/*
 * tracebin.c - the records of the binary trace form (doc/trace-format.md,
 * "Binary form"): one event in, its records out, and back.  Frames, files
 * and compression are the reader's and the writer's (reader.c, writer.c).
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "tracefmt.h"

void tb_enc_frame(struct tb_enc *e)
{
    tb_regs_new_frame(&e->regs);
    e->have_pid = false;
}

void tb_dec_frame(struct tb_dec *d)
{
    tb_regs_new_frame(&d->regs);
    d->have_pid = false;
}

static int is_access(enum xvm_trace_op op)
{
    return op == XVM_T_READ || op == XVM_T_WRITE || op == XVM_T_EXEC_FETCH;
}

/* The register class of an access: fetches, or reads and writes. */
static unsigned reg_class(enum xvm_trace_op op)
{
    return op != XVM_T_EXEC_FETCH;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p = tb_put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

static uint8_t *put_access(struct tb_enc *e, const struct xvm_trace_event *ev,
                           uint8_t *p)
{
    struct tb_reg *r = tb_reg_of(&e->regs, ev->pid);
    unsigned cls = reg_class(ev->op);
    uint64_t delta = tb_zigzag((int64_t)(ev->addr - r->end[cls]));
    r->end[cls] = ev->addr + ev->len;
    if (ev->has_data) {
        *p++ = ev->op == XVM_T_READ ? TB_READ_DATA : TB_WRITE_DATA;
        p = tb_put_varint(p, ev->len);
        p = tb_put_varint(p, delta);
        memcpy(p, ev->data, ev->ndata);
        return p + ev->ndata;
    }
    unsigned kind = ev->op == XVM_T_EXEC_FETCH ? 0
                    : ev->op == XVM_T_READ     ? 1
                                               : 2;
    /* At its register when it can be: the one encoding of a delta 0. */
    unsigned first = (delta == 0 ? TB_AT_REG : 0) + (kind << 5);
    if (ev->len >= 1 && ev->len <= 31) {
        *p++ = (uint8_t)(first | ev->len);
    } else {
        *p++ = (uint8_t)first;
        p = tb_put_varint(p, ev->len);
    }
    return delta == 0 ? p : tb_put_varint(p, delta);
}

static uint8_t *put_op(const struct xvm_trace_event *ev, uint8_t *p)
{
    static const uint8_t code[] = {
        [XVM_T_SPAWN] = TB_SPAWN,       [XVM_T_FORK] = TB_FORK,
        [XVM_T_EXEC] = TB_EXEC,         [XVM_T_EXIT] = TB_EXIT,
        [XVM_T_MMAP] = TB_MMAP,         [XVM_T_MUNMAP] = TB_MUNMAP,
        [XVM_T_MPROTECT] = TB_MPROTECT, [XVM_T_BRK] = TB_BRK,
        [XVM_T_MARK] = TB_MARK,         [XVM_T_PREAD] = TB_PREAD,
        [XVM_T_LOAN] = TB_LOAN,         [XVM_T_UNLOAN] = TB_UNLOAN,
    };
    *p++ =
        ev->op == XVM_T_UNLOAN && ev->has_data ? TB_UNLOAN_DATA : code[ev->op];
    if (ev->op == XVM_T_MARK)
        return put_str(p, ev->label);
    p = tb_put_varint(p, ev->pid);
    switch (ev->op) {
    case XVM_T_SPAWN:
    case XVM_T_EXEC:
        p = put_str(p, ev->path);
        p = tb_put_varint(p, ev->argc);
        for (unsigned i = 0; i < ev->argc; i++)
            p = put_str(p, ev->argv[i]);
        return p;
    case XVM_T_FORK: return tb_put_varint(p, ev->pid2);
    case XVM_T_MMAP:
        p = tb_put_varint(p, ev->addr);
        p = tb_put_varint(p, ev->len);
        *p++ = (uint8_t)(ev->prot | (ev->shared ? TB_MMAP_SHARED : 0) |
                         (ev->fixed ? TB_MMAP_FIXED : 0) |
                         (ev->path ? TB_MMAP_PATH : 0));
        if (ev->path) {
            p = put_str(p, ev->path);
            p = tb_put_varint(p, ev->off);
        }
        return p;
    case XVM_T_MUNMAP:
    case XVM_T_MPROTECT:
        p = tb_put_varint(p, ev->addr);
        p = tb_put_varint(p, ev->len);
        if (ev->op == XVM_T_MPROTECT)
            *p++ = (uint8_t)ev->prot;
        return p;
    case XVM_T_BRK: return tb_put_varint(p, ev->addr);
    case XVM_T_PREAD:
        p = tb_put_varint(p, ev->addr);
        p = tb_put_varint(p, ev->len);
        p = put_str(p, ev->path);
        return tb_put_varint(p, ev->off);
    case XVM_T_LOAN:
    case XVM_T_UNLOAN:
        p = tb_put_varint(p, ev->addr);
        p = tb_put_varint(p, ev->len);
        if (ev->has_data) { /* unloan's: exactly LEN bytes */
            memcpy(p, ev->data, ev->ndata);
            p += ev->ndata;
        }
        return p;
    default: return p; /* exit */
    }
}

int tb_encode(struct tb_enc *e, const struct xvm_trace_event *ev, uint8_t *out)
{
    uint8_t *p = out;
    if (!trace_event_ok(ev))
        return -EINVAL;
    if (!is_access(ev->op) &&
        xvm_trace_format_event(ev, (char *)out, XVM_TRACE_MAX_LINE + 1) < 0)
        return -EINVAL; /* its line would be too long */
    if (is_access(ev->op) && (!e->have_pid || e->pid != ev->pid)) {
        *p++ = TB_PID;
        p = tb_put_varint(p, ev->pid);
        e->pid = ev->pid;
        e->have_pid = true;
    }
    if (ev->expect_err) {
        *p++ = TB_EXPECT;
        p = tb_put_varint(p, (uint64_t)xvm_trace_errno_code(ev->expect_err));
    }
    p = is_access(ev->op) ? put_access(e, ev, p) : put_op(ev, p);
    assert(p - out <= TB_EVENT_MAX); /* the writer's frames rely on it */
    return (int)(p - out);
}

/* ---- decoding ---- */

/* tb_take_refs's loop, each record tested against end unless in_bounds
 * (a constant in each of its two copies).  => past the last record
 * taken; *k: how many, *start: where the last one starts. */
static inline const uint8_t *take_refs(const uint8_t *q, const uint8_t *end,
                                       bool in_bounds, unsigned at_reg,
                                       uint64_t *fetch_end, uint64_t *data_end,
                                       struct xvm_access *a, size_t max,
                                       size_t *k, const uint8_t **start)
{
    for (; *k < max; ++*k) {
        const uint8_t *next = tb_access_record(q, end, in_bounds, at_reg,
                                               fetch_end, data_end, &a[*k]);
        if (next == NULL)
            break;
        *start = q;
        q = next;
    }
    return q;
}

size_t tb_take_refs(struct tb_reg *r, unsigned at_reg, const uint8_t *p,
                    const uint8_t *end, struct xvm_access *a, size_t max,
                    size_t *used, size_t *last)
{
    uint64_t fetch_end = r->end[0], data_end = r->end[1];
    const uint8_t *q, *start = p;
    size_t k = 0;
    /* Where max records of the most bytes end by end, none is tested
     * against it. */
    if (end >= p && (size_t)(end - p) / TB_ACCESS_MAX >= max)
        q = take_refs(p, end, true, at_reg, &fetch_end, &data_end, a, max, &k,
                      &start);
    else
        q = take_refs(p, end, false, at_reg, &fetch_end, &data_end, a, max, &k,
                      &start);
    r->end[0] = fetch_end;
    r->end[1] = data_end;
    *used = (size_t)(q - p);
    *last = (size_t)(start - p);
    return k;
}

struct cur {
    const uint8_t *p, *end;
    char *s, *s_end; /* where the next string goes */
    const char *msg;
};

static bool fail(struct cur *c, const char *msg)
{
    if (c->msg == NULL)
        c->msg = msg;
    return false;
}

static bool get(struct cur *c, uint64_t *v)
{
    if (c->p >= c->end)
        return fail(c, "truncated record");
    const uint8_t *q = tb_get_varint(c->p, v);
    if (q == NULL)
        return fail(c, "bad varint");
    if (q > c->end)
        return fail(c, "truncated record");
    c->p = q;
    return true;
}

static bool get_max(struct cur *c, uint64_t max, uint64_t *v, const char *what)
{
    return get(c, v) && (*v <= max || fail(c, what));
}

static bool get_pid(struct cur *c, uint32_t *pid)
{
    uint64_t v;
    if (!get_max(c, UINT32_MAX, &v, "pid out of range"))
        return false;
    *pid = (uint32_t)v;
    return true;
}

static bool get_byte(struct cur *c, uint8_t *b)
{
    if (c->p >= c->end)
        return fail(c, "truncated record");
    *b = *c->p++;
    return true;
}

/* A PATH, ARG or LABEL: a length and bytes, any but NUL (empty too). */
static bool get_str(struct cur *c, const char **out)
{
    uint64_t n;
    if (!get(c, &n))
        return false;
    if (n > (uint64_t)(c->end - c->p))
        return fail(c, "truncated record");
    if (n >= (uint64_t)(c->s_end - c->s))
        return fail(c, "strings longer than a trace line");
    memcpy(c->s, c->p, (size_t)n);
    c->s[n] = '\0';
    if (memchr(c->s, '\0', (size_t)n) != NULL)
        return fail(c, "NUL byte in a string");
    *out = c->s;
    c->s += n + 1;
    c->p += n;
    return true;
}

static bool get_prot(struct cur *c, uint8_t allowed, uint8_t *b)
{
    return get_byte(c, b) && ((*b & ~allowed) == 0 || fail(c, "bad flags"));
}

static bool get_spawn(struct cur *c, struct xvm_trace_event *ev)
{
    uint64_t argc;
    if (!get_pid(c, &ev->pid) || !get_str(c, &ev->path) ||
        !get_max(c, XVM_TRACE_MAX_ARGS, &argc, "too many arguments"))
        return false;
    ev->argc = (unsigned)argc;
    for (unsigned i = 0; i < ev->argc; i++)
        if (!get_str(c, &ev->argv[i]))
            return false;
    return true;
}

static bool get_mmap(struct cur *c, struct xvm_trace_event *ev)
{
    uint8_t f;
    if (!get_pid(c, &ev->pid) || !get(c, &ev->addr) || !get(c, &ev->len) ||
        !get_prot(c, 7 | TB_MMAP_SHARED | TB_MMAP_FIXED | TB_MMAP_PATH, &f))
        return false;
    ev->prot = f & 7;
    ev->shared = (f & TB_MMAP_SHARED) != 0;
    ev->fixed = (f & TB_MMAP_FIXED) != 0;
    return !(f & TB_MMAP_PATH) || (get_str(c, &ev->path) && get(c, &ev->off));
}

static bool get_op(struct cur *c, uint8_t op, struct xvm_trace_event *ev)
{
    uint8_t prot;
    switch (op) {
    case TB_SPAWN: ev->op = XVM_T_SPAWN; return get_spawn(c, ev);
    case TB_EXEC: ev->op = XVM_T_EXEC; return get_spawn(c, ev);
    case TB_FORK:
        ev->op = XVM_T_FORK;
        return get_pid(c, &ev->pid) && get_pid(c, &ev->pid2);
    case TB_EXIT: ev->op = XVM_T_EXIT; return get_pid(c, &ev->pid);
    case TB_MMAP: ev->op = XVM_T_MMAP; return get_mmap(c, ev);
    case TB_MUNMAP:
        ev->op = XVM_T_MUNMAP;
        return get_pid(c, &ev->pid) && get(c, &ev->addr) && get(c, &ev->len);
    case TB_MPROTECT:
        ev->op = XVM_T_MPROTECT;
        if (!get_pid(c, &ev->pid) || !get(c, &ev->addr) || !get(c, &ev->len) ||
            !get_prot(c, 7, &prot))
            return false;
        ev->prot = prot;
        return true;
    case TB_BRK:
        ev->op = XVM_T_BRK;
        return get_pid(c, &ev->pid) && get(c, &ev->addr);
    case TB_MARK: ev->op = XVM_T_MARK; return get_str(c, &ev->label);
    case TB_PREAD:
        ev->op = XVM_T_PREAD;
        return get_pid(c, &ev->pid) && get(c, &ev->addr) &&
               get_max(c, XVM_TRACE_MAX_SIZE, &ev->len, "size above 2^32") &&
               get_str(c, &ev->path) && get(c, &ev->off);
    case TB_LOAN:
    case TB_UNLOAN:
        ev->op = op == TB_LOAN ? XVM_T_LOAN : XVM_T_UNLOAN;
        if (!get_pid(c, &ev->pid) || !get(c, &ev->addr) ||
            !get_max(c, XVM_TRACE_MAX_SIZE, &ev->len, "size above 2^32"))
            return false;
        return ev->len > 0 || fail(c, "LEN out of range (1 to 2^32)");
    case TB_UNLOAN_DATA:
        ev->op = XVM_T_UNLOAN;
        if (!get_pid(c, &ev->pid) || !get(c, &ev->addr) ||
            !get_max(c, XVM_TRACE_MAX_DATA, &ev->len,
                     "data size out of range (1 to 4096)"))
            return false;
        if (ev->len == 0)
            return fail(c, "data size out of range (1 to 4096)");
        if (ev->len > (uint64_t)(c->end - c->p))
            return fail(c, "truncated record");
        memcpy(ev->data, c->p, (size_t)ev->len);
        c->p += ev->len;
        ev->has_data = 1;
        ev->ndata = (size_t)ev->len;
        return true;
    default: return fail(c, "unknown record type");
    }
}

static bool get_access(struct tb_dec *d, struct cur *c, uint8_t op,
                       struct xvm_trace_event *ev)
{
    uint64_t size, delta;
    bool data = op == TB_READ_DATA || op == TB_WRITE_DATA;
    if (!d->have_pid)
        return fail(c, "access before any PID record");
    if (data) {
        ev->op = op == TB_READ_DATA ? XVM_T_READ : XVM_T_WRITE;
        if (!get(c, &size) || !get(c, &delta))
            return false;
        if (size == 0 || size > XVM_TRACE_MAX_DATA)
            return fail(c, "data size out of range (1 to 4096)");
        if (size > (uint64_t)(c->end - c->p))
            return fail(c, "truncated record");
        memcpy(ev->data, c->p, (size_t)size);
        c->p += size;
        ev->has_data = 1;
        ev->ndata = (size_t)size;
    } else {
        bool at_reg = op >= d->at_reg;
        unsigned kind = (at_reg ? op - TB_AT_REG : op) >> 5;
        ev->op = tb_trace_op(kind);
        size = op & 31;
        if (size == 0 &&
            !get_max(c, XVM_TRACE_MAX_SIZE, &size, "size above 2^32"))
            return false;
        delta = 0;
        if (!at_reg && !get(c, &delta))
            return false;
    }
    struct tb_reg *r = d->reg;
    unsigned cls = reg_class(ev->op);
    ev->pid = d->pid;
    ev->addr = r->end[cls] + (uint64_t)tb_unzigzag(delta);
    ev->len = size;
    r->end[cls] = ev->addr + size;
    return true;
}

long tb_decode(struct tb_dec *d, const uint8_t *p, const uint8_t *end,
               struct xvm_trace_event *ev, const char **msg, size_t *fault)
{
    struct cur c = { p, end, d->strings, d->strings + sizeof(d->strings),
                     NULL };
    const uint8_t *start = p, *rec = p, *expect_at = p;
    int expect = 0;
    uint8_t op;

    trace_event_clear(ev);
    for (;;) {
        rec = c.p;
        if (!get_byte(&c, &op))
            goto bad;
        if (op == TB_PID && !expect) {
            if (!get_pid(&c, &d->pid))
                goto bad;
            d->have_pid = true;
            d->reg = tb_reg_of(&d->regs, d->pid);
            if (c.p == c.end) {
                fail(&c, "PID record not followed by an event");
                goto bad;
            }
            continue;
        }
        if (op == TB_EXPECT && !expect) {
            uint64_t code;
            expect_at = rec;
            if (!get(&c, &code))
                goto bad;
            if ((expect = xvm_trace_errno_from_code(
                     code > 255 ? 0 : (int)code)) == 0) {
                fail(&c, "unknown errno code");
                goto bad;
            }
            continue;
        }
        break;
    }
    if (op == TB_PID || op == TB_EXPECT) {
        fail(&c, "EXPECT record not followed by an event");
        rec = expect_at;
        goto bad;
    }
    if (op < TB_ACCESS_END || op >= d->at_reg || op == TB_READ_DATA ||
        op == TB_WRITE_DATA) {
        if (!get_access(d, &c, op, ev))
            goto bad;
    } else if (!get_op(&c, op, ev)) {
        goto bad;
    }
    ev->expect_err = expect;
    /* A record the text form could not hold is not a trace event. */
    if (ev->op != XVM_T_READ && ev->op != XVM_T_WRITE &&
        ev->op != XVM_T_EXEC_FETCH) {
        int n = xvm_trace_format_event(ev, d->line, sizeof(d->line));
        if (n < 0) {
            fail(&c, n == -ENOSPC ? "event longer than a trace line"
                                  : "event the text form cannot hold");
            goto bad;
        }
    }
    return (long)(c.p - start);
bad:
    *msg = c.msg;
    *fault = (size_t)(rec - start);
    return -EINVAL;
}
