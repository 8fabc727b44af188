/*
 * Machine profiles.  Their sizes drive translation and the accounting:
 * sgimips is the paper's machine (72-byte struct vm_page per 4 KiB page,
 * about 1.8% of RAM, §2 footnote 1).
 */
#include <string.h>

#include "profile.h"

static const struct profile profiles[] = {
    {
        .name = "sgimips", /* NetBSD/sgimips, MIPS32 */
        .page_shift = 12,
        .levels = 2,
        .level_bits = { 10, 10 },
        .pte_size = 4,
        .vm_page_size = 72,
        .big_endian = true,
        .tlb_entries = 64,
        .va_max = UINT64_C(0x80000000), /* kuseg */
    },
    {
        .name = "amd64", /* NetBSD/amd64 */
        .page_shift = 12,
        .levels = 4,
        .level_bits = { 9, 9, 9, 9 },
        .pte_size = 8,
        .vm_page_size = 128,
        .big_endian = false,
        .tlb_entries = 1024,
        .va_max = UINT64_C(0x800000000000), /* lower canonical half */
    },
};

const struct profile *profile_find(const char *name)
{
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}
