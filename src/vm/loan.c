/*
 * Page loaning: see loan.h.
 *
 *   xvm_loan_start: fault each page in for reading, count the loan in a RAM
 *              page's vm_page and write-protect its mappings; a device
 *              page is only noted in the loan (never writable anyway).
 *   a write:   the fault finds the page lent and copies it first (fault.c:
 *              anon_loanbreak for anons, object_loanbreak for aobj pages;
 *              a private mapping promotes as always).
 *   xvm_loan_end: each RAM page loses a loan; a page its owner gave up in
 *              the meantime (XVM_USE_LOAN) goes back to RAM with its last.
 */
#include <errno.h>
#include <string.h>

#include "fault.h"
#include "loan.h"
#include "vmspace.h"

static void loan_link(struct vm *vm, struct xvm_loan *ln)
{
    ln->prev = NULL;
    ln->next = vm->loans;
    if (vm->loans)
        vm->loans->prev = ln;
    vm->loans = ln;
    vm->nloans++;
}

static void loan_unlink(struct vm *vm, struct xvm_loan *ln)
{
    if (ln->prev)
        ln->prev->next = ln->next;
    else
        vm->loans = ln->next;
    if (ln->next)
        ln->next->prev = ln->prev;
    vm->nloans--;
}

/* Ends the loans of the first n pages of ln and frees it. */
static void loan_free(struct xvm_loan *ln, uint64_t n)
{
    struct vm *vm = ln->vm;
    for (uint64_t i = 0; i < n; i++)
        if (!page_is_device(ln->pages[i]))
            phys_unloan(vm->ph, ln->pages[i]);
    core_free(vm->core, ln->pages);
    core_free(vm->core, ln);
}

/* Lends the page at va: faulted in for reading, counted, write-protected.
 * => 0 and *out, or the fault's error. */
static int loan_page(struct xvm_vmspace *vs, uint64_t va, pageh *out)
{
    struct vm *vm = vs->vm;
    const struct vm_map_entry *e = map_lookup(&vs->map, va);
    uint64_t pa;
    if (e == NULL)
        return EFAULT;
    if (!(e->prot & XVM_PROT_READ))
        return EACCES;
    if (pmap_extract(vs->pmap, va, &pa) != 0) {
        int error = uvm_fault(vs, va, XVM_PROT_READ, false);
        if (error)
            return error;
        if (pmap_extract(vs->pmap, va, &pa) != 0)
            return EFAULT;
    }
    pageh pg = phys_lookup(vm->ph, pg_trunc(vm->core, pa));
    if (!page_is_device(pg)) {
        struct vm_page *p = phys_page(vm->ph, pg);
        if (p->loan == LOAN_MAX)
            return EBUSY;
        /* Whoever maps it writable must fault and copy before writing. */
        if (p->loan++ == 0 && pg != vm->ph->zero_page)
            pmap_page_protect(vm->mmu, pg, XVM_PROT_READ | XVM_PROT_EXEC);
    } else {
        vm->st.loan_device_pages++;
    }
    vm->st.loan_pages++;
    *out = pg;
    return 0;
}

/* => the error the first page of [va, end) that cannot be lent gives:
 *    EFAULT (not mapped) or EACCES (not readable); 0 when none.  Found
 *    from the map before anything is allocated or faulted. */
static int loan_range_ok(struct xvm_vmspace *vs, uint64_t va, uint64_t end)
{
    uint64_t at = pg_trunc(vs->vm->core, va);
    struct vm_map_entry *e = map_first_after(&vs->map, at);
    for (; at < end; e = e->next) {
        if (e == &vs->map.header || e->start > at)
            return EFAULT;
        if (!(e->prot & XVM_PROT_READ))
            return EACCES;
        at = e->end;
    }
    return 0;
}

