/*
 * What the machine reports: every layer's counters gathered, and the
 * figures computed from them, once, here.  The CLI, the bench and API
 * users only read them (doc/figures.md defines each).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "elf.h"
#include "machine.h"

/* Rounded; 2^64 ns (584 years, a sub-MHz clock can get there) and more
 * stay at the top rather than wrap. */
static uint64_t ns(double x)
{
    if (x >= 0x1p64)
        return UINT64_MAX;
    return x > 0 ? (uint64_t)(x + 0.5) : 0;
}

/* The CPU model's counts and time.  The breakdown is rounded so that it
 * adds up to time_ns exactly (the rounding goes to the largest part). */
static void cpu_figures(const struct cpu *c, const uint64_t fast[3],
                        uint64_t block_ns, struct xvm_stats *st)
{
    struct cpu_counts n;
    struct cpu_time t;
    cpu_counts(c, fast, &n);
    cpu_time(c, fast, block_ns, &t);
    st->i1_refs = n.i1_refs;
    st->i1_misses = n.i1_misses;
    st->d1_refs = n.d1_refs;
    st->d1_misses = n.d1_misses;
    st->ll_misses = n.ll_misses;
    st->tlb_misses = n.tlb_misses;
    st->tlb_refills = n.tlb_refills;
    cpu_ram_lines(c, fast, &st->ram_line_fills, &st->ram_writebacks);
    st->nor_line_fills = c->nor_fills;
    st->time_ns = ns(t.total_ns);
    st->cycles = ns(t.cycles);
    uint64_t *part[CPU_BUCKETS] = {
        &st->time_ns_exec, &st->stall_ns_ram,   &st->stall_ns_flash,
        &st->time_ns_tlb,  &st->time_ns_kernel,
    };
    uint64_t sum = 0;
    int big = 0;
    for (int b = 0; b < CPU_BUCKETS; b++) {
        *part[b] = ns(t.ns[b]);
        sum += *part[b];
        if (t.ns[b] > t.ns[big])
            big = b;
    }
    *part[big] += st->time_ns - sum; /* unsigned wrap-around cancels */
}

void xvm_machine_stats(const xvm_machine *m, struct xvm_stats *st)
{
    if (st == NULL)
        return;
    if (m == NULL)
        return (void)memset(st, 0, sizeof(*st));
    const struct physmem *ph = &m->ph;
    const struct vm_stats *vs = &m->vm.st;
    memset(st, 0, sizeof(*st));
    st->page_size = m->core.pgsz;
    st->ram_pages = ph->npages;
    st->md_pages = ph->md_pages;
    for (int u = 0; u < XVM_USE_COUNT; u++) {
        st->pages[u] = ph->use[u].cur;
        st->pages_peak[u] = ph->use[u].peak;
    }
    st->ram_used_peak = ph->used.peak;
    st->vm_page_bytes = m->core.prof->vm_page_size;
    st->vm_page_metadata_bytes = st->ram_pages * st->vm_page_bytes;
    st->device_pages = ph->device_pages;
    st->device_pages_mapped_peak = m->mmu.device_mapped.peak;
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
    st->neighbour_skipped = vs->neighbour_skipped;
    st->forks = vs->forks;
    st->amap_slots_copied = vs->amap_slots_copied;
    st->sharer_scans = vs->sharer_scans;
    st->loans = vs->loans;
    st->loans_active = m->vm.nloans;
    st->loan_pages = vs->loan_pages;
    st->loan_device_pages = vs->loan_device_pages;
    st->loan_breaks = vs->loan_breaks;
    st->device_metadata_bytes =
        m->kmem.units[XVM_KMEM_DEVICE_VM_PAGE].cur *
        m->core.prof->kmem_size[XVM_KMEM_DEVICE_VM_PAGE];
    st->oom_kills = m->procs.oom_kills;
    const struct pagedaemon *pd = &m->objs.pd;
    struct pdpolicy_stats ps;
    pd->ops->stats(pd->st, &ps);
    st->freemin = pd->freemin;
    st->freetarg = pd->freetarg;
    st->pages_active = ps.active;
    st->pages_inactive = ps.inactive;
    st->pd_runs = pd->runs;
    st->pd_scanned = ps.scans;
    st->pd_reactivated = ps.reactivations;
    st->pd_deactivated = ps.deactivations;
    st->pd_freed = pd->freed;
    st->reclaimed = pd->reclaimed;
    st->refaults = m->objs.refaults;
    st->readahead_used = pd->readahead_used;
    st->readahead_unused = pd->readahead_unused;
    const struct swapdev *sw = m->devs.swap;
    if (sw) {
        st->swap_pages = sw->nslots;
        st->swap_used = sw->used.cur;
        st->swap_used_peak = sw->used.peak;
        st->swap_outs = sw->writes;
        st->swap_ins = sw->reads;
        st->swap_ns = sw->ns;
    }
    st->pv_entries = m->mmu.pv.cur;
    st->pv_entries_peak = m->mmu.pv.peak;
    st->pv_device = m->mmu.pv_device.cur;
    st->pv_device_peak = m->mmu.pv_device.peak;
    uint64_t fast[3];
    mmu_fast_hits(&m->mmu, fast);
    st->soft_tlb_hits = m->mmu.tlb.hits + fast[0] + fast[1] + fast[2];
    st->soft_tlb_misses = m->mmu.tlb.misses;
    st->soft_tlb_flushes = m->mmu.tlb.flushes;
    st->superpages = m->mmu.superpages;
    st->superpage_demotions = m->mmu.demotions;
    /* The kernel's I/O: the block interface's reads and swap's. */
    cpu_figures(&m->cpu, fast, m->devs.st.ns + st->swap_ns, st);
    st->flash_block_reads = m->devs.st.reads;
    st->flash_block_bytes_read = m->devs.st.bytes_read;
    st->flash_xip_reads = ph->dev_reads;
    st->flash_xip_bytes_read = ph->dev_bytes_read;
    st->flash_bytes_read =
        st->flash_block_bytes_read + st->flash_xip_bytes_read;
    st->flash_block_ns = m->devs.st.ns;
    st->flash_ns = st->stall_ns_flash + st->flash_block_ns;
    st->io_ns = st->flash_ns + st->swap_ns;
    st->pagecache_fills = m->vfs.pagecache_fills;
    st->readahead_pages = m->vfs.readahead_pages;
    st->fallback_pages = m->vfs.fallback_pages;
    st->xip_hole_maps = m->vfs.xip_hole_maps;
    st->buf_hits = m->vfs.buf.hits;
    st->buf_misses = m->vfs.buf.misses;
    st->buf_drained = m->vfs.buf.drained;
    for (int t = 0; t < XVM_KMEM_TYPES; t++) {
        st->kmem_units[t] = m->kmem.units[t].cur;
        st->kmem_units_peak[t] = m->kmem.units[t].peak;
        st->kmem_unit_bytes[t] = m->core.prof->kmem_size[t];
    }
    st->kmem_bytes = m->kmem.bytes.cur;
    st->kmem_bytes_peak = m->kmem.bytes.peak;
    st->kmem_refused = m->kmem.refused;
}

