/*
 * libxipvm traces: the xipvm trace format, version 2 (doc/trace-format.md;
 * version 1 traces still read), read, written and replayed on a machine.
 *
 * Interface.  A trace has two forms that carry the same events: text (the
 * header line XVM_TRACE_HEADER, then one event a line) for traces written
 * by hand, and a compact binary form for recorded ones.  Programs that
 * record or generate traces fill a struct xvm_trace_event and write it
 * with an xvm_trace_writer (either form) or xvm_trace_format_event() (a
 * text line); xvm_trace_reader reads either form, plain or compressed;
 * xvm_trace_parse_text() parses one text line; xvm_replay_* runs events
 * on a machine.  The parser and the formatter allocate nothing and keep
 * no state: a formatted event parses back equal.
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

/* A text line holds at most XVM_TRACE_MAX_LINE - 1 bytes before its '\n';
 * an event of either form must fit one. */
#define XVM_TRACE_MAX_LINE 65536
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
 * => line: len bytes and a NUL after them (line[len] == '\0'), modified in
 *    place: tokens are NUL-terminated inside it, and ev's path/argv/label
 *    point into it (valid while line is).  A NUL byte among the len bytes
 *    is an error, as is a line of XVM_TRACE_MAX_LINE bytes or more before
 *    its '\n', or an event whose line xvm_trace_format_event would write
 *    so (escapes, hex): an event of either form must fit one.
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
XVM_API int xvm_trace_parse_text(char *line, size_t len,
                                 struct xvm_trace_event *ev, const char **msg);
/* The same for a NUL-terminated line (its length is strlen(line)). */
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

/* s as a PATH, ARG or LABEL token, escaped as xvm_trace_format_event
 * writes it (doc/trace-format.md, "Escapes"), NUL-terminated into buf: at
 * most 4 * strlen(s) + 3 bytes.  => its length (without the NUL),
 * -ENOSPC when cap is too small, -EINVAL when s is NULL. */
XVM_API int xvm_trace_escape(const char *s, char *buf, size_t cap);

/* => "EFAULT"... for the errnos a trace may name (every errno a trace
 *    event can fail with), else NULL. */
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
 * Reading traces: either form, plain or in a gzip or zstd stream (told
 * apart by their first bytes), from a file ("-": standard input) or from
 * memory.  Text is parsed in place in the reader's buffer; binary frames
 * are checked as they come (doc/trace-format.md says what is an error).
 */
enum xvm_trace_format { XVM_TRACE_TEXT, XVM_TRACE_BINARY };
typedef struct xvm_trace_reader xvm_trace_reader;

/* => 0, or an errno with a message in err (errlen bytes). */
XVM_API int xvm_trace_reader_open(const char *path, xvm_trace_reader **out,
                                  char *err, size_t errlen);
/* buf must outlive the reader. */
XVM_API int xvm_trace_reader_mem(const void *buf, size_t len,
                                 xvm_trace_reader **out);
/*
 * => 1 with the next event in *ev (its strings valid until the next call),
 *    0 at the end of the trace, or an errno: EINVAL for a malformed trace
 *    (a text line, or a binary header, frame or record), E2BIG for a text
 *    line that is too long, EILSEQ for corrupt compressed data, EIO or the
 *    errno of a failed read, ENOMEM.  xvm_trace_reader_error() tells what
 *    and where ("line 12: bad PID", "binary trace: record at byte 9 of the
 *    frame at byte 16: bad varint").  Errors stick.
 */
XVM_API int xvm_trace_read(xvm_trace_reader *rd, struct xvm_trace_event *ev);
/* => the last error's message, or NULL. */
XVM_API const char *xvm_trace_reader_error(const xvm_trace_reader *rd);
/* => the trace's form (known after the first xvm_trace_read). */
XVM_API enum xvm_trace_format xvm_trace_reader_format(
    const xvm_trace_reader *rd);
/* Where the last event came from: "line 12", or "event 7 (record at byte
 * 9 of the frame at byte 16)"; snprintf's contract. */
XVM_API int xvm_trace_reader_where(const xvm_trace_reader *rd, char *buf,
                                   size_t len);
/* => text lines read so far (the header included); 0 for binary. */
XVM_API uint64_t xvm_trace_reader_lines(const xvm_trace_reader *rd);
/* => bytes taken from the file or memory so far (compressed bytes). */
XVM_API uint64_t xvm_trace_reader_bytes(const xvm_trace_reader *rd);
XVM_API void xvm_trace_reader_close(xvm_trace_reader *rd);

/*
 * Writing traces.  Text: plain, or one gzip or zstd stream.  Binary: raw
 * frames, or each frame compressed by zstd as it fills (1 MiB of records).
 * Both refuse (EINVAL) an event xvm_trace_format_event would refuse or
 * whose line would be XVM_TRACE_MAX_LINE bytes or more: a trace written in
 * one form always converts to the other.
 */
enum xvm_trace_compression {
    XVM_TRACE_PLAIN,
    XVM_TRACE_GZIP, /* text only */
    XVM_TRACE_ZSTD
};

struct xvm_trace_writer_config {
    enum xvm_trace_format format;
    enum xvm_trace_compression compression;
    int level; /* compression level (1 to 22 zstd, 1 to 9 gzip); 0: default */
};
typedef struct xvm_trace_writer xvm_trace_writer;
/* => 0 or an errno: the bytes of the trace go on, in order. */
typedef int (*xvm_trace_write_fn)(void *ctx, const void *buf, size_t len);

