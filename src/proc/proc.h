/*
 * Processes: pid, address space, the program they run.
 */
#ifndef XVM_PROC_H
#define XVM_PROC_H

#include <stdint.h>

#include "check.h"
#include "core.h"
#include "hmap.h"
#include "vfs.h"
#include "vm.h"
#include "xipvm.h"

#define PROC_OOM_RING 256 /* kills remembered until proc_oom_next */

/* The layer's state: the process table of a machine, and the kills of
 * the OOM killer not reported yet. */
struct procs {
    struct core *core;
    struct vm *vm;
    struct hmap table; /* pid -> struct proc * */
    uint32_t oom_ring[PROC_OOM_RING];
    unsigned oom_head, oom_n;
    /* Counters. */
    uint64_t oom_kills; /* processes killed for lack of memory */
    uint64_t oom_lost;  /* kills dropped from the ring unreported */
};

struct proc {
    uint32_t pid;
    struct xvm_vmspace *vs;
    struct xvm_mount *mp;  /* where exec finds programs */
    struct xvm_file *text; /* the running program (p_textvp) */
    struct xvm_proc_info info;
    void *uarea; /* its u-area and kernel stack (kernel memory) */
};

void procs_init(struct procs *ps, struct core *core, struct vm *vm);
/* Frees every process (machine teardown), in O(processes). */
void procs_fini(struct procs *ps);

/* The calls behind xvm_spawn, xvm_fork, ...; same contracts. */
int proc_spawn(struct procs *ps, struct xvm_mount *mp, uint32_t pid,
               const char *path, unsigned argc, const char *const *argv);
int proc_fork(struct procs *ps, uint32_t ppid, uint32_t cpid);
int proc_exec(struct procs *ps, uint32_t pid, const char *path, unsigned argc,
              const char *const *argv);
int proc_exit(struct procs *ps, uint32_t pid);
int proc_brk(struct procs *ps, uint32_t pid, uint64_t addr);
/* => the process, or NULL. */
struct proc *proc_find(const struct procs *ps, uint32_t pid);
/* Kills the processes whose faults ran out of memory (vm_oom); every
 * call above runs it first. */
void proc_oom_reap(struct procs *ps);
/* => 0 and the pid of the next process killed for lack of memory (in
 *    the order they were killed), or ENOENT. */
int proc_oom_next(struct procs *ps, uint32_t *pid);

/* exec.c: a new address space running path; nothing changes on error. */
int exec_image(struct vm *vm, struct xvm_mount *mp, const char *path,
               unsigned argc, const char *const *argv, struct xvm_vmspace **vs,
               struct xvm_file **text, struct xvm_proc_info *info);

/* Every process has a live address space and text, under its own pid. */
void procs_check(const struct procs *ps, struct check *ck);

#endif
