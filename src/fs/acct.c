/*
 * Per-file accounting: for each file of a mount, which of its pages
 * were touched (asked of its pager by a fault or read()), mapped in
 * place from flash, or copied into the page cache, and how many copies
 * on write and address spaces it gave.  Records live as long as the
 * mount, by inode, whatever becomes of the file's vnode; they are
 * instrumentation, in host memory, and charge nothing to the machine.
 * A file's pages are kept in a hash by page: the memory is that of the
 * pages used, whatever size the file (or a corrupt image) claims.
 */
#include <errno.h>
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
    hmap_init(&a->bits);
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

void acct_page(struct core *c, struct file_acct *a, enum acct_map which,
               uint64_t pgidx)
{
    uint64_t v = 0, bit = UINT64_C(1) << which;
    /* inspection counts nothing */
    if (core_is_quiet(c) || pgidx >= a->npages ||
        (hmap_get(&a->bits, pgidx, &v) && (v & bit)))
        return;
    /* bookkeeping of the report: a failure to grow loses a count */
    if (hmap_put(c, &a->bits, pgidx, v | bit) == 0)
        a->pages[which]++;
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
        hmap_fini(c, &a->bits);
        core_free(c, a);
    }
    hmap_fini(c, &mp->accts);
}
