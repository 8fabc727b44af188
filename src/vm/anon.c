/*
 * anon: see anon.h.
 */
#include <assert.h>
#include <errno.h>

#include "anon.h"

int anon_alloc(struct vm *vm, pageh src, struct anon **out)
{
    if (core_inject(vm->core, INJECT_ANON))
        return ENOMEM;
    struct anon *an = pool_get(vm->core, &vm->anon_pool);
    if (an == NULL)
        return ENOMEM;
    int error = phys_alloc(vm->ph, XVM_USE_ANON, src == PAGEH_NONE, &an->page);
    if (error) {
        pool_put(&vm->anon_pool, an);
        return error;
    }
    if (src != PAGEH_NONE)
        phys_copy(vm->ph, an->page, src);
    phys_page(vm->ph, an->page)->owner.anon = an;
    an->ref = 1;
    *out = an;
    return 0;
}

void anon_unref(struct vm *vm, struct anon *an)
{
    assert(an->ref > 0);
    if (--an->ref > 0)
        return;
    /* Nobody references it, but a stale mapping must not survive it. */
    pmap_page_protect(vm->mmu, an->page, XVM_PROT_NONE);
    phys_free(vm->ph, an->page);
    pool_put(&vm->anon_pool, an);
}

void anon_check(const struct vm *vm, const struct anon *an, uint32_t refs,
                struct check *ck)
{
    if (an->ref != refs)
        return (void)check_fail(ck, "anon %p: ref %u, in %u slots",
                                (const void *)an, an->ref, refs);
    if (page_is_device(an->page))
        return (void)check_fail(ck, "anon %p holds a device page",
                                (const void *)an);
    const struct vm_page *pg = phys_page(vm->ph, an->page);
    if (pg->use != XVM_USE_ANON || pg->owner.anon != an)
        return (void)check_fail(ck, "anon %p: its page is not an anon page",
                                (const void *)an);
}
