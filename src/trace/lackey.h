/*
 * lackey.h - real programs' memory traces from valgrind's lackey tool:
 * whole process trees recorded in one run, and their per-process logs
 * imported into one trace.
 *
 * The pipeline has four stages, each its own file:
 *   lkrecord.c  run valgrind over a command line and keep one log per
 *               process image (lackey_collect);
 *   lklog.c     read one log: accesses and system calls, line by line;
 *   lkproc.c    one process: its address space and files, host
 *               addresses to trace addresses, log items to trace events;
 *   lktree.c    the processes of a run interleaved into one trace
 *               (lackey_import_dir), written through
 *               xvm_trace_format_event (writer.c).
 * doc/trace-format.md ("Recording real programs") documents the rules.
 */
#ifndef XVM_LACKEY_H
#define XVM_LACKEY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"
#include "xipvm_trace.h"

/* Largest access size accepted on a lackey line (real ones are < 1 KiB). */
#define LACKEY_MAX_SIZE 65536u

struct lackey_opts {
    /* lackey_import: the traced ELF on the host (one log, one process) */
    const char *exec_host_path;
    /* the root's spawn PATH (a script's: its interpreter's argument);
     * NULL: the program's host path */
    const char *path_in_image;
    /* the root's spawn ARGs after PATH; NULL: from the log (its Command
     * line) or, for lackey_import, none */
    unsigned argc;
    const char *const *argv;
    /* the root's trace pid (the CLI's default is 1); the processes it
     * forks get the next ones, in fork order */
    uint32_t pid;
    /* record: the program's stdin, stdout and stderr on /dev/null */
    int quiet;
    /* import of a tree: where relative paths of the root start (the
     * recording's working directory); NULL: the current one */
    const char *cwd;
    /* copy every file the trace names (programs, interpreters, files
     * mapped or read) into this directory, at the same paths; NULL: none */
    const char *root_dir;
    /* record: polled while valgrind runs; once non-zero the whole process
     * tree is killed and record returns EINTR (set it from a signal
     * handler) */
    volatile sig_atomic_t *stop;
    /* record: keep the per-process logs in this new directory; NULL: a
     * temporary one, removed */
    const char *keep_logs;
    /* record: the trace goes to standard output, so the program's output
     * goes to standard error (lackey_record sets it from its FILE) */
    int trace_on_stdout;
};

struct lackey_stats {
    uint64_t lines,
        skipped; /* input lines; lines that were not lackey accesses */
    uint64_t instr, loads, stores, modifies; /* lackey I, L, S, M lines */
    uint64_t ev_x, ev_r, ev_w, ev_mmap;      /* trace lines written, by kind */
    uint64_t events;    /* all event lines written, spawn included */
    uint64_t elf_bytes; /* bytes of r/w/x events inside the ELF segments */
    uint64_t
        inferred_bytes; /* bytes of r/w/x events inferred as anonymous memory */
    uint64_t
        chunks; /* anonymous TRACE_ANON_CHUNK (1 MiB)s created (== ev_mmap) */
    uint64_t forks; /* "created child" SYSCALL lines: the program forked */
    /* whole trees (and logs with system calls) */
    uint64_t mapped_bytes;  /* bytes of r/w/x events in mmap'd memory, brk */
    uint64_t dropped_bytes; /* bytes in valgrind's own preload: left out */
    uint64_t syscalls;      /* system calls that reached the trace */
    uint64_t procs, execs;  /* processes; images after exec */
    uint64_t reads, reads_skipped; /* read()s of files written as pread; of
                                      devices, /proc, gone files: left out */
    uint64_t files;                /* distinct files the trace names */
    uint64_t logs;                 /* per-process logs read */
};

/*
 * Convert one lackey log into a trace: header, `spawn PID PATH ARGS`, then
 * I => x, L => r, S => w, M => r then w.
 * => in: lackey output (with --trace-syscalls=yes or without); lines
 *    other than accesses and system calls are skipped and counted.
 * => the process alone: its forks are counted (st->forks), not followed;
 *    its mmap, munmap, mprotect, brk and read() of files are written too.
 * => the program is o->exec_host_path (static or dynamically linked);
 *    its addresses are kept (ET_DYN: rebased to ELF_DYN_BASE, its
 *    interpreter to where exec puts it); everything else is relocated
 *    per 1 MiB chunk from TRACE_ANON_BASE; memory no system call mapped
 *    is inferred as anonymous `mmap ... private,fixed` chunks.
 * => 0; EINVAL with "line N: ..." for a malformed line, empty input or a
 *    first instruction that is not the entry; ENOEXEC for a bad ELF;
 *    ERANGE when the trace would not fit a 32-bit profile; ENOMEM; EIO
 *    or the errno of a failed read or write.  err gets a message.
 */
int lackey_import(FILE *in, FILE *out, const struct lackey_opts *o,
                  struct lackey_stats *st, char *err, size_t errlen);
/* The same into a trace writer (text or binary, plain or compressed, as
 * it was made); the caller closes it.  lackey_import is this with a plain
 * text writer on out; so are lackey_import_dir and lackey_record. */
int lackey_import_to(FILE *in, xvm_trace_writer *out,
                     const struct lackey_opts *o, struct lackey_stats *st,
                     char *err, size_t errlen);

/*
 * Import the per-process logs of one run (lackey_collect's directory:
 * its files whose names end in ".log", in name order, each one process
 * image) into one trace: the first log's process is spawned; forks,
 * execs, waits and exits of the tree are followed and interleaved by
 * the rule of doc/trace-format.md.
 * => 0, or the errors of lackey_import, with the log's name; ENOENT when
 *    a process's log is missing; EINVAL for a log ending mid-line, a
 *    system call on an unknown fd, an mmap of a file that cannot go into
 *    an image.
 */
int lackey_import_dir(const char *dir, FILE *out, const struct lackey_opts *o,
                      struct lackey_stats *st, char *err, size_t errlen);
int lackey_import_dir_to(const char *dir, xvm_trace_writer *out,
                         const struct lackey_opts *o, struct lackey_stats *st,
                         char *err, size_t errlen);

/*
 * Run `valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes
 * --trace-children=yes` over argv (argv[0] looked up in $PATH) and keep
 * one log per process image in dir (created; it must not exist), named
 * so that name order is creation order.
 * => *child_status: valgrind's wait status (the program's exit code).
 * => 0; ENOENT (no valgrind, no program), EEXIST (dir exists), EINTR
 *    (*o->stop was set: every process of the run is killed), ECHILD
 *    (valgrind produced no log); on error dir is removed.
 */
int lackey_collect(const char *const *argv, const char *dir,
                   const struct lackey_opts *o, int *child_status, char *err,
                   size_t errlen);

/*
 * lackey_collect then lackey_import_dir into out; the logs are removed
 * (kept in o->keep_logs when set).  A failing program is not an error.
 * => 0 or the errors of both.
 */
int lackey_record(const char *const *argv, FILE *out,
                  const struct lackey_opts *o, struct lackey_stats *st,
                  int *child_status, char *err, size_t errlen);
int lackey_record_to(const char *const *argv, xvm_trace_writer *out,
                     const struct lackey_opts *o, struct lackey_stats *st,
                     int *child_status, char *err, size_t errlen);

/* The files a trace names, mirrored into a root directory (root.c):
 * path's directories, symbolic links (and their targets) and the file. */
int root_add(const char *root, const char *path, struct trace_err *e);

#endif
