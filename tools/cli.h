/*
 * The xipvm command: shared pieces of its subcommands.
 */
#ifndef XVM_CLI_H
#define XVM_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "xipvm.h"
#include "xipvm_trace.h"

/* Options common to run, compare and bench. */
struct run_opts {
    const char *image;
    const char *machine; /* profile */
    uint64_t ram;
    int xip;         /* 1 xip, 0 copy */
    bool mode_given; /* --xip or --copy was on the command line */
    int fault_ahead; /* -1: UVM's table */
    int readahead;   /* -1: the mount's default */
    bool json;
    const char *svg;
    const char *trace; /* the first TRACE */
    /* sizing (doc/sizing.md) */
    uint64_t swap; /* bytes of swap; 0: none */
    int buffers;   /* metadata buffers; -1: the mount's default */
    bool csv;      /* CSV instead of text or JSON */
    bool quiet;    /* no progress, no oom messages (sweep jobs) */
    /* several traces at once: each trace's processes renumbered apart,
     * interleaved in slices of `slice` events (--slice, default 10000) */
    const char **traces;
    int ntraces;
    uint64_t slice;
    /* The CPU model (doc/time-model.md): --cpu NAME|FILE, cachegrind's
     * --I1= --D1= --LL=, --no-cache, --superpages / --no-superpages. */
    const char *cpu;     /* NULL: the built-in named like machine */
    const char *geom[3]; /* I1, D1, LL values, or NULL */
    bool no_cache;
    int superpages; /* -1: the profile's choice */
};

/* => the option argv[*i]'s value, advancing *i; NULL (with a message)
 *    if it is missing. */
const char *opt_value(int argc, char **argv, int *i);
/* => 0 and *v for sizes like 64M, 1G, 4096, 0x1000; else -1. */
int parse_size(const char *s, uint64_t *v);
int parse_uint(const char *s, uint64_t max, uint64_t *v);
/* Parses --image, --xip/--copy, --machine, --ram, --fault-ahead,
 * --readahead, --swap, --buffers, --json, --csv, --svg, --slice, the CPU
 * options and the positional TRACEs.  => 0, or prints the problem and
 * returns 2. */
int parse_run_opts(int argc, char **argv, struct run_opts *o, bool want_trace);
/* Frees what parse_run_opts allocated (its list of traces). */
void run_opts_free(struct run_opts *o);
/* The sizing options shared by run, compare and sweep (--swap SIZE,
 * --buffers N, --csv).  => 1 when argv[*i] was one (and *i advanced past
 * its value), 0 when it is not, 2 after printing a bad value. */
int parse_sizing_opt(int argc, char **argv, int *i, struct run_opts *o);
/* The CPU profile the options name (--cpu, then the cache, --no-cache
 * and super page options over it), checked.  => 0 and *out (the caller
 * destroys it), or prints the problem (naming the option or the file's
 * key) and returns 2 (bad input) or 1 (I/O, memory). */
int cpu_profile_of(const struct run_opts *o, xvm_cpu_profile **out);

/* A machine with the image on flash, mounted. */
struct world {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
};
int world_open(const struct run_opts *o, int xip, struct world *w);
void world_close(struct world *w);

/* Input: plain, gzip or zstd by magic; "-" is standard input. */
struct input;
struct input *input_open(const char *path, char *err, size_t errlen);
/* => the next line without its newline (NUL-terminated, writable), or
 *    NULL at the end; *err set on a read or decode error. */
char *input_line(struct input *in, int *err);
uint64_t input_bytes(const struct input *in); /* compressed bytes read */
void input_close(struct input *in);

/* Output written whole or not at all (a temporary file renamed at the
 * end); .gz and .zst compress; "-" is standard output. */
struct output;
FILE *output_open(const char *path, struct output **o, char *err,
                  size_t errlen);
/* => 0 once the file is in place; -1 (message in err, nothing left). */
int output_commit(struct output *o, char *err, size_t errlen);
void output_abort(struct output *o);

/* One replay: the library's report, its timeline and per-file report
 * (copied out before the machine goes), and how long it took. */
struct run_result {
    struct xvm_report rep;
    uint64_t lines, events, mismatches;
    uint64_t oom_kills, skipped; /* processes killed, events skipped */
    struct xvm_oom_event *ooms;  /* the first kills */
    size_t nooms;
    struct xvm_sample *samples;
    size_t nsamples;
    struct xvm_mark *marks;
    size_t nmarks;
    struct xvm_file_report *files; /* every regular file; paths owned */
    size_t nfiles;
    double seconds;
};
/* => 0 (mismatches counted in r), or 1 after printing an error (r then
 *    holds nothing to free). */
int replay_file(const struct run_opts *o, int xip, struct run_result *r);
void run_result_free(struct run_result *r);

void print_json_run(FILE *out, const struct run_opts *o, int xip,
                    const struct run_result *r);
/* The run's parameters, as one JSON object. */
void print_json_params(FILE *out, const struct run_opts *o, int xip);
/* The mount's read-ahead and buffers the options give (defaults
 * resolved), as the parameters record them. */
int run_readahead(const struct run_opts *o);
int run_buffers(const struct run_opts *o);

/* => whether the run fits its RAM: no process was killed for lack of
 *    memory. */
static inline bool run_fits(const struct run_result *r)
{
    return r->oom_kills == 0;
}

/* CSV (csv.c): one header, then one row per run, the same columns for
 * run, compare and sweep. */
void csv_header(FILE *out);
void csv_row(FILE *out, const struct run_opts *o, int xip,
             const struct run_result *r);
/* A field that may hold commas or quotes, quoted as RFC 4180 says. */
void csv_field(FILE *out, const char *s);
/* The figures of a report, as JSON members (no braces), indented by ind. */
void print_json_report(FILE *out, const struct xvm_report *rep,
                       const char *ind);
/* s as a JSON string, escaped. */
void json_string(FILE *out, const char *s);
/* RAM by kind (bytes) as a JSON object. */
void print_json_ram(FILE *out, const uint64_t *ram);
/* The per-file report as a JSON object: path -> figures. */
void print_json_files(FILE *out, const struct run_result *r, const char *ind);

int write_svg(const char *path, const struct run_result *xip,
              const struct run_result *copy);

int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_fsinfo(int argc, char **argv);
int cmd_mkimage(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_profiles(int argc, char **argv);

#endif
