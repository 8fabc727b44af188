/*
 * Address spaces: create, fork, destroy, and the mmap family.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmem.h"
#include "pagedaemon.h"
#include "swap.h"
#include "vfs.h"
#include "vmspace.h"

/* Where anywhere-mappings start looking, as a fraction of the space. */
#define MMAP_BASE_DIV 4

void vm_init(struct vm *vm, struct core *core, struct physmem *ph,
             struct mmu *mmu, struct objects *objs,
             const struct xvm_ahead ahead[3])
{
    *vm = (struct vm){ .core = core, .ph = ph, .mmu = mmu, .objs = objs };
    memcpy(vm->ahead, ahead, sizeof(vm->ahead));
    vm->mt_spare.core = core;
    objs->pd.anon = &anon_pager;
    objs->pd.anon_arg = vm;
}

void vm_fini(struct vm *vm)
{
    while (vm->spaces)
        vmspace_destroy(vm->spaces);
    mt_spare_fini(&vm->mt_spare);
}

int vmspace_create(struct vm *vm, struct xvm_vmspace **out)
{
    /* struct vmspace and its pmap, as the kernel has them. */
    struct xvm_vmspace *vs =
        kmem_alloc(vm->ph->km, XVM_KMEM_VMSPACE, 1, sizeof(*vs));
    if (vs == NULL)
        return ENOMEM;
    vs->pmap = &vs->pmap_store;
    int error = pmap_init(vm->mmu, vs->pmap);
    if (error) {
        kmem_free(vm->ph->km, XVM_KMEM_VMSPACE, 1, vs);
        return error;
    }
    vs->vm = vm;
    hmap_init(&vs->files);
    /* Page zero stays unmapped so null pointers fault. */
    map_init(&vs->map, vm->core->pgsz, vm->core->prof->va_max);
    vs->next = vm->spaces;
    if (vm->spaces)
        vm->spaces->prev = vs;
    vm->spaces = vs;
    *out = vs;
    return 0;
}

/* ---- calls that need memory: the page daemon's retry, and OOM ---- */

/* Frames refused because RAM was full (injected failures aside). */
static uint64_t exhausted(const struct vm *vm)
{
    return vm->ph->refused;
}

void vm_oom(struct xvm_vmspace *vs)
{
    struct vm *vm = vs->vm;
    if (vs->owner == NULL || vs->oom)
        return; /* no process to kill, or already marked */
    vs->oom = true;
    vs->oom_next = NULL;
    if (vm->oom_tail)
        vm->oom_tail->oom_next = vs;
    else
        vm->oom_head = vs;
    vm->oom_tail = vs;
}

struct xvm_vmspace *vm_oom_take(struct vm *vm)
{
    struct xvm_vmspace *vs = vm->oom_head;
    if (vs == NULL)
        return NULL;
    vm->oom_head = vs->oom_next;
    if (vm->oom_head == NULL)
        vm->oom_tail = NULL;
    vs->oom = false;
    return vs;
}

static void oom_unlink(struct xvm_vmspace *vs)
{
    struct vm *vm = vs->vm;
    struct xvm_vmspace **pp = &vm->oom_head, *prev = NULL;
    for (; *pp && *pp != vs; prev = *pp, pp = &(*pp)->oom_next)
        ;
    if (*pp == NULL)
        return;
    *pp = vs->oom_next;
    if (vm->oom_tail == vs)
        vm->oom_tail = prev;
    vs->oom = false;
}

struct vs_call {
    struct xvm_vmspace *vs;
    int (*body)(struct xvm_vmspace *vs, void *args);
    void *args;
};

static int vs_call_op(void *arg)
{
    struct vs_call *c = arg;
    return c->body(c->vs, c->args);
}

/* A call that only splits or changes entries: its ENOMEM is a map entry
 * (kernel memory) it could not get, for which NetBSD's clip waits and
 * kills nobody; the call fails instead. */
static int map_call(struct xvm_vmspace *vs,
                    int (*body)(struct xvm_vmspace *vs, void *args), void *args)
{
    if (vm_reentered(vs->vm))
        return EDEADLK; /* from a pager's get or put (vm.h) */
    struct vs_call c = { vs, body, args };
    return pagedaemon_retry(&vs->vm->objs->pd, vs_call_op, &c);
}

