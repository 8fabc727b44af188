/*
 * Per-file accounting: for each file of a mount, which of its pages
 * were touched (asked of its pager by a fault or read()), mapped in
 * place from flash, or copied into the page cache, and how many copies
 * on write and address spaces it gave.  Records live as long as the
 * mount, by inode, whatever becomes of the file's vnode; they are
 * instrumentation, in host memory, and charge nothing to the machine.
 */
#include <errno.h>
#include <string.h>

#include "vfs.h"

static uint64_t words(uint64_t npages)
{
    return (npages + 63) / 64;
}

int acct_get(struct xvm_mount *mp, uint32_t ino, uint64_t size,
             struct file_acct **out)
{
    struct core *c = mp->vfs->core;
    uint64_t v;
    if (hmap_get(&mp->accts, ino, &v)) {
        *out = (struct file_acct *)(uintptr_t)v;
        return 0;
    }
    uint64_t npages = pg_round(c, size) >> c->pgshift;
    struct file_acct *a = core_zalloc(c, sizeof(*a));
    if (a == NULL)
        return ENOMEM;
    a->ino = ino;
    a->npages = npages;
    if (npages > 0 &&
        (a->bits = core_zalloc(c, ACCT_MAPS * words(npages) * 8)) == NULL) {
        core_free(c, a);
        return ENOMEM;
    }
    if (hmap_put(c, &mp->accts, ino, (uint64_t)(uintptr_t)a) != 0) {
        core_free(c, a->bits);
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

void acct_page(struct file_acct *a, enum acct_map which, uint64_t pgidx)
{
    if (pgidx >= a->npages)
        return;
    uint64_t *w = &a->bits[which * words(a->npages) + pgidx / 64];
    uint64_t bit = UINT64_C(1) << (pgidx % 64);
    if (*w & bit)
        return;
    *w |= bit;
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
        core_free(c, a->bits);
        core_free(c, a);
    }
    hmap_fini(c, &mp->accts);
}
