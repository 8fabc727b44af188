/*
 * The process table: spawn, fork, exec, exit and brk, by pid.
 */
#include <errno.h>

#include "kmem.h"
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
    xvm_vmspace_destroy(p->vs);
    xvm_close(p->text);
    proc_release(ps, p);
}

void procs_fini(struct procs *ps)
{
    uint64_t v;
    /* Nothing below touches the table: one pass, then the table goes. */
    for (size_t i = 0; hmap_next(&ps->table, &i, NULL, &v);)
        proc_free(ps, (struct proc *)(uintptr_t)v);
    hmap_fini(ps->core, &ps->table);
}

int proc_spawn(struct procs *ps, struct xvm_mount *mp, uint32_t pid,
               const char *path, unsigned argc, const char *const *argv)
{
    if (mp == NULL || path == NULL || pid == 0)
        return EINVAL;
    if (proc_find(ps, pid))
        return EEXIST;
    struct proc *p = proc_alloc(ps);
    if (p == NULL)
        return ENOMEM;
    p->pid = pid;
    p->mp = mp;
    int error =
        exec_image(ps->vm, mp, path, argc, argv, &p->vs, &p->text, &p->info);
    if (error == 0 && (error = hmap_put(ps->core, &ps->table, pid,
                                        (uint64_t)(uintptr_t)p)) != 0)
        proc_free(ps, p);
    else if (error)
        proc_release(ps, p);
    return error;
}

int proc_fork(struct procs *ps, uint32_t ppid, uint32_t cpid)
{
    if (cpid == 0)
        return EINVAL;
    struct proc *parent = proc_find(ps, ppid);
    if (parent == NULL)
        return ESRCH;
    if (proc_find(ps, cpid))
        return EEXIST;
    struct proc *c = proc_alloc(ps);
    if (c == NULL)
        return ENOMEM;
    void *uarea = c->uarea;
    *c = *parent;
    c->uarea = uarea;
    c->pid = cpid;
    int error = xvm_vmspace_fork(parent->vs, &c->vs);
    if (error) {
        proc_release(ps, c);
        return error;
    }
    /* The child runs the same program: a second open file on its text. */
    if ((error = file_dup(parent->text, &c->text)) != 0 ||
        (error =
             hmap_put(ps->core, &ps->table, cpid, (uint64_t)(uintptr_t)c))) {
        if (c->text != parent->text)
            xvm_close(c->text);
        xvm_vmspace_destroy(c->vs);
        proc_release(ps, c);
        return error;
    }
    return 0;
}

int proc_exec(struct procs *ps, uint32_t pid, const char *path, unsigned argc,
              const char *const *argv)
{
    if (path == NULL)
        return EINVAL;
    struct proc *p = proc_find(ps, pid);
    if (p == NULL)
        return ESRCH;
    struct xvm_vmspace *vs;
    struct xvm_file *text;
    struct xvm_proc_info info;
    int error = exec_image(ps->vm, p->mp, path, argc, argv, &vs, &text, &info);
    if (error)
        return error; /* the old image runs on */
    xvm_vmspace_destroy(p->vs);
    xvm_close(p->text);
    p->vs = vs;
    p->text = text;
    p->info = info;
    return 0;
}

int proc_exit(struct procs *ps, uint32_t pid)
{
    struct proc *p = proc_find(ps, pid);
    if (p == NULL)
        return ESRCH;
    hmap_del(&ps->table, pid);
    proc_free(ps, p);
    return 0;
}

int proc_brk(struct procs *ps, uint32_t pid, uint64_t addr)
{
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
