/*
 * The page daemon.  Only page-cache pages of file objects are reclaimable:
 * the file system is read-only, so they are always clean, and the pager
 * can read them again.  Anons and aobj pages have no swap to go to.
 *
 * Runs only when an allocation failed, and frees a batch (an eighth of
 * the page cache, at least one page) so the cost is amortised.
 */
#include "machine.h"
#include "object.h"
#include "pagedaemon.h"
#include "pmap.h"

#define BATCH_MIN 1
#define BATCH_DIV 8
#define SCAN_CHUNK 64

/* Frees up to n pages of obj; => how many. */
static uint64_t reclaim_object(struct xvm_machine *m, struct xvm_object *obj,
                               uint64_t n)
{
    uint64_t freed = 0;
    while (freed < n) {
        uint64_t offs[SCAN_CHUNK], off, v;
        unsigned k = 0;
        /* Collect first: deleting from the table while walking it is not
         * allowed. */
        for (size_t i = 0; k < SCAN_CHUNK && k < n - freed &&
                           hmap_next(&obj->pages, &i, &off, &v);) {
            struct vm_page *pg = phys_page(m, v);
            if (pg->wire == 0 && !(pg->flags & PG_BUSY))
                offs[k++] = off;
        }
        if (k == 0)
            break;
        for (unsigned j = 0; j < k; j++) {
            pageh h = object_page(obj, offs[j]);
            pmap_page_protect(m, h, XVM_PROT_NONE);
            hmap_del(&obj->pages, offs[j]);
            phys_free(m, h);
        }
        freed += k;
    }
    return freed;
}

uint64_t pagedaemon_reclaim(struct xvm_machine *m)
{
    uint64_t cached = m->st.pages[XVM_USE_PAGECACHE];
    uint64_t want = cached / BATCH_DIV > BATCH_MIN ? cached / BATCH_DIV : BATCH_MIN;
    uint64_t freed = 0;
    for (struct xvm_object *o = m->objects; o && freed < want; o = o->next)
        if (o->use == XVM_USE_PAGECACHE)
            freed += reclaim_object(m, o, want - freed);
    m->st.reclaimed += freed;
    return freed;
}
