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

#include "physmem.h"

#define PTE_V 0x001
#define PTE_R 0x002
#define PTE_W 0x004
#define PTE_X 0x008
#define PTE_U 0x010
#define PTE_REF 0x020
#define PTE_MOD 0x040
#define PTE_WIRED 0x080
#define PTE_FLAGS 0xfffULL

struct xvm_machine;

struct pv_entry {
    struct pv_entry *next, *prev;   /* the page's list; prev NULL at head */
    struct pmap *pmap;
    uint64_t va;
};

struct pmap {
    struct xvm_machine *m;
    pageh root;
    uint64_t asid;
    uint32_t epoch;             /* bumped to write-protect everything lazily */
    uint64_t ptpages;           /* table pages, root included */
    uint64_t resident;          /* valid leaf PTEs */
    uint64_t hint_key;          /* va >> leaf span of the last leaf found */
    pageh hint_leaf;            /* or PAGEH_NONE */
};

/* pmap_enter flags */
#define PMAP_WIRED 0x1
#define PMAP_NEIGHBOUR 0x2       /* a fault-ahead mapping (paper §11.2) */

int pmap_create(struct xvm_machine *m, struct pmap **out);
void pmap_destroy(struct pmap *pm);

/*
 * => prot: XVM_PROT_*; never write for a device page (EINVAL).
 * => 0, or ENOMEM when a page table or PV entry could not be had; the
 *    pmap is then unchanged but for empty tables it may have gained.
 */
int pmap_enter(struct pmap *pm, uint64_t va, pageh pg, unsigned prot,
               unsigned flags);
void pmap_remove(struct pmap *pm, uint64_t sva, uint64_t eva);
/* Lowers the protection of every mapping in [sva, eva) to at most prot. */
void pmap_protect(struct pmap *pm, uint64_t sva, uint64_t eva, unsigned prot);
/* Lowers every mapping of page pg (through its PV list) to at most prot. */
void pmap_page_protect(struct xvm_machine *m, pageh pg, unsigned prot);
/* => 0 and *pa, or EFAULT when va is not mapped. */
int pmap_extract(struct pmap *pm, uint64_t va, uint64_t *pa);
bool pmap_is_modified(struct xvm_machine *m, pageh pg);
bool pmap_is_referenced(struct xvm_machine *m, pageh pg);
void pmap_clear_modify(struct xvm_machine *m, pageh pg);
void pmap_clear_reference(struct xvm_machine *m, pageh pg);
void pmap_unwire(struct pmap *pm, uint64_t va);
/* Write-protects every mapping in O(1) (fork): see pmap.c. */
void pmap_write_protect_all(struct pmap *pm);

/*
 * The MMU's table walk on a TLB miss.  Sets referenced (and modified on
 * write) in the PTE and fills the TLB entry.
 * => EFAULT: no valid PTE; EACCES: the PTE does not allow access.
 */
struct tlbent;
int pmap_translate(struct pmap *pm, uint64_t va, unsigned access,
                   struct tlbent **out);

/* The leaf PTE for va, or 0; no table is made current (for the checker). */
uint64_t pmap_pte(struct pmap *pm, uint64_t va);
/* The PV entry the leaf table holds for va's PTE, or NULL (checker). */
struct pv_entry *pmap_pv_at(struct pmap *pm, uint64_t va);

/* PV lists, for the checker. */
struct pv_entry *pmap_pv_head(struct xvm_machine *m, pageh pg);

/* Visits every valid leaf PTE of pm in address order. */
typedef void (*pte_visit_fn)(void *arg, uint64_t va, uint64_t pte);
void pmap_visit(struct pmap *pm, pte_visit_fn fn, void *arg);
/* Visits every table page of pm (root included) with its valid count. */
typedef void (*table_visit_fn)(void *arg, pageh table, unsigned level,
                               unsigned valid);
void pmap_visit_tables(struct pmap *pm, table_visit_fn fn, void *arg);

uint64_t pte_frame_pa(const struct xvm_machine *m, uint64_t pte);

#endif