int vmspace_call(struct xvm_vmspace *vs,
                 int (*body)(struct xvm_vmspace *vs, void *args), void *args)
{
    uint64_t before = exhausted(vs->vm);
    int error = map_call(vs, body, args);
    if (error == ENOMEM && phys_ran_out(vs->vm->ph, before))
        vm_oom(vs);
    return error;
}

/* A process's space goes with the process (xvm_exit); from a pager the
 * space goes with the machine. */
void xvm_vmspace_destroy(xvm_vmspace *vs)
{
    if (vs != NULL && vs->owner == NULL && !vm_reentered(vs->vm))
        vmspace_destroy(vs);
}

void vmspace_destroy(struct xvm_vmspace *vs)
{
    if (vs == NULL)
        return;
    struct vm *vm = vs->vm;
    if (vs->oom)
        oom_unlink(vs);
    /* Tear the tables down in one walk, then drop the references. */
    pmap_fini(vs->pmap);
    map_fini(vm, &vs->map);
    hmap_fini(vm->core, &vs->files);
    if (vs->prev)
        vs->prev->next = vs->next;
    else
        vm->spaces = vs->next;
    if (vs->next)
        vs->next->prev = vs->prev;
    kmem_free(vm->ph->km, XVM_KMEM_VMSPACE, 1, vs);
}

/* One parent entry into the child, by its inheritance (uvmspace_fork). */
static int fork_entry(struct xvm_vmspace *parent, struct xvm_vmspace *child,
                      struct vm_map_entry *old)
{
    struct vm *vm = parent->vm;
    uint64_t npages = (old->end - old->start) >> vm->core->pgshift;
    int error;

    if (old->inherit == XVM_INHERIT_NONE)
        return 0;
    /* The child goes on where the parent was: its copy of the parent's
     * hint is its own (else its first entry), so that its first fault
     * need not read its tree. */
    bool hint = parent->map.hint == old || child->map.hint == NULL;
    if (old->inherit == XVM_INHERIT_SHARE && old->cow &&
        (old->needs_copy || old->amap == NULL)) {
        /* Both must see one amap: make the parent's real first. */
        if ((error =
                 map_copy_amap(vm, &parent->map, old->start, false, &old)) != 0)
            return error;
    }
    struct vm_map_entry *e = map_entry_alloc(vm, &child->map);
    if (e == NULL)
        return ENOMEM;
    *e = *old;
    e->wired = 0;
    if (e->amap && (error = amap_ref(vm, e->amap, e->aoff, npages)) != 0) {
        map_entry_release(vm, e);
        return error;
    }
    if (e->obj)
        object_ref(e->obj);
    map_insert(vm, &child->map, e);
    if (hint)
        child->map.hint = e;

    if (old->inherit == XVM_INHERIT_SHARE) {
        if (e->amap)
            e->amap->flags |= AMAP_SHARED;
        return 0;
    }
    /* Copy: both sides copy the amap before their next write. */
    if (e->amap) {
        bool shared = e->amap->flags & AMAP_SHARED;
        if (shared || vm->mmu->design == XVM_DESIGN_AMAP_COPY) {
            /* Others share that amap, or amaps are never shared (the
             * paper's alternative to tracking device pages, §6.3): the
             * child's copy is taken now. */
            e->needs_copy = true;
            if ((error = map_copy_amap(vm, &child->map, e->start, false, &e)) !=
                0)
                return error;
            /* The sharers may map these anons writable: now that the copy
             * shares them too, their writes must fault and promote.  The
             * parent alone is write-protected by the fork. */
            if (shared)
                amap_protect(vm, e->amap, XVM_PROT_READ | XVM_PROT_EXEC);
            return 0;
        }
        e->needs_copy = true;
        old->needs_copy = true;
    }
    return 0;
}

