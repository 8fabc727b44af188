/*
 * Processes: pid, address space, the program they run.
 */
#ifndef XVM_PROC_H
#define XVM_PROC_H

#include <stdint.h>

#include "xipvm.h"

struct proc {
    uint32_t pid;
    struct xvm_vmspace *vs;
    struct xvm_mount *mp;       /* where exec finds programs */
    struct xvm_file *text;      /* the running program (p_textvp) */
    struct xvm_proc_info info;
};

/* exec.c: a new address space running path; nothing changes on error. */
int exec_image(struct xvm_machine *m, struct xvm_mount *mp, const char *path,
               unsigned argc, const char *const *argv,
               struct xvm_vmspace **vs, struct xvm_file **text,
               struct xvm_proc_info *info);

/* Frees every process (machine teardown). */
void proc_destroy_all(struct xvm_machine *m);

#endif