/* Binary, zstd frames, default level. */
XVM_API void xvm_trace_writer_config_init(struct xvm_trace_writer_config *cfg);
/* By the name's ending: ".xvt", ".xvt.zst" binary (zstd frames); other
 * ".gz", ".zst" text compressed so; anything else plain text. */
XVM_API void xvm_trace_writer_config_path(const char *path,
                                          struct xvm_trace_writer_config *cfg);
/* => 0, EINVAL for a bad configuration (binary and gzip, a level out of
 *    range), ENOMEM, or the errno of the first write (the binary header). */
XVM_API int xvm_trace_writer_create(const struct xvm_trace_writer_config *cfg,
                                    xvm_trace_write_fn fn, void *ctx,
                                    xvm_trace_writer **out);
/* A file ("-": standard output), created or truncated; cfg NULL: by the
 * name (xvm_trace_writer_config_path).  err gets a message.  A bad
 * configuration (EINVAL) leaves the file as it was. */
XVM_API int xvm_trace_writer_open(const char *path,
                                  const struct xvm_trace_writer_config *cfg,
                                  xvm_trace_writer **out, char *err,
                                  size_t errlen);
/* => 0, EINVAL for an event no trace can hold (nothing written), or the
 *    errno of a failed write (it sticks). */
XVM_API int xvm_trace_write(xvm_trace_writer *w,
                            const struct xvm_trace_event *ev);
/* => events written so far. */
XVM_API uint64_t xvm_trace_writer_events(const xvm_trace_writer *w);
/* Flushes (the binary end frame, the compressed stream's end), closes the
 * file and frees.  => 0, or the first error any write met. */
XVM_API int xvm_trace_writer_close(xvm_trace_writer *w);

/*
 * Trace replay.  Feed it events (xvm_replay_event, e.g. from a reader) or
 * text lines (xvm_replay_line); each event runs on the machine, programs
 * come from the mount.  A read whose bytes differ from =HEX, an unexpected
 * failure or an expected failure that did not happen is a mismatch:
 * counted and described, the replay goes on.  A malformed line is an
 * error (EINVAL) with its line number; more than XVM_MARKS_MAX marks is an
 * error (E2BIG).  A mark keeps the report under its label.
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
    uint64_t line;  /* the text trace's line that ran out of memory (0
                       in a binary trace: its event tells) */
    /* Several traces at once (xvm_replay_sources), numbered from 1, as
     * marks are; 1 with one trace: */
    unsigned trace;     /* the trace whose event (and line) ran out */
    unsigned pid_trace; /* the trace the killed process is of, */
    uint32_t trace_pid; /* and its pid there (pid is the machine's) */
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
/*
 * Runs one event, as given (machine pids, whatever xvm_replay_sources
 * said).  => 0, with *mismatch set and msg describing it (no
 * position: the caller knows it) when the event's outcome differs from
 * the trace's, or msg set ("pid 7 killed: out of memory") and no mismatch
 * when the machine killed its process; or E2BIG past XVM_MARKS_MAX marks,
 * ENOMEM for a mark, with msg.
 */
XVM_API int xvm_replay_event(xvm_replay *r, const struct xvm_trace_event *ev,
                             int *mismatch, char *msg, size_t msglen);
/* What xvm_replay_reader tells as it goes (any may be NULL). */
struct xvm_replay_hooks {
    /* A mismatch: where ("line 7", "event 9 (record at ...)"), and what. */
    void (*mismatch)(void *arg, const char *where, const char *what);
    /* Every 65,536 events: how many so far. */
    void (*progress)(void *arg, uint64_t events);
    /* A process the machine killed for lack of memory (every one). */
    void (*oom)(void *arg, const struct xvm_oom_event *oom);
    void *arg;
};
/*
 * Replays every event of a trace (either form).  Binary access records run
 * straight from the reader's buffer.  => 0 at the trace's end (mismatches
 * in xvm_replay_totals), or an error: the reader's (EINVAL, E2BIG, EILSEQ,
 * EIO...) or xvm_replay_event's, with msg saying what and where.
 */
XVM_API int xvm_replay_reader(xvm_replay *r, xvm_trace_reader *rd,
                              const struct xvm_replay_hooks *hooks, char *msg,
                              size_t msglen);
/* => line: NUL-terminated, modified in place.  msg gets a message for an
 *    error and for a mismatch (then 0 is returned and *mismatch set), both
 *    prefixed with "line N: ". */
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
 * appearance, fork children included; pid 0, which no process may
 * have, stays 0) and its mark labels become
 * "SRC:LABEL" (SRC from 1); line numbers in messages are the source's.
 * xvm_replay_line is source 0.  => 0, EINVAL (after the first line, n
 * 0, or src out of range), ENOMEM, ERANGE (pids run out).
 */
XVM_API int xvm_replay_sources(xvm_replay *r, unsigned n);
XVM_API int xvm_replay_line_from(xvm_replay *r, unsigned src, char *line,
                                 int *mismatch, char *msg, size_t msglen);
/*
 * The same from a reader (either form): source src's events, at most
 * max_events of them this call (0: no limit).  => 0 with *done set at the
 * trace's end or clear after max_events events; or an error as
 * xvm_replay_reader's.  xvm_replay_reader is source 0 without a limit.
 */
XVM_API int xvm_replay_reader_from(xvm_replay *r, unsigned src,
                                   xvm_trace_reader *rd, uint64_t max_events,
                                   const struct xvm_replay_hooks *hooks,
                                   int *done, char *msg, size_t msglen);

#ifdef __cplusplus
}
#endif
#endif /* XIPVM_TRACE_H */
