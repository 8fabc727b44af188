/*
 * Machine profiles.  Their sizes drive translation and the accounting:
 * sgimips is the paper's machine (72-byte struct vm_page per 4 KiB page,
 * about 1.8% of RAM, §2 footnote 1).
 */
#include <string.h>

#include "profile.h"
#include "xipvm.h"

static const struct profile profiles[] = {
    {
        .name = "sgimips", /* NetBSD/sgimips, MIPS32 */
        .page_shift = 12,
        .levels = 2,
        .level_bits = { 10, 10 },
        .pte_size = 4,
        .vm_page_size = 72,
        .big_endian = true,
        .tlb_entries = 1024, /* the software TLB (tlb.h), not the CPU's */
        .va_max = UINT64_C(0x80000000), /* kuseg */
        /* 4-byte PTEs hold 20-bit frame numbers: physical addresses stay
         * below 4 GiB, and the flash window and other device segments
         * get the last GiB, above RAM. */
        .ram_max = UINT64_C(3) << 30,
        /* ILP32 (o32): doc/kernel-memory.md. */
        .kmem_size = {
            [XVM_KMEM_MAP_ENTRY] = 88,
            [XVM_KMEM_AMAP] = 48,
            [XVM_KMEM_AMAP_SLOTS] = 4,
            [XVM_KMEM_AMAP_ANONS] = 4,
            [XVM_KMEM_ANON] = 16,
            [XVM_KMEM_PV] = 12,
            [XVM_KMEM_VMSPACE] = 288,
            [XVM_KMEM_AOBJ] = 72,
            [XVM_KMEM_VNODE] = 512,
            [XVM_KMEM_PROC] = 1408,
            [XVM_KMEM_USPACE] = 8192, /* UPAGES 2 */
            [XVM_KMEM_DEVICE_VM_PAGE] = 72, /* as vm_page_size */
        },
        .kmem_align = 8,
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
        /* 2^31 frames: frame indexes stay 32-bit with room to spare. */
        .ram_max = UINT64_C(8) << 40,
        /* LP64: doc/kernel-memory.md. */
        .kmem_size = {
            [XVM_KMEM_MAP_ENTRY] = 144,
            [XVM_KMEM_AMAP] = 80,
            [XVM_KMEM_AMAP_SLOTS] = 4,
            [XVM_KMEM_AMAP_ANONS] = 8,
            [XVM_KMEM_ANON] = 32,
            [XVM_KMEM_PV] = 32,
            [XVM_KMEM_VMSPACE] = 1088,
            [XVM_KMEM_AOBJ] = 128,
            [XVM_KMEM_VNODE] = 832,
            [XVM_KMEM_PROC] = 2304,
            [XVM_KMEM_USPACE] = 16384, /* UPAGES 4 */
            [XVM_KMEM_DEVICE_VM_PAGE] = 128, /* as vm_page_size */
        },
        .kmem_align = 8,
    },
};

uint64_t xvm_profile_ram_min(const char *name)
{
    const struct profile *p = name ? profile_find(name) : NULL;
    return p ? (uint64_t)PROFILE_RAM_MIN_PAGES << p->page_shift : 0;
}

uint64_t xvm_profile_ram_max(const char *name)
{
    const struct profile *p = name ? profile_find(name) : NULL;
    return p ? p->ram_max : 0;
}

const struct profile *profile_find(const char *name)
{
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}
