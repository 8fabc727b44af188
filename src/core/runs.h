/*
 * A sparse array of 32- or 64-bit words by 64-bit index, 0 meaning
 * "none": words sit in chunks of RUNS_LEN, one chunk per run of indexes
 * holding any word, found through a hash of run numbers.  For what is
 * dense in practice but must cost only what it holds: an object's
 * resident pages by page number (UVM keeps them in a tree per object),
 * a file's pages in its accounting.  A dense run costs its words plus 1
 * to 2 bytes each (its chunk's slot in the hash, kept at most half
 * full); a word alone in its run costs a chunk and a slot.
 * Memory comes from the machine's allocator.
 */
#ifndef XVM_RUNS_H
#define XVM_RUNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "hmap.h"

#define RUNS_LEN 32 /* indexes a chunk covers */

struct core;

struct runs {
    struct hmap chunks; /* run number (index / RUNS_LEN) -> its chunk */
    uint64_t n;         /* words held (not 0) */
    unsigned width;     /* a word's bytes: 4 or 8 */
};

/* Where an iteration stands: for (struct runs_pos p = { 0 };
 * runs_next(r, &p, &i, &w);) visits every word held once, in no
 * particular order, while nothing is set. */
struct runs_pos {
    size_t slot; /* the chunks' next slot */
    const void *chunk;
    uint64_t run;
    unsigned at; /* the chunk's next word */
};

void runs_init(struct runs *r, unsigned width);
void runs_fini(struct core *c, struct runs *r);
uint64_t runs_get(const struct runs *r, uint64_t i);
/* Sets word i to w (0 removes it; a 4-byte word keeps w's low half).
 * => 0, or ENOMEM (nothing changed); a removal never fails. */
int runs_set(struct core *c, struct runs *r, uint64_t i, uint64_t w);
bool runs_next(const struct runs *r, struct runs_pos *pos, uint64_t *i,
               uint64_t *w);
/* Fails ck on a chunk kept with no word, or a count not the words held. */
void runs_check(const struct runs *r, struct check *ck);

#endif
