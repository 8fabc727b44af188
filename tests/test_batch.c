/*
 * xvm_access_batch against the accesses one by one: two machines built
 * alike run the same random accesses, one through xvm_fetch, xvm_read
 * and xvm_write, the other in batches of random sizes, and every figure
 * of their reports must come out equal, as must each access's error.
 * The accesses are a program's mix: fetches running through XIP text
 * (device pages) with jumps, reads of file data (device pages) and of
 * anonymous memory, writes (first touches, copy-on-write, dirty lines),
 * sizes that straddle lines and pages, and some that fail (nothing
 * mapped: EFAULT; a write to read-only data: EACCES).  Both profiles,
 * the CPU model on (its quick paths against its full one) and off, and
 * a machine small enough for the page daemon to run.
 *
 * The image is made by makefs at test time: one 64 KiB file, mapped as
 * text and as data.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT       UINT64_C(0x20000000) /* /bin/text r-x: device pages */
#define DATA       UINT64_C(0x30000000) /* /bin/text r--: device pages */
#define ANON       UINT64_C(0x40000000) /* rw-, private */
#define HOLE       UINT64_C(0x50000000) /* nothing mapped */
#define FILE_PAGES 16
#define ANON_PAGES 64
#define ACCESSES   40000

static int setup(void **state)
{
    struct tree_image *fx = tree_image_new();
    tree_file(fx->tree, "bin/text", FILE_PAGES * PG, 91);
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "batch.img", fx->tree, 2,
                  "little", 16384, 2048);
    *state = fx;
    return 0;
}

static void map_file(struct tm_world *s, uint64_t at, int prot)
{
    xvm_file *f;
    uint64_t a = at;
    assert_int_equal(xvm_open(s->mp, "/bin/text", XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_mmap_file(s->vs, &a, FILE_PAGES * PG, prot,
                                   XVM_MAP_PRIVATE | XVM_MAP_FIXED, f, 0),
                     0);
    xvm_close(f);
}

/* A machine of profile (the CPU model on or off, ram bytes of RAM), the
 * image mounted XIP, the file mapped at TEXT and DATA, ANON mapped. */
static void up(struct tm_world *s, const struct tree_image *fx,
               const char *profile, bool model, uint64_t ram)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_cpu_profile *p;
    char err[256];
    uint64_t a = ANON;
    memset(s, 0, sizeof(*s));
    assert_int_equal(xvm_cpu_profile_create(profile, &p), 0);
    if (!model &&
        xvm_cpu_profile_set(p, "caches", "off", err, sizeof(err)) != 0)
        fail_msg("profile: %s", err);
    xvm_config_init(&cfg);
    cfg.profile = profile;
    cfg.cpu = p;
    cfg.ram_bytes = ram;
    assert_int_equal(xvm_machine_create(&cfg, &s->m), 0);
    xvm_cpu_profile_destroy(p);
    assert_int_equal(xvm_flash_open(s->m, fx->img, NULL, &s->flash), 0);
    xvm_mount_config_init(&mc);
    mc.flags = ram < UINT64_C(1) << 20 ? 0 : XVM_MOUNT_XIP;
    assert_int_equal(xvm_mount_flash(s->flash, &mc, &s->mp), 0);
    assert_int_equal(xvm_vmspace_create(s->m, &s->vs), 0);
    map_file(s, TEXT, XVM_PROT_READ | XVM_PROT_EXEC);
    map_file(s, DATA, XVM_PROT_READ);
    assert_int_equal(xvm_mmap(s->vs, &a, ANON_PAGES * PG,
                              XVM_PROT_READ | XVM_PROT_WRITE,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     0);
}

/* A program's mix of accesses: fetches mostly in sequence through the
 * text (1 to 15 bytes), data reads and writes of 1 to 16 bytes (one in
 * eight near a page's end, so that some cross it), one in a hundred
 * somewhere nothing is mapped. */
static void program(struct xvm_access *a, size_t n, uint64_t seed)
{
    uint64_t pc = TEXT, s = seed;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = tm_prng(&s), page = (r >> 8) % ANON_PAGES;
        unsigned pick = (unsigned)(r % 100);
        uint32_t len = (uint32_t)(r >> 20) % 16 + 1;
        uint64_t off = (r >> 32) % PG;
        if ((r >> 40) % 8 == 0)
            off = PG - (r >> 44) % 8 - 1; /* near the page's end */
        if (pick < 70) {
            len = len < 15 ? len : 15;
            if ((r >> 50) % 16 == 0 || pc + len > TEXT + FILE_PAGES * PG)
                pc = TEXT + (r >> 12) % (FILE_PAGES * PG - 16); /* a jump */
            a[i] = (struct xvm_access){ pc, len, XVM_ACCESS_FETCH };
            pc += len;
        } else if (pick < 80) {
            a[i] = (struct xvm_access){ DATA + (page % FILE_PAGES) * PG + off,
                                        len, XVM_ACCESS_READ };
        } else if (pick < 89) {
            a[i] = (struct xvm_access){ ANON + page * PG + off, len,
                                        XVM_ACCESS_READ };
        } else if (pick < 98) {
            a[i] = (struct xvm_access){ ANON + page * PG + off, len,
                                        XVM_ACCESS_WRITE };
        } else if (pick < 99) { /* read-only: EACCES */
            a[i] = (struct xvm_access){ DATA + off, len, XVM_ACCESS_WRITE };
        } else {
            a[i] =
                (struct xvm_access){ HOLE + off, len, (uint32_t)(r >> 60) % 3 };
        }
    }
}

