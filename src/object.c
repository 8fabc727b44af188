/*
 * uvm_object: references and the resident-page table.  See object.h.
 */
#include <errno.h>

#include "machine.h"
#include "object.h"
#include "pmap.h"

int object_create(struct xvm_machine *m, const struct pager_ops *ops,
                  uint64_t size, int use, struct xvm_object **out)
{
    struct xvm_object *obj = m_zalloc(m, sizeof(*obj));
    if (obj == NULL)
        return ENOMEM;
    obj->ops = ops;
    obj->m = m;
    obj->refs = 1;
    obj->size = size;
    obj->use = use;
    hmap_init(&obj->pages);
    obj->next = m->objects;
    if (m->objects)
        m->objects->prev = obj;
    m->objects = obj;
    *out = obj;
    return 0;
}

void object_ref(struct xvm_object *obj)
{
    obj->refs++;
}

void object_unref(struct xvm_object *obj)
{
    struct xvm_machine *m = obj->m;
    if (--obj->refs > 0)
        return;
    uint64_t off, v;
    for (size_t i = 0; hmap_next(&obj->pages, &i, &off, &v);) {
        pmap_page_protect(m, v, XVM_PROT_NONE);
        phys_free(m, v);
    }
    hmap_fini(m, &obj->pages);
    if (obj->ops->detach)
        obj->ops->detach(obj);
    if (obj->prev)
        obj->prev->next = obj->next;
    else
        m->objects = obj->next;
    if (obj->next)
        obj->next->prev = obj->prev;
    m_free(m, obj);
}

pageh object_page(const struct xvm_object *obj, uint64_t off)
{
    uint64_t v;
    return hmap_get(&obj->pages, off, &v) ? v : PAGEH_NONE;
}

int object_page_alloc(struct xvm_object *obj, uint64_t off, bool zero,
                      pageh *out)
{
    struct xvm_machine *m = obj->m;
    pageh pg;
    int error = phys_alloc(m, obj->use, zero, &pg);
    if (error)
        return error;
    error = hmap_put(m, &obj->pages, off, pg);
    if (error) {
        phys_free(m, pg);
        return error;
    }
    struct vm_page *p = phys_page(m, pg);
    p->owner.obj = obj;
    p->offset = off;
    *out = pg;
    return 0;
}

#define SCAN_CHUNK 64

uint64_t object_put_clean(struct xvm_object *obj, uint64_t want)
{
    struct xvm_machine *m = obj->m;
    uint64_t freed = 0;
    while (freed < want) {
        uint64_t offs[SCAN_CHUNK], off, v;
        unsigned k = 0;
        /* Collect first: the table may not change while it is walked. */
        for (size_t i = 0; k < SCAN_CHUNK && k < want - freed &&
                           hmap_next(&obj->pages, &i, &off, &v);) {
            struct vm_page *pg = phys_page(m, v);
            if (pg->wire == 0 && !(pg->flags & PG_BUSY))
                offs[k++] = off;
        }
        if (k == 0)
            break;
        for (unsigned j = 0; j < k; j++) {
            pageh h = object_page(obj, offs[j]);
            pmap_page_protect(m, h, XVM_PROT_NONE);
            hmap_del(&obj->pages, offs[j]);
            phys_free(m, h);
        }
        freed += k;
    }
    return freed;
}

/* Public handle. */
void xvm_object_release(xvm_object *obj)
{
    if (obj)
        object_unref(obj);
}
