/*
 * The page daemon: frees clean page-cache pages when RAM runs out, and
 * the one bounded reclaim-and-retry loop that faults and read() use.
 */
#ifndef XVM_PAGEDAEMON_H
#define XVM_PAGEDAEMON_H

#include <stdint.h>

#include "object.h"

/*
 * Frees a batch of clean, unwired page-cache pages (unmapping them first).
 * => the number of frames freed; 0 when nothing could be reclaimed.
 * => only callable where no page pointer is held (fault entry, read()).
 */
uint64_t pagedaemon_reclaim(struct objects *objs);

/*
 * Runs op(arg); while it fails with ENOMEM and the daemon can free
 * something, frees a batch and runs it again, a bounded number of times
 * (the retry may refill exactly the pages just freed and fail again, for
 * ever).  A failure injected during op (xvm_inject) is not retried: it is
 * meant for the caller.  => op's last result.
 */
int pagedaemon_retry(struct objects *objs, int (*op)(void *arg), void *arg);

#endif
