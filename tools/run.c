/*
 * Replays one trace file on a fresh machine and keeps what the library
 * reports of it, with progress on a terminal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "xipvm_trace.h"

#define PROGRESS_NS 250000000LL

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Copies the timeline out of the machine, which the caller destroys. */
static int keep_timeline(xvm_machine *m, struct run_result *r)
{
    struct xvm_timeline tl;
    xvm_timeline_get(m, &tl);
    r->samples = malloc((tl.nsamples ? tl.nsamples : 1) * sizeof(*r->samples));
    r->marks = malloc((tl.nmarks ? tl.nmarks : 1) * sizeof(*r->marks));
    if (r->samples == NULL || r->marks == NULL)
        return -1;
    if (tl.nsamples)
        memcpy(r->samples, tl.samples, tl.nsamples * sizeof(*r->samples));
    if (tl.nmarks)
        memcpy(r->marks, tl.marks, tl.nmarks * sizeof(*r->marks));
    r->nsamples = tl.nsamples;
    r->nmarks = tl.nmarks;
    return 0;
}

struct keep {
    struct run_result *r;
    xvm_mount *mp;
    bool pages; /* each file's pages too */
    int failed; /* keep_file's own error */
};

static int keep_page(void *arg, const struct xvm_page_report *pr)
{
    struct file_pages *fp = arg;
    if (fp->n % 64 == 0) {
        struct xvm_page_report *n = realloc(fp->v, (fp->n + 64) * sizeof(*n));
        if (n == NULL)
            return ENOMEM;
        fp->v = n;
    }
    fp->v[fp->n++] = *pr;
    return 0;
}

/* Keeps the library's per-file report (paths copied), and each file's
 * pages when asked. */
static int keep_one(struct keep *k, const struct xvm_file_report *fr)
{
    struct run_result *r = k->r;
    if (r->nfiles % 64 == 0) {
        size_t cap = r->nfiles + 64;
        struct xvm_file_report *n = realloc(r->files, cap * sizeof(*n));
        if (n == NULL)
            return ENOMEM;
        r->files = n;
        if (k->pages) {
            struct file_pages *p = realloc(r->pages, cap * sizeof(*p));
            if (p == NULL)
                return ENOMEM;
            r->pages = p;
        }
    }
    r->files[r->nfiles] = *fr;
    if ((r->files[r->nfiles].path = strdup(fr->path)) == NULL)
        return ENOMEM;
    if (k->pages) {
        r->pages[r->nfiles] = (struct file_pages){ NULL, 0 };
        r->nfiles++;
        return xvm_file_pages(k->mp, fr->ino, keep_page,
                              &r->pages[r->nfiles - 1]);
    }
    r->nfiles++;
    return 0;
}

static int keep_file(void *arg, const struct xvm_file_report *fr)
{
    struct keep *k = arg;
    return k->failed = keep_one(k, fr);
}

struct progress {
    const struct run_opts *o;
    int xip;
    bool tty;
    double shown;
    uint64_t mismatches, kills;
    const char *name;     /* the trace being read */
    xvm_trace_reader *rd; /* its reader */
};

static void on_mismatch(void *arg, const char *where, const char *what)
{
    struct progress *p = arg;
    if (p->mismatches++ < 10)
        fprintf(stderr, "xipvm: %s: mismatch: %s: %s\n", p->name, where, what);
}

static void on_oom(void *arg, const struct xvm_oom_event *oom)
{
    struct progress *p = arg;
    char where[64];
    if (p->o->quiet || p->kills++ >= 10)
        return;
    if (oom->line)
        snprintf(where, sizeof(where), "line %llu",
                 (unsigned long long)oom->line);
    else
        snprintf(where, sizeof(where), "event %llu",
                 (unsigned long long)oom->event);
    if (p->o->ntraces > 1 && oom->trace >= 1 && oom->pid_trace >= 1 &&
        oom->trace <= (unsigned)p->o->ntraces &&
        oom->pid_trace <= (unsigned)p->o->ntraces)
        /* pids are renumbered apart: the trace's own, and which trace */
        fprintf(stderr,
                "xipvm: oom: pid %u of %s (pid %u here) killed at %s of %s: "
                "out of memory, nothing left to page out (%s mode, %llu KiB of "
                "RAM)\n",
                (unsigned)oom->trace_pid, p->o->traces[oom->pid_trace - 1],
                (unsigned)oom->pid, where, p->o->traces[oom->trace - 1],
                p->xip ? "XIP" : "copy", (unsigned long long)(p->o->ram >> 10));
    else
        fprintf(stderr,
                "xipvm: oom: pid %u killed at %s: out of memory, nothing left "
                "to page out (%s mode, %llu KiB of RAM)\n",
                (unsigned)oom->pid, where, p->xip ? "XIP" : "copy",
                (unsigned long long)(p->o->ram >> 10));
}

