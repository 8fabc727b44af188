/*
 * The page daemon (UVM's uvm_pdaemon.c): free targets that wake it, the
 * scan that frees pages the policy chooses, and the one bounded
 * reclaim-and-retry loop every operation that needs memory goes through.
 *
 * The daemon runs synchronously, only where no page pointer is held: at
 * the start of an operation when free pages are below freemin (or below
 * freetarg with the queues out of balance), and when the operation ran
 * out of RAM.  A scan frees pages until freetarg are free: clean
 * page-cache pages are dropped (a later read is a refault), anons and
 * aobj pages are paged out when there is swap, and the policy refills
 * its inactive queue; what that leaves short the shrinkers free
 * (metadata buffers, as uvm_pageout's buf_drain).
 */
#ifndef XVM_PAGEDAEMON_H
#define XVM_PAGEDAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "pageq.h"

/*
 * => freemin, freetarg: pages, or 0 for uvmpd_tune()'s (0.5 % of managed
 *    RAM, between 128 KiB and 1 MiB, at most RAM / 16 here; freetarg 4/3
 *    of freemin).  EINVAL unless freemin < freetarg < RAM; ENOMEM.
 */
/* => policy: a built-in's ops or a user's (its required members checked:
 *    EINVAL), whose NULL optional members do nothing. */
int pagedaemon_init(struct pagedaemon *pd, struct physmem *ph, struct mmu *mmu,
                    uint64_t freemin, uint64_t freetarg,
                    const struct pdpolicy_ops *policy);
void pagedaemon_fini(struct pagedaemon *pd);

/*
 * The targets follow the managed pages, as uvm_pageout re-tunes when
 * uvmexp.npages changes (a memory disk takes its frames out of them).
 * pagedaemon_tune: from physmem's managed pages now;
 * pagedaemon_freetarg_at => freetarg were there npages of them.
 * Configured targets stay as they were given.
 */
void pagedaemon_tune(struct pagedaemon *pd);
uint64_t pagedaemon_freetarg_at(const struct pagedaemon *pd, uint64_t npages);

/* A cache of frames (struct shrinker) joins or leaves the daemon: while
 * it is there, a scan that leaves free pages short of its target has the
 * shrinkers free the rest, and its frames count as reclaimable. */
void pagedaemon_shrinker_add(struct pagedaemon *pd, struct shrinker *s);
void pagedaemon_shrinker_remove(struct pagedaemon *pd, struct shrinker *s);

/* One scan.  => pages freed (shrinkers' frames too). */
uint64_t pagedaemon_scan(struct pagedaemon *pd);

/* Runs a scan when free pages are below the targets (uvm_kick_pdaemon). */
void pagedaemon_kick(struct pagedaemon *pd);

/* uvm_reclaimable(): whether waiting for the daemon can help; when it
 * cannot (no swap, or swap full and no page in RAM holding a slot, too
 * few file pages and no shrinker's frame), a fault out of memory kills
 * its process. */
bool pagedaemon_reclaimable(const struct pagedaemon *pd);

/*
 * Runs op(arg) after a kick; while it fails with ENOMEM, RAM is short and
 * memory is reclaimable, scans and runs it again, a bounded number of
 * times (the retry may refill exactly the pages just freed).  A failure
 * injected during op (xvm_inject) is not retried: it is meant for the
 * caller (only a full RAM moves physmem's `refused`, and only a refusal
 * that came last is retried: phys_ran_out).
 * => op's last result.  Only where no page pointer is held.
 */
int pagedaemon_retry(struct pagedaemon *pd, int (*op)(void *arg), void *arg);

/* The policy's queues hold exactly the pageable pages. */
void pagedaemon_check(const struct pagedaemon *pd, struct check *ck);

#endif
