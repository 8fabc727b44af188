/*
 * The differential driver.  One step: decode an operation, run it on the
 * library, run it on the model, compare results (the ENOMEM rule is in
 * refmodel.h), then check the machine, the process table and every map
 * layout.  Resident pages are compared byte for byte every few steps and
 * at the end, through the page tables (no fault, any protection).
 */
#define _DEFAULT_SOURCE
#include "diffops.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "amap.h"
#include "machine.h"
#include "map.h"
#include "object.h"
#include "physmem.h"
#include "pmap.h"
#include "vfs.h"
#include "vmspace.h"
#include "xipvm.h"

#define MAKEFS       "/usr/sbin/makefs"
#define WIN_BASE     UINT64_C(0x400000) /* the window operations collide in */
#define WIN_PAGES    64u
#define MAX_PROCS    6
#define MAX_ACCESS   (2 * RM_PG + 512)
#define LOG_LINES    24
#define VERIFY_EVERY 8
#define TINY_FRAMES  256 /* below this, RAM may run out */
#define MAX_LOANS    4   /* loans in flight at once */

/* ---- the image -------------------------------------------------------- */

enum { F_PROG_A, F_PROG_B, F_SMALL, F_PAGES, F_BIG };

static const char *const file_paths[DIFF_NFILES] = {
    "bin/a", "bin/b", "data/small", "data/pages", "data/big",
};
/* Programs end where their last segment's page ends in the file. */
static const uint64_t file_sizes[DIFF_NFILES] = {
    0x3000, 0x2345, 5000, 16384, 70000,
};

#define RX (XVM_PROT_READ | XVM_PROT_EXEC)
#define RW (XVM_PROT_READ | XVM_PROT_WRITE)

/* ELF32 little endian, text and data+bss in the window; ELF64 big
 * endian higher up, with data and no bss. */
static const struct rm_prog progs[DIFF_NPROGS] = {
    { .file = F_PROG_A,
      .is64 = false,
      .big_endian = false,
      .entry = WIN_BASE + 0x100,
      .nseg = 2,
      .seg = { { WIN_BASE, 0, 0x1a00, 0x1a00, RX },
               { WIN_BASE + 0x3a00, 0x1a00, 0x700, 0x2400, RW } } },
    { .file = F_PROG_B,
      .is64 = true,
      .big_endian = true,
      .entry = WIN_BASE + 0x10040,
      .nseg = 2,
      .seg = { { WIN_BASE + 0x10000, 0, 0x1200, 0x1200, RX },
               { WIN_BASE + 0x12200, 0x1200, 0x300, 0x300, RW } } },
};

static void fill(uint8_t *p, uint64_t n, uint32_t seed)
{
    uint32_t x = seed | 1;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static void put(uint8_t *p, uint64_t v, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++)
        p[big ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static unsigned elf_flags(int prot)
{
    return (prot & XVM_PROT_READ ? 4u : 0) | (prot & XVM_PROT_WRITE ? 2u : 0) |
           (prot & XVM_PROT_EXEC ? 1u : 0);
}

/* One program header, in the class's field order. */
static void put_phdr(uint8_t *ph, const struct rm_seg *s, bool is64, bool big)
{
    unsigned w = is64 ? 8 : 4;
    put(ph, 1, 4, big); /* PT_LOAD */
    if (is64) {
        put(ph + 4, elf_flags(s->prot), 4, big);
        ph += 8;
    } else {
        ph += 4;
    }
    put(ph, s->offset, w, big);
    put(ph + w, s->vaddr, w, big);
    put(ph + 2 * w, s->vaddr, w, big); /* p_paddr */
    put(ph + 3 * w, s->filesz, w, big);
    put(ph + 4 * w, s->memsz, w, big);
    if (!is64)
        put(ph + 5 * w, elf_flags(s->prot), 4, big), ph += 4;
    put(ph + 5 * w, RM_PG, w, big); /* p_align */
}

uint8_t *diff_prog_bytes(const struct rm_prog *prog, uint64_t size,
                         uint32_t seed)
{
    uint8_t *b = malloc(size);
    if (b == NULL)
        return NULL;
    bool big = prog->big_endian, is64 = prog->is64;
    unsigned w = is64 ? 8 : 4, eh = is64 ? 64 : 52, phs = is64 ? 56 : 32;
    fill(b, size, seed);
    memset(b, 0, eh + prog->nseg * phs);
    memcpy(b, "\177ELF", 4);
    b[4] = is64 ? 2 : 1;
    b[5] = big ? 2 : 1;
    b[6] = 1;
    put(b + 16, 2, 2, big);             /* ET_EXEC */
    put(b + 18, is64 ? 43 : 8, 2, big); /* SPARC V9, MIPS */
    put(b + 20, 1, 4, big);
    put(b + 24, prog->entry, w, big);
    put(b + 24 + w, eh, w, big);     /* e_phoff */
    put(b + 28 + 3 * w, eh, 2, big); /* e_ehsize */
    put(b + 30 + 3 * w, phs, 2, big);
    put(b + 32 + 3 * w, prog->nseg, 2, big);
    for (unsigned i = 0; i < prog->nseg; i++)
        put_phdr(b + eh + i * phs, &prog->seg[i], is64, big);
    return b;
}

static int write_file(const char *dir, const char *rel, const uint8_t *data,
                      uint64_t size)
{
    char path[1024], *slash;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
        return -1;
    if ((slash = strrchr(path, '/')) != NULL) {
        *slash = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(data, 1, (size_t)size, f);
    return fclose(f) == 0 && n == size ? 0 : -1;
}

static uint8_t *slurp(const char *path, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0) {
        rewind(f);
        buf = malloc((size_t)n);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *size = (uint64_t)n;
    }
    if (f)
        fclose(f);
    return buf;
}

static int count_dev_pages(void *arg, const struct xvm_file_info *fi)
{
    struct diff_image *di = arg;
    for (unsigned i = 0; i < DIFF_NFILES; i++) {
        if (fi->type != 1 || strcmp(fi->path + 1, file_paths[i]) != 0)
            continue;
        /* Without holes, only pages of the tail block fall back, and
         * the ones that fit in place come first. */
        if (fi->hole_pages)
            return EINVAL;
        di->files[i].dev_pages = fi->xip_pages;
    }
    return 0;
}

/* Asks the library how XIP places the files' pages (an image property). */
static int classify(struct diff_image *di)
{
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_flash *fl;
    xvm_mount *mp;
    struct xvm_mount_config mc;
    xvm_config_init(&cfg);
    cfg.ram_bytes = 4u << 20;
    if (xvm_machine_create(&cfg, &m) != 0)
        return -1;
    xvm_mount_config_init(&mc);
    mc.flags = XVM_MOUNT_XIP;
    int error = xvm_flash_attach(m, di->img, di->img_size, NULL, &fl);
    if (error == 0 && (error = xvm_mount_flash(fl, &mc, &mp)) == 0) {
        error = xvm_fsinfo(mp, count_dev_pages, di);
        xvm_unmount(mp);
    }
    xvm_machine_destroy(m);
    return error ? -1 : 0;
}

static int make_tree_image(const char *dir, const struct rm_file *files,
                           unsigned n, int version, const char *endian,
                           unsigned bsize, unsigned fsize, uint8_t **img,
                           uint64_t *size)
{
    char cmd[4096], path[1024], tree[1024];
    if ((size_t)snprintf(tree, sizeof(tree), "%s/tree", dir) >= sizeof(tree) ||
        (size_t)snprintf(path, sizeof(path), "%s/fs.img", dir) >=
            sizeof(path) ||
        mkdir(tree, 0755) != 0)
        return -1;
    for (unsigned i = 0; i < n; i++)
        if (write_file(tree, files[i].path, files[i].data, files[i].size))
            return -1;
    if ((size_t)snprintf(
            cmd, sizeof(cmd),
            MAKEFS " -t ffs -M 1m -b 10%% -B %s -o version=%d,bsize=%u,"
                   "fsize=%u '%s' '%s' >/dev/null 2>&1",
            endian, version, bsize, fsize, path, tree) >= sizeof(cmd) ||
        access(MAKEFS, X_OK) != 0 || system(cmd) != 0)
        return -1;
    *img = slurp(path, size);
    return *img ? 0 : -1;
}

int diff_make_image(const struct rm_file *files, unsigned n, int version,
                    const char *endian, unsigned bsize, unsigned fsize,
                    uint8_t **img, uint64_t *size)
{
    char tmpl[] = "/tmp/xipvm-diff.XXXXXX", cmd[256];
    const char *dir = mkdtemp(tmpl);
    *img = NULL;
    if (dir == NULL)
        return -1;
    int error = make_tree_image(dir, files, n, version, endian, bsize, fsize,
                                img, size);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0 || error) {
        free(*img);
        *img = NULL;
        return -1;
    }
    return 0;
}

int diff_image_build(struct diff_image *di, int ufs_version, const char *endian,
                     unsigned bsize, unsigned fsize, char *err, size_t errlen)
{
    memset(di, 0, sizeof(*di));
    memcpy(di->progs, progs, sizeof(progs));
    for (unsigned i = 0; i < DIFF_NFILES; i++) {
        uint8_t *b = i < DIFF_NPROGS
                         ? diff_prog_bytes(&progs[i], file_sizes[i], 77 + i)
                         : malloc(file_sizes[i]);
        if (b && i >= DIFF_NPROGS)
            fill(b, file_sizes[i], 1000 + i);
        di->files[i] = (struct rm_file){ file_paths[i], b, file_sizes[i], 0 };
    }
    if (diff_make_image(di->files, DIFF_NFILES, ufs_version, endian, bsize,
                        fsize, &di->img, &di->img_size) != 0) {
        snprintf(err, errlen, "cannot build the image with " MAKEFS);
        diff_image_free(di);
        return -1;
    }
    if (classify(di) != 0) {
        snprintf(err, errlen, "the image has holes");
        diff_image_free(di);
        return -1;
    }
    return 0;
}

void diff_image_free(struct diff_image *di)
{
    for (unsigned i = 0; i < DIFF_NFILES; i++)
        free((void *)di->files[i].data);
    free(di->img);
    memset(di, 0, sizeof(*di));
}

/* ---- operation sources ----------------------------------------------- */

void diff_src_bytes(struct diff_src *s, const uint8_t *data, size_t len)
{
    *s = (struct diff_src){ .data = data, .len = len };
}

void diff_src_seed(struct diff_src *s, uint64_t seed)
{
    *s = (struct diff_src){ .rng = seed * 0x9e3779b97f4a7c15u | 1 };
}

unsigned diff_byte(struct diff_src *s)
{
    if (s->rng) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        return (unsigned)(s->rng >> 32) & 0xff;
    }
    return s->pos < s->len ? s->data[s->pos++] : 0;
}