static void on_progress(void *arg, uint64_t events)
{
    struct progress *p = arg;
    if (!p->tty || now() - p->shown < PROGRESS_NS * 1e-9)
        return;
    p->shown = now();
    fprintf(stderr, "\r%s: %llu events, %.1f MB read ", p->xip ? "xip" : "copy",
            (unsigned long long)events, xvm_trace_reader_bytes(p->rd) / 1e6);
}

int replay_file(const struct run_opts *o, int xip, struct run_result *r)
{
    struct world w;
    char err[512];
    int rc = 1, n = o->ntraces > 0 ? o->ntraces : 1;
    const char *const *names = o->ntraces > 0 ? o->traces : &o->trace;
    double t0 = now();
    struct progress p = {
        o,    xip, !o->quiet && isatty(STDERR_FILENO) && isatty(STDOUT_FILENO),
        t0,   0,   0,
        NULL, NULL
    };
    struct xvm_replay_hooks hooks = { on_mismatch, on_progress, on_oom, &p };
    xvm_trace_reader **rd = calloc((size_t)n, sizeof(*rd));
    int *done = calloc((size_t)n, sizeof(*done));
    xvm_replay *rp = NULL;

    memset(r, 0, sizeof(*r));
    if (rd == NULL || done == NULL) {
        fprintf(stderr, "xipvm: out of memory\n");
        free(rd);
        free(done);
        return 1;
    }
    if ((rc = world_open(o, xip, &w)) != 0) {
        free(rd);
        free(done);
        r->no_room = rc == WORLD_NO_ROOM;
        return rc;
    }
    rc = 1;
    for (int k = 0; k < n; k++) {
        if (xvm_trace_reader_open(names[k], &rd[k], err, sizeof(err)) != 0) {
            fprintf(stderr, "xipvm: %s\n", err);
            goto out;
        }
    }
    if (xvm_replay_create(w.m, w.mp, &rp) != 0 ||
        xvm_replay_sources(rp, (unsigned)n) != 0) {
        fprintf(stderr, "xipvm: out of memory\n");
        goto out;
    }
    xvm_timeline_sample(w.m, 0);
    /* the traces in turn, a slice of events of each (one: all at once) */
    for (int left = n, k = 0; left > 0; k = (k + 1) % n) {
        if (done[k])
            continue;
        p.name = names[k];
        p.rd = rd[k];
        int error =
            xvm_replay_reader_from(rp, (unsigned)k, rd[k], n > 1 ? o->slice : 0,
                                   &hooks, &done[k], err, sizeof(err));
        if (error) {
            if (p.tty)
                fprintf(stderr, "\r%60s\r", "");
            fprintf(stderr, "xipvm: %s: %s\n", names[k], err);
            goto out;
        }
        left -= done[k];
    }
    if (p.tty)
        fprintf(stderr, "\r%60s\r", "");
    struct xvm_replay_totals t;
    xvm_replay_totals(rp, &t);
    xvm_timeline_sample(w.m, t.events);
    r->lines = t.lines;
    r->events = t.events;
    r->mismatches = t.mismatches;
    r->oom_kills = t.oom_kills;
    r->skipped = t.skipped;
    if (t.nooms) {
        r->ooms = malloc(t.nooms * sizeof(*r->ooms));
        if (r->ooms == NULL) {
            fprintf(stderr, "xipvm: out of memory\n");
            goto out;
        }
        memcpy(r->ooms, t.ooms, t.nooms * sizeof(*r->ooms));
        r->nooms = t.nooms;
    }
    xvm_report(w.m, &r->rep);
    struct keep keep = { r, w.mp, o->pages, 0 };
    int ferr = xvm_file_report(w.mp, keep_file, &keep);
    /* An entry of a corrupt image that cannot be read: every file that
     * can be is kept; the run stands.  Damage (there, or in a file's
     * block map, which only mismatches show) is named. */
    bool damaged = ferr != 0 && ferr != ENOMEM && keep.failed == 0;
    if (damaged)
        ferr = 0;
    if (!o->quiet && (damaged || t.mismatches > 0))
        world_damage(o->image, w.mp);
    if (keep_timeline(w.m, r) != 0 || ferr != 0) {
        fprintf(stderr, "xipvm: %s\n",
                ferr && ferr != ENOMEM ? strerror(ferr) : "out of memory");
        goto out;
    }
    r->seconds = now() - t0;
    rc = 0;
out:
    xvm_replay_destroy(rp);
    for (int k = 0; k < n; k++)
        xvm_trace_reader_close(rd[k]);
    free(rd);
    free(done);
    world_close(&w);
    if (rc != 0)
        run_result_free(r); /* callers free only a successful result */
    return rc;
}

void run_result_free(struct run_result *r)
{
    for (size_t i = 0; i < r->nfiles; i++) {
        free((char *)r->files[i].path);
        if (r->pages)
            free(r->pages[i].v);
    }
    free(r->files);
    free(r->pages);
    free(r->marks);
    free(r->samples);
    free(r->ooms);
    memset(r, 0, sizeof(*r));
}