#define FIGURE(f)                                                              \
    {                                                                          \
#f, offsetof(struct xvm_stats, f)                                      \
    }

static const struct xvm_figure figures[] = {
    FIGURE(page_size),
    FIGURE(ram_pages),
    FIGURE(md_pages),
    FIGURE(ram_used_peak),
    FIGURE(vm_page_bytes),
    FIGURE(vm_page_metadata_bytes),
    FIGURE(device_pages),
    FIGURE(device_pages_mapped_peak),
    FIGURE(faults),
    FIGURE(faults_read),
    FIGURE(faults_write),
    FIGURE(faults_exec),
    FIGURE(faults_upper),
    FIGURE(faults_lower),
    FIGURE(zero_fills),
    FIGURE(cow_promotions),
    FIGURE(cow_from_device),
    FIGURE(zero_page_maps),
    FIGURE(neighbour_maps),
    FIGURE(device_maps),
    FIGURE(amap_copies),
    FIGURE(enomem),
    FIGURE(neighbour_skipped),
    FIGURE(forks),
    FIGURE(amap_slots_copied),
    FIGURE(sharer_scans),
    FIGURE(device_metadata_bytes),
    FIGURE(loans),
    FIGURE(loans_active),
    FIGURE(loan_pages),
    FIGURE(loan_device_pages),
    FIGURE(loan_breaks),
    FIGURE(oom_kills),
    FIGURE(freemin),
    FIGURE(freetarg),
    FIGURE(pages_active),
    FIGURE(pages_inactive),
    FIGURE(pd_runs),
    FIGURE(pd_scanned),
    FIGURE(pd_reactivated),
    FIGURE(pd_deactivated),
    FIGURE(pd_freed),
    FIGURE(reclaimed),
    FIGURE(refaults),
    FIGURE(readahead_used),
    FIGURE(readahead_unused),
    FIGURE(swap_pages),
    FIGURE(swap_used),
    FIGURE(swap_used_peak),
    FIGURE(swap_outs),
    FIGURE(swap_ins),
    FIGURE(swap_ns),
    FIGURE(pv_entries),
    FIGURE(pv_entries_peak),
    FIGURE(pv_device),
    FIGURE(pv_device_peak),
    FIGURE(soft_tlb_hits),
    FIGURE(soft_tlb_misses),
    FIGURE(soft_tlb_flushes),
    FIGURE(superpages),
    FIGURE(superpage_demotions),
    FIGURE(cycles),
    FIGURE(time_ns),
    FIGURE(time_ns_exec),
    FIGURE(stall_ns_ram),
    FIGURE(stall_ns_flash),
    FIGURE(time_ns_tlb),
    FIGURE(time_ns_kernel),
    FIGURE(i1_refs),
    FIGURE(i1_misses),
    FIGURE(d1_refs),
    FIGURE(d1_misses),
    FIGURE(ll_misses),
    FIGURE(tlb_misses),
    FIGURE(tlb_refills),
    FIGURE(ram_line_fills),
    FIGURE(ram_writebacks),
    FIGURE(nor_line_fills),
    FIGURE(flash_block_reads),
    FIGURE(flash_block_bytes_read),
    FIGURE(flash_xip_reads),
    FIGURE(flash_xip_bytes_read),
    FIGURE(flash_bytes_read),
    FIGURE(flash_block_ns),
    FIGURE(flash_ns),
    FIGURE(io_ns),
    FIGURE(pagecache_fills),
    FIGURE(readahead_pages),
    FIGURE(fallback_pages),
    FIGURE(xip_hole_maps),
    FIGURE(buf_hits),
    FIGURE(buf_misses),
    FIGURE(buf_drained),
    FIGURE(kmem_bytes),
    FIGURE(kmem_bytes_peak),
    FIGURE(kmem_refused),
};

