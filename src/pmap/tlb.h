/*
 * The software TLB in front of the page tables: direct mapped, tagged by
 * address-space id (asid) and virtual page number.  An entry grants
 * write only once the PTE's modified bit is set (as MIPS's dirty bit), so a
 * hit never has to update a PTE.  Address-space ids are never reused, so
 * giving a pmap a new asid drops all its entries in O(1).
 *
 * Each address space sees a window of the table: its slots start at an
 * offset taken from its asid's high bits (its base, which the pmap keeps)
 * and the page number's low bits index from there, so the table holds
 * twice its size less one entry and a lookup is a shift, a mask and an
 * add from the pmap alone.  Until its asid's first entry, an address
 * space's window is one entry that never hits (the mmu's tlb_empty, mask
 * 0): a new process's first accesses then read a line every process
 * shares, not a slot of its own that no access has brought in.  An entry
 * is 128 bytes (1 << TLB_ENT_SHIFT) so that the shift of the address and
 * the entry's size are one shift.
 *
 * The hit path (access.c) reads one word per access kind: fast[k] is the
 * page's base address while the entry grants kind k to the hit path (a
 * RAM page, the CPU model off), else tlb_fast_none(): the base of the
 * page two after it, which no access whose first byte indexes this slot
 * can reach (windows of four slots or more).  The hit path takes the
 * offset of the access's last byte from it and hits when that is within
 * a page.  It is a cache of what asid, vpn, perm and dev say, never more.
 */
#ifndef XVM_TLB_H
#define XVM_TLB_H

#include <stdbool.h>
#include <stdint.h>

struct dev_seg;

#define TLB_ENTRIES_MAX (1u << 20)
#define TLB_ENT_SHIFT   7

struct tlbent {
    /* What the hit path reads, first. */
    uint64_t fast[3]; /* per access kind (cpu.h's CPU_FETCH, _LOAD,
                            _STORE): the page's base va, or
                            tlb_fast_none() */
    uint64_t asid;    /* 0: invalid */
    uintptr_t delta;  /* host - page base va, modulo 2^64 */
    uint64_t vpn;
    uint8_t *host;       /* host bytes of the frame */
    uint64_t pa;         /* physical address of the frame */
    unsigned perm;       /* XVM_PROT_* granted by this entry */
    unsigned shift;      /* the mapping's size for the CPU's TLB model:
                            the page shift, or a super page's */
    struct dev_seg *dev; /* device (flash) page: its segment */
    uint8_t pad_[(1u << TLB_ENT_SHIFT) - 80];
};
_Static_assert(sizeof(struct tlbent) == 1u << TLB_ENT_SHIFT,
               "a TLB entry is 1 << TLB_ENT_SHIFT bytes");

struct tlb {
    struct tlbent *ent; /* 2 * (mask + 1) - 1 entries */
    uint64_t mask;      /* entries an address space sees, less one */
    uint64_t hits, misses, flushes; /* counters (hits: see cpu.h's
                                       fast_hits for the hit path's) */
};

/* The entries of the table, the windows' overlap included. */
static inline uint64_t tlb_size(const struct tlb *t)
{
    return 2 * t->mask + 1;
}

/* The first slot of asid's window. */
static inline struct tlbent *tlb_base(const struct tlb *t, uint64_t asid)
{
    return &t->ent[(asid >> 40) & t->mask];
}

/* The fast tag of a kind the entry of vpn does not grant fast. */
static inline uint64_t tlb_fast_none(uint64_t vpn, unsigned pgshift)
{
    return (vpn + 2) << pgshift;
}

static inline struct tlbent *tlb_slot(const struct tlb *t, uint64_t asid,
                                      uint64_t vpn)
{
    return &tlb_base(t, asid)[vpn & t->mask];
}

/* e: vpn's slot in the window the asid's pmap reads (tlb_empty before
 * its first entry).  => e when it translates vpn for access, counting the
 * hit; NULL (and a miss counted) when the MMU must walk the tables. */
static inline struct tlbent *tlb_lookup(struct tlb *t, struct tlbent *e,
                                        uint64_t asid, uint64_t vpn,
                                        unsigned access)
{
    if (e->asid == asid && e->vpn == vpn && (e->perm & access) == access) {
        t->hits++;
        return e;
    }
    t->misses++;
    return NULL;
}

/* e: vpn's slot in the asid's window, as tlb_lookup's. */
static inline void tlb_invalidate(struct tlbent *e, uint64_t asid, uint64_t vpn)
{
    if (e->asid == asid && e->vpn == vpn)
        e->asid = 0;
}

#endif
