/*
 * libxipvm traces: the xipvm trace format, version 2 (doc/trace-format.md;
 * version 1 traces still read), read, written and replayed on a machine.
 *
 * Interface.  A trace is text: the header line XVM_TRACE_HEADER, then one
 * event a line.  Programs that record or generate traces fill a struct
 * xvm_trace_event and write it with xvm_trace_format_event(); readers
 * parse lines with xvm_trace_parse_line(); xvm_replay_* runs them on a
 * machine.  The parser and the formatter allocate nothing and keep no
 * state: a formatted event parses back equal.
 */
#ifndef XIPVM_TRACE_H
#define XIPVM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "xipvm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The first line of every trace written (a '\n' follows it in a file).
 * Version 2 adds escapes in strings (so a path, argument or label may
 * hold any byte), the pread op and 256 arguments; "xipvm-trace 1" traces
 * read as they always did. */
#define XVM_TRACE_HEADER  "xipvm-trace 2"
#define XVM_TRACE_VERSION 2

enum xvm_trace_op {
    XVM_T_SPAWN,
    XVM_T_FORK,
    XVM_T_EXEC,
    XVM_T_EXIT,
    XVM_T_MMAP,
    XVM_T_MUNMAP,
    XVM_T_MPROTECT,
    XVM_T_BRK,
    XVM_T_READ,
    XVM_T_WRITE,
    XVM_T_EXEC_FETCH,
    XVM_T_MARK,
    XVM_T_PREAD, /* read(2) of a file into memory (version 2) */
    XVM_T_LOAN,  /* a range lent to the kernel for an I/O (version 2) */
    XVM_T_UNLOAN /* that I/O done: the loan ends (version 2) */
};

#define XVM_TRACE_MAX_ARGS 256
#define XVM_TRACE_MAX_DATA 4096 /* bytes of =HEX */
#define XVM_TRACE_MAX_SIZE                                                     \
    UINT64_C(0x100000000) /* largest r/w/x SIZE without =HEX: 2^32 */

struct xvm_trace_event {
    enum xvm_trace_op op;
    uint32_t pid, pid2; /* pid2: child of fork */
    uint64_t addr, len; /* len also SIZE of r/w/x, pread, loan and unloan,
                           ADDR of brk in addr */
    int prot;           /* XVM_PROT_READ | _WRITE | _EXEC */
    int shared, fixed;  /* mmap flags */
    const char *path;   /* mmap or pread file, spawn/exec path; NULL for
                           anonymous */
    uint64_t off;       /* mmap or pread file offset; 0 when anonymous */
    unsigned argc;
    const char *argv[XVM_TRACE_MAX_ARGS]; /* spawn/exec args after PATH */
    const char *label;                    /* mark */
    int has_data;
    size_t ndata;
    uint8_t data[XVM_TRACE_MAX_DATA];
    int expect_err; /* 0, or the errno named by !ERR */
};

/*
 * Parse one line of a trace (not the header line), of the current
 * version (XVM_TRACE_VERSION): strings are unescaped in place.
 * => line: NUL-terminated, modified in place: tokens are NUL-terminated inside
 *    it, and ev's path/argv/label point into it (valid while line is).
 * => a trailing '\n' or "\r\n" is fine.
 * => returns 1 with *ev filled for an event, 0 for a blank/comment line, or
 *    -EINVAL with *msg set to a short static human message.
 * => on 1, every scalar field the op does not use is 0/NULL; on 0 or
 *    -EINVAL, *ev holds nothing meaningful.
 * => only scalar fields are reset on each call;
 *    argv[] past argc and data[] past ndata are left as they were, so no
 *    per-event clearing of the 4 KiB buffer.
 * => msg may be NULL; no allocation, no global state.
 */
XVM_API int xvm_trace_parse_line(char *line, struct xvm_trace_event *ev,
                                 const char **msg);
/* The same for a trace of the given version (1 or 2; see
 * xvm_trace_header_version): version 1 has no escapes. */
XVM_API int xvm_trace_parse_line_v(char *line, int version,
                                   struct xvm_trace_event *ev,
                                   const char **msg);

/* Clears the scalar fields only: clearing data[] (4 KiB) per event would
 * cost more than the event; argv[] and data[] are valid up to argc/ndata. */
XVM_API void xvm_trace_event_reset(struct xvm_trace_event *ev);

