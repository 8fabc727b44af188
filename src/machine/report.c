/*
 * What the machine reports: every layer's counters gathered into the
 * public structs.  The figures are computed here, once; the CLI, the
 * bench and API users only read them.
 */
#include <string.h>

#include "machine.h"

void xvm_machine_stats(const xvm_machine *m, struct xvm_stats *st)
{
    const struct physmem *ph = &m->ph;
    const struct vm_stats *vs = &m->vm.st;
    memset(st, 0, sizeof(*st));
    st->page_size = m->core.pgsz;
    st->ram_pages = ph->npages;
    for (int u = 0; u < XVM_USE_COUNT; u++) {
        st->pages[u] = ph->use[u].cur;
        st->pages_peak[u] = ph->use[u].peak;
    }
    st->ram_used_peak = ph->used.peak;
    st->vm_page_bytes = m->core.prof->vm_page_size;
    st->vm_page_metadata_bytes = st->ram_pages * st->vm_page_bytes;
    st->device_pages = ph->device_pages;
    st->faults = vs->faults;
    st->faults_read = vs->faults_read;
    st->faults_write = vs->faults_write;
    st->faults_exec = vs->faults_exec;
    st->faults_upper = vs->faults_upper;
    st->faults_lower = vs->faults_lower;
    st->zero_fills = vs->zero_fills;
    st->cow_promotions = vs->cow_promotions;
    st->cow_from_device = vs->cow_from_device;
    st->zero_page_maps = vs->zero_page_maps;
    st->neighbour_maps = vs->neighbour_maps;
    st->device_maps = vs->device_maps;
    st->amap_copies = vs->amap_copies;
    st->enomem = vs->enomem;
    st->reclaimed = m->objs.reclaimed;
    st->pv_entries = m->mmu.pv.cur;
    st->pv_entries_peak = m->mmu.pv.peak;
    st->pv_device = m->mmu.pv_device.cur;
    st->pv_device_peak = m->mmu.pv_device.peak;
    st->tlb_hits = m->mmu.tlb.hits;
    st->tlb_misses = m->mmu.tlb.misses;
    st->tlb_flushes = m->mmu.tlb.flushes;
    st->flash_reads = m->devs.st.reads;
    st->flash_bytes_read = m->devs.st.bytes_read;
    st->xip_reads = ph->dev_reads;
    st->xip_bytes_read = ph->dev_bytes_read;
    st->flash_ns = m->devs.st.ns + ph->dev_ns;
    st->pagecache_fills = m->vfs.pagecache_fills;
    st->readahead_pages = m->vfs.readahead_pages;
    st->fallback_pages = m->vfs.fallback_pages;
    st->xip_hole_maps = m->vfs.xip_hole_maps;
    st->buf_hits = m->vfs.buf.hits;
    st->buf_misses = m->vfs.buf.misses;
}
