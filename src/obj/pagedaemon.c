/*
 * The page daemon; see pagedaemon.h.  The policy (pdpolicy_clock.c)
 * decides which pages go; this file decides when, and how each kind of
 * page is freed.
 */
#include <errno.h>
#include <string.h>

#include "object.h"
#include "pagedaemon.h"
#include "pmap.h"
#include "swap.h"

/* Restarts of one operation after scans, as UVM waits for the daemon and
 * restarts a fault; bounded, see pagedaemon_retry. */
#define MAX_RESTARTS 16
/* Swap-backed pages a scan may find no swap for before it stops
 * (UVMPD_NUMDIRTYREACTS). */
#define NUMDIRTYREACTS 16

/* ---- what the policy may ask (struct pdpolicy_env) ---- */

static bool env_referenced(void *arg, uint32_t i)
{
    struct pagedaemon *pd = arg;
    return pmap_is_referenced(pd->mmu, page_ram(i));
}

static void env_clear_reference(void *arg, uint32_t i)
{
    struct pagedaemon *pd = arg;
    pmap_clear_reference(pd->mmu, page_ram(i));
}

static enum pdp_class env_page_class(void *arg, uint32_t i)
{
    struct pagedaemon *pd = arg;
    const struct vm_page *pg = &pd->ph->pages[i];
    if (pg->use != XVM_USE_PAGECACHE)
        return PDP_ANON;
    return pg->owner.obj->execmap ? PDP_EXEC : PDP_FILE;
}

static void env_counts(void *arg, uint64_t *anon, uint64_t *file,
                       uint64_t *exec, uint64_t *free)
{
    struct pagedaemon *pd = arg;
    const struct physmem *ph = pd->ph;
    *anon = ph->use[XVM_USE_ANON].cur + ph->use[XVM_USE_AOBJ].cur;
    *exec = pd->execpages;
    *file = ph->use[XVM_USE_PAGECACHE].cur - pd->execpages;
    *free = ph->nfree;
}

static bool env_swap_full(void *arg)
{
    struct pagedaemon *pd = arg;
    return pd->swap == NULL || swap_full(pd->swap);
}

/* ---- the policies ---- */

static const struct pdpolicy_ops *const builtin[] = { &pdpolicy_clock };

const struct pdpolicy_ops *pdpolicy_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    return NULL;
}

const struct xvm_pdpolicy_ops *xvm_pdpolicy_builtin(const char *name)
{
    return pdpolicy_find(name);
}

/* What a policy's optional members do when it has none. */
static void no_destroy(void *st)
{
    (void)st;
}

static void no_tune(void *st, uint64_t freetarg)
{
    (void)st, (void)freetarg;
}

static bool no_scan_due(void *st)
{
    (void)st;
    return false;
}

static void no_step(void *st)
{
    (void)st;
}

static void no_stats(const void *st, struct pdpolicy_stats *out)
{
    (void)st;
    memset(out, 0, sizeof(*out));
}

/* => EINVAL unless the required members are there; fills the rest. */
static int policy_complete(struct pdpolicy_ops *own,
                           const struct pdpolicy_ops *p)
{
    if (p == NULL || p->create == NULL || p->enqueue == NULL ||
        p->activate == NULL || p->dequeue == NULL || p->select_victim == NULL)
        return EINVAL;
    *own = *p;
    if (own->name == NULL)
        own->name = "";
    if (own->destroy == NULL)
        own->destroy = no_destroy;
    if (own->tune == NULL)
        own->tune = no_tune;
    if (own->needs_scan == NULL)
        own->needs_scan = no_scan_due;
    if (own->scan_init == NULL)
        own->scan_init = no_step;
    if (own->balance == NULL)
        own->balance = no_step;
    if (own->stats == NULL)
        own->stats = no_stats;
    return 0;
}

/* ---- set-up ---- */

/* The targets for n managed pages: the configured ones, or uvmpd_tune()'s
 * (0.5 % of RAM, between 128 KiB and 1 MiB; here also at most a
 * sixteenth of RAM, so a small product's RAM is not half reserve). */
static void targets(const struct pagedaemon *pd, uint64_t n, uint64_t *min,
                    uint64_t *targ)
{
    unsigned shift = pd->ph->core->pgshift;
    uint64_t v = pd->want_min;
    if (v == 0) {
        v = n / 200;
        if (v < (UINT64_C(128) << 10 >> shift))
            v = UINT64_C(128) << 10 >> shift;
        if (v > (UINT64_C(1) << 20 >> shift))
            v = UINT64_C(1) << 20 >> shift;
        if (v > n / 16)
            v = n / 16;
        v = v ? v : 1;
    }
    *min = v;
    *targ = pd->want_targ;
    if (*targ == 0) {
        *targ = v * 4 / 3;
        if (*targ <= v)
            *targ = v + 1;
    }
}

