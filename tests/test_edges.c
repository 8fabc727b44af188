/*
 * The public API at its edges: NULL where a pointer belongs does nothing
 * harmful, host memory follows what a machine uses and not what it could
 * hold, and destroying a machine takes what its caller left open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fstree.h"
#include "xipvm.h"

/* => the process's peak resident set so far, KiB. */
static long peak_kib(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* The most a step below may add to the peak: far under what the sizes
 * asked for (a TiB of RAM or swap) would cost if touched whole. */
#define PEAK_GROWTH_KIB (64L << 10)

/* Calls that fill or read a struct, given NULL: no crash, no write. */
static void test_edges_null_pointers_are_ignored(void **state)
{
    (void)state;
    xvm_machine *m;
    struct xvm_report r;
    struct xvm_savings sv;
    struct xvm_stats st;
    struct xvm_timeline tl;
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    xvm_config_init(NULL);
    xvm_config_fault_ahead(NULL, 1);
    xvm_flash_config_init(NULL);
    xvm_md_config_init(NULL);
    xvm_mount_config_init(NULL);
    xvm_swap_config_init(NULL);
    assert_non_null(xvm_stats_figures(NULL));
    xvm_machine_stats(m, NULL);
    xvm_report(m, NULL);
    xvm_timeline_get(m, NULL);
    xvm_timeline_tick(NULL, 1);
    xvm_timeline_sample(NULL, 1);
    assert_int_equal(xvm_timeline_due(NULL), 0);
    assert_int_equal(xvm_page_size(NULL), 0);
    assert_int_equal(xvm_flash_phys_base(NULL), 0);
    assert_int_equal(xvm_flash_size(NULL), 0);
    /* No machine: the struct comes back zeroed. */
    memset(&st, 0xff, sizeof(st));
    xvm_machine_stats(NULL, &st);
    assert_int_equal(st.faults, 0);
    memset(&r, 0xff, sizeof(r));
    xvm_report(NULL, &r);
    assert_int_equal(r.st.faults, 0);
    memset(&tl, 0xff, sizeof(tl));
    xvm_timeline_get(NULL, &tl);
    assert_int_equal(tl.nsamples, 0);
    xvm_report(m, &r);
    memset(&sv, 0xff, sizeof(sv));
    xvm_report_savings(NULL, &r, &sv);
    assert_int_equal(sv.ram_peak_total, 0);
    xvm_report_savings(&r, NULL, &sv);
    xvm_report_savings(&r, &r, NULL);
    xvm_machine_destroy(m);
}

/* A TiB of swap never written: nothing of it is touched, destroying the
 * machine included (it used to read a pointer for every slot). */
static void test_edges_unused_swap_costs_nothing(void **state)
{
    (void)state;
    xvm_machine *m;
    struct xvm_swap_config sc;
    long before = peak_kib();
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    xvm_swap_config_init(&sc);
    sc.bytes = UINT64_C(1) << 40;
    assert_int_equal(xvm_swapon(m, &sc), 0);
    xvm_machine_destroy(m);
    assert_true(peak_kib() - before < PEAK_GROWTH_KIB);
}

/* The checker walks the frames ever used, not a TiB of RAM's metadata. */
static void test_edges_check_of_a_large_machine_reads_what_it_used(void **state)
{
    (void)state;
    struct xvm_config c;
    xvm_machine *m;
    xvm_vmspace *vs;
    uint64_t a = 0;
    char msg[128];
    long before = peak_kib();
    xvm_config_init(&c);
    c.profile = "amd64";
    c.ram_bytes = UINT64_C(1) << 40;
    assert_int_equal(xvm_machine_create(&c, &m), 0);
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_mmap(vs, &a, 1 << 20, XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    for (uint64_t off = 0; off < 1 << 20; off += 4096)
        assert_int_equal(xvm_write(vs, a + off, "x", 1), 0);
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), 0);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
    assert_true(peak_kib() - before < PEAK_GROWTH_KIB);
}

/* A mount's buffers are frames of RAM: more than the RAM holds are never
 * made (UINT32_MAX used to ask the host for 96 GiB up front), and files
 * the caller left open go with the machine (LeakSanitizer tells). */
static void test_edges_mount_buffers_and_open_files(void **state)
{
    (void)state;
    struct tree_image *ti = tree_image_new();
    struct xvm_config c;
    struct xvm_mount_config mc;
    xvm_machine *m;
    xvm_flash *f;
    xvm_mount *mp;
    xvm_file *fl;
    uint8_t b[8];
    size_t got;
    char msg[128];
    tree_file(ti->tree, "f", 3000, 4);
    image_make_in(ti->img, sizeof(ti->img), ti->dir, "edges.img", ti->tree, 2,
                  "little", 16384, 2048);
    long before = peak_kib();
    xvm_config_init(&c);
    c.profile = "amd64";
    c.ram_bytes = 1 << 20;
    assert_int_equal(xvm_machine_create(&c, &m), 0);
    assert_int_equal(xvm_flash_open(m, ti->img, NULL, &f), 0);
    xvm_mount_config_init(&mc);
    mc.buffers = UINT32_MAX;
    assert_int_equal(xvm_mount_flash(f, &mc, &mp), 0);
    assert_int_equal(xvm_open(mp, "/f", XVM_O_RDONLY, &fl), 0);
    assert_int_equal(xvm_pread(fl, 0, b, sizeof(b), &got), 0);
    assert_int_equal(got, sizeof(b));
    assert_int_equal(xvm_open(mp, "/f", XVM_O_RDONLY, &fl), 0);
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), 0);
    xvm_machine_destroy(m); /* both files still open */
    assert_true(peak_kib() - before < PEAK_GROWTH_KIB);
    tree_image_fini(ti);
    free(ti);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edges_null_pointers_are_ignored),
        cmocka_unit_test(test_edges_unused_swap_costs_nothing),
        cmocka_unit_test(
            test_edges_check_of_a_large_machine_reads_what_it_used),
        cmocka_unit_test(test_edges_mount_buffers_and_open_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
