/*
 * The page daemon.  It asks each object's pager to put back pages it can
 * have again: page-cache pages of files (the file system is read-only,
 * so they are always clean).  Anons and aobj pages have no swap to go to.
 *
 * Runs only when an allocation failed, and frees a batch (an eighth of
 * the page cache, at least one page) so the cost is amortised.
 */
#include "machine.h"
#include "object.h"
#include "pagedaemon.h"

#define BATCH_MIN 1
#define BATCH_DIV 8

uint64_t pagedaemon_reclaim(struct xvm_machine *m)
{
    uint64_t cached = m->st.pages[XVM_USE_PAGECACHE];
    uint64_t want = cached / BATCH_DIV > BATCH_MIN ? cached / BATCH_DIV : BATCH_MIN;
    uint64_t freed = 0;
    for (struct xvm_object *o = m->objects; o && freed < want; o = o->next)
        if (o->ops->put)
            freed += o->ops->put(o, want - freed);
    m->st.reclaimed += freed;
    return freed;
}
