/*
 * exec: loads an ELF program from a mount into a new address space, as
 * NetBSD's exec_elf does: each PT_LOAD maps the file private (text
 * read-only and executable in place, data copy-on-write), the part of
 * the last file page past p_filesz is zeroed (a copy-on-write of that
 * page) and the rest of p_memsz is anonymous zero-fill; the break starts
 * after the last segment.  A program with PT_INTERP has its interpreter
 * (the dynamic linker) opened on the same mount and mapped too, an
 * ET_DYN one at its own base (elf_interp_bias), and execution starts in
 * the interpreter.  The stack holds argc, argv, an empty environment and
 * the auxiliary vector (AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE,
 * AT_FLAGS, AT_ENTRY), in the program's word size and byte order.
 */
#include <errno.h>
#include <string.h>

#include "elf.h"
#include "proc.h"
#include "vmspace.h"

#define HEADER_READ 4096u       /* the first page, as vn_rdwr does */
#define HEADER_MAX  (64u << 10) /* program headers further in */
#define STACK_SIZE  (UINT64_C(8) << 20)
#define MAX_ARGS    1024 /* argv[0] and a trace line's 256 arguments fit */
#define ARG_MAX     (256u << 10) /* NetBSD's: the strings, NULs included */

/* The auxiliary vector's types (System V ABI; NetBSD's sys/exec_elf.h). */
enum {
    AT_NULL = 0,
    AT_PHDR = 3,
    AT_PHENT = 4,
    AT_PHNUM = 5,
    AT_PAGESZ = 6,
    AT_BASE = 7,
    AT_FLAGS = 8,
    AT_ENTRY = 9,
};
#define NAUX 8 /* pairs, AT_NULL included */

/* What exec loaded: the program and its interpreter (file NULL if none). */
struct loaded {
    struct elf_image prog, interp;
    struct xvm_file *ifile;
    uint64_t bias, ibias;
};

static int read_headers(struct xvm_file *f, struct elf_image *img)
{
    uint8_t buf[HEADER_MAX];
    uint64_t size = xvm_file_size(f);
    size_t want = size < HEADER_READ ? (size_t)size : HEADER_READ, got;
    int error = xvm_pread(f, 0, buf, want, &got);
    if (error)
        return error;
    error = elf_parse_headers(buf, got, size, img);
    if (error && size > got) {
        want = size < HEADER_MAX ? (size_t)size : HEADER_MAX;
        if ((error = xvm_pread(f, 0, buf, want, &got)) != 0)
            return error;
        error = elf_parse_headers(buf, got, size, img);
    }
    return error;
}

/* Maps one PT_LOAD at bias (image_fits said it can be). */
static int map_segment(struct xvm_vmspace *vs, struct xvm_file *f,
                       const struct elf_load *s, uint64_t bias)
{
    const struct core *c = vs->vm->core;
    uint64_t va = s->vaddr + bias, start = pg_trunc(c, va);
    uint64_t fend = va + s->filesz, mend = va + s->memsz;
    int prot = s->prot & XVM_PROT_ALL, error;

    if (s->filesz > 0) {
        uint64_t at = start;
        error = xvm_mmap_file(vs, &at, pg_round(c, fend) - start, prot,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, f,
                              pg_trunc(c, s->offset));
        if (error)
            return error == EINVAL ? ENOEXEC : error;
    }
    uint64_t zstart = s->filesz ? pg_round(c, fend) : start;
    if (pg_round(c, mend) > zstart) {
        uint64_t at = zstart;
        if ((error = xvm_mmap(vs, &at, pg_round(c, mend) - zstart, prot,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0)) != 0)
            return error;
    }
    /* bss begins inside the last file page: those bytes must read zero. */
    uint64_t n = elf_bss_partial_page(s, c->pgsz);
    if (n > 0) {
        static const uint8_t zero[4096];
        for (uint64_t done = 0; done < n;) {
            size_t chunk =
                n - done < sizeof(zero) ? (size_t)(n - done) : sizeof(zero);
            if ((error = xvm_write(vs, fend + done, zero, chunk)) != 0)
                return error;
            done += chunk;
        }
    }
    return 0;
}

