/*
 * xipvm sweep: the grid, its jobs, and the merge of what they wrote.
 */
#ifndef XVM_SWEEP_H
#define XVM_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"

#define GRID_MAX 64 /* values of one axis, traces */

struct grid {
    char *image; /* absolute */
    char *traces[GRID_MAX];
    unsigned ntraces;
    uint64_t ram[GRID_MAX];
    unsigned nram;
    int mode[2]; /* 1 xip, 0 copy */
    unsigned nmode;
    const char *machine[GRID_MAX];
    unsigned nmachine;
    int readahead[GRID_MAX]; /* -1: the mount's default */
    unsigned nreadahead;
    int fault_ahead[GRID_MAX]; /* -1: UVM's table */
    unsigned nfault_ahead;
    uint64_t swap[GRID_MAX];
    unsigned nswap;
    int buffers[GRID_MAX]; /* -1: the mount's default */
    unsigned nbuffers;
    int device[2]; /* XVM_DEVICE_NOR, XVM_DEVICE_MD */
    unsigned ndevice;
    double max_slowdown; /* percent; < 0: not asked */
    unsigned jobs;       /* local children; 0: every core */
    const char *out;     /* as given */
    char *outabs;        /* absolute, once made */
    const char *emit, *slurm, *merge;
    long job; /* --job N, or -1 */
    /* the CPU options of every job (only cpu, geom, no_cache, superpages;
     * machine while they are checked) */
    struct run_opts cpu;
    char *cpu_file; /* --cpu FILE made absolute, or NULL */
    unsigned njobs;
};

/* => 0, 1 (a path that does not resolve) or 2 (usage, printed). */
int grid_parse(int argc, char **argv, struct grid *g);
void grid_free(struct grid *g);
/* Job i's point of the grid, as the options of one run. */
void grid_point(const struct grid *g, unsigned i, struct run_opts *o);

/*
 * Collects DIR/jobs/NNNNNN.csv into DIR/results.csv, DIR/results.json and a
 * chart per metric (DIR/time_ns.svg, faults.svg, refaults.svg,
 * flash_bytes_read.svg), and prints the smallest RAM each mode needs.
 * max_slowdown < 0: the value the sweep was given, if any.  => 0, or 1
 * after printing what is wrong.
 */
int sweep_merge(const char *dir, double max_slowdown);

#endif
