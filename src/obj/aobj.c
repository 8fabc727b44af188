/*
 * aobj: the pager of shared anonymous memory (UVM's uvm_aobj).  Pages are
 * zero-filled on first touch and live until the object dies (no swap).
 */
#include <errno.h>

#include "object.h"

static int aobj_get(struct xvm_object *obj, uint64_t off, unsigned flags,
                    pageh *pg)
{
    if (off >= obj->size)
        return EFAULT;
    *pg = object_page(obj, off);
    if (*pg != PAGEH_NONE)
        return 0;
    if (flags & PGO_LOCKED)
        return ENOENT;
    return object_page_alloc(obj, off, true, 0, pg);
}

const struct pager_ops aobj_pager = {
    .name = "aobj",
    .get = aobj_get,
};

int aobj_create(struct objects *objs, uint64_t size, struct xvm_object **out)
{
    if (out == NULL || size == 0 || pg_round(objs->core, size) < size)
        return EINVAL;
    return object_create(objs, &aobj_pager, pg_round(objs->core, size),
                         XVM_USE_AOBJ, XVM_KMEM_AOBJ, out);
}
