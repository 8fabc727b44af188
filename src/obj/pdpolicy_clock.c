/*
 * The clock policy of NetBSD's uvm_pdpolicy_clock.c, in our words.
 *
 * Two queues of pageable pages: active (in use) and inactive (between the
 * clock's hands).  A page enters active at its tail (read-ahead pages
 * enter inactive at its head: nobody asked for them).  A scan walks the
 * inactive queue from its head: a page whose mappings were referenced
 * since it was deactivated goes back to the tail of active (reactivation);
 * a page of a kind whose share of memory is below its minimum (or that
 * others exceed their maximum) is kept the same way; the first other page
 * is the victim.  After the scan the inactive queue is refilled from the
 * head of active up to its target, a third of the pageable pages (and
 * more than the free target): deactivation clears the page's reference
 * bits through the pmap, so only pages used again before the next scan
 * survive it.
 *
 *          activate / referenced                      enqueue
 *   +-----------------------------------+   +-------- (tail) ---+
 *   v                                   |   v                   |
 * [ active: head ... tail ] --balance--> [ inactive: head ... tail ] --> victim
 *            (deactivate: clear reference bits)   ^ read-ahead (head)
 *
 * Per-page state lives in the vm_page: PG_ACTIVE / PG_INACTIVE and the
 * queue links qnext / qprev.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdpolicy.h"
#include "physmem.h"

/* uvmpdpol_init(): percentages of memory (CLOCK_INACTIVEPCT and the
 * uvm_pctparam defaults). */
#define INACTIVE_PCT 33
#define ANON_MIN     10
#define FILE_MIN     10
#define EXEC_MIN     5
#define ANON_MAX     80
#define FILE_MAX     50
#define EXEC_MAX     30

struct queue {
    uint32_t head, tail;
    uint64_t n;
};

struct clock {
    struct pdpolicy_env env;
    struct queue active, inactive;
    uint64_t inactarg; /* the inactive queue's target */
    /* The scan in progress (uvmpdpol_scanstate). */
    bool first;
    uint32_t next;
    bool anonreact, filereact, execreact;
    struct pdpolicy_stats st;
};

static struct vm_page *page(const struct clock *c, uint32_t i)
{
    return &((struct physmem *)c->env.builtin)->pages[i];
}

static void q_init(struct queue *q)
{
    q->head = q->tail = PDP_NONE;
    q->n = 0;
}

static void q_insert_tail(struct clock *c, struct queue *q, uint32_t i)
{
    struct vm_page *pg = page(c, i);
    pg->qnext = PDP_NONE;
    pg->qprev = q->tail;
    if (q->tail != PDP_NONE)
        page(c, q->tail)->qnext = i;
    else
        q->head = i;
    q->tail = i;
    q->n++;
}

static void q_insert_head(struct clock *c, struct queue *q, uint32_t i)
{
    struct vm_page *pg = page(c, i);
    pg->qprev = PDP_NONE;
    pg->qnext = q->head;
    if (q->head != PDP_NONE)
        page(c, q->head)->qprev = i;
    else
        q->tail = i;
    q->head = i;
    q->n++;
}

static void q_remove(struct clock *c, struct queue *q, uint32_t i)
{
    struct vm_page *pg = page(c, i);
    if (pg->qprev != PDP_NONE)
        page(c, pg->qprev)->qnext = pg->qnext;
    else
        q->head = pg->qnext;
    if (pg->qnext != PDP_NONE)
        page(c, pg->qnext)->qprev = pg->qprev;
    else
        q->tail = pg->qprev;
    q->n--;
}

static void *clock_create(const struct pdpolicy_env *env)
{
    struct clock *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->env = *env;
    q_init(&c->active);
    q_init(&c->inactive);
    c->next = PDP_NONE;
    return c;
}

static void clock_destroy(void *st)
{
    free(st);
}

/* uvmpdpol_pagedequeue */
static void clock_dequeue(void *st, uint32_t i)
{
    struct clock *c = st;
    struct vm_page *pg = page(c, i);
    if (pg->flags & PG_ACTIVE) {
        q_remove(c, &c->active, i);
        pg->flags &= (uint8_t)~PG_ACTIVE;
    } else if (pg->flags & PG_INACTIVE) {
        q_remove(c, &c->inactive, i);
        pg->flags &= (uint8_t)~PG_INACTIVE;
    }
}

/* uvmpdpol_pageactivate: to the tail of active, wherever it was. */
static void clock_activate(void *st, uint32_t i)
{
    struct clock *c = st;
    clock_dequeue(c, i);
    q_insert_tail(c, &c->active, i);
    page(c, i)->flags |= PG_ACTIVE;
}

/* uvmpdpol_pagedeactivate: its reference bits cleared, to the tail of
 * inactive: it must be used again before the scan reaches it. */
static void deactivate(struct clock *c, uint32_t i)
{
    struct vm_page *pg = page(c, i);
    if (pg->flags & PG_ACTIVE) {
        q_remove(c, &c->active, i);
        pg->flags &= (uint8_t)~PG_ACTIVE;
    }
    if (!(pg->flags & PG_INACTIVE)) {
        c->env.clear_reference(c->env.arg, i);
        q_insert_tail(c, &c->inactive, i);
        pg->flags |= PG_INACTIVE;
    }
}

/* uvmpdpol_pageenqueue: as activation; pages read ahead go to the head
 * of inactive instead, the next victims unless used first. */
static void clock_enqueue(void *st, uint32_t i, unsigned flags)
{
    struct clock *c = st;
    if (!(flags & PDP_READAHEAD)) {
        clock_activate(c, i);
        return;
    }
    clock_dequeue(c, i);
    q_insert_head(c, &c->inactive, i);
    page(c, i)->flags |= PG_INACTIVE;
}

