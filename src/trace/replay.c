/*
 * Trace replay: one event at a time on the machine, through the public
 * API only; or a whole trace from a reader, whose binary access records
 * run straight from its buffer.  See xipvm_trace.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "xipvm.h"
#include "xipvm_trace.h"

#define CHUNK 65536 /* r/w/x beyond this go in pieces */

/* One trace among several replayed at once. */
struct source {
    uint64_t lines;
    int version; /* the header's; 0 before it */
};

/* (source, pid) -> the pid it runs under, when several traces share a
 * machine: open addressing, host memory. */
struct pidmap {
    uint64_t *key; /* (source + 1) << 32 | pid; 0 empty */
    uint32_t *val;
    size_t cap, n;
    uint32_t next;
    uint64_t *back; /* back[pid - 1]: the key of machine pid (oom) */
    size_t capback;
};

/* Pids of processes killed for lack of memory: open addressing, linear
 * probing, deletion by backward shift; 0 is never a pid. */
struct pidset {
    uint32_t *slot;
    size_t cap, n;
};

/* A loan the trace made and has not ended: its process and range. */
struct lent {
    uint32_t pid;
    uint64_t addr, len;
    xvm_loan *ln;
};

struct xvm_replay {
    xvm_machine *m;
    xvm_mount *mp;
    uint64_t lines, events, mismatches;
    struct source one, *src; /* src: nsrc of them, or &one */
    unsigned nsrc;
    struct pidmap pids;
    struct xvm_trace_event ev;
    uint32_t last_pid; /* pid -> vmspace cache for the hot path */
    xvm_vmspace *last_vs;
    struct pidset killed; /* their events are skipped */
    uint64_t oom_kills, skipped;
    struct xvm_oom_event *ooms;
    size_t nooms;
    uint64_t line_now; /* the text line of the event running, or 0 */
    unsigned src_now;  /* the source of the event running */
    const struct xvm_replay_hooks *hooks; /* xvm_replay_reader's */
    struct lent *loans; /* I/Os in flight: the trace's loans (§11.3) */
    size_t nloans, caploans;
    uint8_t buf[CHUNK];
    uint8_t zeros[CHUNK]; /* what a data-less write stores; never written */
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
    r->src = &r->one;
    r->nsrc = 1;
    *out = r;
    return 0;
}

int xvm_replay_sources(xvm_replay *r, unsigned n)
{
    if (r == NULL || n == 0 || r->lines > 0 || r->nsrc > 1)
        return EINVAL;
    if (n == 1)
        return 0;
    if ((r->src = calloc(n, sizeof(*r->src))) == NULL) {
        r->src = &r->one;
        return ENOMEM;
    }
    r->nsrc = n;
    return 0;
}

static uint64_t pid_hash(uint64_t key, size_t cap)
{
    return (key * UINT64_C(0x9e3779b97f4a7c15)) >> 7 & (cap - 1);
}

/* => the machine's pid for the source's pid, a new one the first time. */
static int pid_of(struct xvm_replay *r, unsigned src, uint32_t pid,
                  uint32_t *out)
{
    struct pidmap *pm = &r->pids;
    uint64_t key = (uint64_t)(src + 1) << 32 | pid;
    if (2 * (pm->n + 1) > pm->cap) {
        size_t ncap = pm->cap ? 2 * pm->cap : 64;
        uint64_t *nk = calloc(ncap, sizeof(*nk));
        uint32_t *nv = calloc(ncap, sizeof(*nv));
        if (nk == NULL || nv == NULL) {
            free(nk);
            free(nv);
            return ENOMEM;
        }
        for (size_t i = 0; i < pm->cap; i++) {
            if (pm->key[i] == 0)
                continue;
            size_t j = pid_hash(pm->key[i], ncap);
            while (nk[j] != 0)
                j = (j + 1) & (ncap - 1);
            nk[j] = pm->key[i];
            nv[j] = pm->val[i];
        }
        free(pm->key);
        free(pm->val);
        pm->key = nk, pm->val = nv, pm->cap = ncap;
    }
    size_t i = pid_hash(key, pm->cap);
    for (; pm->key[i] != 0; i = (i + 1) & (pm->cap - 1))
        if (pm->key[i] == key) {
            *out = pm->val[i];
            return 0;
        }
    if (pm->next == UINT32_MAX)
        return ERANGE;
    if (pm->next == pm->capback) {
        size_t nb = pm->capback ? 2 * pm->capback : 64;
        uint64_t *b = realloc(pm->back, nb * sizeof(*b));
        if (b == NULL)
            return ENOMEM;
        pm->back = b, pm->capback = nb;
    }
    pm->back[pm->next] = key;
    pm->key[i] = key;
    pm->val[i] = *out = ++pm->next;
    pm->n++;
    return 0;
}

