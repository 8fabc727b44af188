/*
 * Trace replay: one line, one event on the machine, through the public
 * API only.  See xipvm.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm_trace.h"
#include "xipvm.h"

#define CHUNK 65536 /* r/w/x beyond this go in pieces */

struct xvm_replay {
    xvm_machine *m;
    xvm_mount *mp;
    uint64_t lines, events, mismatches;
    int version; /* the header's; 0 before it */
    struct xvm_trace_event ev;
    uint32_t last_pid; /* pid -> vmspace cache for the hot path */
    xvm_vmspace *last_vs;
    uint8_t buf[CHUNK];
};

int xvm_replay_create(xvm_machine *m, xvm_mount *mp, xvm_replay **out)
{
    if (m == NULL || out == NULL)
        return EINVAL;
    struct xvm_replay *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return ENOMEM;
    r->m = m;
    r->mp = mp;
    *out = r;
    return 0;
}

void xvm_replay_destroy(xvm_replay *r)
{
    if (r == NULL)
        return;
    free(r);
}

void xvm_replay_totals(const xvm_replay *r, struct xvm_replay_totals *t)
{
    t->lines = r->lines;
    t->events = r->events;
    t->mismatches = r->mismatches;
    struct xvm_timeline tl;
    xvm_timeline_get(r->m, &tl);
    t->nmarks = (unsigned)tl.nmarks;
    t->marks = tl.marks;
}

static xvm_vmspace *space_of(struct xvm_replay *r, uint32_t pid)
{
    if (r->last_vs == NULL || r->last_pid != pid) {
        r->last_vs = xvm_proc_vmspace(r->m, pid);
        r->last_pid = pid;
    }
    return r->last_vs;
}

/* r, w and x: in chunks, checking =HEX for reads. */
static int do_access(struct xvm_replay *r, xvm_vmspace *vs, int *differs)
{
    struct xvm_trace_event *ev = &r->ev;
    uint64_t at = ev->addr, left = ev->len;
    while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        int error;
        if (ev->op == XVM_T_WRITE) {
            const void *src = ev->has_data ? ev->data : r->buf;
            if (!ev->has_data)
                memset(r->buf, 0, n); /* data-less writes store zeros */
            error = xvm_write(vs, at, src, n);
        } else {
            error = ev->op == XVM_T_READ ? xvm_read(vs, at, r->buf, n)
                                         : xvm_fetch(vs, at, r->buf, n);
            if (error == 0 && ev->has_data && memcmp(r->buf, ev->data, n) != 0)
                *differs = 1;
        }
        if (error)
            return error;
        at += n;
        left -= n;
    }
    return 0;
}

static int do_mmap(struct xvm_replay *r, xvm_vmspace *vs)
{
    struct xvm_trace_event *ev = &r->ev;
    int flags = (ev->shared ? XVM_MAP_SHARED : XVM_MAP_PRIVATE) |
                (ev->fixed ? XVM_MAP_FIXED : 0);
    uint64_t addr = ev->addr;
    if (ev->path == NULL)
        return xvm_mmap(vs, &addr, ev->len, ev->prot, flags, NULL, 0);
    if (r->mp == NULL)
        return ENOENT;
    xvm_file *f;
    int error = xvm_open(r->mp, ev->path, XVM_O_RDONLY, &f);
    if (error)
        return error;
    error = xvm_mmap_file(vs, &addr, ev->len, ev->prot, flags, f, ev->off);
    xvm_close(f); /* the mapping holds the vnode */
    return error;
}