static int fork_body(struct xvm_vmspace *parent, void *args)
{
    xvm_vmspace **out = args;
    struct xvm_vmspace *child;
    int error = vmspace_create(parent->vm, &child);
    if (error)
        return error;
    struct vm_map_entry *e;
    map_foreach(&parent->map, e) {
        if ((error = fork_entry(parent, child, e)) != 0)
            break;
    }
    /* The parent's writable pages must fault before their next write:
     * O(1) here, paid lazily per page table (pmap.c).  Also after a
     * failure: entries already marked needs-copy must not stay writable. */
    pmap_write_protect_all(parent->pmap);
    if (error) {
        vmspace_destroy(child);
        return error;
    }
    *out = child;
    return 0;
}

/* A fork that cannot get memory fails (the parent goes on): no OOM. */
int xvm_vmspace_fork(xvm_vmspace *parent, xvm_vmspace **out)
{
    if (parent == NULL || out == NULL)
        return EINVAL;
    int error = map_call(parent, fork_body, out);
    if (error == 0)
        parent->vm->st.forks++;
    return error;
}

void vm_unmap_sharers(struct vm *vm, const struct amap *am, uint64_t slot)
{
    unsigned shift = vm->core->pgshift;
    vm->st.sharer_scans++;
    for (struct xvm_vmspace *vs = vm->spaces; vs; vs = vs->next) {
        struct vm_map_entry *e;
        map_foreach(&vs->map, e) {
            uint64_t n = (e->end - e->start) >> shift;
            if (e->amap == am && slot >= e->aoff && slot - e->aoff < n) {
                uint64_t va = e->start + ((slot - e->aoff) << shift);
                pmap_remove(vs->pmap, va, va + vm->core->pgsz);
            }
        }
    }
}

void vmspace_unmap(struct xvm_vmspace *vs, uint64_t start, uint64_t end)
{
    struct vm_map_entry *e = map_first_after(&vs->map, start);
    while (e != &vs->map.header && e->start < end) {
        struct vm_map_entry *next = e->next;
        pmap_remove(vs->pmap, e->start, e->end);
        map_remove(vs->vm, &vs->map, e);
        map_entry_free(vs->vm, e);
        e = next;
    }
}

/* => EINVAL unless [addr, addr+len) is a page-aligned user range. */
int vmspace_check_range(struct xvm_vmspace *vs, uint64_t addr, uint64_t len,
                        uint64_t *end)
{
    const struct core *c = vs->vm->core;
    if (len == 0 || (addr & (c->pgsz - 1)))
        return EINVAL;
    uint64_t rlen = pg_round(c, len);
    if (rlen < len || addr < vs->map.minva || addr > vs->map.maxva ||
        vs->map.maxva - addr < rlen)
        return EINVAL;
    *end = addr + rlen;
    return 0;
}

/* ---- the mmap family ---- */

struct mmap_args {
    uint64_t *addr, len;
    int prot, flags;
    xvm_object *obj;
    uint64_t off;
};

