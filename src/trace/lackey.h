/* lackey.h - valgrind lackey (--trace-mem=yes) logs to xipvm v1 traces: import and record. */
#ifndef XVM_LACKEY_H
#define XVM_LACKEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

/* Largest access size accepted on a lackey line (real ones are < 1 KiB). */
#define LACKEY_MAX_SIZE 65536u

struct lackey_opts {
    const char *
        exec_host_path; /* the traced ELF on the host; record: NULL => program */
    const char
        *path_in_image; /* spawn PATH in the trace; NULL => exec_host_path */
    unsigned argc;      /* spawn ARGs after PATH (at most 32) */
    const char *const *argv; /* record: NULL => the program's argv[1..] */
    uint32_t pid;            /* the trace's PID (the CLI's default is 1) */
    int quiet; /* record: program's stdin/stdout/stderr on /dev/null */
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
};

/*
 * Convert a lackey log into a v1 trace: header, `spawn PID PATH ARGS`, then
 * I => x, L => r, S => w, M => r then w.
 * => in: lackey output; lines other than `I  HEX,N` / ` [LSM] HEX,N` are
 *    skipped and counted (SYSCALL lines with "created child" count as forks).
 * => addresses inside the ELF's page-rounded PT_LOAD segments are kept
 *    (ET_DYN: rebased from the bias seen on the first I line to ELF_DYN_BASE);
 *    all others are relocated per 1 MiB chunk into anonymous `mmap ...
 *    private,fixed` chunks from TRACE_ANON_BASE (above the ELF if it reaches
 *    there); accesses crossing a segment or chunk edge are split.
 * => streams in constant memory; st (may be NULL) is filled even on error.
 * => 0; EINVAL with "line N: ..." for a malformed lackey line, empty input or
 *    a first instruction that is not the entry; ENOEXEC for a bad ELF or one
 *    with PT_INTERP; ERANGE when anonymous chunks would pass
 *    TRACE_ANON_LIMIT or the ELF ends above 0x80000000; ENOMEM; EIO or the
 *    errno of a failed read or write. err (may be NULL) gets a message.
 */
int lackey_import(FILE *in, FILE *out, const struct lackey_opts *o,
                  struct lackey_stats *st, char *err, size_t errlen);

/*
 * Run `valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes
 * --trace-children=no --child-silent-after-fork=yes --log-fd=N -- argv...`
 * (posix_spawnp, no shell) and stream its log through lackey_import into out.
 * => argv[0]: the program; without '/' it is looked up in $PATH.
 * => the log travels on a private pipe; the program's stdin/stdout/stderr are
 *    inherited unchanged, except that its stdout goes to stderr when out is
 *    stdout (fd 1), and all three are /dev/null when o->quiet.
 * => a forked child runs silenced (only the first process is recorded);
 *    st->forks > 0 tells that it forked.
 * => *child_status (may be NULL): the wait status of valgrind, whose exit
 *    code is the program's; a failing program is not an error here.
 * => 0, or the errnos of lackey_import; ENOENT when valgrind or the program
 *    cannot be found; ECHILD when valgrind produced no trace at all.
 */
int lackey_record(const char *const *argv, FILE *out,
                  const struct lackey_opts *o, struct lackey_stats *st,
                  int *child_status, char *err, size_t errlen);

#endif