static bool src_more(const struct diff_src *s)
{
    return s->rng || s->pos < s->len;
}

void diff_config_decode(struct diff_src *s, struct diff_config *cfg)
{
    unsigned b = diff_byte(s);
    cfg->profile = b & 1 ? "amd64" : "sgimips";
    cfg->ram_bytes = (uint64_t)(b & 2 ? 40 : 1024) * RM_PG;
    cfg->xip = b & 4;
    cfg->ahead = b & 8;
    cfg->inject = b & 16;
    cfg->design = (enum xvm_device_design)((b >> 5) % XVM_DESIGNS);
    cfg->max_ops = 200;
    cfg->full_check = true;
}

/* ---- the world: a machine and its model ------------------------------ */

enum op {
    OP_MMAP_ANON,
    OP_MMAP_FILE,
    OP_MUNMAP,
    OP_MPROTECT,
    OP_MINHERIT,
    OP_MADVISE,
    OP_MLOCK,
    OP_MUNLOCK,
    OP_FORK,
    OP_EXIT,
    OP_EXEC,
    OP_SPAWN,
    OP_READ,
    OP_WRITE,
    OP_FETCH,
    OP_BRK,
    OP_INJECT,
    OP_VERIFY,
    OP_LOAN,
    OP_UNLOAN,
};

/* How often each operation is drawn. */
static const uint8_t op_table[] = {
    OP_MMAP_ANON, OP_MMAP_ANON, OP_MMAP_ANON, OP_MMAP_FILE, OP_MMAP_FILE,
    OP_MMAP_FILE, OP_MUNMAP,    OP_MUNMAP,    OP_MPROTECT,  OP_MPROTECT,
    OP_MPROTECT,  OP_MINHERIT,  OP_MINHERIT,  OP_MADVISE,   OP_MLOCK,
    OP_MUNLOCK,   OP_FORK,      OP_FORK,      OP_EXIT,      OP_EXEC,
    OP_SPAWN,     OP_READ,      OP_READ,      OP_READ,      OP_READ,
    OP_WRITE,     OP_WRITE,     OP_WRITE,     OP_WRITE,     OP_FETCH,
    OP_FETCH,     OP_BRK,       OP_INJECT,    OP_VERIFY,    OP_LOAN,
    OP_LOAN,      OP_UNLOAN,
};

struct world {
    const struct diff_image *di;
    struct diff_config cfg;
    struct diff_src *src;
    struct diff_result *res;
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_file *files[DIFF_NFILES];
    struct rm_model rm;
    uint32_t next_pid;
    bool tiny;
    struct {
        xvm_loan *ln;
        size_t n;
        uint8_t snap[MAX_ACCESS]; /* the model's bytes at the loan */
    } loans[MAX_LOANS];
    unsigned nloans;
    char cur[192];
    char log[LOG_LINES][192];
    unsigned nlog;
    uint8_t buf[MAX_ACCESS], mbuf[MAX_ACCESS], data[MAX_ACCESS];
};

