/*
 * pmap: per-address-space page tables in simulated RAM, PV tracking and
 * the emulated MMU's table walk, in the spirit of NetBSD's pmap(9).
 *
 * PTE layout (4 or 8 bytes, in the profile's byte order):
 *   frame number << 12 | flags in the low 12 bits.
 * Non-leaf entries hold the next table's frame with PTE_V.
 */
#ifndef XVM_PMAP_H
#define XVM_PMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "core.h"
#include "counter.h"
#include "cpu.h"
#include "hmap.h"
#include "physmem.h"
#include "pool.h"
#include "tlb.h"

#define PTE_V     0x001
#define PTE_R     0x002
#define PTE_W     0x004
#define PTE_X     0x008
#define PTE_U     0x010
#define PTE_REF   0x020
#define PTE_MOD   0x040
#define PTE_WIRED 0x080
#define PTE_LG    0xf00 /* a super page's page: its shift - 12 (0: none) */
#define PTE_FLAGS 0xfffULL

/* The page shift of the mapping a PTE belongs to (a super page's). */
static inline unsigned pte_shift(uint64_t pte, unsigned pgshift)
{
    unsigned lg = (unsigned)(pte & PTE_LG) >> 8;
    return lg ? lg + 12 : pgshift;
}

/* Entries of a table per host chunk (pmap.c). */
#define PT_CHUNK_SHIFT 5
#define PT_CHUNK       (1u << PT_CHUNK_SHIFT)

/* The kinds of a table's host pieces (pmap.c): a directory, a chunk. */
enum { PT_DIR, PT_CHUNKS, PT_KINDS };

/* A page table's host form (pmap.c, "tables"), which its frame's
 * vm_page points to (owner.ptdir): its counts, then its chunks. */
struct pt_dir {
    uint32_t valid;   /* valid entries */
    uint32_t epoch;   /* a leaf's: the pmap epoch it is current with */
    uint8_t *chunk[]; /* the mmu's nchunk; NULL: never made */
};

/* A block of host memory a pmap carves its tables' pieces from. */
struct pt_block {
    struct pt_block *next;
    size_t size;    /* bytes of data */
    uint8_t data[]; /* 16-byte aligned, as malloc's */
};

struct pv_entry {
    struct pv_entry *next, *prev; /* the page's list; prev NULL at head */
    struct pmap *pmap;
    uint64_t va;
    bool charged; /* kernel memory (kmem); else held by the vm_page */
};

/* The layer's state: the MMU, the TLB and every pmap of a machine. */
struct mmu {
    struct core *core;
    const struct profile *prof; /* core's, at hand */
    struct physmem *ph;
    struct cpu *cpu;       /* its TLB model drops what the TLB drops */
    unsigned lvl_shift[4]; /* VA shift of each page-table level */
    struct tlb tlb;
    /* Asid 0: never hits.  An asid with no entry yet reads it instead of
     * its slots (pmap_window): one line in the caches for every new
     * address space's first accesses, not a slot of its own out of them. */
    struct tlbent tlb_empty;
    enum xvm_device_design design; /* where device pages' PV lists live */
    struct hmap devpv;   /* segment design: device pa -> PV list head (§6.3) */
    struct pool pv_pool; /* recycled PV entries a vm_page holds */
    /* A table's host form (pmap.c, "tables"): a directory of chunks of
     * PT_CHUNK entries, each made when one of its entries is first set,
     * from its pmap's blocks. */
    size_t pt_size[PT_KINDS];   /* bytes of each kind */
    struct pool blk_pool[5];    /* pmaps' blocks gone, by size (pmap.c) */
    unsigned nchunk;            /* chunks a directory holds */
    uint64_t next_asid;         /* never reused: stale TLB tags stay stale */
    uint64_t fast_hits_gone[3]; /* fast_hits of pmaps that are gone */
    struct pmap *pmaps;         /* every live pmap */
    /* Counters (and the TLB's, in tlb). */
    struct gauge pv;            /* PV entries */
    struct gauge pv_device;     /* PV entries of device pages */
    struct gauge device_mapped; /* device pages with at least one mapping
                                   (not known under amap-copy: 0) */
    uint64_t superpages;        /* super pages entered */
    uint64_t demotions;         /* super pages split back into pages */
};

/* What the access path and the walk read comes first (one cache line
 * with the address space that holds it, vmspace.h). */
