/*
 * Out of memory as an event: a process whose memory runs out mid-trace
 * is killed (an oom event with its pid, from the machine), its later
 * events and those of the child it would have forked are skipped, none
 * of this is a mismatch, the other processes go on unaffected (their
 * =HEX reads still match), the checker passes, and a spawn of the same
 * pid afterwards is a new process.  Without swap (the default) and with
 * it (where the same trace fits).
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm_trace.h"

static int setup(void **state)
{
    struct tree_image *fx = tree_image_new();
    tree_dir(fx->tree, "bin");
    char path[1200], cmd[2600];
    tree_path(path, sizeof(path), fx->tree, "bin/busybox");
    snprintf(cmd, sizeof(cmd), "cp /bin/busybox '%s'", path);
    if (system(cmd) != 0)
        fail_msg("no /bin/busybox (busybox-static)");
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "oom.img", fx->tree, 2,
                  "little", 32768, 4096);
    *state = fx;
    return 0;
}

/* Pid 2 keeps data in two pages around pid 1 running out of RAM: pid 1
 * writes 16 MiB into a 512 KiB machine. */
static const char *const trace[] = {
    "xipvm-trace 1",
    "spawn 1 /bin/busybox",
    "spawn 2 /bin/busybox",
    "mmap 2 0x40000000 0x2000 rw- private,fixed",
    "w 2 0x40000000 4 =aabbccdd",
    "mmap 1 0x40000000 0x1000000 rw- private,fixed",
    "w 1 0x40000000 0x1000000",   /* line 7: runs out */
    "w 1 0x40000000 4 =01020304", /* skipped */
    "r 1 0x40000000 4 =01020304", /* skipped */
    "fork 1 3",                   /* skipped: no child 3 */
    "w 3 0x40000000 4 =05060708", /* skipped */
    "r 2 0x40000000 4 =aabbccdd", /* pid 2 unaffected */
    "w 2 0x40001000 4 =11223344",
    "r 2 0x40001000 4 =11223344",
    "exit 3",               /* skipped: ends pid 3 */
    "spawn 1 /bin/busybox", /* a new pid 1 */
    "mmap 1 0x40000000 0x1000 rw- private,fixed",
    "w 1 0x40000000 4 =0a0b0c0d",
    "r 1 0x40000000 4 =0a0b0c0d",
    "exit 1",
    "r 2 0x40000000 4 =aabbccdd",
    "exit 2",
};

/* The same first 14 lines where nobody is killed, then every process
 * exits. */
static const char *const fitting[] = {
    "exit 1",
    "exit 3",
    "exit 2",
};

/* A machine of ram bytes (and swap bytes of swap) with the image
 * mounted, in XIP or copy mode. */
static xvm_machine *mounted(const struct tree_image *fx, uint64_t ram,
                            uint64_t swap, int xip, xvm_mount **mp)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_machine *m;
    xvm_flash *flash;
    xvm_config_init(&cfg);
    cfg.ram_bytes = ram;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    if (swap) {
        struct xvm_swap_config sc;
        xvm_swap_config_init(&sc);
        sc.bytes = swap;
        assert_int_equal(xvm_swapon(m, &sc), 0);
    }
    assert_int_equal(xvm_flash_open(m, fx->img, NULL, &flash), 0);
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    assert_int_equal(xvm_mount_flash(flash, &mc, mp), 0);
    return m;
}

static void replay(const struct tree_image *fx, int xip, uint64_t swap,
                   const char *const *lines, size_t nlines,
                   struct xvm_replay_totals *t, struct xvm_stats *st,
                   uint32_t *oom_pid, uint64_t *oom_line)
{
    xvm_mount *mp;
    xvm_machine *m = mounted(fx, 512u << 10, swap, xip, &mp);
    xvm_replay *r;
    assert_int_equal(xvm_replay_create(m, mp, &r), 0);
    for (size_t i = 0; i < nlines; i++) {
        char line[256], msg[256];
        int mism;
        snprintf(line, sizeof(line), "%s", lines[i]);
        assert_int_equal(xvm_replay_line(r, line, &mism, msg, sizeof(msg)), 0);
        if (mism)
            fail_msg("%s", msg);
        tm_check(m);
    }
    xvm_replay_totals(r, t);
    *oom_pid = t->nooms ? t->ooms[0].pid : 0;
    *oom_line = t->nooms ? t->ooms[0].line : 0;
    xvm_machine_stats(m, st);
    /* Every process ended: nothing of theirs is left. */
    assert_null(xvm_proc_vmspace(m, 1));
    assert_null(xvm_proc_vmspace(m, 2));
    assert_null(xvm_proc_vmspace(m, 3));
    uint32_t pid;
    assert_int_equal(xvm_oom_next(m, &pid), ENOENT);
    xvm_replay_destroy(r);
    xvm_machine_destroy(m);
}

