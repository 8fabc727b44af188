/*
 * The process table: spawn, fork, exec, exit and brk, by pid; and the
 * OOM killer.
 *
 * Out of memory: a process whose fault (or mmap, brk) cannot get memory
 * after the page daemon has run is killed, as NetBSD kills it ("killed:
 * out of swap"); a spawn or exec that cannot get memory kills the
 * process it was making or replacing, and a fork the child it was making
 * (the parent gets ENOMEM and goes on).  Only a full RAM kills: injected
 * allocation failures and a lack of address space only fail the call.
 * Kills happen at the next call of this layer that changes processes,
 * and are reported in order by proc_oom_next().
 */
#include <errno.h>

#include "kmem.h"
#include "pagedaemon.h"
#include "proc.h"
#include "vmspace.h"

#define STACK_GAP (UINT64_C(8) << 20) /* the heap stops this short of it */

void procs_init(struct procs *ps, struct core *core, struct vm *vm)
{
    *ps = (struct procs){ .core = core, .vm = vm };
    hmap_init(&ps->table);
}

struct proc *proc_find(const struct procs *ps, uint32_t pid)
{
    uint64_t v;
    return hmap_get(&ps->table, pid, &v) ? (struct proc *)(uintptr_t)v : NULL;
}

/* struct proc and its LWP, and the u-area with the kernel stack: kernel
 * memory from the start (as fork1() allocates them before anything). */
static struct proc *proc_alloc(struct procs *ps)
{
    struct kmem *km = ps->vm->ph->km;
    struct proc *p = kmem_alloc(km, XVM_KMEM_PROC, 1, sizeof(*p));
    if (p == NULL)
        return NULL;
    if ((p->uarea = kmem_alloc(km, XVM_KMEM_USPACE, 1, 0)) == NULL) {
        kmem_free(km, XVM_KMEM_PROC, 1, p);
        return NULL;
    }
    return p;
}

static void proc_release(struct procs *ps, struct proc *p)
{
    struct kmem *km = ps->vm->ph->km;
    kmem_free(km, XVM_KMEM_USPACE, 1, p->uarea);
    kmem_free(km, XVM_KMEM_PROC, 1, p);
}

static void proc_free(struct procs *ps, struct proc *p)
{
    vmspace_destroy(p->vs);
    xvm_close(p->text);
    proc_release(ps, p);
}

/* ---- the OOM killer ---- */

/* Notes pid as killed for lack of memory, to report in order. */
static void oom_note(struct procs *ps, uint32_t pid)
{
    ps->oom_kills++;
    if (ps->oom_n == PROC_OOM_RING)
        ps->oom_lost++; /* nobody asked for a while: the oldest goes */
    else
        ps->oom_n++;
    ps->oom_ring[ps->oom_head] = pid;
    ps->oom_head = (ps->oom_head + 1) % PROC_OOM_RING;
}

static void oom_kill(struct procs *ps, struct proc *p)
{
    oom_note(ps, p->pid);
    hmap_del(&ps->table, p->pid);
    proc_free(ps, p);
}

/* Kills the processes whose spaces the VM layer queued (vm_oom). */
void proc_oom_reap(struct procs *ps)
{
    struct xvm_vmspace *vs;
    while ((vs = vm_oom_take(ps->vm)) != NULL)
        oom_kill(ps, vs->owner);
}

int proc_oom_next(struct procs *ps, uint32_t *pid)
{
    proc_oom_reap(ps);
    if (ps->oom_n == 0)
        return ENOENT;
    unsigned first = (ps->oom_head + PROC_OOM_RING - ps->oom_n) % PROC_OOM_RING;
    *pid = ps->oom_ring[first];
    ps->oom_n--;
    return 0;
}

/* Runs a call of this layer with the page daemon's retry; => its result
 * and whether it failed because RAM was full. */
struct proc_call {
    int (*body)(struct procs *ps, void *args);
    struct procs *ps;
    void *args;
};

static int proc_call_op(void *arg)
{
    struct proc_call *c = arg;
    return c->body(c->ps, c->args);
}

static int proc_call(struct procs *ps, int (*body)(struct procs *, void *),
                     void *args, bool *oom)
{
    uint64_t refused = ps->vm->ph->refused;
    struct proc_call c = { body, ps, args };
    int error = pagedaemon_retry(&ps->vm->objs->pd, proc_call_op, &c);
    *oom = error == ENOMEM && phys_ran_out(ps->vm->ph, refused);
    return error;
}

/* The space now runs p: its faults out of memory kill p. */
static void attach(struct proc *p, struct xvm_vmspace *vs)
{
    p->vs = vs;
    vs->owner = p;
}

void procs_fini(struct procs *ps)
{
    uint64_t v;
    /* Nothing below touches the table: one pass, then the table goes. */
    for (size_t i = 0; hmap_next(&ps->table, &i, NULL, &v);)
        proc_free(ps, (struct proc *)(uintptr_t)v);
    hmap_fini(ps->core, &ps->table);
}

struct spawn_args {
    struct xvm_mount *mp;
    uint32_t pid;
    const char *path;
    unsigned argc;
    const char *const *argv;
};

static int spawn_body(struct procs *ps, void *args)
{
    const struct spawn_args *a = args;
    struct proc *p = proc_alloc(ps);
    if (p == NULL)
        return ENOMEM;
    p->pid = a->pid;
    p->mp = a->mp;
    struct xvm_vmspace *vs;
    int error = exec_image(ps->vm, a->mp, a->path, a->argc, a->argv, &vs,
                           &p->text, &p->info);
    if (error) {
        proc_release(ps, p);
        return error;
    }
    attach(p, vs);
    if ((error = hmap_put(ps->core, &ps->table, a->pid,
                          (uint64_t)(uintptr_t)p)) != 0)
        proc_free(ps, p);
    return error;
}

