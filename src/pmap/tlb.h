/*
 * The software TLB in front of the page tables: direct mapped, tagged by
 * address-space id (asid) and virtual page number.  An entry grants
 * write only once the PTE's modified bit is set (as MIPS's dirty bit), so a
 * hit never has to update a PTE.  Address-space ids are never reused, so
 * giving a pmap a new asid drops all its entries in O(1).
 */
#ifndef XVM_TLB_H
#define XVM_TLB_H

#include <stdbool.h>
#include <stdint.h>

struct dev_seg;

#define TLB_ENTRIES_MAX (1u << 20)

struct tlbent {
    uint64_t vpn;
    uint64_t asid;       /* 0: invalid */
    uint8_t *host;       /* host bytes of the frame */
    uint64_t pa;         /* physical address of the frame */
    unsigned perm;       /* XVM_PROT_* granted by this entry */
    unsigned shift;      /* the mapping's size for the CPU's TLB model:
                            the page shift, or a super page's */
    struct dev_seg *dev; /* device (flash) page: its segment */
};

struct tlb {
    struct tlbent *ent;
    uint64_t mask;
    uint64_t hits, misses, flushes; /* counters */
};

static inline struct tlbent *tlb_slot(const struct tlb *t, uint64_t asid,
                                      uint64_t vpn)
{
    return &t->ent[(vpn ^ (asid >> 40)) & t->mask];
}

/* => the entry translating vpn for access, counting the hit; NULL (and a
 *    miss counted) when the MMU must walk the tables. */
static inline struct tlbent *tlb_lookup(struct tlb *t, uint64_t asid,
                                        uint64_t vpn, unsigned access)
{
    struct tlbent *e = tlb_slot(t, asid, vpn);
    if (e->asid == asid && e->vpn == vpn && (e->perm & access) == access) {
        t->hits++;
        return e;
    }
    t->misses++;
    return NULL;
}

static inline void tlb_invalidate(struct tlb *t, uint64_t asid, uint64_t vpn)
{
    struct tlbent *e = tlb_slot(t, asid, vpn);
    if (e->asid == asid && e->vpn == vpn)
        e->asid = 0;
}

#endif
