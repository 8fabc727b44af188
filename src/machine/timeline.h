/*
 * The machine's timeline: bounded samples of RAM by kind over a run, and
 * marks.  See xvm_timeline_* in xipvm.h (report.c answers them).
 */
#ifndef XVM_TIMELINE_H
#define XVM_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "physmem.h"
#include "xipvm.h"

struct timeline {
    struct xvm_sample *samples; /* XVM_TIMELINE_MAX, made at first use */
    size_t n;
    uint64_t every; /* clock ticks between samples */
    uint64_t next;  /* when the next one is due */
    struct xvm_mark *marks;
    size_t nmarks, capmarks;
};

void timeline_fini(struct timeline *tl);

/* RAM by kind, bytes, for frames by use (pages[XVM_USE_*], FREE aside). */
void ram_by_kind(const struct physmem *ph, const uint64_t *pages, uint64_t *ram,
                 uint64_t *total);

/* A sample of ph at `at`; starts a new window of ph's in-use peak. */
void timeline_sample(struct timeline *tl, struct physmem *ph, uint64_t at);

/* => a new mark at `at` to fill (its report), or NULL with *error set:
 *    E2BIG past XVM_MARKS_MAX, ENOMEM. */
struct xvm_mark *timeline_mark(struct timeline *tl, const char *label,
                               uint64_t at, int *error);

#endif