struct pmap {
    struct mmu *mmu;
    uint64_t asid;
    /* The hit path's view of the TLB (tlb.h), from the pmap alone: its
     * window, the page number's index into it in bytes
     * ((va >> tlb_shift) & tlb_maskb), a page's base (va & page_mask),
     * and its hits by kind (cpu.h's "fast"; mmu_fast_hits sums them). */
    /* The size the hit path takes: 8, or SIZE_MAX when no entry has fast
     * tags (the CPU model on). */
    size_t fast_n;
    /* tlb_empty, masks 0, while the asid has no entry (pmap_window). */
    struct tlbent *tlb_win;
    uint64_t tlb_maskb;
    uint64_t page_mask;
    uint64_t fast_hits[3];
    uint64_t tlb_mask; /* the full path's: the window's slots, less one */
    unsigned pgshift;
    uint32_t epoch; /* bumped to write-protect everything lazily */
    /* pmap_translate's hint: the chunk of the last leaf PTE it found (its
     * table current), va >> the chunk's span, the table's directory. */
    uint8_t *hint_chunk; /* or NULL */
    uint64_t hint_ckey;
    struct pt_dir *hint_cdir;
    uint64_t hint_key;       /* va >> leaf span of the last leaf found */
    struct pt_dir *hint_dir; /* its directory, or NULL */
    pageh root;
    struct pt_dir *root_dir;  /* root's */
    uint64_t ptpages;         /* table pages, root included */
    uint64_t resident;        /* valid leaf PTEs */
    bool model_flushed;       /* pmap_remove flushed the TLB model whole */
    struct pmap *next, *prev; /* the mmu's list */
    /* Its tables' host pieces, from its own blocks so that an address
     * space's tables sit together (pmap.c, "tables"). */
    struct pt_block *blocks;       /* newest first */
    size_t blk_used;               /* bytes of the newest block carved */
    struct pool pt_free[PT_KINDS]; /* pieces freed, by kind */
};

/* pmap_enter flags */
#define PMAP_WIRED     0x1
#define PMAP_NEIGHBOUR 0x2 /* a fault-ahead mapping (paper §11.2) */
#define PMAP_LG(shift) (((shift)-12u) << 8) /* a super page's page */
#define PMAP_LG_MASK   PTE_LG

/* The hit path's TLB index is compiled for this page shift (access.c):
 * with another, no entry has fast tags and every hit takes the full path. */
#define PMAP_FAST_PGSHIFT 12

/* => whether TLB entries get fast tags: the CPU model off, 4 KiB pages
 *    and a TLB of four entries or more (tlb.h, tlb_fast_none). */
bool mmu_fast(const struct mmu *mu);

/* => fast[kind]: the hit path's accesses (pmap fast_hits), all pmaps'. */
void mmu_fast_hits(const struct mmu *mu, uint64_t fast[3]);

/* => ENOMEM (host memory for the TLB) or EINVAL (its size). */
int mmu_init(struct mmu *mu, struct core *core, struct physmem *ph,
             struct cpu *cpu, unsigned tlb_entries,
             enum xvm_device_design design);
void mmu_fini(struct mmu *mu);

/* A pmap in the caller's storage (an address space keeps its pmap beside
 * its other hot fields): => 0 or ENOMEM; pmap_fini undoes it. */
int pmap_init(struct mmu *mu, struct pmap *pm);
void pmap_fini(struct pmap *pm);

/*
 * => prot: XVM_PROT_*; never write for a device page (EINVAL).
 * => 0, or ENOMEM when a page table or PV entry could not be had; the
 *    pmap is then unchanged but for empty tables it may have gained.
 */
int pmap_enter(struct pmap *pm, uint64_t va, pageh pg, unsigned prot,
               unsigned flags);
/*
 * A super page (paper §11 "Super pages", §4.2): the device pages of
 * [pa, pa + 2^shift) at [va, va + 2^shift), both aligned, entered as one
 * large mapping.  Its PTEs are the run's 4 KiB PTEs (each with its PV
 * entry), marked PTE_LG with the shift, so the software TLB and every
 * walk stay per page while the CPU's TLB model sees one entry.  Anything
 * that changes one page of it (an enter of another page, a protection
 * change, a removal) first demotes the whole run to plain pages.
 * => prot: no write.  0; EINVAL (not device memory, not aligned, write);
 *    ENOMEM (then nothing of it is left mapped but what was before).
 */
int pmap_enter_large(struct pmap *pm, uint64_t va, uint64_t pa, unsigned shift,
                     unsigned prot);
void pmap_remove(struct pmap *pm, uint64_t sva, uint64_t eva);
/* Lowers the protection of every mapping in [sva, eva) to at most prot. */
void pmap_protect(struct pmap *pm, uint64_t sva, uint64_t eva, unsigned prot);
/* Lowers every mapping of page pg (through its PV list) to at most prot.
 * Under the amap-copy design a device page has no PV list: never asked. */