/* pread: the file's bytes through read(), then copied out to memory. */
static int do_pread(struct xvm_replay *r, xvm_vmspace *vs)
{
    struct xvm_trace_event *ev = &r->ev;
    uint64_t done = 0;
    xvm_file *f;
    if (r->mp == NULL)
        return ENOENT;
    int error = xvm_open(r->mp, ev->path, XVM_O_RDONLY, &f);
    if (error)
        return error;
    while (error == 0 && done < ev->len) {
        size_t n = ev->len - done < CHUNK ? (size_t)(ev->len - done) : CHUNK;
        size_t got = 0;
        error = xvm_pread(f, ev->off + done, r->buf, n, &got);
        if (error == 0 && got > 0)
            error = xvm_write(vs, ev->addr + done, r->buf, got);
        if (got < n)
            break; /* the end of the file */
        done += n;
    }
    xvm_close(f);
    return error;
}

static int run_event(struct xvm_replay *r, int *differs)
{
    struct xvm_trace_event *ev = &r->ev;
    const char *argv[XVM_TRACE_MAX_ARGS + 1];
    xvm_vmspace *vs = NULL;

    switch (ev->op) {
    case XVM_T_SPAWN:
    case XVM_T_EXEC:
        argv[0] = ev->path;
        for (unsigned i = 0; i < ev->argc; i++)
            argv[i + 1] = ev->argv[i];
        r->last_vs = NULL;
        if (ev->op == XVM_T_EXEC)
            return xvm_exec(r->m, ev->pid, ev->path, ev->argc + 1, argv);
        return r->mp ? xvm_spawn(r->m, r->mp, ev->pid, ev->path, ev->argc + 1,
                                 argv)
                     : ENOENT;
    case XVM_T_FORK: return xvm_fork(r->m, ev->pid, ev->pid2);
    case XVM_T_EXIT: r->last_vs = NULL; return xvm_exit(r->m, ev->pid);
    case XVM_T_BRK: return xvm_brk(r->m, ev->pid, ev->addr);
    case XVM_T_MARK: return xvm_timeline_mark(r->m, ev->label, r->events);
    default: break;
    }
    if ((vs = space_of(r, ev->pid)) == NULL)
        return ESRCH;
    switch (ev->op) {
    case XVM_T_MMAP: return do_mmap(r, vs);
    case XVM_T_MUNMAP: return xvm_munmap(vs, ev->addr, ev->len);
    case XVM_T_MPROTECT: return xvm_mprotect(vs, ev->addr, ev->len, ev->prot);
    case XVM_T_PREAD: return do_pread(r, vs);
    default: return do_access(r, vs, differs);
    }
}

/* An errno the trace format has no name for is still named (strerror). */
static const char *err_name(int e)
{
    const char *n = xvm_trace_errno_name(e);
    return n ? n : e ? strerror(e) : "success";
}

int xvm_replay_line(xvm_replay *r, char *line, int *mismatch, char *msg,
                    size_t msglen)
{
    const char *why = NULL;
    *mismatch = 0;
    r->lines++;
    if (r->version == 0) {
        if ((r->version = xvm_trace_header_version(line)) == 0) {
            snprintf(msg, msglen,
                     "line %llu: not a trace: the first line "
                     "must be '" XVM_TRACE_HEADER "' (or 'xipvm-trace 1')",
                     (unsigned long long)r->lines);
            return EINVAL;
        }
        return 0;
    }
    int rc = xvm_trace_parse_line_v(line, r->version, &r->ev, &why);
    if (rc < 0) {
        snprintf(msg, msglen, "line %llu: %s", (unsigned long long)r->lines,
                 why ? why : "malformed");
        return EINVAL;
    }
    if (rc == 0)
        return 0;
    r->events++;
    int differs = 0, error = run_event(r, &differs);
    xvm_timeline_tick(r->m, r->events);
    if (error != r->ev.expect_err) {
        snprintf(msg, msglen, "line %llu: expected %s, got %s",
                 (unsigned long long)r->lines, err_name(r->ev.expect_err),
                 err_name(error));
        *mismatch = 1;
    } else if (differs) {
        snprintf(msg, msglen, "line %llu: bytes read differ from =HEX",
                 (unsigned long long)r->lines);
        *mismatch = 1;
    }
    r->mismatches += (uint64_t)*mismatch;
    return 0;
}
