/*
 * Benchmarks: the simulator measured against an anchor doing the same or
 * comparable work (the host kernel, valgrind's cachegrind, wc -l, zstd
 * -dc), in the same run.  Every time is taken both as CPU time (the
 * process's, or its children's for tools it runs) and as wall time: on a
 * shared, loaded machine the CPU time is the figure to compare.  Each row
 * is the median of several runs.
 */
#ifndef XVM_BENCH_H
#define XVM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Groups of rows (--only). */
enum {
    G_ACCESS = 1,    /* TLB hits, faults, fork + exit */
    G_REPLAY = 2,    /* trace replay, parsing, against cachegrind */
    G_SCALE = 4,     /* per event as processes and entries grow */
    G_CORNERS = 8,   /* what used to be quadratic */
    G_MEMORY = 16,   /* host bytes, from RSS */
    G_FUZZ = 32,     /* fault-sequence fuzzing */
    G_TLB = 64,      /* the TLB-hit path in instructions (callgrind) */
    G_DESIGNS = 128, /* the device-page designs side by side */
    G_ALL = 255
};

struct bench_opts {
    unsigned runs;       /* repetitions per row; the median is kept */
    bool quick;          /* smaller sizes, for CI */
    const char *workdir; /* scratch files (images, traces) */
    unsigned groups;     /* G_* to run */
    const char *self;    /* this program, for the callgrind probe */
};

/* A duration: process (or children's) CPU time and wall time, in ns. */
struct span {
    double cpu, wall;
};
/* Now, as a start: cpu counts this process; with children, also the
 * children it has waited for. */
struct span tm_now(bool children);
/* => from t0 to now, divided by n (per unit). */
struct span tm_per(struct span t0, bool children, double n);

/* Wall-clock time in ns (xipvm-cpubench). */
double bench_now_ns(void);

#define BENCH_MAX_RUNS 31
double median(double *v, unsigned n);
/* The median of `runs` repetitions of expr (a struct span), CPU and wall
 * each. */
#define MEDIAN_TM(dst, runs, expr)                                             \
    do {                                                                       \
        double c_[BENCH_MAX_RUNS], w_[BENCH_MAX_RUNS];                         \
        for (unsigned i_ = 0; i_ < (runs); i_++) {                             \
            struct span t_ = (expr);                                           \
            c_[i_] = t_.cpu;                                                   \
            w_[i_] = t_.wall;                                                  \
        }                                                                      \
        (dst).cpu = median(c_, (runs));                                        \
        (dst).wall = median(w_, (runs));                                       \
    } while (0)
/* The same for a plain number. */
#define MEDIAN(dst, runs, expr)                                                \
    do {                                                                       \
        double v_[BENCH_MAX_RUNS];                                             \
        for (unsigned i_ = 0; i_ < (runs); i_++)                               \
            v_[i_] = (expr);                                                   \
        (dst) = median(v_, (runs));                                            \
    } while (0)

/* The host memory this process holds of its own (resident anonymous
 * memory, /proc/self/status RssAnon: not the pages of files it maps, such
 * as an image's), bytes. */
uint64_t rss_bytes(void);
/* xorshift64: the bench's random numbers, the same in every run. */
static inline uint64_t bench_rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One dependent load over a random cycle through bytes of host memory
 * (huge pages advised), per load: a host cache miss's cost when bytes
 * is past the host's last-level cache (hostmem.c). */
struct span host_load_latency(size_t bytes);
/* Runs a shell command; => its exit status, *t its children's time. */
int run_timed(const char *cmd, struct span *t);

/*
 * The table every group fills: one row per figure, the simulator's CPU
 * and wall value, the anchor's (CPU) value when there is one, and what
 * the row aims at.
 */
struct row {
    char name[80];
    double cpu, wall; /* the simulator's figure (wall 0: no time) */
    double anchor;    /* the anchor's figure, or 0 */
    char anchor_name[24];
    const char *unit;
    char target[48];
    char verdict[80]; /* what the row shows against its target */
};

#define TABLE_MAX 128

struct table {
    struct row rows[TABLE_MAX];
    unsigned n;
    char notes[2048]; /* lines printed under the table */
};

struct row *table_row(struct table *t, const char *unit, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void table_note(struct table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets r's verdict: "met" or "missed", with the figure given. */
void row_verdict(struct row *r, bool met, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The host kernel doing the access group's work (kernel.c), measured in
 * a child forked before the simulator allocates anything: ns (CPU) per
 * fault the kernel counted, per fork + exit. */
struct kernel_results {
    struct span zero_fill, file_fault, cow_file, cow_fork;
    struct span fork_exit[3];
    double faults_per_page; /* minor faults seen per page touched */
};
int bench_kernel(const struct bench_opts *o, struct kernel_results *r);

/* The groups; each => 0, or an errno after printing why. */
int bench_access(const struct bench_opts *o, const struct kernel_results *k,
                 struct table *t);
int bench_replay(const struct bench_opts *o, struct table *t);
int bench_scale(const struct bench_opts *o, struct table *t);
int bench_corners(const struct bench_opts *o, struct table *t);
int bench_memory(const struct bench_opts *o, struct table *t);
int bench_fuzz(const struct bench_opts *o, struct table *t);
int bench_tlb(const struct bench_opts *o, struct table *t);
/* The device-page designs side by side (doc/beyond-the-paper.md), one row
 * per operation and enum xvm_device_design.  Under callgrind (valgrind
 * --tool=callgrind --collect-atstart=no) each timed loop is collected
 * alone and dumped with a label naming the row, the design and its
 * operations, so instructions per operation come from the dumps. */
int bench_designs(const struct bench_opts *o, struct table *t);
/* The probe callgrind runs (xipvm bench --probe-tlb KIND N). */
int bench_tlb_probe(int kind, unsigned n);

/* replay.c: an image holding /bin/busybox at that path, made in workdir
 * as NAME.img (from the tree NAME.root). */
int bench_busybox_image(const char *workdir, const char *name, char *img,
                        size_t cap);
/* A replay of trace on img (sgimips, 64 MiB, XIP; no_cache: the CPU model
 * off).  => its time, whole; *status replay_file's, *events its events. */
struct span bench_replay_trace(const char *img, const char *trace,
                               bool no_cache, int *status, uint64_t *events);

/* A makefs image of dir at img (FFS2, 16K/2K blocks, little-endian). */
int bench_makefs(const char *dir, const char *img, const char *opts);

/* Runs everything and prints the table; => process exit status. */
int bench_main(int argc, char **argv);

#endif
