/* trace.h - parser and formatter for xipvm trace format v1 (doc/trace-format.md). */
#ifndef XIPVM_TRACE_H
#define XIPVM_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum trace_op {
    T_SPAWN, T_FORK, T_EXEC, T_EXIT, T_MMAP, T_MUNMAP, T_MPROTECT, T_BRK,
    T_READ, T_WRITE, T_EXEC_FETCH, T_MARK
};

#define TRACE_MAX_ARGS 32
#define TRACE_MAX_DATA 4096            /* bytes of =HEX */
#define TRACE_MAX_SIZE 0x100000000ULL  /* largest r/w/x SIZE without =HEX: 2^32 */

/* prot bits */
#define TRACE_PROT_R 1
#define TRACE_PROT_W 2
#define TRACE_PROT_X 4

struct trace_event {
    enum trace_op op;
    uint32_t pid, pid2;                 /* pid2: child of fork */
    uint64_t addr, len;                 /* len also SIZE of r/w/x, ADDR of brk in addr */
    int prot;                           /* bit0 r, bit1 w, bit2 x */
    int shared, fixed;                  /* mmap flags */
    const char *path;                   /* mmap file or spawn/exec path; NULL for anonymous */
    uint64_t off;                       /* mmap file offset; 0 when anonymous */
    unsigned argc;
    const char *argv[TRACE_MAX_ARGS];   /* spawn/exec args after PATH */
    const char *label;                  /* mark */
    int has_data;
    size_t ndata;
    uint8_t data[TRACE_MAX_DATA];
    int expect_err;                     /* 0, or the errno named by !ERR */
};

/*
 * Parse one line of a trace (not the header line).
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
int trace_parse_line(char *line, struct trace_event *ev, const char **msg);

/* Clears the scalar fields only: clearing data[] (4 KiB) per event would
 * cost more than the event; argv[] and data[] are valid up to argc/ndata. */
void trace_event_reset(struct trace_event *ev);

/* => 0 when line is exactly "xipvm-trace 1" (trailing whitespace allowed), else EINVAL. */
int trace_check_header(const char *line);

/* => "EFAULT"... for the errnos a trace may name, else NULL. */
const char *trace_errno_name(int err);

/* => the errno for a name such as "EFAULT" (no '!'), or 0 when unknown. */
int trace_errno_from_name(const char *name);

/*
 * Format one event as a trace line ending in '\n', NUL-terminated, into buf.
 * => returns the length (without the NUL), -ENOSPC when cap is too small, or
 *    -EINVAL when the event cannot be written so that it parses back equal
 *    (unknown op/errno, bad prot, NULL/empty path or label, strings holding
 *    whitespace or starting with '!', data inconsistent with len, ...).
 * => parsing the output gives back an equal event.
 */
int trace_format_event(const struct trace_event *ev, char *buf, size_t cap);

#endif
