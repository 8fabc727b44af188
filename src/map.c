/*
 * vm_map entries: treap + list.  See map.h.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "amap.h"
#include "machine.h"
#include "map.h"
#include "object.h"

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

struct vm_map_entry *map_entry_alloc(struct xvm_machine *m, struct vm_map *map)
{
    struct vm_map_entry *e = m_zalloc(m, sizeof(*e));
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

int map_clip(struct xvm_machine *m, struct vm_map *map, struct vm_map_entry *e,
             uint64_t va)
{
    if (va <= e->start || va >= e->end)
        return 0;
    struct vm_map_entry *ne = map_entry_alloc(m, map);
    if (ne == NULL)
        return ENOMEM;
    if (e->amap && amap_splitref(m, e->amap) != 0) {
        m_free(m, ne);
        return ENOMEM;
    }
    uint32_t prio = ne->prio;
    *ne = *e;
    ne->prio = prio;
    /* e keeps [start, va); ne takes [va, end).  Only ne's key is new. */
    uint64_t delta = va - e->start;
    ne->start = va;
    ne->offset += delta;
    ne->aoff += delta >> m->pgshift;
    e->end = va;
    if (ne->obj)
        object_ref(ne->obj);
    map_insert(map, ne);
    return 0;
}

int map_clip_range(struct xvm_machine *m, struct vm_map *map, uint64_t start,
                   uint64_t end, struct vm_map_entry **first)
{
    struct vm_map_entry *e = map_lookup(map, start);
    int error;
    if (e && (error = map_clip(m, map, e, start)) != 0)
        return error;
    e = map_lookup(map, end - 1);
    if (e && (error = map_clip(m, map, e, end)) != 0)
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

void map_entry_free(struct xvm_machine *m, struct vm_map_entry *e)
{
    if (e->amap)
        amap_unref(m, e->amap, e->aoff, (e->end - e->start) >> m->pgshift);
    if (e->obj)
        object_unref(e->obj);
    m_free(m, e);
}
