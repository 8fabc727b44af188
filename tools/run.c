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

int replay_file(const struct run_opts *o, int xip, struct run_result *r)
{
    struct world w;
    char err[512];
    int rc = 1, ioerr = 0, mism;
    uint64_t kills = 0;
    uint64_t nlines = 0;
    bool progress = !o->quiet && isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
    double t0 = now(), shown = t0;

    memset(r, 0, sizeof(*r));
    if (world_open(o, xip, &w) != 0)
        return 1;
    struct input *in = input_open(o->trace, err, sizeof(err));
    xvm_replay *rp = NULL;
    if (in == NULL) {
        fprintf(stderr, "xipvm: %s\n", err);
        goto out;
    }
    if (xvm_replay_create(w.m, w.mp, &rp) != 0) {
        fprintf(stderr, "xipvm: out of memory\n");
        goto out;
    }
    struct xvm_replay_totals t;
    xvm_timeline_sample(w.m, 0);
    for (char *line; (line = input_line(in, &ioerr)) != NULL;) {
        if (xvm_replay_line(rp, line, &mism, err, sizeof(err)) != 0) {
            fprintf(stderr, "xipvm: %s: %s\n", o->trace, err);
            goto out;
        }
        if (mism && r->mismatches++ < 10)
            fprintf(stderr, "xipvm: mismatch: %s\n", err);
        xvm_replay_totals(rp, &t);
        for (; kills < t.oom_kills; kills++)
            if (!o->quiet && kills < 10 && kills < t.nooms)
                fprintf(stderr,
                        "xipvm: oom: pid %u killed at line %llu: out of "
                        "swap (%s mode, %llu KiB of RAM)\n",
                        (unsigned)t.ooms[kills].pid,
                        (unsigned long long)t.ooms[kills].line,
                        xip ? "XIP" : "copy",
                        (unsigned long long)(o->ram >> 10));
        if (!progress || (++nlines & 65535) != 0 ||
            now() - shown < PROGRESS_NS * 1e-9)
            continue;
        shown = now();
        xvm_replay_totals(rp, &t);
        fprintf(stderr, "\r%s: %llu events, %.1f MB read ",
                xip ? "xip" : "copy", (unsigned long long)t.events,
                input_bytes(in) / 1e6);
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    if (ioerr) {
        fprintf(stderr, "xipvm: %s: %s\n", o->trace,
                ioerr == E2BIG    ? "line too long"
                : ioerr == EILSEQ ? "corrupt compressed data"
                                  : strerror(ioerr));
        goto out;
    }
    xvm_replay_totals(rp, &t);
    if (t.lines == 0) {
        fprintf(stderr, "xipvm: %s: empty trace\n", o->trace);
        goto out;
    }
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
    if (keep_timeline(w.m, r) != 0) {
        fprintf(stderr, "xipvm: out of memory\n");
        goto out;
    }
    r->seconds = now() - t0;
    rc = 0;
out:
    xvm_replay_destroy(rp);
    input_close(in);
    world_close(&w);
    if (rc != 0)
        run_result_free(r); /* callers free only a successful result */
    return rc;
}

void run_result_free(struct run_result *r)
{
    free(r->marks);
    free(r->samples);
    free(r->ooms);
    memset(r, 0, sizeof(*r));
}
