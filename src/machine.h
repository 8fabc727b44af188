/*
 * The machine instance: every piece of state of one simulated machine.
 * Implementation-specific; not part of the public interface.
 */
#ifndef XVM_MACHINE_H
#define XVM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xipvm.h"
#include "hmap.h"
#include "physmem.h"
#include "pool.h"
#include "tlb.h"

/* A machine profile: the sizes that drive translation and accounting. */
struct profile {
    const char *name;
    unsigned page_shift;
    unsigned levels;            /* page-table levels */
    unsigned level_bits[4];     /* index bits per level, root first */
    unsigned pte_size;          /* 4 or 8 bytes */
    unsigned vm_page_size;      /* modelled sizeof(struct vm_page) */
    bool big_endian;            /* byte order of PTEs in simulated RAM */
    unsigned tlb_entries;       /* default software TLB size */
    uint64_t va_max;            /* end of user address space */
};

const struct profile *profile_find(const char *name);

struct xvm_vmspace;

struct xvm_machine {
    const struct profile *prof;
    struct xvm_config cfg;
    uint32_t pgsz;
    unsigned pgshift;
    unsigned lvl_shift[4];      /* VA shift of each page-table level */
    struct physmem phys;
    struct tlb tlb;
    struct hmap devpv;          /* device pa -> PV list head (paper §6.3) */
    struct pool pv_pool;        /* recycled PV entries */
    struct pool anon_pool;      /* recycled anons */
    pageh zero_page;            /* the one shared zero page */
    uint64_t next_asid;         /* never reused: stale TLB tags stay stale */
    struct xvm_vmspace *spaces;     /* every live address space */
    struct xvm_object *objects;     /* every live object */
    struct hmap procs;              /* pid -> struct proc * */
    struct xvm_flash *flashes;      /* every flash device */
    struct xvm_stats st;
    /* Fault injection: the Nth host allocation / frame allocation fails. */
    uint64_t nalloc, fail_alloc_at;
    uint64_t nframe, fail_frame_at;
};

/* Host memory of the simulation; NULL on failure (or injected failure). */
void *m_alloc(struct xvm_machine *m, size_t n);
void *m_zalloc(struct xvm_machine *m, size_t n);
void m_free(struct xvm_machine *m, void *p);

static inline uint64_t m_trunc(const struct xvm_machine *m, uint64_t va)
{
    return va & ~(uint64_t)(m->pgsz - 1);
}

static inline uint64_t m_round(const struct xvm_machine *m, uint64_t va)
{
    return (va + m->pgsz - 1) & ~(uint64_t)(m->pgsz - 1);
}

static inline struct vm_page *phys_page(struct xvm_machine *m, pageh h)
{
    return &m->phys.pages[h >> 1];
}

static inline pageh phys_lookup(const struct xvm_machine *m, uint64_t pa)
{
    const struct ram_seg *r = &m->phys.ram;
    if (pa >= r->pa && ((pa - r->pa) >> m->pgshift) < r->npages)
        return page_ram(r->first + (uint32_t)((pa - r->pa) >> m->pgshift));
    return phys_lookup_device(m, pa);
}

static inline void phys_dev_read(struct xvm_machine *m, const struct dev_seg *d,
                                 uint64_t n)
{
    m->st.xip_reads++;
    m->st.xip_bytes_read += n;
    m->st.flash_ns += d->ns_access + n * d->ns_byte;
}

/* Keeps a slow path out of its caller's fast path (register spills). */
#if defined(__GNUC__)
#define XVM_NOINLINE __attribute__((noinline))
#else
#define XVM_NOINLINE
#endif

static inline void stat_use(struct xvm_machine *m, int use, int64_t delta)
{
    m->st.pages[use] += (uint64_t)delta;
    if (m->st.pages[use] > m->st.pages_peak[use])
        m->st.pages_peak[use] = m->st.pages[use];
}

#endif
