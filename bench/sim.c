/*
 * The simulator's rows: TLB hits, faults by kind, fork + exit, scaling
 * with processes and map entries, and host metadata per page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "machine.h"
#include "pmap.h"
#include "xipvm.h"

/* Instruction counts by callgrind: each measured loop alone, dumped with
 * its label (doc/beyond-the-paper.md runs the bench under it). */
#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#define COLLECT_BEGIN() CALLGRIND_TOGGLE_COLLECT
#define COLLECT_END(label)                                                     \
    do {                                                                       \
        CALLGRIND_TOGGLE_COLLECT;                                              \
        CALLGRIND_DUMP_STATS_AT(label);                                        \
    } while (0)
#else
#define COLLECT_BEGIN()    ((void)0)
#define COLLECT_END(label) ((void)(label))
#endif

#define PG 4096u

struct env {
    const struct bench_opts *o;
    char image[512];
    uint64_t file_pages;
    enum xvm_device_design design; /* of the machines fs_up makes */
};

/* The VM alone: these rows compare the simulator's faults, forks and
 * accesses with the kernel's (and the device designs with each other), so
 * the CPU model is off (--no-cache); the replay rows (replay.c) measure it
 * on and off. */
static xvm_machine *machine_design(uint64_t ram, unsigned ahead,
                                   enum xvm_device_design d)
{
    struct xvm_config cfg;
    xvm_cpu_profile *p = NULL;
    xvm_machine *m = NULL;
    if (xvm_cpu_profile_create("amd64", &p) != 0 ||
        xvm_cpu_profile_set(p, "caches", "off", NULL, 0) != 0) {
        xvm_cpu_profile_destroy(p);
        return NULL;
    }
    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    cfg.ram_bytes = ram;
    cfg.cpu = p;
    cfg.device_design = d;
    xvm_config_fault_ahead(&cfg, ahead);
    int error = xvm_machine_create(&cfg, &m);
    xvm_cpu_profile_destroy(p);
    return error == 0 ? m : NULL;
}

static xvm_machine *machine(uint64_t ram, unsigned ahead)
{
    return machine_design(ram, ahead, XVM_DESIGN_SEGMENT);
}

/* An image holding one file of n pages (makefs, at bench time). */
static int make_image(struct env *e)
{
    char dir[600], cmd[4096];
    snprintf(dir, sizeof(dir), "%s/simroot", e->o->workdir);
    snprintf(e->image, sizeof(e->image), "%s/sim.img", e->o->workdir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s' && head -c %llu /dev/urandom > '%s/data' && "
             "\"$(command -v makefs || echo /usr/sbin/makefs)\" -t ffs -M 1m "
             "-b 10%% "
             "-o version=2,bsize=16384,fsize=2048 '%s' '%s' >/dev/null",
             dir, (unsigned long long)(e->file_pages * PG), dir, e->image, dir);
    return system(cmd) == 0 ? 0 : EIO;
}

struct fs {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_file *f;
    xvm_vmspace *vs;
};

static int fs_up(struct env *e, int xip, struct fs *s)
{
    struct xvm_mount_config mc;
    memset(s, 0, sizeof(*s));
    if ((s->m = machine_design(UINT64_C(512) << 20, 0, e->design)) == NULL)
        return ENOMEM;
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    mc.readahead = 0;
    if (xvm_flash_open(s->m, e->image, NULL, &s->flash) ||
        xvm_mount_flash(s->flash, &mc, &s->mp) ||
        xvm_open(s->mp, "data", XVM_O_RDONLY, &s->f) ||
        xvm_vmspace_create(s->m, &s->vs))
        return EIO;
    return 0;
}

static void fs_down(struct fs *s)
{
    xvm_machine_destroy(s->m);
}

/* Touches every page of [a, a+n pages): one fault each; => ns per page. */
static double touch(xvm_vmspace *vs, uint64_t a, uint64_t n, int write)
{
    uint8_t b = 1;
    double t0 = bench_now_ns();
    for (uint64_t p = 0; p < n; p++)
        if ((write ? xvm_write(vs, a + p * PG, &b, 1)
                   : xvm_read(vs, a + p * PG, &b, 1)))
            return -1;
    return (bench_now_ns() - t0) / (double)n;
}

static uint64_t map_file(struct fs *s, uint64_t n, int prot)
{
    uint64_t a = 0;
    if (xvm_mmap_file(s->vs, &a, n * PG, prot, XVM_MAP_PRIVATE, s->f, 0) ||
        xvm_madvise(s->vs, a, n * PG, XVM_ADV_RANDOM))
        return 0;
    return a;
}

