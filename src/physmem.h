/*
 * Physical memory: RAM segments, whose frames each have a vm_page, and
 * device segments (paper §6.3), which have none.
 *
 * A page handle (pageh) follows the paper (§6.2, §7.1): it is either a RAM
 * page, encoded as its index in the vm_page array shifted left by one, or a
 * device page, encoded as its physical address with the low bit set.  Only
 * RAM pages are ever dereferenced.
 */
#ifndef XVM_PHYSMEM_H
#define XVM_PHYSMEM_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t pageh;
#define PAGEH_NONE UINT64_MAX

struct xvm_machine;
struct pv_entry;
struct xvm_object;
struct anon;

/* vm_page flags */
#define PG_FREE 0x01            /* on the free list */
#define PG_BUSY 0x02            /* being filled; not yet visible */

/* One RAM frame's metadata: the vm_page. */
struct vm_page {
    uint8_t *data;              /* host memory of the frame, allocated lazily */
    struct pv_entry *pv;        /* mappings of this page */
    union {
        struct xvm_object *obj;     /* owner, for object pages */
        struct anon *anon;      /* owner, for anon pages */
        struct pv_entry **ptpv; /* leaf tables: each PTE's PV entry */
    } owner;
    uint64_t offset;            /* object offset; PT pages: valid entries */
    uint32_t next_free;         /* free-list link (index) */
    uint32_t epoch;             /* PT pages: write-protect epoch (pmap.c) */
    uint32_t wire;              /* wire count: 16 bits wrapped at 65536 wired PTEs */
    uint8_t use;                /* enum xvm_use */
    uint8_t flags;
};

struct ram_seg {
    uint64_t pa, npages;
    uint32_t first;             /* index of its first vm_page */
};

struct dev_seg {
    uint64_t pa, npages;
    const uint8_t *data;
    uint32_t ns_access, ns_byte;    /* read-cost model of the device */
};

struct physmem {
    struct vm_page *pages;      /* every RAM frame */
    uint32_t npages;
    uint32_t free_head, nfree;
    uint32_t fresh;             /* frames from here on were never used */
    struct ram_seg ram;
    struct dev_seg *dev;
    unsigned ndev;
};

static inline bool page_is_device(pageh h)
{
    return (h & 1) != 0;
}

static inline pageh page_device(uint64_t pa)
{
    return pa | 1;
}

static inline pageh page_ram(uint32_t index)
{
    return (pageh)index << 1;
}

int phys_init(struct xvm_machine *m, uint64_t ram_pa, uint64_t ram_bytes);
void phys_fini(struct xvm_machine *m);

/* phys_page() and phys_lookup() are inline, in machine.h: page-table
 * walks call them at every level. */
uint64_t phys_addr(const struct xvm_machine *m, pageh h);
/* => the device page for pa, or PAGEH_NONE when no segment has it. */
pageh phys_lookup_device(const struct xvm_machine *m, uint64_t pa);
/* => host bytes of the page (RAM data or the device's backing store). */
uint8_t *phys_data(struct xvm_machine *m, pageh h);

/*
 * Frame allocation, O(1).
 * => use: enum xvm_use (not FREE); zero: clear the frame.
 * => 0, or ENOMEM when RAM (or host memory for the frame) ran out.
 */
int phys_alloc(struct xvm_machine *m, int use, bool zero, pageh *out);
void phys_free(struct xvm_machine *m, pageh h);

int phys_load_device(struct xvm_machine *m, uint64_t pa, uint64_t len,
                     const void *data);
/* => EBUSY while any page of the segment at pa is mapped. */
int phys_unload_device(struct xvm_machine *m, uint64_t pa);
/* => the device segment holding pa, or NULL. */
struct dev_seg *phys_dev_seg(const struct xvm_machine *m, uint64_t pa);
/* phys_dev_read() (counts and costs n bytes read in place from device
 * memory) is inline, in machine.h: the TLB-hit path calls it. */
/* => the lowest 16 MiB boundary above RAM and every device segment. */
uint64_t phys_free_base(const struct xvm_machine *m);

#endif
