/*
 * maptree: a B+tree of map entries with the largest gap per subtree.
 * See maptree.h.
 *
 * Nodes split when full and are freed when empty; they are not merged
 * when underfull (a map that shrinks keeps its height, at most that of
 * its largest size).  Every operation goes down one path from the root
 * and fixes keys and gaps on the way back up.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "maptree.h"

#define MT_MAXH 24 /* far above what memory allows */
/* Nodes kept for reuse by the whole layer when each is a malloc of its
 * own (core_pack under a sanitizer); else all of them. */
#define SPARE_MAX 64

struct path {
    struct mt_node *node[MT_MAXH];
    unsigned slot[MT_MAXH]; /* the child taken at each internal node */
    unsigned depth;         /* internal nodes on it; node[depth] is a leaf */
};

/* ---- nodes ---- */

int mt_reserve(struct mt_spare *sp, const struct maptree *t)
{
    /* One insert splits at most one node per level and adds a root; the
     * mmap of a fixed range may insert three times (two clips and the
     * entry) after one reservation, growing the tree by one level each. */
    unsigned need = 3 * (t->height + 3);
    while (sp->n < need) {
        /* On a cache line (core_pack), beside the layer's other state. */
        struct mt_node *nd = core_pack(sp->core, sizeof(struct mt_node), 0);
        if (nd == NULL)
            return ENOMEM;
        nd->u.c[0] = sp->list;
        sp->list = nd;
        sp->n++;
    }
    return 0;
}

static struct mt_node *node_new(struct mt_spare *sp, bool leaf)
{
    struct mt_node *nd = sp->list;
    assert(nd != NULL); /* mt_reserve came first */
    sp->list = nd->u.c[0];
    sp->n--;
    nd->n = 0;
    nd->leaf = leaf;
    for (unsigned i = 0; i < MT_FAN; i++)
        nd->key[i] = UINT64_MAX;
    return nd;
}

static void node_free(struct mt_spare *sp, struct mt_node *nd)
{
    if (!CORE_PACKED && sp->n >= SPARE_MAX) {
        core_unpack(sp->core, nd);
        return;
    }
    nd->u.c[0] = sp->list;
    sp->list = nd;
    sp->n++;
}

void mt_spare_fini(struct mt_spare *sp)
{
    while (sp->list) {
        struct mt_node *nd = sp->list;
        sp->list = nd->u.c[0];
        core_unpack(sp->core, nd);
    }
    sp->n = 0;
}

static uint64_t node_gap(const struct mt_node *nd)
{
    uint64_t g = 0;
    for (unsigned i = 0; i < nd->n; i++)
        if (nd->gap[i] > g)
            g = nd->gap[i];
    return g;
}

/*
 * => the last slot whose key is <= key, or 0 when key is below them all.
 * Four steps, no branch on the data: unused slots hold UINT64_MAX (and
 * no entry starts there: the top page of any address space is its end).
 */
static inline unsigned slot_le(const struct mt_node *nd, uint64_t key)
{
    _Static_assert(MT_FAN == 16, "slot_le searches 16 keys");
    unsigned i = 0;
    key -= key == UINT64_MAX; /* above any entry, below the unused */
    i += nd->key[i + 8] <= key ? 8 : 0;
    i += nd->key[i + 4] <= key ? 4 : 0;
    i += nd->key[i + 2] <= key ? 2 : 0;
    i += nd->key[i + 1] <= key ? 1 : 0;
    return i;
}

/* Unused slots keep UINT64_MAX keys (slot_le). */
static void clear_from(struct mt_node *nd, unsigned from)
{
    for (unsigned i = from; i < MT_FAN; i++)
        nd->key[i] = UINT64_MAX;
}

/* Opens slot at in nd (n < MT_FAN) and fills it. */
static void node_put(struct mt_node *nd, unsigned at, uint64_t key,
                     uint64_t gap, void *ptr)
{
    unsigned k = nd->n - at;
    memmove(&nd->key[at + 1], &nd->key[at], k * sizeof(nd->key[0]));
    memmove(&nd->gap[at + 1], &nd->gap[at], k * sizeof(nd->gap[0]));
    memmove(&nd->u.c[at + 1], &nd->u.c[at], k * sizeof(nd->u.c[0]));
    nd->key[at] = key;
    nd->gap[at] = gap;
    nd->u.c[at] = ptr;
    nd->n++;
}

static void node_cut(struct mt_node *nd, unsigned at)
{
    unsigned k = nd->n - at - 1;
    memmove(&nd->key[at], &nd->key[at + 1], k * sizeof(nd->key[0]));
    memmove(&nd->gap[at], &nd->gap[at + 1], k * sizeof(nd->gap[0]));
    memmove(&nd->u.c[at], &nd->u.c[at + 1], k * sizeof(nd->u.c[0]));
    nd->n--;
    nd->key[nd->n] = UINT64_MAX;
}

/*
 * Moves the slots of full node nd from `from` on into a new right
 * sibling: half of them, or none when the new slot goes at the end (maps
 * grow upwards: appending keeps the nodes full).
 */