/* The model's mappings of p, one line. */
static size_t dump_proc(const struct rm_proc *p, char *out, size_t cap)
{
    size_t at = (size_t)snprintf(out, cap, "  model pid %u:", p->pid);
    for (size_t i = 0; i < p->n && at < cap; i++) {
        const struct rm_map *r = &p->maps[i];
        at += (size_t)snprintf(out + at, cap - at, " [%llx-%llx %d/%d%s f%d]",
                               (unsigned long long)r->start,
                               (unsigned long long)r->end, r->prot, r->maxprot,
                               r->shared ? "s" : "p", r->file);
    }
    if (at < cap)
        at += (size_t)snprintf(out + at, cap - at, "\n");
    return at < cap ? at : cap;
}

/* The library's entries, one line. */
static size_t dump_space(struct xvm_vmspace *vs, char *out, size_t cap)
{
    size_t at = (size_t)snprintf(out, cap, "  library:   ");
    struct vm_map_entry *e;
    if (vs == NULL)
        return at < cap ? at : cap;
    map_foreach(&vs->map, e) {
        if (at >= cap)
            break;
        at += (size_t)snprintf(out + at, cap - at, " [%llx-%llx %d/%d%s%s]",
                               (unsigned long long)e->start,
                               (unsigned long long)e->end, e->prot, e->maxprot,
                               e->cow ? "p" : "s", e->obj ? " o" : "");
    }
    if (at < cap)
        at += (size_t)snprintf(out + at, cap - at, "\n");
    return at < cap ? at : cap;
}

static int fail(struct world *w, const char *fmt, ...)
{
    char *msg = w->res->msg;
    size_t cap = sizeof(w->res->msg), at;
    va_list ap;
    va_start(ap, fmt);
    at = (size_t)snprintf(
        msg, cap, "op %u (%s, %s, %s%s, %s design): ", w->res->ops,
        w->cfg.profile, w->cfg.xip ? "xip" : "copy", w->tiny ? "tiny" : "large",
        w->cfg.inject ? ", inject" : "", xvm_device_design_name(w->cfg.design));
    if (at < cap)
        at += (size_t)vsnprintf(msg + at, cap - at, fmt, ap);
    va_end(ap);
    if (at < cap)
        at += (size_t)snprintf(msg + at, cap - at,
                               "\n  failing: %s\n  before:\n", w->cur);
    unsigned first = w->nlog > LOG_LINES ? w->nlog - LOG_LINES : 0;
    for (unsigned i = first; i < w->nlog && at < cap; i++)
        at += (size_t)snprintf(msg + at, cap - at, "    %s\n",
                               w->log[i % LOG_LINES]);
    for (size_t i = 0; i < w->rm.nprocs && at < cap; i++) {
        at += dump_proc(w->rm.procs[i], msg + at, cap - at);
        if (at < cap)
            at += dump_space(xvm_proc_vmspace(w->m, w->rm.procs[i]->pid),
                             msg + at, cap - at);
    }
    return -1;
}

static void note(struct world *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->cur, sizeof(w->cur), fmt, ap);
    va_end(ap);
}

/*
 * A machine whose host arrays are sized for many short runs: a software
 * TLB of 64 entries, not the profile's 1024 (256 KiB written whole per
 * machine; a small one also evicts, which a run should reach), and
 * amd64's last-level cache at 256 KiB of its 8 MiB, the same ways and
 * lines (its tags and stamps, 2 MiB per machine).  Under ASan each
 * machine's large arrays are freshly mapped memory whose page faults
 * were most of a fuzz execution (doc/performance.md); the model's counts
 * for the full geometries are checked against cachegrind in
 * tests/test_cachegrind.c.
 */
int diff_machine_create(const struct xvm_config *cfg, xvm_machine **m)
{
    struct xvm_config c = *cfg;
    xvm_cpu_profile *cpu = NULL;
    if (c.profile == NULL)
        return EINVAL;
    int error = xvm_cpu_profile_create(c.profile, &cpu);
    if (error == 0 && strcmp(c.profile, "amd64") == 0)
        error = xvm_cpu_profile_set(cpu, "LL", "262144,16,64", NULL, 0);
    c.tlb_entries = 64;
    c.cpu = cpu; /* the machine keeps a copy */
    if (error == 0)
        error = xvm_machine_create(&c, m);
    xvm_cpu_profile_destroy(cpu);
    return error;
}

static int world_up(struct world *w)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_config_init(&cfg);
    cfg.profile = w->cfg.profile;
    cfg.ram_bytes = w->cfg.ram_bytes;
    cfg.device_design = w->cfg.design;
    if (!w->cfg.ahead)
        xvm_config_fault_ahead(&cfg, 0);
    int error = diff_machine_create(&cfg, &w->m);
    if (error != 0)
        return fail(w, "machine_create");
    xvm_mount_config_init(&mc);
    mc.flags = w->cfg.xip ? XVM_MOUNT_XIP : 0;
    error =
        xvm_flash_attach(w->m, w->di->img, w->di->img_size, NULL, &w->flash);
    if (error == 0)
        error = xvm_mount_flash(w->flash, &mc, &w->mp);
    for (unsigned i = 0; error == 0 && i < DIFF_NFILES; i++)
        error = xvm_open(w->mp, file_paths[i], XVM_O_RDONLY, &w->files[i]);
    if (error)
        return fail(w, "setup: %d", error);
    rm_init(&w->rm, w->m->core.prof->va_max, w->cfg.xip, w->di->files,
            DIFF_NFILES);
    w->tiny = w->cfg.ram_bytes / RM_PG < TINY_FRAMES;
    w->next_pid = 1;
    return 0;
}

static void world_down(struct world *w)
{
    for (unsigned i = 0; i < w->nloans; i++)
        xvm_loan_end(w->loans[i].ln);
    w->nloans = 0;
    for (unsigned i = 0; i < DIFF_NFILES; i++)
        xvm_close(w->files[i]);
    if (w->mp)
        xvm_unmount(w->mp);
    if (w->flash)
        xvm_flash_close(w->flash);
    xvm_machine_destroy(w->m);
    rm_fini(&w->rm);
}

/* ---- comparing the library with the model --------------------------- */

/* => the library's bytes for the resident page at pva, or NULL. */
static const uint8_t *lib_page(struct xvm_vmspace *vs, uint64_t pva)
{
    uint64_t pa;
    if (pmap_extract(vs->pmap, pva, &pa) != 0)
        return NULL;
    pageh h = phys_lookup(vs->vm->ph, pa & ~(uint64_t)(RM_PG - 1));
    return h == PAGEH_NONE ? NULL : phys_data(vs->vm->ph, h);
}