/* clock_tune: a third of the pageable pages, above the free target. */
static void clock_tune(void *st, uint64_t freetarg)
{
    struct clock *c = st;
    c->inactarg = (c->active.n + c->inactive.n) * INACTIVE_PCT / 100;
    if (c->inactarg <= freetarg)
        c->inactarg = freetarg + 1;
}

static bool clock_needs_scan(void *st)
{
    struct clock *c = st;
    return c->inactive.n < c->inactarg;
}

/* uvmpdpol_scaninit: which kinds of page to keep rather than free, so
 * that each kind's share of memory stays between its minimum and
 * maximum; when every kind would be kept, none is. */
static void clock_scan_init(void *st)
{
    struct clock *c = st;
    uint64_t anon, file, exec, free;
    c->env.counts(c->env.arg, &anon, &file, &exec, &free);
    uint64_t t = c->active.n + c->inactive.n + free;
    bool anonunder = anon <= t * ANON_MIN / 100;
    bool fileunder = file <= t * FILE_MIN / 100;
    bool execunder = exec <= t * EXEC_MIN / 100;
    bool anonover = anon > t * ANON_MAX / 100;
    bool fileover = file > t * FILE_MAX / 100;
    bool execover = exec > t * EXEC_MAX / 100;
    c->anonreact = anonunder || (!anonover && (fileover || execover));
    c->filereact = fileunder || (!fileover && (anonover || execover));
    c->execreact = execunder || (!execover && (anonover || fileover));
    if (c->filereact && c->execreact &&
        (c->anonreact || c->env.swap_full(c->env.arg)))
        c->anonreact = c->filereact = c->execreact = false;
    c->first = true;
    c->next = PDP_NONE;
}

/* uvmpdpol_selectvictim */
static uint32_t clock_select_victim(void *st)
{
    struct clock *c = st;
    for (;;) {
        uint32_t i;
        if (c->first) {
            i = c->inactive.head;
            c->first = false;
        } else {
            i = c->next;
            if (i != PDP_NONE && !(page(c, i)->flags & PG_INACTIVE))
                i = c->inactive.head;
        }
        if (i == PDP_NONE)
            return PDP_NONE;
        c->next = page(c, i)->qnext;
        c->st.scans++;
        bool keep = c->env.referenced(c->env.arg, i);
        if (!keep) {
            switch (c->env.page_class(c->env.arg, i)) {
            case PDP_EXEC: keep = c->execreact; break;
            case PDP_FILE: keep = c->filereact; break;
            case PDP_ANON: keep = c->anonreact; break;
            }
        }
        if (!keep)
            return i;
        clock_activate(c, i);
        c->st.reactivations++;
    }
}

/* uvmpdpol_balancequeue: refill inactive from the head of active. */
static void clock_balance(void *st)
{
    struct clock *c = st;
    uint64_t shortage =
        c->inactarg > c->inactive.n ? c->inactarg - c->inactive.n : 0;
    for (uint32_t i = c->active.head; i != PDP_NONE && shortage > 0;) {
        uint32_t next = page(c, i)->qnext;
        deactivate(c, i);
        c->st.deactivations++;
        shortage--;
        i = next;
    }
}

static void clock_stats(const void *st, struct pdpolicy_stats *out)
{
    const struct clock *c = st;
    *out = c->st;
    out->active = c->active.n;
    out->inactive = c->inactive.n;
}

static int q_check(const struct clock *c, const struct queue *q, uint8_t flag,
                   const char *name, char *msg, size_t len)
{
    uint64_t n = 0;
    uint32_t prev = PDP_NONE;
    for (uint32_t i = q->head; i != PDP_NONE; prev = i, i = page(c, i)->qnext) {
        const struct vm_page *pg = page(c, i);
        if (i >= c->env.npages || pg->qprev != prev || ++n > q->n ||
            (pg->flags & (PG_ACTIVE | PG_INACTIVE)) != flag) {
            snprintf(msg, len, "clock: %s queue broken at frame %u", name, i);
            return EINVAL;
        }
    }
    if (n != q->n || q->tail != prev) {
        snprintf(msg, len, "clock: %s queue holds %llu pages, counted %llu",
                 name, (unsigned long long)n, (unsigned long long)q->n);
        return EINVAL;
    }
    return 0;
}

static int clock_check(const void *st, char *msg, size_t len)
{
    const struct clock *c = st;
    int error = q_check(c, &c->active, PG_ACTIVE, "active", msg, len);
    if (error == 0)
        error = q_check(c, &c->inactive, PG_INACTIVE, "inactive", msg, len);
    if (error)
        return error;
    uint64_t flagged = 0;
    /* Frames never used (from fresh on) were never queued. */
    uint32_t used = ((const struct physmem *)c->env.builtin)->fresh;
    for (uint32_t i = 0; i < c->env.npages && i < used; i++)
        flagged += (page(c, i)->flags & (PG_ACTIVE | PG_INACTIVE)) != 0;
    if (flagged != c->active.n + c->inactive.n) {
        snprintf(msg, len, "clock: %llu pages flagged queued, %llu queued",
                 (unsigned long long)flagged,
                 (unsigned long long)(c->active.n + c->inactive.n));
        return EINVAL;
    }
    return 0;
}

const struct pdpolicy_ops pdpolicy_clock = {
    .name = "clock",
    .create = clock_create,
    .destroy = clock_destroy,
    .enqueue = clock_enqueue,
    .activate = clock_activate,
    .dequeue = clock_dequeue,
    .tune = clock_tune,
    .needs_scan = clock_needs_scan,
    .scan_init = clock_scan_init,
    .select_victim = clock_select_victim,
    .balance = clock_balance,
    .stats = clock_stats,
    .check = clock_check,
};
