/*
 * The machine: creation from a configuration, destruction, and the public
 * calls that need more than one layer or the machine itself.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "loan.h"
#include "machine.h"
#include "pagedaemon.h"
#include "vmspace.h"

void xvm_config_init(struct xvm_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->profile = "sgimips";
    cfg->policy = "clock";
    cfg->ram_bytes = UINT64_C(64) << 20;
    /* UVM's fault-ahead table (uvm_fault.c uvmadvice[]). */
    cfg->ahead[XVM_ADV_NORMAL] = (struct xvm_ahead){ 3, 4 };
    cfg->ahead[XVM_ADV_RANDOM] = (struct xvm_ahead){ 0, 0 };
    cfg->ahead[XVM_ADV_SEQUENTIAL] = (struct xvm_ahead){ 8, 7 };
}

const char *xvm_version(void)
{
    return XVM_VERSION;
}

void xvm_config_fault_ahead(struct xvm_config *cfg, unsigned n)
{
    if (cfg == NULL)
        return;
    cfg->ahead[XVM_ADV_NORMAL] = (struct xvm_ahead){ n, n };
    cfg->ahead[XVM_ADV_SEQUENTIAL] = (struct xvm_ahead){ n, n };
}

static int segment_unload(struct xvm_machine *m, uint64_t pa);

static int check_config(const struct xvm_config *cfg, const struct profile *p)
{
    uint64_t pgsz = UINT64_C(1) << p->page_shift;
    if (cfg->ram_bytes % pgsz || cfg->ram_base % pgsz ||
        cfg->ram_base + cfg->ram_bytes < cfg->ram_base)
        return EINVAL;
    if (cfg->ram_bytes > p->ram_max)
        return ERANGE;
    /* Frame numbers must fit the PTE (20 bits in a 4-byte PTE). */
    if (p->pte_size == 4 &&
        cfg->ram_base + cfg->ram_bytes > (UINT64_C(1) << 32))
        return EINVAL;
    if ((cfg->freemin | cfg->freetarg) % pgsz ||
        (cfg->freetarg && cfg->freetarg <= cfg->freemin))
        return EINVAL;
    for (int i = 0; i < 3; i++)
        if (cfg->ahead[i].back > 64 || cfg->ahead[i].forward > 64)
            return EINVAL;
    if ((unsigned)cfg->device_design >= XVM_DESIGNS ||
        cfg->neighbour_reserve % pgsz ||
        cfg->neighbour_reserve > cfg->ram_bytes)
        return EINVAL;
    return 0;
}

const char *xvm_device_design_name(enum xvm_device_design d)
{
    static const char *const names[XVM_DESIGNS] = { "segment", "amap-copy",
                                                    "vm_page" };
    return (unsigned)d < XVM_DESIGNS ? names[d] : "?";
}

