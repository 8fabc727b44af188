/*
 * anon: one private page with a reference count (UVM's vm_anon), and the
 * anon pager: with swap, the page daemon pages an anon's page out to a
 * swap slot and a fault pages it back in (uvm_anon.c, uvm_swap.c).
 */
#ifndef XVM_ANON_H
#define XVM_ANON_H

#include <stdint.h>

#include "physmem.h"
#include "vm.h"

struct anon {
    uint32_t ref;    /* amap slots that point here */
    uint32_t swslot; /* its copy in swap (an_swslot), or 0 */
    pageh page;      /* its RAM page, or PAGEH_NONE while paged out */
};

/* => a new anon with ref 1 owning a fresh frame, a copy of page src (RAM or
 *    device), or zeroed when src is PAGEH_NONE. */
int anon_alloc(struct vm *vm, pageh src, struct anon **out);
void anon_unref(struct vm *vm, struct anon *an);

/* Brings a paged-out anon's page back from swap (a page-in).
 * => 0 (also when it is resident), ENOMEM (no frame). */
int anon_pagein(struct vm *vm, struct anon *an);

/* A write to a loaned anon page (§11.3): the anon gets a copy in a new
 * frame; the old page stays with its loans.  => 0, ENOMEM. */
int anon_loanbreak(struct vm *vm, struct anon *an);

/* The anon pager the page daemon calls (registered by vm_init). */
extern const struct anon_pager anon_pager;

/* One anon: its page is an anon page that names it (or it is in swap),
 * refs as counted. */
void anon_check(const struct vm *vm, const struct anon *an, uint32_t refs,
                struct check *ck);

#endif
