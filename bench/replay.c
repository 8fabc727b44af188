/*
 * Trace replay on a real lackey trace of busybox recorded at bench time,
 * in every form (text plain, .gz, .zst; binary raw and zstd frames),
 * parsing included; reading alone against wc -l and zstd -dc; the
 * replay's CPU per access against valgrind's cachegrind simulating the
 * same program's caches online, run here; and the recording itself
 * (`xipvm record`'s work) against valgrind lackey alone and against a
 * binary replay of what it recorded.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "cli.h"
#include "lackey.h"

/* The program every replay row traces (and cachegrind runs). */
static const char *const prog_full[] = { "/bin/busybox", "ls", "-lR",
                                         "/usr/share/doc", NULL };
static const char *const prog_quick[] = { "/bin/busybox", "ls", "-l",
                                          "/usr/share", NULL };

/* Where a recording's CPU time went, ns: the bench's own (the import,
 * the trace writer, the root's copies) and its children's (valgrind
 * lackey under the recording's helper), each user and system. */
struct rec_cost {
    double self_user, self_sys, vg_user, vg_sys, wall;
    uint64_t events, logs;
};

static double ns_tv(const struct timeval *tv)
{
    return (double)tv->tv_sec * 1e9 + (double)tv->tv_usec * 1e3;
}

/*
 * The trace, as `xipvm record --root ROOT -o TRACE.xvt` makes it (binary,
 * zstd frames, written as the logs are imported), every file it reads
 * copied into root (for the image); *c what it cost.
 */
static int record(const char *trace, const char *root, int quick,
                  struct rec_cost *c)
{
    struct lackey_opts o = {
        .path_in_image = "/bin/busybox", .pid = 1, .quiet = 1, .root_dir = root
    };
    struct lackey_stats st;
    struct rusage s0, c0, s1, c1;
    char err[512];
    xvm_trace_writer *w;
    int error = xvm_trace_writer_open(trace, NULL, &w, err, sizeof(err));
    if (error) {
        fprintf(stderr, "bench: %s\n", err);
        return error;
    }
    struct span t0 = tm_now(false);
    getrusage(RUSAGE_SELF, &s0);
    getrusage(RUSAGE_CHILDREN, &c0);
    error = lackey_record_to(quick ? prog_quick : prog_full, w, &o, &st, NULL,
                             err, sizeof(err));
    int cl = xvm_trace_writer_close(w);
    getrusage(RUSAGE_SELF, &s1);
    getrusage(RUSAGE_CHILDREN, &c1);
    c->wall = tm_per(t0, false, 1).wall;
    c->self_user = ns_tv(&s1.ru_utime) - ns_tv(&s0.ru_utime);
    c->self_sys = ns_tv(&s1.ru_stime) - ns_tv(&s0.ru_stime);
    c->vg_user = ns_tv(&c1.ru_utime) - ns_tv(&c0.ru_utime);
    c->vg_sys = ns_tv(&c1.ru_stime) - ns_tv(&c0.ru_stime);
    c->events = st.events;
    c->logs = st.logs;
    if (error == 0 && cl != 0)
        error = cl, snprintf(err, sizeof(err), "closing: %s", strerror(cl));
    if (error)
        fprintf(stderr, "bench: recording busybox: %s\n", err);
    return error;
}

/*
 * The part of a recording no import can make cheaper: valgrind lackey
 * alone over the same command, as the recording runs it (lkrecord.c),
 * writing its per-process logs to files in dir; its children's CPU.
 */
static struct span lackey_alone(const char *dir, int quick)
{
    const char *const *argv = quick ? prog_quick : prog_full;
    char cmd[2048];
    size_t n = 0;
    struct span t;
    n += (size_t)snprintf(cmd + n, sizeof(cmd) - n,
                          "rm -rf '%s' && mkdir '%s' && valgrind "
                          "--tool=lackey --trace-mem=yes --trace-syscalls=yes "
                          "--trace-children=yes --log-file='%s/log.%%p.%%n' --",
                          dir, dir, dir);
    for (; *argv; argv++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", *argv);
    snprintf(cmd + n, sizeof(cmd) - n, " >/dev/null 2>&1 </dev/null");
    if (run_timed(cmd, &t) != 0)
        return (struct span){ -1, -1 };
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? t : (struct span){ -1, -1 };
}

/* src rewritten by the library's writer as cfg says. */
static int convert(const char *src, const char *dst,
                   const struct xvm_trace_writer_config *cfg)
{
    char err[512];
    xvm_trace_reader *rd;
    xvm_trace_writer *w;
    struct xvm_trace_event *ev = malloc(sizeof(*ev));
    int rc = ENOMEM, got;
    if (ev == NULL)
        return ENOMEM;
    if ((rc = xvm_trace_reader_open(src, &rd, err, sizeof(err))) != 0) {
        free(ev);
        return rc;
    }
    if ((rc = xvm_trace_writer_open(dst, cfg, &w, err, sizeof(err))) == 0) {
        while ((got = xvm_trace_read(rd, ev)) == 1)
            if ((rc = xvm_trace_write(w, ev)) != 0)
                break;
        if (rc == 0 && got != 0)
            rc = got;
        int cl = xvm_trace_writer_close(w);
        rc = rc ? rc : cl;
    }
    xvm_trace_reader_close(rd);
    free(ev);
    return rc;
}

int bench_busybox_image(const char *workdir, const char *name, char *img,
                        size_t cap)
{
    char dir[600], cmd[1400];
    snprintf(img, cap, "%s/%s.img", workdir, name);
    snprintf(dir, sizeof(dir), "%s/%s.root", workdir, name);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/bin' && cp /bin/busybox '%s/bin/'",
             dir, dir);
    return system(cmd) == 0 && bench_makefs(dir, img, NULL) == 0 ? 0 : EIO;
}

