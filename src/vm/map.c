/*
 * vm_map entries: list + B+tree (maptree.c).  See map.h.
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
}

struct vm_map_entry *map_lookup(const struct vm_map *map, uint64_t va)
{
    struct vm_map_entry *e = mt_floor(&map->tree, va);
    return e && va < e->end ? e : NULL;
}

struct vm_map_entry *map_lookup_hint(struct vm_map *map, uint64_t va)
{
    struct vm_map_entry *e = map->hint;
    if (e && e->start <= va && va < e->end)
        return e;
    if ((e = map_lookup(map, va)) != NULL)
        map->hint = e;
    return e;
}

struct vm_map_entry *map_first_after(struct vm_map *map, uint64_t va)
{
    struct vm_map_entry *e = mt_floor(&map->tree, va);
    if (e == NULL)
        return map->header.next;
    return e->end > va ? e : e->next;
}

struct vm_map_entry *map_entry_alloc(struct vm *vm, struct vm_map *map)
{
    struct vm_map_entry *e =
        kmem_alloc(vm->ph->km, XVM_KMEM_MAP_ENTRY, 1, sizeof(*e));
    if (e && mt_reserve(&vm->mt_spare, &map->tree) != 0) {
        map_entry_release(vm, e);
        return NULL;
    }
    return e;
}

/* Where the free space before e starts: the end of the entry before it. */
static uint64_t gap_start(const struct vm_map *map,
                          const struct vm_map_entry *e)
{
    return e->prev == &map->header ? map->minva : e->prev->end;
}

void map_insert(struct vm *vm, struct vm_map *map, struct vm_map_entry *e)
{
    struct vm_map_entry *prev = mt_floor(&map->tree, e->start);
    struct vm_map_entry *next = prev ? prev->next : map->header.next;
    /* Link after the last entry starting below e. */
    e->prev = next->prev;
    e->next = next;
    next->prev->next = e;
    next->prev = e;
    mt_insert(&vm->mt_spare, &map->tree, e->start, e,
              e->start - gap_start(map, e));
    if (next != &map->header)
        mt_set_gap(&map->tree, next->start, next, next->start - e->end);
    map->nentries++;
}

void map_remove(struct vm *vm, struct vm_map *map, struct vm_map_entry *e)
{
    struct vm_map_entry *next = e->next;
    uint64_t from = gap_start(map, e);
    mt_remove(&vm->mt_spare, &map->tree, e->start, e);
    if (map->hint == e)
        map->hint = NULL;
    e->prev->next = e->next;
    e->next->prev = e->prev;
    if (next != &map->header)
        mt_set_gap(&map->tree, next->start, next, next->start - from);
    map->nentries--;
}

void map_fini(struct vm *vm, struct vm_map *map)
{
    mt_fini(&vm->mt_spare, &map->tree);
    map->hint = NULL;
    while (map->header.next != &map->header) {
        struct vm_map_entry *e = map->header.next;
        e->prev->next = e->next;
        e->next->prev = e->prev;
        map_entry_free(vm, e);
    }
    map->nentries = 0;
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
    *ne = *e;
    /* e keeps [start, va); ne takes [va, end).  Only ne's key is new. */
    uint64_t delta = va - e->start;
    ne->start = va;
    ne->offset += delta;
    ne->aoff += delta >> vm->core->pgshift;
    e->end = va;
    if (ne->obj)
        object_ref(ne->obj);
    map_insert(vm, map, ne);
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
    struct vm_map_entry *e = map_first_after(map, va);
    if (va >= map->maxva || len == 0)
        return ENOMEM;
    /* The free space around va, if va is free. */
    if (e == &map->header || va < e->start) {
        uint64_t limit = e == &map->header ? map->maxva : e->start;
        if (limit - va >= len) {
            *addr = va;
            return 0;
        }
    }
    /* Else the first gap after e's start (each starts above va). */
    if (e != &map->header) {
        struct vm_map_entry *next = e->next, *f;
        if (next != &map->header &&
            (f = mt_find_gap(&map->tree, next->start, next, len)) != NULL) {
            *addr = gap_start(map, f);
            return 0;
        }
        /* The space after the last entry. */
        uint64_t last = map->header.prev->end;
        if (map->maxva - last >= len) {
            *addr = last;
            return 0;
        }
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

/* The tree's entries, in step with the list. */
struct tree_ck {
    const struct vm_map *map;
    const struct vm_map_entry *next;
    struct check *ck;
};

static void tree_entry(void *arg, uint64_t key, uint64_t gap,
                       const struct vm_map_entry *e)
{
    struct tree_ck *t = arg;
    if (t->ck->error)
        return;
    if (e != t->next)
        return (void)check_fail(t->ck, "map tree and list differ at %#llx",
                                (unsigned long long)key);
    if (key != e->start || gap != e->start - gap_start(t->map, e))
        return (void)check_fail(t->ck, "map tree key or gap of %#llx wrong",
                                (unsigned long long)e->start);
    t->next = e->next;
}

void map_check(const struct vm *vm, const struct vm_map *map, struct check *ck)
{
    const struct core *c = vm->core;
    const struct vm_map_entry *e;
    uint64_t n = 0, prev_end = map->minva;

    struct tree_ck tc = { map, map->header.next, ck };
    if (mt_check(&map->tree, ck, tree_entry, &tc) != map->nentries &&
        !ck->error)
        check_fail(ck, "map tree size differs from entry count");
    if (!ck->error && tc.next != &map->header)
        check_fail(ck, "map list has entries the tree lacks");
    if (ck->error)
        return;
    /* A hint is an entry of the map (a fault may read it first). */
    if (map->hint && map_lookup(map, map->hint->start) != map->hint)
        return (void)check_fail(ck, "map hint is not one of its entries");
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