/* The whole trace in one mode: pid 1 killed at line 7, the rest as the
 * trace expects. */
static struct xvm_stats killed_mid_trace(const struct tree_image *fx, int xip)
{
    struct xvm_replay_totals t;
    struct xvm_stats st;
    uint32_t pid;
    uint64_t line;
    replay(fx, xip, 0, trace, sizeof(trace) / sizeof(trace[0]), &t, &st, &pid,
           &line);
    assert_int_equal(t.mismatches, 0);
    assert_int_equal(t.oom_kills, 1);
    assert_int_equal(st.oom_kills, 1);
    assert_int_equal(t.nooms, 1);
    assert_int_equal(pid, 1);
    assert_int_equal(line, 7);
    /* Lines 8 to 11 and 15: pid 1's, the fork's, its child's. */
    assert_int_equal(t.skipped, 5);
    assert_int_equal(t.events, sizeof(trace) / sizeof(trace[0]) - 1);
    assert_int_equal(st.pages[XVM_USE_ANON], 0);
    return st;
}

static void test_oom_kill_mid_trace_xip(void **state)
{
    (void)killed_mid_trace(*state, 1);
}

static void test_oom_kill_mid_trace_copy(void **state)
{
    struct xvm_stats st = killed_mid_trace(*state, 0);
    /* The page daemon freed page-cache pages before giving up. */
    assert_true(st.pd_runs > 0);
}

/* With 32 MiB of swap the same trace fits: nobody is killed. */
static void test_oom_swap_makes_it_fit(void **state)
{
    struct xvm_replay_totals t;
    struct xvm_stats st;
    uint32_t pid;
    uint64_t line;
    const char *lines[14 + sizeof(fitting) / sizeof(fitting[0])];
    size_t n = 0;
    for (; n < 14; n++)
        lines[n] = trace[n];
    for (size_t i = 0; i < sizeof(fitting) / sizeof(fitting[0]); i++)
        lines[n++] = fitting[i];
    replay(*state, 1, 32u << 20, lines, n, &t, &st, &pid, &line);
    assert_int_equal(t.mismatches, 0);
    assert_int_equal(t.oom_kills, 0);
    assert_int_equal(t.skipped, 0);
    assert_true(st.swap_outs > 0);
}

/* A 64-page machine (swap as asked) running pid 1, busybox in XIP. */
static xvm_machine *small_machine(const struct tree_image *fx, uint64_t swap)
{
    xvm_mount *mp;
    xvm_machine *m = mounted(fx, 64 * PG, swap, 1, &mp);
    const char *argv[] = { "busybox" };
    assert_int_equal(xvm_spawn(m, mp, 1, "/bin/busybox", 1, argv), 0);
    return m;
}

/* NetBSD's sys_mlock refuses to wire past uvmexp.wiredmax, a third of
 * RAM, with EAGAIN, before faulting anything in.  All of RAM could be
 * locked (45 of 64 pages), and the mlock that then ran out killed pid 1;
 * with swap, a 64-page mlock scanned 90 pages before failing. */
