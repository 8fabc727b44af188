/*
 * uvm_object: references and the resident-page table.  See object.h.
 */
#include <errno.h>

#include "kmem.h"
#include "object.h"

/* An object's page index holds a RAM page as its frame number plus one,
 * so that 0 is none. */
static uint64_t page_word(pageh pg)
{
    return (pg >> 1) + 1;
}

static pageh word_page(uint64_t w)
{
    return page_ram((uint32_t)(w - 1));
}

void objects_init(struct objects *objs, struct core *core, struct physmem *ph,
                  struct mmu *mmu)
{
    *objs = (struct objects){ .core = core, .ph = ph, .mmu = mmu };
}

int object_create(struct objects *objs, const struct pager_ops *ops,
                  uint64_t size, int use, int ktype, struct xvm_object **out)
{
    struct xvm_object *obj =
        ktype >= 0 ? kmem_alloc(objs->ph->km, (enum xvm_kmem_type)ktype, 1,
                                sizeof(*obj))
                   : core_zalloc(objs->core, sizeof(*obj));
    if (obj == NULL)
        return ENOMEM;
    obj->ktype = (int8_t)ktype;
    obj->ops = ops;
    obj->objs = objs;
    obj->refs = 1;
    obj->size = size;
    obj->use = use;
    runs_init(&obj->pages, sizeof(uint32_t));
    hmap_init(&obj->evicted);
    obj->next = objs->list;
    if (objs->list)
        objs->list->prev = obj;
    objs->list = obj;
    *out = obj;
    return 0;
}

void object_ref(struct xvm_object *obj)
{
    obj->refs++;
}

/* Frees the object's pages, then the pager's state (detach). */
static void object_empty(struct xvm_object *obj)
{
    struct objects *objs = obj->objs;
    uint64_t pgno, w;
    for (struct runs_pos p = { 0 }; runs_next(&obj->pages, &p, &pgno, &w);) {
        pageh v = word_page(w);
        pmap_page_protect(objs->mmu, v, XVM_PROT_NONE);
        pageq_dequeue(&objs->pd, v);
        phys_release(objs->ph, v); /* loaned: kept until the I/O is done */
    }
    if (obj->execmap)
        objs->pd.execpages -= obj->pages.n;
    runs_fini(objs->core, &obj->pages);
    hmap_fini(objs->core, &obj->evicted);
    if (obj->ops->detach)
        obj->ops->detach(obj);
}

static void object_free(struct xvm_object *obj)
{
    struct objects *objs = obj->objs;
    if (obj->prev)
        obj->prev->next = obj->next;
    else
        objs->list = obj->next;
    if (obj->next)
        obj->next->prev = obj->prev;
    if (obj->ktype >= 0)
        kmem_free(objs->ph->km, (enum xvm_kmem_type)obj->ktype, 1, obj);
    else
        core_free(objs->core, obj);
}

void object_unref(struct xvm_object *obj)
{
    if (--obj->refs > 0)
        return;
    object_empty(obj);
    object_free(obj);
}

void objects_fini(struct objects *objs)
{
    /* A pager may hold references to other objects and drop them in its
     * detach: every object stays allocated until all have detached. */
    for (struct xvm_object *o = objs->list; o; o = o->next)
        o->refs++;
    for (struct xvm_object *o = objs->list; o; o = o->next)
        object_empty(o);
    while (objs->list)
        object_free(objs->list);
}

pageh object_page(const struct xvm_object *obj, uint64_t off)
{
    uint64_t w = runs_get(&obj->pages, off >> obj->objs->core->pgshift);
    return w ? word_page(w) : PAGEH_NONE;
}

/* A page a user pager may hand out for off. */
static bool user_page_ok(const struct xvm_object *obj, uint64_t off, pageh pg)
{
    const struct physmem *ph = obj->objs->ph;
    if (pg == PAGEH_NONE) /* odd, but no device page */
        return false;
    if (pg == ph->zero_page)
        return true;
    if (page_is_device(pg))
        return phys_lookup_device(ph, pg & ~(uint64_t)1) == pg;
    return object_page(obj, off) == pg;
}

int object_get(struct xvm_object *obj, uint64_t off, unsigned flags, pageh *pg)
{
    /* A get that answers 0 without naming a page names none, not what
     * the caller's variable held (an earlier fault's page). */
    *pg = PAGEH_NONE;
    obj->objs->in_pager++;
    int error = obj->ops->get(obj, off, flags, pg);
    obj->objs->in_pager--;
    if (error == 0 && obj->user && !user_page_ok(obj, off, *pg))
        return EIO;
    return error;
}

int object_page_alloc(struct xvm_object *obj, uint64_t off, bool zero,
                      unsigned pqflags, pageh *out)
{
    struct objects *objs = obj->objs;
    pageh pg;
    int error = phys_alloc(objs->ph, obj->use, zero, &pg);
    if (error)
        return error;
    error = runs_set(objs->core, &obj->pages, off >> objs->core->pgshift,
                     page_word(pg));
    if (error) {
        phys_free(objs->ph, pg);
        return error;
    }
    struct vm_page *p = phys_page(objs->ph, pg);
    p->owner.obj = obj;
    p->offset = off;
    if (obj->execmap)
        objs->pd.execpages++;
    pageq_enqueue(&objs->pd, pg, pqflags);
    *out = pg;
    return 0;
}

