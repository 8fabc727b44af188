/*
 * The process table: spawn, fork, exec, exit and brk, by pid.
 */
#include <errno.h>

#include "machine.h"
#include "proc.h"
#include "vfs.h"
#include "vmspace.h"

static struct proc *proc_find(struct xvm_machine *m, uint32_t pid)
{
    uint64_t v;
    return hmap_get(&m->procs, pid, &v) ? (struct proc *)(uintptr_t)v : NULL;
}

static void proc_free(struct xvm_machine *m, struct proc *p)
{
    xvm_vmspace_destroy(p->vs);
    xvm_close(p->text);
    m_free(m, p);
}

int xvm_spawn(xvm_machine *m, xvm_mount *mp, uint32_t pid, const char *path,
              unsigned argc, const char *const *argv)
{
    if (m == NULL || mp == NULL || path == NULL || pid == 0)
        return EINVAL;
    if (proc_find(m, pid))
        return EEXIST;
    struct proc *p = m_zalloc(m, sizeof(*p));
    if (p == NULL)
        return ENOMEM;
    p->pid = pid;
    p->mp = mp;
    int error = exec_image(m, mp, path, argc, argv, &p->vs, &p->text, &p->info);
    if (error == 0 && (error = hmap_put(m, &m->procs, pid, (uint64_t)(uintptr_t)p)) != 0)
        proc_free(m, p);
    else if (error)
        m_free(m, p);
    return error;
}

int xvm_fork(xvm_machine *m, uint32_t ppid, uint32_t cpid)
{
    if (m == NULL || cpid == 0)
        return EINVAL;
    struct proc *parent = proc_find(m, ppid);
    if (parent == NULL)
        return ESRCH;
    if (proc_find(m, cpid))
        return EEXIST;
    struct proc *c = m_zalloc(m, sizeof(*c));
    if (c == NULL)
        return ENOMEM;
    *c = *parent;
    c->pid = cpid;
    int error = xvm_vmspace_fork(parent->vs, &c->vs);
    if (error) {
        m_free(m, c);
        return error;
    }
    /* The child runs the same program: one more reference to its text. */
    object_ref(parent->text->vp->obj);
    struct xvm_file *t = m_alloc(m, sizeof(*t));
    if (t == NULL || hmap_put(m, &m->procs, cpid, (uint64_t)(uintptr_t)c)) {
        object_unref(parent->text->vp->obj);
        m_free(m, t);
        xvm_vmspace_destroy(c->vs);
        m_free(m, c);
        return ENOMEM;
    }
    *t = *parent->text;
    c->text = t;
    return 0;
}

int xvm_exec(xvm_machine *m, uint32_t pid, const char *path, unsigned argc,
             const char *const *argv)
{
    if (m == NULL || path == NULL)
        return EINVAL;
    struct proc *p = proc_find(m, pid);
    if (p == NULL)
        return ESRCH;
    struct xvm_vmspace *vs;
    struct xvm_file *text;
    struct xvm_proc_info info;
    int error = exec_image(m, p->mp, path, argc, argv, &vs, &text, &info);
    if (error)
        return error;           /* the old image runs on */
    xvm_vmspace_destroy(p->vs);
    xvm_close(p->text);
    p->vs = vs;
    p->text = text;
    p->info = info;
    return 0;
}

int xvm_exit(xvm_machine *m, uint32_t pid)
{
    struct proc *p = m ? proc_find(m, pid) : NULL;
    if (p == NULL)
        return ESRCH;
    hmap_del(&m->procs, pid);
    proc_free(m, p);
    return 0;
}

void proc_destroy_all(struct xvm_machine *m)
{
    uint64_t pid, v;
    /* Collect-then-free: the table may not change while it is walked. */
    while (m->procs.n > 0) {
        size_t i = 0;
        if (!hmap_next(&m->procs, &i, &pid, &v))
            break;
        hmap_del(&m->procs, pid);
        proc_free(m, (struct proc *)(uintptr_t)v);
    }
    hmap_fini(m, &m->procs);
}

int xvm_brk(xvm_machine *m, uint32_t pid, uint64_t addr)
{
    struct proc *p = m ? proc_find(m, pid) : NULL;
    if (p == NULL)
        return ESRCH;
    struct xvm_proc_info *in = &p->info;
    uint64_t old = m_round(m, in->brk), new = m_round(m, addr);
    if (addr < in->brk_base || new < addr || new >= in->stack_top - (UINT64_C(8) << 20))
        return EINVAL;
    int error = 0;
    if (new > old) {
        uint64_t at = old;
        struct vm_map_entry *e = map_first_after(&p->vs->map, old);
        if (e != &p->vs->map.header && e->start < new)
            return ENOMEM;      /* the heap would run into a mapping */
        error = xvm_mmap(p->vs, &at, new - old, XVM_PROT_READ | XVM_PROT_WRITE,
                         XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0);
    } else if (new < old) {
        error = xvm_munmap(p->vs, new, old - new);
    }
    if (error == 0)
        in->brk = addr;
    return error;
}

xvm_vmspace *xvm_proc_vmspace(xvm_machine *m, uint32_t pid)
{
    struct proc *p = m ? proc_find(m, pid) : NULL;
    return p ? p->vs : NULL;
}

int xvm_proc_info(xvm_machine *m, uint32_t pid, struct xvm_proc_info *info)
{
    struct proc *p = m ? proc_find(m, pid) : NULL;
    if (p == NULL || info == NULL)
        return p ? EINVAL : ESRCH;
    *info = p->info;
    return 0;
}
