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

#define PDP_NONE UINT32_MAX /* no page */

/* enqueue flags */
#define PDP_READAHEAD 0x1 /* read ahead, not asked for: first to go */

/* What kind of memory a page holds (the clock's usage thresholds). */
enum pdp_class {
    PDP_ANON, /* anons and shared anonymous memory: swap-backed */
    PDP_FILE, /* page-cache pages of files not mapped executable */
    PDP_EXEC, /* page-cache pages of files mapped executable */
};

struct physmem;

/* What the machine offers a policy.  Calls take `arg`. */
struct pdpolicy_env {
    void *arg;
    uint32_t npages;    /* frames of RAM: every page index is below it */
    struct physmem *ph; /* for the built-in policies' per-page links */
    /* pmap_is_referenced / pmap_clear_reference of the page's mappings */
    bool (*referenced)(void *arg, uint32_t pg);
    void (*clear_reference)(void *arg, uint32_t pg);
    enum pdp_class (*page_class)(void *arg, uint32_t pg);
    /* pages in use by class, and free pages */
    void (*counts)(void *arg, uint64_t *anon, uint64_t *file, uint64_t *exec,
                   uint64_t *free);
    bool (*swap_full)(void *arg); /* true also when there is no swap */
};

/* A policy's own counters, as uvmexp has them. */
struct pdpolicy_stats {
    uint64_t active, inactive; /* pages on each queue now */
    uint64_t scans;            /* inactive pages looked at (pdscans) */
    uint64_t reactivations;    /* found referenced, or kept by a usage
                                  threshold (pdreact) */
    uint64_t deactivations;    /* moved to the inactive queue (pddeact) */
};

struct pdpolicy_ops {
    const char *name;
    /* => the policy's state for one machine, or NULL (no memory). */
    void *(*create)(const struct pdpolicy_env *env);
    void (*destroy)(void *st);
    /* A page became pageable (filled, promoted, paged in). */
    void (*enqueue)(void *st, uint32_t pg, unsigned flags);
    /* The page was used (a fault mapped it, read() copied it). */
    void (*activate)(void *st, uint32_t pg);
    /* The page leaves the queues (it is freed). */
    void (*dequeue)(void *st, uint32_t pg);
    /* Before a scan: the free target the daemon works towards. */
    void (*tune)(void *st, uint64_t freetarg);
    /* => true while the queues are out of balance (a scan is due). */
    bool (*needs_scan)(void *st);
    void (*scan_init)(void *st);
    /* => the next page to free, or PDP_NONE when the scan is over.  Pages
     *    passed over (referenced ones) are the policy's to requeue. */
    uint32_t (*select_victim)(void *st);
    /* After the scan: refill the inactive queue to its target. */
    void (*balance)(void *st);
    void (*stats)(const void *st, struct pdpolicy_stats *out);
    /* => 0, or EINVAL with a message when the queues are inconsistent. */
    int (*check)(const void *st, char *msg, size_t len);
};

/* Built-in policies. */
extern const struct pdpolicy_ops pdpolicy_clock;

#endif