int xvm_loan_start(xvm_vmspace *vs, uint64_t va, uint64_t len, xvm_loan **out)
{
    if (vs == NULL || out == NULL || len == 0 || len > XVM_LOAN_MAX)
        return EINVAL;
    struct vm *vm = vs->vm;
    if (vm_reentered(vm))
        return EDEADLK; /* it write-protects pages the caller's fault maps */
    const struct core *c = vm->core;
    uint64_t va_max = c->prof->va_max;
    if (va >= va_max || va_max - va < len)
        return EFAULT;
    int error = loan_range_ok(vs, va, va + len);
    if (error)
        return error;
    uint64_t first = pg_trunc(c, va);
    uint64_t n = (pg_round(c, va + len) - first) >> c->pgshift;
    struct xvm_loan *ln = core_zalloc(vm->core, sizeof(*ln));
    if (ln == NULL ||
        (ln->pages = core_alloc(vm->core, n * sizeof(pageh))) == NULL) {
        core_free(vm->core, ln);
        return ENOMEM;
    }
    ln->vm = vm;
    ln->va = va;
    ln->len = len;
    ln->npages = n;
    for (uint64_t i = 0; i < n; i++) {
        error = loan_page(vs, first + (i << c->pgshift), &ln->pages[i]);
        if (error) {
            loan_free(ln, i); /* all or nothing */
            return error;
        }
    }
    loan_link(vm, ln);
    vm->st.loans++;
    *out = ln;
    return 0;
}

int xvm_loan_read(const xvm_loan *ln, uint64_t off, void *buf, size_t n)
{
    if (ln == NULL || (buf == NULL && n) || off > ln->len || ln->len - off < n)
        return EINVAL;
    struct physmem *ph = ln->vm->ph;
    const struct core *c = ln->vm->core;
    uint64_t at = ln->va + off, first = pg_trunc(c, ln->va);
    uint8_t *to = buf;
    while (n > 0) {
        size_t in = (size_t)(at & (c->pgsz - 1));
        size_t chunk = c->pgsz - in < n ? c->pgsz - in : n;
        pageh pg = ln->pages[(at - first) >> c->pgshift];
        const uint8_t *src = phys_data(ph, pg) + in;
        if (page_is_device(pg)) /* zero-copy from flash: read in place */
            phys_dev_read(ph, phys_dev_seg(ph, phys_addr(ph, pg)), to, src,
                          chunk);
        else
            memcpy(to, src, chunk);
        to += chunk;
        at += chunk;
        n -= chunk;
    }
    return 0;
}

void xvm_loan_end(xvm_loan *ln)
{
    if (ln == NULL)
        return;
    loan_unlink(ln->vm, ln);
    loan_free(ln, ln->npages);
}

bool vm_loans_hold(const struct vm *vm, uint64_t pa, uint64_t len)
{
    for (const struct xvm_loan *ln = vm->loans; ln; ln = ln->next)
        for (uint64_t i = 0; i < ln->npages; i++)
            if (page_is_device(ln->pages[i]) &&
                (ln->pages[i] & ~(uint64_t)1) - pa < len)
                return true;
    return false;
}

void vm_loans_fini(struct vm *vm)
{
    while (vm->loans)
        xvm_loan_end(vm->loans);
}

/* ---- the invariants (vm_check sees that no loaned page is mapped
 * writable) ---- */

struct loan_ck {
    struct vm *vm;
    struct check *ck;
    struct hmap held; /* RAM page -> loans holding it */
};

void loan_check(struct vm *vm, struct check *ck)
{
    struct loan_ck k = { .vm = vm, .ck = ck };
    const struct physmem *ph = vm->ph;
    uint64_t n = 0;
    hmap_init(&k.held);
    for (const struct xvm_loan *ln = vm->loans; ln && !ck->error;
         ln = ln->next, n++) {
        if (ln->vm != vm || (ln->next && ln->next->prev != ln))
            check_fail(ck, "loan list broken");
        for (uint64_t i = 0; i < ln->npages && !ck->error; i++) {
            pageh pg = ln->pages[i];
            uint64_t v = 0;
            if (page_is_device(pg)) {
                if (phys_dev_seg(ph, pg & ~(uint64_t)1) == NULL)
                    check_fail(ck, "a loan holds a device page of no segment");
                continue;
            }
            (void)hmap_get(&k.held, pg, &v);
            if (hmap_put(vm->core, &k.held, pg, v + 1))
                check_fail(ck, "checker: out of host memory");
        }
    }
    if (!ck->error && n != vm->nloans)
        check_fail(ck, "%llu loans listed, %llu counted", (unsigned long long)n,
                   (unsigned long long)vm->nloans);
    /* Frames never used (from ph->fresh on) were never lent. */
    for (uint32_t i = 0; i < ph->fresh && i < ph->npages && !ck->error; i++) {
        uint64_t v = 0;
        (void)hmap_get(&k.held, page_ram(i), &v);
        if (ph->pages[i].loan != v)
            check_fail(ck, "frame %u: loan count %u, held by %llu loans", i,
                       ph->pages[i].loan, (unsigned long long)v);
    }
    hmap_fini(vm->core, &k.held);
}
