/*
 * The page daemon.  It asks each object's pager to put back pages it can
 * have again: page-cache pages of files (the file system is read-only,
 * so they are always clean).  Anons and aobj pages have no swap to go to.
 *
 * Runs only when an allocation failed, and frees a batch (an eighth of
 * the page cache, at least one page) so the cost is amortised.
 */
#include <errno.h>

#include "pagedaemon.h"

#define BATCH_MIN 1
#define BATCH_DIV 8
/* Restarts after reclaiming, as UVM waits for the pagedaemon and restarts
 * a fault; bounded, see pagedaemon_retry. */
#define MAX_RESTARTS 16

uint64_t pagedaemon_reclaim(struct objects *objs)
{
    uint64_t cached = objs->ph->use[XVM_USE_PAGECACHE].cur;
    uint64_t want =
        cached / BATCH_DIV > BATCH_MIN ? cached / BATCH_DIV : BATCH_MIN;
    uint64_t freed = 0;
    for (struct xvm_object *o = objs->list; o && freed < want; o = o->next)
        if (o->ops->put)
            freed += o->ops->put(o, want - freed);
    objs->reclaimed += freed;
    return freed;
}

int pagedaemon_retry(struct objects *objs, int (*op)(void *arg), void *arg)
{
    int error;
    unsigned restarts = 0;
    for (;;) {
        uint64_t injected = objs->core->injected;
        error = op(arg);
        /* An injected failure is for the caller to see: not retried. */
        if (error != ENOMEM || objs->core->injected != injected ||
            restarts++ >= MAX_RESTARTS || pagedaemon_reclaim(objs) == 0)
            return error;
    }
}
