/* elf.c - validating parser for loadable ELF32/ELF64 images (headers only). */
#include "elf.h"

#include <errno.h>
#include <string.h>

/* e_ident indices and values (System V ABI, "ELF Identification") */
#define EI_CLASS    4
#define EI_DATA     5
#define EI_VERSION  6
#define EI_NIDENT   16
#define ELFCLASS32  1
#define ELFCLASS64  2
#define ELFDATA2LSB 1
#define ELFDATA2MSB 2
#define EV_CURRENT  1

#define ET_EXEC 2
#define ET_DYN  3

#define PT_LOAD    1
#define PT_DYNAMIC 2
#define PT_INTERP  3
#define PT_PHDR    6

#define DT_NULL    0
#define DT_TEXTREL 22
#define DT_FLAGS   30
#define DF_TEXTREL 0x4

#define PF_X 1
#define PF_W 2
#define PF_R 4

/* extended program header numbering marker (real count lives in section 0) */
#define PN_XNUM 0xffffu

/* Byte offsets and sizes of the fields we read, per ELF class. */
struct elf_layout {
    size_t ehsize;
    size_t word; /* size of an address/offset field */
    size_t e_type, e_machine, e_version, e_entry, e_phoff;
    size_t e_phentsize, e_phnum;
    size_t phentsize;
    size_t p_type, p_flags, p_offset, p_vaddr, p_filesz, p_memsz, p_align;
};

static const struct elf_layout layout32 = {
    .ehsize = 52,
    .word = 4,
    .e_type = 16,
    .e_machine = 18,
    .e_version = 20,
    .e_entry = 24,
    .e_phoff = 28,
    .e_phentsize = 42,
    .e_phnum = 44,
    .phentsize = 32,
    .p_type = 0,
    .p_offset = 4,
    .p_vaddr = 8,
    .p_filesz = 16,
    .p_memsz = 20,
    .p_flags = 24,
    .p_align = 28,
};

static const struct elf_layout layout64 = {
    .ehsize = 64,
    .word = 8,
    .e_type = 16,
    .e_machine = 18,
    .e_version = 20,
    .e_entry = 24,
    .e_phoff = 32,
    .e_phentsize = 54,
    .e_phnum = 56,
    .phentsize = 56,
    .p_type = 0,
    .p_flags = 4,
    .p_offset = 8,
    .p_vaddr = 16,
    .p_filesz = 32,
    .p_memsz = 40,
    .p_align = 48,
};

/* A bounds-checked view of one header (ehdr or a phdr) in the file. */
struct view {
    const uint8_t *p;
    int be;
};

/* => v.p has at least off+size readable bytes (callers check table bounds). */
static uint64_t rd(struct view v, size_t off, size_t size)
{
    uint64_t x = 0;
    for (size_t i = 0; i < size; i++) {
        size_t k = v.be ? i : size - 1 - i;
        x = (x << 8) | v.p[off + k];
    }
    return x;
}

static int is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static int prot_of_flags(uint64_t pflags)
{
    int prot = 0;
    if (pflags & PF_R)
        prot |= ELF_PROT_READ;
    if (pflags & PF_W)
        prot |= ELF_PROT_WRITE;
    if (pflags & PF_X)
        prot |= ELF_PROT_EXEC;
    return prot;
}

/*
 * => buf holds at least EI_NIDENT bytes.
 * => picks the layout and byte order, or returns ENOEXEC.
 */
static int check_ident(const uint8_t *buf, const struct elf_layout **lay,
                       struct elf_image *out)
{
    /* not an ELF file at all */
    if (buf[0] != 0x7f || buf[1] != 'E' || buf[2] != 'L' || buf[3] != 'F')
        return ENOEXEC;
    /* only the two defined classes */
    if (buf[EI_CLASS] == ELFCLASS32)
        *lay = &layout32;
    else if (buf[EI_CLASS] == ELFCLASS64)
        *lay = &layout64;
    else
        return ENOEXEC;
    /* only the two defined data encodings */
    if (buf[EI_DATA] != ELFDATA2LSB && buf[EI_DATA] != ELFDATA2MSB)
        return ENOEXEC;
    /* only version 1 has ever existed; anything else is unknown format */
    if (buf[EI_VERSION] != EV_CURRENT)
        return ENOEXEC;
    out->is64 = *lay == &layout64;
    out->big_endian = buf[EI_DATA] == ELFDATA2MSB;
    return 0;
}

/* => returns 0 with *phoff set to the phdr table offset, or ENOEXEC. */
static int check_ehdr(struct view eh, size_t len, const struct elf_layout *l,
                      struct elf_image *out, uint64_t *phoff)
{
    uint64_t type = rd(eh, l->e_type, 2);

