/*
 * Replays one trace file on a fresh machine and collects its figures,
 * with RAM-in-use samples for the chart and progress on a terminal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_SAMPLES 2048
#define PROGRESS_NS 250000000LL

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Keeps at most MAX_SAMPLES by halving the resolution when full. */
static void sample(struct run_result *r, xvm_machine *m, uint64_t event,
                   uint64_t *every)
{
    if (r->nsamples == MAX_SAMPLES) {
        for (size_t i = 0; i < MAX_SAMPLES / 2; i++)
            r->samples[i] = r->samples[2 * i + 1];
        r->nsamples = MAX_SAMPLES / 2;
        *every *= 2;
    }
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    struct sample *s = &r->samples[r->nsamples++];
    s->event = event;
    memcpy(s->pages, st.pages, sizeof(s->pages));
}

uint64_t ram_in_use(const struct xvm_stats *st)
{
    return st->ram_pages - st->pages[XVM_USE_FREE];
}

uint64_t flash_bytes(const struct xvm_stats *st)
{
    return st->flash_bytes_read + st->xip_bytes_read;
}

int replay_file(const struct run_opts *o, int xip, struct run_result *r)
{
    struct world w;
    char err[512];
    int rc = 1, ioerr = 0, mism;
    uint64_t every = 1, next = 0, nlines = 0;
    bool progress = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
    double t0 = now(), shown = t0;

    memset(r, 0, sizeof(*r));
    r->samples = calloc(MAX_SAMPLES, sizeof(*r->samples));
    if (r->samples == NULL || world_open(o, xip, &w) != 0) {
        run_result_free(r);     /* callers free only a successful result */
        return 1;
    }
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
    for (char *line; (line = input_line(in, &ioerr)) != NULL;) {
        if (xvm_replay_line(rp, line, &mism, err, sizeof(err)) != 0) {
            fprintf(stderr, "xipvm: %s: %s\n", o->trace, err);
            goto out;
        }
        if (mism && r->mismatches++ < 10)
            fprintf(stderr, "xipvm: mismatch: %s\n", err);
        if ((++nlines & 1023) != 0)
            continue;
        xvm_replay_totals(rp, &t);
        if (t.events >= next) {
            sample(r, w.m, t.events, &every);
            next = t.events + every;
            if (progress && now() - shown > PROGRESS_NS * 1e-9) {
                shown = now();
                fprintf(stderr, "\r%s: %llu events, %.1f MB read ",
                        xip ? "xip" : "copy", (unsigned long long)t.events,
                        input_bytes(in) / 1e6);
            }
        }
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    if (ioerr) {
        fprintf(stderr, "xipvm: %s: %s\n", o->trace,
                ioerr == E2BIG ? "line too long" : ioerr == EILSEQ
                ? "corrupt compressed data" : strerror(ioerr));
        goto out;
    }
    xvm_replay_totals(rp, &t);
    sample(r, w.m, t.events, &every);
    r->lines = t.lines;
    r->events = t.events;
    r->mismatches = t.mismatches;
    r->nmarks = t.nmarks;
    if (t.nmarks && (r->marks = malloc(t.nmarks * sizeof(*r->marks))) != NULL)
        memcpy(r->marks, t.marks, t.nmarks * sizeof(*r->marks));
    xvm_machine_stats(w.m, &r->st);
    r->seconds = now() - t0;
    if (t.lines == 0) {
        fprintf(stderr, "xipvm: %s: empty trace\n", o->trace);
        goto out;
    }
    rc = 0;
out:
    xvm_replay_destroy(rp);
    input_close(in);
    world_close(&w);
    if (rc != 0)
        run_result_free(r);     /* callers free only a successful result */
    return rc;
}

void run_result_free(struct run_result *r)
{
    free(r->marks);
    free(r->samples);
    memset(r, 0, sizeof(*r));
}
