/*
 * The simulator's rows: TLB hits, faults by kind, fork + exit (against
 * the kernel); per-event cost as processes and map entries grow; host
 * memory measured from the process's resident set; the TLB-hit path in
 * instructions (callgrind).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "machine.h"
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
    char dir[600], cmd[2048];
    snprintf(dir, sizeof(dir), "%s/simroot", e->o->workdir);
    snprintf(e->image, sizeof(e->image), "%s/sim.img", e->o->workdir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s' && head -c %llu /dev/urandom > '%s/data'", dir,
             (unsigned long long)(e->file_pages * PG), dir);
    if (system(cmd) != 0 || bench_makefs(dir, e->image, NULL) != 0)
        return EIO;
    return 0;
}

struct fs {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_file *f;
    xvm_vmspace *vs;
};

static int fs_up_design(const char *image, uint64_t ram,
                        enum xvm_device_design d, int xip, struct fs *s)
{
    struct xvm_mount_config mc;
    memset(s, 0, sizeof(*s));
    if ((s->m = machine_design(ram, 0, d)) == NULL)
        return ENOMEM;
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    mc.readahead = 0;
    if (xvm_flash_open(s->m, image, NULL, &s->flash) ||
        xvm_mount_flash(s->flash, &mc, &s->mp) ||
        xvm_open(s->mp, "data", XVM_O_RDONLY, &s->f) ||
        xvm_vmspace_create(s->m, &s->vs))
        return EIO;
    return 0;
}

static int fs_up(const char *image, uint64_t ram, int xip, struct fs *s)
{
    return fs_up_design(image, ram, XVM_DESIGN_SEGMENT, xip, s);
}

static void fs_down(struct fs *s)
{
    xvm_machine_destroy(s->m);
}

static const struct span failed = { -1, -1 };

/* Touches every page of [a, a+n pages): one fault each; => per page. */
static struct span touch(xvm_vmspace *vs, uint64_t a, uint64_t n, int write)
{
    uint8_t b = 1;
    struct span t0 = tm_now(false);
    for (uint64_t p = 0; p < n; p++)
        if ((write ? xvm_write(vs, a + p * PG, &b, 1)
                   : xvm_read(vs, a + p * PG, &b, 1)))
            return failed;
    return tm_per(t0, false, (double)n);
}

static uint64_t map_file(struct fs *s, uint64_t n, int prot)
{
    uint64_t a = 0;
    if (xvm_mmap_file(s->vs, &a, n * PG, prot, XVM_MAP_PRIVATE, s->f, 0) ||
        xvm_madvise(s->vs, a, n * PG, XVM_ADV_RANDOM))
        return 0;
    return a;
}

/* An 8-byte access hitting the TLB: read (0), write (1) or fetch (2). */
/* kind 3 to 5: the same with the CPU model on (the profile's caches and
 * TLB model). */
static struct span tlb_hits(int kind, unsigned n)
{
    struct xvm_config cfg;
    xvm_machine *m = NULL;
    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    cfg.ram_bytes = UINT64_C(16) << 20;
    if (kind >= 3)
        (void)xvm_machine_create(&cfg, &m);
    else
        m = machine(UINT64_C(16) << 20, 0);
    kind %= 3;
    if (m == NULL)
        return failed;
    xvm_vmspace *vs;
    uint64_t a = 0, v = 0;
    xvm_vmspace_create(m, &vs);
    xvm_mmap(vs, &a, PG, XVM_PROT_ALL, XVM_MAP_PRIVATE, NULL, 0);
    xvm_write(vs, a, &v, 8);
    xvm_read(vs, a, &v, 8);
    xvm_fetch(vs, a, &v, 8);
    struct span t0 = tm_now(false);
    for (unsigned i = 0; i < n; i++) {
        uint64_t at = a + ((i * 8u) & (PG - 8));
        if (kind == 0)
            xvm_read(vs, at, &v, 8);
        else if (kind == 1)
            xvm_write(vs, at, &v, 8);
        else
            xvm_fetch(vs, at, &v, 8);
    }
    struct span t = tm_per(t0, false, n);
    xvm_machine_destroy(m);
    t.cpu += (double)(v & 0);
    return t;
}

