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

/*
 * Every subcommand describes itself in one table: its options, each with
 * its argument, default and one line of help.  The table is what --help
 * prints (and what doc/xipvm.1 must cover: test_cli checks) and what the
 * parsers accept: cli_next() refuses an option the table does not name.
 * A new option is one line in its command's table, then its case in the
 * parser.
 */
struct cli_opt {
    const char *name; /* "--ram", "-o" */
    const char *arg;  /* its value's name ("SIZE"), or NULL for a flag */
    const char *def;  /* the default, or NULL (none, or required) */
    const char *help; /* one line */
};

struct cli_cmd {
    const char *name;           /* "run" */
    const char *synopsis;       /* after the name: "--image IMG ... TRACE" */
    const char *summary;        /* one line: what it does */
    const struct cli_opt *opts; /* ends with { NULL } */
    const char *details;        /* lines after the options, or NULL */
    int (*fn)(int argc, char **argv);
};

/* The program's commands, in the order `xipvm --help` lists them; each
 * program defines it (tools/xipvm.c, bench/main.c). */
extern const struct cli_cmd *const cli_commands[];

/* --help: usage, summary, every option with its default, details. */
void cli_help(FILE *f, const struct cli_cmd *cmd);
/* A usage error's reminder: the synopsis and where the help is. */
void cli_usage(FILE *f, const struct cli_cmd *cmd);
/* Prints text from column col, wrapping at word breaks before column 80
 * to lines that start at column indent. */
void cli_wrapped(FILE *f, const char *text, int col, int indent);
/* => the table's entry for name, or NULL. */
const struct cli_opt *cli_opt_find(const struct cli_cmd *cmd, const char *name);
/* "xipvm 0.1.0" and the trace format it reads and writes. */
void cli_version(FILE *f);

/* Walks argv[first..] against cmd's table. */
struct cli_args {
    const struct cli_cmd *cmd;
    int argc, i;
    char **argv;
    bool stop_at_dashdash; /* "--" ends the options (record) */
};
enum { CLI_END, CLI_OPT, CLI_ARG, CLI_ERR };
/*
 * => CLI_OPT: *opt and *val (the option's value, NULL for a flag);
 *    CLI_ARG: a positional argument in *val; CLI_END: no more (after
 *    "--" when stop_at_dashdash, a->i is the first argument after it);
 *    CLI_ERR: an unknown option or a missing value, said on stderr.
 */
int cli_next(struct cli_args *a, const struct cli_opt **opt, const char **val);

/* A size for people, always with its unit: "512 KiB", "64 MiB", "1.5 GiB",
 * and "4097 B" when it is not a whole number of KiB. */
const char *fmt_size(char *buf, size_t len, uint64_t bytes);

/* The options of run and compare (and every command replaying a trace
 * on an image), as table lines. */
#define CLI_RUN_OPTS                                                           \
    { "--image", "IMG", NULL,                                                  \
      "the FFS image (made by makefs) on emulated NOR flash; required" },      \
        { "--machine", "NAME", "sgimips", "the profile: sgimips or amd64" },   \
        { "--ram", "SIZE", "64M",                                              \
          "simulated RAM: bytes, or with K, M or G (powers of 2)" },           \
        { "--swap", "SIZE", "none",                                            \
          "a swap area of SIZE (whole 4 KiB pages) on its own device" },       \
        { "--fault-ahead", "N", "UVM's table: 3 back, 4 ahead",                \
          "pages mapped around a fault on each side, 0 to 64" },               \
        { "--readahead", "N", "4",                                             \
          "pages the vnode pager reads ahead, 0 to 64" },                      \
        { "--buffers", "N", "16",                                              \
          "pages of the metadata buffer cache, 0 to 65536" },                  \
        { "--slice", "N", "10000",                                             \
          "several TRACEs run at once, their processes apart, in turns of "    \
          "N events" },                                                        \
        { "--json", NULL, NULL, "print the report as JSON" },                  \
    {                                                                          \
        "--csv", NULL, NULL,                                                   \
            "print the report as CSV (a header, a row per run; doc/sizing.md)" \
    }

/* Beyond the paper (doc/beyond-the-paper.md), options of run and compare
 * (parse_beyond_opt). */
#define CLI_BEYOND_OPTS                                                        \
    { "--device", "nor|md", "nor",                                             \
      "where the image lives: NOR flash, or a memory disk in RAM (§11.6)" },   \
        { "--device-design", "NAME", "segment",                                \
          "how device pages are tracked: segment (the paper's PV hash), "      \
          "amap-copy (no shared amaps), vm_page (OpenBSD's)" },                \
        { "--neighbour-reserve", "SIZE", "0: unbounded",                       \
          "skip fault-ahead mappings while free RAM is at most SIZE "          \
          "(§11.2)" },                                                         \
    {                                                                          \
        "--neighbour-pv-limit", "N", "0: no limit",                            \
            "skip fault-ahead mappings while N PV entries or more are in use"  \
    }

/* The CPU model (doc/time-model.md), options of every command that
 * replays (cpu_option in options.c).  cli_next also takes cachegrind's
 * --I1=SIZE,ASSOC,LINE form of the cache options. */
