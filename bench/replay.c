/*
 * Trace replay throughput, parsing included, on a real lackey trace of
 * busybox recorded at bench time, as plain text, gzip and zstd; the plain
 * one also with the CPU model off (--no-cache); and valgrind's cachegrind
 * on the same workload, per access, as the anchor of the cache model.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "bench.h"
#include "cli.h"
#include "lackey.h"

static const char *argv_full[] = { "/bin/busybox", "ls", "-lR",
                                   "/usr/share/doc", NULL };
static const char *argv_quick[] = { "/bin/busybox", "ls", "-l", "/usr/share",
                                    NULL };

static int record(const char *trace, const char *workdir, int quick)
{
    struct lackey_opts o = { .path_in_image = "/bin/busybox",
                             .pid = 1,
                             .quiet = 1 };
    struct lackey_stats st;
    char err[256];
    (void)workdir;
    FILE *f = fopen(trace, "w");
    if (f == NULL)
        return errno;
    int error = lackey_record(quick ? argv_quick : argv_full, f, &o, &st, NULL,
                              err, sizeof(err));
    if (fclose(f) != 0 && error == 0)
        error = EIO;
    if (error)
        fprintf(stderr, "bench: recording busybox: %s\n", err);
    return error;
}

static int compress_trace(const char *src, const char *gz, const char *zst)
{
    FILE *in = fopen(src, "rb");
    if (in == NULL)
        return errno;
    fseek(in, 0, SEEK_END);
    long n = ftell(in);
    rewind(in);
    char *buf = malloc((size_t)n);
    size_t cap = ZSTD_compressBound((size_t)n);
    char *out = malloc(cap);
    int error =
        buf && out && fread(buf, 1, (size_t)n, in) == (size_t)n ? 0 : EIO;
    fclose(in);
    gzFile g = error ? NULL : gzopen(gz, "wb");
    if (g == NULL || gzwrite(g, buf, (unsigned)n) != n || gzclose(g) != Z_OK)
        error = EIO;
    size_t z = error ? 0 : ZSTD_compress(out, cap, buf, (size_t)n, 3);
    FILE *zf = error || ZSTD_isError(z) ? NULL : fopen(zst, "wb");
    if (zf == NULL || fwrite(out, 1, z, zf) != z || fclose(zf) != 0)
        error = EIO;
    free(buf);
    free(out);
    return error;
}

/* An image with busybox at /bin/busybox. */
static int image(const char *workdir, char *img, size_t cap)
{
    char cmd[1600];
    snprintf(img, cap, "%s/busybox.img", workdir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/bbroot/bin' && cp /bin/busybox '%s/bbroot/bin/' && "
             "\"$(command -v makefs || echo /usr/sbin/makefs)\" -t ffs -M 1m "
             "-b 10%% "
             "-o version=2,bsize=16384,fsize=2048 '%s' '%s/bbroot' >/dev/null",
             workdir, workdir, img, workdir);
    return system(cmd) == 0 ? 0 : EIO;
}

static double events_per_s(const char *img, const char *trace, bool no_cache,
                           uint64_t *events)
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
    if (replay_file(&o, 1, &r) != 0)
        return -1;
    double v = r.events / r.seconds;
    *events = r.events;
    run_result_free(&r);
    return v;
}

static double now_s(void)
{
    return bench_now_ns() / 1e9;
}

/*
 * valgrind --tool=cachegrind --cache-sim=yes on the recorded workload,
 * output to the work directory, the program's to /dev/null.
 * => ns per access (Ir + Dr + Dw of its summary), or -1.
 */
static double cachegrind_ns(const char *workdir, int quick, uint64_t *acc)
{
    char out[600], line[512];
    const char *const *prog = quick ? argv_quick : argv_full;
    const char *argv[16] = { "valgrind", "--tool=cachegrind",
                             "--cache-sim=yes" };
    int n = 3;
    snprintf(out, sizeof(out), "--cachegrind-out-file=%s/cg.out", workdir);
    argv[n++] = out;
    for (; *prog; prog++)
        argv[n++] = *prog;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    extern char **environ;
    double t0 = now_s();
    int e =
        posix_spawnp(&pid, "valgrind", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    if (e != 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    double secs = now_s() - t0;
    FILE *f = fopen(out + strlen("--cachegrind-out-file="), "r");
    unsigned long long v[9] = { 0 };
    bool found = false;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "summary:", 8) == 0)
            found = sscanf(line + 8,
                           "%llu %llu %llu %llu %llu %llu %llu %llu "
                           "%llu",
                           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                           &v[7], &v[8]) == 9;
    if (f)
        fclose(f);
    *acc = v[0] + v[3] + v[6];
    return found && *acc ? secs * 1e9 / (double)*acc : -1;
}

int bench_replay(const struct bench_opts *o, struct replay_results *r)
{
    char img[600], plain[512], gz[600], zst[600];
    unsigned runs = o->runs > BENCH_MAX_RUNS ? BENCH_MAX_RUNS : o->runs;
    snprintf(plain, sizeof(plain), "%s/busybox.trace", o->workdir);
    snprintf(gz, sizeof(gz), "%s.gz", plain);
    snprintf(zst, sizeof(zst), "%s.zst", plain);
    int error = image(o->workdir, img, sizeof(img));
    if (error == 0)
        error = record(plain, o->workdir, o->quick);
    if (error == 0)
        error = compress_trace(plain, gz, zst);
    if (error)
        return error;
    const char *files[3] = { plain, gz, zst };
    double *dst[3] = { &r->plain, &r->gz, &r->zst };
    for (int k = 1; k < 3; k++)
        MEDIAN(*dst[k], runs, events_per_s(img, files[k], false, &r->events));
    /* The model on and off in turns, so that a machine whose load drifts
     * slows both alike; the ratio is the median of each turn's. */
    double on[BENCH_MAX_RUNS], off[BENCH_MAX_RUNS], ratio[BENCH_MAX_RUNS];
    for (unsigned i = 0; i < runs; i++) {
        on[i] = events_per_s(img, plain, false, &r->events);
        off[i] = events_per_s(img, plain, true, &r->events);
        ratio[i] = off[i] / on[i];
    }
    r->plain = median(on, runs);
    r->plain_nocache = median(off, runs);
    r->model_ratio = median(ratio, runs);
    MEDIAN(r->cg_ns, runs,
           cachegrind_ns(o->workdir, o->quick, &r->cg_accesses));
    return r->cg_ns > 0 ? 0 : ENOENT;
}