/* Every resident page of the window and the stack top shows the model's
 * bytes, whatever its protection. */
static int check_resident(struct world *w, struct rm_proc *p)
{
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, p->pid);
    uint8_t page[RM_PG];
    for (unsigned i = 0; i < WIN_PAGES + 2; i++) {
        uint64_t va = i < WIN_PAGES
                          ? WIN_BASE + i * RM_PG
                          : p->stack_top - (i - WIN_PAGES + 1) * RM_PG;
        const uint8_t *lib = lib_page(vs, va);
        if (lib == NULL)
            continue;
        if (!rm_page(&w->rm, p, va, page))
            return fail(w, "pid %u: 0x%llx resident but unmapped", p->pid,
                        (unsigned long long)va);
        if (memcmp(lib, page, RM_PG) == 0)
            continue; /* the usual case, without a compare per byte */
        for (unsigned k = 0; k < RM_PG; k++)
            if (lib[k] != page[k])
                return fail(w, "pid %u: byte 0x%llx is %02x, model %02x",
                            p->pid, (unsigned long long)(va + k), lib[k],
                            page[k]);
    }
    return 0;
}

static int entry_differs(struct world *w, const struct vm_map_entry *e,
                         const struct rm_map *r, uint64_t at)
{
    bool has_obj = r->file >= 0 || r->shared;
    if (e->prot != r->prot || e->maxprot != r->maxprot ||
        e->inherit != r->inherit || e->advice != r->advice ||
        e->cow == r->shared || (e->obj != NULL) != has_obj)
        return 1;
    if (r->file < 0)
        return 0;
    const struct vnode *vp = e->obj->priv;
    return e->obj->ops == &aobj_pager ||
           vp->size != w->rm.files[r->file].size ||
           e->offset + (at - e->start) != r->off + (at - r->start);
}

/* The library's entries and the model's mappings cover the same pages
 * with the same attributes (compared on every piece both split into). */
static int check_layout(struct world *w, struct rm_proc *p)
{
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, p->pid);
    if (vs == NULL)
        return fail(w, "pid %u missing from the library", p->pid);
    struct vm_map_entry *e = vs->map.header.next;
    size_t i = 0;
    uint64_t at = 0;
    while (e != &vs->map.header || i < p->n) {
        const struct rm_map *r = i < p->n ? &p->maps[i] : NULL;
        uint64_t es = e != &vs->map.header ? e->start : UINT64_MAX;
        uint64_t rs = r ? r->start : UINT64_MAX;
        uint64_t lo = es < rs ? es : rs;
        if (lo > at)
            at = lo; /* skip a gap in both */
        if (es > at || rs > at || (r == NULL) != (e == &vs->map.header))
            return fail(w, "pid %u: 0x%llx mapped in %s only", p->pid,
                        (unsigned long long)at,
                        es > at || r == NULL ? "the model" : "the library");
        if (entry_differs(w, e, r, at))
            return fail(
                w,
                "pid %u: 0x%llx: lib prot %d/%d inh %d adv %d cow %d obj %d;"
                " model %d/%d inh %d adv %d shared %d file %d",
                p->pid, (unsigned long long)at, e->prot, e->maxprot, e->inherit,
                e->advice, e->cow, e->obj != NULL, r->prot, r->maxprot,
                r->inherit, r->advice, r->shared, r->file);
        uint64_t end = e->end < r->end ? e->end : r->end;
        at = end;
        if (e->end == end)
            e = e->next;
        if (r->end == end)
            i++;
    }
    return 0;
}

/* => the model's view against the library's; the machine checked whole,
 * or cheaply (quick). */
static int check_all(struct world *w, bool resident, bool quick)
{
    char msg[256];
    uint64_t fa = w->m->core.fail_at[INJECT_ALLOC],
             ff = w->m->core.fail_at[INJECT_FRAME];
    w->m->core.fail_at[INJECT_ALLOC] = w->m->core.fail_at[INJECT_FRAME] = 0;
    int error = quick ? machine_check_quick(w->m, msg, sizeof(msg))
                      : xvm_machine_check(w->m, msg, sizeof(msg));
    w->m->core.fail_at[INJECT_ALLOC] = fa,
    w->m->core.fail_at[INJECT_FRAME] = ff;
    if (error)
        return fail(w, "machine check: %s", msg);
    if (w->m->procs.table.n != w->rm.nprocs)
        return fail(w, "library has %llu processes, model %zu",
                    (unsigned long long)w->m->procs.table.n, w->rm.nprocs);
    for (size_t i = 0; i < w->rm.nprocs; i++)
        if (check_layout(w, w->rm.procs[i]) ||
            (resident && check_resident(w, w->rm.procs[i])))
            return -1;
    return 0;
}

/* ---- the ENOMEM rule ------------------------------------------------- */

/* Kernel memory is RAM too: every operation that may make a map entry
 * (a clip), an amap, an anon, a PV entry or a process may run out. */
static bool may_take_frames(enum op op)
{
    return op != OP_EXIT && op != OP_INJECT;
}

/* The sites whose failure is ENOMEM: all but the flash read (EIO). */
#define ENOMEM_SITES INJECT_FLASH_READ

/* An injected failure fires once; it is disarmed at the end of its step. */
static bool fired(const struct xvm_machine *m)
{
    for (int s = 0; s < ENOMEM_SITES; s++)
        if (m->core.fail_at[s] && m->core.occurred[s] >= m->core.fail_at[s])
            return true;
    return false;
}

static bool enomem_ok(const struct world *w, enum op op)
{
    return (fired(w->m) && op != OP_EXIT) || (w->tiny && may_take_frames(op));
}

/* Private pages the library gave their own anon, the model copies too
 * (bytes unchanged): a fault that promoted and then ran out of RAM. */
static void sync_anons(struct world *w, struct rm_proc *p, uint64_t start,
                       uint64_t end)
{
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, p->pid);
    for (uint64_t va = start & ~(uint64_t)(RM_PG - 1); va < end; va += RM_PG) {
        struct vm_map_entry *e = map_lookup(&vs->map, va);
        if (e && e->amap && e->cow &&
            amap_lookup(e->amap, e->aoff + (va - e->start) / RM_PG))
            rm_materialize(&w->rm, p, va);
    }
}

/*
 * Compares one result.  lib ENOMEM the rule allows: the model's effect is
 * rolled back (the layout checks then prove the library's was too).
 * => 0 agreed, 1 accepted ENOMEM, -1 mismatch.
 */
typedef int (*model_fn)(struct world *w, void *arg);

