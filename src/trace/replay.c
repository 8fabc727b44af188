/*
 * Trace replay: one line, one event on the machine, through the public
 * API only.  See xipvm.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm_trace.h"
#include "xipvm.h"

#define CHUNK 65536 /* r/w/x beyond this go in pieces */

/* Pids of processes killed for lack of memory: open addressing, linear
 * probing, deletion by backward shift; 0 is never a pid. */
struct pidset {
    uint32_t *slot;
    size_t cap, n;
};

struct xvm_replay {
    xvm_machine *m;
    xvm_mount *mp;
    uint64_t lines, events, mismatches;
    int header_seen;
    struct xvm_trace_event ev;
    uint32_t last_pid; /* pid -> vmspace cache for the hot path */
    xvm_vmspace *last_vs;
    struct pidset killed; /* their events are skipped */
    uint64_t oom_kills, skipped;
    struct xvm_oom_event *ooms;
    size_t nooms;
    uint8_t buf[CHUNK];
};

static size_t pid_home(const struct pidset *s, uint32_t pid)
{
    return (size_t)(pid * 0x9e3779b1u) & (s->cap - 1);
}

static bool pid_has(const struct pidset *s, uint32_t pid)
{
    if (s->n == 0)
        return false;
    for (size_t i = pid_home(s, pid);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == pid)
            return true;
        if (s->slot[i] == 0)
            return false;
    }
}

static int pid_add(struct pidset *s, uint32_t pid)
{
    if (pid == 0 || pid_has(s, pid))
        return 0;
    if (2 * (s->n + 1) > s->cap) {
        struct pidset g = { calloc(s->cap ? 2 * s->cap : 16, sizeof(uint32_t)),
                            s->cap ? 2 * s->cap : 16, 0 };
        if (g.slot == NULL)
            return ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                (void)pid_add(&g, s->slot[i]);
        free(s->slot);
        *s = g;
    }
    size_t i = pid_home(s, pid);
    while (s->slot[i])
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = pid;
    s->n++;
    return 0;
}

static void pid_del(struct pidset *s, uint32_t pid)
{
    if (!pid_has(s, pid))
        return;
    size_t i = pid_home(s, pid);
    while (s->slot[i] != pid)
        i = (i + 1) & (s->cap - 1);
    s->slot[i] = 0;
    s->n--;
    /* Shift back the entries after it that probed past it. */
    for (size_t j = (i + 1) & (s->cap - 1); s->slot[j];
         j = (j + 1) & (s->cap - 1)) {
        size_t h = pid_home(s, s->slot[j]);
        if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
            s->slot[i] = s->slot[j];
            s->slot[j] = 0;
            i = j;
        }
    }
}

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
    free(r->killed.slot);
    free(r->ooms);
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
    t->oom_kills = r->oom_kills;
    t->skipped = r->skipped;
    t->nooms = r->nooms;
    t->ooms = r->ooms;
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
    default: return do_access(r, vs, differs);
    }
}

/*
 * Events of a process the machine killed are not replayed: the process
 * is gone.  A fork by it makes no child, an exit ends its pid's record,
 * and a spawn of its pid is a new process.  => true to skip the event.
 */
static bool skip_killed(struct xvm_replay *r)
{
    const struct xvm_trace_event *ev = &r->ev;
    if (ev->op == XVM_T_MARK || r->killed.n == 0)
        return false;
    if (ev->op == XVM_T_SPAWN) {
        pid_del(&r->killed, ev->pid);
        return false;
    }
    if (!pid_has(&r->killed, ev->pid))
        return false;
    if (ev->op == XVM_T_FORK)
        (void)pid_add(&r->killed, ev->pid2);
    else if (ev->op == XVM_T_EXIT)
        pid_del(&r->killed, ev->pid);
    r->skipped++;
    return true;
}

/* Takes the machine's kills; => true when the event's own process (or
 * the child its fork was making) was killed. */
static bool take_kills(struct xvm_replay *r)
{
    const struct xvm_trace_event *ev = &r->ev;
    bool own = false;
    uint32_t pid;
    while (xvm_oom_next(r->m, &pid) == 0) {
        r->oom_kills++;
        r->last_vs = NULL;
        (void)pid_add(&r->killed, pid);
        own |= pid == ev->pid || (ev->op == XVM_T_FORK && pid == ev->pid2);
        if (r->nooms == XVM_OOM_EVENTS_MAX)
            continue;
        if (r->nooms % 64 == 0) {
            struct xvm_oom_event *n =
                realloc(r->ooms, (r->nooms + 64) * sizeof(*n));
            if (n == NULL)
                continue; /* instrumentation: the count stays exact */
            r->ooms = n;
        }
        r->ooms[r->nooms++] =
            (struct xvm_oom_event){ pid, r->events, r->lines };
    }
    return own;
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
    if (!r->header_seen) {
        if (xvm_trace_check_header(line) != 0) {
            snprintf(msg, msglen,
                     "line %llu: not a trace: the first line "
                     "must be '" XVM_TRACE_HEADER "'",
                     (unsigned long long)r->lines);
            return EINVAL;
        }
        r->header_seen = 1;
        return 0;
    }
    int rc = xvm_trace_parse_line(line, &r->ev, &why);
    if (rc < 0) {
        snprintf(msg, msglen, "line %llu: %s", (unsigned long long)r->lines,
                 why ? why : "malformed");
        return EINVAL;
    }
    if (rc == 0)
        return 0;
    r->events++;
    if (skip_killed(r))
        return 0;
    int differs = 0, error = run_event(r, &differs);
    xvm_timeline_tick(r->m, r->events);
    if (error == ENOMEM && take_kills(r)) {
        snprintf(msg, msglen, "line %llu: pid %u killed: out of swap",
                 (unsigned long long)r->lines,
                 r->ooms && r->nooms ? r->ooms[r->nooms - 1].pid : r->ev.pid);
        return 0;
    }
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
