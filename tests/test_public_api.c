/*
 * Links only against the installed interface (the shared library and
 * xipvm.h): every call a user makes must be exported.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "xipvm.h"

static void test_public_api_calls_work_through_the_shared_library(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_vmspace *vs, *child;
    xvm_object *aobj;
    uint64_t a = 0, s = 0, pa;
    char msg[128];

    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    assert_int_equal(xvm_page_size(m), 4096);
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_aobj_create(m, 8192, &aobj), 0);
    assert_int_equal(xvm_mmap(vs, &a, 8192, XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_SHARED, aobj, 0),
                     0);
    assert_int_equal(xvm_mmap(vs, &s, 4096, XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    assert_int_equal(xvm_write(vs, a + 4095, "hi", 2), 0);
    assert_int_equal(xvm_vmspace_fork(vs, &child), 0);
    char buf[2];
    assert_int_equal(xvm_read(child, a + 4095, buf, 2), 0);
    assert_memory_equal(buf, "hi", 2);
    assert_int_equal(xvm_extract(child, a + 4096, &pa), 0);
    assert_int_equal(xvm_madvise(vs, a, 8192, XVM_ADV_SEQUENTIAL), 0);
    assert_int_equal(xvm_mlock(vs, s, 4096), 0);
    assert_int_equal(xvm_munlock(vs, s, 4096), 0);
    assert_int_equal(xvm_minherit(vs, s, 4096, XVM_INHERIT_NONE), 0);
    assert_int_equal(xvm_mprotect(vs, s, 4096, XVM_PROT_READ), 0);
    assert_int_equal(xvm_fetch(vs, s, buf, 1), EACCES);
    assert_int_equal(xvm_munmap(vs, s, 4096), 0);
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), 0);
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.pages[XVM_USE_AOBJ], 2);
    assert_string_equal(xvm_use_name(XVM_USE_AOBJ), "aobj");
    xvm_object_release(aobj);
    xvm_vmspace_destroy(child);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* Each profile's most RAM: refused past it with ERANGE, taken at it; and
 * its least. */
static void test_public_api_ram_max_per_profile(void **state)
{
    (void)state;
    struct xvm_config cfg;
    xvm_machine *m;
    assert_int_equal(xvm_profile_ram_max("sgimips"), (uint64_t)3 << 30);
    assert_int_equal(xvm_profile_ram_max("amd64"), (uint64_t)8 << 40);
    assert_int_equal(xvm_profile_ram_max("vax"), 0);
    assert_int_equal(xvm_profile_swap_max("sgimips"), ((UINT64_C(1) << 32) - 2)
                                                          << 12);
    assert_int_equal(xvm_profile_swap_max("vax"), 0);
    xvm_config_init(&cfg);
    cfg.ram_bytes = ((uint64_t)3 << 30) + 4096;
    assert_int_equal(xvm_machine_create(&cfg, &m), ERANGE);
    cfg.ram_bytes = (uint64_t)4 << 30;
    assert_int_equal(xvm_machine_create(&cfg, &m), ERANGE);
    cfg.ram_bytes = (uint64_t)3 << 30;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    xvm_machine_destroy(m);
    cfg.profile = "amd64";
    cfg.ram_bytes = ((uint64_t)8 << 40) + 4096;
    assert_int_equal(xvm_machine_create(&cfg, &m), ERANGE);
    /* The least: taken at it, EINVAL a page below. */
    assert_int_equal(xvm_profile_ram_min("vax"), 0);
    for (int k = 0; k < 2; k++) {
        cfg.profile = k ? "amd64" : "sgimips";
        cfg.ram_bytes = xvm_profile_ram_min(cfg.profile);
        assert_int_equal(cfg.ram_bytes, 4 * 4096);
        assert_int_equal(xvm_machine_create(&cfg, &m), 0);
        xvm_machine_destroy(m);
        cfg.ram_bytes -= 4096;
        assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    }
}

