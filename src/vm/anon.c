/*
 * anon and the anon pager: see anon.h.
 *
 * A page-out writes the page to a swap slot unless it is clean (equal to
 * the slot's copy: paged in and not written since, PG_CLEAN and no
 * modified mapping), unmaps it and frees the frame; the anon keeps the
 * slot.  A page-in reads the slot into a new frame, clean.  A page written
 * after a page-in is dirty again and is written to the same slot at its
 * next page-out (UVM frees the slot and takes another; the figures are
 * the same).  The slot is freed with the anon.
 */
#include <assert.h>
#include <errno.h>

#include "anon.h"
#include "kmem.h"
#include "swap.h"

int anon_alloc(struct vm *vm, pageh src, struct anon **out)
{
    if (core_inject(vm->core, INJECT_ANON))
        return ENOMEM;
    struct anon *an = kmem_alloc(vm->ph->km, XVM_KMEM_ANON, 1, sizeof(*an));
    if (an == NULL)
        return ENOMEM;
    int error = phys_alloc(vm->ph, XVM_USE_ANON, src == PAGEH_NONE, &an->page);
    if (error) {
        kmem_free(vm->ph->km, XVM_KMEM_ANON, 1, an);
        return error;
    }
    if (src != PAGEH_NONE)
        phys_copy(vm->ph, an->page, src);
    phys_page(vm->ph, an->page)->owner.anon = an;
    pageq_enqueue(&vm->objs->pd, an->page, 0);
    an->ref = 1;
    *out = an;
    return 0;
}

void anon_unref(struct vm *vm, struct anon *an)
{
    assert(an->ref > 0);
    if (--an->ref > 0)
        return;
    if (an->page != PAGEH_NONE) {
        /* Nobody references it, but a stale mapping must not survive;
         * loans keep the page until their I/O is done. */
        pmap_page_protect(vm->mmu, an->page, XVM_PROT_NONE);
        pageq_dequeue(&vm->objs->pd, an->page);
        phys_release(vm->ph, an->page);
        if (an->swslot)
            vm->objs->pd.swap->in_ram--;
    }
    if (an->swslot)
        swap_free(vm->objs->pd.swap, an->swslot);
    kmem_free(vm->ph->km, XVM_KMEM_ANON, 1, an);
}

int anon_loanbreak(struct vm *vm, struct anon *an)
{
    pageh old = an->page, pg;
    int error = phys_alloc(vm->ph, XVM_USE_ANON, false, &pg);
    if (error)
        return error;
    phys_copy(vm->ph, pg, old);
    /* Every mapping of the old page goes: the anon's sharers (a shared
     * amap) fault and find the copy. */
    pmap_page_protect(vm->mmu, old, XVM_PROT_NONE);
    pageq_dequeue(&vm->objs->pd, old);
    phys_release(vm->ph, old);
    phys_page(vm->ph, pg)->owner.anon = an;
    an->page = pg;
    pageq_enqueue(&vm->objs->pd, pg, 0);
    return 0;
}

int anon_pagein(struct vm *vm, struct anon *an)
{
    if (an->page != PAGEH_NONE)
        return 0;
    assert(an->swslot != 0);
    pageh pg;
    int error = phys_alloc(vm->ph, XVM_USE_ANON, false, &pg);
    if (error)
        return error;
    struct vm_page *p = phys_page(vm->ph, pg);
    swap_read(vm->objs->pd.swap, an->swslot, phys_ram_data(vm->ph, pg));
    p->owner.anon = an;
    p->flags |= PG_CLEAN;
    an->page = pg;
    vm->objs->pd.swap->in_ram++;
    pageq_enqueue(&vm->objs->pd, pg, 0);
    return 0;
}

/* The page daemon's call: page anon page i out (uvmpd_scan_queue's
 * swap-backed path). */
static int anon_pageout(void *arg, uint32_t i)
{
    struct vm *vm = arg;
    struct swapdev *sw = vm->objs->pd.swap;
    pageh pg = page_ram(i);
    struct vm_page *p = phys_page(vm->ph, pg);
    struct anon *an = p->owner.anon;

    if (sw == NULL)
        return ENOSPC;
    /* Modified bits live in the PTEs: read them before unmapping. */
    bool clean =
        (p->flags & PG_CLEAN) && an->swslot && !pmap_is_modified(vm->mmu, pg);
    if (!clean) {
        if (an->swslot == 0) {
            uint32_t slot;
            if (swap_alloc(sw, &slot) != 0)
                return ENOSPC;
            an->swslot = slot;
            sw->in_ram++;
        }
        if (swap_write(sw, an->swslot, phys_ram_data(vm->ph, pg)) != 0)
            return EAGAIN;
    }
    pmap_page_protect(vm->mmu, pg, XVM_PROT_NONE);
    pageq_dequeue(&vm->objs->pd, pg);
    p->flags &= (uint8_t)~PG_CLEAN;
    phys_free(vm->ph, pg);
    an->page = PAGEH_NONE;
    sw->in_ram--;
    return 0;
}

const struct anon_pager anon_pager = {
    .pageout = anon_pageout,
};

void anon_check(const struct vm *vm, const struct anon *an, uint32_t refs,
                struct check *ck)
{
    if (an->ref != refs)
        return (void)check_fail(ck, "anon %p: ref %u, in %u slots",
                                (const void *)an, an->ref, refs);
    if (an->page == PAGEH_NONE) {
        const struct swapdev *sw = vm->objs->pd.swap;
        if (sw == NULL || an->swslot == 0 || an->swslot > sw->nslots ||
            !(sw->bitmap[(an->swslot - 1) / 64] >> ((an->swslot - 1) % 64) & 1))
            check_fail(ck, "anon %p: neither in RAM nor in a swap slot",
                       (const void *)an);
        return;
    }
    if (page_is_device(an->page))
        return (void)check_fail(ck, "anon %p holds a device page",
                                (const void *)an);
    const struct vm_page *pg = phys_page(vm->ph, an->page);
    if (pg->use != XVM_USE_ANON || pg->owner.anon != an)
        return (void)check_fail(ck, "anon %p: its page is not an anon page",
                                (const void *)an);
}