uint64_t pagedaemon_freetarg_at(const struct pagedaemon *pd, uint64_t npages)
{
    uint64_t min, targ;
    targets(pd, npages, &min, &targ);
    return targ;
}

void pagedaemon_tune(struct pagedaemon *pd)
{
    targets(pd, pd->ph->npages, &pd->freemin, &pd->freetarg);
}

int pagedaemon_init(struct pagedaemon *pd, struct physmem *ph, struct mmu *mmu,
                    uint64_t freemin, uint64_t freetarg,
                    const struct pdpolicy_ops *policy)
{
    uint64_t n = ph->npages;
    memset(pd, 0, sizeof(*pd));
    pd->ph = ph;
    pd->mmu = mmu;
    if (policy_complete(&pd->own, policy) != 0)
        return EINVAL;
    pd->ops = &pd->own;
    pd->want_min = freemin;
    pd->want_targ = freetarg;
    targets(pd, n, &freemin, &freetarg);
    if (freetarg <= freemin || freetarg >= n)
        return EINVAL;
    pd->freemin = freemin;
    pd->freetarg = freetarg;
    struct pdpolicy_env env = {
        .arg = pd,
        .npages = ph->npages,
        .builtin = ph,
        .referenced = env_referenced,
        .clear_reference = env_clear_reference,
        .page_class = env_page_class,
        .counts = env_counts,
        .swap_full = env_swap_full,
    };
    pd->st = pd->ops->create(&env);
    return pd->st ? 0 : ENOMEM;
}

void pagedaemon_fini(struct pagedaemon *pd)
{
    if (pd->st)
        pd->ops->destroy(pd->st);
    pd->st = NULL;
}

/* ---- the scan (uvmpd_scan, uvmpd_scan_queue) ---- */

/* => 0 when the page was freed; ENOSPC when it needs swap there is not;
 *    EBUSY when it cannot go now. */
static int free_page(struct pagedaemon *pd, uint32_t i)
{
    struct vm_page *pg = &pd->ph->pages[i];
    bool readahead = pg->flags & PG_READAHEAD;
    int error;

    if (pg->wire || pg->loan || (pg->flags & PG_BUSY))
        return EBUSY; /* wired, lent to an I/O (§11.3), or being filled */
    switch (pg->use) {
    case XVM_USE_PAGECACHE:
    case XVM_USE_AOBJ: {
        struct xvm_object *obj = pg->owner.obj;
        uint64_t off = pg->offset;
        unsigned use = pg->use;
        bool file = use == XVM_USE_PAGECACHE;
        obj->objs->in_pager++;
        error = obj->ops->put ? obj->ops->put(obj, off) : ENOSPC;
        obj->objs->in_pager--;
        /* What a user's pager did counts, not what it said: a 0 that
         * keeps the page is EBUSY; an error after freeing it is 0 (kept,
         * the free page would go back on the queues). */
        bool kept = pg->use == use && pg->owner.obj == obj && pg->offset == off;
        error = kept ? (error ? error : EBUSY) : 0;
        if (error == 0 && file) {
            pd->reclaimed++;
            pd->readahead_unused += readahead;
        } else if (error == 0) {
            pd->swapped_out++;
        }
        return error;
    }
    case XVM_USE_ANON:
        if (pd->anon == NULL)
            return ENOSPC;
        error = pd->anon->pageout(pd->anon_arg, i);
        if (error == 0)
            pd->swapped_out++;
        return error;
    default: return EBUSY;
    }
}

/* ---- shrinkers (buf_drain) ---- */

void pagedaemon_shrinker_add(struct pagedaemon *pd, struct shrinker *s)
{
    s->prev = NULL;
    s->next = pd->shrinkers;
    if (pd->shrinkers)
        pd->shrinkers->prev = s;
    pd->shrinkers = s;
}