enum fault_kind {
    XIP_READ,
    COPY_RESIDENT,
    COPY_FLASH,
    COW_DEVICE,
    ZERO_FILL,
    COW_FORK
};

/* Steady state: the machine's frames have been used once, so the host's
 * own page faults on fresh memory are not counted as simulator cost. */
static void warm(xvm_vmspace *vs, uint64_t n)
{
    uint64_t a = 0;
    if (xvm_mmap(vs, &a, n * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) == 0) {
        touch(vs, a, n, 1);
        xvm_munmap(vs, a, n * PG);
    }
}

static struct span fault_row(struct env *e, enum fault_kind k)
{
    struct fs s = { 0 };
    uint64_t n = e->file_pages, a = 0;
    struct span t = failed;
    if (k == ZERO_FILL || k == COW_FORK) {
        xvm_machine *m = machine(UINT64_C(512) << 20, 0);
        xvm_vmspace *vs, *child;
        xvm_vmspace_create(m, &vs);
        warm(vs, 2 * n);
        xvm_mmap(vs, &a, n * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0);
        if (k == ZERO_FILL)
            t = touch(vs, a, n, 1);
        else if (touch(vs, a, n, 1).cpu >= 0 &&
                 xvm_vmspace_fork(vs, &child) == 0)
            t = touch(child, a, n, 1);
        xvm_machine_destroy(m);
        return t;
    }
    if (fs_up(e->image, UINT64_C(512) << 20, k == XIP_READ || k == COW_DEVICE,
              &s) != 0) {
        fs_down(&s);
        return failed;
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
            return failed;
        }
    }
    a = map_file(&s, n, prot);
    if (a)
        t = touch(s.vs, a, n, k == COW_DEVICE);
    fs_down(&s);
    return t;
}

/* Fork + destroy of a child of vs. */
static struct span fork_loop(xvm_vmspace *vs, unsigned iters)
{
    xvm_vmspace *c;
    struct span t0 = tm_now(false);
    for (unsigned i = 0; i < iters; i++) {
        if (xvm_vmspace_fork(vs, &c) != 0)
            return failed;
        xvm_vmspace_destroy(c);
    }
    return tm_per(t0, false, iters);
}

/* fork + exit of the child, the parent having touched mib MiB. */
static struct span fork_exit(uint64_t mib, unsigned iters)
{
    xvm_machine *m = machine((mib + 64) << 20, 0);
    xvm_vmspace *vs;
    uint64_t a = 0;
    xvm_vmspace_create(m, &vs);
    xvm_mmap(vs, &a, mib << 20, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE,
             NULL, 0);
    touch(vs, a, (mib << 20) / PG, 1);
    struct span t = fork_loop(vs, iters);
    xvm_machine_destroy(m);
    return t;
}

/* A process laid out like busybox: text, rodata, data, bss, heap, stack. */
static struct span busybox_fork(unsigned iters)
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
    struct span t = fork_loop(vs, iters);
    xvm_machine_destroy(m);
    return t;
}

static void versus(struct row *r, struct span sim, struct span kern,
                   double want_x)
{
    r->cpu = sim.cpu;
    r->wall = sim.wall;
    r->anchor = kern.cpu;
    snprintf(r->anchor_name, sizeof(r->anchor_name), "kernel");
    if (want_x > 0 && kern.cpu > 0) {
        snprintf(r->target, sizeof(r->target), "%.0fx cheaper", want_x);
        row_verdict(r, kern.cpu / sim.cpu >= want_x, "%.1fx",
                    kern.cpu / sim.cpu);
    }
}

int bench_access(const struct bench_opts *o, const struct kernel_results *k,
                 struct table *t)
{
    struct env e = { .o = o, .file_pages = o->quick ? 1024 : 4096 };
    unsigned runs = o->runs, hits = o->quick ? 2000000 : 20000000;
    static const uint64_t mib[3] = { 1, 16, 256 };
    static const char *const kinds[3] = { "read", "write", "execute" };
    struct span v;
    struct row *r;

