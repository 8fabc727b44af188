/*
 * The fault handler (uvm_fault), with the paper's split into a check step
 * and the upper (anon) and lower (object) paths.
 */
#ifndef XVM_FAULT_H
#define XVM_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmspace.h"

/*
 * => access: XVM_PROT_READ, WRITE or EXEC that faulted at va.
 * => wire: map the page wired (mlock); device pages refuse (EINVAL).
 * => 0 when a mapping allowing access was entered; EFAULT (no entry),
 *    EACCES (protection), ENOMEM (no RAM; nothing leaks), EIO.
 */
int uvm_fault(struct xvm_vmspace *vs, uint64_t va, unsigned access, bool wire);

#endif