int xvm_machine_create(const struct xvm_config *cfg, xvm_machine **out)
{
    struct xvm_config def;
    if (out == NULL)
        return EINVAL;
    if (cfg == NULL) {
        xvm_config_init(&def);
        cfg = &def;
    }
    const struct profile *p = profile_find(cfg->profile ? cfg->profile : "");
    if (p == NULL)
        return EINVAL;
    int error = check_config(cfg, p);
    if (error)
        return error;

    /* The CPU: the caller's profile, or the built-in of the machine's. */
    xvm_cpu_profile *own = NULL;
    const xvm_cpu_profile *cp = cfg->cpu;
    if (cp == NULL && (error = xvm_cpu_profile_create(p->name, &own)) != 0)
        return error == ENOENT ? EINVAL : error;
    if (cp == NULL)
        cp = own;
    if (cpu_params_check(&cp->p, NULL, 0) != 0) {
        xvm_cpu_profile_destroy(own);
        return EINVAL;
    }
    struct xvm_machine *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        xvm_cpu_profile_destroy(own);
        return ENOMEM;
    }
    m->cfg = *cfg;
    m->cfg.profile = p->name;
    m->cfg.cpu = NULL; /* the caller's profile may go: ours is m->cpu.p */
    /* Bottom up: each layer's init may rely on those below it. */
    core_init(&m->core, p);
    devices_init(&m->devs, &m->core);
    objects_init(&m->objs, &m->core, &m->ph, &m->mmu);
    procs_init(&m->procs, &m->core, &m->vm);
    error = cpu_init(&m->cpu, &m->core, &cp->p, p->levels, NULL, 0);
    xvm_cpu_profile_destroy(own);
    if (error) {
        free(m);
        return error;
    }
    if ((error = mmu_init(&m->mmu, &m->core, &m->ph, &m->cpu, cfg->tlb_entries,
                          cfg->device_design)) != 0 ||
        (error = phys_init(&m->ph, &m->core, cfg->ram_base, cfg->ram_bytes)) !=
            0) {
        xvm_machine_destroy(m);
        return error;
    }
    kmem_init(&m->kmem, &m->ph);
    const struct pdpolicy_ops *policy =
        cfg->policy_ops ? cfg->policy_ops
                        : pdpolicy_find(cfg->policy ? cfg->policy : "clock");
    if ((error = pagedaemon_init(
             &m->objs.pd, &m->ph, &m->mmu, cfg->freemin >> p->page_shift,
             cfg->freetarg >> p->page_shift, policy)) != 0) {
        xvm_machine_destroy(m);
        return error;
    }
    vfs_init(&m->vfs, &m->core, &m->ph, &m->objs);
    /* The VM layer registers its anon pager with the page daemon. */
    vm_init(&m->vm, &m->core, &m->ph, &m->mmu, &m->objs, cfg->ahead);
    vm_set_neighbour_reserve(&m->vm, cfg->neighbour_reserve >> p->page_shift,
                             cfg->neighbour_pv_limit);
    *out = m;
    return 0;
}

void xvm_machine_destroy(xvm_machine *m)
{
    if (m == NULL)
        return;
    /* Top down: processes and spaces hold objects, objects hold vnodes. */
    procs_fini(&m->procs);
    vfs_close_files(&m->vfs); /* the caller's open files */
    vm_loans_fini(&m->vm);
    vm_fini(&m->vm);
    objects_fini(&m->objs);
    pagedaemon_fini(&m->objs.pd);
    /* Then mounts (now without vnodes) and flash devices. */
    while (m->devs.flashes) {
        if (m->devs.flashes->mounted)
            (void)xvm_unmount(m->devs.flashes->mounted);
        if (xvm_flash_close(m->devs.flashes) != 0)
            break;
    }
    swap_destroy(m->devs.swap);
    /* Segments loaded by xvm_physload_device stay to the end. */
    while (m->ph.ndev && m->ph.km)
        (void)segment_unload(m, m->ph.dev[0].pa);
    mmu_fini(&m->mmu);
    cpu_fini(&m->cpu);
    if (m->ph.km)
        kmem_fini(&m->kmem);
    phys_fini(&m->ph);
    timeline_fini(&m->tl);
    core_fini(&m->core);
    free(m);
}

uint32_t xvm_page_size(const xvm_machine *m)
{
    return m ? m->core.pgsz : 0;
}

/*
 * A device segment.  Under the vm_page design it gets a vm_page per page,
 * charged to kernel memory (OpenBSD allocates them at physload time); the
 * other designs keep nothing per page.
 */
struct segment {
    struct xvm_machine *m;
    uint64_t pa, len;
    const void *data;
    bool ram;
};

