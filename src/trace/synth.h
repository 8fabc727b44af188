/* synth.h - synthetic traces of a real static ELF: spawn storms, fork
 * trees, data writers, text walks. */
#ifndef XVM_SYNTH_H
#define XVM_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"
#include "xipvm_trace.h"

enum synth_kind {
    SYNTH_SPAWN_MANY,   /* N processes of one binary walk its text, then exit */
    SYNTH_FORK_STORM,   /* one process forks a tree; children write COW pages */
    SYNTH_DATA_WRITERS, /* N processes write pages of data and bss */
    SYNTH_TEXT_WALK,    /* one process, a locality model of its text */
    SYNTH_KIND_COUNT
};

/* Each process maps a heap chunk and a stack chunk of TRACE_ANON_CHUNK
 * from trace_anon_start() (util.h), as lackey import does. */
#define SYNTH_MAX_PROCS 4096u
/* Fractions are fixed point: SYNTH_ONE is 1.0, so the trace never depends on FP. */
#define SYNTH_ONE (UINT64_C(1) << 32)

struct synth_opts {
    enum synth_kind kind;
    uint64_t seed;
    uint64_t
        events; /* r/w/x events in all (a target for fork-storm and data-writers) */
    unsigned
        procs; /* spawn-many, fork-storm, data-writers: 1..SYNTH_MAX_PROCS */
    int keep;  /* spawn-many: no process exits */
    unsigned hot_pages;         /* text pages of the working set, >= 1 */
    uint64_t locality;          /* P(jump into the working set), 0..SYNTH_ONE */
    uint64_t write_fraction;    /* fork-storm, data-writers: 0..SYNTH_ONE */
    const char *exec_host_path; /* the ELF on the host */
    const char *path_in_image;  /* spawn PATH; NULL => exec_host_path */
};

struct synth_stats {
    uint64_t lines;   /* all lines written, header included */
    uint64_t events;  /* event lines (lines - 1) */
    uint64_t x, r, w; /* access events, by kind */
    uint64_t spawns, forks, exits, mmaps, marks;
};

/* => opts with the defaults for kind: seed 1, 100000 events, 16 procs,
 *    32 hot pages, locality 0.9, write fraction 0.25 (data-writers 0.5). */
void synth_opts_init(struct synth_opts *o, enum synth_kind kind);

/* => 0 and *kind for "spawn-many", "fork-storm", "data-writers",
 *    "text-walk"; EINVAL otherwise. */
int synth_kind_from_name(const char *name, enum synth_kind *kind);
/* => the kind's name, or NULL for an unknown kind. */
const char *synth_kind_name(enum synth_kind kind);

/*
 * Write a whole v1 trace (header first) of kind o->kind to out.
 * => every address is valid on a machine that spawns o->path_in_image from
 *    an image holding the same ELF: text and rodata inside the exec/read
 *    PT_LOADs (ET_DYN at ELF_DYN_BASE), data inside the writable ones,
 *    heap and stack inside the 1 MiB chunks each process maps first.
 *    Reads of rodata, data, heap and stack carry the expected bytes
 *    (=HEX) whenever the model knows them, so a replay checks COW.
 * => the same opts give byte-identical output; no global state.
 * => 0; EINVAL for bad options; ENOEXEC for a file that is not a static,
 *    loadable ELF or lacks the segments the kind needs; ERANGE when the
 *    ELF reaches the anonymous chunks' limit; ENOMEM; EIO or errno for
 *    I/O. err (may be NULL) gets a message.  st (may be NULL) is filled.
 */
int synth_write(FILE *out, const struct synth_opts *o, struct synth_stats *st,
                char *err, size_t errlen);
/*
 * The same through a trace writer of either form, which open(arg, ...)
 * makes once the program is read (=> 0, or an errno with a message in
 * err).  *w: the writer for the caller to close, or NULL (none opened).
 */
typedef int (*synth_open_fn)(void *arg, xvm_trace_writer **w, char *err,
                             size_t errlen);
int synth_write_trace(const struct synth_opts *o, synth_open_fn open, void *arg,
                      xvm_trace_writer **w, struct synth_stats *st, char *err,
                      size_t errlen);

#endif