static int mmap_body(struct xvm_vmspace *vs, void *args)
{
    const struct mmap_args *a = args;
    uint64_t *addr = a->addr, len = a->len, off = a->off;
    int prot = a->prot, flags = a->flags;
    xvm_object *obj = a->obj;
    struct vm *vm = vs->vm;
    const struct core *c = vm->core;
    unsigned maxprot = (unsigned)prot >> 3 & XVM_PROT_ALL;
    unsigned p = (unsigned)prot & XVM_PROT_ALL;
    bool shared = flags & XVM_MAP_SHARED, fixed = flags & XVM_MAP_FIXED;
    uint64_t start = 0, end;
    int error;

    if ((unsigned)prot >> 6 ||
        (flags & ~(XVM_MAP_SHARED | XVM_MAP_PRIVATE | XVM_MAP_FIXED)) ||
        shared == !!(flags & XVM_MAP_PRIVATE) || (off & (c->pgsz - 1)))
        return EINVAL;
    if (maxprot == 0)
        maxprot = XVM_PROT_ALL;
    if (obj && obj->read_only && shared)
        maxprot &= ~(unsigned)XVM_PROT_WRITE;
    if ((p & maxprot) != p)
        return EACCES;
    if (obj &&
        (obj->objs != vm->objs || off >= obj->size || obj->size - off < len))
        return EINVAL; /* another machine's object, or past its end */
    if (fixed) {
        start = *addr;
        if ((error = vmspace_check_range(vs, start, len, &end)) != 0)
            return error;
    } else {
        uint64_t rlen = pg_round(c, len);
        if (len == 0 || rlen < len)
            return EINVAL;
        uint64_t hint =
            *addr ? pg_trunc(c, *addr) : vs->map.maxva / MMAP_BASE_DIV;
        if (map_findspace(&vs->map, hint, rlen, &start) != 0 &&
            map_findspace(&vs->map, vs->map.minva, rlen, &start) != 0)
            return ENOMEM;
        end = start + rlen;
    }
    if ((end - start) >> c->pgshift > UINT32_MAX)
        return ENOMEM;

    struct vm_map_entry *e = map_entry_alloc(vm, &vs->map);
    if (e == NULL)
        return ENOMEM;
    if (obj == NULL && shared) {
        if ((error = aobj_create(vm->objs, end - start, &obj)) != 0) {
            map_entry_release(vm, e);
            return error;
        }
    } else if (obj) {
        object_ref(obj);
        if (p & XVM_PROT_EXEC)
            object_mark_exec(obj); /* vn_markexec */
    }
    /* Fixed mappings replace what was there; clipping cannot be undone,
     * so it happens after every allocation above. */
    struct vm_map_entry *first;
    if (fixed &&
        (error = map_clip_range(vm, &vs->map, start, end, &first)) != 0) {
        if (obj)
            object_unref(obj);
        map_entry_release(vm, e);
        return error;
    }
    if (fixed)
        vmspace_unmap(vs, start, end);
    e->start = start;
    e->end = end;
    e->obj = obj;
    e->offset = off;
    e->prot = (uint8_t)p;
    e->maxprot = (uint8_t)maxprot;
    e->inherit = shared ? XVM_INHERIT_SHARE : XVM_INHERIT_COPY;
    e->advice = XVM_ADV_NORMAL;
    e->cow = !shared;
    e->text = (p & XVM_PROT_EXEC) != 0;
    e->needs_copy = !shared;
    map_insert(vm, &vs->map, e);
    *addr = start;
    return 0;
}

int xvm_mmap(xvm_vmspace *vs, uint64_t *addr, uint64_t len, int prot, int flags,
             xvm_object *obj, uint64_t off)
{
    if (vs == NULL || addr == NULL)
        return EINVAL;
    struct mmap_args a = { addr, len, prot, flags, obj, off };
    return vmspace_call(vs, mmap_body, &a);
}

struct range_args {
    uint64_t addr, len;
    entry_fn check, apply;
    int arg;
};

static int munmap_body(struct xvm_vmspace *vs, void *args)
{
    const struct range_args *a = args;
    uint64_t end;
    struct vm_map_entry *first;
    int error;
    if ((error = vmspace_check_range(vs, a->addr, a->len, &end)) != 0)
        return error;
    if ((error = map_clip_range(vs->vm, &vs->map, a->addr, end, &first)) != 0)
        return error;
    vmspace_unmap(vs, a->addr, end);
    return 0;
}

int xvm_munmap(xvm_vmspace *vs, uint64_t addr, uint64_t len)
{
    if (vs == NULL)
        return EINVAL;
    struct range_args a = { addr, len, NULL, NULL, 0 };
    return map_call(vs, munmap_body, &a);
}

static int range_body(struct xvm_vmspace *vs, void *args)
{
    const struct range_args *a = args;
    uint64_t addr = a->addr, len = a->len, end;
    entry_fn check = a->check, apply = a->apply;
    int arg = a->arg;
    struct vm_map_entry *e;
    int error;
    /* An empty range at an aligned address: nothing to do, as both
     * kernels answer (munmap, which Linux refuses, does not come here). */
    if (len == 0 && !(addr & (vs->vm->core->pgsz - 1)))
        return 0;
    if ((error = vmspace_check_range(vs, addr, len, &end)) != 0)
        return error;
    /* Validate every entry first, so a refusal changes nothing. */
    uint64_t at = addr;
    for (e = map_first_after(&vs->map, addr); at < end; e = e->next) {
        if (e == &vs->map.header || e->start > at)
            return ENOMEM; /* a hole in the range, as POSIX says */
        if (check && (error = check(vs, e, arg)) != 0)
            return error;
        at = e->end;
    }
    if ((error = map_clip_range(vs->vm, &vs->map, addr, end, &e)) != 0)
        return error;
    for (; e != &vs->map.header && e->start < end; e = e->next)
        if ((error = apply(vs, e, arg)) != 0)
            return error;
    return 0;
}

