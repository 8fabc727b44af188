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
static int keep_file(void *arg, const struct xvm_file_report *fr)
{
    struct keep *k = arg;
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

/* One trace being read. */
struct source {
    const char *name;
    struct input *in;
    uint64_t lines;
    int done;
};

/* A line that is an event: not blank, not a comment (nor the header). */
static int is_event(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return *line != '\0' && *line != '#' && *line != '\r';
}

int replay_file(const struct run_opts *o, int xip, struct run_result *r)
{
    struct world w;
    char err[512];
    int rc = 1, ioerr = 0, mism;
    uint64_t kills = 0;
    uint64_t nlines = 0, events = 0;
    bool progress = !o->quiet && isatty(STDERR_FILENO) && isatty(STDOUT_FILENO);
    double t0 = now(), shown = t0;
    int n = o->ntraces > 0 ? o->ntraces : 1;
    const char *const *names = o->ntraces > 0 ? o->traces : &o->trace;
    struct source *src = calloc((size_t)n, sizeof(*src));
    xvm_replay *rp = NULL;

    memset(r, 0, sizeof(*r));
    if (src == NULL) {
        fprintf(stderr, "xipvm: out of memory\n");
        return 1;
    }
    if ((rc = world_open(o, xip, &w)) != 0) {
        free(src);
        r->no_room = rc == WORLD_NO_ROOM;
        return rc;
    }
    rc = 1;
    for (int k = 0; k < n; k++) {
        src[k].name = names[k];
        if ((src[k].in = input_open(names[k], err, sizeof(err))) == NULL) {
            fprintf(stderr, "xipvm: %s\n", err);
            goto out;
        }
    }
    if (xvm_replay_create(w.m, w.mp, &rp) != 0 ||
        xvm_replay_sources(rp, (unsigned)n) != 0) {
        fprintf(stderr, "xipvm: out of memory\n");
        goto out;
    }
    struct xvm_replay_totals t;
    xvm_timeline_sample(w.m, 0);
    /* the traces in turn, a slice of events of each */
    for (int left = n, k = 0; left > 0; k = (k + 1) % n) {
        struct source *sc = &src[k];
        uint64_t until = events + o->slice;
        char *line;
        while (!sc->done && (n == 1 || events < until)) {
            if ((line = input_line(sc->in, &ioerr)) == NULL) {
                if (ioerr) {
                    fprintf(stderr, "xipvm: %s: %s\n", sc->name,
                            ioerr == E2BIG    ? "line too long"
                            : ioerr == EILSEQ ? "corrupt compressed data"
                                              : strerror(ioerr));
                    goto out;
                }
                if (sc->lines == 0) {
                    fprintf(stderr, "xipvm: %s: empty trace\n", sc->name);
                    goto out;
                }
                sc->done = 1;
                left--;
                break;
            }
            events += sc->lines++ > 0 && is_event(line);
            if (xvm_replay_line_from(rp, (unsigned)k, line, &mism, err,
                                     sizeof(err)) != 0) {
                fprintf(stderr, "xipvm: %s: %s\n", sc->name, err);
                goto out;
            }
            if (mism && r->mismatches++ < 10)
                fprintf(stderr, "xipvm: %s: mismatch: %s\n", sc->name, err);
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
            fprintf(stderr, "\r%s: %llu events, %.1f MB read ",
                    xip ? "xip" : "copy", (unsigned long long)events,
                    input_bytes(sc->in) / 1e6);
        }
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
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
    struct keep keep = { r, w.mp, o->pages };
    int ferr = xvm_file_report(w.mp, keep_file, &keep);
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
        input_close(src[k].in);
    free(src);
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