/* A profile text with a bad line changes nothing, not even the keys
 * before that line: the check still sees the profile as it was. */
static void test_public_api_cpu_profile_parse_is_all_or_nothing(void **state)
{
    (void)state;
    xvm_cpu_profile *p;
    char err[200];
    assert_int_equal(xvm_cpu_profile_create("sgimips", &p), 0);
    /* 2 MiB pages do not fit an R4000 TLB: applied, the check fails */
    assert_int_equal(xvm_cpu_profile_parse(p,
                                           "superpage_sizes = 2M\nbogus = 1\n",
                                           "f", err, sizeof(err)),
                     EINVAL);
    assert_int_equal(xvm_cpu_profile_check(p, err, sizeof(err)), 0);
    xvm_cpu_profile_destroy(p);
    assert_int_equal(xvm_cpu_profile_create(NULL, &p), 0);
    assert_int_equal(xvm_cpu_profile_parse(p, "clock_mhz = 100\nI1 = 1,2,3\n",
                                           "f", err, sizeof(err)),
                     EINVAL);
    assert_int_equal(xvm_cpu_profile_check(p, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "clock_mhz")); /* still no clock */
    xvm_cpu_profile_destroy(p);
}

/* CPU profiles: the built-ins, a key changed, a machine made from one,
 * and its time in the report (a fetch of a fresh page takes time). */
static void test_public_api_cpu_profiles_and_time(void **state)
{
    (void)state;
    xvm_cpu_profile *p;
    char err[200];
    size_t n = 0;
    while (xvm_cpu_builtin(n) != NULL)
        n++;
    assert_true(n >= 3);
    assert_non_null(xvm_cpu_builtin_text("cortex-a7"));
    assert_null(xvm_cpu_builtin_text("vax"));
    assert_int_equal(xvm_cpu_profile_create("cortex-a7", &p), 0);
    assert_int_equal(
        xvm_cpu_profile_set(p, "clock_mhz", "500", err, sizeof(err)), 0);
    assert_int_equal(xvm_cpu_profile_parse(p, "superpages = on\n", "extra", err,
                                           sizeof(err)),
                     0);
    assert_int_equal(xvm_cpu_profile_check(p, err, sizeof(err)), 0);
    assert_int_equal(xvm_cpu_profile_set(p, "nonsense", "1", err, sizeof(err)),
                     EINVAL);
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_vmspace *vs;
    uint64_t a = 0;
    uint8_t b[4];
    xvm_config_init(&cfg);
    cfg.cpu = p;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    xvm_cpu_profile_destroy(p); /* the machine keeps its own copy */
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(
        xvm_mmap(vs, &a, 4096, XVM_PROT_ALL, XVM_MAP_PRIVATE, NULL, 0), 0);
    assert_int_equal(xvm_fetch(vs, a, b, 4), 0);
    struct xvm_report r, r2;
    struct xvm_savings sv;
    xvm_report(m, &r);
    assert_int_equal(r.st.i1_refs, 1);
    assert_int_equal(r.st.i1_misses, 1);
    assert_true(r.st.time_ns > 0 && r.st.cycles > 0);
    assert_int_equal(r.st.time_ns_exec + r.st.stall_ns_ram +
                         r.st.stall_ns_flash + r.st.time_ns_tlb +
                         r.st.time_ns_kernel,
                     r.st.time_ns);
    r2 = r;
    r2.st.time_ns *= 2;
    xvm_report_savings(&r2, &r, &sv);
    assert_true(sv.slowdown > 1.99 && sv.slowdown < 2.01);
    /* By kind, the share of copy's peak saved; 0 where copy had none. */
    memset(&r, 0, sizeof(r));
    memset(&r2, 0, sizeof(r2));
    r.ram_peak[XVM_RAM_PAGECACHE] = 4 * 4096;
    r2.ram_peak[XVM_RAM_PAGECACHE] = 4096;
    r.ram_peak[XVM_RAM_ANON] = 4096;
    r2.ram_peak[XVM_RAM_ANON] = 2 * 4096;
    r2.ram_peak[XVM_RAM_ZERO] = 4096;
    xvm_report_savings(&r2, &r, &sv);
    assert_true(sv.ram_peak_percent[XVM_RAM_PAGECACHE] == 75.0);
    assert_true(sv.ram_peak_percent[XVM_RAM_ANON] == -100.0);
    assert_true(sv.ram_peak_percent[XVM_RAM_ZERO] == 0.0);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* Sizing: free targets, swap, kernel memory and the OOM killer. */
static void test_public_api_sizing_calls_are_exported(void **state)
{
    (void)state;
    struct xvm_config cfg;
    struct xvm_swap_config sc;
    xvm_machine *m;
    xvm_vmspace *vs;
    uint32_t pid;
    uint64_t a = 0;

    assert_non_null(xvm_version());
    xvm_config_init(&cfg);
    cfg.ram_bytes = 64 * 4096;
    cfg.freemin = 2 * 4096;
    cfg.freetarg = 4 * 4096;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    xvm_swap_config_init(&sc);
    sc.bytes = 1 << 20;
    assert_int_equal(xvm_swapon(m, &sc), 0);
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_mmap(vs, &a, 128 * 4096,
                              XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE,
                              NULL, 0),
                     0);
    for (uint64_t p = 0; p < 128; p++)
        assert_int_equal(xvm_write(vs, a + p * 4096, &p, sizeof(p)), 0);
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.freemin, 2);
    assert_int_equal(st.freetarg, 4);
    assert_true(st.swap_outs > 0 && st.kmem_bytes > 0);
    assert_int_equal(st.kmem_units[XVM_KMEM_VMSPACE], 1);
    assert_string_equal(xvm_kmem_type_name(XVM_KMEM_MAP_ENTRY), "map_entry");
    assert_string_equal(xvm_ram_kind_name(XVM_RAM_KERNEL), "kernel");
    assert_int_equal(xvm_oom_next(m, &pid), ENOENT);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* Beyond the paper: memory disks, designs, the reserve and loans. */