    /* relocatables, core files etc. cannot be loaded */
    if (type != ET_EXEC && type != ET_DYN)
        return ENOEXEC;
    /* e_version must agree with e_ident */
    if (rd(eh, l->e_version, 4) != EV_CURRENT)
        return ENOEXEC;
    out->is_dyn = type == ET_DYN;
    out->machine = (uint16_t)rd(eh, l->e_machine, 2);
    out->entry = rd(eh, l->e_entry, l->word);
    out->phentsize = (uint16_t)rd(eh, l->e_phentsize, 2);
    out->phnum = (uint16_t)rd(eh, l->e_phnum, 2);
    *phoff = out->phoff = rd(eh, l->e_phoff, l->word);

    /* we index the table with our own struct size: it must match */
    if (out->phentsize != l->phentsize)
        return ENOEXEC;
    /* no table means no PT_LOAD; extended numbering is not supported */
    if (out->phnum == 0 || out->phnum == PN_XNUM)
        return ENOEXEC;
    /* table must lie inside the file (phnum*phentsize < 2^22: no overflow) */
    if (*phoff > len || (uint64_t)out->phnum * l->phentsize > len - *phoff)
        return ENOEXEC;
    return 0;
}

/* => fills *seg from a PT_LOAD phdr and validates it on its own. */
static int check_load(struct view ph, const struct elf_layout *l, uint64_t len,
                      struct elf_load *seg)
{
    seg->offset = rd(ph, l->p_offset, l->word);
    seg->vaddr = rd(ph, l->p_vaddr, l->word);
    seg->filesz = rd(ph, l->p_filesz, l->word);
    seg->memsz = rd(ph, l->p_memsz, l->word);
    seg->align = rd(ph, l->p_align, l->word);
    seg->prot = prot_of_flags(rd(ph, l->p_flags, 4));

    /* file bytes beyond memsz would have nowhere to go */
    if (seg->filesz > seg->memsz)
        return ENOEXEC;
    /* file-backed part must be inside the file (subtraction cannot wrap) */
    if (seg->offset > len || seg->filesz > len - seg->offset)
        return ENOEXEC;
    /* the segment end must be representable */
    if (seg->memsz > UINT64_MAX - seg->vaddr)
        return ENOEXEC;
    /* an ELF32 segment must end inside the 32-bit address space */
    if (l == &layout32 && seg->vaddr + seg->memsz > UINT32_MAX)
        return ENOEXEC;
    /* file and memory must be congruent modulo the alignment to be mapped */
    if (seg->align > 1 && is_pow2(seg->align) &&
        ((seg->vaddr - seg->offset) & (seg->align - 1)) != 0)
        return ENOEXEC;
    return 0;
}

/* => seg is the candidate next PT_LOAD; out->load[0..nload) are accepted. */
static int check_order(const struct elf_image *out, const struct elf_load *seg)
{
    const struct elf_load *prev;

    if (out->nload == 0)
        return 0;
    prev = &out->load[out->nload - 1];
    /* the spec requires ascending vaddr; overlap would be ambiguous */
    if (seg->vaddr < prev->vaddr + prev->memsz)
        return ENOEXEC;
    return 0;
}

static int walk_phdrs(const uint8_t *buf, uint64_t fsize, uint64_t phoff,
                      const struct elf_layout *l, struct elf_image *out)
{
    for (unsigned i = 0; i < out->phnum; i++) {
        struct view ph = { buf + phoff + (size_t)i * l->phentsize,
                           out->big_endian };
        uint64_t type = rd(ph, l->p_type, 4);
        struct elf_load *seg;
        int err;

        if (type == PT_PHDR) {
            out->phdr_vaddr = rd(ph, l->p_vaddr, l->word);
        } else if (type == PT_INTERP || type == PT_DYNAMIC) {
            uint64_t off = rd(ph, l->p_offset, l->word);
            uint64_t n = rd(ph, l->p_filesz, l->word);
            /* its bytes must be in the file */
            if (off > fsize || n > fsize - off)
                return ENOEXEC;
            if (type == PT_INTERP && !out->has_interp) {
                /* the first, as both kernels take it */
                out->has_interp = 1;
                out->interp_off = off;
                out->interp_len = n;
            } else if (type == PT_DYNAMIC) {
                out->dyn_off = off;
                out->dyn_len = n;
            }
        }
        if (type != PT_LOAD)
            continue;
        /* more segments than the fixed table can hold */
        if (out->nload >= ELF_MAX_LOAD)
            return ENOEXEC;
        seg = &out->load[out->nload];
        err = check_load(ph, l, fsize, seg);
        if (err == 0)
            err = check_order(out, seg);
        if (err)
            return err;
        out->nload++;
    }
    return 0;
}

