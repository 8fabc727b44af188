/*
 * vm_map entries: treap + list.  See map.h.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "kmem.h"
#include "map.h"

void map_init(struct vm_map *map, uint64_t minva, uint64_t maxva)
{
    memset(map, 0, sizeof(*map));
    map->header.next = map->header.prev = &map->header;
    map->header.start = map->header.end = maxva;
    map->minva = minva;
    map->maxva = maxva;
    map->rng = 0x2545f491u;
}

struct vm_map_entry *map_lookup(const struct vm_map *map, uint64_t va)
{
    struct vm_map_entry *t = map->root;
    while (t) {
        if (va < t->start)
            t = t->left;
        else if (va >= t->end)
            t = t->right;
        else
            return t;
    }
    return NULL;
}

struct vm_map_entry *map_first_after(struct vm_map *map, uint64_t va)
{
    struct vm_map_entry *t = map->root, *best = &map->header;
    while (t) {
        if (t->end > va) {
            best = t;
            t = t->left;
        } else {
            t = t->right;
        }
    }
    return best;
}

struct vm_map_entry *map_entry_alloc(struct vm *vm, struct vm_map *map)
{
    struct vm_map_entry *e =
        kmem_alloc(vm->ph->km, XVM_KMEM_MAP_ENTRY, 1, sizeof(*e));
    if (e) {
        /* xorshift32: treap priorities, reproducible per map. */
        uint32_t x = map->rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        map->rng = x;
        e->prio = x;
    }
    return e;
}

static struct vm_map_entry *rotate_right(struct vm_map_entry *t)
{
    struct vm_map_entry *l = t->left;
    t->left = l->right;
    l->right = t;
    return l;
}

static struct vm_map_entry *rotate_left(struct vm_map_entry *t)
{
    struct vm_map_entry *r = t->right;
    t->right = r->left;
    r->left = t;
    return r;
}

static struct vm_map_entry *treap_insert(struct vm_map_entry *t,
                                         struct vm_map_entry *e)
{
    if (t == NULL)
        return e;
    if (e->start < t->start) {
        t->left = treap_insert(t->left, e);
        if (t->left->prio > t->prio)
            t = rotate_right(t);
    } else {
        t->right = treap_insert(t->right, e);
        if (t->right->prio > t->prio)
            t = rotate_left(t);
    }
    return t;
}

static struct vm_map_entry *treap_delete(struct vm_map_entry *t,
                                         struct vm_map_entry *e)
{
    assert(t != NULL);
    if (t == e) {
        if (t->left == NULL)
            return t->right;
        if (t->right == NULL)
            return t->left;
        if (t->left->prio > t->right->prio) {
            t = rotate_right(t);
            t->right = treap_delete(t->right, e);
        } else {
            t = rotate_left(t);
            t->left = treap_delete(t->left, e);
        }
        return t;
    }
    if (e->start < t->start)
        t->left = treap_delete(t->left, e);
    else
        t->right = treap_delete(t->right, e);
    return t;
}

void map_insert(struct vm_map *map, struct vm_map_entry *e)
{
    struct vm_map_entry *after = map_first_after(map, e->start);
    e->left = e->right = NULL;
    map->root = treap_insert(map->root, e);
    /* Link before the first entry that ends after e starts. */
    e->next = after;
    e->prev = after->prev;
    after->prev->next = e;
    after->prev = e;
    map->nentries++;
}

void map_remove(struct vm_map *map, struct vm_map_entry *e)
{
    map->root = treap_delete(map->root, e);
    e->prev->next = e->next;
    e->next->prev = e->prev;
    map->nentries--;
}

int map_clip(struct vm *vm, struct vm_map *map, struct vm_map_entry *e,
             uint64_t va)
{
    if (va <= e->start || va >= e->end)
        return 0;
    struct vm_map_entry *ne = map_entry_alloc(vm, map);
    if (ne == NULL)
        return ENOMEM;
    if (e->amap && amap_splitref(vm, e->amap) != 0) {
        map_entry_release(vm, ne);
        return ENOMEM;
    }
    uint32_t prio = ne->prio;
    *ne = *e;
    ne->prio = prio;
    /* e keeps [start, va); ne takes [va, end).  Only ne's key is new. */
    uint64_t delta = va - e->start;
    ne->start = va;
    ne->offset += delta;
    ne->aoff += delta >> vm->core->pgshift;
    e->end = va;
    if (ne->obj)
        object_ref(ne->obj);
    map_insert(map, ne);
    return 0;
}

int map_clip_range(struct vm *vm, struct vm_map *map, uint64_t start,
                   uint64_t end, struct vm_map_entry **first)
{
    struct vm_map_entry *e = map_lookup(map, start);
    int error;
    if (e && (error = map_clip(vm, map, e, start)) != 0)
        return error;
    e = map_lookup(map, end - 1);
    if (e && (error = map_clip(vm, map, e, end)) != 0)
        return error;
    *first = map_first_after(map, start);
    return 0;
}

int map_findspace(struct vm_map *map, uint64_t hint, uint64_t len,
                  uint64_t *addr)
{
    uint64_t va = hint < map->minva ? map->minva : hint;
    for (struct vm_map_entry *e = map_first_after(map, va);; e = e->next) {
        uint64_t limit = e == &map->header ? map->maxva : e->start;
        if (va <= limit && limit - va >= len) {
            *addr = va;
            return 0;
        }
        if (e == &map->header)
            break;
        if (e->end > va)
            va = e->end;
    }
    return ENOMEM;
}