/* ns per 8-byte access hitting the TLB, for read, write or fetch. */
static double tlb_hits(int kind, unsigned n)
{
    xvm_machine *m = machine(UINT64_C(16) << 20, 0);
    xvm_vmspace *vs;
    uint64_t a = 0, v = 0;
    xvm_vmspace_create(m, &vs);
    xvm_mmap(vs, &a, PG, XVM_PROT_ALL, XVM_MAP_PRIVATE, NULL, 0);
    xvm_write(vs, a, &v, 8);
    xvm_read(vs, a, &v, 8);
    xvm_fetch(vs, a, &v, 8);
    double t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++) {
        uint64_t at = a + ((i * 8u) & (PG - 8));
        if (kind == 0)
            xvm_read(vs, at, &v, 8);
        else if (kind == 1)
            xvm_write(vs, at, &v, 8);
        else
            xvm_fetch(vs, at, &v, 8);
    }
    double ns = (bench_now_ns() - t0) / n;
    xvm_machine_destroy(m);
    return ns + (double)(v & 0);
}

enum fault_kind {
    XIP_READ,
    COPY_RESIDENT,
    COPY_FLASH,
    COW_DEVICE,
    ZERO_FILL,
    COW_FORK
};

/*
 * Steady state: the machine's frames have been used once, so the host's
 * own page faults on fresh memory are not counted as simulator cost.
 */
static void warm(xvm_vmspace *vs, uint64_t n)
{
    uint64_t a = 0;
    if (xvm_mmap(vs, &a, n * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) == 0) {
        touch(vs, a, n, 1);
        xvm_munmap(vs, a, n * PG);
    }
}

static double fault_row(struct env *e, enum fault_kind k)
{
    struct fs s;
    uint64_t n = e->file_pages, a = 0;
    double ns = -1;
    if (k == ZERO_FILL || k == COW_FORK) {
        xvm_machine *m = machine(UINT64_C(512) << 20, 0);
        xvm_vmspace *vs, *child;
        xvm_vmspace_create(m, &vs);
        warm(vs, 2 * n);
        xvm_mmap(vs, &a, n * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0);
        if (k == ZERO_FILL) {
            ns = touch(vs, a, n, 1);
        } else if (touch(vs, a, n, 1) >= 0 &&
                   xvm_vmspace_fork(vs, &child) == 0) {
            ns = touch(child, a, n, 1);
        }
        xvm_machine_destroy(m);
        return ns;
    }
    if (fs_up(e, k == XIP_READ || k == COW_DEVICE, &s) != 0) {
        fs_down(&s);
        return -1;
    }
    warm(s.vs, 2 * n);
    /* One untimed pass first: pools, hashes and buffers reach their
     * steady state; copy mode keeps the pages in its page cache. */
    int prot = k == COW_DEVICE ? XVM_PROT_READ | XVM_PROT_WRITE : XVM_PROT_READ;
    a = map_file(&s, n, prot);
    touch(s.vs, a, n, k == COW_DEVICE);
    xvm_munmap(s.vs, a, n * PG);
    if (k == COPY_FLASH) { /* drop the page cache: reopen */
        xvm_close(s.f);
        if (xvm_open(s.mp, "data", XVM_O_RDONLY, &s.f) != 0) {
            fs_down(&s);
            return -1;
        }
    }
    a = map_file(&s, n, prot);
    if (a)
        ns = touch(s.vs, a, n, k == COW_DEVICE);
    fs_down(&s);
    return ns;
}

/* => ns per fork + destroy of a child of vs. */
static double fork_loop(xvm_vmspace *vs, unsigned iters)
{
    xvm_vmspace *c;
    double t0 = bench_now_ns();
    for (unsigned i = 0; i < iters; i++) {
        if (xvm_vmspace_fork(vs, &c) != 0)
            return -1;
        xvm_vmspace_destroy(c);
    }
    return (bench_now_ns() - t0) / iters;
}

/* fork + destroy of the child, the parent having touched mib MiB. */
static double fork_exit(uint64_t mib, unsigned iters)
{
    xvm_machine *m = machine((mib + 64) << 20, 0);
    xvm_vmspace *vs;
    uint64_t a = 0;
    xvm_vmspace_create(m, &vs);
    xvm_mmap(vs, &a, mib << 20, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE,
             NULL, 0);
    touch(vs, a, (mib << 20) / PG, 1);
    double ns = fork_loop(vs, iters);
    xvm_machine_destroy(m);
    return ns;
}

