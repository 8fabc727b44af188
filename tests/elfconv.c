/*
 * Test-side ELF reader and class/byte-order converter: see elfconv.h.
 */
#include "elfconv.h"

#include <stdlib.h>
#include <string.h>

static uint64_t get(const uint8_t *p, int size, int be)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v |= (uint64_t)p[be ? size - 1 - i : i] << (8 * i);
    return v;
}

void ec_put(uint8_t *p, uint64_t v, int size, int be)
{
    for (int i = 0; i < size; i++)
        p[be ? size - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

void ec_write_phdr(uint8_t *p, const struct ec_phdr *h, int is64, int be)
{
    if (is64) {
        ec_put(p + 0, h->type, 4, be), ec_put(p + 4, h->flags, 4, be);
        ec_put(p + 8, h->offset, 8, be), ec_put(p + 16, h->vaddr, 8, be);
        ec_put(p + 24, h->paddr, 8, be), ec_put(p + 32, h->filesz, 8, be);
        ec_put(p + 40, h->memsz, 8, be), ec_put(p + 48, h->align, 8, be);
    } else {
        ec_put(p + 0, h->type, 4, be), ec_put(p + 4, h->offset, 4, be);
        ec_put(p + 8, h->vaddr, 4, be), ec_put(p + 12, h->paddr, 4, be);
        ec_put(p + 16, h->filesz, 4, be), ec_put(p + 20, h->memsz, 4, be);
        ec_put(p + 24, h->flags, 4, be), ec_put(p + 28, h->align, 4, be);
    }
}

int ec_read(const uint8_t *b, size_t len, struct ec_elf *e)
{
    memset(e, 0, sizeof(*e));
    if (len < 52 || memcmp(b, "\177ELF", 4) != 0 || b[4] < 1 || b[4] > 2 ||
        b[5] < 1 || b[5] > 2)
        return -1;
    e->is64 = b[4] == 2;
    e->be = b[5] == 2;
    if (e->is64 && len < 64)
        return -1;
    int w = e->is64 ? 8 : 4, be = e->be;
    e->type = (uint16_t)get(b + 16, 2, be);
    e->machine = (uint16_t)get(b + 18, 2, be);
    e->entry = get(b + 24, w, be);
    e->phoff = get(b + 24 + w, w, be);
    uint16_t phentsize = (uint16_t)get(b + (e->is64 ? 54 : 42), 2, be);
    e->phnum = (uint16_t)get(b + (e->is64 ? 56 : 44), 2, be);
    if (e->phnum > EC_MAX_PH || phentsize < (e->is64 ? 56 : 32) ||
        e->phoff > len || (uint64_t)e->phnum * phentsize > len - e->phoff)
        return -1;
    for (unsigned i = 0; i < e->phnum; i++) {
        const uint8_t *p = b + e->phoff + (size_t)i * phentsize;
        struct ec_phdr *h = &e->ph[i];
        h->type = (uint32_t)get(p, 4, be);
        if (e->is64) {
            h->flags = (uint32_t)get(p + 4, 4, be);
            h->offset = get(p + 8, 8, be), h->vaddr = get(p + 16, 8, be);
            h->paddr = get(p + 24, 8, be), h->filesz = get(p + 32, 8, be);
            h->memsz = get(p + 40, 8, be), h->align = get(p + 48, 8, be);
        } else {
            h->offset = get(p + 4, 4, be), h->vaddr = get(p + 8, 4, be);
            h->paddr = get(p + 12, 4, be), h->filesz = get(p + 16, 4, be);
            h->memsz = get(p + 20, 4, be),
            h->flags = (uint32_t)get(p + 24, 4, be);
            h->align = get(p + 28, 4, be);
        }
    }
    return 0;
}

int ec_convert(const uint8_t *src, size_t len, int to64, int to_be,
               uint8_t **out)
{
    struct ec_elf e;
    if (ec_read(src, len, &e) != 0 || e.be)
        return -1;
    if (!to64) {
        if (e.entry > UINT32_MAX || e.phoff > UINT32_MAX)
            return -1;
        for (unsigned i = 0; i < e.phnum; i++)
            if ((e.ph[i].vaddr | e.ph[i].offset | e.ph[i].memsz |
                 e.ph[i].filesz | e.ph[i].paddr | e.ph[i].align) > UINT32_MAX)
                return -1;
    }
    uint8_t *b = malloc(len);
    if (b == NULL)
        return -1;
    memcpy(b, src, len);
    int w = to64 ? 8 : 4;
    uint32_t version = (uint32_t)get(src + 20, 4, 0);
    /* e_ident keeps its padding; the rest of the header is rewritten. */
    memset(b + 16, 0, (size_t)(to64 ? 64 : 52) - 16);
    b[4] = to64 ? 2 : 1;
    b[5] = to_be ? 2 : 1;
    ec_put(b + 16, e.type, 2, to_be);
    ec_put(b + 18, e.machine, 2, to_be);
    ec_put(b + 20, version, 4, to_be);
    ec_put(b + 24, e.entry, w, to_be);
    ec_put(b + 24 + w, e.phoff, w, to_be);
    ec_put(b + 24 + 2 * w, 0, w, to_be);                    /* e_shoff */
    ec_put(b + (to64 ? 52 : 40), to64 ? 64 : 52, 2, to_be); /* e_ehsize */
    ec_put(b + (to64 ? 54 : 42), to64 ? 56 : 32, 2, to_be); /* e_phentsize */
    ec_put(b + (to64 ? 56 : 44), e.phnum, 2, to_be);
    for (unsigned i = 0; i < e.phnum; i++)
        ec_write_phdr(b + e.phoff + (size_t)i * (to64 ? 56 : 32), &e.ph[i],
                      to64, to_be);
    *out = b;
    return 0;
}