static int compare(struct world *w, enum op op, int lib, model_fn fn, void *arg)
{
    struct rm_snap snap;
    bool accept = lib == ENOMEM && enomem_ok(w, op);
    if (accept)
        rm_snapshot(&w->rm, &snap);
    int model = fn(w, arg);
    if (accept && model != ENOMEM) {
        rm_rollback(&w->rm, &snap);
        w->res->enomem_accepted++;
        return 1;
    }
    if (accept)
        rm_snap_drop(&snap);
    if (lib != model)
        return fail(w, "library returned %d, model %d", lib, model);
    w->res->errors += model != 0;
    return 0;
}

/* ---- decoding parameters --------------------------------------------- */

static unsigned byte(struct world *w)
{
    return diff_byte(w->src);
}

static struct rm_proc *pick_proc(struct world *w)
{
    return w->rm.procs[byte(w) % w->rm.nprocs];
}

/* A page of the window, now and then a bad or edge address. */
static uint64_t pick_addr(struct world *w)
{
    unsigned b = byte(w);
    static const uint64_t odd[] = {
        0,
        WIN_BASE + 0x123,
        WIN_BASE + (WIN_PAGES - 1) * RM_PG,
        WIN_BASE - RM_PG,
    };
    return b < 240 ? WIN_BASE + (b % WIN_PAGES) * RM_PG : odd[b & 3];
}

static uint64_t pick_len(struct world *w)
{
    unsigned b = byte(w);
    static const uint64_t odd[] = { 0, 100, RM_PG + 1, WIN_PAGES * RM_PG };
    if (b < 200)
        return (1 + b % 8) * RM_PG;
    return b < 240 ? (1 + b % 24) * RM_PG : odd[b & 3];
}

/* A range: mostly pages of one mapping (maybe running on past its end),
 * else anywhere in the window, holes included. */
static void pick_range(struct world *w, struct rm_proc *p, uint64_t *addr,
                       uint64_t *len)
{
    unsigned b = byte(w);
    if (b < 140 && p->n > 1) {
        const struct rm_map *r = &p->maps[b % (p->n - 1)];
        uint64_t pages = (r->end - r->start) / RM_PG, c = byte(w);
        *addr = r->start + (c % pages) * RM_PG;
        *len = (1 + (c >> 4) % (pages - c % pages + (b & 1))) * RM_PG;
        return;
    }
    *addr = pick_addr(w);
    *len = pick_len(w);
}

/* A protection; now and then a maximum protection too (often too low). */
static int pick_prot(struct world *w)
{
    unsigned b = byte(w);
    int prot = (int)(b & 7);
    if ((b & 0xc0) == 0xc0)
        prot |= XVM_PROT_MPROTECT(((int)(b >> 3) & 7) | (b & 0x20 ? prot : 0));
    return prot;
}

/* An access: in the window (crossing pages), or at the top of the stack. */
static void pick_access(struct world *w, struct rm_proc *p, uint64_t *va,
                        size_t *n)
{
    unsigned b = byte(w), c = byte(w);
    if (b < 160 && p->n > 1) {
        /* Mostly where something is mapped, or nothing gets through. */
        const struct rm_map *r = &p->maps[b % (p->n - 1)];
        *va = r->start + ((uint64_t)c * 1031 * 61) % (r->end - r->start);
    } else if (b < 224) {
        *va = WIN_BASE + (b % WIN_PAGES) * RM_PG + (uint64_t)c * 61 % RM_PG;
    } else {
        *va = p->stack_top - 1 - (uint64_t)c * 23;
    }
    unsigned d = byte(w);
    *n = d < 160 ? 1 + d % 64
                 : 1 + (size_t)(d * 131u + c * 7u) % (MAX_ACCESS - 1);
    if (*va > p->stack_top - *n && *va < p->stack_top && b >= 224)
        *n = (size_t)(p->stack_top - *va);
}

/* ---- operations ------------------------------------------------------ */

struct mmap_args {
    struct rm_proc *p;
    uint64_t addr, len, off;
    int prot, flags, file;
};

static int model_mmap(struct world *w, void *arg)
{
    struct mmap_args *a = arg;
    return rm_mmap(&w->rm, a->p, &a->addr, a->len, a->prot, a->flags, a->file,
                   a->off);
}

static int do_mmap(struct world *w, struct mmap_args *a)
{
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, a->p->pid);
    uint64_t addr = a->addr;
    note(
        w,
        "mmap pid %u 0x%llx len 0x%llx prot 0x%x flags 0x%x file %d off 0x%llx",
        a->p->pid, (unsigned long long)a->addr, (unsigned long long)a->len,
        a->prot, a->flags, a->file, (unsigned long long)a->off);
    int lib = a->file < 0
                  ? xvm_mmap(vs, &addr, a->len, a->prot, a->flags, NULL, 0)
                  : xvm_mmap_file(vs, &addr, a->len, a->prot, a->flags,
                                  w->files[a->file], a->off);
    if (lib == 0 && !(a->flags & XVM_MAP_FIXED)) {
        a->addr = addr; /* the model checks the library's choice */
        size_t at = strlen(w->cur);
        snprintf(w->cur + at, sizeof(w->cur) - at, " -> 0x%llx",
                 (unsigned long long)addr);
    }
    return compare(w, OP_MMAP_ANON, lib, model_mmap, a) < 0 ? -1 : 0;
}

static int op_mmap_anon(struct world *w)
{
    struct mmap_args a = { .p = pick_proc(w), .file = -1 };
    unsigned b = byte(w);
    a.addr = pick_addr(w);
    a.len = pick_len(w);
    a.prot = pick_prot(w);
    a.flags = (b & 1 ? XVM_MAP_SHARED : XVM_MAP_PRIVATE) |
              (b & 6 ? XVM_MAP_FIXED : 0);
    return do_mmap(w, &a);
}

static int op_mmap_file(struct world *w)
{
    struct mmap_args a = { .p = pick_proc(w) };
    unsigned b = byte(w), c = byte(w);
    a.file = (int)(b % DIFF_NFILES);
    uint64_t size = w->di->files[a.file].size,
             pages = (size + RM_PG - 1) / RM_PG;
    a.addr = pick_addr(w);
    a.off = (c % pages) * RM_PG + (c == 255);
    a.len = b & 0x20
                ? size - (a.off < size ? a.off & ~(uint64_t)(RM_PG - 1) : 0)
                : (1 + (b >> 6)) * RM_PG;
    a.prot = pick_prot(w);
    a.flags = (b & 8 ? XVM_MAP_SHARED : XVM_MAP_PRIVATE) |
              (b & 0x10 ? 0 : XVM_MAP_FIXED);
    if ((b & 8) && (c & 3))
        a.prot &=
            ~XVM_PROT_WRITE; /* shared and writable: EACCES, now and then */
    return do_mmap(w, &a);
}

struct range_args {
    enum op op;
    struct rm_proc *p;
    uint64_t addr, len;
    int v;
};