/* => 0 when line is the header of a version this library reads
 *    ("xipvm-trace 1" or "xipvm-trace 2", trailing whitespace allowed),
 *    else EINVAL. */
XVM_API int xvm_trace_check_header(const char *line);
/* => the version the header line names (1 or 2), or 0 when it is not a
 *    header this library reads. */
XVM_API int xvm_trace_header_version(const char *line);

/* => 1 when s is written as itself, without escapes (and so can be a
 *    PATH, ARG or LABEL of a version 1 trace): not NULL, not empty, no
 *    whitespace, control character or backslash, not starting with '!'. */
XVM_API int xvm_trace_token_ok(const char *s);

/* => "EFAULT"... for the errnos a trace may name, else NULL. */
XVM_API const char *xvm_trace_errno_name(int err);

/* => the errno for a name such as "EFAULT" (no '!'), or 0 when unknown. */
XVM_API int xvm_trace_errno_from_name(const char *name);

/*
 * Format one event as a line of the current version ending in '\n',
 * NUL-terminated, into buf; strings are escaped where they must be.
 * => returns the length (without the NUL), -ENOSPC when cap is too small, or
 *    -EINVAL when the event cannot be written so that it parses back equal
 *    (unknown op/errno, bad prot, NULL path or label, data inconsistent
 *    with len, too many arguments, ...).
 * => parsing the output gives back an equal event.
 */
XVM_API int xvm_trace_format_event(const struct xvm_trace_event *ev, char *buf,
                                   size_t cap);

/*
 * Trace replay.  Feed it lines; each event runs on the machine, programs
 * come from the mount.  A read whose bytes differ from =HEX, an unexpected
 * failure or an expected failure that did not happen is a mismatch:
 * counted and described, the replay goes on.  A malformed line is an
 * error (EINVAL) with its line number.  A mark snapshots xvm_machine_stats
 * under its label.
 *
 * Out of memory is an event, not a mismatch: when the machine kills a
 * process for lack of memory (xvm_oom_next), the replay records an oom
 * event with its pid, and skips that process's later events (and those
 * of children it would have forked) until the pid is spawned again.
 */
typedef struct xvm_replay xvm_replay;

#define XVM_OOM_EVENTS_MAX 4096 /* oom events kept (all are counted) */

struct xvm_oom_event {
    uint32_t pid;   /* the process killed */
    uint64_t event; /* events replayed when it was killed */
    uint64_t line;  /* the trace line that ran out of memory */
};

struct xvm_replay_totals {
    uint64_t lines, events, mismatches;
    unsigned nmarks;
    const struct xvm_mark *marks;
    uint64_t oom_kills; /* processes killed for lack of memory */
    uint64_t skipped;   /* events of killed processes, not replayed */
    size_t nooms;       /* the first XVM_OOM_EVENTS_MAX kills */
    const struct xvm_oom_event *ooms;
};

XVM_API int xvm_replay_create(xvm_machine *m, xvm_mount *mp, xvm_replay **out);
XVM_API void xvm_replay_destroy(xvm_replay *r);
/* => line: NUL-terminated, modified in place.  msg gets a message for an
 *    error and for a mismatch (then 0 is returned and *mismatch set). */
XVM_API int xvm_replay_line(xvm_replay *r, char *line, int *mismatch, char *msg,
                            size_t msglen);
XVM_API void xvm_replay_totals(const xvm_replay *r,
                               struct xvm_replay_totals *t);

/*
 * Several traces on one machine, as a product runs several programs:
 * announce n sources before the first line, then feed each source's
 * lines (its header first) with xvm_replay_line_from, interleaved as the
 * caller likes (xipvm run: slices of events).  With n > 1 every source's
 * pids are renumbered apart (machine pids 1, 2, ... in order of first
 * appearance, fork children included) and its mark labels become
 * "SRC:LABEL" (SRC from 1); line numbers in messages are the source's.
 * xvm_replay_line is source 0.  => 0, EINVAL (after the first line, n
 * 0, or src out of range), ENOMEM, ERANGE (pids run out).
 */
XVM_API int xvm_replay_sources(xvm_replay *r, unsigned n);
XVM_API int xvm_replay_line_from(xvm_replay *r, unsigned src, char *line,
                                 int *mismatch, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif /* XIPVM_TRACE_H */
