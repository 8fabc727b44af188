/*
 * TLB cost models: what a translation costs on the profile's CPU.  They
 * never decide a translation (pmap and the software TLB in tlb.h do); they
 * are told which page of which address space is touched, and how large the
 * mapping is, and answer hit, second-level hit, software refill or hardware
 * walk.  Three models:
 *
 *   TLBM_DIRECT  N slots, direct mapped by the low bits of the virtual page
 *                number; a miss runs a software refill (the simulator's own
 *                software TLB, as a cost).
 *   TLBM_R4K     MIPS R4000-class joint TLB: `entries` (48) fully
 *                associative entries shared by fetches and data, each
 *                mapping an even/odd pair of pages (VPN2) of one page-mask
 *                size (4K, 16K, 64K, 256K, 1M, 4M, 16M pages); a miss runs
 *                the software refill handler (refill_cycles).
 *   TLBM_AMD64   split first-level TLBs, one for fetches and one for data,
 *                each with a 4 KiB array and a 2 MiB array, behind a
 *                unified second-level TLB (STLB); every array set
 *                associative with LRU; a miss everywhere runs the hardware
 *                walker, whose page-table reads the caller sends through
 *                the data cache.
 *
 * Replacement.  Set-associative arrays use LRU.  The R4000 refills with
 * `tlbwr`, which writes the entry its Random register names (a counter
 * stepping every cycle between Wired and 47): not reproducible.  This
 * model replaces round robin instead: a victim pointer that steps down
 * once per refill from entries-1 to `wired`, then wraps.  Like Random it
 * knows nothing of use, unlike Random it gives the same counts every run.
 *
 * Large pages.  The caller passes the mapping's page shift.  R4K: an
 * entry's page mask is that size and it maps the aligned pair of two such
 * pages.  AMD64: 4 KiB entries live in the 4 KiB L1 arrays, 2 MiB entries
 * in the separate 2 MiB L1 arrays (as on Intel since Nehalem and AMD since
 * K10) and, when stlb_large is set, in the shared STLB beside 4 KiB ones
 * (Haswell and later; Sandy Bridge's STLB held only 4 KiB entries).
 *
 * Entries are keyed by (address-space id, virtual page); flushes by page,
 * by address-space id, or all.  No globals: a struct tlbm the caller owns.
 */
#ifndef XVM_CPU_TLBMODEL_H
#define XVM_CPU_TLBMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h" /* XVM_INLINE */

enum tlbm_kind { TLBM_DIRECT, TLBM_R4K, TLBM_AMD64 };

/* One array: entries in total, ways per set (== entries: fully assoc). */
struct tlbm_shape {
    uint32_t entries, ways;
};

struct tlbm_config {
    enum tlbm_kind kind;
    uint32_t entries;       /* DIRECT: slots, a power of two; R4K: pairs */
    uint32_t wired;         /* R4K: entries [0, wired) never replaced */
    uint32_t refill_cycles; /* DIRECT, R4K: the refill handler's cost */
    uint32_t walk_reads;    /* table reads of one refill or 4 KiB walk */
    /* AMD64 only. */
    struct tlbm_shape itlb, dtlb;             /* 4 KiB, first level */
    struct tlbm_shape itlb_large, dtlb_large; /* 2 MiB, first level */
    struct tlbm_shape stlb;                   /* unified second level */
    bool stlb_large;      /* the STLB holds 2 MiB entries too */
    uint32_t stlb_cycles; /* a first-level miss that hits the STLB */
    /* The large page's shift (21: 2 MiB; 20 for an ARM short-descriptor
     * section).  Its walk stops one level early: walk_reads - 1 reads. */
    uint32_t large_shift;
};

/* Results of tlbm_access. */
#define TLBM_HIT    0u /* first-level hit: free */
#define TLBM_HIT_L2 1u /* AMD64: STLB hit, stlb_cycles */
#define TLBM_REFILL 2u /* DIRECT, R4K: refill handler, refill_cycles */
#define TLBM_WALK   3u /* AMD64: hardware walk, tlbm_walk_reads() reads */

/* One set-associative array, each set MRU first. */
struct tlbm_ent {
    uint64_t asid;
    uint64_t key; /* vpn << 6 | page shift; TLBM_NONE: empty */
};
#define TLBM_NONE UINT64_MAX

struct tlbm_array {
    struct tlbm_ent *ent;
    uint32_t ways;
    uint64_t set_mask;
    uint64_t hits, misses;
};