/* A process laid out like busybox: text, rodata, data, bss, heap, stack. */
static double busybox_fork(unsigned iters)
{
    static const struct {
        uint64_t at, pages;
        int prot;
    } seg[] = {
        { 0x400000, 1, 1 },      { 0x401000, 388, 5 }, { 0x585000, 86, 1 },
        { 0x5db000, 10, 3 },     { 0x5e5000, 7, 3 },   { 0x600000, 33, 3 },
        { 0x7fff000000, 32, 3 },
    };
    xvm_machine *m = machine(UINT64_C(64) << 20, 0);
    xvm_vmspace *vs;
    xvm_vmspace_create(m, &vs);
    for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++) {
        uint64_t a = seg[i].at;
        xvm_mmap(vs, &a, seg[i].pages * PG, seg[i].prot | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0);
        touch(vs, a, seg[i].pages, 1);
        xvm_mprotect(vs, a, seg[i].pages * PG, seg[i].prot);
    }
    double ns = fork_loop(vs, iters);
    xvm_machine_destroy(m);
    return ns;
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random order of n events (Fisher-Yates). */
static uint32_t *shuffled(uint32_t n)
{
    uint32_t *v = malloc(n * sizeof(*v));
    uint64_t s = 88172645463325252ULL;
    for (uint32_t i = 0; i < n; i++)
        v[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd(&s) % (i + 1)), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    return v;
}

/*
 * Scaling: the same events (first reads of npages pages, in random order,
 * each a fault that maps the zero page) spread over nproc processes or
 * over nentries map entries of one process.  => ns per event.
 */
static double spread_row(uint32_t nproc, uint32_t nentries, uint32_t npages)
{
    xvm_machine *m = machine(UINT64_C(1) << 30, 0);
    xvm_vmspace **vs = calloc(nproc, sizeof(*vs));
    uint32_t per_proc = npages / nproc, per_entry = npages / nproc / nentries;
    const uint64_t base = 0x100000000ULL;
    uint64_t v;
    for (uint32_t p = 0; p < nproc; p++) {
        xvm_vmspace_create(m, &vs[p]);
        for (uint32_t k = 0; k < nentries; k++) {
            /* A gap page between entries keeps them apart. */
            uint64_t at = base + (uint64_t)k * (per_entry + 1) * PG;
            xvm_mmap(vs[p], &at, (uint64_t)per_entry * PG, XVM_PROT_READ,
                     XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0);
        }
    }
    uint32_t *order = shuffled(npages);
    double t0 = bench_now_ns();
    for (uint32_t i = 0; i < npages; i++) {
        uint32_t e = order[i], p = e / per_proc, r = e % per_proc;
        uint64_t at = base + (uint64_t)(r / per_entry) * (per_entry + 1) * PG +
                      (uint64_t)(r % per_entry) * PG;
        xvm_read(vs[p], at, &v, 8);
    }
    double ns = (bench_now_ns() - t0) / npages;
    free(order);
    xvm_machine_destroy(m);
    free(vs);
    return ns;
}

/* ---- the device-page designs side by side ---- */

/* A fault row under design d, its loop collected alone under callgrind. */
static double design_fault(struct env *e, enum fault_kind k)
{
    char label[96];
    struct fs s;
    uint64_t n = e->file_pages, a;
    double ns = -1;
    if (fs_up(e, 1, &s) != 0) {
        fs_down(&s);
        return -1;
    }
    warm(s.vs, 2 * n);
    int cow = k == COW_DEVICE;
    int prot = cow ? XVM_PROT_READ | XVM_PROT_WRITE : XVM_PROT_READ;
    a = map_file(&s, n, prot);
    touch(s.vs, a, n, cow);
    xvm_munmap(s.vs, a, n * PG);
    a = map_file(&s, n, prot);
    snprintf(label, sizeof(label), "row=%s design=%s n=%llu",
             cow ? "cow_device" : "xip_fault",
             xvm_device_design_name(e->design), (unsigned long long)n);
    if (a) {
        COLLECT_BEGIN();
        ns = touch(s.vs, a, n, cow);
        COLLECT_END(label);
    }
    fs_down(&s);
    return ns;
}

/*
 * Fork-heavy: a process with 256 pages of XIP text it has run (device
 * mappings) and 64 pages of data it has written (an amap) forks a child
 * that runs `run` pages of the text and exits, iters times.  => ns each.
 */
