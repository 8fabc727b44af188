/* elf.h - validating parser for loadable ELF32/ELF64 images (headers only). */
#ifndef XVM_ELF_H
#define XVM_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_LOAD 16

/* Where exec places an ET_DYN image on every profile (its vaddr 0). */
#define ELF_DYN_BASE UINT64_C(0x01000000)

/*
 * Where exec places an ET_DYN interpreter (PT_INTERP, the dynamic linker)
 * on every profile: its own base, apart from the program and its heap,
 * inside the 32-bit space (elf_interp_base() moves it above a program
 * that reaches it).
 */
#define ELF_INTERP_BASE UINT64_C(0x20000000)

/* Longest PT_INTERP path accepted, NUL included (MAXPATHLEN). */
#define ELF_INTERP_MAX 1024

/* prot bits, as mapped from the segment's PF_R/PF_W/PF_X */
#define ELF_PROT_READ  1
#define ELF_PROT_WRITE 2
#define ELF_PROT_EXEC  4

struct elf_load {
    uint64_t vaddr, memsz, offset, filesz, align;
    int prot; /* bit0 read, bit1 write, bit2 exec */
};

struct elf_image {
    int is64, big_endian, is_dyn; /* ET_DYN (static-pie) vs ET_EXEC */
    uint16_t machine;
    uint64_t entry;      /* e_entry as in the file (not relocated) */
    uint64_t phdr_vaddr; /* PT_PHDR vaddr or 0 */
    uint64_t phoff;      /* e_phoff */
    uint16_t phnum, phentsize;
    int has_interp;                  /* PT_INTERP present */
    uint64_t interp_off, interp_len; /* its p_offset, p_filesz */
    uint64_t dyn_off, dyn_len;       /* PT_DYNAMIC's bytes in the file */
    unsigned nload;
    struct elf_load load[ELF_MAX_LOAD];
    uint64_t lo,
        hi; /* page-unaligned min vaddr / max vaddr+memsz over PT_LOAD */
};

/*
 * Parse and validate the ELF header and program headers of a whole file.
 * => buf/len: the whole file; only [buf, buf+len) is ever read.
 * => out: filled on success; zeroed first, contents unspecified on failure.
 * => PT_LOAD entries come out in file order, which is checked to be ascending
 *    by vaddr and non-overlapping.
 * => returns 0, or ENOEXEC for anything not a valid loadable ELF.
 * => pure: no allocation, no global state; safe on arbitrary bytes.
 */
int elf_parse(const uint8_t *buf, size_t len, struct elf_image *out);

/*
 * The same from the start of a file only, as exec reads it: the headers
 * must lie in [buf, buf+len); segments are checked against fsize, the
 * file's full size (len <= fsize).
 */
int elf_parse_headers(const uint8_t *buf, size_t len, uint64_t fsize,
                      struct elf_image *out);

/*
 * exec's bss rule: bss that begins inside the last file page of a
 * writable segment is zeroed by a write there, as kernels do, which costs
 * one copy-on-write page.
 * => the bytes exec zeroes from vaddr + filesz: the rest of that page,
 *    past memsz too, as Linux and NetBSD do; 0 when the rule does not
 *    apply (no bss, no file bytes, file bytes ending on a page boundary,
 *    read-only).
 * => pgsz: a power of two; a page-aligned load bias changes nothing.
 */
uint64_t elf_bss_partial_page(const struct elf_load *l, uint64_t pgsz);

/*
 * Where exec loads an image: => the bias added to its vaddrs (0 for
 * ET_EXEC; base - its first page for ET_DYN).  pgsz: a power of two.
 */
uint64_t elf_load_bias(const struct elf_image *im, uint64_t base,
                       uint64_t pgsz);

/*
 * Where exec loads the interpreter of a program loaded at prog_bias:
 * ELF_INTERP_BASE, or the first 1 MiB boundary above the program when
 * the program reaches that far.  => the interpreter's bias (0 for an
 * ET_EXEC interpreter, which stays at its own addresses).
 */
uint64_t elf_interp_bias(const struct elf_image *prog, uint64_t prog_bias,
                         const struct elf_image *interp, uint64_t pgsz);

/*
 * The PT_INTERP string: bytes [interp_off, interp_off + interp_len) of
 * the file.  => 0 when s[0..n) is a path that ends in its only NUL, is
 * not empty and fits ELF_INTERP_MAX; ENOEXEC otherwise.
 */
int elf_check_interp(const char *s, size_t n);

/*
 * => the address of the program headers once loaded (AT_PHDR) before
 *    any bias: PT_PHDR's vaddr, else where a PT_LOAD maps e_phoff, else 0.
 */
uint64_t elf_phdr_addr(const struct elf_image *im);

/*
 * Text relocations: => 1 when the dynamic section dyn (the bytes of
 * PT_DYNAMIC, len of them) holds DT_TEXTREL or DF_TEXTREL in DT_FLAGS,
 * before its DT_NULL; else 0.  Reads nothing outside dyn.
 */
int elf_has_textrel(const struct elf_image *im, const uint8_t *dyn, size_t len);

#endif