#define CLI_CPU_OPTS                                                           \
    { "--cpu", "NAME|FILE", "the profile named like --machine",                \
      "the CPU profile: a built-in (xipvm profiles) or a key = value file" },  \
        { "--I1", "SIZE,ASSOC,LINE", "the profile's",                          \
          "the L1 instruction cache, as cachegrind's --I1=" },                 \
        { "--D1", "SIZE,ASSOC,LINE", "the profile's",                          \
          "the L1 data cache, as cachegrind's --D1=" },                        \
        { "--LL", "SIZE,ASSOC,LINE", "the profile's",                          \
          "the last-level cache, as cachegrind's --LL=, or none" },            \
        { "--L2", "SIZE,ASSOC,LINE", NULL,                                     \
          "the same as --LL (cachegrind's older name)" },                      \
        { "--no-cache", NULL, NULL,                                            \
          "no caches and no TLB model: every access goes to memory" },         \
        { "--superpages", NULL, "the profile's",                               \
          "map aligned runs of XIP text as large pages" },                     \
    {                                                                          \
        "--no-superpages", NULL, NULL, "map XIP text in pages only"            \
    }

/* --slice's default: events per turn of several TRACEs. */
#define RUN_SLICE 10000

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
    uint64_t slice; /* RUN_SLICE unless --slice */
    /* The CPU model (doc/time-model.md): --cpu NAME|FILE, cachegrind's
     * --I1= --D1= --LL=, --no-cache, --superpages / --no-superpages. */
    const char *cpu;     /* NULL: the built-in named like machine */
    uint64_t cpu_hash;   /* of its text (cpu_hash_of), for params */
    const char *geom[3]; /* I1, D1, LL values, or NULL */
    const char *ll_opt;  /* "--LL" or "--L2", as given, for errors */
    bool no_cache;
    int superpages; /* -1: the profile's choice */
    /* beyond the paper (doc/beyond-the-paper.md) */
    int device; /* XVM_DEVICE_NOR or XVM_DEVICE_MD: where the image lives */
    int design; /* enum xvm_device_design */
    uint64_t neighbour_reserve;  /* bytes; 0: UVM's fault-ahead, unbounded */
    uint64_t neighbour_pv_limit; /* PV entries; 0: no limit */
    bool pages; /* keep every file's pages (xvm_file_pages): advise */
};

/* => 0 and *v for sizes like 64M, 1G, 4096, 0x1000; else -1. */
int parse_size(const char *s, uint64_t *v);
int parse_uint(const char *s, uint64_t max, uint64_t *v);
/* Parses --image, --xip/--copy, --machine, --ram, --fault-ahead,
 * --readahead, --swap, --buffers, --json, --csv, --svg, --slice, the CPU
 * options and the positional TRACEs, as far as the table of the command
 * argv[0] names them (--xip and --copy conflict, --json and --csv too),
 * then checks the CPU profile they make (cpu_profile_of).
 * => 0, or prints the problem and the usage and returns 2 (nothing then
 *    to free). */
int parse_run_opts(int argc, char **argv, struct run_opts *o, bool want_trace);
/* The same for a command with options of its own beside run's: each
 * option of its table that run's parser does not know goes to own(arg,
 * name, value), which => 0, or 2 after saying what is wrong. */
typedef int (*cli_own_fn)(void *arg, const char *opt, const char *val);
int parse_run_opts_own(int argc, char **argv, struct run_opts *o,
                       bool want_trace, cli_own_fn own, void *own_arg);
/* Frees what parse_run_opts allocated (its list of traces). */
void run_opts_free(struct run_opts *o);
/* The sizing options shared by run and compare (--swap SIZE, --buffers
 * N, --csv): the option a with its value v (NULL for a flag).  => 1 when
 * a was one, 0 when it is not, 2 after printing a bad value. */
int parse_sizing_opt(const char *a, const char *v, struct run_opts *o);
/* The options of CLI_BEYOND_OPTS, the same way. */
int parse_beyond_opt(const char *a, const char *v, struct run_opts *o);
/* The options of CLI_CPU_OPTS: the option a with its value v.  => 1 when
 * a was one, 0 when not; the values are checked by cpu_profile_of. */
int parse_cpu_opt(const char *a, const char *v, struct run_opts *o);
/* Does --cpu cpu read a file (no built-in of that name, or a file of that
 * name in the current directory)? */
bool cpu_is_file(const char *cpu);
/* The CPU profile the options name (--cpu, then the cache, --no-cache
 * and super page options over it), checked.  => 0 and *out (the caller
 * destroys it), or prints the problem (naming the option or the file's
 * key) and returns 2 (bad input) or 1 (I/O, memory). */
int cpu_profile_of(const struct run_opts *o, xvm_cpu_profile **out);
/* Sets o->cpu_hash: FNV-1a 64 of the profile text the options name (the
 * file's bytes, or the built-in's), so params tell an edited file apart
 * (0 when it cannot be read). */
void cpu_hash_of(struct run_opts *o);

