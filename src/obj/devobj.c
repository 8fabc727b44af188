/*
 * devobj: the device pager (UVM's uvm_device).  Its pages are device pages
 * of a device segment: no vm_page, no page cache, nothing resident.
 */
#include <errno.h>

#include "object.h"

static int devobj_get(struct xvm_object *obj, uint64_t off, unsigned flags,
                      pageh *pg)
{
    (void)flags;
    if (off >= obj->size)
        return EFAULT;
    *pg = page_device(obj->base + off);
    return 0;
}

const struct pager_ops devobj_pager = {
    .name = "device",
    .get = devobj_get,
};

int devobj_create(struct objects *objs, uint64_t pa, uint64_t len,
                  struct xvm_object **out)
{
    uint32_t pgsz = objs->core->pgsz;
    if (out == NULL || len == 0 || (pa & (pgsz - 1)) || (len & (pgsz - 1)) ||
        pa + len < pa)
        return EINVAL;
    /* Every page must belong to a device segment. */
    for (uint64_t off = 0; off < len; off += pgsz) {
        pageh pg = phys_lookup(objs->ph, pa + off);
        if (pg == PAGEH_NONE || !page_is_device(pg))
            return EINVAL;
    }
    /* Device objects are few and small (uvm_device): not charged. */
    int error = object_create(objs, &devobj_pager, len, XVM_USE_FREE, -1, out);
    if (error)
        return error;
    (*out)->base = pa;
    (*out)->read_only = true;
    return 0;
}

bool devobj_holds(const struct objects *objs, uint64_t pa, uint64_t len)
{
    for (const struct xvm_object *o = objs->list; o; o = o->next)
        if (o->ops == &devobj_pager && o->base < pa + len &&
            pa < o->base + o->size)
            return true;
    return false;
}
