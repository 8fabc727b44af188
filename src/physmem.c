/*
 * Physical memory; see physmem.h.
 */
#include <errno.h>
#include <string.h>

#include "machine.h"
#include "physmem.h"

#define NO_PAGE UINT32_MAX

int phys_init(struct xvm_machine *m, uint64_t ram_pa, uint64_t ram_bytes)
{
    struct physmem *ph = &m->phys;
    uint64_t n = ram_bytes >> m->pgshift;

    if (n < 4 || n >= NO_PAGE || (ram_pa & (m->pgsz - 1)))
        return EINVAL;
    ph->pages = m_zalloc(m, (size_t)n * sizeof(*ph->pages));
    if (ph->pages == NULL)
        return ENOMEM;
    ph->npages = (uint32_t)n;
    ph->ram = (struct ram_seg){ .pa = ram_pa, .npages = n, .first = 0 };
    /* Frames from `fresh` on were never used: they are free without being
     * on the list, so a large RAM costs no host memory until touched. */
    ph->fresh = 0;
    ph->free_head = NO_PAGE;
    ph->nfree = (uint32_t)n;
    m->st.ram_pages = n;
    m->st.pages[XVM_USE_FREE] = n;
    return 0;
}

void phys_fini(struct xvm_machine *m)
{
    struct physmem *ph = &m->phys;
    for (uint32_t i = 0; i < ph->npages; i++)
        m_free(m, ph->pages[i].data);
    m_free(m, ph->pages);
    m_free(m, ph->dev);
    memset(ph, 0, sizeof(*ph));
}


/* Device segments are few (one per flash): a linear scan is fine. */
struct dev_seg *phys_dev_seg(const struct xvm_machine *m, uint64_t pa)
{
    for (unsigned i = 0; i < m->phys.ndev; i++) {
        struct dev_seg *d = &m->phys.dev[i];
        if (pa >= d->pa && ((pa - d->pa) >> m->pgshift) < d->npages)
            return d;
    }
    return NULL;
}

uint64_t phys_addr(const struct xvm_machine *m, pageh h)
{
    if (page_is_device(h))
        return h & ~(uint64_t)1;
    const struct ram_seg *r = &m->phys.ram;
    return r->pa + ((uint64_t)((h >> 1) - r->first) << m->pgshift);
}

pageh phys_lookup_device(const struct xvm_machine *m, uint64_t pa)
{
    if (phys_dev_seg(m, pa))
        return page_device(pa & ~(uint64_t)(m->pgsz - 1));
    return PAGEH_NONE;
}

uint8_t *phys_data(struct xvm_machine *m, pageh h)
{
    if (!page_is_device(h))
        return phys_page(m, h)->data;
    uint64_t pa = h & ~(uint64_t)1;
    const struct dev_seg *d = phys_dev_seg(m, pa);
    /* Device memory is read-only to the simulation: the MMU never grants
     * write to a device page (see pmap_enter). */
    return d ? (uint8_t *)(uintptr_t)(d->data + (pa - d->pa)) : NULL;
}

int phys_alloc(struct xvm_machine *m, int use, bool zero, pageh *out)
{
    struct physmem *ph = &m->phys;

    if (++m->nframe == m->fail_frame_at)
        return ENOMEM;
    if (ph->nfree == 0)
        return ENOMEM;
    uint32_t i = ph->free_head != NO_PAGE ? ph->free_head : ph->fresh;
    struct vm_page *pg = &ph->pages[i];
    if (pg->data == NULL) {
        /* Frame contents are host memory allocated on first use. */
        pg->data = m_alloc(m, m->pgsz);
        if (pg->data == NULL)
            return ENOMEM;
        zero = true;
    }
    if (i == ph->free_head)
        ph->free_head = pg->next_free;
    else
        ph->fresh++;
    ph->nfree--;
    pg->next_free = NO_PAGE;
    pg->flags = 0;
    pg->use = (uint8_t)use;
    pg->pv = NULL;
    pg->owner.obj = NULL;
    pg->offset = 0;
    pg->epoch = 0;
    pg->wire = 0;
    if (zero)
        memset(pg->data, 0, m->pgsz);
    stat_use(m, XVM_USE_FREE, -1);
    stat_use(m, use, 1);
    uint64_t used = ph->npages - ph->nfree;
    if (used > m->st.ram_used_peak)
        m->st.ram_used_peak = used;
    *out = page_ram(i);
    return 0;
}

void phys_free(struct xvm_machine *m, pageh h)
{
    struct physmem *ph = &m->phys;
    uint32_t i = (uint32_t)(h >> 1);
    struct vm_page *pg = &ph->pages[i];

    stat_use(m, pg->use, -1);
    stat_use(m, XVM_USE_FREE, 1);
    pg->use = XVM_USE_FREE;
    pg->flags = PG_FREE;
    pg->owner.obj = NULL;
    pg->next_free = ph->free_head;
    ph->free_head = i;
    ph->nfree++;
}

int phys_load_device(struct xvm_machine *m, uint64_t pa, uint64_t len,
                     const void *data)
{
    struct physmem *ph = &m->phys;

    if (data == NULL || len == 0 || (pa & (m->pgsz - 1)) ||
        (len & (m->pgsz - 1)) || pa + len < pa)
        return EINVAL;
    /* 4-byte PTEs hold 20-bit frame numbers: the segment must fit. */
    if (m->prof->pte_size == 4 && pa + len > (UINT64_C(1) << 32))
        return EINVAL;
    uint64_t end = pa + len;
    const struct ram_seg *r = &ph->ram;
    uint64_t rend = r->pa + (r->npages << m->pgshift);
    if (pa < rend && r->pa < end)
        return EINVAL;
    for (unsigned i = 0; i < ph->ndev; i++) {
        uint64_t dend = ph->dev[i].pa + (ph->dev[i].npages << m->pgshift);
        if (pa < dend && ph->dev[i].pa < end)
            return EEXIST;
    }
    struct dev_seg *nd = m_alloc(m, (ph->ndev + 1) * sizeof(*nd));
    if (nd == NULL)
        return ENOMEM;
    if (ph->ndev)
        memcpy(nd, ph->dev, ph->ndev * sizeof(*nd));
    nd[ph->ndev] = (struct dev_seg){ pa, len >> m->pgshift, data, 0, 0 };
    m_free(m, ph->dev);
    ph->dev = nd;
    ph->ndev++;
    m->st.device_pages += len >> m->pgshift;
    return 0;
}

int phys_unload_device(struct xvm_machine *m, uint64_t pa)
{
    struct physmem *ph = &m->phys;
    struct dev_seg *d = phys_dev_seg(m, pa);
    uint64_t key;
    if (d == NULL || d->pa != pa)
        return EINVAL;
    uint64_t end = d->pa + (d->npages << m->pgshift);
    for (size_t i = 0; hmap_next(&m->devpv, &i, &key, NULL);)
        if (key >= d->pa && key < end)
            return EBUSY;
    m->st.device_pages -= d->npages;
    *d = ph->dev[--ph->ndev];
    return 0;
}

uint64_t phys_free_base(const struct xvm_machine *m)
{
    const uint64_t align = UINT64_C(16) << 20;
    const struct physmem *ph = &m->phys;
    uint64_t top = ph->ram.pa + (ph->ram.npages << m->pgshift);
    for (unsigned i = 0; i < ph->ndev; i++) {
        uint64_t end = ph->dev[i].pa + (ph->dev[i].npages << m->pgshift);
        if (end > top)
            top = end;
    }
    return (top + align - 1) & ~(align - 1);
}
