/*
 * Helpers shared by the CMocka tests.
 */
#ifndef XVM_TESTUTIL_H
#define XVM_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "xipvm.h"

#define PG 4096u

/* A machine with fault-ahead off unless ahead says otherwise. */
xvm_machine *tm_machine(const char *profile, uint64_t ram_bytes, int ahead);
/* Runs the whole-machine checker; fails the test with its message. */
void tm_check_at(xvm_machine *m, const char *file, int line);
#define tm_check(m) tm_check_at((m), __FILE__, __LINE__)

uint8_t tm_rd8(xvm_vmspace *vs, uint64_t va);
void tm_wr8(xvm_vmspace *vs, uint64_t va, uint8_t v);
/* => an anonymous private (or shared) mapping of n pages, checked. */
uint64_t tm_anon(xvm_vmspace *vs, uint64_t npages, int prot, int flags);
struct xvm_stats tm_stats(xvm_machine *m);

#endif