struct span bench_replay_trace(const char *img, const char *trace,
                               bool no_cache, int *status, uint64_t *events)
{
    struct run_opts o;
    struct run_result r;
    memset(&o, 0, sizeof(o));
    o.image = img;
    o.machine = "sgimips";
    o.ram = UINT64_C(64) << 20;
    o.fault_ahead = o.readahead = o.superpages = -1;
    o.no_cache = no_cache;
    o.trace = trace;
    o.quiet = true;
    struct span t0 = tm_now(false);
    *status = replay_file(&o, 1, &r);
    struct span t = tm_per(t0, false, 1);
    *events = *status == 0 ? r.events : 0;
    if (*status == 0)
        run_result_free(&r);
    return t;
}

/* A replay of trace (no_cache: the CPU model off): per event; *events
 * set. */
static struct span replay_model(const char *img, const char *trace,
                                bool no_cache, uint64_t *events)
{
    int status;
    struct span t = bench_replay_trace(img, trace, no_cache, &status, events);
    if (status != 0 || *events == 0)
        return (struct span){ -1, -1 };
    t.cpu /= (double)*events;
    t.wall /= (double)*events;
    return t;
}

static struct span replay(const char *img, const char *trace, uint64_t *events)
{
    return replay_model(img, trace, false, events);
}

/* Reading alone (no replay): per event. */
static struct span read_only(const char *trace, uint64_t *events)
{
    char err[512];
    xvm_trace_reader *rd;
    struct xvm_trace_event *ev = malloc(sizeof(*ev));
    uint64_t n = 0, sum = 0;
    int got;
    struct span t0 = tm_now(false);
    if (ev == NULL || xvm_trace_reader_open(trace, &rd, err, sizeof(err))) {
        free(ev);
        return (struct span){ -1, -1 };
    }
    while ((got = xvm_trace_read(rd, ev)) == 1)
        n++, sum += ev->len;
    xvm_trace_reader_close(rd);
    free(ev);
    *events = n + (sum & 0);
    return got == 0 ? tm_per(t0, false, (double)n) : (struct span){ -1, -1 };
}

/* A tool over the file, per event of the trace. */
static struct span tool(const char *fmt, const char *file, uint64_t events)
{
    char cmd[1400];
    struct span t;
    snprintf(cmd, sizeof(cmd), fmt, file);
    if (run_timed(cmd, &t) != 0)
        return (struct span){ -1, -1 };
    t.cpu /= (double)events;
    t.wall /= (double)events;
    return t;
}

/*
 * cachegrind running the traced program with its cache simulation: its
 * CPU time (a child's) per simulated access (I refs + D refs).
 */
static struct span cachegrind(const char *workdir, int quick, uint64_t *refs)
{
    const char *const *argv = quick ? prog_quick : prog_full;
    char cmd[2048], log[600], line[512];
    size_t n = 0;
    struct span t;
    snprintf(log, sizeof(log), "%s/cachegrind.log", workdir);
    n += (size_t)snprintf(cmd + n, sizeof(cmd) - n,
                          "valgrind --tool=cachegrind --cache-sim=yes "
                          "--cachegrind-out-file=/dev/null --log-file='%s'",
                          log);
    for (; *argv; argv++)
        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", *argv);
    snprintf(cmd + n, sizeof(cmd) - n, " >/dev/null 2>&1 </dev/null");
    if (run_timed(cmd, &t) != 0)
        return (struct span){ -1, -1 };
    FILE *f = fopen(log, "r");
    uint64_t ir = 0, dr = 0;
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "I   refs:");
        char *q = strstr(line, "D   refs:");
        char *v = p ? p + 9 : q ? q + 9 : NULL;
        if (v == NULL)
            continue;
        uint64_t x = 0;
        for (; *v && *v != '('; v++)
            if (*v >= '0' && *v <= '9')
                x = x * 10 + (uint64_t)(*v - '0');
        *(p ? &ir : &dr) = x;
    }
    if (f)
        fclose(f);
    *refs = ir + dr;
    if (*refs == 0)
        return (struct span){ -1, -1 };
    t.cpu /= (double)*refs;
    t.wall /= (double)*refs;
    return t;
}

