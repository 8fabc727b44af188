/*
 * The timeline: see xipvm.h.  Its memory is the simulator's own
 * instrumentation (plain malloc): it is not kernel memory of the simulated
 * machine, and fault injection does not reach it.
 *
 * Samples come every `every` ticks; when all XVM_TIMELINE_MAX are used,
 * neighbours are merged in pairs (the later one's values, the larger
 * maximum) and `every` doubles, so the samples always span the whole run.
 * The first sample is never merged: the run's start stays in view.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeline.h"

void timeline_fini(struct timeline *tl)
{
    free(tl->samples);
    free(tl->marks);
    memset(tl, 0, sizeof(*tl));
}

static void merge_pairs(struct timeline *tl)
{
    size_t out = 1;
    for (size_t i = 1; i + 1 < tl->n; i += 2, out++) {
        struct xvm_sample merged = tl->samples[i + 1];
        if (tl->samples[i].ram_total_max > merged.ram_total_max)
            merged.ram_total_max = tl->samples[i].ram_total_max;
        tl->samples[out] = merged;
    }
    if ((tl->n - 1) % 2) /* an odd one out keeps its place */
        tl->samples[out++] = tl->samples[tl->n - 1];
    tl->n = out;
    tl->every *= 2;
}

void ram_by_kind(const struct physmem *ph, const uint64_t *pages, uint64_t *ram,
                 uint64_t *total)
{
    const struct core *c = ph->core;
    uint64_t managed = 0;
    *total = 0;
    for (int k = 0; k < XVM_RAM_VM_PAGE; k++) {
        ram[k] = pages[k + 1] * c->pgsz; /* kind k is use k + 1 */
        *total += ram[k];
        if (k != XVM_RAM_MD) /* a memory disk's RAM has no vm_pages */
            managed += pages[k + 1];
    }
    ram[XVM_RAM_VM_PAGE] = managed * c->prof->vm_page_size;
    *total += ram[XVM_RAM_VM_PAGE];
}

void timeline_sample(struct timeline *tl, struct physmem *ph, uint64_t at)
{
    const struct core *c = ph->core;
    if (tl->samples == NULL) {
        tl->samples = calloc(XVM_TIMELINE_MAX, sizeof(*tl->samples));
        if (tl->samples == NULL)
            return; /* instrumentation: no timeline, no harm */
        tl->every = 1;
    }
    if (tl->n == XVM_TIMELINE_MAX)
        merge_pairs(tl);
    struct xvm_sample *s = &tl->samples[tl->n++];
    uint64_t now[XVM_USE_COUNT];
    for (int u = 0; u < XVM_USE_COUNT; u++)
        now[u] = ph->use[u].cur;
    s->at = at;
    ram_by_kind(ph, now, s->ram, &s->ram_total);
    s->ram_total_max = (ph->used.window_peak - ph->md_pages) *
                           (c->pgsz + c->prof->vm_page_size) +
                       ph->md_pages * c->pgsz;
    gauge_window_reset(&ph->used);
    tl->next = at + tl->every;
}

/* Whether an earlier mark is labelled s. */
static bool label_taken(const struct timeline *tl, const char *s)
{
    for (size_t i = 0; i < tl->nmarks; i++)
        if (strcmp(tl->marks[i].label, s) == 0)
            return true;
    return false;
}

/* Whether s is base, or base#N (N decimal digits): a mark base named. */
static bool label_of(const char *s, const char *base, size_t blen)
{
    if (strncmp(s, base, blen) != 0)
        return false;
    if (s[blen] == '\0')
        return true;
    if (s[blen] != '#' || s[blen + 1] == '\0')
        return false;
    for (s += blen + 1; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The label a new mark is reported under (out: XVM_LABEL_MAX bytes):
 * label cut to fit; a label an earlier mark has gets #N, N its
 * occurrence (2, 3, ...; higher when a trace wrote such a label
 * itself), the label cut shorter for it if need be, so each mark keeps
 * its own key in a report. */
static void mark_label(const struct timeline *tl, const char *label, char *out)
{
    char base[XVM_LABEL_MAX];
    snprintf(out, XVM_LABEL_MAX, "%s", label);
    if (!label_taken(tl, out))
        return;
    snprintf(base, sizeof(base), "%s", out);
    size_t blen = strlen(base);
    uint64_t n = 1;
    for (size_t i = 0; i < tl->nmarks; i++)
        n += label_of(tl->marks[i].label, base, blen);
    for (;; n++) {
        char suffix[24];
        int len =
            snprintf(suffix, sizeof(suffix), "#%llu", (unsigned long long)n);
        size_t keep = blen < XVM_LABEL_MAX - 1 - (size_t)len
                          ? blen
                          : XVM_LABEL_MAX - 1 - (size_t)len;
        snprintf(out, XVM_LABEL_MAX, "%.*s%s", (int)keep, base, suffix);
        if (!label_taken(tl, out))
            return;
    }
}

struct xvm_mark *timeline_mark(struct timeline *tl, const char *label,
                               uint64_t at, int *error)
{
    if (tl->nmarks == XVM_MARKS_MAX) {
        *error = E2BIG;
        return NULL;
    }
    if (tl->nmarks == tl->capmarks) {
        size_t cap = tl->capmarks ? 2 * tl->capmarks : 8;
        struct xvm_mark *n = realloc(tl->marks, cap * sizeof(*n));
        if (n == NULL) {
            *error = ENOMEM;
            return NULL;
        }
        tl->marks = n;
        tl->capmarks = cap;
    }
    struct xvm_mark *mk = &tl->marks[tl->nmarks];
    mark_label(tl, label, mk->label);
    tl->nmarks++;
    mk->event = at;
    return mk;
}
