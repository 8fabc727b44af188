#include "testutil.h"

#include <stdio.h>

xvm_machine *tm_machine(const char *profile, uint64_t ram_bytes, int ahead)
{
    struct xvm_config cfg;
    xvm_machine *m = NULL;
    xvm_config_init(&cfg);
    cfg.profile = profile;
    cfg.ram_bytes = ram_bytes;
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