int object_loanbreak(struct xvm_object *obj, uint64_t off, pageh *out)
{
    struct objects *objs = obj->objs;
    pageh old = object_page(obj, off), pg;
    int error = phys_alloc(objs->ph, obj->use, false, &pg);
    if (error)
        return error;
    phys_copy(objs->ph, pg, old);
    pmap_page_protect(objs->mmu, old, XVM_PROT_NONE);
    pageq_dequeue(&objs->pd, old);
    phys_release(objs->ph, old);
    /* The page number is held: replacing its page needs no memory. */
    (void)runs_set(objs->core, &obj->pages, off >> objs->core->pgshift,
                   page_word(pg));
    struct vm_page *p = phys_page(objs->ph, pg);
    p->owner.obj = obj;
    p->offset = off;
    pageq_enqueue(&objs->pd, pg, 0);
    *out = pg;
    return 0;
}

void object_page_free(struct xvm_object *obj, uint64_t off)
{
    struct objects *objs = obj->objs;
    pageh pg = object_page(obj, off);
    if (pg == PAGEH_NONE)
        return;
    pmap_page_protect(objs->mmu, pg, XVM_PROT_NONE);
    pageq_dequeue(&objs->pd, pg);
    (void)runs_set(objs->core, &obj->pages, off >> objs->core->pgshift, 0);
    if (obj->execmap)
        objs->pd.execpages--;
    phys_release(objs->ph, pg); /* loaned: kept until the I/O is done */
}

int object_put_clean(struct xvm_object *obj, uint64_t off)
{
    pageh pg = object_page(obj, off);
    if (pg == PAGEH_NONE)
        return EBUSY;
    /* Remembered for counting refaults; if the note cannot be had, the
     * refault goes uncounted, the page still goes. */
    (void)hmap_put(obj->objs->core, &obj->evicted, off, 1);
    object_page_free(obj, off);
    return 0;
}

void object_filled(struct xvm_object *obj, uint64_t off)
{
    if (hmap_del(&obj->evicted, off))
        obj->objs->refaults++;
}

void object_mark_exec(struct xvm_object *obj)
{
    if (obj->execmap || obj->use != XVM_USE_PAGECACHE)
        return;
    obj->execmap = true;
    obj->objs->pd.execpages += obj->pages.n;
}

/* Public handle. */
void xvm_object_release(xvm_object *obj)
{
    if (obj)
        object_unref(obj);
}

void xvm_object_ref(xvm_object *obj)
{
    if (obj)
        object_ref(obj);
}

/* ---- user pagers (xvm_object_create is the machine's) ---- */

void *xvm_object_private(const xvm_object *obj)
{
    return obj ? obj->priv : NULL;
}

uint64_t xvm_object_size(const xvm_object *obj)
{
    return obj ? obj->size : 0;
}

/* => whether off names a page of a user object. */
static bool user_off_ok(const struct xvm_object *obj, uint64_t off)
{
    return obj && obj->user && off < obj->size &&
           !(off & (obj->objs->core->pgsz - 1));
}

int xvm_object_page_alloc(xvm_object *obj, uint64_t off, xvm_page_handle *pg,
                          uint8_t **data)
{
    if (!user_off_ok(obj, off) || pg == NULL || data == NULL)
        return EINVAL;
    if (object_page(obj, off) != PAGEH_NONE)
        return EEXIST;
    int error = object_page_alloc(obj, off, false, 0, pg);
    if (error)
        return error;
    *data = phys_ram_data(obj->objs->ph, *pg);
    object_filled(obj, off); /* the caller's fill comes next */
    return 0;
}

xvm_page_handle xvm_object_page_lookup(const xvm_object *obj, uint64_t off)
{
    return user_off_ok(obj, off) ? object_page(obj, off) : PAGEH_NONE;
}

int xvm_object_page_free(xvm_object *obj, uint64_t off)
{
    if (!user_off_ok(obj, off))
        return EINVAL;
    pageh pg = object_page(obj, off);
    if (pg == PAGEH_NONE)
        return ENOENT;
    if (phys_page(obj->objs->ph, pg)->wire)
        return EBUSY;
    object_page_free(obj, off);
    return 0;
}

int xvm_pager_put_clean(xvm_object *obj, uint64_t off)
{
    if (!user_off_ok(obj, off))
        return EINVAL;
    if (object_page(obj, off) != PAGEH_NONE &&
        phys_page(obj->objs->ph, object_page(obj, off))->wire)
        return EBUSY;
    return object_put_clean(obj, off);
}

void objects_check(const struct objects *objs, struct check *ck)
{
    uint64_t execpages = 0;
    for (struct xvm_object *o = objs->list; o && !ck->error; o = o->next) {
        if (o->execmap)
            execpages += o->pages.n;
        uint64_t pgno, w;
        if (o->refs == 0)
            return (void)check_fail(ck,
                                    "object %p on the list with no "
                                    "reference",
                                    (void *)o);
        if ((o->next && o->next->prev != o) || (o->prev && o->prev->next != o))
            return (void)check_fail(ck, "object list links broken");
        runs_check(&o->pages, ck);
        for (struct runs_pos p = { 0 };
             !ck->error && runs_next(&o->pages, &p, &pgno, &w);) {
            uint64_t off = pgno << objs->core->pgshift;
            if (w - 1 >= objs->ph->nframes)
                return (void)check_fail(ck, "object %p: page at %#llx not RAM",
                                        (void *)o, (unsigned long long)off);
            struct vm_page *pg = phys_page(objs->ph, word_page(w));
            if (pg->owner.obj != o || pg->offset != off || pg->use != o->use)
                return (void)check_fail(ck,
                                        "object %p: page at %#llx "
                                        "misowned",
                                        (void *)o, (unsigned long long)off);
        }
    }
    if (!ck->error && execpages != objs->pd.execpages)
        check_fail(ck, "%llu exec pages counted, %llu resident",
                   (unsigned long long)objs->pd.execpages,
                   (unsigned long long)execpages);
}