static int one(xvm_vmspace *vs, const struct xvm_access *a)
{
    uint8_t buf[16];
    memset(buf, 0, sizeof(buf));
    switch (a->kind) {
    case XVM_ACCESS_FETCH: return xvm_fetch(vs, a->va, buf, a->len);
    case XVM_ACCESS_READ: return xvm_read(vs, a->va, buf, a->len);
    default: return xvm_write(vs, a->va, buf, a->len);
    }
}

/* Every figure of the two machines' reports, by name. */
static void same_reports(const struct tm_world *x, const struct tm_world *y,
                         const char *what)
{
    struct xvm_report rx, ry;
    size_t n;
    const struct xvm_figure *f = xvm_stats_figures(&n);
    xvm_report(x->m, &rx);
    xvm_report(y->m, &ry);
    for (size_t i = 0; i < n; i++) {
        uint64_t vx, vy;
        memcpy(&vx, (const char *)&rx.st + f[i].offset, sizeof(vx));
        memcpy(&vy, (const char *)&ry.st + f[i].offset, sizeof(vy));
        if (vx != vy)
            fail_msg("%s: %s is %llu one by one, %llu in batches", what,
                     f[i].name, (unsigned long long)vx, (unsigned long long)vy);
    }
    assert_int_equal(rx.ram_peak_total, ry.ram_peak_total);
    assert_memory_equal(rx.ram_now, ry.ram_now, sizeof(rx.ram_now));
}