    if (make_image(&e) != 0) {
        fprintf(stderr, "bench: makefs failed\n");
        return EIO;
    }
    for (int i = 0; i < 3; i++) {
        MEDIAN_TM(v, runs, tlb_hits(i, hits));
        r = table_row(t, "ns", "access, TLB hit, %s 8 B", kinds[i]);
        r->cpu = v.cpu, r->wall = v.wall;
    }
    static const struct {
        enum fault_kind k;
        const char *name;
        double want;
    } faults[] = {
        { XIP_READ, "fault: XIP read of a device page", 10 },
        { COPY_RESIDENT, "fault: copy-mode read, page-cache page", 0 },
        { COPY_FLASH, "fault: copy-mode read that reads flash", 0 },
        { COW_DEVICE, "fault: COW promotion from a device page", 10 },
        { ZERO_FILL, "fault: anonymous zero-fill", 0 },
        { COW_FORK, "fault: copy-on-write after fork", 0 },
    };
    const struct span *anchor[] = {
        &k->file_fault, &k->file_fault, NULL,
        &k->cow_file,   &k->zero_fill,  &k->cow_fork
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        MEDIAN_TM(v, runs, fault_row(&e, faults[i].k));
        r = table_row(t, "ns", "%s", faults[i].name);
        if (anchor[i])
            versus(r, v, *anchor[i], faults[i].want);
        else
            r->cpu = v.cpu, r->wall = v.wall;
    }
    for (int i = 0; i < 3; i++) {
        uint64_t n = o->quick && i == 2 ? 64 : mib[i];
        MEDIAN_TM(v, runs, fork_exit(n, 200));
        r = table_row(t, "ns", "fork + exit, %llu MiB touched",
                      (unsigned long long)n);
        versus(r, v, k->fork_exit[i], 0);
    }
    MEDIAN_TM(v, runs, busybox_fork(1000));
    r = table_row(t, "ns", "fork + exit, a busybox-sized process");
    r->cpu = v.cpu, r->wall = v.wall;
    snprintf(r->target, sizeof(r->target), "<= 20 us");
    row_verdict(r, v.cpu <= 20000, "%.1f us", v.cpu / 1000);
    table_note(t,
               "kernel: %.2f minor faults per page touched on the MADV_RANDOM "
               "file mapping (fault-around); its fault rows are per fault.\n",
               k->faults_per_page);
    return 0;
}

/* ---- scaling ---- */