void pmap_page_protect(struct mmu *mu, pageh pg, unsigned prot);
/* => whether mappings of pg are tracked (all but device pages under
 *    amap-copy). */
static inline bool pmap_tracks(const struct mmu *mu, pageh pg)
{
    return !page_is_device(pg) || mu->design != XVM_DESIGN_AMAP_COPY;
}
/* => 0 and *pa, or EFAULT when va is not mapped. */
int pmap_extract(struct pmap *pm, uint64_t va, uint64_t *pa);
bool pmap_is_modified(struct mmu *mu, pageh pg);
bool pmap_is_referenced(struct mmu *mu, pageh pg);
void pmap_clear_modify(struct mmu *mu, pageh pg);
void pmap_clear_reference(struct mmu *mu, pageh pg);
void pmap_unwire(struct pmap *pm, uint64_t va);
/* Write-protects every mapping in O(1) (fork): see pmap.c. */
void pmap_write_protect_all(struct pmap *pm);
/* => how many mappings page pg has (its PV list's length). */
unsigned pmap_pv_count(const struct mmu *mu, pageh pg);
/* => true while some page of [pa, pa+len) of device memory is mapped
 *    (each device segment counts its mappings, in every design). */
bool pmap_device_mapped(const struct mmu *mu, uint64_t pa, uint64_t len);

/*
 * The MMU's table walk on a TLB miss.  Sets referenced (and modified on
 * write) in the PTE and fills the TLB entry.
 * => EFAULT: no valid PTE; EACCES: the PTE does not allow access.
 */
int pmap_translate(struct pmap *pm, uint64_t va, unsigned access,
                   struct tlbent **out);

/* vpn's slot in the software TLB as pm sees it (tlb_empty while its asid
 * has no entry): what every lookup and drop of pm's entries reads. */
static inline struct tlbent *pmap_tlb_slot(const struct pmap *pm, uint64_t vpn)
{
    return &pm->tlb_win[vpn & pm->tlb_mask];
}

/* Asks the host for the lines a walk and a fault's pmap_enter at va
 * will read, all at once (core.h, XVM_PREFETCH); changes nothing. */
void pmap_prefetch(const struct pmap *pm, uint64_t va);

/* The leaf PTE for va, or 0; no table is made current. */
uint64_t pmap_pte(struct pmap *pm, uint64_t va);
/*
 * The physical addresses of the table entries a walk for va reads, root
 * first: one per level, then the leaf's pair partner (the R4000 refill
 * loads the even and odd PTE).  Changes nothing.  => how many (levels+1),
 * or 0 when no table maps va.
 */
unsigned pmap_walk_pas(struct pmap *pm, uint64_t va, uint64_t pas[5]);
/* What a PTE allows, as XVM_PROT_* (write only if the PTE has it). */
unsigned pte_prot(uint64_t pte);
/* The page a PTE maps. */
pageh pte_page(const struct mmu *mu, uint64_t pte);

/* A table's directory (its counts), for tests. */
struct pt_dir *pmap_table_dir(const struct mmu *mu, pageh table);
/* Test access to a table's raw entry i (profile width and byte order),
 * or NULL when its chunk was never made (the entry is 0); to a leaf
 * table's PV pointer of entry i, or NULL likewise. */
uint8_t *pmap_table_entry(const struct mmu *mu, pageh table, unsigned i);
struct pv_entry **pmap_table_pv(const struct mmu *mu, pageh leaf, unsigned i);

/* Visits every valid leaf PTE of pm in address order. */
typedef void (*pte_visit_fn)(void *arg, uint64_t va, uint64_t pte);
void pmap_visit(struct pmap *pm, pte_visit_fn fn, void *arg);

/*
 * The same as the MMU sees them: a write bit in a table that a fork
 * write-protected lazily (stale, see pmap.c) counts as cleared.  Nothing
 * is changed (introspection).
 */
uint64_t pmap_pte_current(struct pmap *pm, uint64_t va);
void pmap_visit_current(struct pmap *pm, pte_visit_fn fn, void *arg);

/*
 * The layer's invariants: every pmap's tables count their valid entries,
 * every valid PTE maps a managed, used page and has its PV entry beside
 * it, PV lists and PTEs are the same sets, wire counts equal wired PTEs,
 * and live TLB entries grant no more than the PTEs they cache.
 */
void mmu_check(struct mmu *mu, struct check *ck);

#endif