static void test_public_api_beyond_calls_are_exported(void **state)
{
    (void)state;
    struct xvm_config cfg;
    struct xvm_flash_config fc;
    static uint8_t img[8 * 4096];
    xvm_machine *m;
    xvm_flash *f;
    xvm_vmspace *vs;
    xvm_loan *ln;
    uint64_t a = 0, v = 7;

    xvm_config_init(&cfg);
    cfg.device_design = XVM_DESIGN_VM_PAGE;
    cfg.neighbour_reserve = 4096;
    cfg.neighbour_pv_limit = 100;
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    assert_string_equal(xvm_device_design_name(XVM_DESIGN_AMAP_COPY),
                        "amap-copy");
    xvm_md_config_init(&fc);
    assert_int_equal(fc.device, XVM_DEVICE_MD);
    assert_int_equal(xvm_flash_attach(m, img, sizeof(img), &fc, &f), 0);
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_mmap(vs, &a, 4096, XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    assert_int_equal(xvm_write(vs, a, &v, sizeof(v)), 0);
    assert_int_equal(xvm_loan_start(vs, a, sizeof(v), &ln), 0);
    v = 8;
    assert_int_equal(xvm_write(vs, a, &v, sizeof(v)), 0);
    assert_int_equal(xvm_loan_read(ln, 0, &v, sizeof(v)), 0);
    assert_int_equal(v, 7);
    xvm_loan_end(ln);
    struct xvm_stats st;
    xvm_machine_stats(m, &st);
    assert_int_equal(st.md_pages, 8);
    assert_int_equal(st.loan_breaks, 1);
    assert_int_equal(st.device_metadata_bytes, 8 * 72);
    assert_string_equal(xvm_ram_kind_name(XVM_RAM_MD), "md");
    assert_string_equal(xvm_ram_kind_name(XVM_RAM_LOAN), "loan");
    xvm_vmspace_destroy(vs);
    assert_int_equal(xvm_flash_close(f), 0);
    xvm_machine_destroy(m);
}

/* Every process call answers a NULL machine, or a NULL result pointer,
 * as a bad argument (EINVAL), as spawn, fork, exec and oom_next do; a
 * pid that is not there is ESRCH. */
static void test_public_api_process_calls_refuse_null_alike(void **state)
{
    (void)state;
    struct xvm_proc_info info;
    uint32_t pid;
    xvm_machine *m;
    assert_int_equal(xvm_spawn(NULL, NULL, 1, "/p", 0, NULL), EINVAL);
    assert_int_equal(xvm_fork(NULL, 1, 2), EINVAL);
    assert_int_equal(xvm_exec(NULL, 1, "/p", 0, NULL), EINVAL);
    assert_int_equal(xvm_oom_next(NULL, &pid), EINVAL);
    assert_int_equal(xvm_exit(NULL, 1), EINVAL);
    assert_int_equal(xvm_brk(NULL, 1, 0), EINVAL);
    assert_int_equal(xvm_proc_info(NULL, 1, &info), EINVAL);
    assert_null(xvm_proc_vmspace(NULL, 1));
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    assert_int_equal(xvm_oom_next(m, NULL), EINVAL);
    assert_int_equal(xvm_proc_info(m, 1, NULL), EINVAL);
    assert_int_equal(xvm_fork(m, 1, 2), ESRCH);
    assert_int_equal(xvm_exit(m, 1), ESRCH);
    assert_int_equal(xvm_brk(m, 1, 0), ESRCH);
    assert_int_equal(xvm_proc_info(m, 1, &info), ESRCH);
    xvm_machine_destroy(m);
}

/* An access that fails part way (the next page is not mapped) has moved
 * the bytes of the pages before it, as the header says, and no more. */
static void test_public_api_access_failing_midway_moved_earlier_pages(
    void **state)
{
    (void)state;
    enum { PG = 4096 };
    static uint8_t out[2 * PG], in[2 * PG], zeros[2 * PG];
    xvm_machine *m;
    xvm_vmspace *vs;
    uint64_t a = 0;
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(xvm_mmap(vs, &a, 2 * PG, XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    assert_int_equal(xvm_munmap(vs, a + PG, PG), 0);
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(xvm_write(vs, a + 8, out, PG), EFAULT);
    memset(in, 0xee, sizeof(in));
    assert_int_equal(xvm_read(vs, a, in, PG), 0);
    assert_memory_equal(in, zeros, 8);
    assert_memory_equal(in + 8, out, PG - 8);
    memset(in, 0xee, sizeof(in));
    assert_int_equal(xvm_read(vs, a + 8, in, PG), EFAULT);
    assert_memory_equal(in, out, PG - 8);
    assert_int_equal(in[PG - 8], 0xee); /* nothing past the hole */
    assert_int_equal(xvm_read(vs, a, NULL, 1), EINVAL);
    assert_int_equal(xvm_read(vs, a, NULL, 0), 0);
    assert_int_equal(xvm_write(NULL, a, out, 1), EINVAL);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* A device object over a flash's window holds the window: the flash
 * does not close under it (EBUSY), mapped or not, faulted or not; once
 * the object is gone it closes.  Before, the close succeeded and the
 * next fault on the object entered a page of a segment that was gone. */
static void test_public_api_flash_close_waits_for_device_objects(void **state)
{
    (void)state;
    enum { PG = 4096 };
    static uint8_t img[16 * PG];
    xvm_machine *m;
    xvm_flash *f;
    xvm_object *dobj;
    xvm_vmspace *vs;
    uint64_t a = 0;
    uint8_t v = 0;
    char msg[128];
    memset(img, 0xab, sizeof(img));
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    assert_int_equal(xvm_flash_attach(m, img, sizeof(img), NULL, &f), 0);
    uint64_t base = xvm_flash_phys_base(f);
    assert_int_equal(xvm_devobj_create(m, base + 4 * PG, 4 * PG, &dobj), 0);
    assert_int_equal(xvm_flash_close(f), EBUSY); /* not even mapped */
    assert_int_equal(xvm_vmspace_create(m, &vs), 0);
    assert_int_equal(
        xvm_mmap(vs, &a, 4 * PG, XVM_PROT_READ, XVM_MAP_SHARED, dobj, 0), 0);
    xvm_object_release(dobj);                    /* the mapping holds it now */
    assert_int_equal(xvm_flash_close(f), EBUSY); /* mapped, not faulted */
    assert_int_equal(xvm_read(vs, a + PG, &v, 1), 0);
    assert_int_equal(v, 0xab);
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), 0);
    assert_int_equal(xvm_munmap(vs, a, 4 * PG), 0);
    assert_int_equal(xvm_flash_close(f), 0);
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), 0);
    xvm_vmspace_destroy(vs);
    xvm_machine_destroy(m);
}