/* => true when entry lies in some executable PT_LOAD. */
static int entry_ok(const struct elf_image *out)
{
    for (unsigned i = 0; i < out->nload; i++) {
        const struct elf_load *s = &out->load[i];
        if ((s->prot & ELF_PROT_EXEC) && out->entry >= s->vaddr &&
            out->entry - s->vaddr < s->memsz)
            return 1;
    }
    return 0;
}

uint64_t elf_bss_partial_page(const struct elf_load *l, uint64_t pgsz)
{
    uint64_t in_page = (l->vaddr + l->filesz) & (pgsz - 1);

    if (l->memsz <= l->filesz || l->filesz == 0 || in_page == 0 ||
        !(l->prot & ELF_PROT_WRITE))
        return 0;
    /* to the page's end, past memsz too: ld.so's first mallocs take the
     * rest of its bss page as zeroed memory, as both kernels leave it */
    return pgsz - in_page;
}

int elf_parse(const uint8_t *buf, size_t len, struct elf_image *out)
{
    return elf_parse_headers(buf, len, len, out);
}

int elf_parse_headers(const uint8_t *buf, size_t len, uint64_t fsize,
                      struct elf_image *out)
{
    const struct elf_layout *l = NULL;
    uint64_t phoff = 0;
    int err;

    memset(out, 0, sizeof(*out));
    /* headers beyond the file's end */
    if (len > fsize)
        return ENOEXEC;
    /* too short to even hold e_ident */
    if (buf == NULL || len < EI_NIDENT)
        return ENOEXEC;
    err = check_ident(buf, &l, out);
    if (err)
        return err;
    /* too short for the class's ELF header */
    if (len < l->ehsize)
        return ENOEXEC;
    err =
        check_ehdr((struct view){ buf, out->big_endian }, len, l, out, &phoff);
    if (err == 0)
        err = walk_phdrs(buf, fsize, phoff, l, out);
    if (err)
        return err;
    /* nothing to map */
    if (out->nload == 0)
        return ENOEXEC;
    /* execution would start outside executable memory */
    if (!entry_ok(out))
        return ENOEXEC;
    out->lo = out->load[0].vaddr;
    out->hi = out->load[out->nload - 1].vaddr + out->load[out->nload - 1].memsz;
    return 0;
}

uint64_t elf_load_bias(const struct elf_image *im, uint64_t base, uint64_t pgsz)
{
    return im->is_dyn ? base - (im->lo & ~(pgsz - 1)) : 0;
}

uint64_t elf_interp_bias(const struct elf_image *prog, uint64_t prog_bias,
                         const struct elf_image *interp, uint64_t pgsz)
{
    uint64_t base = ELF_INTERP_BASE, end = prog->hi + prog_bias;
    const uint64_t mib = UINT64_C(1) << 20;

    if (!interp->is_dyn)
        return 0;
    if (end > base)
        base = (end + mib - 1) & ~(mib - 1);
    return elf_load_bias(interp, base, pgsz);
}

int elf_check_interp(const char *s, size_t n)
{
    /* "/x" and its NUL at least; the NUL last and only there */
    if (s == NULL || n < 2 || n > ELF_INTERP_MAX || s[n - 1] != '\0' ||
        memchr(s, '\0', n - 1) != NULL)
        return ENOEXEC;
    return 0;
}

uint64_t elf_phdr_addr(const struct elf_image *im)
{
    uint64_t size = (uint64_t)im->phnum * im->phentsize;

    if (im->phdr_vaddr != 0)
        return im->phdr_vaddr;
    for (unsigned i = 0; i < im->nload; i++) {
        const struct elf_load *s = &im->load[i];
        if (im->phoff >= s->offset && im->phoff - s->offset <= s->filesz &&
            size <= s->filesz - (im->phoff - s->offset))
            return s->vaddr + (im->phoff - s->offset);
    }
    return 0;
}

int elf_has_textrel(const struct elf_image *im, const uint8_t *dyn, size_t len)
{
    const struct elf_layout *l = im->is64 ? &layout64 : &layout32;
    size_t ent = 2 * l->word;

    for (size_t at = 0; at + ent <= len; at += ent) {
        struct view v = { dyn + at, im->big_endian };
        uint64_t tag = rd(v, 0, l->word), val = rd(v, l->word, l->word);
        if (tag == DT_NULL)
            break;
        if (tag == DT_TEXTREL || (tag == DT_FLAGS && (val & DF_TEXTREL)))
            return 1;
    }
    return 0;
}
