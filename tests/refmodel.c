/*
 * The reference model: naive on purpose.  Every mapping points at a byte
 * store (private overlay or shared anonymous memory) and falls back to
 * the file's host bytes or zeros; fork copies private overlays byte by
 * byte.  Linear scans everywhere: obviously correct beats fast here.
 */
#include "refmodel.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm.h"

#define PGMASK ((uint64_t)RM_PG - 1)

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort(); /* the oracle has no error paths of its own */
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static uint64_t trunc_pg(uint64_t va)
{
    return va & ~PGMASK;
}

static uint64_t round_pg(uint64_t va)
{
    return (va + PGMASK) & ~PGMASK;
}

/* ---- stores ---------------------------------------------------------- */

static struct rm_store *store_new(void)
{
    struct rm_store *s = xmalloc(sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->refs = 1;
    return s;
}

static struct rm_store *store_ref(struct rm_store *s)
{
    if (s)
        s->refs++;
    return s;
}

static void store_unref(struct rm_store *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->bytes[i]);
    free(s->idx);
    free(s->bytes);
    free(s);
}

static uint8_t *store_get(const struct rm_store *s, uint64_t idx)
{
    for (size_t i = 0; s && i < s->n; i++)
        if (s->idx[i] == idx)
            return s->bytes[i];
    return NULL;
}

/* => a new page at idx holding a copy of init (RM_PG bytes). */
static uint8_t *store_put(struct rm_store *s, uint64_t idx, const uint8_t *init)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->idx = xrealloc(s->idx, s->cap * sizeof(*s->idx));
        s->bytes = xrealloc(s->bytes, s->cap * sizeof(*s->bytes));
    }
    uint8_t *b = xmalloc(RM_PG);
    memcpy(b, init, RM_PG);
    s->idx[s->n] = idx;
    s->bytes[s->n++] = b;
    return b;
}

/* => a private snapshot of pages [base, base + n) of s (fork's copy). */
static struct rm_store *store_copy(const struct rm_store *s, uint64_t base,
                                   uint64_t n)
{
    struct rm_store *c = store_new();
    for (size_t i = 0; i < s->n; i++)
        if (s->idx[i] >= base && s->idx[i] - base < n)
            store_put(c, s->idx[i], s->bytes[i]);
    return c;
}

/* ---- mappings -------------------------------------------------------- */

const struct rm_map *rm_lookup(const struct rm_proc *p, uint64_t va)
{
    for (size_t i = 0; i < p->n; i++)
        if (va >= p->maps[i].start && va < p->maps[i].end)
            return &p->maps[i];
    return NULL;
}

static struct rm_map *lookup_mut(struct rm_proc *p, uint64_t va)
{
    return (struct rm_map *)rm_lookup(p, va);
}

static void insert(struct rm_proc *p, const struct rm_map *m)
{
    size_t i = 0;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->maps = xrealloc(p->maps, p->cap * sizeof(*p->maps));
    }
    while (i < p->n && p->maps[i].start < m->start)
        i++;
    memmove(&p->maps[i + 1], &p->maps[i], (p->n - i) * sizeof(*p->maps));
    p->maps[i] = *m;
    p->n++;
}

/* Splits the mapping holding va so that one piece starts at va. */
static void split_at(struct rm_proc *p, uint64_t va)
{
    struct rm_map *m = lookup_mut(p, va);
    if (m == NULL || m->start == va)
        return;
    struct rm_map hi = *m;
    uint64_t delta = va - m->start;
    m->end = va;
    hi.start = va;
    hi.off += delta;
    hi.sbase += delta / RM_PG;
    store_ref(hi.store);
    insert(p, &hi);
}

/* Removes [start, end) from p. */
static void carve(struct rm_proc *p, uint64_t start, uint64_t end)
{
    split_at(p, start);
    split_at(p, end);
    size_t j = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->maps[i].start >= start && p->maps[i].end <= end)
            store_unref(p->maps[i].store);
        else
            p->maps[j++] = p->maps[i];
    }
    p->n = j;
}

/* The page at pva (page aligned) as m shows it, into out. */
static void page_bytes(const struct rm_model *rm, const struct rm_map *m,
                       uint64_t pva, uint8_t *out)
{
    const uint8_t *s = store_get(m->store, m->sbase + (pva - m->start) / RM_PG);
    memset(out, 0, RM_PG);
    if (s) {
        memcpy(out, s, RM_PG);
    } else if (m->file >= 0) {
        const struct rm_file *f = &rm->files[m->file];
        uint64_t off = m->off + (pva - m->start);
        if (off < f->size)
            memcpy(out, f->data + off,
                   f->size - off < RM_PG ? f->size - off : RM_PG);
    }
}