/* The figures table names every scalar of struct xvm_stats once, in
 * declaration order but io_ns, and none of its arrays, as the header
 * says: the words it covers and the arrays' words add up to the whole. */
static void test_public_api_figures_cover_every_scalar_once(void **state)
{
    (void)state;
    enum { WORDS = sizeof(struct xvm_stats) / sizeof(uint64_t) };
    static const struct {
        size_t offset, n;
    } arrays[] = {
        { offsetof(struct xvm_stats, pages), XVM_USE_COUNT },
        { offsetof(struct xvm_stats, pages_peak), XVM_USE_COUNT },
        { offsetof(struct xvm_stats, kmem_units), XVM_KMEM_TYPES },
        { offsetof(struct xvm_stats, kmem_units_peak), XVM_KMEM_TYPES },
        { offsetof(struct xvm_stats, kmem_unit_bytes), XVM_KMEM_TYPES },
    };
    unsigned covered[WORDS] = { 0 };
    size_t n, in_arrays = 0;
    const struct xvm_figure *f = xvm_stats_figures(&n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(f[i].offset % sizeof(uint64_t), 0);
        assert_true(f[i].offset < sizeof(struct xvm_stats));
        covered[f[i].offset / sizeof(uint64_t)]++;
        if (i > 0 && strcmp(f[i].name, "io_ns") != 0)
            assert_true(f[i].offset > f[i - 1].offset ||
                        strcmp(f[i - 1].name, "io_ns") == 0);
    }
    for (size_t a = 0; a < sizeof(arrays) / sizeof(arrays[0]); a++)
        for (size_t j = 0; j < arrays[a].n; j++, in_arrays++)
            covered[arrays[a].offset / sizeof(uint64_t) + j]++;
    for (size_t w = 0; w < WORDS; w++)
        assert_int_equal(covered[w], 1);
    assert_int_equal(n + in_arrays, WORDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_api_calls_work_through_the_shared_library),
        cmocka_unit_test(test_public_api_ram_max_per_profile),
        cmocka_unit_test(test_public_api_cpu_profiles_and_time),
        cmocka_unit_test(test_public_api_cpu_profile_parse_is_all_or_nothing),
        cmocka_unit_test(test_public_api_sizing_calls_are_exported),
        cmocka_unit_test(test_public_api_beyond_calls_are_exported),
        cmocka_unit_test(test_public_api_process_calls_refuse_null_alike),
        cmocka_unit_test(
            test_public_api_access_failing_midway_moved_earlier_pages),
        cmocka_unit_test(test_public_api_flash_close_waits_for_device_objects),
        cmocka_unit_test(test_public_api_figures_cover_every_scalar_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