static double design_fork(struct env *e, unsigned iters, uint64_t run)
{
    char label[96];
    struct fs s;
    uint64_t text = 256, data = 64, a, d = 0;
    double ns = -1;
    if (e->file_pages < text || fs_up(e, 1, &s) != 0) {
        fs_down(&s);
        return -1;
    }
    a = map_file(&s, text, XVM_PROT_READ | XVM_PROT_EXEC);
    if (a == 0 || touch(s.vs, a, text, 0) < 0 ||
        xvm_mmap(s.vs, &d, data * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) != 0 ||
        touch(s.vs, d, data, 1) < 0) {
        fs_down(&s);
        return -1;
    }
    snprintf(label, sizeof(label), "row=%s design=%s n=%u",
             run ? "fork_text" : "fork_exit", xvm_device_design_name(e->design),
             iters);
    uint8_t b;
    COLLECT_BEGIN();
    double t0 = bench_now_ns();
    for (unsigned i = 0; i < iters; i++) {
        xvm_vmspace *c;
        if (xvm_vmspace_fork(s.vs, &c) != 0)
            break;
        for (uint64_t p = 0; p < run; p++)
            xvm_fetch(c, a + p * PG, &b, 1);
        xvm_vmspace_destroy(c);
        if (i + 1 == iters)
            ns = (bench_now_ns() - t0) / iters;
    }
    COLLECT_END(label);
    fs_down(&s);
    return ns;
}

int bench_designs(const struct bench_opts *o, struct design_results *r)
{
    struct env e = { .o = o, .file_pages = o->quick ? 1024 : 4096 };
    unsigned runs = o->runs > BENCH_MAX_RUNS ? BENCH_MAX_RUNS : o->runs;
    memset(r, 0, sizeof(*r));
    if (make_image(&e) != 0)
        return EIO;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        e.design = (enum xvm_device_design)d;
        MEDIAN(r->xip_fault[d], runs, design_fault(&e, XIP_READ));
        MEDIAN(r->cow_device[d], runs, design_fault(&e, COW_DEVICE));
        MEDIAN(r->fork_exit[d], runs, design_fork(&e, o->quick ? 50 : 200, 0));
        MEDIAN(r->fork_text[d], runs, design_fork(&e, o->quick ? 50 : 200, 64));
    }
    return 0;
}

int bench_sim(const struct bench_opts *o, struct sim_results *r)
{
    struct env e = { .o = o, .file_pages = o->quick ? 1024 : 4096 };
    unsigned runs = o->runs > BENCH_MAX_RUNS ? BENCH_MAX_RUNS : o->runs;
    unsigned hits = o->quick ? 2000000 : 20000000;
    static const uint64_t mib[3] = { 1, 16, 256 };
    static const unsigned nprocs[3] = { 1, 100, 10000 },
                          nentries[3] = { 10, 1000, 100000 };

    memset(r, 0, sizeof(*r));
    if (make_image(&e) != 0)
        return EIO;
    MEDIAN(r->tlb_read, runs, tlb_hits(0, hits));
    MEDIAN(r->tlb_write, runs, tlb_hits(1, hits));
    MEDIAN(r->tlb_exec, runs, tlb_hits(2, hits));
    MEDIAN(r->xip_fault, runs, fault_row(&e, XIP_READ));
    MEDIAN(r->copy_resident_fault, runs, fault_row(&e, COPY_RESIDENT));
    MEDIAN(r->copy_flash_fault, runs, fault_row(&e, COPY_FLASH));
    MEDIAN(r->cow_device, runs, fault_row(&e, COW_DEVICE));
    MEDIAN(r->zero_fill, runs, fault_row(&e, ZERO_FILL));
    MEDIAN(r->cow_fork, runs, fault_row(&e, COW_FORK));
    for (int i = 0; i < 3; i++)
        MEDIAN(r->fork_exit[i], runs,
               fork_exit(o->quick && i == 2 ? 64 : mib[i], 200));
    MEDIAN(r->busybox_fork, runs, busybox_fork(1000));
    uint32_t spread = 100000; /* 10 pages per process at 10,000 */
    for (int i = 0; i < 3; i++) {
        MEDIAN(r->procs[i], runs, spread_row(nprocs[i], 1, spread));
        MEDIAN(r->entries[i], runs, spread_row(1, nentries[i], spread));
    }
    /* Host metadata: the vm_page per frame; nothing per device page but
     * for each live mapping its PV entry, the leaf table's pointer to it
     * and its slot in the device PV hash (at most half full). */
    r->ram_page_bytes = sizeof(struct vm_page);
    r->device_page_bytes = 0;
    r->pv_bytes = sizeof(struct pv_entry) + sizeof(struct pv_entry *) +
                  2 * 2 * sizeof(uint64_t);
    return 0;
}