/* => the writable store page behind pva, made on first use. */
static uint8_t *page_for_write(struct rm_model *rm, struct rm_map *m,
                               uint64_t pva)
{
    uint64_t idx = m->sbase + (pva - m->start) / RM_PG;
    uint8_t *s = store_get(m->store, idx), init[RM_PG];
    if (s)
        return s;
    page_bytes(rm, m, pva, init);
    return store_put(m->store, idx, init);
}

void rm_materialize(struct rm_model *rm, struct rm_proc *p, uint64_t va)
{
    struct rm_map *m = lookup_mut(p, va);
    if (m && !m->shared)
        page_for_write(rm, m, trunc_pg(va));
}

/* ---- model and processes -------------------------------------------- */

void rm_init(struct rm_model *rm, uint64_t va_max, bool xip,
             const struct rm_file *files, unsigned nfiles)
{
    memset(rm, 0, sizeof(*rm));
    rm->va_max = va_max;
    rm->xip = xip;
    rm->files = files;
    rm->nfiles = nfiles;
}

static void proc_free(struct rm_proc *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        store_unref(p->maps[i].store);
    free(p->maps);
    free(p);
}

void rm_fini(struct rm_model *rm)
{
    for (size_t i = 0; i < rm->nprocs; i++)
        proc_free(rm->procs[i]);
    free(rm->procs);
    memset(rm, 0, sizeof(*rm));
}

static struct rm_proc *proc_clone(const struct rm_proc *p)
{
    struct rm_proc *c = xmalloc(sizeof(*c));
    *c = *p;
    c->maps = xmalloc((p->cap ? p->cap : 1) * sizeof(*c->maps));
    memcpy(c->maps, p->maps, p->n * sizeof(*c->maps));
    for (size_t i = 0; i < c->n; i++)
        store_ref(c->maps[i].store);
    return c;
}

void rm_snapshot(const struct rm_model *rm, struct rm_snap *s)
{
    s->n = rm->nprocs;
    s->procs = xmalloc((s->n ? s->n : 1) * sizeof(*s->procs));
    for (size_t i = 0; i < s->n; i++)
        s->procs[i] = proc_clone(rm->procs[i]);
}

void rm_snap_drop(struct rm_snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        proc_free(s->procs[i]);
    free(s->procs);
    s->procs = NULL;
    s->n = 0;
}

void rm_rollback(struct rm_model *rm, struct rm_snap *s)
{
    for (size_t i = 0; i < rm->nprocs; i++)
        proc_free(rm->procs[i]);
    free(rm->procs);
    rm->procs = s->procs;
    rm->nprocs = rm->cap = s->n;
    s->procs = NULL;
    s->n = 0;
}

struct rm_proc *rm_proc_find(struct rm_model *rm, uint32_t pid)
{
    for (size_t i = 0; i < rm->nprocs; i++)
        if (rm->procs[i]->pid == pid)
            return rm->procs[i];
    return NULL;
}

