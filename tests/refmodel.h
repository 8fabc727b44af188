/*
 * The reference model (the oracle): a deliberately naive model of what
 * processes see.  Each process is a sorted list of mappings over byte
 * stores; file bytes come straight from the host copies of the image's
 * files.  It knows nothing of amaps, pagers, page tables or TLBs.
 *
 * Interface: every call returns what the library must return (0 or an
 * errno value) and applies its effect to the model.
 *
 * ENOMEM rule (the model cannot know how much RAM the library needs):
 *  - The model predicts ENOMEM only where POSIX makes it deterministic: a
 *    hole in the range of mprotect/minherit/madvise/mlock/munlock, and a
 *    break that would run into a mapping.  Those must match everywhere.
 *  - Large-RAM runs without fault injection must never see any other
 *    ENOMEM.
 *  - Tiny-RAM runs accept ENOMEM from the library for the operations that
 *    take frames (read, write, fetch, mlock, fork, spawn, exec); runs with
 *    injected allocation failures accept it for every operation but exit.
 *  - An accepted ENOMEM must be all-or-nothing as the model sees it: the
 *    model keeps its old state and the driver checks the library's map
 *    layout and process table against it.  The one exception is a write,
 *    which (like the model) transfers whole pages in order up to the page
 *    that failed: the driver finds that prefix and applies it.
 */
#ifndef XVM_REFMODEL_H
#define XVM_REFMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RM_PG         4096u
#define RM_STACK_SIZE (UINT64_C(8) << 20)

/* A file of the image, as the host sees it. */
struct rm_file {
    const char *path;
    const uint8_t *data;
    uint64_t size;
    uint64_t dev_pages; /* under XIP: leading pages mapped in place */
};

/* A program: PT_LOADs of one of the files. */
struct rm_seg {
    uint64_t vaddr, offset, filesz, memsz;
    int prot;
};

struct rm_prog {
    int file; /* index in the model's files */
    bool is64, big_endian;
    uint64_t entry;
    unsigned nseg;
    struct rm_seg seg[3];
};

/* A refcounted page store: a private overlay, or shared anonymous memory. */
struct rm_store {
    unsigned refs;
    size_t n, cap;
    uint64_t *idx;   /* page index of each page */
    uint8_t **bytes; /* RM_PG bytes each */
};

struct rm_map {
    uint64_t start, end; /* page aligned */
    uint8_t prot, maxprot, inherit, advice;
    bool shared;            /* MAP_SHARED */
    int file;               /* -1: anonymous */
    uint64_t off;           /* file offset of start */
    struct rm_store *store; /* NULL for shared file mappings */
    uint64_t sbase;         /* store page index of start */
};

struct rm_proc {
    uint32_t pid;
    struct rm_map *maps; /* sorted by start, disjoint */
    size_t n, cap;
    uint64_t brk_base, brk, stack_top, sp, entry;
};

struct rm_model {
    uint64_t va_max;
    bool xip;
    const struct rm_file *files;
    unsigned nfiles;
    struct rm_proc **procs;
    size_t nprocs, cap;
};

void rm_init(struct rm_model *rm, uint64_t va_max, bool xip,
             const struct rm_file *files, unsigned nfiles);
void rm_fini(struct rm_model *rm);

/* The process table and map lists (not page contents: writes are never
 * rolled back), to undo an operation the library refused with ENOMEM. */
struct rm_snap {
    struct rm_proc **procs;
    size_t n;
};
void rm_snapshot(const struct rm_model *rm, struct rm_snap *s);
/* Puts the snapshot back; consumes it. */
void rm_rollback(struct rm_model *rm, struct rm_snap *s);
void rm_snap_drop(struct rm_snap *s);

struct rm_proc *rm_proc_find(struct rm_model *rm, uint32_t pid);
/* => the mapping holding va, or NULL. */
const struct rm_map *rm_lookup(const struct rm_proc *p, uint64_t va);

/* Processes: the same errors as xvm_spawn/fork/exec/exit/brk. */
int rm_spawn(struct rm_model *rm, uint32_t pid, const struct rm_prog *prog,
             unsigned argc, const char *const *argv);
int rm_fork(struct rm_model *rm, uint32_t ppid, uint32_t cpid);
int rm_exec(struct rm_model *rm, uint32_t pid, const struct rm_prog *prog,
            unsigned argc, const char *const *argv);
int rm_exit(struct rm_model *rm, uint32_t pid);
int rm_brk(struct rm_model *rm, struct rm_proc *p, uint64_t addr);

/* The mmap family.  file -1 is anonymous.  With fixed unset, *addr is
 * where the library placed the mapping: it must be free (else EINVAL). */
int rm_mmap(struct rm_model *rm, struct rm_proc *p, uint64_t *addr,
            uint64_t len, int prot, int flags, int file, uint64_t off);
int rm_munmap(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
              uint64_t len);
int rm_mprotect(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
                uint64_t len, int prot);
int rm_minherit(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
                uint64_t len, int inh);
int rm_madvise(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
               uint64_t len, int adv);
int rm_mlock(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
             uint64_t len);
int rm_munlock(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
               uint64_t len);

/* Accesses: access is one XVM_PROT_* bit.  A write applies whole pages in
 * order up to the first that fails, as the library does. */
int rm_access(struct rm_model *rm, struct rm_proc *p, uint64_t va, uint8_t *buf,
              size_t n, unsigned access);
int rm_write(struct rm_model *rm, struct rm_proc *p, uint64_t va,
             const uint8_t *src, size_t n);
/* A page loan (xvm_loan_start): the n bytes at va an I/O will send, as
 * they are now, whatever is written later.  EINVAL for n 0, else the
 * errors of a read. */
int rm_loan(struct rm_model *rm, struct rm_proc *p, uint64_t va, uint8_t *buf,
            size_t n);
/* The page at pva (page aligned) as the process would read it, ignoring
 * protection; => false when nothing is mapped there. */
bool rm_page(const struct rm_model *rm, const struct rm_proc *p, uint64_t pva,
             uint8_t *out);
/* Gives a private page its own copy (bytes unchanged), as a write fault
 * does: the driver's reconciliation after a partial mlock. */
void rm_materialize(struct rm_model *rm, struct rm_proc *p, uint64_t va);

#endif