static int segment_load_op(void *arg)
{
    struct segment *s = arg;
    struct xvm_machine *m = s->m;
    uint64_t pa = s->pa, len = s->len;
    const void *data = s->data;
    bool ram = s->ram;
    struct vm_page *pages = NULL;
    uint64_t n = len >> m->core.pgshift;
    if (m->mmu.design == XVM_DESIGN_VM_PAGE && len &&
        !(len & (m->core.pgsz - 1)) &&
        (pages = kmem_alloc(&m->kmem, XVM_KMEM_DEVICE_VM_PAGE, n,
                            (size_t)n * sizeof(*pages))) == NULL)
        return ENOMEM;
    int error = phys_load_device(&m->ph, pa, len, data, ram, pages);
    if (error)
        kmem_free(&m->kmem, XVM_KMEM_DEVICE_VM_PAGE, n, pages);
    return error;
}

/* The vm_pages are kernel memory: wait for the page daemon when RAM is
 * full, as xvm_vmspace_create does. */
static int segment_load(struct xvm_machine *m, uint64_t pa, uint64_t len,
                        const void *data, bool ram)
{
    struct segment s = { m, pa, len, data, ram };
    return pagedaemon_retry(&m->objs.pd, segment_load_op, &s);
}

static int segment_unload(struct xvm_machine *m, uint64_t pa)
{
    struct dev_seg *d = phys_dev_seg(&m->ph, pa);
    uint64_t n = d ? d->npages : 0;
    struct vm_page *pages;
    int error = phys_unload_device(&m->ph, pa, &pages);
    if (error == 0)
        kmem_free(&m->kmem, XVM_KMEM_DEVICE_VM_PAGE, n, pages);
    return error;
}

int xvm_physload_device(xvm_machine *m, uint64_t pa, uint64_t len,
                        const void *data)
{
    if (m == NULL)
        return EINVAL;
    return segment_load(m, pa, len, data, false);
}

int xvm_swapon(xvm_machine *m, const struct xvm_swap_config *cfg)
{
    if (m == NULL || cfg == NULL)
        return EINVAL;
    if (m->devs.swap)
        return EBUSY;
    int error = swap_create(&m->core, cfg, &m->devs.swap);
    if (error == 0)
        m->objs.pd.swap = m->devs.swap;
    return error;
}

/* Creations that need kernel memory wait for the page daemon, as the
 * kernel's allocations that may sleep do: restarted after a scan when RAM
 * is full (a fault may have left no frame free). */
struct create {
    xvm_machine *m;
    uint64_t size;
    void *out;
};

static int vmspace_create_op(void *arg)
{
    struct create *c = arg;
    return vmspace_create(&c->m->vm, c->out);
}

int xvm_vmspace_create(xvm_machine *m, xvm_vmspace **out)
{
    if (m == NULL || out == NULL)
        return EINVAL;
    struct create c = { m, 0, out };
    return pagedaemon_retry(&m->objs.pd, vmspace_create_op, &c);
}

xvm_machine *xvm_vmspace_machine(const xvm_vmspace *vs)
{
    if (vs == NULL)
        return NULL;
    /* The VM layer's state lives inside its machine. */
    return (xvm_machine *)(void *)((char *)vs->vm - offsetof(xvm_machine, vm));
}

static int aobj_create_op(void *arg)
{
    struct create *c = arg;
    return aobj_create(&c->m->objs, c->size, c->out);
}

int xvm_aobj_create(xvm_machine *m, uint64_t size, xvm_object **out)
{
    if (m == NULL)
        return EINVAL;
    struct create c = { m, size, out };
    return pagedaemon_retry(&m->objs.pd, aobj_create_op, &c);
}

int xvm_devobj_create(xvm_machine *m, uint64_t pa, uint64_t len,
                      xvm_object **out)
{
    if (m == NULL)
        return EINVAL;
    return devobj_create(&m->objs, pa, len, out);
}

int xvm_object_create(xvm_machine *m, const struct xvm_pager_ops *ops,
                      uint64_t size, int flags, void *priv, xvm_object **out)
{
    if (m == NULL || ops == NULL || ops->get == NULL || out == NULL ||
        size == 0 || pg_round(&m->core, size) < size ||
        (flags & ~XVM_OBJECT_READONLY))
        return EINVAL;
    /* The object is part of the caller's structures: host memory, not
     * the machine's kernel memory (as a vnode's is part of the vnode's). */
    int error = object_create(&m->objs, ops, pg_round(&m->core, size),
                              XVM_USE_PAGECACHE, -1, out);
    if (error)
        return error;
    (*out)->user = true;
    (*out)->read_only = (flags & XVM_OBJECT_READONLY) != 0;
    (*out)->priv = priv;
    return 0;
}