static struct mt_node *node_split(struct mt_spare *sp, struct mt_node *nd,
                                  unsigned from)
{
    struct mt_node *r = node_new(sp, nd->leaf);
    unsigned k = MT_FAN - from;
    memcpy(r->key, &nd->key[from], k * sizeof(nd->key[0]));
    memcpy(r->gap, &nd->gap[from], k * sizeof(nd->gap[0]));
    memcpy(r->u.c, &nd->u.c[from], k * sizeof(nd->u.c[0]));
    r->n = (uint16_t)k;
    nd->n = (uint16_t)from;
    clear_from(nd, from);
    return r;
}

/* ---- descent ---- */

/* The lines a lookup reads of a node, all at once: its keys and the
 * pointers, one of which it takes. */
static inline void prefetch_node(const struct mt_node *nd)
{
    XVM_PREFETCH(&nd->key[0]);
    XVM_PREFETCH(&nd->key[MT_FAN / 2]);
    XVM_PREFETCH(&nd->u.c[0]);
    XVM_PREFETCH(&nd->u.c[MT_FAN / 2]);
}

/* Down to the leaf where key is or would go. */
static struct mt_node *descend(const struct maptree *t, uint64_t key,
                               struct path *p)
{
    struct mt_node *nd = t->root;
    p->depth = 0;
    while (!nd->leaf) {
        unsigned s = slot_le(nd, key);
        assert(p->depth < MT_MAXH - 1);
        p->node[p->depth] = nd;
        p->slot[p->depth++] = s;
        nd = nd->u.c[s];
    }
    p->node[p->depth] = nd;
    return nd;
}

/* Keys and gaps of the path's internal nodes, from level d up. */
static void fix_up(struct path *p, unsigned d)
{
    while (d-- > 0) {
        struct mt_node *nd = p->node[d], *child = p->node[d + 1];
        unsigned s = p->slot[d];
        nd->key[s] = child->key[0];
        nd->gap[s] = node_gap(child);
    }
}

/* => e's slot in its leaf (p filled), which must hold it under key. */
static unsigned find(const struct maptree *t, uint64_t key,
                     const struct vm_map_entry *e, struct path *p)
{
    struct mt_node *leaf = descend(t, key, p);
    unsigned s = slot_le(leaf, key);
    assert(leaf->u.e[s] == e && leaf->key[s] == key);
    (void)e;
    return s;
}

struct vm_map_entry *mt_floor(const struct maptree *t, uint64_t va)
{
    const struct mt_node *nd = t->root;
    if (nd == NULL || va < nd->key[0])
        return NULL;
    for (unsigned l = 1; l < t->height; l++) {
        nd = nd->u.c[slot_le(nd, va)];
        prefetch_node(nd);
    }
    return nd->u.e[slot_le(nd, va)];
}

/* ---- changes ---- */

void mt_insert(struct mt_spare *sp, struct maptree *t, uint64_t key,
               struct vm_map_entry *e, uint64_t gap)
{
    struct path p;
    if (t->root == NULL) {
        t->root = node_new(sp, true);
        t->height = 1;
        node_put(t->root, 0, key, gap, e);
        return;
    }
    struct mt_node *nd = descend(t, key, &p);
    unsigned at = key > nd->key[0] ? slot_le(nd, key) + 1 : 0;
    void *ptr = e;
    /* Up the path: put (key, gap, ptr) at `at` of level d, splitting a
     * full node first and handing its new right half to the parent. */
    for (unsigned d = p.depth;; d--) {
        nd = p.node[d];
        struct mt_node *right = NULL;
        if (nd->n == MT_FAN) {
            unsigned from = at == MT_FAN ? MT_FAN : MT_FAN / 2;
            right = node_split(sp, nd, from);
            if (at >= from && at > MT_FAN / 2)
                node_put(right, at - from, key, gap, ptr);
            else
                node_put(nd, at, key, gap, ptr);
        } else {
            node_put(nd, at, key, gap, ptr);
        }
        if (right == NULL) {
            fix_up(&p, d);
            return;
        }
        if (d == 0) { /* a new root above the old one and its half */
            struct mt_node *root = node_new(sp, false);
            node_put(root, 0, nd->key[0], node_gap(nd), nd);
            node_put(root, 1, right->key[0], node_gap(right), right);
            t->root = root;
            t->height++;
            return;
        }
        /* The parent's slot for nd changes; the right half goes after it. */
        struct mt_node *parent = p.node[d - 1];
        unsigned s = p.slot[d - 1];
        parent->key[s] = nd->key[0];
        parent->gap[s] = node_gap(nd);
        at = s + 1;
        key = right->key[0];
        gap = node_gap(right);
        ptr = right;
    }
}

