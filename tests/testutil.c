#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "vmspace.h"

enum xvm_device_design tm_design = XVM_DESIGN_SEGMENT;

int tm_run_designs(const char *name, const struct CMUnitTest *tests, size_t n,
                   CMFixtureFunction setup, CMFixtureFunction teardown)
{
    int failed = 0;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        char group[128];
        tm_design = (enum xvm_device_design)d;
        snprintf(group, sizeof(group), "%s, %s design", name,
                 xvm_device_design_name(tm_design));
        failed += _cmocka_run_group_tests(group, tests, n, setup, teardown);
    }
    tm_design = XVM_DESIGN_SEGMENT;
    return failed;
}

xvm_machine *tm_machine(const char *profile, uint64_t ram_bytes, int ahead)
{
    struct xvm_config cfg;
    xvm_machine *m = NULL;
    xvm_config_init(&cfg);
    cfg.profile = profile;
    cfg.ram_bytes = ram_bytes;
    cfg.device_design = tm_design;
    if (!ahead)
        xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    assert_non_null(m);
    return m;
}

void tm_check_at(xvm_machine *m, const char *file, int line)
{
    char msg[256];
    if (xvm_machine_check(m, msg, sizeof(msg)) != 0)
        fail_msg("%s:%d: machine check failed: %s", file, line, msg);
}

uint8_t tm_rd8(xvm_vmspace *vs, uint64_t va)
{
    uint8_t v = 0;
    assert_int_equal(xvm_read(vs, va, &v, 1), 0);
    return v;
}

void tm_wr8(xvm_vmspace *vs, uint64_t va, uint8_t v)
{
    assert_int_equal(xvm_write(vs, va, &v, 1), 0);
}

uint64_t tm_anon(xvm_vmspace *vs, uint64_t npages, int prot, int flags)
{
    uint64_t addr = 0;
    assert_int_equal(xvm_mmap(vs, &addr, npages * PG, prot, flags, NULL, 0), 0);
    assert_true(addr != 0);
    return addr;
}

struct xvm_stats tm_stats(xvm_machine *m)
{
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    return st;
}

uint64_t tm_prng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(0x2545F4914F6CDD1D);
}

xvm_vmspace *tm_vs(xvm_machine *m)
{
    xvm_vmspace *vs = NULL;
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    return vs;
}

xvm_vmspace *tm_fork(xvm_vmspace *p)
{
    xvm_vmspace *c = NULL;
    assert_int_equal(xvm_vmspace_fork(p, &c), 0);
    tm_check(xvm_vmspace_machine(p));
    return c;
}

int tm_wr_step(xvm_vmspace *vs, uint64_t va, uint8_t v)
{
    return xvm_write(vs, va, &v, 1);
}

int tm_rd_step(xvm_vmspace *vs, uint64_t va, uint8_t want)
{
    uint8_t v = (uint8_t)~want;
    int error = xvm_read(vs, va, &v, 1);
    if (error == 0)
        assert_int_equal(v, want);
    return error;
}

int tm_fork_step(xvm_vmspace *p, xvm_vmspace **c)
{
    *c = NULL;
    int error = xvm_vmspace_fork(p, c);
    if (error)
        assert_null(*c);
    return error;
}

void tm_world_open(struct tm_world *w, const char *profile, uint64_t ram,
                   int ahead, const char *img)
{
    memset(w, 0, sizeof(*w));
    w->m = tm_machine(profile, ram, ahead);
    assert_int_equal(xvm_flash_open(w->m, img, NULL, &w->flash), 0);
}

void tm_world_attach(struct tm_world *w, const char *profile, uint64_t ram,
                     int ahead, const uint8_t *bytes, uint64_t len)
{
    memset(w, 0, sizeof(*w));
    w->m = tm_machine(profile, ram, ahead);
    assert_int_equal(xvm_flash_attach(w->m, bytes, len, NULL, &w->flash), 0);
}

void tm_world_mount(struct tm_world *w, int xip, int readahead, int vmspace)
{
    struct xvm_mount_config mc;
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    if (readahead != TM_RA_DEFAULT)
        mc.readahead = (unsigned)readahead;
    assert_int_equal(xvm_mount_flash(w->flash, &mc, &w->mp), 0);
    assert_int_equal(xvm_mount_is_xip(w->mp), xip);
    if (vmspace)
        assert_int_equal(xvm_vmspace_create(w->m, &w->vs), 0);
    w->st0 = tm_stats(w->m);
}

void tm_world_up(struct tm_world *w, const char *profile, uint64_t ram,
                 int ahead, const char *img, int xip, int readahead)
{
    tm_world_open(w, profile, ram, ahead, img);
    tm_world_mount(w, xip, readahead, 1);
}

void tm_world_down(struct tm_world *w)
{
    if (w->vs != NULL)
        xvm_vmspace_destroy(w->vs);
    tm_check(w->m);
    assert_int_equal(xvm_unmount(w->mp), 0);
    assert_int_equal(xvm_flash_close(w->flash), 0);
    xvm_machine_destroy(w->m);
    free(w->bytes);
}

void tm_world_drop(struct tm_world *w)
{
    tm_check(w->m);
    xvm_machine_destroy(w->m);
}

void tm_quiet_begin(xvm_machine *m)
{
    core_quiet_begin(&m->core);
}

void tm_quiet_end(xvm_machine *m)
{
    core_quiet_end(&m->core);
}
