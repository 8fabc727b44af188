/* lk.h - the lackey importer's stages (private to src/trace/lk*.c). */
#ifndef XVM_LK_H
#define XVM_LK_H

#include <stdint.h>
#include <stdio.h>

#include "elf.h"
#include "lackey.h"
#include "util.h"
#include "xipvm_trace.h"

/* ---------- lkwriter.c: events into a trace writer, counted ---------- */

struct twriter {
    xvm_trace_writer *out; /* text or binary, as the caller made it */
    struct trace_err *e;
    struct lackey_stats *st;
};

void tw_init(struct twriter *w, xvm_trace_writer *out, struct lackey_stats *st,
             struct trace_err *e);
/* => 0, or an error (in e): E2BIG for a line readers would refuse. */
int tw_event(struct twriter *w, const struct xvm_trace_event *ev);

/* ---------- lklog.c: one log, as items ---------- */

#define LK_PATH_MAX 4096
#define LK_LINE_MAX (64u << 10)
#define LK_PEND     16 /* threads with a system call in flight */

enum lk_sc {
    SC_OTHER,
    SC_MMAP,
    SC_MUNMAP,
    SC_MPROTECT,
    SC_MREMAP,
    SC_MADVISE,
    SC_BRK,
    SC_OPEN,
    SC_OPENAT,
    SC_CLOSE,
    SC_DUP,
    SC_DUP2,
    SC_DUP3,
    SC_FCNTL,
    SC_READ,
    SC_PREAD,
    SC_LSEEK,
    SC_CHDIR,
    SC_FCHDIR,
    SC_FORK,
    SC_EXECVE,
    SC_EXIT,
    SC_WAIT4,
    SC_MEMFD,
};

struct lk_sys {
    enum lk_sc sc;
    unsigned tid, nr, nargs;
    uint64_t arg[6];
    uint32_t child; /* "created child N" (SC_FORK) */
    int done, ok;   /* the result is known; it is a success */
    uint64_t res;
    uint64_t line;
    int used;       /* slot in use (pending tables) */
    int completion; /* delivered at its [async] completion line */
    int partial;    /* execve's path cut short with the log's end */
    int has_path;
    char path[LK_PATH_MAX]; /* the string shown after a pointer argument;
                               last: clearing the rest stops here */
};

enum lk_type { LKI_ACCESS, LKI_SYSCALL, LKI_EOF };

struct lk_item {
    enum lk_type type;
    char acc; /* 'I', 'L', 'S', 'M' */
    uint64_t addr, size;
    const struct lk_sys *sys; /* LKI_SYSCALL: valid until the next call */
    uint64_t line;
};

struct lklog {
    const char *name; /* for messages; NULL: no name */
    FILE *f;
    int own;                     /* fclose at the end */
    long start;                  /* where the log starts in f */
    volatile sig_atomic_t *stop; /* set: reading stops with EINTR */
    struct trace_err *e;
    struct lackey_stats *st;
    uint64_t lineno;
    char *buf; /* LK_LINE_MAX + 1 */
    size_t have, pos;
    int eof, skipping, pushback;
    size_t glued; /* > 0: the current line goes on with another there */
    int cut;      /* the last line had no end (an execve's) */
    char *line;   /* the current line (NUL-terminated), len bytes */
    size_t len;
    /* the preamble */
    uint32_t pid, ppid;
    char *command;  /* valgrind's "Command:" text, still escaped; or NULL */
    int fork_child; /* the log starts with fork's continuation line */
    /* system calls */
    struct lk_sys pend[LK_PEND]; /* [async] ones, by thread */
    struct lk_sys cont;          /* waiting for a " --> " line */
    struct lk_sys out;           /* the one delivered */
};

/* Opens path (or takes f when path is NULL) and reads its preamble. */
int lklog_open(struct lklog *l, const char *path, FILE *f,
               struct lackey_stats *st, struct trace_err *e);
/* Back to the first line (the layout scan reads a log twice). */
int lklog_rewind(struct lklog *l);
/* => 0 and the next item (LKI_EOF at the end), or an errno via l->e. */
int lklog_next(struct lklog *l, struct lk_item *it);
void lklog_close(struct lklog *l);
/* => EINVAL with "NAME: line N: what: `text'" (text shortened). */
int lklog_bad(struct lklog *l, uint64_t line, const char *what);
/* Splits valgrind's escaped Command text into words (in place, into s).
 * => the number of words (<= max), or -1 when there are more. */
int lk_command_words(char *s, char **words, int max);

/* ---------- lkproc.c: one process ---------- */