/* An R4000 joint-TLB entry: the pair of 2^shift pages at vpn2 << (shift+1). */
struct tlbm_pair {
    uint64_t asid;
    uint64_t vpn2; /* TLBM_NONE: empty */
    uint32_t shift;
};

/*
 * The entry each side (data, fetch) used last, as the range it covers
 * (an R4K pair: both pages).  It is MRU wherever it sits, so using it
 * again changes nothing: tlbm_access answers a hit inline.  Evicting an
 * entry of a shared structure, and every flush, forgets the memos.
 */
struct tlbm_memo {
    uint64_t asid;
    uint64_t vpn; /* va >> shift; TLBM_NONE: nothing */
    uint32_t shift;
};

struct tlbm_stats {
    uint64_t lookups[2];         /* [0] data, [1] fetch */
    uint64_t misses[2];          /* first-level misses (R4K, DIRECT: refills) */
    uint64_t l2_hits, l2_misses; /* AMD64 STLB */
    uint64_t refills;            /* software refills (DIRECT, R4K) */
    uint64_t walks, walk_reads;  /* AMD64 hardware walks and their reads */
};

/* R4K hint slots (tlbm_hint). */
#define TLBM_HINT_BITS 10
#define TLBM_HINTS     (1u << TLBM_HINT_BITS)

struct tlbm {
    struct tlbm_config cfg;
    struct tlbm_memo memo[2];
    struct tlbm_stats st;
    /* DIRECT: arr[0] (one way); AMD64: the five arrays below. */
    struct tlbm_array arr[5];
    /* R4K. */
    struct tlbm_pair *pair;
    uint8_t hint[TLBM_HINTS]; /* tlbm_hint(asid, va) -> pair index */
    uint32_t victim;          /* next round-robin victim */
    uint64_t shifts_seen;     /* bit n: a 2^n entry was ever made */
    /* [exec][large]: the array whose MRU way, when it matches, is a hit
     * that changes nothing (DIRECT: its slots; AMD64: the L1 arrays). */
    struct tlbm_array *l1[2][2];
};

/* AMD64 array indices in arr[]. */
enum { TLBM_ITLB, TLBM_DTLB, TLBM_ITLB2M, TLBM_DTLB2M, TLBM_STLB };

/*
 * Defaults.  DIRECT: 256 slots, 2 walk reads (sgimips' two-level tables),
 * 20-cycle refill.  R4K: 48 pairs, wired 0, refill 20 cycles (NetBSD's
 * UTLB miss handler is about a dozen instructions plus its loads), 3 reads
 * (segment table, even and odd PTE).  AMD64 (Skylake): ITLB 128/8, DTLB
 * 64/4, ITLB-2M 8/8, DTLB-2M 32/4, STLB 1536/12 holding 2 MiB too,
 * 9-cycle STLB hit, 4 walk reads.
 */
void tlbm_config_default(struct tlbm_config *cfg, enum tlbm_kind kind);

/*
 * tlbm_init: an empty model in caller-owned t.
 * => DIRECT entries a power of two; R4K 1..255 entries, wired below them;
 *    AMD64 arrays with ways dividing entries and a power-of-two set count.
 * => 0; EINVAL with a message naming the field; ENOMEM.  Host memory:
 *    16 bytes per entry of every array (24 per R4K pair), from malloc.
 */
int tlbm_init(struct tlbm *t, const struct tlbm_config *cfg, char *err,
              size_t errlen);
void tlbm_fini(struct tlbm *t);

/* => whether a mapping of 2^shift bytes can be held: R4K 12..24 even;
 *    AMD64 12 or large_shift (21); DIRECT any from 12 to 40. */
bool tlbm_page_ok(const struct tlbm *t, unsigned shift);

/* => table reads of one refill or walk for a 2^shift page (AMD64: one
 *    fewer for large pages, whose PDE is the leaf). */
unsigned tlbm_walk_reads(const struct tlbm *t, unsigned shift);

/* R4K: the hint slot of (asid, va): which pair last served its 8 KiB.
 * A multiplicative hash, so that the pages a program goes between (its
 * text, its libraries, its stack) rarely share a slot: a hint that
 * misses costs a scan of the pairs. */
static inline unsigned tlbm_hint(uint64_t asid, uint64_t va)
{
    uint64_t h =
        ((va >> 13) ^ asid ^ (asid >> 40)) * UINT64_C(0x9e3779b97f4a7c15);
    return (unsigned)(h >> (64 - TLBM_HINT_BITS));
}

unsigned tlbm_access_slow(struct tlbm *t, uint64_t asid, uint64_t va, bool exec,
                          unsigned shift);