int vmspace_range_apply(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                        entry_fn check, entry_fn apply, int arg)
{
    if (vs == NULL)
        return EINVAL;
    struct range_args a = { addr, len, check, apply, arg };
    return map_call(vs, range_body, &a);
}

static int protect_check(struct xvm_vmspace *vs, struct vm_map_entry *e, int p)
{
    (void)vs;
    return ((unsigned)p & e->maxprot) == (unsigned)p ? 0 : EACCES;
}

static int protect_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int p)
{
    if ((p & XVM_PROT_EXEC) && e->obj)
        object_mark_exec(e->obj);
    if ((e->prot & ~(unsigned)p) != 0)
        pmap_protect(vs->pmap, e->start, e->end, (unsigned)p);
    e->prot = (uint8_t)p;
    if (p & XVM_PROT_EXEC)
        e->text = true;
    return 0;
}

int xvm_mprotect(xvm_vmspace *vs, uint64_t addr, uint64_t len, int prot)
{
    if (prot & ~XVM_PROT_ALL)
        return EINVAL;
    return vmspace_range_apply(vs, addr, len, protect_check, protect_apply,
                               prot);
}

static int inherit_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    (void)vs;
    e->inherit = (uint8_t)v;
    return 0;
}

int xvm_minherit(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                 enum xvm_inherit inh)
{
    if ((unsigned)inh > XVM_INHERIT_NONE)
        return EINVAL;
    return vmspace_range_apply(vs, addr, len, NULL, inherit_apply, (int)inh);
}

static int advice_apply(struct xvm_vmspace *vs, struct vm_map_entry *e, int v)
{
    (void)vs;
    e->advice = (uint8_t)v;
    return 0;
}

int xvm_madvise(xvm_vmspace *vs, uint64_t addr, uint64_t len,
                enum xvm_advice adv)
{
    if ((unsigned)adv > XVM_ADV_SEQUENTIAL)
        return EINVAL;
    return vmspace_range_apply(vs, addr, len, NULL, advice_apply, (int)adv);
}

int xvm_mmap_file(xvm_vmspace *vs, uint64_t *addr, uint64_t len, int prot,
                  int flags, xvm_file *f, uint64_t off)
{
    if (vs == NULL || f == NULL)
        return EINVAL;
    /* Files are open read-only (a read-only file system): their objects
     * are read_only, so xvm_mmap refuses a writable shared mapping with
     * EACCES, as both kernels do for a file opened O_RDONLY; it refuses
     * an object of another machine (EINVAL). */
    int error = xvm_mmap(vs, addr, len, prot, flags, f->vp->obj, off);
    struct file_acct *a = f->vp->acct;
    uint64_t key = (uint64_t)(uintptr_t)a;
    /* The file's count of address spaces that mapped it; the set is
     * bookkeeping of the report: a failure to grow it loses a count. */
    if (error == 0 && !hmap_get(&vs->files, key, NULL) &&
        hmap_put(vs->vm->core, &vs->files, key, 1) == 0)
        a->processes++;
    return error;
}

/* The space never ran (a failed exec): its files' counts go back. */
void vmspace_uncount_files(struct xvm_vmspace *vs)
{
    uint64_t key;
    for (size_t i = 0; hmap_next(&vs->files, &i, &key, NULL);)
        ((struct file_acct *)(uintptr_t)key)->processes--;
    hmap_fini(vs->vm->core, &vs->files);
    hmap_init(&vs->files);
}

/* ---- the layer's invariants ---- */

/* An amap reached from some entry: references and per-slot coverage. */
struct amap_seen {
    struct amap *am;
    uint64_t refs;
    uint32_t *cover;
};