void pagedaemon_shrinker_remove(struct pagedaemon *pd, struct shrinker *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        pd->shrinkers = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* Has the shrinkers free frames until target are free.  => frames freed */
static uint64_t drain(struct pagedaemon *pd, uint64_t target)
{
    uint64_t freed = 0;
    for (struct shrinker *s = pd->shrinkers;
         s != NULL && pd->ph->nfree < target; s = s->next)
        freed += s->shrink(s->arg, target - pd->ph->nfree);
    return freed;
}

/* A scan of the queues that frees pages until target are free. */
static uint64_t scan_queues(struct pagedaemon *pd, uint64_t target)
{
    struct physmem *ph = pd->ph;
    uint64_t freed = 0;
    unsigned dirtyreacts = 0;

    pd->runs++;
    pd->ops->tune(pd->st, pd->freetarg);
    pd->ops->scan_init(pd->st);
    /* A policy (a user's) may name what is not a queued page, or keep
     * naming pages that cannot go: the scan stops, it never hangs. */
    for (uint64_t picks = 0;
         ph->nfree < target && dirtyreacts < NUMDIRTYREACTS &&
         picks < 2 * (uint64_t)ph->npages;
         picks++) {
        uint32_t i = pd->ops->select_victim(pd->st);
        if (i >= ph->npages || !(ph->pages[i].flags & PG_QUEUED))
            break;
        int error = free_page(pd, i);
        if (error == 0) {
            freed++;
            continue;
        }
        /* Kept: wired, busy, or swap-backed with no swap to go to (a
         * kernel without swap, or swap full: then the scan gives up
         * after a few, as UVM does). */
        pd->ops->activate(pd->st, i);
        if (error == ENOSPC && pd->swap)
            dirtyreacts++;
    }
    pd->ops->balance(pd->st);
    pd->freed += freed;
    return freed;
}

/* Whether a scan of the queues can free anything. */
static bool queues_reclaimable(const struct pagedaemon *pd)
{
    if (pd->swap && swap_can_page_out(pd->swap))
        return true;
    /* File pages can be dropped unless wired: worth waiting for when
     * they are at least a sixteenth of the pageable pages, or 5 MiB. */
    struct pdpolicy_stats s;
    pd->ops->stats(pd->st, &s);
    uint64_t file = pd->ph->use[XVM_USE_PAGECACHE].cur - pd->ph->wired_cache;
    uint64_t want = (s.active + s.inactive) >> 4;
    uint64_t cap = UINT64_C(5) << 20 >> pd->ph->core->pgshift;
    return file > 0 && file >= (want < cap ? want : cap);
}

bool pagedaemon_reclaimable(const struct pagedaemon *pd)
{
    for (const struct shrinker *s = pd->shrinkers; s != NULL; s = s->next)
        if (s->count(s->arg) > 0)
            return true;
    return queues_reclaimable(pd);
}

/* The daemon's run: the queues, unless they can free nothing (then a
 * scan is only cost), then what that leaves short from the shrinkers
 * (uvm_pageout drains buffers by what free pages lack of the target).
 * => pages freed */
static uint64_t scan(struct pagedaemon *pd, uint64_t target)
{
    uint64_t freed = 0;
    if (queues_reclaimable(pd))
        freed = scan_queues(pd, target);
    return freed + drain(pd, target);
}

uint64_t pagedaemon_scan(struct pagedaemon *pd)
{
    return scan(pd, pd->freetarg);
}

void pagedaemon_kick(struct pagedaemon *pd)
{
    uint64_t free = pd->ph->nfree;
    /* A scan that can free nothing (no swap to page anons out to, too
     * few file pages, no buffers) is only cost: a machine that stays out
     * of memory would pay it at every call. */
    if ((free < pd->freemin ||
         (free < pd->freetarg && pd->ops->needs_scan(pd->st))) &&
        pagedaemon_reclaimable(pd))
        (void)pagedaemon_scan(pd);
}

int pagedaemon_retry(struct pagedaemon *pd, int (*op)(void *arg), void *arg)
{
    struct physmem *ph = pd->ph;
    pagedaemon_kick(pd);
    for (unsigned restarts = 0;; restarts++) {
        uint64_t refused = ph->refused;
        int error = op(arg);
        /* Only a full RAM is worth a scan: an injected failure (even one
         * after a hint, as read-ahead, found RAM full), or a lack of
         * address space, fails at once. */
        if (error != ENOMEM || restarts == MAX_RESTARTS ||
            !phys_ran_out(ph, refused) || !pagedaemon_reclaimable(pd))
            return error;
        /* The call may need several frames (a kernel stack, a big slot
         * array): each restart frees freetarg more than are free now.  A
         * scan that frees nothing may still have moved referenced pages
         * out of the way: the next one gets them. */
        uint64_t target = ph->nfree + pd->freetarg;
        if (scan(pd, target) == 0 && scan(pd, target) == 0)
            return error;
    }
}

void pagedaemon_check(const struct pagedaemon *pd, struct check *ck)
{
    char msg[128];
    if (pd->ops->check && pd->ops->check(pd->st, msg, sizeof(msg)) != 0)
        return (void)check_fail(ck, "%s", msg);
    const struct physmem *ph = pd->ph;
    for (uint32_t i = 0; i < ph->fresh; i++) { /* the rest never used */
        const struct vm_page *pg = &ph->pages[i];
        bool pageable = pg->use == XVM_USE_ANON || pg->use == XVM_USE_AOBJ ||
                        pg->use == XVM_USE_PAGECACHE;
        if (pageable != ((pg->flags & PG_QUEUED) != 0))
            return (void)check_fail(ck, "frame %u (%s) %s the page queues", i,
                                    xvm_use_name(pg->use),
                                    pageable ? "missing from" : "on");
    }
}