/* A machine with the image on flash, mounted. */
struct world {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
};
/* => 0; 1 after printing an error; WORLD_NO_ROOM after printing that a
 * memory disk (--device md) leaves too little of the RAM: the point does
 * not fit, a sweep records it so. */
#define WORLD_NO_ROOM 3
int world_open(const struct run_opts *o, int xip, struct world *w);
void world_close(struct world *w);
/* => 0 when a machine of the profile may have ram bytes of RAM (from
 * xvm_profile_ram_min to xvm_profile_ram_max); else 1 after saying which
 * bound it passes. */
int world_ram_ok(const char *machine, uint64_t ram);
/* => 0 when a machine of the profile takes a swap area of swap bytes (at
 *    most xvm_profile_swap_max); else 1 after saying the bound. */
int world_swap_ok(const char *machine, uint64_t swap);
/* An entry of image that cannot be read (xvm_fsinfo's fi->error), named
 * on stderr; world_damage names every such entry of the mount. */
void world_damaged(const char *image, const struct xvm_file_info *fi);
void world_damage(const char *image, xvm_mount *mp);

/* Output written whole or not at all (a temporary file renamed at the
 * end); "-" is standard output, and a device or FIFO already at the path
 * is written in place (never replaced, never removed). */
struct output;
FILE *output_open(const char *path, struct output **o, char *err,
                  size_t errlen);
/* => 0 once the file is in place; -1 (message in err, nothing left). */
int output_commit(struct output *o, char *err, size_t errlen);
void output_abort(struct output *o);
/* A trace written so, through a trace writer whose form the name picks
 * (xvm_trace_writer_config_path: .xvt binary, .gz and .zst compressed
 * text, else plain text; "-" plain text).  commit closes the writer;
 * abort drops it, and on standard output or in place writes nothing more
 * (no end frame: what is out does not read as a whole trace). */
xvm_trace_writer *trace_output_open(const char *path, struct output **o,
                                    char *err, size_t errlen);
/* The same with the writer's form given (NULL: by the name). */
xvm_trace_writer *trace_output_open_cfg(
    const char *path, const struct xvm_trace_writer_config *cfg,
    struct output **o, char *err, size_t errlen);
int trace_output_commit(xvm_trace_writer *w, struct output *o, char *err,
                        size_t errlen);
void trace_output_abort(xvm_trace_writer *w, struct output *o);

/* The pages of one file that the run used (xvm_file_pages). */
struct file_pages {
    struct xvm_page_report *v;
    size_t n;
};

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
    struct file_pages *pages; /* [nfiles], with run_opts.pages */
    double seconds;
    bool no_room; /* a memory disk left too little RAM: nothing ran */
};
/* => 0 (mismatches counted in r), or 1 after printing an error (r then
 *    holds nothing to free), or WORLD_NO_ROOM (r: no_room, nothing else,
 *    nothing to free). */
int replay_file(const struct run_opts *o, int xip, struct run_result *r);
void run_result_free(struct run_result *r);

void print_json_run(FILE *out, const struct run_opts *o, int xip,
                    const struct run_result *r);
/* The run's parameters, as one JSON object. */
void print_json_params(FILE *out, const struct run_opts *o, int xip);
/* "nor", "md"; => 0 and *device, or -1 for another name. */
int parse_device(const char *s, int *device);
const char *device_name(int device);
/* "segment", "amap-copy", "vm_page"; => 0 and *design, or -1. */
int parse_design(const char *s, int *design);
/* The mount's read-ahead and buffers the options give (defaults
 * resolved), as the parameters record them. */
int run_readahead(const struct run_opts *o);
int run_buffers(const struct run_opts *o);
/* The CPU options as the parameters record them: a cache's geometry as
 * given (k: 0 I1, 1 D1, 2 LL) or "profile", and super pages "on", "off"
 * or "profile". */
const char *run_geom(const struct run_opts *o, int k);
const char *run_superpages(const struct run_opts *o);

/* => whether the run fits its RAM: no process was killed for lack of
 *    memory. */
static inline bool run_fits(const struct run_result *r)
{
    return r->oom_kills == 0 && !r->no_room;
}

/* "takes 1.250x the time of copy mode", or, when copy mode took no time
 * (a profile of zero costs and a trace of no events: 0/0), no ratio. */
static inline const char *slowdown_text(char *buf, size_t len,
                                        const struct run_result *copy,
                                        double slowdown)
{
    if (copy->rep.st.time_ns == 0)
        snprintf(buf, len, "has no slowdown to report: copy mode took no time");
    else
        snprintf(buf, len, "takes %.3fx the time of copy mode", slowdown);
    return buf;
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
/* s as SVG (XML) text, escaped (json.c). */
void xml_text(FILE *out, const char *s);
/* RAM by kind (bytes) as a JSON object. */
void print_json_ram(FILE *out, const uint64_t *ram);
/* The per-file report as a JSON object: path -> figures. */
void print_json_files(FILE *out, const struct run_result *r, const char *ind);

int write_svg(const char *path, const struct run_result *xip,
              const struct run_result *copy);

int cmd_run(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_fsinfo(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_mkimage(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_profiles(int argc, char **argv);

#endif