struct vm_ck {
    struct vm *vm;
    struct check *ck;
    struct hmap amaps; /* amap -> index in seen[] */
    struct amap_seen *seen;
    size_t nseen, capseen;
    struct hmap anons;      /* anon -> slots seen */
    struct xvm_vmspace *vs; /* the space whose PTEs are visited */
};

static uint64_t key(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static struct amap_seen *seen(struct vm_ck *k, struct amap *am)
{
    uint64_t i;
    if (hmap_get(&k->amaps, key(am), &i))
        return &k->seen[i];
    if (k->nseen == k->capseen) {
        size_t ncap = k->capseen ? k->capseen * 2 : 16;
        struct amap_seen *n = realloc(k->seen, ncap * sizeof(*n));
        if (n == NULL)
            return check_fail(k->ck, "checker: out of host memory"), NULL;
        k->seen = n;
        k->capseen = ncap;
    }
    struct amap_seen *as = &k->seen[k->nseen];
    as->am = am;
    as->refs = 0;
    as->cover = calloc(am->nslot ? am->nslot : 1, sizeof(*as->cover));
    if (as->cover == NULL ||
        hmap_put(k->vm->core, &k->amaps, key(am), k->nseen)) {
        free(as->cover);
        return check_fail(k->ck, "checker: out of host memory"), NULL;
    }
    k->nseen++;
    return as;
}

/* Counts each amap's references and the entries covering each slot. */
static void cover_amaps(struct vm_ck *k, struct xvm_vmspace *vs)
{
    struct vm_map_entry *e;
    map_foreach(&vs->map, e) {
        if (e->amap == NULL)
            continue;
        struct amap_seen *as = seen(k, e->amap);
        if (as == NULL)
            return;
        as->refs++;
        uint64_t np = (e->end - e->start) >> k->vm->core->pgshift;
        for (uint64_t s = 0; s < np; s++)
            as->cover[e->aoff + s]++;
    }
}

static void check_amaps(struct vm_ck *k)
{
    uint64_t a, refs;
    for (size_t i = 0; i < k->nseen && !k->ck->error; i++) {
        struct amap *am = k->seen[i].am;
        amap_check(am, k->seen[i].refs, k->seen[i].cover, k->ck);
        for (uint32_t j = 0; j < am->nused && !k->ck->error; j++) {
            uint64_t v = 0;
            a = key(am->anon[am->slots[j]]);
            (void)hmap_get(&k->anons, a, &v);
            if (hmap_put(k->vm->core, &k->anons, a, v + 1))
                check_fail(k->ck, "checker: out of host memory");
        }
    }
    uint64_t resident = 0, swapped = 0, both = 0;
    for (size_t i = 0; hmap_next(&k->anons, &i, &a, &refs) && !k->ck->error;) {
        const struct anon *an = (const struct anon *)(uintptr_t)a;
        anon_check(k->vm, an, (uint32_t)refs, k->ck);
        resident += an->page != PAGEH_NONE;
        swapped += an->swslot != 0;
        both += an->page != PAGEH_NONE && an->swslot != 0;
    }
    uint64_t frames = k->vm->ph->use[XVM_USE_ANON].cur;
    if (!k->ck->error && resident != frames)
        check_fail(k->ck, "%llu anons reachable in RAM, %llu anon frames",
                   (unsigned long long)resident, (unsigned long long)frames);
    /* Every slot in use is an anon's or an aobj page's. */
    for (const struct xvm_object *o = k->vm->objs->list; o; o = o->next) {
        swapped += aobj_swapped(o);
        both += aobj_swapped_in_ram(o);
    }
    const struct swapdev *sw = k->vm->objs->pd.swap;
    if (!k->ck->error && swapped != (sw ? sw->used.cur : 0))
        check_fail(k->ck, "%llu swap slots held, %llu in use",
                   (unsigned long long)swapped,
                   (unsigned long long)(sw ? sw->used.cur : 0));
    if (!k->ck->error && both != (sw ? sw->in_ram : 0))
        check_fail(k->ck, "%llu swap slots with a page in RAM, %llu counted",
                   (unsigned long long)both,
                   (unsigned long long)(sw ? sw->in_ram : 0));
}

/* => the page the map says va should show, or PAGEH_NONE when unknown
 *    (an object page that is not resident); *gone: an anon in swap, which
 *    nothing may map. */
static pageh expected_page(struct vm *vm, struct vm_map_entry *e, uint64_t va,
                           bool *gone)
{
    *gone = false;
    if (e->amap) {
        struct anon *an = amap_lookup(
            e->amap, e->aoff + ((va - e->start) >> vm->core->pgshift));
        if (an) {
            *gone = an->page == PAGEH_NONE;
            return an->page;
        }
    }
    if (e->obj == NULL)
        return vm->ph->zero_page;
    pageh pg;
    if (object_get(e->obj, e->offset + (va - e->start), PGO_LOCKED, &pg))
        return PAGEH_NONE;
    return pg;
}

static void check_pte(void *arg, uint64_t va, uint64_t pte)
{
    struct vm_ck *k = arg;
    struct xvm_vmspace *vs = k->vs;
    if (k->ck->error)
        return;
    struct vm_map_entry *e = map_lookup(&vs->map, va);
    if (e == NULL)
        return (void)check_fail(k->ck, "va %#llx mapped outside every entry",
                                (unsigned long long)va);
    if ((pte_prot(pte) & e->prot) != pte_prot(pte))
        return (void)check_fail(k->ck,
                                "va %#llx: PTE allows more than the "
                                "entry",
                                (unsigned long long)va);
    bool gone;
    pageh want = expected_page(k->vm, e, va, &gone),
          pg = pte_page(k->vm->mmu, pte);
    if (gone)
        return (void)check_fail(k->ck, "va %#llx maps a paged-out anon",
                                (unsigned long long)va);
    if (want != PAGEH_NONE && want != pg)
        return (void)check_fail(k->ck, "va %#llx maps the wrong page",
                                (unsigned long long)va);
    if ((pte_prot(pte) & XVM_PROT_WRITE) && page_loaned(k->vm->ph, pg))
        return (void)check_fail(k->ck, "va %#llx maps a loaned page writable",
                                (unsigned long long)va);
}

/* A TLB entry grants write only where no copy shares the page. */
static void check_tlb_writes(struct vm_ck *k, struct xvm_vmspace *vs)
{
    struct mmu *mu = k->vm->mmu;
    unsigned shift = k->vm->core->pgshift;
    for (uint64_t i = 0; i < tlb_size(&mu->tlb) && !k->ck->error; i++) {
        struct tlbent *t = &mu->tlb.ent[i];
        if (t->asid != vs->pmap->asid || !(t->perm & XVM_PROT_WRITE))
            continue;
        uint64_t va = t->vpn << shift;
        struct vm_page *pg =
            phys_page(k->vm->ph, phys_lookup(k->vm->ph, t->pa));
        struct vm_map_entry *me = map_lookup(&vs->map, va);
        if (me == NULL || !(me->prot & XVM_PROT_WRITE) || me->needs_copy ||
            (pg->use == XVM_USE_ANON ? pg->owner.anon->ref != 1 : me->cow))
            check_fail(k->ck,
                       "TLB grants write to va %#llx, whose page is "
                       "shared copy-on-write",
                       (unsigned long long)va);
    }
}

void vm_check(struct vm *vm, struct check *ck)
{
    struct vm_ck k = { .vm = vm, .ck = ck };
    hmap_init(&k.amaps);
    hmap_init(&k.anons);
    for (struct xvm_vmspace *vs = vm->spaces; vs && !ck->error; vs = vs->next) {
        map_check(vm, &vs->map, ck);
        if (!ck->error)
            cover_amaps(&k, vs);
    }
    if (!ck->error)
        check_amaps(&k);
    for (struct xvm_vmspace *vs = vm->spaces; vs && !ck->error; vs = vs->next) {
        k.vs = vs;
        pmap_visit(vs->pmap, check_pte, &k);
        check_tlb_writes(&k, vs);
    }

    hmap_fini(vm->core, &k.amaps);
    hmap_fini(vm->core, &k.anons);
    for (size_t i = 0; i < k.nseen; i++)
        free(k.seen[i].cover);
    free(k.seen);
}