const struct xvm_figure *xvm_stats_figures(size_t *n)
{
    if (n)
        *n = sizeof(figures) / sizeof(figures[0]);
    return figures;
}

const char *xvm_ram_kind_name(enum xvm_ram_kind kind)
{
    static const char *const names[XVM_RAM_KINDS] = {
        "anon",   "aobj",   "page_cache", "page_table", "zero",
        "buffer", "kernel", "md",         "loan",       "vm_page",
    };
    return (unsigned)kind < XVM_RAM_KINDS ? names[kind] : "?";
}

const char *xvm_kmem_type_name(enum xvm_kmem_type type)
{
    static const char *const names[XVM_KMEM_TYPES] = {
        "map_entry", "amap", "amap_slots", "amap_anons",
        "anon",      "pv",   "vmspace",    "aobj",
        "vnode",     "proc", "uspace",     "device_vm_page",
    };
    return (unsigned)type < XVM_KMEM_TYPES ? names[type] : "?";
}

void xvm_report(const xvm_machine *m, struct xvm_report *r)
{
    if (r == NULL)
        return;
    if (m == NULL)
        return (void)memset(r, 0, sizeof(*r));
    const struct physmem *ph = &m->ph;
    uint64_t now[XVM_USE_COUNT];
    memset(r, 0, sizeof(*r));
    xvm_machine_stats(m, &r->st);
    for (int u = 0; u < XVM_USE_COUNT; u++)
        now[u] = ph->use[u].cur;
    ram_by_kind(ph, now, r->ram_now, &r->ram_now_total);
    ram_by_kind(ph, ph->used_mix, r->ram_peak, &r->ram_peak_total);
    r->vm_page_share_percent =
        100.0 * (double)r->st.vm_page_bytes / (double)r->st.page_size;
    r->device_vm_page_bytes =
        r->st.device_pages_mapped_peak * r->st.vm_page_bytes;
}

void xvm_report_savings(const struct xvm_report *xip,
                        const struct xvm_report *copy, struct xvm_savings *s)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof(*s));
    if (xip == NULL || copy == NULL)
        return;
    for (int k = 0; k < XVM_RAM_KINDS; k++) {
        s->ram_peak[k] = (int64_t)copy->ram_peak[k] - (int64_t)xip->ram_peak[k];
        if (copy->ram_peak[k])
            s->ram_peak_percent[k] =
                100.0 * (double)s->ram_peak[k] / (double)copy->ram_peak[k];
    }
    s->ram_peak_total =
        (int64_t)copy->ram_peak_total - (int64_t)xip->ram_peak_total;
    if (copy->ram_peak_total)
        s->ram_peak_total_percent =
            100.0 * (double)s->ram_peak_total / (double)copy->ram_peak_total;
    if (copy->st.time_ns)
        s->slowdown = (double)xip->st.time_ns / (double)copy->st.time_ns;
}

/* ---- the per-file report (the fs layer counts, acct.c) ---- */

#define ELF_HEAD (64u << 10) /* program headers read, as exec reads them */
#define DYN_MAX  (64u << 10) /* dynamic section scanned for TEXTREL */

