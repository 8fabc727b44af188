/*
 * maptree: the index of a vm_map's entries, a B+tree keyed by start
 * address whose nodes also keep the largest free gap below them, so that
 * finding an entry and finding room for a new one are both O(log n) with
 * few host cache misses (a node is 16 keys wide: 100,000 entries are four
 * levels deep where a binary tree is twenty).  The map keeps its entries
 * in an address-ordered list besides (map.h); the tree only finds them.
 *
 * The gap of an entry is the free space just before it: its start minus
 * the end of the entry before it (or the map's lowest address).
 */
#ifndef XVM_MAPTREE_H
#define XVM_MAPTREE_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "core.h"

struct vm_map_entry; /* opaque here: the caller gives each one's key */

#define MT_FAN 16

/*
 * Cache-line aligned.  A lookup reads the keys (two lines, searched
 * without looking at n: unused keys are UINT64_MAX) and one line of
 * pointers, all prefetched together; placement reads the gaps.
 */
struct mt_node {
    uint64_t key[MT_FAN]; /* entry starts; a child's lowest start */
    union {
        struct vm_map_entry *e[MT_FAN];
        struct mt_node *c[MT_FAN];
    } u;
    uint64_t gap[MT_FAN]; /* an entry's gap; a child's largest gap */
    uint16_t n;           /* entries (leaf) or children */
    bool leaf;
};

struct maptree {
    struct mt_node *root; /* NULL when empty */
    unsigned height;      /* levels; 1: the root is a leaf */
};

/* Nodes are taken from (and given back to) a spare list of the VM layer,
 * filled beforehand so that inserting never fails. */
struct mt_spare {
    struct core *core;
    struct mt_node *list; /* linked through u.c[0] */
    unsigned n;
};

/* Makes sure the next few inserts into t can take their nodes from the
 * spare list.  => 0 or ENOMEM. */
int mt_reserve(struct mt_spare *sp, const struct maptree *t);
void mt_spare_fini(struct mt_spare *sp);

/* Entries are told by their key (start) and pointer. */
/* => the entry with the greatest key <= key, or NULL. */
struct vm_map_entry *mt_floor(const struct maptree *t, uint64_t key);
/* e (key not in t) goes in with the gap before it.  Needs mt_reserve. */
void mt_insert(struct mt_spare *sp, struct maptree *t, uint64_t key,
               struct vm_map_entry *e, uint64_t gap);
void mt_remove(struct mt_spare *sp, struct maptree *t, uint64_t key,
               const struct vm_map_entry *e);
/* The gap before e (in t under key) is now gap. */
void mt_set_gap(struct maptree *t, uint64_t key, const struct vm_map_entry *e,
                uint64_t gap);
/* => the first entry at or after e (in t under key) whose gap is at
 *    least len, or NULL. */
struct vm_map_entry *mt_find_gap(const struct maptree *t, uint64_t key,
                                 const struct vm_map_entry *e, uint64_t len);
/* Frees every node (the entries are the map's to free). */
void mt_fini(struct mt_spare *sp, struct maptree *t);

/*
 * The tree's own invariants (nodes filled, keys ascending, each node's
 * key the lowest below it and its gap the largest, all leaves at the
 * tree's height), and each entry in order to fn with the key and gap the
 * leaf holds, for the caller to check against its list.  => entries.
 */
uint64_t mt_check(const struct maptree *t, struct check *ck,
                  void (*fn)(void *arg, uint64_t key, uint64_t gap,
                             const struct vm_map_entry *e),
                  void *arg);

#endif
