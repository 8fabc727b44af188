/*
 * Test-side ELF helpers, written independently of src/elf.c: a reader of
 * program headers for any class and byte order, and a converter that
 * re-encodes a real little-endian ELF64 into ELF64 big-endian or ELF32
 * (either order) by rewriting its header fields.  The simulator does not
 * execute code, so a converted image is a valid test of loading.
 */
#ifndef XVM_ELFCONV_H
#define XVM_ELFCONV_H

#include <stddef.h>
#include <stdint.h>

#define EC_MAX_PH    32
#define EC_PT_LOAD   1
#define EC_PT_INTERP 3
#define EC_PF_X      1
#define EC_PF_W      2
#define EC_PF_R      4

struct ec_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct ec_elf {
    int is64, be;
    uint16_t type, machine, phnum;
    uint64_t entry, phoff;
    struct ec_phdr ph[EC_MAX_PH];
};

/* Writes the size low bytes of v at p, big-endian if be. */
void ec_put(uint8_t *p, uint64_t v, int size, int be);
/* Writes h at p as an ELF64 (is64) or ELF32 program header. */
void ec_write_phdr(uint8_t *p, const struct ec_phdr *h, int is64, int be);
/* => 0, or -1 if buf is not an ELF whose program headers lie inside it. */
int ec_read(const uint8_t *buf, size_t len, struct ec_elf *e);
/* A copy of src (a little-endian ELF) re-encoded as to64/to_be, malloc'd
 * in *out (same length); the phdr table stays where it was.
 * => 0, or -1 if a field does not fit or src is not little-endian. */
int ec_convert(const uint8_t *src, size_t len, int to64, int to_be,
               uint8_t **out);

#endif