static void put_word(uint8_t *p, uint64_t v, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++)
        p[big ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

/* The auxiliary vector of what was loaded, as (type, value) pairs. */
static void auxv(const struct core *c, const struct loaded *ld,
                 uint64_t aux[NAUX][2])
{
    const struct elf_image *p = &ld->prog;
    uint64_t v[NAUX][2] = {
        { AT_PHDR, elf_phdr_addr(p) + ld->bias },
        { AT_PHENT, p->phentsize },
        { AT_PHNUM, p->phnum },
        { AT_PAGESZ, c->pgsz },
        { AT_BASE, ld->ifile ? pg_trunc(c, ld->interp.lo) + ld->ibias : 0 },
        { AT_FLAGS, 0 },
        { AT_ENTRY, p->entry + ld->bias },
        { AT_NULL, 0 },
    };
    memcpy(aux, v, sizeof(v));
}

/*
 * The initial stack, top down: argument strings, then (16-byte aligned)
 * argc, argv[0..argc-1], NULL, envp NULL, the auxiliary vector.
 */
static int build_stack(struct xvm_vmspace *vs, const struct loaded *ld,
                       unsigned argc, const char *const *argv,
                       struct xvm_proc_info *info)
{
    const struct core *c = vs->vm->core;
    const struct elf_image *img = &ld->prog;
    unsigned w = img->is64 ? 8 : 4;
    uint64_t aux[NAUX][2];
    uint64_t top = pg_trunc(c, c->prof->va_max), base = top - STACK_SIZE;
    uint64_t sp = top, ptrs[MAX_ARGS];
    int error;

    uint64_t at = base;
    if ((error = xvm_mmap(vs, &at, STACK_SIZE, XVM_PROT_READ | XVM_PROT_WRITE,
                          XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0)) != 0)
        return error;
    for (unsigned i = argc; i-- > 0;) {
        size_t n = strlen(argv[i]) + 1;
        sp -= n;
        if ((error = xvm_write(vs, sp, argv[i], n)) != 0)
            return error;
        ptrs[i] = sp;
    }
    uint64_t nwords = 1 + argc + 1 + 1 + 2 * NAUX;
    sp = (sp - nwords * w) & ~UINT64_C(15);
    uint8_t frame[(1 + MAX_ARGS + 2 + 2 * NAUX) * 8];
    size_t k = 0;
    put_word(frame + k, argc, w, img->big_endian), k += w;
    for (unsigned i = 0; i < argc; i++)
        put_word(frame + k, ptrs[i], w, img->big_endian), k += w;
    memset(frame + k, 0, 2 * w); /* argv NULL, envp NULL */
    k += 2 * w;
    auxv(c, ld, aux);
    for (unsigned i = 0; i < NAUX; i++) {
        put_word(frame + k, aux[i][0], w, img->big_endian), k += w;
        put_word(frame + k, aux[i][1], w, img->big_endian), k += w;
    }
    if ((error = xvm_write(vs, sp, frame, k)) != 0)
        return error;
    info->stack_top = top;
    info->stack_pointer = sp;
    return 0;
}

/* Maps every PT_LOAD of img from f at bias. */
static int map_image(struct xvm_vmspace *vs, struct xvm_file *f,
                     const struct elf_image *img, uint64_t bias)
{
    int error;
    for (unsigned i = 0; i < img->nload; i++)
        if ((error = map_segment(vs, f, &img->load[i], bias)) != 0)
            return error;
    return 0;
}

/* => the image's pages [*lo, *hi) once loaded at bias. */
static void image_span(const struct core *c, const struct elf_image *img,
                       uint64_t bias, uint64_t *lo, uint64_t *hi)
{
    *lo = pg_trunc(c, img->lo) + bias;
    *hi = pg_round(c, img->hi + bias);
}

/*
 * => 0 when img's pages at bias lie in the user space and each segment's
 *    file and memory pages line up, ENOEXEC when not (an ET_DYN whose
 *    span, moved to its base, would run past the space's end or wrap
 *    around to address 0).
 */
static int image_fits(const struct core *c, const struct elf_image *img,
                      uint64_t bias)
{
    uint64_t lo = pg_trunc(c, img->lo), va_max = c->prof->va_max;

    if (lo + bias > va_max || img->hi - lo > va_max - (lo + bias))
        return ENOEXEC;
    for (unsigned i = 0; i < img->nload; i++)
        if ((img->load[i].vaddr + bias - img->load[i].offset) & (c->pgsz - 1))
            return ENOEXEC;
    return 0;
}

/* => 0 when exec can put argv on the stack: E2BIG past MAX_ARGS strings
 *    or ARG_MAX bytes, EINVAL for a NULL string. */
static int check_args(unsigned argc, const char *const *argv)
{
    uint64_t bytes = 0;

    if (argc > MAX_ARGS)
        return E2BIG;
    for (unsigned i = 0; i < argc; i++) {
        if (argv[i] == NULL)
            return EINVAL; /* bad input must not crash: no string to copy */
        if ((bytes += strlen(argv[i]) + 1) > ARG_MAX)
            return E2BIG;
    }
    return 0;
}

/*
 * The interpreter named by PT_INTERP, from the same mount: a missing one
 * is ENOENT, one that is not a loadable ELF ENOEXEC.  Its own
 * PT_INTERP, if any, is not followed, as in NetBSD's and Linux's exec.
 * => ld->ifile open and ld->interp parsed.
 */
static int open_interp(struct xvm_mount *mp, struct xvm_file *f,
                       struct loaded *ld)
{
    char path[ELF_INTERP_MAX];
    size_t got;
    uint64_t n = ld->prog.interp_len;
    int error;

    if (n > sizeof(path))
        return ENOEXEC;
    if ((error = xvm_pread(f, ld->prog.interp_off, path, (size_t)n, &got)) != 0)
        return error;
    if (got != n || elf_check_interp(path, (size_t)n) != 0)
        return ENOEXEC;
    if ((error = xvm_open(mp, path, XVM_O_RDONLY, &ld->ifile)) != 0)
        return error == EISDIR ? EACCES : error;
    if ((error = read_headers(ld->ifile, &ld->interp)) != 0) {
        xvm_close(ld->ifile);
        ld->ifile = NULL;
    }
    return error;
}

/*
 * Everything that can refuse the program is asked before anything is
 * mapped, as NetBSD runs its vmcmds only once the exec cannot fail: a
 * refused exec leaves no fault, copy or mapping in the figures.
 */
static int load(struct xvm_vmspace *vs, struct xvm_file *f, struct loaded *ld,
                unsigned argc, const char *const *argv,
                struct xvm_proc_info *info)
{
    const struct core *c = vs->vm->core;
    const struct elf_image *img = &ld->prog;
    uint64_t plo, phi, ilo = 0, ihi;
    int error;

    ld->bias = elf_load_bias(img, ELF_DYN_BASE, c->pgsz);
    if ((error = image_fits(c, img, ld->bias)) != 0)
        return error;
    image_span(c, img, ld->bias, &plo, &phi);
    if (ld->ifile) {
        ld->ibias = elf_interp_bias(img, ld->bias, &ld->interp, c->pgsz);
        if ((error = image_fits(c, &ld->interp, ld->ibias)) != 0)
            return error;
        image_span(c, &ld->interp, ld->ibias, &ilo, &ihi);
        if (ilo < phi && plo < ihi)
            return ENOEXEC; /* an ET_EXEC interpreter on the program */
    }
    if (phi + STACK_SIZE > pg_trunc(c, c->prof->va_max) - STACK_SIZE)
        return ENOEXEC; /* no room for heap and stack */
    if ((error = check_args(argc, argv)) != 0 ||
        (error = map_image(vs, f, img, ld->bias)) != 0 ||
        (ld->ifile &&
         (error = map_image(vs, ld->ifile, &ld->interp, ld->ibias)) != 0))
        return error;
    memset(info, 0, sizeof(*info));
    info->load_base = img->is_dyn ? ELF_DYN_BASE : 0;
    info->program_entry = info->entry = img->entry + ld->bias;
    info->brk_base = info->brk = phi;
    if (ld->ifile) {
        info->interp_base = ilo;
        info->entry = ld->interp.entry + ld->ibias;
    }
    return build_stack(vs, ld, argc, argv, info);
}

int exec_image(struct vm *vm, struct xvm_mount *mp, const char *path,
               unsigned argc, const char *const *argv,
               struct xvm_vmspace **vs_out, struct xvm_file **text,
               struct xvm_proc_info *info)
{
    struct xvm_file *f;
    struct xvm_vmspace *vs;
    struct loaded ld = { .ifile = NULL };
    const char *def[1] = { path };
    if (argc == 0 || argv == NULL)
        argc = 1, argv = def;
    int error = xvm_open(mp, path, XVM_O_RDONLY, &f);
    if (error) /* not a regular file: EACCES, as execve(2) */
        return error == EISDIR ? EACCES : error;
    if ((error = read_headers(f, &ld.prog)) == 0 && ld.prog.has_interp)
        error = open_interp(mp, f, &ld);
    if (error == 0 && (error = vmspace_create(vm, &vs)) == 0) {
        error = load(vs, f, &ld, argc, argv, info);
        if (error == 0) {
            *vs_out = vs;
        } else {
            vmspace_uncount_files(vs);
            vmspace_destroy(vs);
        }
    }
    /* The interpreter's mappings hold its vnode: the file can go. */
    xvm_close(ld.ifile);
    if (error == 0) {
        *text = f;
        return 0;
    }
    xvm_close(f);
    return error;
}