xvm_machine *xvm_object_machine(const xvm_object *obj)
{
    if (obj == NULL)
        return NULL;
    /* The object layer's state lives inside its machine. */
    return (xvm_machine *)(void *)((char *)obj->objs -
                                   offsetof(xvm_machine, objs));
}

int xvm_device_page(xvm_machine *m, uint64_t pa, xvm_page_handle *pg)
{
    if (m == NULL || pg == NULL || (pa & (m->core.pgsz - 1)))
        return EINVAL;
    pageh h = phys_lookup_device(&m->ph, pa);
    if (h == PAGEH_NONE)
        return EINVAL;
    *pg = h;
    return 0;
}

xvm_page_handle xvm_zero_page(xvm_machine *m)
{
    return m ? m->ph.zero_page : XVM_PAGE_HANDLE_NONE;
}

/* ---- flash devices: the device layer, physical memory, and mounts ---- */

/* A memory disk's frames go back to managed RAM, and the targets with
 * them. */
static void md_release(struct xvm_machine *m, uint64_t pa)
{
    phys_md_release(&m->ph, pa);
    pagedaemon_tune(&m->objs.pd);
}

/*
 * Registers the window as a device segment: its pages are device pages.
 * A memory disk first takes its RAM out of the managed pages (§11.6): the
 * window is that RAM, so no page of the image has a vm_page; the page
 * daemon's targets then follow the rest, which must exceed them.
 */
static int flash_register(struct xvm_machine *m, struct xvm_flash *f)
{
    int error;
    if (f->cfg.device == XVM_DEVICE_MD) {
        uint64_t pa, n = f->seglen >> m->core.pgshift;
        /* The rest must keep more than its own free target. */
        uint64_t keep =
            n < m->ph.npages
                ? pagedaemon_freetarg_at(&m->objs.pd, m->ph.npages - n)
                : 0;
        if ((error = phys_md_carve(&m->ph, n, keep, &pa)) != 0)
            return error;
        f->md_pa = f->cfg.phys_base = pa;
        pagedaemon_tune(&m->objs.pd);
    }
    if (!f->cfg.xip_capable)
        return 0;
    if (f->cfg.phys_base == 0)
        f->cfg.phys_base = phys_free_base(&m->ph);
    /* A memory disk's lines fill from RAM; NOR's at the profile's nor_*
     * latencies (the CPU model, doc/time-model.md). */
    error = segment_load(m, f->cfg.phys_base, f->seglen, f->data,
                         f->cfg.device == XVM_DEVICE_MD);
    if (error == 0)
        f->registered = true;
    else if (f->md_pa)
        md_release(m, f->md_pa);
    return error;
}

static int flash_setup(struct xvm_machine *m, struct xvm_flash *f,
                       xvm_flash **out)
{
    int error;
    f->owner = m;
    if ((error = flash_register(m, f)) != 0) {
        flash_free(f);
        return error;
    }
    *out = f;
    return 0;
}

/* No config: the defaults, with the CPU profile's block-interface cost. */
static const struct xvm_flash_config *flash_cfg(
    const struct xvm_machine *m, const struct xvm_flash_config *cfg,
    struct xvm_flash_config *def)
{
    if (cfg)
        return cfg;
    xvm_flash_config_init(def);
    def->ns_per_access = m->cpu.p.block_access_ns;
    def->ns_per_byte = m->cpu.p.block_byte_ns;
    return def;
}

