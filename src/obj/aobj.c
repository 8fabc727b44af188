/*
 * aobj: the pager of shared anonymous memory (UVM's uvm_aobj).  Pages are
 * zero-filled on first touch and live until the object dies, or, with
 * swap, until the page daemon pages them out: the object then keeps the
 * page's swap slot by offset (uao_set_swslot), and a get pages it back in.
 * As for anons, a page paged in and not modified since is dropped again
 * without a write (PG_CLEAN); its slot goes with the object.
 */
#include <errno.h>

#include "object.h"
#include "swap.h"

/* The object's swap slots, made at the first page-out. */
struct aobj_swap {
    struct hmap slots; /* offset -> slot */
    uint64_t in_ram;   /* of them, slots whose page is resident too (its
                          share of the swap area's in_ram) */
};

static struct aobj_swap *aswap(const struct xvm_object *obj)
{
    return obj->priv;
}

static struct hmap *slots(struct xvm_object *obj)
{
    return aswap(obj) ? &aswap(obj)->slots : NULL;
}

/* The page at a slot came into RAM (+1) or left it (-1). */
static void slot_in_ram(struct xvm_object *obj, int d)
{
    aswap(obj)->in_ram += (uint64_t)(int64_t)d;
    obj->objs->pd.swap->in_ram += (uint64_t)(int64_t)d;
}

static uint64_t slot_at(struct xvm_object *obj, uint64_t off)
{
    uint64_t slot = 0;
    if (slots(obj))
        (void)hmap_get(slots(obj), off, &slot);
    return slot;
}

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
    uint64_t slot = slot_at(obj, off);
    int error = object_page_alloc(obj, off, slot == 0, 0, pg);
    if (error || slot == 0)
        return error;
    /* A page-in. */
    struct vm_page *p = phys_page(obj->objs->ph, *pg);
    swap_read(obj->objs->pd.swap, (uint32_t)slot,
              phys_ram_data(obj->objs->ph, *pg));
    p->flags |= PG_CLEAN;
    slot_in_ram(obj, 1);
    return 0;
}

/* The page daemon's call: page the page at off out. */
static int aobj_put(struct xvm_object *obj, uint64_t off)
{
    struct objects *objs = obj->objs;
    struct swapdev *sw = objs->pd.swap;
    pageh pg = object_page(obj, off);
    if (sw == NULL)
        return ENOSPC;
    if (pg == PAGEH_NONE)
        return EBUSY;
    struct vm_page *p = phys_page(objs->ph, pg);
    uint64_t slot = slot_at(obj, off);
    /* Modified bits live in the PTEs: read them before unmapping. */
    bool clean =
        (p->flags & PG_CLEAN) && slot && !pmap_is_modified(objs->mmu, pg);
    if (!clean) {
        if (slot == 0) {
            uint32_t s;
            if (obj->priv == NULL &&
                (obj->priv =
                     core_zalloc(objs->core, sizeof(struct aobj_swap))) == NULL)
                return EAGAIN;
            if (swap_alloc(sw, &s) != 0)
                return ENOSPC;
            if (hmap_put(objs->core, slots(obj), off, s) != 0) {
                swap_free(sw, s);
                return EAGAIN;
            }
            slot = s;
            slot_in_ram(obj, 1);
        }
        if (swap_write(sw, (uint32_t)slot, phys_ram_data(objs->ph, pg)) != 0)
            return EAGAIN;
    }
    object_page_free(obj, off);
    slot_in_ram(obj, -1);
    return 0;
}

static void aobj_detach(struct xvm_object *obj)
{
    struct hmap *h = slots(obj);
    uint64_t slot;
    if (h == NULL)
        return;
    for (size_t i = 0; hmap_next(h, &i, NULL, &slot);)
        swap_free(obj->objs->pd.swap, (uint32_t)slot);
    /* Its resident pages are already freed. */
    obj->objs->pd.swap->in_ram -= aswap(obj)->in_ram;
    hmap_fini(obj->objs->core, h);
    core_free(obj->objs->core, obj->priv);
    obj->priv = NULL;
}

const struct pager_ops aobj_pager = {
    .name = "aobj",
    .get = aobj_get,
    .put = aobj_put,
    .detach = aobj_detach,
};

int aobj_create(struct objects *objs, uint64_t size, struct xvm_object **out)
{
    if (out == NULL || size == 0 || pg_round(objs->core, size) < size)
        return EINVAL;
    return object_create(objs, &aobj_pager, pg_round(objs->core, size),
                         XVM_USE_AOBJ, XVM_KMEM_AOBJ, out);
}

uint64_t aobj_swapped(const struct xvm_object *obj)
{
    return obj->ops == &aobj_pager && obj->priv ? aswap(obj)->slots.n : 0;
}

uint64_t aobj_swapped_in_ram(const struct xvm_object *obj)
{
    uint64_t off, slot, n = 0;
    if (obj->ops != &aobj_pager || obj->priv == NULL)
        return 0;
    for (size_t i = 0; hmap_next(&aswap(obj)->slots, &i, &off, &slot);)
        n += object_page(obj, off) != PAGEH_NONE;
    return n;
}
