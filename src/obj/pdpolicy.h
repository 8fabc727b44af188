/*
 * Page replacement policies (UVM's uvm_pdpolicy.h): the page daemon
 * tells a policy which pages are pageable and when they are used, and
 * asks it for victims.  A policy is one ops table and one file
 * (pdpolicy_clock.c is NetBSD's clock); another goes beside it.
 *
 * The interface speaks of pages by frame index and asks the machine for
 * what it needs through the environment, so a policy needs nothing of the
 * simulator's internals: one supplied from outside the library can keep
 * its own per-page state in arrays of env->npages entries.  The built-in
 * policies keep theirs in the vm_page (its queue links and flags).
 */
#ifndef XVM_PDPOLICY_H
#define XVM_PDPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xipvm.h"

/*
 * The interface is the public one (struct xvm_pdpolicy_ops in xipvm.h),
 * so the built-in policies and users' are one kind; these are its
 * internal names.
 */
#define PDP_NONE       XVM_PDP_NONE
#define PDP_READAHEAD  XVM_PDP_READAHEAD
#define pdp_class      xvm_pdp_class
#define PDP_ANON       XVM_PDP_ANON
#define PDP_FILE       XVM_PDP_FILE
#define PDP_EXEC       XVM_PDP_EXEC
#define pdpolicy_env   xvm_pdpolicy_env
#define pdpolicy_stats xvm_pdpolicy_stats
#define pdpolicy_ops   xvm_pdpolicy_ops

/* Built-in policies. */
extern const struct pdpolicy_ops pdpolicy_clock;

/* => the built-in policy called name, or NULL. */
const struct pdpolicy_ops *pdpolicy_find(const char *name);

#endif