/* Several sources: pids apart, marks prefixed with the source's number. */
static int renumber(struct xvm_replay *r, unsigned src,
                    struct xvm_trace_event *ev, char *label, size_t cap)
{
    int error = 0;
    if (ev->op == XVM_T_MARK) {
        snprintf(label, cap, "%u:%s", src + 1, ev->label);
        ev->label = label;
        return 0;
    }
    /* pid 0 stays 0: the machine refuses it, as for a trace alone */
    if (ev->pid != 0)
        error = pid_of(r, src, ev->pid, &ev->pid);
    if (error == 0 && ev->op == XVM_T_FORK && ev->pid2 != 0)
        error = pid_of(r, src, ev->pid2, &ev->pid2);
    return error;
}

void xvm_replay_destroy(xvm_replay *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nloans; i++)
        xvm_loan_end(r->loans[i].ln);
    free(r->loans);
    if (r->src != &r->one)
        free(r->src);
    free(r->pids.key);
    free(r->pids.val);
    free(r->pids.back);
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
static int do_access(struct xvm_replay *r, const struct xvm_trace_event *ev,
                     xvm_vmspace *vs, int *differs)
{
    uint64_t at = ev->addr, left = ev->len;
    while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        int error;
        if (ev->op == XVM_T_WRITE) {
            error = xvm_write(vs, at, ev->has_data ? ev->data : r->zeros, n);
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

static int do_mmap(struct xvm_replay *r, const struct xvm_trace_event *ev,
                   xvm_vmspace *vs)
{
    int flags = (ev->shared ? XVM_MAP_SHARED : XVM_MAP_PRIVATE) |
                (ev->fixed ? XVM_MAP_FIXED : 0);
    uint64_t addr = ev->addr;
    if (ev->path == NULL)
        return xvm_mmap(vs, &addr, ev->len, ev->prot, flags, NULL, 0);
    if (r->mp == NULL)
        return ENOENT;
    xvm_file *f;
    int error = xvm_open(r->mp, ev->path, XVM_O_RDONLY, &f);
    if (error) /* a directory is no file to map: EACCES, as spawn says */
        return error == EISDIR ? EACCES : error;
    error = xvm_mmap_file(vs, &addr, ev->len, ev->prot, flags, f, ev->off);
    xvm_close(f); /* the mapping holds the vnode */
    return error;
}

/* pread: the file's bytes through read(), then copied out to memory. */
static int do_pread(struct xvm_replay *r, const struct xvm_trace_event *ev,
                    xvm_vmspace *vs)
{
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

/* loan: the range goes to the kernel until the trace's unloan. */
static int do_loan(struct xvm_replay *r, const struct xvm_trace_event *ev,
                   xvm_vmspace *vs)
{
    if (r->nloans == r->caploans) {
        size_t cap = r->caploans ? 2 * r->caploans : 8;
        struct lent *n = realloc(r->loans, cap * sizeof(*n));
        if (n == NULL)
            return ENOMEM;
        r->loans = n;
        r->caploans = cap;
    }
    xvm_loan *ln;
    int error = xvm_loan_start(vs, ev->addr, ev->len, &ln);
    if (error == 0)
        r->loans[r->nloans++] = (struct lent){ ev->pid, ev->addr, ev->len, ln };
    return error;
}

/* unloan: the I/O reads the lent bytes (as a device's transfer does:
 * device pages in place, counted as flash reads) and the earliest loan of
 * that process and range ends; =HEX: the bytes it sent.  No such loan:
 * EINVAL. */
static int do_unloan(struct xvm_replay *r, const struct xvm_trace_event *ev,
                     int *differs)
{
    for (size_t i = 0; i < r->nloans; i++) {
        struct lent *l = &r->loans[i];
        if (l->pid != ev->pid || l->addr != ev->addr || l->len != ev->len)
            continue;
        for (uint64_t at = 0; at < l->len; at += CHUNK) {
            size_t n = l->len - at < CHUNK ? (size_t)(l->len - at) : CHUNK;
            if (xvm_loan_read(l->ln, at, r->buf, n) != 0 ||
                (at == 0 && ev->has_data &&
                 memcmp(r->buf, ev->data, ev->ndata) != 0))
                *differs = 1;
        }
        xvm_loan_end(l->ln);
        memmove(l, l + 1, (r->nloans - i - 1) * sizeof(*l));
        r->nloans--;
        return 0;
    }
    return EINVAL;
}

static int run_event(struct xvm_replay *r, const struct xvm_trace_event *ev,
                     int *differs)
{
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
    case XVM_T_MARK: return 0; /* xvm_replay_event keeps marks */
    case XVM_T_UNLOAN: return do_unloan(r, ev, differs); /* may outlive pid */
    default: break;
    }
    if ((vs = space_of(r, ev->pid)) == NULL)
        return ESRCH;
    switch (ev->op) {
    case XVM_T_MMAP: return do_mmap(r, ev, vs);
    case XVM_T_MUNMAP: return xvm_munmap(vs, ev->addr, ev->len);
    case XVM_T_MPROTECT: return xvm_mprotect(vs, ev->addr, ev->len, ev->prot);
    case XVM_T_PREAD: return do_pread(r, ev, vs);
    case XVM_T_LOAN: return do_loan(r, ev, vs);
    default: return do_access(r, ev, vs, differs);
    }
}

/* The bulk of a trace: an access in one piece, in the cached space. */
static inline int access_now(struct xvm_replay *r,
                             const struct xvm_trace_event *ev, int *differs)
{
    xvm_vmspace *vs = space_of(r, ev->pid);
    if (vs == NULL)
        return ESRCH;
    size_t n = (size_t)ev->len;
    int error;
    switch (ev->op) {
    case XVM_T_EXEC_FETCH: return xvm_fetch(vs, ev->addr, r->buf, n);
    case XVM_T_WRITE:
        return xvm_write(vs, ev->addr, ev->has_data ? ev->data : r->zeros, n);
    default:
        error = xvm_read(vs, ev->addr, r->buf, n);
        if (error == 0 && ev->has_data && memcmp(r->buf, ev->data, n) != 0)
            *differs = 1;
        return error;
    }
}

/*
 * Events of a process the machine killed are not replayed: the process
 * is gone.  A fork by it makes no child, an exit ends its pid's record,
 * and a spawn of its pid is a new process.  => true to skip the event.
 */
static bool skip_killed(struct xvm_replay *r, const struct xvm_trace_event *ev)
{
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

/* Takes the machine's kills (told to the hooks); => true when the event's
 * own process (or the child its fork was making) was killed. */
static bool take_kills(struct xvm_replay *r, const struct xvm_trace_event *ev)
{
    bool own = false;
    uint32_t pid;
    while (xvm_oom_next(r->m, &pid) == 0) {
        struct xvm_oom_event oom = {
            .pid = pid,
            .event = r->events,
            .line = r->line_now,
            .trace = r->src_now + 1,
            .pid_trace = 1,
            .trace_pid = pid,
        };
        /* Several traces: the victim's own trace and pid. */
        if (r->nsrc > 1 && pid >= 1 && pid <= r->pids.next) {
            uint64_t key = r->pids.back[pid - 1];
            oom.pid_trace = (unsigned)(key >> 32);
            oom.trace_pid = (uint32_t)key;
        }
        r->oom_kills++;
        r->last_vs = NULL;
        (void)pid_add(&r->killed, pid);
        own |= pid == ev->pid || (ev->op == XVM_T_FORK && pid == ev->pid2);
        if (r->hooks && r->hooks->oom)
            r->hooks->oom(r->hooks->arg, &oom);
        if (r->nooms == XVM_OOM_EVENTS_MAX)
            continue;
        if (r->nooms % 64 == 0) {
            struct xvm_oom_event *n =
                realloc(r->ooms, (r->nooms + 64) * sizeof(*n));
            if (n == NULL)
                continue; /* instrumentation: the count stays exact */
            r->ooms = n;
        }
        r->ooms[r->nooms++] = oom;
    }
    return own;
}

/* An errno the trace format has no name for is still named (strerror). */
static const char *err_name(int e)
{
    const char *n = xvm_trace_errno_name(e);
    return n ? n : e ? strerror(e) : "success";
}

/* After an event ran: the machine's kills, or a mismatch. */
static void settle(struct xvm_replay *r, const struct xvm_trace_event *ev,
                   int error, int differs, int *mismatch, char *msg,
                   size_t msglen)
{
    *mismatch = 0;
    if (error == ENOMEM && take_kills(r, ev)) {
        snprintf(msg, msglen, "pid %u killed: out of memory",
                 r->ooms && r->nooms ? r->ooms[r->nooms - 1].pid : ev->pid);
        return;
    }
    if (error != ev->expect_err) {
        snprintf(msg, msglen, "expected %s, got %s", err_name(ev->expect_err),
                 err_name(error));
        *mismatch = 1;
    } else if (differs) {
        snprintf(msg, msglen, "bytes read differ from =HEX");
        *mismatch = 1;
    }
    r->mismatches += (uint64_t)*mismatch;
}

int xvm_replay_event(xvm_replay *r, const struct xvm_trace_event *ev,
                     int *mismatch, char *msg, size_t msglen)
{
    int differs = 0, error;
    *mismatch = 0;
    r->events++;
    if (skip_killed(r, ev))
        return 0;
    if (ev->op >= XVM_T_READ && ev->op <= XVM_T_EXEC_FETCH &&
        ev->len <= CHUNK) {
        error = access_now(r, ev, &differs);
    } else if (ev->op == XVM_T_MARK) {
        /* A mark that cannot be kept is the replay's failure, not the
         * trace's: the trace cannot expect it. */
        error = xvm_timeline_mark(r->m, ev->label, r->events);
        if (error == E2BIG)
            snprintf(msg, msglen,
                     "more than %d marks: a replay keeps at most %d",
                     XVM_MARKS_MAX, XVM_MARKS_MAX);
        else if (error)
            snprintf(msg, msglen, "mark: %s", strerror(error));
        if (error) {
            r->events--; /* it did not happen */
            return error;
        }
    } else {
        error = run_event(r, ev, &differs);
    }
    xvm_timeline_tick(r->m, r->events);
    settle(r, ev, error, differs, mismatch, msg, msglen);
    return 0;
}

int xvm_replay_line(xvm_replay *r, char *line, int *mismatch, char *msg,
                    size_t msglen)
{
    return xvm_replay_line_from(r, 0, line, mismatch, msg, msglen);
}

int xvm_replay_line_from(xvm_replay *r, unsigned src, char *line, int *mismatch,
                         char *msg, size_t msglen)
{
    const char *why = NULL;
    char what[256], label[XVM_LABEL_MAX];
    *mismatch = 0;
    if (src >= r->nsrc) {
        snprintf(msg, msglen, "no trace %u: %u were announced", src + 1,
                 r->nsrc);
        return EINVAL;
    }
    struct source *s = &r->src[src];
    r->src_now = src;
    r->lines++;
    s->lines++;
    if (s->version == 0) {
        if ((s->version = xvm_trace_header_version(line)) == 0) {
            snprintf(msg, msglen,
                     "line %llu: not a trace: the first line "
                     "must be '" XVM_TRACE_HEADER "' (or 'xipvm-trace 1')",
                     (unsigned long long)s->lines);
            return EINVAL;
        }
        return 0;
    }
    int rc = xvm_trace_parse_line_v(line, s->version, &r->ev, &why);
    if (rc < 0) {
        snprintf(msg, msglen, "line %llu: %s", (unsigned long long)s->lines,
                 why ? why : "malformed");
        return EINVAL;
    }
    if (rc == 0)
        return 0;
    if (r->nsrc > 1 &&
        (rc = renumber(r, src, &r->ev, label, sizeof(label))) != 0) {
        snprintf(msg, msglen, "line %llu: %s", (unsigned long long)s->lines,
                 rc == ENOMEM ? "out of memory" : "out of pids");
        return rc;
    }
    r->line_now = s->lines;
    what[0] = '\0';
    int error = xvm_replay_event(r, &r->ev, mismatch, what, sizeof(what));
    if (error || *mismatch || what[0])
        snprintf(msg, msglen, "line %llu: %s", (unsigned long long)s->lines,
                 what);
    return error;
}

/* ---- a whole trace from a reader ---- */

#define PROGRESS_EVERY 65536

static void report_mismatch(const struct xvm_replay_hooks *h,
                            const xvm_trace_reader *rd, const char *what)
{
    char where[160];
    if (h == NULL || h->mismatch == NULL)
        return;
    xvm_trace_reader_where(rd, where, sizeof(where));
    h->mismatch(h->arg, where, what);
}

/* Accesses run in one call: enough that the call and the loop around it
 * cost little per access, few enough to stay in the host's L1. */
#define BATCH 1024

/* => how many events the next batch may hold: up to stop, to the
 * timeline's next sample and to the next progress report, so that each
 * comes at the event it would come at one by one. */
static size_t batch_room(const struct xvm_replay *r, uint64_t stop)
{
    uint64_t now = r->events, due = xvm_timeline_due(r->m);
    uint64_t room = stop - now, prog = (now | (PROGRESS_EVERY - 1)) + 1 - now;
    if (due > now && due - now < room)
        room = due - now;
    else if (due <= now)
        room = 1; /* overdue: tick after the next event, as one by one */
    if (prog < room)
        room = prog;
    return room < BATCH ? (size_t)room : BATCH;
}

/*
 * The hot loop of a binary replay: the plain access records of the
 * current frame, decoded where they lie into batches that
 * xvm_access_batch runs, until a record of another kind, one that did
 * not succeed (xvm_replay_reader_from takes the rest through the
 * reader), or the event numbered stop.  Not while killed processes are
 * skipped.
 */
static void run_accesses(struct xvm_replay *r, unsigned src,
                         xvm_trace_reader *rd, uint64_t stop,
                         const struct xvm_replay_hooks *h)
{
    struct tb_dec *d = rd->dec;
    uint32_t pid = d->pid;
    if (!d->have_pid || r->killed.n ||
        (r->nsrc > 1 && pid_of(r, src, d->pid, &pid) != 0))
        return; /* the general path tells it */
    xvm_vmspace *vs = space_of(r, pid);
    if (vs == NULL)
        return;
    const uint8_t *frame = rd->frame, *end = frame + rd->flen;
    size_t pos = rd->fpos;
    struct xvm_access acc[BATCH];
    while (r->events != stop) {
        struct tb_reg before = *d->reg;
        size_t used, last, done;
        size_t k = tb_take_refs(d->reg, d->at_reg, frame + pos, end, acc,
                                batch_room(r, stop), &used, &last);
        if (k == 0)
            break;
        int error = xvm_access_batch(vs, acc, k, &done);
        if (error) {
            /* Up to the access that failed and no further: the decoder
             * takes the records after it. */
            *d->reg = before;
            k = tb_take_refs(d->reg, d->at_reg, frame + pos, end, acc, done + 1,
                             &used, &last);
        }
        rd->rec_at = pos + last;
        rd->fpos = pos += used;
        rd->events += k;
        r->events += k;
        xvm_timeline_tick(r->m, r->events);
        if (error) {
            char what[96];
            int mismatch;
            trace_event_clear(&r->ev);
            r->ev.op = tb_trace_op(acc[done].kind), r->ev.pid = pid;
            r->ev.addr = acc[done].va, r->ev.len = acc[done].len;
            settle(r, &r->ev, error, 0, &mismatch, what, sizeof(what));
            if (mismatch)
                report_mismatch(h, rd, what);
            return; /* a kill changes what the next events are */
        }
        if ((r->events & (PROGRESS_EVERY - 1)) == 0 && h && h->progress)
            h->progress(h->arg, r->events);
    }
    rd->fpos = pos;
}

int xvm_replay_reader_from(xvm_replay *r, unsigned src, xvm_trace_reader *rd,
                           uint64_t max_events,
                           const struct xvm_replay_hooks *h, int *done,
                           char *msg, size_t msglen)
{
    char what[256], where[160], label[XVM_LABEL_MAX];
    int mismatch, error = 0;
    if (r == NULL || rd == NULL || done == NULL)
        return EINVAL;
    if (src >= r->nsrc) {
        snprintf(msg, msglen, "no trace %u: %u were announced", src + 1,
                 r->nsrc);
        return EINVAL;
    }
    struct source *s = &r->src[src];
    r->src_now = src;
    /* r->events never wraps: no limit is a stop never reached */
    uint64_t stop = max_events ? r->events + max_events : UINT64_MAX;
    *done = 0;
    r->hooks = h;
    while (r->events != stop) {
        if (rd->fmt == XVM_TRACE_BINARY && rd->fpos < rd->flen &&
            rd->error == 0) {
            run_accesses(r, src, rd, stop, h);
            if (r->events == stop)
                break;
        }
        int got = xvm_trace_read(rd, &r->ev);
        if (got == 0) {
            *done = 1;
            break;
        }
        if (got != 1) {
            snprintf(msg, msglen, "%s", xvm_trace_reader_error(rd));
            error = got;
            break;
        }
        r->line_now = rd->fmt == XVM_TRACE_TEXT ? rd->line : 0;
        if (r->nsrc > 1 &&
            (error = renumber(r, src, &r->ev, label, sizeof(label))) != 0) {
            xvm_trace_reader_where(rd, where, sizeof(where));
            snprintf(msg, msglen, "%s: %s", where,
                     error == ENOMEM ? "out of memory" : "out of pids");
            break;
        }
        error = xvm_replay_event(r, &r->ev, &mismatch, what, sizeof(what));
        if (error) {
            xvm_trace_reader_where(rd, where, sizeof(where));
            snprintf(msg, msglen, "%s: %s", where, what);
            break;
        }
        if (mismatch)
            report_mismatch(h, rd, what);
        if ((r->events & (PROGRESS_EVERY - 1)) == 0 && h && h->progress)
            h->progress(h->arg, r->events);
    }
    r->lines += rd->line - s->lines;
    s->lines = rd->line;
    r->hooks = NULL;
    return error;
}

int xvm_replay_reader(xvm_replay *r, xvm_trace_reader *rd,
                      const struct xvm_replay_hooks *h, char *msg,
                      size_t msglen)
{
    int done;
    return xvm_replay_reader_from(r, 0, rd, 0, h, &done, msg, msglen);
}