static int model_range(struct world *w, void *arg)
{
    struct range_args *a = arg;
    switch (a->op) {
    case OP_MUNMAP: return rm_munmap(&w->rm, a->p, a->addr, a->len);
    case OP_MPROTECT: return rm_mprotect(&w->rm, a->p, a->addr, a->len, a->v);
    case OP_MINHERIT: return rm_minherit(&w->rm, a->p, a->addr, a->len, a->v);
    case OP_MADVISE: return rm_madvise(&w->rm, a->p, a->addr, a->len, a->v);
    case OP_MLOCK: return rm_mlock(&w->rm, a->p, a->addr, a->len);
    default: return rm_munlock(&w->rm, a->p, a->addr, a->len);
    }
}

static int lib_range(struct xvm_vmspace *vs, const struct range_args *a)
{
    switch (a->op) {
    case OP_MUNMAP: return xvm_munmap(vs, a->addr, a->len);
    case OP_MPROTECT: return xvm_mprotect(vs, a->addr, a->len, a->v);
    case OP_MINHERIT:
        return xvm_minherit(vs, a->addr, a->len, (enum xvm_inherit)a->v);
    case OP_MADVISE:
        return xvm_madvise(vs, a->addr, a->len, (enum xvm_advice)a->v);
    case OP_MLOCK: return xvm_mlock(vs, a->addr, a->len);
    default: return xvm_munlock(vs, a->addr, a->len);
    }
}

/* => whether the library refuses this mlock with EAGAIN: more than a
 *    third of RAM would be wired (uvmexp.wiredmax).  The model keeps no
 *    count of wired frames. */
static bool beyond_wiredmax(struct world *w, const struct range_args *a)
{
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, a->p->pid);
    const struct physmem *ph = &w->m->ph;
    uint64_t end;
    if (a->op != OP_MLOCK || a->len == 0 ||
        vmspace_check_range(vs, a->addr, a->len, &end) != 0)
        return false;
    return ((end - a->addr) >> w->m->core.pgshift) + ph->wired > ph->npages / 3;
}

static int op_range(struct world *w, enum op op)
{
    static const char *const names[] = {
        [OP_MUNMAP] = "munmap",     [OP_MPROTECT] = "mprotect",
        [OP_MINHERIT] = "minherit", [OP_MADVISE] = "madvise",
        [OP_MLOCK] = "mlock",       [OP_MUNLOCK] = "munlock",
    };
    struct range_args a = { .op = op, .p = pick_proc(w) };
    pick_range(w, a.p, &a.addr, &a.len);
    unsigned b = byte(w);
    a.v = op == OP_MPROTECT ? (int)(b & 7) : (int)(b % 3);
    if (b == 255)
        a.v = 9; /* out of range: EINVAL */
    note(w, "%s pid %u 0x%llx len 0x%llx v %d", names[op], a.p->pid,
         (unsigned long long)a.addr, (unsigned long long)a.len, a.v);
    if (beyond_wiredmax(w, &a)) {
        int lib = lib_range(xvm_proc_vmspace(w->m, a.p->pid), &a);
        /* Refused before any change: the layout checks prove it. */
        return lib == EAGAIN ? 0 : fail(w, "mlock: %d, not EAGAIN", lib);
    }
    int lib = lib_range(xvm_proc_vmspace(w->m, a.p->pid), &a);
    if (lib == ENOMEM && op == OP_MLOCK && enomem_ok(w, op)) {
        /* Partial wiring promoted pages the model must copy too. */
        sync_anons(w, a.p, a.addr,
                   a.addr + (a.len < 64 * RM_PG ? a.len : 64 * RM_PG));
    }
    return compare(w, op, lib, model_range, &a) < 0 ? -1 : 0;
}

struct access_args {
    enum op op;
    struct rm_proc *p;
    uint64_t va;
    size_t n;
};

static int model_access(struct world *w, void *arg)
{
    struct access_args *a = arg;
    if (a->op == OP_WRITE)
        return rm_write(&w->rm, a->p, a->va, w->data, a->n);
    return rm_access(&w->rm, a->p, a->va, w->mbuf, a->n,
                     a->op == OP_READ ? XVM_PROT_READ : XVM_PROT_EXEC);
}

/* Data for a write: every page piece starts with a byte that differs
 * from the current one, so a piece written shows it was written. */
static void write_data(struct world *w, struct rm_proc *p, uint64_t va,
                       size_t n)
{
    uint8_t page[RM_PG];
    fill(w->data, n, w->res->ops * 2654435761u + 7);
    for (size_t i = 0; i < n; i = (size_t)((va + i) | (RM_PG - 1)) - va + 1) {
        uint64_t at = va + i;
        if (rm_page(&w->rm, p, at & ~(uint64_t)(RM_PG - 1), page) &&
            page[at & (RM_PG - 1)] == w->data[i])
            w->data[i] ^= 0x5a;
    }
}

/*
 * A write the library stopped with ENOMEM: the pieces it wrote form a
 * prefix (each shows the new data); the model writes that prefix.  The
 * rest must still show the old bytes where resident (check_resident).
 */
static void write_prefix(struct world *w, struct rm_proc *p, uint64_t va,
                         size_t n)
{
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, p->pid);
    size_t done = 0;
    while (done < n) {
        uint64_t at = va + done, pva = at & ~(uint64_t)(RM_PG - 1);
        size_t chunk = RM_PG - (size_t)(at - pva);
        if (chunk > n - done)
            chunk = n - done;
        const uint8_t *lib = lib_page(vs, pva);
        if (lib == NULL || memcmp(lib + (at - pva), w->data + done, chunk) != 0)
            break;
        done += chunk;
    }
    if (done)
        rm_write(&w->rm, p, va, w->data, done);
    sync_anons(w, p, va, va + n);
}

static int op_access(struct world *w, enum op op)
{
    static const char *const names[] = { "read", "write", "fetch" };
    struct access_args a = { .op = op, .p = pick_proc(w) };
    pick_access(w, a.p, &a.va, &a.n);
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, a.p->pid);
    note(w, "%s pid %u 0x%llx n %zu", names[op - OP_READ], a.p->pid,
         (unsigned long long)a.va, a.n);
    int lib;
    if (op == OP_WRITE) {
        write_data(w, a.p, a.va, a.n);
        lib = xvm_write(vs, a.va, w->data, a.n);
    } else {
        lib = op == OP_READ ? xvm_read(vs, a.va, w->buf, a.n)
                            : xvm_fetch(vs, a.va, w->buf, a.n);
    }
    if (lib == ENOMEM && op == OP_WRITE && enomem_ok(w, op)) {
        write_prefix(w, a.p, a.va, a.n);
        w->res->enomem_accepted++;
        return 0;
    }
    int r = compare(w, op, lib, model_access, &a);
    if (r == 0 && lib == 0 && op != OP_WRITE &&
        memcmp(w->buf, w->mbuf, a.n) != 0) {
        size_t k = 0;
        while (w->buf[k] == w->mbuf[k])
            k++;
        return fail(w, "byte 0x%llx reads %02x, model %02x",
                    (unsigned long long)(a.va + k), w->buf[k], w->mbuf[k]);
    }
    return r < 0 ? -1 : 0;
}