void mt_remove(struct mt_spare *sp, struct maptree *t, uint64_t key,
               const struct vm_map_entry *e)
{
    struct path p;
    unsigned s = find(t, key, e, &p), d = p.depth;
    node_cut(p.node[d], s);
    /* Empty nodes go, up the path. */
    while (p.node[d]->n == 0) {
        node_free(sp, p.node[d]);
        if (d == 0) {
            t->root = NULL;
            t->height = 0;
            return;
        }
        d--;
        node_cut(p.node[d], p.slot[d]);
    }
    fix_up(&p, d);
    /* A root with one child hands over to it. */
    while (!t->root->leaf && t->root->n == 1) {
        struct mt_node *old = t->root;
        t->root = old->u.c[0];
        t->height--;
        node_free(sp, old);
    }
}

void mt_set_gap(struct maptree *t, uint64_t key, const struct vm_map_entry *e,
                uint64_t gap)
{
    struct path p;
    unsigned s = find(t, key, e, &p);
    if (p.node[p.depth]->gap[s] == gap)
        return;
    p.node[p.depth]->gap[s] = gap;
    fix_up(&p, p.depth);
}

struct vm_map_entry *mt_find_gap(const struct maptree *t, uint64_t key,
                                 const struct vm_map_entry *e, uint64_t len)
{
    struct path p;
    unsigned s = find(t, key, e, &p);
    const struct mt_node *nd = p.node[p.depth];
    for (unsigned i = s; i < nd->n; i++)
        if (nd->gap[i] >= len)
            return nd->u.e[i];
    /* Up until a subtree to the right has room, then down its left edge. */
    for (unsigned d = p.depth; d-- > 0;) {
        nd = p.node[d];
        for (unsigned i = p.slot[d] + 1; i < nd->n; i++) {
            if (nd->gap[i] < len)
                continue;
            nd = nd->u.c[i];
            for (;;) {
                unsigned k = 0;
                while (nd->gap[k] < len)
                    k++; /* there is one: the parent's gap says so */
                if (nd->leaf)
                    return nd->u.e[k];
                nd = nd->u.c[k];
            }
        }
    }
    return NULL;
}

static void free_nodes(struct mt_spare *sp, struct mt_node *nd)
{
    if (!nd->leaf)
        for (unsigned i = 0; i < nd->n; i++)
            free_nodes(sp, nd->u.c[i]);
    node_free(sp, nd);
}

void mt_fini(struct mt_spare *sp, struct maptree *t)
{
    if (t->root)
        free_nodes(sp, t->root);
    t->root = NULL;
    t->height = 0;
}

/* ---- the checker ---- */

struct walk_ck {
    struct check *ck;
    void (*fn)(void *arg, uint64_t key, uint64_t gap,
               const struct vm_map_entry *e);
    void *arg;
    uint64_t n;
    unsigned leaf_depth;
};

/* => the node's lowest key and largest gap through *key, *gap. */
static void check_node(struct walk_ck *w, const struct mt_node *nd,
                       unsigned depth, uint64_t *key, uint64_t *gap)
{
    *key = 0;
    *gap = 0;
    if (nd->n == 0 || nd->n > MT_FAN || depth >= MT_MAXH)
        return (void)check_fail(w->ck, "map tree node holds %u", nd->n);
    for (unsigned i = nd->n; i < MT_FAN; i++)
        if (nd->key[i] != UINT64_MAX)
            return (void)check_fail(w->ck,
                                    "map tree node: unused key %u "
                                    "set",
                                    i);
    if (nd->leaf) {
        if (w->leaf_depth == 0)
            w->leaf_depth = depth + 1;
        if (depth + 1 != w->leaf_depth)
            return (void)check_fail(w->ck,
                                    "map tree leaves at depths %u and "
                                    "%u",
                                    w->leaf_depth, depth + 1);
    }
    for (unsigned i = 0; i < nd->n && !w->ck->error; i++) {
        uint64_t k = nd->key[i], g = nd->gap[i];
        if (nd->leaf) {
            w->fn(w->arg, k, g, nd->u.e[i]);
            w->n++;
        } else {
            check_node(w, nd->u.c[i], depth + 1, &k, &g);
            if (!w->ck->error && (nd->key[i] != k || nd->gap[i] != g))
                return (void)check_fail(w->ck,
                                        "map tree node's key or gap "
                                        "of %#llx wrong",
                                        (unsigned long long)k);
        }
        if (i == 0)
            *key = k;
        else if (k <= nd->key[i - 1])
            return (void)check_fail(w->ck, "map tree out of order at %#llx",
                                    (unsigned long long)k);
        if (g > *gap)
            *gap = g;
    }
}

uint64_t mt_check(const struct maptree *t, struct check *ck,
                  void (*fn)(void *arg, uint64_t key, uint64_t gap,
                             const struct vm_map_entry *e),
                  void *arg)
{
    struct walk_ck w = { ck, fn, arg, 0, 0 };
    uint64_t key, gap;
    if (t->root == NULL)
        return 0;
    check_node(&w, t->root, 0, &key, &gap);
    if (!ck->error && w.leaf_depth != t->height)
        check_fail(ck, "map tree height %u, leaves at %u", t->height,
                   w.leaf_depth);
    return w.n;
}