void map_entry_free(struct vm *vm, struct vm_map_entry *e)
{
    if (e->amap)
        amap_unref(vm, e->amap, e->aoff,
                   (e->end - e->start) >> vm->core->pgshift);
    if (e->obj)
        object_unref(e->obj);
    map_entry_release(vm, e);
}

void map_entry_release(struct vm *vm, struct vm_map_entry *e)
{
    kmem_free(vm->ph->km, XVM_KMEM_MAP_ENTRY, 1, e);
}

/* An entry of UVM_AMAP_LARGE pages or more gets its amap by the aligned
 * chunk of UVM_AMAP_CHUNK pages around the write (uvm_amap.h): a stack
 * or heap reservation costs the kernel what is touched, not what is
 * mapped. */
#define AMAP_LARGE 256u
#define AMAP_CHUNK 16u

int map_copy_amap(struct vm *vm, struct vm_map *map, uint64_t va, bool chunk,
                  struct vm_map_entry **ep)
{
    struct core *c = vm->core;
    struct vm_map_entry *e = map_lookup(map, va);
    int error;

    assert(e != NULL && e->needs_copy);
    if (chunk && (e->end - e->start) >> c->pgshift >= AMAP_LARGE) {
        uint64_t chunk = (uint64_t)AMAP_CHUNK << c->pgshift;
        uint64_t lo = va & ~(chunk - 1), hi = lo + chunk;
        error = map_clip(vm, map, e, lo);
        if (error == 0)
            error = map_clip(vm, map, map_lookup(map, va), hi);
        e = map_lookup(map, va);
        if (error) {
            *ep = e;
            return error;
        }
    }
    *ep = e;
    uint64_t npages = (e->end - e->start) >> c->pgshift;
    if (npages > UINT32_MAX)
        return ENOMEM;
    if (e->amap && e->amap->ref == 1) {
        /* Nobody else references it: it is already private. */
        e->needs_copy = false;
        return 0;
    }
    struct amap *am;
    if ((error = amap_copy(vm, e->amap, e->aoff, npages, &am)) != 0)
        return error;
    e->amap = am;
    e->aoff = 0;
    e->needs_copy = false;
    return 0;
}

/* The treap: search order, heap order, size. */
static uint64_t check_treap(struct check *ck, const struct vm_map_entry *t,
                            uint64_t lo, uint64_t hi)
{
    if (t == NULL)
        return 0;
    if (t->start < lo || t->start >= hi)
        check_fail(ck, "map tree out of order at %#llx",
                   (unsigned long long)t->start);
    if ((t->left && t->left->prio > t->prio) ||
        (t->right && t->right->prio > t->prio))
        check_fail(ck, "map tree heap order broken at %#llx",
                   (unsigned long long)t->start);
    return 1 + check_treap(ck, t->left, lo, t->start) +
           check_treap(ck, t->right, t->start + 1, hi);
}

void map_check(const struct vm *vm, const struct vm_map *map, struct check *ck)
{
    const struct core *c = vm->core;
    const struct vm_map_entry *e;
    uint64_t n = 0, prev_end = map->minva;

    if (check_treap(ck, map->root, 0, UINT64_MAX) != map->nentries)
        check_fail(ck, "map tree size differs from entry count");
    map_foreach(map, e) {
        n++;
        if (e->next->prev != e || e->prev->next != e)
            return (void)check_fail(ck, "map list links broken");
        if (e->start >= e->end || e->start < prev_end || e->end > map->maxva ||
            (e->start | e->end) & (c->pgsz - 1))
            return (void)check_fail(ck, "entry [%#llx, %#llx) misplaced",
                                    (unsigned long long)e->start,
                                    (unsigned long long)e->end);
        if (map_lookup(map, e->start) != e)
            return (void)check_fail(ck, "lookup of %#llx misses its entry",
                                    (unsigned long long)e->start);
        if ((e->prot & e->maxprot) != e->prot)
            return (void)check_fail(ck,
                                    "entry %#llx: prot exceeds "
                                    "max_protection",
                                    (unsigned long long)e->start);
        uint64_t np = (e->end - e->start) >> c->pgshift;
        if (e->amap) {
            if (e->aoff + np > e->amap->nslot)
                return (void)check_fail(ck, "entry %#llx: past its amap",
                                        (unsigned long long)e->start);
            if (e->amap->ppref == NULL &&
                (e->aoff != 0 || np != e->amap->nslot))
                return (void)check_fail(ck,
                                        "entry %#llx: partial amap "
                                        "reference without ppref",
                                        (unsigned long long)e->start);
        } else if (e->cow && !e->needs_copy) {
            return (void)check_fail(ck,
                                    "entry %#llx: private, no amap, no "
                                    "needs-copy",
                                    (unsigned long long)e->start);
        }
        if (e->obj && e->obj->refs == 0)
            return (void)check_fail(ck, "entry %#llx: dead object",
                                    (unsigned long long)e->start);
        prev_end = e->end;
    }
    if (n != map->nentries)
        check_fail(ck, "map has %llu entries, counted %llu",
                   (unsigned long long)n, (unsigned long long)map->nentries);
}
