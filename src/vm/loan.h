/*
 * Page loaning (UVM's uvm_loan.c, paper §11.3): pages lent to the kernel
 * for the duration of an I/O.  A RAM page counts its loans in its vm_page
 * (loan); a device page has no vm_page to count in, so a loan keeps its
 * pages itself: the loan state of device pages is per I/O, as the paper
 * proposes, and device pages need no more (they are never written, never
 * paged out).  A write to a loaned RAM page copies it first (a loan
 * break: anon_loanbreak, object_loanbreak); the old page stays with its
 * loans (XVM_USE_LOAN) until the last one ends.
 */
#ifndef XVM_LOAN_H
#define XVM_LOAN_H

#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "vm.h"

struct xvm_loan {
    struct vm *vm;
    uint64_t va, len; /* the range lent */
    uint64_t npages;
    pageh *pages;                 /* each page of the range as it was lent */
    struct xvm_loan *next, *prev; /* the VM layer's loans */
};

/* => whether a loan holds a page of device memory [pa, pa+len): the
 *    device cannot go (per-I/O state: a walk of the loans). */
bool vm_loans_hold(const struct vm *vm, uint64_t pa, uint64_t len);
/* Ends every loan (machine teardown). */
void vm_loans_fini(struct vm *vm);
/* Every RAM page's loan count is the loans that hold it (vm_check: no
 * loaned page is mapped writable; phys_check: a page only loans hold has
 * no owner). */
void loan_check(struct vm *vm, struct check *ck);

#endif