int proc_spawn(struct procs *ps, struct xvm_mount *mp, uint32_t pid,
               const char *path, unsigned argc, const char *const *argv)
{
    proc_oom_reap(ps);
    if (mp == NULL || path == NULL || pid == 0)
        return EINVAL;
    if (proc_find(ps, pid))
        return EEXIST;
    struct spawn_args a = { mp, pid, path, argc, argv };
    bool oom;
    int error = proc_call(ps, spawn_body, &a, &oom);
    if (oom)
        oom_note(ps, pid); /* killed before it ran */
    return error;
}

struct fork_args {
    struct proc *parent;
    uint32_t cpid;
};

static int fork_body(struct procs *ps, void *args)
{
    const struct fork_args *a = args;
    struct proc *parent = a->parent;
    struct proc *c = proc_alloc(ps);
    if (c == NULL)
        return ENOMEM;
    void *uarea = c->uarea;
    *c = *parent;
    c->uarea = uarea;
    c->pid = a->cpid;
    struct xvm_vmspace *vs;
    int error = xvm_vmspace_fork(parent->vs, &vs);
    if (error) {
        proc_release(ps, c);
        return error;
    }
    attach(c, vs);
    /* The child runs the same program: a second open file on its text. */
    if ((error = file_dup(parent->text, &c->text)) != 0 ||
        (error =
             hmap_put(ps->core, &ps->table, a->cpid, (uint64_t)(uintptr_t)c))) {
        if (c->text != parent->text)
            xvm_close(c->text);
        vmspace_destroy(c->vs);
        proc_release(ps, c);
        return error;
    }
    return 0;
}

int proc_fork(struct procs *ps, uint32_t ppid, uint32_t cpid)
{
    proc_oom_reap(ps);
    if (cpid == 0)
        return EINVAL;
    struct proc *parent = proc_find(ps, ppid);
    if (parent == NULL)
        return ESRCH;
    if (proc_find(ps, cpid))
        return EEXIST;
    struct fork_args a = { parent, cpid };
    bool oom;
    int error = proc_call(ps, fork_body, &a, &oom);
    if (oom)
        oom_note(ps, cpid); /* the child, before it ran */
    return error;
}

struct exec_args {
    struct proc *p;
    const char *path;
    unsigned argc;
    const char *const *argv;
};

static int exec_body(struct procs *ps, void *args)
{
    const struct exec_args *a = args;
    struct proc *p = a->p;
    struct xvm_vmspace *vs;
    struct xvm_file *text;
    struct xvm_proc_info info;
    int error =
        exec_image(ps->vm, p->mp, a->path, a->argc, a->argv, &vs, &text, &info);
    if (error)
        return error; /* the old image runs on */
    vmspace_destroy(p->vs);
    xvm_close(p->text);
    attach(p, vs);
    p->text = text;
    p->info = info;
    return 0;
}

int proc_exec(struct procs *ps, uint32_t pid, const char *path, unsigned argc,
              const char *const *argv)
{
    proc_oom_reap(ps);
    if (path == NULL)
        return EINVAL;
    struct proc *p = proc_find(ps, pid);
    if (p == NULL)
        return ESRCH;
    struct exec_args a = { p, path, argc, argv };
    bool oom;
    int error = proc_call(ps, exec_body, &a, &oom);
    if (oom)
        oom_kill(ps, p);
    return error;
}

int proc_exit(struct procs *ps, uint32_t pid)
{
    proc_oom_reap(ps);
    struct proc *p = proc_find(ps, pid);
    if (p == NULL)
        return ESRCH;
    hmap_del(&ps->table, pid);
    proc_free(ps, p);
    return 0;
}

int proc_brk(struct procs *ps, uint32_t pid, uint64_t addr)
{
    proc_oom_reap(ps);
    struct proc *p = proc_find(ps, pid);
    if (p == NULL)
        return ESRCH;
    struct xvm_proc_info *in = &p->info;
    uint64_t old = pg_round(ps->core, in->brk), new = pg_round(ps->core, addr);
    if (addr < in->brk_base || new < addr || new >= in->stack_top - STACK_GAP)
        return EINVAL;
    int error = 0;
    if (new > old) {
        uint64_t at = old;
        struct vm_map_entry *e = map_first_after(&p->vs->map, old);
        if (e != &p->vs->map.header && e->start < new)
            return ENOMEM; /* the heap would run into a mapping */
        error = xvm_mmap(p->vs, &at, new - old, XVM_PROT_READ | XVM_PROT_WRITE,
                         XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0);
    } else if (new < old) {
        error = xvm_munmap(p->vs, new, old - new);
    }
    if (error == 0)
        in->brk = addr;
    return error;
}

void procs_check(const struct procs *ps, struct check *ck)
{
    uint64_t pid, v;
    for (size_t i = 0; hmap_next(&ps->table, &i, &pid, &v) && !ck->error;) {
        const struct proc *p = (const struct proc *)(uintptr_t)v;
        if (p->pid != pid || p->vs == NULL || p->text == NULL ||
            p->text->vp->obj->refs == 0)
            check_fail(ck, "process %llu: bad pid, space or text",
                       (unsigned long long)pid);
    }
}