static void test_oom_mlock_stops_at_a_third_of_ram(void **state)
{
    for (int swap = 0; swap < 2; swap++) {
        xvm_machine *m = small_machine(*state, swap ? 1u << 20 : 0);
        xvm_vmspace *vs = xvm_proc_vmspace(m, 1);
        uint64_t a =
            tm_anon(vs, 64, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
        unsigned n = 0;
        int error;
        while ((error = xvm_mlock(vs, a + n * PG, PG)) == 0)
            n++;
        assert_int_equal(error, EAGAIN);
        assert_int_equal(n, 64 / 3);
        struct xvm_stats st = tm_stats(m);
        assert_int_equal(xvm_mlock(vs, a + n * PG, (64 - n) * PG), EAGAIN);
        struct xvm_stats st2 = tm_stats(m);
        assert_int_equal(st2.pd_scanned, st.pd_scanned);
        assert_int_equal(st2.swap_ins + st2.swap_outs,
                         st.swap_ins + st.swap_outs);
        uint32_t pid;
        assert_int_equal(xvm_oom_next(m, &pid), ENOENT);
        /* Unlocked, the same pages can be locked again. */
        assert_int_equal(xvm_munlock(vs, a, n * PG), 0);
        assert_int_equal(xvm_mlock(vs, a + 20 * PG, n * PG), 0);
        tm_check(m);
        xvm_machine_destroy(m);
    }
}

/* An mlock that cannot get RAM fails with ENOMEM, as sys_mlock does
 * (uvm_fault_wire's error): its process is not killed. */
static void test_oom_mlock_out_of_ram_kills_nobody(void **state)
{
    xvm_machine *m = small_machine(*state, 0);
    xvm_vmspace *vs = xvm_proc_vmspace(m, 1);
    uint64_t a =
        tm_anon(vs, 8, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    /* A space of no process takes the rest of RAM. */
    xvm_vmspace *hog = tm_vs(m);
    uint64_t h =
        tm_anon(hog, 64, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    for (unsigned p = 0; p < 64 && xvm_write(hog, h + p * PG, "x", 1) == 0;)
        p++;
    assert_int_equal(xvm_mlock(vs, a, 8 * PG), ENOMEM);
    uint32_t pid;
    assert_int_equal(xvm_oom_next(m, &pid), ENOENT);
    assert_ptr_equal(xvm_proc_vmspace(m, 1), vs);
    tm_check(m);
    xvm_vmspace_destroy(hog);
    assert_int_equal(xvm_mlock(vs, a, 8 * PG), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* A map call that must split an entry when RAM is full fails with
 * ENOMEM and kills nobody: a map entry is kernel memory, and NetBSD's
 * clip waits for it (PR_WAITOK) instead of killing.  mprotect, madvise,
 * minherit, munlock and an munmap of a middle part. */
static void test_oom_split_out_of_ram_kills_nobody(void **state)
{
    for (int call = 0; call < 5; call++) {
        xvm_machine *m = small_machine(*state, 0);
        xvm_vmspace *vs = xvm_proc_vmspace(m, 1);
        const uint64_t n = 512;
        uint64_t a =
            tm_anon(vs, n, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
        xvm_vmspace *hog = tm_vs(m);
        uint64_t h =
            tm_anon(hog, 64, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
        for (unsigned p = 0; p < 64 && xvm_write(hog, h + p * PG, "x", 1) == 0;)
            p++;
        /* Every other page its own entry, until no slab has room. */
        int error = 0;
        uint64_t p = 1;
        for (; p < n - 1 && error == 0; p += 2) {
            uint64_t va = a + p * PG;
            switch (call) {
            case 0: error = xvm_mprotect(vs, va, PG, XVM_PROT_READ); break;
            case 1: error = xvm_madvise(vs, va, PG, XVM_ADV_RANDOM); break;
            case 2: error = xvm_minherit(vs, va, PG, XVM_INHERIT_NONE); break;
            case 3: error = xvm_munlock(vs, va, PG); break;
            default: error = xvm_munmap(vs, va, PG);
            }
        }
        assert_int_equal(error, ENOMEM);
        uint32_t pid;
        assert_int_equal(xvm_oom_next(m, &pid), ENOENT);
        assert_ptr_equal(xvm_proc_vmspace(m, 1), vs);
        tm_check(m);
        xvm_vmspace_destroy(hog);
        xvm_machine_destroy(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_kill_mid_trace_xip),
        cmocka_unit_test(test_oom_kill_mid_trace_copy),
        cmocka_unit_test(test_oom_swap_makes_it_fit),
        cmocka_unit_test(test_oom_mlock_stops_at_a_third_of_ram),
        cmocka_unit_test(test_oom_mlock_out_of_ram_kills_nobody),
        cmocka_unit_test(test_oom_split_out_of_ram_kills_nobody),
    };
    return cmocka_run_group_tests(tests, setup, tree_image_teardown);
}
