/*
 * Per-file accounting: for each file of a mount, which of its pages
 * were touched (asked of its pager by a fault or read()), mapped in
 * place from flash, or copied into the page cache, and how many copies
 * on write and address spaces it gave.  Records live as long as the
 * mount, by inode, whatever becomes of the file's vnode; they are
 * instrumentation, in host memory, and charge nothing to the machine.
 * A file's pages are kept in runs by page (runs.h): the memory is that
 * of the pages used, whatever size the file (or a corrupt image) claims.
 *
 * A page's word packs what the per-page report says of it:
 *
 *   63        36 35         8 7      0
 *   +-----------+------------+--------+
 *   |  copies   |  touches   |  maps  |   maps: a bit per enum acct_map
 *   +-----------+------------+--------+
 *
 * touches (faults and read()s that asked the pager for the page) and
 * copies (copies on write into anons) are 28-bit counts that stop at
 * their maximum rather than wrap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfs.h"

int acct_get(struct xvm_mount *mp, uint32_t ino, uint64_t size,
             struct file_acct **out)
{
    struct core *c = mp->vfs->core;
    uint64_t v;
    if (hmap_get(&mp->accts, ino, &v)) {
        *out = (struct file_acct *)(uintptr_t)v;
        return 0;
    }
    struct file_acct *a = core_zalloc(c, sizeof(*a));
    if (a == NULL)
        return ENOMEM;
    a->ino = ino;
    a->npages = pg_round(c, size) >> c->pgshift;
    runs_init(&a->bits, sizeof(uint64_t));
    if (hmap_put(c, &mp->accts, ino, (uint64_t)(uintptr_t)a) != 0) {
        core_free(c, a);
        return ENOMEM;
    }
    *out = a;
    return 0;
}

const struct file_acct *acct_find(const struct xvm_mount *mp, uint32_t ino)
{
    uint64_t v;
    return hmap_get(&mp->accts, ino, &v) ? (struct file_acct *)(uintptr_t)v
                                         : NULL;
}

#define TOUCH_SHIFT 8
#define COPY_SHIFT  36
#define COUNT_MAX   ((UINT64_C(1) << 28) - 1)

static uint64_t count_of(uint64_t v, unsigned shift)
{
    return (v >> shift) & COUNT_MAX;
}

/* v with the count at shift one more (at most COUNT_MAX). */
static uint64_t count_inc(uint64_t v, unsigned shift)
{
    return count_of(v, shift) < COUNT_MAX ? v + (UINT64_C(1) << shift) : v;
}

/* Page pgidx enters map which; a touch and a copy are counted each time. */
static void mark(struct core *c, struct file_acct *a, enum acct_map which,
                 uint64_t pgidx)
{
    uint64_t bit = UINT64_C(1) << which;
    /* inspection counts nothing */
    if (core_is_quiet(c) || pgidx >= a->npages)
        return;
    uint64_t v = runs_get(&a->bits, pgidx), nv = v | bit;
    if (which == ACCT_TOUCHED)
        nv = count_inc(nv, TOUCH_SHIFT);
    else if (which == ACCT_WRITTEN)
        nv = count_inc(nv, COPY_SHIFT);
    /* bookkeeping of the report: a failure to grow loses a count */
    if (nv != v && runs_set(c, &a->bits, pgidx, nv) == 0 && !(v & bit))
        a->pages[which]++;
}

void acct_page(struct core *c, struct file_acct *a, enum acct_map which,
               uint64_t pgidx)
{
    mark(c, a, which, pgidx);
}

void acct_copy(struct core *c, struct file_acct *a, uint64_t pgidx, bool text)
{
    a->copied++;
    a->text_copied += text;
    mark(c, a, ACCT_WRITTEN, pgidx);
}

struct page_word {
    uint64_t page, v;
};

static int by_page(const void *x, const void *y)
{
    uint64_t a = ((const struct page_word *)x)->page,
             b = ((const struct page_word *)y)->page;
    return a < b ? -1 : a > b;
}

int acct_pages(struct core *c, const struct file_acct *a,
               int (*fn)(void *arg, const struct xvm_page_report *pr),
               void *arg)
{
    size_t n = a->bits.n, k = 0;
    uint64_t page, v;
    if (n == 0)
        return 0;
    struct page_word *pages = core_alloc(c, n * sizeof(*pages));
    if (pages == NULL)
        return ENOMEM;
    for (struct runs_pos p = { 0 }; runs_next(&a->bits, &p, &page, &v);)
        pages[k++] = (struct page_word){ page, v };
    qsort(pages, n, sizeof(*pages), by_page);
    int rc = 0;
    for (k = 0; k < n && rc == 0; k++) {
        v = pages[k].v;
        struct xvm_page_report pr = {
            .page = pages[k].page,
            .touches = count_of(v, TOUCH_SHIFT),
            .copies = count_of(v, COPY_SHIFT),
            .in_place = (v >> ACCT_IN_PLACE) & 1,
            .cached = (v >> ACCT_CACHED) & 1,
            .written = (v >> ACCT_WRITTEN) & 1,
        };
        rc = fn(arg, &pr);
    }
    core_free(c, pages);
    return rc;
}

struct file_acct *vnode_acct(const struct xvm_object *obj)
{
    if (obj == NULL || (obj->ops != &vnode_pager && obj->ops != &xip_pager))
        return NULL;
    return ((const struct vnode *)obj->priv)->acct;
}

void acct_fini(struct xvm_mount *mp)
{
    struct core *c = mp->vfs->core;
    uint64_t v;
    for (size_t i = 0; hmap_next(&mp->accts, &i, NULL, &v);) {
        struct file_acct *a = (struct file_acct *)(uintptr_t)v;
        runs_fini(c, &a->bits);
        core_free(c, a);
    }
    hmap_fini(c, &mp->accts);
}