/* Interned strings: paths (id 0 is none). */
struct strtab {
    char **s;
    uint32_t n, cap;
    uint32_t *hash; /* open addressing over ids */
    uint32_t hcap;
};

/* A host range mapped in the trace, and what backs it. */
struct ival {
    uint64_t lo, hi;
    uint32_t path; /* 0: anonymous */
    uint64_t off;  /* file offset at lo */
    uint8_t prot;
    uint8_t shared;
    uint8_t inferred; /* no system call mapped it: a chunk or page of ours */
};

struct ivals {
    struct ival *v;
    size_t n, cap;
};

/* An ELF image of the process, host and trace side. */
struct image {
    uint32_t path;
    struct elf_image elf;
    int known;     /* placed: host ranges and delta valid */
    unsigned nseg; /* page-rounded, merged PT_LOADs, host addresses */
    uint64_t lo[ELF_MAX_LOAD], hi[ELF_MAX_LOAD];
    uint64_t delta; /* trace address = host address + delta */
};

struct ofile {
    unsigned refs;
    uint32_t path;
    uint64_t pos;
    int8_t regular; /* -1 unknown, 0 no, 1 a regular file (host stat) */
    uint8_t vg;     /* valgrind's own preload */
    uint8_t shm;    /* memfd_create's or under /dev/shm: tmpfs memory,
                       mapped as anonymous memory, in no image */
};

#define LK_MAXFD 1024
#define LK_CTAB  2048 /* power of two, > 2 * chunks below the limit */

struct fdtab {
    struct ofile *fd[LK_MAXFD];
    uint8_t cloexec[LK_MAXFD];
};

struct chunkmap {
    uint64_t key[LK_CTAB]; /* host chunk number + 1; 0: empty */
    uint64_t base[LK_CTAB];
    unsigned n;
};

enum lkstate { P_NEW, P_RUN, P_SUSPENDED, P_DONE };

struct lkproc {
    uint32_t hpid, tpid;
    unsigned seq; /* fork order */
    struct lkproc *parent;
    enum lkstate state;
    int yielded; /* a fork child has run up to its first exec */
    struct lklog log;
    int log_open;
    unsigned seg; /* its current log */
    /* the image */
    struct image prog, interp;
    uint64_t hbrk0, hbrk, tbrk0;
    uint64_t tbrk_max; /* the trace heap ends by there (what is above it) */
    int brk_known;
    struct chunkmap *cm;
    uint64_t next_anon;
    struct ivals maps; /* host ranges the trace maps (besides images, brk) */
    struct ivals drop; /* valgrind's preload */
    struct fdtab *fds;
    uint32_t cwd;
    /* the last range an access fell in: trace = host + hit_delta */
    uint64_t hit_lo, hit_hi, hit_delta;
    int hit_cls;
};

/* What the whole import shares. */
struct lkimp {
    struct twriter *w;
    struct lackey_stats *st;
    struct trace_err *e;
    struct strtab strs;
    uint8_t *used; /* per string: named by the trace (root copies) */
    size_t used_cap;
    int single; /* one log, one process: forks not followed */
};

uint32_t str_intern(struct lkimp *im, const char *s);
const char *str_of(const struct lkimp *im, uint32_t id);
void str_fini(struct strtab *t);

/* What lkproc_step tells the scheduler. */
enum lk_sync { LS_NONE, LS_FORK, LS_EXEC, LS_WAIT, LS_EXIT };

struct lk_event {
    enum lk_sync sync;
    uint32_t hpid; /* LS_FORK: the child; LS_WAIT: the one waited for,
                      0 for any child */
    uint32_t path; /* LS_EXEC: the path as given to execve */
    int partial;   /* LS_EXEC: only the path's start is known */
    uint64_t line;
};

int lkproc_new(struct lkimp *im, struct lkproc **out);
/* The child of a fork: a copy of the parent's space and files. */
int lkproc_fork(struct lkimp *im, const struct lkproc *p, struct lkproc **out);
void lkproc_free(struct lkproc *p);
/*
 * A new image from the log now open in p->log: program at host path prog
 * (its interpreter from PT_INTERP); where valgrind placed them is read
 * off the log (a first pass), then the log is rewound.  exec: the image
 * replaces one (files with close-on-exec go).
 */
int lkproc_image(struct lkimp *im, struct lkproc *p, const char *prog,
                 int exec);
/* Converts items of p's log into events until a sync point or the end. */
int lkproc_step(struct lkimp *im, struct lkproc *p, struct lk_event *ev);
/* => the absolute, lexically normal form of path from p's directory. */
int lkproc_path(struct lkimp *im, const struct lkproc *p, const char *path,
                char *out, size_t cap);

#endif