/*
 * tlbm_access: a fetch (exec) or a data access at va in address space asid,
 * through a mapping of 2^shift bytes (tlbm_page_ok(shift) must hold).
 * => TLBM_HIT, TLBM_HIT_L2, TLBM_REFILL or TLBM_WALK; the entry is then
 *    present.  On TLBM_WALK the caller sends its page-table reads (the
 *    PTEs its pmap walk touches, tlbm_walk_reads() of them) through the
 *    data cache, and may do the same with a refill handler's loads.
 * => decided inline, without a call, when the side's last page repeats,
 *    the page is the MRU way of its first-level set, or (R4K) the hint
 *    names a pair covering it: none of these changes any state.
 * => when a mapping changes size (a super page made or demoted), flush
 *    its page first, as an OS must on real hardware: lookups use the
 *    arrays for the size passed.
 */
static XVM_INLINE bool tlbm_quick(const struct tlbm *t, uint64_t asid,
                                  uint64_t va, bool exec, unsigned shift,
                                  struct tlbm_memo *m, struct tlbm_array **arr);

static XVM_INLINE unsigned tlbm_access(struct tlbm *t, uint64_t asid,
                                       uint64_t va, bool exec, unsigned shift)
{
    struct tlbm_array *a = NULL;
    t->st.lookups[exec]++;
    if (!tlbm_quick(t, asid, va, exec, shift, &t->memo[exec], &a))
        return tlbm_access_slow(t, asid, va, exec, shift);
    if (a != NULL)
        a->hits++;
    return TLBM_HIT;
}

/* => whether the memo m covers va in asid. */
static XVM_INLINE bool tlbm_memo_covers(const struct tlbm_memo *m,
                                        uint64_t asid, uint64_t va)
{
    return va >> m->shift == m->vpn && m->asid == asid;
}

/*
 * tlbm_quick apart from the memo: the page is the MRU way of its
 * first-level set, or (R4K) the hint names a pair covering it.
 * => true, with *m the entry and *arr the first-level array whose hit it
 *    is (NULL: a pair's); false: not such a hit.
 */
static XVM_INLINE bool tlbm_quick_entry(const struct tlbm *t, uint64_t asid,
                                        uint64_t va, bool exec, unsigned shift,
                                        struct tlbm_memo *m,
                                        struct tlbm_array **arr)
{
    struct tlbm_array *a = t->l1[exec][shift != 12];
    if (a != NULL) {
        uint64_t vpn = va >> shift;
        const struct tlbm_ent *e = a->ent + (vpn & a->set_mask) * a->ways;
        if (e->key == (vpn << 6 | shift) && e->asid == asid) {
            *arr = a;
            *m = (struct tlbm_memo){ asid, vpn, shift };
            return true;
        }
    } else if (t->pair != NULL) {
        const struct tlbm_pair *p = &t->pair[t->hint[tlbm_hint(asid, va)]];
        if (va >> (p->shift + 1) == p->vpn2 && p->asid == asid) {
            *arr = NULL;
            *m = (struct tlbm_memo){ asid, p->vpn2, p->shift + 1 };
            return true;
        }
    }
    return false;
}

/*
 * tlbm_access's hits that change no state, without counting them: the
 * memo *m (the side's, or a copy of it) covers va, or tlbm_quick_entry.
 * => true, with *m the entry used and *arr the first-level array whose
 *    hit it was (NULL: none, the memo's or a pair's); false: a lookup
 *    that changes state, tlbm_access_slow's.
 */
static XVM_INLINE bool tlbm_quick(const struct tlbm *t, uint64_t asid,
                                  uint64_t va, bool exec, unsigned shift,
                                  struct tlbm_memo *m, struct tlbm_array **arr)
{
    if (tlbm_memo_covers(m, asid, va)) {
        *arr = NULL;
        return true;
    }
    return tlbm_quick_entry(t, asid, va, exec, shift, m, arr);
}

/* Drops every entry covering va in asid, of any size. */
void tlbm_flush_page(struct tlbm *t, uint64_t asid, uint64_t va);
/* Drops every entry of asid (O(entries)). */
void tlbm_flush_asid(struct tlbm *t, uint64_t asid);
void tlbm_flush_all(struct tlbm *t);

/*
 * tlbm_check: entries in their own set, no key twice in a set, empty ways
 * last; R4K: no two entries covering one address of one asid.
 * => 0, or EINVAL with a message.
 */
int tlbm_check(const struct tlbm *t, char *err, size_t errlen);

#endif