struct file_walk {
    struct xvm_mount *mp;
    int (*fn)(void *arg, const struct xvm_file_report *fr);
    void *arg;
    uint8_t buf[ELF_HEAD > DYN_MAX ? ELF_HEAD : DYN_MAX];
};

/* => 1 when the file is an ELF that asks for text relocations. */
static int file_textrel(struct file_walk *w, uint32_t ino, uint64_t size)
{
    struct ffs *fs = w->mp->fs;
    struct elf_image im;
    size_t got = 0;
    int textrel = 0;
    core_quiet_begin(w->mp->vfs->core);
    if (ffs_read(fs, ino, 0, w->buf, ELF_HEAD, &got) == 0 &&
        elf_parse_headers(w->buf, got, size, &im) == 0 && im.dyn_len > 0) {
        size_t n = im.dyn_len < DYN_MAX ? (size_t)im.dyn_len : DYN_MAX;
        if (ffs_read(fs, ino, im.dyn_off, w->buf, n, &got) == 0)
            textrel = elf_has_textrel(&im, w->buf, got);
    }
    core_quiet_end(w->mp->vfs->core);
    return textrel;
}

static int file_visit(void *arg, const char *path, uint32_t ino,
                      enum ffs_type type, const struct ffs_stat *st)
{
    struct file_walk *w = arg;
    const struct core *c = w->mp->vfs->core;
    if (type != FFS_REG)
        return 0;
    struct xvm_file_report fr = {
        .path = path,
        .size = st->size,
        .file_pages = pg_round(c, st->size) >> c->pgshift,
        .ino = ino,
    };
    const struct file_acct *a = acct_find(w->mp, ino);
    if (a) {
        fr.pages_touched = a->pages[ACCT_TOUCHED];
        fr.pages_in_place = a->pages[ACCT_IN_PLACE];
        fr.pages_cached = a->pages[ACCT_CACHED];
        fr.pages_copied = a->copied;
        fr.text_pages_copied = a->text_copied;
        fr.processes = a->processes;
        fr.pages_written = a->pages[ACCT_WRITTEN];
        if (a->processes > 0)
            fr.textrel = file_textrel(w, ino, st->size);
    }
    return w->fn(w->arg, &fr);
}

int xvm_file_report(xvm_mount *mp,
                    int (*fn)(void *arg, const struct xvm_file_report *fr),
                    void *arg)
{
    if (mp == NULL || fn == NULL)
        return EINVAL;
    struct file_walk *w = core_alloc(mp->vfs->core, sizeof(*w));
    if (w == NULL)
        return ENOMEM;
    w->mp = mp;
    w->fn = fn;
    w->arg = arg;
    int error = vfs_walk(mp, file_visit, NULL, w);
    core_free(mp->vfs->core, w);
    return error;
}

int xvm_file_pages(xvm_mount *mp, uint64_t ino,
                   int (*fn)(void *arg, const struct xvm_page_report *pr),
                   void *arg)
{
    struct ffs_stat st;
    if (mp == NULL || fn == NULL)
        return EINVAL;
    struct core *c = mp->vfs->core;
    core_quiet_begin(c);
    int error =
        ino > UINT32_MAX ? ENOENT : ffs_stat(mp->fs, (uint32_t)ino, &st);
    core_quiet_end(c);
    if (error == EINVAL || (error == 0 && st.type != FFS_REG))
        return ENOENT;
    if (error)
        return error;
    const struct file_acct *a = acct_find(mp, (uint32_t)ino);
    return a ? acct_pages(c, a, fn, arg) : 0;
}

/* ---- the timeline (timeline.c keeps it) ---- */

void xvm_timeline_sample(xvm_machine *m, uint64_t at)
{
    if (m == NULL)
        return;
    timeline_sample(&m->tl, &m->ph, at);
}

void xvm_timeline_tick(xvm_machine *m, uint64_t at)
{
    if (m && at >= m->tl.next)
        timeline_sample(&m->tl, &m->ph, at);
}

uint64_t xvm_timeline_due(const xvm_machine *m)
{
    return m ? m->tl.next : 0;
}

int xvm_timeline_mark(xvm_machine *m, const char *label, uint64_t at)
{
    int error = 0;
    if (m == NULL || label == NULL)
        return EINVAL;
    struct xvm_mark *mk = timeline_mark(&m->tl, label, at, &error);
    if (mk)
        xvm_report(m, &mk->rep);
    return error;
}

void xvm_timeline_get(const xvm_machine *m, struct xvm_timeline *t)
{
    if (t == NULL)
        return;
    if (m == NULL)
        return (void)memset(t, 0, sizeof(*t));
    t->samples = m->tl.samples;
    t->nsamples = m->tl.n;
    t->marks = m->tl.marks;
    t->nmarks = m->tl.nmarks;
}
