/*
 * The differential driver: decodes bytes (fuzzer input or a seeded PRNG
 * stream) into small operations, runs each on the library and on the
 * reference model (refmodel.h), and compares every result, every byte
 * read, the map layout of every process and the process table; the
 * machine checker runs after every operation (full_check) or at the end
 * with cheap checks between (see struct diff_config).  No CMocka here: the
 * fuzzers link it too.
 */
#ifndef XVM_DIFFOPS_H
#define XVM_DIFFOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refmodel.h"
#include "xipvm.h"

#define DIFF_NFILES 5
#define DIFF_NPROGS 2

/* A makefs image with two hand-made static programs and three files. */
struct diff_image {
    uint8_t *img;
    uint64_t img_size;
    struct rm_file files[DIFF_NFILES];
    struct rm_prog progs[DIFF_NPROGS];
};

/* A makefs image of files (paths relative, one directory level). */
int diff_make_image(const struct rm_file *files, unsigned n, int version,
                    const char *endian, unsigned bsize, unsigned fsize,
                    uint8_t **img, uint64_t *size);
/* => 0, or -1 with a message (makefs missing or failing). */
int diff_image_build(struct diff_image *di, int ufs_version, const char *endian,
                     unsigned bsize, unsigned fsize, char *err, size_t errlen);
void diff_image_free(struct diff_image *di);
/* The bytes of one hand-made program (what the image holds). */
uint8_t *diff_prog_bytes(const struct rm_prog *prog, uint64_t size,
                         uint32_t seed);

struct diff_config {
    const char *profile;           /* "sgimips" or "amd64" */
    uint64_t ram_bytes;            /* tiny (e.g. 24 frames) or large */
    bool xip;                      /* mount with XIP, else copy mode */
    bool ahead;                    /* UVM's fault-ahead, else none */
    bool inject;                   /* inject failures (the ENOMEM sites) */
    enum xvm_device_design design; /* how device pages are tracked */
    unsigned max_ops;
    /* After each operation: the whole-machine checker (short runs), or
     * the cheap checks (machine_check_quick: counters, every map) with
     * the whole machine checked at the end (fuzzing at speed).  The
     * reference model is compared after every operation either way. */
    bool full_check;
};

/* Where operations come from: fixed bytes, or a seeded PRNG. */
struct diff_src {
    const uint8_t *data;
    size_t len, pos;
    uint64_t rng; /* nonzero: PRNG mode */
};

void diff_src_bytes(struct diff_src *s, const uint8_t *data, size_t len);
void diff_src_seed(struct diff_src *s, uint64_t seed);
unsigned diff_byte(struct diff_src *s);
/* The first bytes of a fuzzer input choose the configuration. */
void diff_config_decode(struct diff_src *s, struct diff_config *cfg);

struct diff_result {
    unsigned ops;                /* operations run */
    unsigned enomem_accepted;    /* library ENOMEMs the rule allowed */
    unsigned oom_kills;          /* processes the library killed (tiny RAM) */
    unsigned errors;             /* predicted errors, matched */
    unsigned loans, loan_breaks; /* loans checked, writes that broke one */
    char msg[16384];             /* the divergence, with the last operations */
};

/* xvm_machine_create of cfg (its profile named) with the host arrays of
 * a short run: a 64-entry software TLB, amd64's last level at 256 KiB
 * (diffops.c).  => 0 or an errno. */
int diff_machine_create(const struct xvm_config *cfg, xvm_machine **m);

/* => 0 when library and model agreed on everything, -1 with res->msg. */
int diff_run(const struct diff_image *di, const struct diff_config *cfg,
             struct diff_src *src, struct diff_result *res);

#endif