/* A random order of n events (Fisher-Yates). */
static uint32_t *shuffled(uint32_t n)
{
    uint32_t *v = malloc(n * sizeof(*v));
    uint64_t s = 88172645463325252ULL;
    if (v == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        v[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(bench_rnd(&s) % (i + 1)), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    return v;
}

/*
 * The same events (first reads of npages pages, in random order, each a
 * fault that maps the zero page) spread over nproc address spaces or over
 * nentries map entries of one: => per event.
 */
static struct span spread_row(uint32_t nproc, uint32_t nentries,
                              uint32_t npages)
{
    xvm_machine *m = machine(UINT64_C(1) << 30, 0);
    xvm_vmspace **vs = calloc(nproc, sizeof(*vs));
    uint32_t per_proc = npages / nproc, per_entry = npages / nproc / nentries;
    const uint64_t base = 0x100000000ULL;
    uint32_t *order = shuffled(npages);
    uint64_t v;
    struct span t = failed;
    if (m == NULL || vs == NULL || order == NULL)
        goto out;
    for (uint32_t p = 0; p < nproc; p++) {
        if (xvm_vmspace_create(m, &vs[p]) != 0)
            goto out;
        for (uint32_t k = 0; k < nentries; k++) {
            /* A gap page between entries keeps them apart. */
            uint64_t at = base + (uint64_t)k * (per_entry + 1) * PG;
            xvm_mmap(vs[p], &at, (uint64_t)per_entry * PG, XVM_PROT_READ,
                     XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0);
        }
    }
    struct span t0 = tm_now(false);
    for (uint32_t i = 0; i < npages; i++) {
        uint32_t e = order[i], p = e / per_proc, r = e % per_proc;
        uint64_t at = base + (uint64_t)(r / per_entry) * (per_entry + 1) * PG +
                      (uint64_t)(r % per_entry) * PG;
        xvm_read(vs[p], at, &v, 8);
    }
    t = tm_per(t0, false, npages);
out:
    free(order);
    xvm_machine_destroy(m);
    free(vs);
    return t;
}

/* ---- the device-page designs side by side ---- */

/* A fault row under design d, its loop collected alone under callgrind. */
static struct span design_fault(struct env *e, enum fault_kind k)
{
    char label[96];
    struct fs s;
    uint64_t n = e->file_pages, a;
    struct span t = failed;
    if (fs_up_design(e->image, UINT64_C(512) << 20, e->design, 1, &s) != 0) {
        fs_down(&s);
        return failed;
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
        t = touch(s.vs, a, n, cow);
        COLLECT_END(label);
    }
    fs_down(&s);
    return t;
}

/*
 * Fork-heavy: a process with 256 pages of XIP text it has run (device
 * mappings) and 64 pages of data it has written (an amap) forks a child
 * that runs `run` pages of the text and exits, iters times.  => per fork.
 */
static struct span design_fork(struct env *e, unsigned iters, uint64_t run)
{
    char label[96];
    struct fs s;
    uint64_t text = 256, data = 64, a, d = 0;
    struct span t = failed;
    if (e->file_pages < text ||
        fs_up_design(e->image, UINT64_C(512) << 20, e->design, 1, &s) != 0) {
        fs_down(&s);
        return failed;
    }
    a = map_file(&s, text, XVM_PROT_READ | XVM_PROT_EXEC);
    if (a == 0 || touch(s.vs, a, text, 0).cpu < 0 ||
        xvm_mmap(s.vs, &d, data * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) != 0 ||
        touch(s.vs, d, data, 1).cpu < 0) {
        fs_down(&s);
        return failed;
    }
    snprintf(label, sizeof(label), "row=%s design=%s n=%u",
             run ? "fork_text" : "fork_exit", xvm_device_design_name(e->design),
             iters);
    uint8_t b;
    COLLECT_BEGIN();
    struct span t0 = tm_now(false);
    unsigned i;
    for (i = 0; i < iters; i++) {
        xvm_vmspace *c;
        if (xvm_vmspace_fork(s.vs, &c) != 0)
            break;
        for (uint64_t p = 0; p < run; p++)
            xvm_fetch(c, a + p * PG, &b, 1);
        xvm_vmspace_destroy(c);
    }
    if (i == iters)
        t = tm_per(t0, false, iters);
    COLLECT_END(label);
    fs_down(&s);
    return t;
}

int bench_designs(const struct bench_opts *o, struct table *t)
{
    struct env e = { .o = o, .file_pages = o->quick ? 1024 : 4096 };
    unsigned runs = o->runs, iters = o->quick ? 50 : 200;
    static const char *const what[4] = {
        "XIP read fault, device page",
        "COW fault from a device page",
        "fork + exit, XIP process",
        "fork + child runs 64 text pages",
    };
    struct span v[4];
    if (make_image(&e) != 0)
        return EIO;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        e.design = (enum xvm_device_design)d;
        MEDIAN_TM(v[0], runs, design_fault(&e, XIP_READ));
        MEDIAN_TM(v[1], runs, design_fault(&e, COW_DEVICE));
        MEDIAN_TM(v[2], runs, design_fork(&e, iters, 0));
        MEDIAN_TM(v[3], runs, design_fork(&e, iters, 64));
        for (int i = 0; i < 4; i++) {
            if (v[i].cpu < 0)
                return EIO;
            struct row *r =
                table_row(t, "ns", "design %s: %s",
                          xvm_device_design_name(e.design), what[i]);
            r->cpu = v[i].cpu, r->wall = v[i].wall;
        }
    }
    return 0;
}

/* First touches timed per row: enough that one host page fault among
 * them (10-40 us on a VM) moves the row little. */
#define FIRST_TOUCHES 1000

/* The first touch of k of n new address spaces, forked from one: each
 * reads a page of the parent's (its tables are made then).  => the CPU
 * (and wall) time of the k touches, summed into *sum; -1 on failure. */
static int first_touch_once(uint32_t n, uint32_t k, struct span *sum)
{
    xvm_machine *m = machine(UINT64_C(4) << 30, 0);
    xvm_vmspace *parent, *warm, **kids = calloc(n, sizeof(*kids)),
                                **touched = calloc(k, sizeof(*touched));
    uint64_t a = 0, w = 0, v = 0;
    int rc = -1;
    /* A space of its own touched first, untimed: a machine's first
     * fault runs cold (the fault path's code and the machine's shared
     * state out of the host's caches: 20-120 us here, with no host
     * fault or system call, then 5-10 us), a cost of the machine, not
     * of a first touch among n spaces. */
    if (m == NULL || kids == NULL || touched == NULL ||
        xvm_vmspace_create(m, &warm) != 0 ||
        xvm_mmap(warm, &w, 16 * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) != 0 ||
        xvm_read(warm, w, &v, 8) != 0 || xvm_vmspace_create(m, &parent) != 0 ||
        xvm_mmap(parent, &a, 16 * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) != 0)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        if (xvm_vmspace_fork(parent, &kids[i]) != 0)
            goto out;
    /* The touches spread evenly, their spaces gathered first (at 100,000
     * the harness's own array misses the caches: its misses are not the
     * fault's). */
    uint32_t step = n / k ? n / k : 1, got = 0;
    for (uint32_t i = 0; i < n && got < k; i += step)
        touched[got++] = kids[i];
    struct span t0 = tm_now(false);
    for (uint32_t i = 0; i < got; i++)
        xvm_read(touched[i], a + (i * step % 16) * PG, &v, 8);
    struct span t = tm_per(t0, false, 1);
    sum->cpu += t.cpu, sum->wall += t.wall;
    rc = got == k ? 0 : -1;
out:
    xvm_machine_destroy(m);
    free(kids);
    free(touched);
    return rc;
}

/* FIRST_TOUCHES first touches among n spaces: one machine when n is
 * that many or more, else as many machines of n as it takes (a space
 * has one first touch). => per fault. */
static struct span first_touch(uint32_t n)
{
    struct span sum = { 0, 0 };
    uint32_t done = 0;
    while (done < FIRST_TOUCHES) {
        uint32_t k = n < FIRST_TOUCHES - done ? n : FIRST_TOUCHES - done;
        if (first_touch_once(n, k, &sum) != 0)
            return failed;
        done += k;
    }
    sum.cpu /= done, sum.wall /= done;
    return sum;
}

/*
 * A scale's rows: the sizes measured in turns (each turn every size once,
 * so that a machine whose load drifts slows them alike), each row the
 * median of its turns, and each size after the first held to at most
 * twice it by the median of its turns' ratios.  The verdict also tells
 * the row's extra CPU over the first in host memory latencies (lat, ns):
 * what a miss to memory costs this host, and the least the simulator
 * pays for a cold line of state it must read.  measure(size index) =>
 * one measurement.
 */
struct scale {
    const char *base;  /* the first size's name, for the target */
    const char *fmt;   /* a row's name from its size */
    const uint32_t *n; /* the sizes */
    int count;
};

static void scale_rows(struct table *t, const struct scale *sc, unsigned runs,
                       double lat,
                       struct span (*measure)(const struct scale *, int))
{
    double c[3][BENCH_MAX_RUNS], w[3][BENCH_MAX_RUNS], ratio[BENCH_MAX_RUNS];
    for (unsigned i = 0; i < runs; i++)
        for (int k = 0; k < sc->count; k++) {
            struct span v = measure(sc, k);
            c[k][i] = v.cpu, w[k][i] = v.wall;
        }
    for (int k = 0; k < sc->count; k++) {
        char name[80];
        snprintf(name, sizeof(name), sc->fmt, sc->n[k]);
        struct row *r = table_row(t, "ns", "%s", name);
        r->cpu = median(c[k], runs), r->wall = median(w[k], runs);
        if (k == 0)
            continue;
        for (unsigned i = 0; i < runs; i++)
            ratio[i] = c[0][i] > 0 && c[k][i] > 0 ? c[k][i] / c[0][i] : -1;
        double x = median(ratio, runs), extra = r->cpu - median(c[0], runs);
        snprintf(r->target, sizeof(r->target), "<= 2x %s", sc->base);
        if (lat > 0) {
            double nlat = extra / lat;
            if (nlat > -0.05 && nlat < 0.05)
                nlat = 0; /* no "-0.0" */
            row_verdict(r, x > 0 && x <= 2, "%.2fx; %+.0f ns, %.1f latencies",
                        x, extra, nlat);
        } else {
            row_verdict(r, x > 0 && x <= 2, "%.2fx", x);
        }
    }
}

/* Past the host's last-level cache, as 10,000 processes' state is. */
#define LATENCY_SPAN ((size_t)64 << 20)

/* 100,000 first touches: 10 pages per process at 10,000. */
#define SPREAD 100000

static struct span measure_procs(const struct scale *sc, int k)
{
    return spread_row(sc->n[k], 1, SPREAD);
}

static struct span measure_entries(const struct scale *sc, int k)
{
    return spread_row(1, sc->n[k], SPREAD);
}

static struct span measure_first_touch(const struct scale *sc, int k)
{
    return first_touch(sc->n[k]);
}

int bench_scale(const struct bench_opts *o, struct table *t)
{
    static const uint32_t nprocs[3] = { 1, 100, 10000 },
                          nentries[3] = { 10, 1000, 100000 };
    uint32_t spaces[2] = { 100, o->quick ? 20000 : 100000 };
    const struct scale procs = { "1 process", "per event, %u processes", nprocs,
                                 3 },
                       entries = { "10 entries", "per event, %u map entries",
                                   nentries, 3 },
                       touch = { "100 spaces",
                                 "first-touch fault among %u address spaces",
                                 spaces, 2 };
    struct span lat;
    MEDIAN_TM(lat, o->runs, host_load_latency(LATENCY_SPAN));
    struct row *r = table_row(t, "ns", "host memory latency (a load, 64 MiB)");
    r->cpu = lat.cpu, r->wall = lat.wall;
    scale_rows(t, &procs, o->runs, lat.cpu, measure_procs);
    scale_rows(t, &entries, o->runs, lat.cpu, measure_entries);
    scale_rows(t, &touch, o->runs, lat.cpu, measure_first_touch);
    return 0;
}

/* ---- host memory, from the resident set ---- */

/* The resident set less what m backs ahead of its frames' first use (at
 * most 2 MiB of their bytes and 2 MiB of their vm_pages, whatever the
 * RAM): a fixed cost, not one per page. */
static uint64_t rss_in_use(const xvm_machine *m)
{
    return rss_bytes() - phys_backed_ahead(&m->ph);
}

/* Per resident page-cache page: the image's file read() whole in copy
 * mode (frames and their vm_pages, the object's page index). */
static double bytes_per_cached_page(const char *image, uint64_t n)
{
    struct fs s = { 0 };
    double b = -1;
    uint8_t *buf = malloc(PG);
    if (buf && fs_up(image, (n + 8192) * PG, 0, &s) == 0) {
        size_t done;
        uint64_t before = rss_in_use(s.m);
        struct xvm_stats st0, st;
        xvm_machine_stats(s.m, &st0);
        for (uint64_t p = 0; p < n; p++)
            if (xvm_pread(s.f, p * PG, buf, PG, &done) != 0)
                break;
        xvm_machine_stats(s.m, &st);
        uint64_t frames =
            st.pages[XVM_USE_PAGECACHE] - st0.pages[XVM_USE_PAGECACHE];
        if (frames)
            b = (double)(rss_in_use(s.m) - before) / (double)frames;
    }
    fs_down(&s);
    free(buf);
    return b;
}

/* Per resident anonymous page written: with its anon, amap slot, PV
 * entry and page-table share. */
static double bytes_per_ram_page(uint64_t n)
{
    xvm_machine *m = machine((n + 4096) * PG, 0);
    xvm_vmspace *vs;
    uint64_t a = 0, before = m ? rss_in_use(m) : 0;
    double b = -1;
    if (m && xvm_vmspace_create(m, &vs) == 0 &&
        xvm_mmap(vs, &a, n * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) == 0 &&
        touch(vs, a, n, 1).cpu >= 0) {
        struct xvm_stats st;
        xvm_machine_stats(m, &st);
        uint64_t frames = st.ram_pages - st.pages[XVM_USE_FREE];
        b = (double)(rss_in_use(m) - before) / (double)frames;
    }
    xvm_machine_destroy(m);
    return b;
}

/* Per live mapping of a device page: n pages of a file mapped XIP. */
static double bytes_per_device_mapping(const char *image, uint64_t n)
{
    struct fs s = { 0 };
    double b = -1;
    if (fs_up(image, UINT64_C(256) << 20, 1, &s) == 0) {
        uint64_t before = rss_in_use(s.m), a = map_file(&s, n, XVM_PROT_READ);
        if (a && touch(s.vs, a, n, 0).cpu >= 0)
            b = (double)(rss_in_use(s.m) - before) / (double)n;
    }
    fs_down(&s);
    return b;
}

/* Per device page of a registered flash nothing maps. */
static double bytes_per_device_page(const char *image, uint64_t n)
{
    xvm_machine *m = machine(UINT64_C(64) << 20, 0);
    xvm_flash *f;
    uint64_t before = rss_bytes();
    double b = -1;
    if (m && xvm_flash_open(m, image, NULL, &f) == 0)
        b = (double)(rss_bytes() - before) / (double)n;
    xvm_machine_destroy(m);
    return b;
}

/* Per address space: n forks of a small one (untouched afterwards). */
static double bytes_per_space(uint32_t n)
{
    xvm_machine *m = machine(UINT64_C(2) << 30, 0);
    xvm_vmspace *p, *c;
    uint64_t a = 0, before;
    double b = -1;
    if (m == NULL || xvm_vmspace_create(m, &p) != 0 ||
        xvm_mmap(p, &a, 16 * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                 XVM_MAP_PRIVATE, NULL, 0) != 0)
        goto out;
    touch(p, a, 16, 1);
    before = rss_in_use(m);
    for (uint32_t i = 0; i < n; i++)
        if (xvm_vmspace_fork(p, &c) != 0)
            goto out;
    b = (double)(rss_in_use(m) - before) / (double)n;
out:
    xvm_machine_destroy(m);
    return b;
}

/*
 * Each measure in a child of its own, forked from this process as it
 * is: the RSS deltas of earlier rows (memory freed, or trimmed back to
 * the host) do not blur them.  => the child's figure, or -1.
 */
static double in_child(double (*fn)(const char *, uint64_t), const char *a,
                       uint64_t n)
{
    int fds[2];
    double b = -1;
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        double v = fn(a, n);
        _exit(write(fds[1], &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : 1);
    }
    close(fds[1]);
    if (pid > 0 && read(fds[0], &b, sizeof(b)) != (ssize_t)sizeof(b))
        b = -1;
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return b;
}

static double ram_page(const char *unused, uint64_t n)
{
    (void)unused;
    return bytes_per_ram_page(n);
}

static double space(const char *unused, uint64_t n)
{
    (void)unused;
    return bytes_per_space((uint32_t)n);
}

int bench_memory(const struct bench_opts *o, struct table *t)
{
    /* 16384 pages (64 MiB); what the machine backs ahead of its frames'
     * use (at most 2 MiB of bytes, 2 MiB of vm_pages) is left out. */
    struct env e = { .o = o, .file_pages = 16384 };
    struct row *r;
    double b;
    if (make_image(&e) != 0)
        return EIO;
    b = in_child(bytes_per_cached_page, e.image, e.file_pages);
    r = table_row(t, "B", "host bytes per resident page (page cache, RSS)");
    r->cpu = b;
    snprintf(r->target, sizeof(r->target), "<= 4096 + 64");
    row_verdict(r, b <= 4096 + 64, "%.0f B", b);
    b = in_child(ram_page, NULL, 65536);
    r = table_row(t, "B", "host bytes per written anonymous page (RSS)");
    r->cpu = b;
    b = in_child(bytes_per_device_page, e.image, e.file_pages);
    r = table_row(t, "B", "host bytes per device page, unmapped (RSS)");
    r->cpu = b;
    snprintf(r->target, sizeof(r->target), "0");
    row_verdict(r, b < 1, "%.1f B", b);
    b = in_child(bytes_per_device_mapping, e.image, e.file_pages);
    r = table_row(t, "B", "host bytes per live device-page mapping (RSS)");
    r->cpu = b;
    b = in_child(space, NULL, o->quick ? 2000 : 20000);
    r = table_row(t, "B", "host bytes per forked address space (RSS)");
    r->cpu = b;
    table_note(t, "memory rows: the growth of this process's anonymous "
                  "resident memory (RssAnon) over the work, divided by it "
                  "(no sizeof); what the machine backs ahead of its "
                  "frames' first use (at most 2 MiB of their bytes, 2 MiB "
                  "of their vm_pages) left out.\n");
    return 0;
}

/* ---- the TLB-hit path in instructions ---- */

/* What callgrind counts: n hits of one kind, inside xvm_read, _write or
 * _fetch (--toggle-collect). */
int bench_tlb_probe(int kind, unsigned n)
{
    return tlb_hits(kind, n).cpu < 0;
}

/* => the instructions callgrind counts inside fn for a probe of n hits. */
static double probe_ir(const struct bench_opts *o, int kind, const char *fn,
                       unsigned n)
{
    char cmd[1536], out[600], line[256];
    double ir = -1;
    snprintf(out, sizeof(out), "%s/tlb.%d.%u.callgrind", o->workdir, kind, n);
    snprintf(cmd, sizeof(cmd),
             "valgrind --tool=callgrind --toggle-collect=%s "
             "--callgrind-out-file='%s' '%s' bench --probe-tlb %d %u "
             ">/dev/null 2>&1",
             fn, out, o->self, kind, n);
    if (system(cmd) != 0)
        return -1;
    FILE *f = fopen(out, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "summary:", 8) == 0)
            ir = strtod(line + 8, NULL);
    if (f)
        fclose(f);
    return ir;
}

int bench_tlb(const struct bench_opts *o, struct table *t)
{
    static const char *const fn[3] = { "xvm_read", "xvm_write", "xvm_fetch" };
    static const char *const kinds[3] = { "read", "write", "execute" };
    const unsigned n = 100000;
    for (int k = 0; k < 6; k++) {
        /* n hits and 2n: the difference is n hits, warm-up and set-up
         * (the first access's fault) cancel out. */
        double a = probe_ir(o, k, fn[k % 3], n),
               b = probe_ir(o, k, fn[k % 3], 2 * n);
        if (a < 0 || b < 0) {
            fprintf(stderr, "bench: callgrind failed (valgrind missing?)\n");
            return EIO;
        }
        struct row *r = table_row(t, "instr", "TLB hit, %s 8 B, CPU model %s",
                                  kinds[k % 3], k < 3 ? "off" : "on");
        r->cpu = (b - a) / n;
        snprintf(r->anchor_name, sizeof(r->anchor_name), "callgrind");
        if (k < 3) {
            snprintf(r->target, sizeof(r->target), "<= 20");
            row_verdict(r, r->cpu <= 20, "%.0f", r->cpu);
        }
    }
    return 0;
}