static struct rm_proc *proc_new(uint32_t pid)
{
    struct rm_proc *p = xmalloc(sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

static void proc_add(struct rm_model *rm, struct rm_proc *p)
{
    if (rm->nprocs == rm->cap) {
        rm->cap = rm->cap ? 2 * rm->cap : 8;
        rm->procs = xrealloc(rm->procs, rm->cap * sizeof(*rm->procs));
    }
    rm->procs[rm->nprocs++] = p;
}

/* ---- the mmap family ------------------------------------------------- */

/* => EINVAL unless [addr, addr + len) is a page-aligned user range. */
static int check_range(const struct rm_model *rm, uint64_t addr, uint64_t len,
                       uint64_t *end)
{
    uint64_t rlen = round_pg(len);
    if (len == 0 || (addr & PGMASK) || rlen < len || addr < RM_PG ||
        addr > rm->va_max || rm->va_max - addr < rlen)
        return EINVAL;
    *end = addr + rlen;
    return 0;
}

static bool range_free(const struct rm_proc *p, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->maps[i].start < end && p->maps[i].end > start)
            return false;
    return true;
}

/* Argument checks of mmap, in the library's order; => maxprot. */
static int mmap_args(const struct rm_model *rm, uint64_t len, int prot,
                     int flags, int file, uint64_t off, unsigned *maxprot)
{
    unsigned mp = (unsigned)prot >> 3 & XVM_PROT_ALL;
    unsigned pr = (unsigned)prot & XVM_PROT_ALL;
    bool shared = flags & XVM_MAP_SHARED;
    if ((unsigned)prot >> 6 ||
        (flags & ~(XVM_MAP_SHARED | XVM_MAP_PRIVATE | XVM_MAP_FIXED)) ||
        shared == !!(flags & XVM_MAP_PRIVATE) || (off & PGMASK))
        return EINVAL;
    if (mp == 0)
        mp = XVM_PROT_ALL;
    if (file >= 0 && shared)
        mp &= ~(unsigned)XVM_PROT_WRITE; /* opened read-only: EACCES below */
    if ((pr & mp) != pr)
        return EACCES;
    if (file >= 0) {
        /* A file maps in whole pages: past EOF reads zero. */
        uint64_t size = round_pg(rm->files[file].size);
        if (off >= size || size - off < len)
            return EINVAL;
    }
    *maxprot = mp;
    return 0;
}

int rm_mmap(struct rm_model *rm, struct rm_proc *p, uint64_t *addr,
            uint64_t len, int prot, int flags, int file, uint64_t off)
{
    unsigned maxprot;
    uint64_t end;
    int error = mmap_args(rm, len, prot, flags, file, off, &maxprot);
    if (error)
        return error;
    if (flags & XVM_MAP_FIXED) {
        if ((error = check_range(rm, *addr, len, &end)) != 0)
            return error;
        carve(p, *addr, end);
    } else {
        /* Anywhere: the library chose; the range must have been free. */
        if (check_range(rm, *addr, len, &end) || !range_free(p, *addr, end))
            return EINVAL;
    }
    bool shared = flags & XVM_MAP_SHARED;
    struct rm_map m = {
        .start = *addr,
        .end = end,
        .prot = (uint8_t)(prot & XVM_PROT_ALL),
        .maxprot = (uint8_t)maxprot,
        .inherit = shared ? XVM_INHERIT_SHARE : XVM_INHERIT_COPY,
        .advice = XVM_ADV_NORMAL,
        .shared = shared,
        .file = file,
        .off = off,
        .store = shared && file >= 0 ? NULL : store_new(),
    };
    insert(p, &m);
    return 0;
}

int rm_munmap(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
              uint64_t len)
{
    uint64_t end;
    int error = check_range(rm, addr, len, &end);
    if (error == 0)
        carve(p, addr, end);
    return error;
}

typedef int (*page_check)(const struct rm_model *rm, const struct rm_map *m,
                          int arg);

/* The walk of the library's range calls: a hole is ENOMEM, and the first
 * refusal in address order wins; then [addr, end) is split out. */
static int range_walk(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
                      uint64_t len, page_check check, int arg, uint64_t *end)
{
    if (len == 0 && (addr & PGMASK) == 0) {
        *end = addr; /* Linux and NetBSD: nothing to do, success */
        return 0;
    }
    int error = check_range(rm, addr, len, end);
    if (error)
        return error;
    for (uint64_t at = addr; at < *end;) {
        const struct rm_map *m = rm_lookup(p, at);
        if (m == NULL)
            return ENOMEM;
        if (check && (error = check(rm, m, arg)) != 0)
            return error;
        at = m->end;
    }
    split_at(p, addr);
    split_at(p, *end);
    return 0;
}

static int prot_check(const struct rm_model *rm, const struct rm_map *m,
                      int prot)
{
    (void)rm;
    return ((unsigned)prot & m->maxprot) == (unsigned)prot ? 0 : EACCES;
}

int rm_mprotect(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
                uint64_t len, int prot)
{
    uint64_t end;
    if (prot & ~XVM_PROT_ALL)
        return EINVAL;
    int error = range_walk(rm, p, addr, len, prot_check, prot, &end);
    for (size_t i = 0; error == 0 && i < p->n; i++)
        if (p->maps[i].start >= addr && p->maps[i].end <= end)
            p->maps[i].prot = (uint8_t)prot;
    return error;
}

/* Sets one byte-sized attribute over whole mappings in [addr, addr+len). */
static int set_attr(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
                    uint64_t len, size_t field, int value, int max)
{
    uint64_t end;
    if ((unsigned)value > (unsigned)max)
        return EINVAL;
    int error = range_walk(rm, p, addr, len, NULL, 0, &end);
    for (size_t i = 0; error == 0 && i < p->n; i++)
        if (p->maps[i].start >= addr && p->maps[i].end <= end)
            *((uint8_t *)&p->maps[i] + field) = (uint8_t)value;
    return error;
}

int rm_minherit(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
                uint64_t len, int inh)
{
    return set_attr(rm, p, addr, len, offsetof(struct rm_map, inherit), inh,
                    XVM_INHERIT_NONE);
}

int rm_madvise(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
               uint64_t len, int adv)
{
    return set_attr(rm, p, addr, len, offsetof(struct rm_map, advice), adv,
                    XVM_ADV_SEQUENTIAL);
}

static int wire_check(const struct rm_model *rm, const struct rm_map *m,
                      int arg)
{
    (void)rm;
    (void)arg;
    return m->prot == XVM_PROT_NONE ? EACCES : 0;
}

/*
 * Wiring one page: a page with its own private copy is RAM; a file page
 * that XIP maps in place is refused (paper §11.4), even where a write
 * would copy it; otherwise a write on a private mapping makes the copy.
 */
static int wire_page(struct rm_model *rm, struct rm_map *m, uint64_t va)
{
    uint64_t idx = m->sbase + (va - m->start) / RM_PG;
    if (store_get(m->store, idx))
        return 0;
    uint64_t fpage = (m->off + (va - m->start)) / RM_PG;
    if (m->file >= 0 && rm->xip && fpage < rm->files[m->file].dev_pages)
        return EINVAL;
    if (!m->shared && (m->prot & XVM_PROT_WRITE))
        page_for_write(rm, m, va);
    return 0;
}

int rm_mlock(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
             uint64_t len)
{
    uint64_t end;
    int error = range_walk(rm, p, addr, len, wire_check, 0, &end);
    for (uint64_t va = addr; error == 0 && va < end; va += RM_PG)
        error = wire_page(rm, lookup_mut(p, va), va);
    return error;
}

int rm_munlock(struct rm_model *rm, struct rm_proc *p, uint64_t addr,
               uint64_t len)
{
    uint64_t end;
    return range_walk(rm, p, addr, len, NULL, 0, &end);
}

/* ---- accesses -------------------------------------------------------- */

/* => the mapping for the page at va allowing access, or an error. */
static int access_page(struct rm_proc *p, uint64_t va, unsigned access,
                       struct rm_map **out)
{
    struct rm_map *m = lookup_mut(p, va);
    if (m == NULL)
        return EFAULT;
    if ((access & m->prot) != access)
        return EACCES;
    *out = m;
    return 0;
}

int rm_access(struct rm_model *rm, struct rm_proc *p, uint64_t va, uint8_t *buf,
              size_t n, unsigned access)
{
    uint8_t page[RM_PG];
    if (va >= rm->va_max || rm->va_max - va < n)
        return EFAULT;
    while (n > 0) {
        size_t off = (size_t)(va & PGMASK);
        size_t chunk = RM_PG - off < n ? RM_PG - off : n;
        struct rm_map *m;
        int error = access_page(p, va, access, &m);
        if (error)
            return error;
        page_bytes(rm, m, va - off, page);
        memcpy(buf, page + off, chunk);
        buf += chunk, va += chunk, n -= chunk;
    }
    return 0;
}

int rm_loan(struct rm_model *rm, struct rm_proc *p, uint64_t va, uint8_t *buf,
            size_t n)
{
    /* Lending is reading now: the bytes are what the I/O sends. */
    return n == 0 ? EINVAL : rm_access(rm, p, va, buf, n, XVM_PROT_READ);
}

int rm_write(struct rm_model *rm, struct rm_proc *p, uint64_t va,
             const uint8_t *src, size_t n)
{
    if (va >= rm->va_max || rm->va_max - va < n)
        return EFAULT;
    while (n > 0) {
        size_t off = (size_t)(va & PGMASK);
        size_t chunk = RM_PG - off < n ? RM_PG - off : n;
        struct rm_map *m;
        int error = access_page(p, va, XVM_PROT_WRITE, &m);
        if (error)
            return error;
        memcpy(page_for_write(rm, m, va - off) + off, src, chunk);
        src += chunk, va += chunk, n -= chunk;
    }
    return 0;
}

bool rm_page(const struct rm_model *rm, const struct rm_proc *p, uint64_t pva,
             uint8_t *out)
{
    const struct rm_map *m = rm_lookup(p, pva);
    if (m == NULL)
        return false;
    page_bytes(rm, m, pva, out);
    return true;
}

/* ---- fork, exec, exit, brk ------------------------------------------ */

int rm_fork(struct rm_model *rm, uint32_t ppid, uint32_t cpid)
{
    if (cpid == 0)
        return EINVAL;
    struct rm_proc *pp = rm_proc_find(rm, ppid);
    if (pp == NULL)
        return ESRCH;
    if (rm_proc_find(rm, cpid))
        return EEXIST;
    struct rm_proc *c = proc_new(cpid);
    c->brk_base = pp->brk_base, c->brk = pp->brk;
    c->stack_top = pp->stack_top, c->sp = pp->sp, c->entry = pp->entry;
    for (size_t i = 0; i < pp->n; i++) {
        struct rm_map m = pp->maps[i];
        if (m.inherit == XVM_INHERIT_NONE)
            continue;
        /* Shared memory and share inheritance: one store for both. */
        if (m.shared || m.inherit == XVM_INHERIT_SHARE)
            store_ref(m.store);
        else
            m.store = store_copy(m.store, m.sbase, (m.end - m.start) / RM_PG);
        insert(c, &m);
    }
    proc_add(rm, c);
    return 0;
}

static void put_word(uint8_t *p, uint64_t v, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++)
        p[big ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

/* Where the program headers are once loaded (AT_PHDR): the diff
 * programs put them right after the ELF header, inside the PT_LOAD that
 * maps file offset 0 (static programs: no bias). */
static uint64_t phdr_va(const struct rm_prog *prog)
{
    uint64_t phoff = prog->is64 ? 64 : 52;
    for (unsigned i = 0; i < prog->nseg; i++) {
        const struct rm_seg *s = &prog->seg[i];
        if (phoff >= s->offset && phoff < s->offset + s->filesz)
            return s->vaddr + (phoff - s->offset);
    }
    return 0;
}

/* The initial stack: strings at the top, then argc, argv, NULL, envp
 * NULL and the auxiliary vector (AT_PHDR, AT_PHENT, AT_PHNUM,
 * AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY, AT_NULL), 16-byte aligned, in
 * the program's word size. */
static int build_stack(struct rm_model *rm, struct rm_proc *p,
                       const struct rm_prog *prog, unsigned argc,
                       const char *const *argv)
{
    unsigned w = prog->is64 ? 8 : 4;
    uint64_t top = trunc_pg(rm->va_max), sp = top, at = top - RM_STACK_SIZE;
    const uint64_t aux[8][2] = {
        { 3, phdr_va(prog) },
        { 4, prog->is64 ? 56 : 32 },
        { 5, prog->nseg },
        { 6, RM_PG },
        { 7, 0 },
        { 8, 0 },
        { 9, prog->entry },
        { 0, 0 },
    };
    uint8_t frame[(1 + 8 + 2 + 16) * 8];
    size_t k = 0;
    if (argc > 8)
        return E2BIG;
    rm_mmap(rm, p, &at, RM_STACK_SIZE, XVM_PROT_READ | XVM_PROT_WRITE,
            XVM_MAP_PRIVATE | XVM_MAP_FIXED, -1, 0);
    uint64_t ptrs[8];
    for (unsigned i = argc; i-- > 0;) {
        size_t n = strlen(argv[i]) + 1;
        sp -= n;
        rm_write(rm, p, sp, (const uint8_t *)argv[i], n);
        ptrs[i] = sp;
    }
    sp = (sp - (uint64_t)(argc + 3 + 16) * w) & ~UINT64_C(15);
    put_word(frame, argc, w, prog->big_endian), k += w;
    for (unsigned i = 0; i < argc; i++)
        put_word(frame + k, ptrs[i], w, prog->big_endian), k += w;
    memset(frame + k, 0, 2 * w);
    k += 2 * w;
    for (unsigned i = 0; i < 8; i++) {
        put_word(frame + k, aux[i][0], w, prog->big_endian), k += w;
        put_word(frame + k, aux[i][1], w, prog->big_endian), k += w;
    }
    rm_write(rm, p, sp, frame, k);
    p->stack_top = top;
    p->sp = sp;
    return 0;
}

/* One PT_LOAD: file pages private, the rest anonymous, the bss part of
 * the last file page zeroed. */
static int load_segment(struct rm_model *rm, struct rm_proc *p, int file,
                        const struct rm_seg *s)
{
    uint64_t start = trunc_pg(s->vaddr), fend = s->vaddr + s->filesz;
    uint64_t mend = s->vaddr + s->memsz, at = start;
    int flags = XVM_MAP_PRIVATE | XVM_MAP_FIXED, error;
    if (s->filesz &&
        (error = rm_mmap(rm, p, &at, round_pg(fend) - start, s->prot, flags,
                         file, trunc_pg(s->offset))) != 0)
        return error == EINVAL ? ENOEXEC : error;
    at = s->filesz ? round_pg(fend) : start;
    if (round_pg(mend) > at && (error = rm_mmap(rm, p, &at, round_pg(mend) - at,
                                                s->prot, flags, -1, 0)) != 0)
        return error;
    if (s->memsz > s->filesz && s->filesz && (fend & PGMASK) &&
        (s->prot & XVM_PROT_WRITE)) {
        static const uint8_t zero[RM_PG];
        uint64_t n = round_pg(fend) - fend;
        rm_write(rm, p, fend, zero,
                 (size_t)(mend - fend < n ? mend - fend : n));
    }
    return 0;
}

/* => a new process image (not yet in the table) running prog. */
static int image(struct rm_model *rm, uint32_t pid, const struct rm_prog *prog,
                 unsigned argc, const char *const *argv, struct rm_proc **out)
{
    struct rm_proc *p = proc_new(pid);
    uint64_t hi = 0;
    int error = 0;
    for (unsigned i = 0; error == 0 && i < prog->nseg; i++) {
        error = load_segment(rm, p, prog->file, &prog->seg[i]);
        if (prog->seg[i].vaddr + prog->seg[i].memsz > hi)
            hi = prog->seg[i].vaddr + prog->seg[i].memsz;
    }
    p->entry = prog->entry;
    p->brk_base = p->brk = round_pg(hi);
    if (error == 0)
        error = build_stack(rm, p, prog, argc, argv);
    if (error) {
        proc_free(p);
        return error;
    }
    *out = p;
    return 0;
}

int rm_spawn(struct rm_model *rm, uint32_t pid, const struct rm_prog *prog,
             unsigned argc, const char *const *argv)
{
    struct rm_proc *p;
    if (pid == 0)
        return EINVAL;
    if (rm_proc_find(rm, pid))
        return EEXIST;
    int error = image(rm, pid, prog, argc, argv, &p);
    if (error == 0)
        proc_add(rm, p);
    return error;
}

int rm_exec(struct rm_model *rm, uint32_t pid, const struct rm_prog *prog,
            unsigned argc, const char *const *argv)
{
    struct rm_proc *p;
    for (size_t i = 0; i < rm->nprocs; i++) {
        if (rm->procs[i]->pid != pid)
            continue;
        int error = image(rm, pid, prog, argc, argv, &p);
        if (error)
            return error; /* the old image runs on */
        proc_free(rm->procs[i]);
        rm->procs[i] = p;
        return 0;
    }
    return ESRCH;
}

int rm_exit(struct rm_model *rm, uint32_t pid)
{
    for (size_t i = 0; i < rm->nprocs; i++) {
        if (rm->procs[i]->pid != pid)
            continue;
        proc_free(rm->procs[i]);
        rm->procs[i] = rm->procs[--rm->nprocs];
        return 0;
    }
    return ESRCH;
}

int rm_brk(struct rm_model *rm, struct rm_proc *p, uint64_t addr)
{
    uint64_t old = round_pg(p->brk), new = round_pg(addr);
    int error = 0;
    if (addr < p->brk_base || new < addr || new >= p->stack_top - RM_STACK_SIZE)
        return EINVAL;
    if (new > old) {
        uint64_t at = old;
        if (!range_free(p, old, new))
            return ENOMEM; /* the heap would run into a mapping */
        error = rm_mmap(rm, p, &at, new - old, XVM_PROT_READ | XVM_PROT_WRITE,
                        XVM_MAP_PRIVATE | XVM_MAP_FIXED, -1, 0);
    } else if (new < old) {
        error = rm_munmap(rm, p, new, old - new);
    }
    if (error == 0)
        p->brk = addr;
    return error;
}
