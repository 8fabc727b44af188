/*
 * anon: one private page with a reference count (UVM's vm_anon).
 * There is no swap, so an anon always owns a RAM page.
 */
#ifndef XVM_ANON_H
#define XVM_ANON_H

#include <stdint.h>

#include "physmem.h"
#include "vm.h"

struct anon {
    uint32_t ref; /* amap slots that point here */
    pageh page;   /* always a RAM page */
};

/* => a new anon with ref 1 owning a fresh frame, a copy of page src (RAM or
 *    device), or zeroed when src is PAGEH_NONE. */
int anon_alloc(struct vm *vm, pageh src, struct anon **out);
void anon_unref(struct vm *vm, struct anon *an);

/* One anon: its page is an anon page that names it, refs as counted. */
void anon_check(const struct vm *vm, const struct anon *an, uint32_t refs,
                struct check *ck);

#endif