/* Reads every readable page of the window through the library. */
static int op_verify(struct world *w)
{
    struct access_args a = { .op = OP_READ, .p = pick_proc(w), .n = RM_PG };
    uint32_t pid = a.p->pid;
    struct xvm_vmspace *vs = xvm_proc_vmspace(w->m, pid);
    for (unsigned i = 0; i < WIN_PAGES; i++) {
        a.p = rm_proc_find(&w->rm, pid); /* a rollback renews it */
        a.va = WIN_BASE + i * RM_PG;
        const struct rm_map *r = rm_lookup(a.p, a.va);
        if (r == NULL || !(r->prot & XVM_PROT_READ))
            continue;
        note(w, "verify pid %u 0x%llx", a.p->pid, (unsigned long long)a.va);
        int lib = xvm_read(vs, a.va, w->buf, RM_PG);
        int c = compare(w, OP_VERIFY, lib, model_access, &a);
        if (c < 0)
            return -1;
        if (c == 0 && memcmp(w->buf, w->mbuf, RM_PG) != 0)
            return fail(w, "page 0x%llx differs", (unsigned long long)a.va);
    }
    return 0;
}

struct proc_args {
    enum op op;
    uint32_t pid, pid2;
    int prog; /* -1: a path that is not a program */
    unsigned argc;
    const char *argv[3];
    uint64_t addr;
};

static int model_proc(struct world *w, void *arg)
{
    struct proc_args *a = arg;
    const struct rm_prog *prog = a->prog >= 0 ? &w->di->progs[a->prog] : NULL;
    switch (a->op) {
    case OP_FORK: return rm_fork(&w->rm, a->pid, a->pid2);
    case OP_EXIT: return rm_exit(&w->rm, a->pid);
    case OP_BRK: {
        struct rm_proc *p = rm_proc_find(&w->rm, a->pid);
        return p ? rm_brk(&w->rm, p, a->addr) : ESRCH;
    }
    default: break;
    }
    /* Paths that are no program fail before any change. */
    if (prog == NULL && a->op == OP_EXEC && !rm_proc_find(&w->rm, a->pid))
        return ESRCH;
    if (prog == NULL && a->op == OP_SPAWN && a->pid == 0)
        return EINVAL;
    if (prog == NULL && a->op == OP_SPAWN && rm_proc_find(&w->rm, a->pid))
        return EEXIST;
    if (prog == NULL)
        return a->prog == -1 ? ENOENT : a->prog == -2 ? ENOEXEC : EACCES;
    return a->op == OP_SPAWN ? rm_spawn(&w->rm, a->pid, prog, a->argc, a->argv)
                             : rm_exec(&w->rm, a->pid, prog, a->argc, a->argv);
}

static const char *prog_path(int prog)
{
    static const char *const bad[] = { "bin/none", "data/small", "bin" };
    return prog >= 0 ? file_paths[prog] : bad[-prog - 1];
}

static void pick_program(struct world *w, struct proc_args *a)
{
    static const char *const words[] = {
        "a", "-x", "hello", "/bin/b", "", "zz"
    };
    unsigned b = byte(w);
    a->prog = b < 230 ? (int)(b % DIFF_NPROGS) : -1 - (int)(b % 3);
    a->argc = 1 + b % 3;
    a->argv[0] = prog_path(a->prog);
    for (unsigned i = 1; i < a->argc; i++)
        a->argv[i] = words[(b / 3 + i) % 6];
}

static int op_proc(struct world *w, enum op op)
{
    static const char *const names[] = {
        [OP_FORK] = "fork",   [OP_EXIT] = "exit", [OP_EXEC] = "exec",
        [OP_SPAWN] = "spawn", [OP_BRK] = "brk",
    };
    struct proc_args a = { .op = op };
    unsigned b = byte(w);
    a.pid = w->rm.nprocs && b < 240 ? pick_proc(w)->pid : b % 8;
    if (op == OP_SPAWN)
        a.pid = b < 240 ? w->next_pid++ : b % 8;
    if (op == OP_FORK)
        a.pid2 = b < 240 ? w->next_pid++ : b % 8;
    if (op == OP_EXEC || op == OP_SPAWN)
        pick_program(w, &a);
    if (op == OP_BRK) {
        struct rm_proc *p = rm_proc_find(&w->rm, a.pid);
        unsigned c = byte(w);
        a.addr = (p ? p->brk_base : WIN_BASE) + (c % 12) * RM_PG +
                 (c & 0x10 ? 123 : 0) - (c >= 240 ? RM_PG : 0);
    }
    note(w, "%s %u %u %s 0x%llx", names[op], a.pid, a.pid2,
         op == OP_EXEC || op == OP_SPAWN ? prog_path(a.prog) : "",
         (unsigned long long)a.addr);
    int lib;
    switch (op) {
    case OP_FORK: lib = xvm_fork(w->m, a.pid, a.pid2); break;
    case OP_EXIT: lib = xvm_exit(w->m, a.pid); break;
    case OP_BRK: lib = xvm_brk(w->m, a.pid, a.addr); break;
    case OP_SPAWN:
        lib = xvm_spawn(w->m, w->mp, a.pid, prog_path(a.prog), a.argc, a.argv);
        break;
    default:
        lib = xvm_exec(w->m, a.pid, prog_path(a.prog), a.argc, a.argv);
        break;
    }
    return compare(w, op, lib, model_proc, &a) < 0 ? -1 : 0;
}

/* ---- page loans (§11.3) ---- */

struct loan_args {
    struct rm_proc *p;
    uint64_t va;
    size_t n;
    uint8_t *snap;
};

static int model_loan(struct world *w, void *arg)
{
    struct loan_args *a = arg;
    return rm_loan(&w->rm, a->p, a->va, a->snap, a->n);
}

/* Ends loan i: the I/O must send the bytes of the moment of the loan,
 * whatever was written, unmapped or exited since. */
static int end_loan(struct world *w, unsigned i)
{
    uint8_t *got = w->buf;
    size_t n = w->loans[i].n, k = 0;
    int error = xvm_loan_read(w->loans[i].ln, 0, got, n);
    while (error == 0 && k < n && got[k] == w->loans[i].snap[k])
        k++;
    uint8_t lent = k < n ? w->loans[i].snap[k] : 0;
    xvm_loan_end(w->loans[i].ln);
    w->loans[i] = w->loans[--w->nloans];
    if (error)
        return fail(w, "loan_read: %d", error);
    if (k < n)
        return fail(w, "the loan sends byte %zu as %02x, lent %02x", k, got[k],
                    lent);
    return 0;
}

