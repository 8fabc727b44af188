/*
 * Benchmarks: the simulator measured against the host kernel doing the
 * same work, in the same run, each row the median of several runs.
 */
#ifndef XVM_BENCH_H
#define XVM_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct bench_opts {
    unsigned runs;       /* repetitions per row; the median is kept */
    bool quick;          /* smaller sizes, for CI */
    const char *workdir; /* scratch files (images, traces) */
};

/* One measured figure: ns per unit (or a plain number), median of runs. */
struct figure {
    double value;
    const char *unit;
};

/* Each row: the median of up to BENCH_MAX_RUNS repetitions of expr. */
#define BENCH_MAX_RUNS 31
#define MEDIAN(dst, runs, expr)                                                \
    do {                                                                       \
        double v_[BENCH_MAX_RUNS];                                             \
        for (unsigned i_ = 0; i_ < (runs); i_++)                               \
            v_[i_] = (expr);                                                   \
        (dst) = median(v_, (runs));                                            \
    } while (0)

/* clock.c */
double bench_now_ns(void);
double median(double *v, unsigned n);

/* sim.c: the simulator's rows; kernel.c: the host kernel's. */
struct sim_results {
    double tlb_read, tlb_write, tlb_exec;
    double xip_fault, copy_resident_fault, copy_flash_fault;
    double cow_device, zero_fill, cow_fork;
    double fork_exit[3]; /* 1, 16, 256 MiB touched */
    double busybox_fork; /* a process laid out like busybox */
    double procs[3];     /* per event with 1, 100, 10000 processes */
    double entries[3];   /* per event with 10, 1000, 100000 entries */
    double ram_page_bytes, device_page_bytes, pv_bytes;
};
struct kernel_results {
    double zero_fill, file_fault, cow_file, cow_fork;
    double fork_exit[3];
    double faults_per_page; /* minor faults seen per page touched */
};
/* sim.c: the device-page designs side by side (doc/beyond-the-paper.md),
 * by enum xvm_device_design.  Under callgrind (valgrind --tool=callgrind
 * --collect-atstart=no) each timed loop is collected alone and dumped
 * with a label naming the row, the design and its operations, so
 * instructions per operation come from the dumps. */
struct design_results {
    double xip_fault[3];  /* ns per XIP read fault of a device page */
    double cow_device[3]; /* ns per COW promotion from a device page */
    double fork_exit[3];  /* ns per fork + exit of that process */
    double fork_text[3];  /* ns per fork + child running text + exit */
};
int bench_designs(const struct bench_opts *o, struct design_results *r);

struct replay_results {
    double plain, gz, zst; /* events per second, parsing included */
    double plain_nocache;  /* the same with the CPU model off */
    double model_ratio;    /* time per event, model on / off (median) */
    uint64_t events;
    double cg_ns;         /* cachegrind on the same workload: ns/access */
    uint64_t cg_accesses; /* its Ir + Dr + Dw */
};

int bench_sim(const struct bench_opts *o, struct sim_results *r);
int bench_kernel(const struct bench_opts *o, struct kernel_results *r);
int bench_replay(const struct bench_opts *o, struct replay_results *r);

/* Runs everything and prints the table; => process exit status. */
int bench_main(int argc, char **argv);

#endif
