/*
 * anon: one private page with a reference count (UVM's vm_anon).
 * There is no swap, so an anon always owns a RAM page.
 */
#include <errno.h>
#include <string.h>

#include "amap.h"
#include "machine.h"
#include "pmap.h"

int anon_alloc(struct xvm_machine *m, const uint8_t *src, struct anon **out)
{
    struct anon *an = pool_get(m, &m->anon_pool);
    if (an == NULL)
        return ENOMEM;
    int error = phys_alloc(m, XVM_USE_ANON, src == NULL, &an->page);
    if (error) {
        pool_put(&m->anon_pool, an);
        return error;
    }
    if (src)
        memcpy(phys_page(m, an->page)->data, src, m->pgsz);
    phys_page(m, an->page)->owner.anon = an;
    an->ref = 1;
    *out = an;
    return 0;
}

void anon_unref(struct xvm_machine *m, struct anon *an)
{
    if (--an->ref > 0)
        return;
    /* Nobody references it, but a stale mapping must not survive it. */
    pmap_page_protect(m, an->page, XVM_PROT_NONE);
    phys_free(m, an->page);
    pool_put(&m->anon_pool, an);
}