static int op_loan(struct world *w)
{
    struct loan_args a = { .p = pick_proc(w) };
    pick_access(w, a.p, &a.va, &a.n);
    if (byte(w) == 255)
        a.n = 0; /* EINVAL */
    note(w, "loan pid %u 0x%llx n %zu", a.p->pid, (unsigned long long)a.va,
         a.n);
    xvm_loan *ln = NULL;
    int lib = xvm_loan_start(xvm_proc_vmspace(w->m, a.p->pid), a.va, a.n, &ln);
    if (w->nloans == MAX_LOANS && lib == 0 && end_loan(w, 0) != 0)
        return -1; /* room for this one: the oldest ends */
    /* A refused loan needs no slot; the model's snapshot goes aside. */
    uint8_t aside[MAX_ACCESS];
    a.snap = w->nloans < MAX_LOANS ? w->loans[w->nloans].snap : aside;
    int c = compare(w, OP_LOAN, lib, model_loan, &a);
    if (c < 0)
        return -1;
    if (c == 0 && lib == 0) {
        w->loans[w->nloans].ln = ln;
        w->loans[w->nloans++].n = a.n;
    }
    return 0;
}

static int op_unloan(struct world *w)
{
    unsigned b = byte(w);
    note(w, "unloan %u of %u", w->nloans ? b % w->nloans : 0, w->nloans);
    return w->nloans ? end_loan(w, b % w->nloans) : 0;
}

/* Arms a failure of one of the next few occurrences of a site whose
 * failure is ENOMEM (host or frame allocation, page table, PV entry,
 * amap, anon, copy-on-write). */
static int op_inject(struct world *w)
{
    unsigned b = byte(w);
    enum xvm_inject_site site = (enum xvm_inject_site)(b % ENOMEM_SITES);
    unsigned n = 1 + (b / ENOMEM_SITES) % 12;
    note(w, "inject %s +%u", xvm_inject_site_name(site), n);
    if (!w->cfg.inject)
        return 0;
    return xvm_inject(w->m, site, n);
}

static int dispatch(struct world *w, enum op op)
{
    switch (op) {
    case OP_MMAP_ANON: return op_mmap_anon(w);
    case OP_MMAP_FILE: return op_mmap_file(w);
    case OP_READ:
    case OP_WRITE:
    case OP_FETCH: return op_access(w, op);
    case OP_FORK:
    case OP_EXIT:
    case OP_EXEC:
    case OP_SPAWN:
    case OP_BRK: return op_proc(w, op);
    case OP_INJECT: return op_inject(w);
    case OP_VERIFY: return op_verify(w);
    case OP_LOAN: return op_loan(w);
    case OP_UNLOAN: return op_unloan(w);
    default: return op_range(w, op);
    }
}

/* Disarms an injected failure once it fired. */
static void disarm_fired(struct xvm_machine *m)
{
    for (int s = 0; s < ENOMEM_SITES; s++)
        if (m->core.fail_at[s] && m->core.occurred[s] >= m->core.fail_at[s])
            m->core.fail_at[s] = 0;
}

/*
 * Processes the library killed for lack of memory leave the model too.
 * Only a full RAM kills, so only a tiny RAM may; a kill names a process
 * of the model, or one a spawn or fork was making (which the model never
 * made: that ENOMEM was accepted).
 */
static int reap_kills(struct world *w)
{
    uint32_t pid;
    while (xvm_oom_next(w->m, &pid) == 0) {
        if (!w->tiny)
            return fail(w, "pid %u killed for lack of memory in a large RAM",
                        pid);
        for (size_t i = 0; i < w->rm.nprocs; i++)
            if (w->rm.procs[i]->pid == pid) {
                if (rm_exit(&w->rm, pid) != 0)
                    return fail(w, "model: exit of killed pid %u", pid);
                break;
            }
        w->res->oom_kills++;
    }
    return 0;
}

/* One step: decode, run on both, compare, check. */
static int step(struct world *w)
{
    enum op op = (enum op)op_table[byte(w) % sizeof(op_table)];
    if (w->rm.nprocs == 0 ||
        (w->rm.nprocs >= MAX_PROCS && (op == OP_FORK || op == OP_SPAWN)))
        op = w->rm.nprocs ? OP_EXIT : OP_SPAWN;
    int error = dispatch(w, op);
    disarm_fired(w->m);
    if (error == 0)
        error = reap_kills(w);
    snprintf(w->log[w->nlog++ % LOG_LINES], sizeof(w->log[0]), "%s", w->cur);
    if (error)
        return -1;
    return check_all(w, w->res->ops % VERIFY_EVERY == 0, !w->cfg.full_check);
}

/* Every process exits; then no anonymous memory or page table is left,
 * and the whole machine checks out. */
static int finish(struct world *w)
{
    note(w, "finish");
    w->m->core.fail_at[INJECT_ALLOC] = w->m->core.fail_at[INJECT_FRAME] = 0;
    if (check_all(w, true, !w->cfg.full_check))
        return -1;
    while (w->rm.nprocs > 0) {
        uint32_t pid = w->rm.procs[0]->pid;
        if (xvm_exit(w->m, pid) != 0 || rm_exit(&w->rm, pid) != 0)
            return fail(w, "exit %u", pid);
    }
    if (check_all(w, false, false))
        return -1;
    /* Loans outlive their processes; they send what was lent. */
    while (w->nloans > 0)
        if (end_loan(w, w->nloans - 1) != 0)
            return -1;
    if (check_all(w, false, false))
        return -1;
    struct xvm_stats st;
    xvm_machine_stats(w->m, &st);
    w->res->loans = (unsigned)st.loans;
    w->res->loan_breaks = (unsigned)st.loan_breaks;
    if (st.pages[XVM_USE_ANON] || st.pages[XVM_USE_AOBJ] ||
        st.pages[XVM_USE_PAGETABLE] || st.pages[XVM_USE_LOAN])
        return fail(w,
                    "leak after exit: %llu anon, %llu aobj, %llu page-table, "
                    "%llu loan frames",
                    (unsigned long long)st.pages[XVM_USE_ANON],
                    (unsigned long long)st.pages[XVM_USE_AOBJ],
                    (unsigned long long)st.pages[XVM_USE_PAGETABLE],
                    (unsigned long long)st.pages[XVM_USE_LOAN]);
    return 0;
}

int diff_run(const struct diff_image *di, const struct diff_config *cfg,
             struct diff_src *src, struct diff_result *res)
{
    struct world *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    memset(res, 0, sizeof(*res));
    w->di = di;
    w->cfg = *cfg;
    w->src = src;
    w->res = res;
    int error = world_up(w);
    while (error == 0 && res->ops < cfg->max_ops && src_more(src)) {
        error = step(w);
        res->ops++;
    }
    if (error == 0)
        error = finish(w);
    world_down(w);
    free(w);
    return error;
}