static struct row *timed(struct table *t, struct span v, const char *unit,
                         const char *name)
{
    struct row *r = table_row(t, unit, "%s", name);
    r->cpu = v.cpu, r->wall = v.wall;
    return r;
}

int bench_replay(const struct bench_opts *o, struct table *t)
{
    char img[600], plain[512], gz[600], zst[600], bin[600], binz[600];
    char cmd[4096];
    unsigned runs = o->runs;
    uint64_t events = 0, lines, refs = 0;
    struct span v, text, rawbin = { -1, -1 }, cg;
    struct row *r;
    snprintf(plain, sizeof(plain), "%s/busybox.trace", o->workdir);
    snprintf(gz, sizeof(gz), "%s.gz", plain);
    snprintf(zst, sizeof(zst), "%s.zst", plain);
    snprintf(bin, sizeof(bin), "%s/busybox.raw.xvt", o->workdir);
    snprintf(binz, sizeof(binz), "%s/busybox.xvt", o->workdir);
    struct xvm_trace_writer_config raw = { XVM_TRACE_BINARY, XVM_TRACE_PLAIN,
                                           0 },
                                   totext = { XVM_TRACE_TEXT, XVM_TRACE_PLAIN,
                                              0 };
    snprintf(cmd, sizeof(cmd), "gzip -c '%s' > '%s' && zstd -q -f '%s' -o '%s'",
             plain, gz, plain, zst);
    char root[600], logs[600];
    snprintf(root, sizeof(root), "%s/busybox.root", o->workdir);
    snprintf(logs, sizeof(logs), "%s/lackey.logs", o->workdir);
    /* Recorded once, as `xipvm record -o busybox.xvt` would (a recording
     * takes tens of seconds); the other forms are converted from it. */
    struct rec_cost rec;
    int error = record(binz, root, o->quick, &rec);
    /* valgrind lackey alone on the same command, right after. */
    struct span lk = { -1, -1 };
    if (error == 0 && (lk = lackey_alone(logs, o->quick)).cpu < 0) {
        fprintf(stderr, "bench: valgrind lackey alone failed\n");
        error = EIO;
    }
    if (error == 0)
        error = bench_busybox_image(o->workdir, "busybox", img, sizeof(img));
    if (error == 0)
        error = convert(binz, plain, &totext);
    if (error == 0 && system(cmd) != 0)
        error = EIO;
    if (error == 0)
        error = convert(plain, bin, &raw);
    if (error) {
        fprintf(stderr, "bench: replay inputs: %s\n", strerror(error));
        return error;
    }
    /* Replays, every form, and cachegrind on the traced program: text,
     * binary and cachegrind in turns, so that a machine whose load drifts
     * slows them alike: each ratio is the median of its turns'. */
    double c[4][BENCH_MAX_RUNS], w[4][BENCH_MAX_RUNS], ratio[BENCH_MAX_RUNS];
    const char *turns[3] = { plain, bin, binz };
    for (unsigned i = 0; i < runs; i++)
        for (int f = 0; f < 4; f++) {
            struct span s = f < 3 ? replay(img, turns[f], &events)
                                  : cachegrind(o->workdir, o->quick, &refs);
            c[f][i] = s.cpu, w[f][i] = s.wall;
        }
    text.cpu = median(c[0], runs), text.wall = median(w[0], runs);
    timed(t, text, "ns", "replay per event, text");
    MEDIAN_TM(v, runs, replay(img, gz, &events));
    timed(t, v, "ns", "replay per event, text .gz");
    MEDIAN_TM(v, runs, replay(img, zst, &events));
    timed(t, v, "ns", "replay per event, text .zst");
    for (int f = 1; f < 3; f++) {
        v.cpu = median(c[f], runs), v.wall = median(w[f], runs);
        if (f == 1)
            rawbin = v;
        r = timed(t, v, "ns",
                  f == 1 ? "replay per event, binary"
                         : "replay per event, binary, zstd frames");
        for (unsigned i = 0; i < runs; i++)
            ratio[i] = c[f][i] > 0 ? c[0][i] / c[f][i] : -1;
        double x = median(ratio, runs);
        snprintf(r->target, sizeof(r->target), ">= 3x text's events/s");
        row_verdict(r, x >= 3, "%.2fx", x);
    }
    /* The CPU model's cost: on and off in turns, the same way. */
    for (unsigned i = 0; i < runs; i++) {
        struct span on = replay_model(img, plain, false, &events),
                    off = replay_model(img, plain, true, &events);
        ratio[i] = on.cpu > 0 && off.cpu > 0 ? on.cpu / off.cpu : -1;
    }
    MEDIAN_TM(v, runs, replay_model(img, plain, true, &events));
    timed(t, v, "ns", "replay per event, text, CPU model off");
    r = table_row(t, "x", "replay per event: CPU model on / off");
    r->cpu = median(ratio, runs);
    snprintf(r->target, sizeof(r->target), "<= 1.5");
    row_verdict(r, r->cpu > 0 && r->cpu <= 1.5, "%.2fx", r->cpu);
    /* Against cachegrind simulating the same program's caches, its runs
     * in the replays' turns. */
    r = table_row(t, "ns", "replay (binary) per access vs cachegrind online");
    r->cpu = rawbin.cpu, r->wall = rawbin.wall, r->anchor = median(c[3], runs);
    for (unsigned i = 0; i < runs; i++)
        ratio[i] = c[1][i] > 0 && c[3][i] > 0 ? c[1][i] / c[3][i] : -1;
    double x = median(ratio, runs);
    snprintf(r->anchor_name, sizeof(r->anchor_name), "cachegrind");
    snprintf(r->target, sizeof(r->target), "<= cachegrind");
    row_verdict(r, x > 0 && x <= 1, "%.2fx", x);
    /* The recording against valgrind lackey alone and against a replay
     * of what it recorded (binary), per event of the trace. */
    double ev = rec.events ? (double)rec.events : 1;
    double self = rec.self_user + rec.self_sys, vg = rec.vg_user + rec.vg_sys;
    r = table_row(t, "ns", "record (valgrind lackey + import), per event");
    r->cpu = (self + vg) / ev, r->wall = rec.wall / ev;
    r->anchor = lk.cpu / ev;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "lackey alone");
    r = table_row(t, "ns", "record: valgrind's part (children), per event");
    r->cpu = vg / ev;
    r->anchor = lk.cpu / ev;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "lackey alone");
    r = table_row(t, "ns", "record: the import's part (own), per event");
    r->cpu = self / ev;
    r = table_row(t, "ns", "record vs a binary replay of it, per event");
    r->cpu = (self + vg) / ev, r->wall = rec.wall / ev;
    r->anchor = rawbin.cpu;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "binary replay");
    table_note(t,
               "record (once; %llu events, %llu logs, %.1f s wall): valgrind "
               "%.2f s user + %.2f s sys, import %.2f s user + %.2f s sys; "
               "lackey alone %.2f s.\n",
               (unsigned long long)rec.events, (unsigned long long)rec.logs,
               rec.wall / 1e9, rec.vg_user / 1e9, rec.vg_sys / 1e9,
               rec.self_user / 1e9, rec.self_sys / 1e9, lk.cpu / 1e9);
    /* Reading alone, against the tools that only read. */
    MEDIAN_TM(v, runs, read_only(plain, &lines));
    r = timed(t, v, "ns", "reading text, per event (no replay)");
    MEDIAN_TM(cg, runs, tool("wc -l '%s' >/dev/null", plain, lines));
    r->anchor = cg.cpu;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "wc -l");
    MEDIAN_TM(v, runs, read_only(zst, &lines));
    r = timed(t, v, "ns", "reading text .zst, per event (no replay)");
    MEDIAN_TM(cg, runs, tool("zstd -dc '%s' >/dev/null", zst, lines));
    r->anchor = cg.cpu;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "zstd -dc");
    MEDIAN_TM(v, runs, read_only(bin, &lines));
    timed(t, v, "ns", "reading binary, per event (no replay)");
    MEDIAN_TM(v, runs, read_only(binz, &lines));
    r = timed(t, v, "ns", "reading binary, zstd frames, per event");
    MEDIAN_TM(cg, runs, tool("zstd -dc '%s' >/dev/null", zst, lines));
    r->anchor = cg.cpu;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "zstd -dc .zst");
    table_note(t,
               "replay trace: %llu events of busybox %s under valgrind "
               "lackey; cachegrind ran the same command (%llu I+D refs).\n",
               (unsigned long long)events,
               o->quick ? "ls -l /usr/share" : "ls -lR /usr/share/doc",
               (unsigned long long)refs);
    return 0;
}