int xvm_flash_open(xvm_machine *m, const char *path,
                   const struct xvm_flash_config *cfg, xvm_flash **out)
{
    struct xvm_flash *f = NULL;
    struct xvm_flash_config def;
    if (m == NULL || path == NULL || out == NULL)
        return EINVAL;
    int error = flash_open(&m->devs, path, flash_cfg(m, cfg, &def), &f);
    return error ? error : flash_setup(m, f, out);
}

int xvm_flash_attach(xvm_machine *m, const void *buf, uint64_t len,
                     const struct xvm_flash_config *cfg, xvm_flash **out)
{
    struct xvm_flash *f = NULL;
    struct xvm_flash_config def;
    if (m == NULL || out == NULL)
        return EINVAL;
    int error = flash_attach(&m->devs, buf, len, flash_cfg(m, cfg, &def), &f);
    return error ? error : flash_setup(m, f, out);
}

int xvm_flash_close(xvm_flash *f)
{
    if (f == NULL)
        return EINVAL;
    struct xvm_machine *m = f->owner;
    if (f->mounted)
        return EBUSY;
    if (f->registered) {
        if (pmap_device_mapped(&m->mmu, f->cfg.phys_base, f->seglen) ||
            vm_loans_hold(&m->vm, f->cfg.phys_base, f->seglen) ||
            devobj_holds(&m->objs, f->cfg.phys_base, f->seglen))
            return EBUSY; /* mapped, lent to an I/O, or a device object's */
        int error = segment_unload(m, f->cfg.phys_base);
        if (error)
            return error;
    }
    if (f->md_pa)
        md_release(m, f->md_pa);
    flash_free(f);
    return 0;
}

int xvm_mount_flash(xvm_flash *f, const struct xvm_mount_config *cfg,
                    xvm_mount **out)
{
    if (f == NULL || out == NULL)
        return EINVAL;
    return vfs_mount(&f->owner->vfs, f, cfg, out);
}

/* ---- processes ---- */

/* => EINVAL without a machine, EDEADLK from a pager's get or put
 *    (vm_reentered), else 0: what the process calls check first. */
static int proc_gate(xvm_machine *m)
{
    return m == NULL ? EINVAL : vm_reentered(&m->vm);
}

int xvm_spawn(xvm_machine *m, xvm_mount *mp, uint32_t pid, const char *path,
              unsigned argc, const char *const *argv)
{
    int error = proc_gate(m);
    return error ? error : proc_spawn(&m->procs, mp, pid, path, argc, argv);
}

int xvm_fork(xvm_machine *m, uint32_t ppid, uint32_t cpid)
{
    int error = proc_gate(m);
    return error ? error : proc_fork(&m->procs, ppid, cpid);
}

int xvm_exec(xvm_machine *m, uint32_t pid, const char *path, unsigned argc,
             const char *const *argv)
{
    int error = proc_gate(m);
    return error ? error : proc_exec(&m->procs, pid, path, argc, argv);
}

int xvm_oom_next(xvm_machine *m, uint32_t *pid)
{
    if (m == NULL || pid == NULL)
        return EINVAL;
    return proc_oom_next(&m->procs, pid);
}

int xvm_exit(xvm_machine *m, uint32_t pid)
{
    int error = proc_gate(m);
    return error ? error : proc_exit(&m->procs, pid);
}

int xvm_brk(xvm_machine *m, uint32_t pid, uint64_t addr)
{
    int error = proc_gate(m);
    return error ? error : proc_brk(&m->procs, pid, addr);
}

xvm_vmspace *xvm_proc_vmspace(xvm_machine *m, uint32_t pid)
{
    struct proc *p = m ? proc_find(&m->procs, pid) : NULL;
    return p ? p->vs : NULL;
}

int xvm_proc_info(xvm_machine *m, uint32_t pid, struct xvm_proc_info *info)
{
    if (m == NULL || info == NULL)
        return EINVAL;
    struct proc *p = proc_find(&m->procs, pid);
    if (p == NULL)
        return ESRCH;
    *info = p->info;
    return 0;
}