static void compare(const struct tree_image *fx, const char *profile,
                    bool model, uint64_t ram, uint64_t seed)
{
    char what[96];
    struct tm_world one_by_one, batched;
    struct xvm_access *a = calloc(ACCESSES, sizeof(*a));
    int *want = calloc(ACCESSES, sizeof(*want));
    size_t fails = 0;
    assert_non_null(a);
    assert_non_null(want);
    snprintf(what, sizeof(what), "%s, model %s, %llu KiB", profile,
             model ? "on" : "off", (unsigned long long)(ram >> 10));
    program(a, ACCESSES, seed);
    up(&one_by_one, fx, profile, model, ram);
    up(&batched, fx, profile, model, ram);
    for (size_t i = 0; i < ACCESSES; i++) {
        want[i] = one(one_by_one.vs, &a[i]);
        fails += want[i] != 0;
    }
    /* Batches of 1 to 300: on an error the next one starts after it. */
    uint64_t s = seed ^ 0x5bd1e995u;
    for (size_t i = 0; i < ACCESSES;) {
        size_t k = (size_t)(tm_prng(&s) % 300) + 1, done = SIZE_MAX;
        if (k > ACCESSES - i)
            k = ACCESSES - i;
        int error = xvm_access_batch(batched.vs, a + i, k, &done);
        if (error == 0) {
            assert_int_equal(done, k);
            for (size_t j = i; j < i + k; j++)
                if (want[j] != 0)
                    fail_msg("%s: access %zu failed one by one (%d), not in "
                             "a batch",
                             what, j, want[j]);
            i += k;
            continue;
        }
        assert_true(done < k);
        for (size_t j = i; j < i + done; j++)
            assert_int_equal(want[j], 0);
        if (error != want[i + done])
            fail_msg("%s: access %zu: %d in a batch, %d one by one", what,
                     i + done, error, want[i + done]);
        i += done + 1;
    }
    /* The mix must have made errors to test them, and a small RAM the
     * page daemon run. */
    assert_true(fails > ACCESSES / 200);
    if (ram < UINT64_C(1) << 20)
        assert_true(tm_stats(one_by_one.m).pd_freed > 0);
    same_reports(&one_by_one, &batched, what);
    tm_world_down(&one_by_one);
    tm_world_down(&batched);
    free(a);
    free(want);
}

static void test_sgimips_model_on(void **state)
{
    compare(*state, "sgimips", true, UINT64_C(64) << 20, 1);
}

static void test_sgimips_model_off(void **state)
{
    compare(*state, "sgimips", false, UINT64_C(64) << 20, 2);
}

static void test_amd64_model_on(void **state)
{
    compare(*state, "amd64", true, UINT64_C(64) << 20, 3);
}

static void test_amd64_model_off(void **state)
{
    compare(*state, "amd64", false, UINT64_C(64) << 20, 4);
}

/* Copy mode in RAM below what the pages want: the page daemon frees
 * page-cache pages between the accesses of a batch. */
static void test_under_pressure(void **state)
{
    compare(*state, "sgimips", true, UINT64_C(384) << 10, 5);
}

static void test_bad_arguments(void **state)
{
    struct tm_world s;
    struct xvm_access a[3] = {
        { TEXT, 4, XVM_ACCESS_FETCH },
        { ANON, 8, XVM_ACCESS_WRITE },
        { ANON, 8, 3 },
    };
    size_t done = SIZE_MAX;
    up(&s, *state, "sgimips", true, UINT64_C(64) << 20);
    assert_int_equal(xvm_access_batch(NULL, a, 1, &done), EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(xvm_access_batch(s.vs, NULL, 1, &done), EINVAL);
    assert_int_equal(xvm_access_batch(s.vs, NULL, 0, &done), 0);
    assert_int_equal(done, 0);
    struct xvm_stats before = tm_stats(s.m);
    /* A kind out of range stops the batch there: the two before it ran. */
    assert_int_equal(xvm_access_batch(s.vs, a, 3, &done), EINVAL);
    assert_int_equal(done, 2);
    struct xvm_stats after = tm_stats(s.m);
    assert_true(after.faults > before.faults);
    assert_int_equal(tm_rd8(s.vs, ANON), 0); /* a batch's write: zeros */
    assert_int_equal(xvm_access_batch(s.vs, a, 2, NULL), 0);
    tm_world_down(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgimips_model_on),
        cmocka_unit_test(test_sgimips_model_off),
        cmocka_unit_test(test_amd64_model_on),
        cmocka_unit_test(test_amd64_model_off),
        cmocka_unit_test(test_under_pressure),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, tree_image_teardown);
}
