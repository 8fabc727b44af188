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

/* A machine with fault-ahead off unless ahead says otherwise, under the
 * device-page design tm_design names (the paper's segment by default). */
xvm_machine *tm_machine(const char *profile, uint64_t ram_bytes, int ahead);
extern enum xvm_device_design tm_design;
/* Runs a group of tests once under each device-page design (the suite of
 * tests that must pass under every design: doc/beyond-the-paper.md).
 * => the failures of all runs. */
int tm_run_designs(const char *name, const struct CMUnitTest *tests, size_t n,
                   CMFixtureFunction setup, CMFixtureFunction teardown);
/* Runs the whole-machine checker; fails the test with its message. */
void tm_check_at(xvm_machine *m, const char *file, int line);
#define tm_check(m) tm_check_at((m), __FILE__, __LINE__)

uint8_t tm_rd8(xvm_vmspace *vs, uint64_t va);
void tm_wr8(xvm_vmspace *vs, uint64_t va, uint8_t v);
/* => an anonymous private (or shared) mapping of n pages, checked. */
uint64_t tm_anon(xvm_vmspace *vs, uint64_t npages, int prot, int flags);
struct xvm_stats tm_stats(xvm_machine *m);
/* Deterministic xorshift64*, so that failures reproduce. */
uint64_t tm_prng(uint64_t *s);
/* => a new vmspace of m, checked. */
xvm_vmspace *tm_vs(xvm_machine *m);
/* => a fork of p; the machine checker runs after it. */
xvm_vmspace *tm_fork(xvm_vmspace *p);

/*
 * Steps of the allocation-failure walks: each returns the call's error
 * and, when it failed, checks that nothing was produced (on success
 * tm_rd_step checks the byte read).
 */
int tm_wr_step(xvm_vmspace *vs, uint64_t va, uint8_t v);
int tm_rd_step(xvm_vmspace *vs, uint64_t va, uint8_t want);
int tm_fork_step(xvm_vmspace *p, xvm_vmspace **c);

/*
 * A machine with an FFS image on flash, mounted, and (usually) a
 * vmspace: what the file-backed tests start from.
 */
struct tm_world {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_vmspace *vs;      /* NULL when tm_world_mount was not asked for one */
    uint8_t *bytes;       /* a malloc'd image behind the flash, freed by
                                   tm_world_down; NULL unless the caller sets it */
    struct xvm_stats st0; /* the machine's stats once mounted */
};

/* Keeps xvm_mount_config_init's readahead. */
#define TM_RA_DEFAULT (-1)

/* A machine (tm_machine(profile, ram, ahead)) with the image at path on
 * flash (xvm_flash_open), mounted (XIP if xip) with readahead pages read
 * ahead, and a vmspace in w->vs. */
void tm_world_up(struct tm_world *w, const char *profile, uint64_t ram,
                 int ahead, const char *img, int xip, int readahead);
/* Its steps: the machine with the image file on flash, or with the
 * caller's bytes attached as flash; then the mount (and a vmspace if
 * vmspace is set; w->st0 is taken after both). */
void tm_world_open(struct tm_world *w, const char *profile, uint64_t ram,
                   int ahead, const char *img);
void tm_world_attach(struct tm_world *w, const char *profile, uint64_t ram,
                     int ahead, const uint8_t *bytes, uint64_t len);
void tm_world_mount(struct tm_world *w, int xip, int readahead, int vmspace);
/* Destroys the vmspace, runs the checker, unmounts, closes the flash and
 * destroys the machine; frees w->bytes. */
void tm_world_down(struct tm_world *w);
/* Runs the checker and destroys the machine, which takes the mount and
 * the flash with it (for worlds whose processes still hold files). */
void tm_world_drop(struct tm_world *w);

/* Inspection the test does must not move the machine's figures: reads
 * between these two are quiet (core_quiet_begin). */
void tm_quiet_begin(xvm_machine *m);
void tm_quiet_end(xvm_machine *m);

#endif
