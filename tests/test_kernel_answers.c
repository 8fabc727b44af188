/*
 * The answers of doc/differences.md, row by row: where libxipvm answers
 * as Linux and NetBSD both do (a writable shared mapping of a file opened
 * read-only is EACCES; mprotect of length 0 succeeds), and where it
 * deliberately answers otherwise (mmap past EOF, a range call over a
 * hole, write-only and exec-only pages, munmap of length 0, unaligned
 * addresses and offsets, PROT_MPROTECT, device memory, directories, the
 * zero page, out of RAM).  Each refusal is checked to change nothing.
 * (exec's rows are held by test_exec: ENOEXEC for PT_INTERP, ET_DYN at
 * 0x01000000, the stack at the top.)
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R    XVM_PROT_READ
#define W    XVM_PROT_WRITE
#define X    XVM_PROT_EXEC
#define RW   (R | W)
#define BASE UINT64_C(0x10000000)

static int setup(void **state)
{
    struct tree_image *fx = tree_image_new();
    tree_file(fx->tree, "f", 2 * PG + 100, 5); /* three pages */
    tree_dir(fx->tree, "d");
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "answers.img", fx->tree, 2,
                  "little", 16384, 4096);
    *state = fx;
    return 0;
}

/* The map, entry by entry, as a string: "start-end prot inherit advice
 * wired;" — to show that a refused call changed nothing. */
static void layout(xvm_vmspace *vs, char *buf, size_t len)
{
    struct xvm_map_entry_info e;
    size_t at = 0;
    buf[0] = '\0';
    for (uint64_t a = 0; xvm_map_entry_next(vs, a, &e) == 0; a = e.end)
        at += (size_t)snprintf(buf + at, len - at, "%llx-%llx %u %d %d %d;",
                               (unsigned long long)e.start,
                               (unsigned long long)e.end, e.prot, e.inherit,
                               e.advice, e.wired);
}

static uint64_t map_at(xvm_vmspace *vs, uint64_t addr, uint64_t pages, int prot)
{
    assert_int_equal(xvm_mmap(vs, &addr, pages * PG, prot,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     0);
    return addr;
}

/* Files: EACCES for a writable shared mapping of a file opened read-only
 * (both kernels); EINVAL past the end (both kernels map it); EISDIR. */
static void test_answers_files(void **state)
{
    struct tree_image *fx = *state;
    struct tm_world w;
    xvm_file *f;
    uint64_t a = 0;
    tm_world_up(&w, "amd64", 4u << 20, 0, fx->img, 1, 0);
    assert_int_equal(xvm_open(w.mp, "f", XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_mmap_file(w.vs, &a, PG, RW, XVM_MAP_SHARED, f, 0),
                     EACCES);
    assert_int_equal(xvm_mmap_file(w.vs, &a, PG, R | XVM_PROT_MPROTECT(RW),
                                   XVM_MAP_SHARED, f, 0),
                     0);
    assert_int_equal(xvm_mprotect(w.vs, a, PG, RW), EACCES);
    assert_int_equal(xvm_mmap_file(w.vs, &a, PG, RW, XVM_MAP_PRIVATE, f, 0), 0);
    /* Three pages: the fourth, or a length past the third, is refused. */
    assert_int_equal(xvm_mmap_file(w.vs, &a, PG, R, XVM_MAP_PRIVATE, f, 3 * PG),
                     EINVAL);
    assert_int_equal(xvm_mmap_file(w.vs, &a, 4 * PG, R, XVM_MAP_PRIVATE, f, 0),
                     EINVAL);
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, 2 * PG, R, XVM_MAP_PRIVATE, f, 2 * PG), EINVAL);
    assert_int_equal(xvm_mmap_file(w.vs, &a, 3 * PG, R, XVM_MAP_PRIVATE, f, 0),
                     0);
    uint8_t v = 1;
    assert_int_equal(xvm_read(w.vs, a + 2 * PG + 100, &v, 1), 0);
    assert_int_equal(v, 0); /* past EOF in the last page: zero */
    /* An offset not page aligned. */
    assert_int_equal(xvm_mmap_file(w.vs, &a, PG, R, XVM_MAP_PRIVATE, f, 100),
                     EINVAL);
    xvm_file *d;
    assert_int_equal(xvm_open(w.mp, "d", XVM_O_RDONLY, &d), EISDIR);
    xvm_close(f);
    tm_world_down(&w);
}

/* A range call over a hole: ENOMEM and nothing changed (Linux changes the
 * part before the hole, NetBSD skips the hole). */
static void test_answers_hole_changes_nothing(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    char before[512], after[512];
    map_at(vs, BASE, 2, RW);
    map_at(vs, BASE + 3 * PG, 2, RW); /* AA.BB */
    tm_wr8(vs, BASE, 1);
    layout(vs, before, sizeof(before));
    assert_int_equal(xvm_mprotect(vs, BASE, 5 * PG, R), ENOMEM);
    assert_int_equal(xvm_minherit(vs, BASE, 5 * PG, XVM_INHERIT_NONE), ENOMEM);
    assert_int_equal(xvm_madvise(vs, BASE, 5 * PG, XVM_ADV_RANDOM), ENOMEM);
    assert_int_equal(xvm_mlock(vs, BASE, 5 * PG), ENOMEM);
    assert_int_equal(xvm_munlock(vs, BASE, 5 * PG), ENOMEM);
    layout(vs, after, sizeof(after));
    assert_string_equal(after, before);
    struct xvm_page_info pi;
    assert_int_equal(xvm_page_info(vs, BASE, &pi), 0);
    assert_int_equal(pi.writable, 1);
    assert_int_equal(pi.wired, 0);
    tm_wr8(vs, BASE, 2); /* still writable */
    /* munmap over the hole is fine (both kernels). */
    assert_int_equal(xvm_munmap(vs, BASE, 5 * PG), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Write-only and exec-only pages refuse reads (x86 and mips grant them). */
static void test_answers_write_only_and_exec_only_refuse_reads(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint8_t v = 7;
    map_at(vs, BASE, 1, W);
    map_at(vs, BASE + PG, 1, X);
    assert_int_equal(xvm_write(vs, BASE, &v, 1), 0);
    assert_int_equal(xvm_read(vs, BASE, &v, 1), EACCES);
    assert_int_equal(xvm_fetch(vs, BASE, &v, 1), EACCES);
    assert_int_equal(xvm_fetch(vs, BASE + PG, &v, 1), 0);
    assert_int_equal(v, 0);
    assert_int_equal(xvm_read(vs, BASE + PG, &v, 1), EACCES);
    assert_int_equal(xvm_write(vs, BASE + PG, &v, 1), EACCES);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Lengths of 0 and unaligned addresses. */
static void test_answers_zero_lengths_and_alignment(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    char before[512], after[512];
    map_at(vs, BASE, 2, RW);
    layout(vs, before, sizeof(before));
    /* Length 0: success where both kernels succeed, even over nothing. */
    assert_int_equal(xvm_mprotect(vs, BASE, 0, R), 0);
    assert_int_equal(xvm_mprotect(vs, BASE + 64 * PG, 0, R), 0);
    assert_int_equal(xvm_minherit(vs, BASE, 0, XVM_INHERIT_NONE), 0);
    assert_int_equal(xvm_madvise(vs, BASE, 0, XVM_ADV_RANDOM), 0);
    assert_int_equal(xvm_mlock(vs, BASE, 0), 0);
    assert_int_equal(xvm_munlock(vs, BASE, 0), 0);
    /* ... munmap of 0 is Linux's EINVAL; a bad prot is refused first. */
    assert_int_equal(xvm_munmap(vs, BASE, 0), EINVAL);
    assert_int_equal(xvm_mprotect(vs, BASE, 0, 0x100), EINVAL);
    /* Unaligned addresses: EINVAL, with or without a length. */
    assert_int_equal(xvm_mprotect(vs, BASE + 1, 0, R), EINVAL);
    assert_int_equal(xvm_mprotect(vs, BASE + 1, PG, R), EINVAL);
    assert_int_equal(xvm_munmap(vs, BASE + 1, PG), EINVAL);
    assert_int_equal(xvm_minherit(vs, BASE + 1, PG, XVM_INHERIT_NONE), EINVAL);
    assert_int_equal(xvm_madvise(vs, BASE + 1, PG, XVM_ADV_RANDOM), EINVAL);
    assert_int_equal(xvm_mlock(vs, BASE + 1, PG), EINVAL);
    assert_int_equal(xvm_munlock(vs, BASE + 1, PG), EINVAL);
    layout(vs, after, sizeof(after));
    assert_string_equal(after, before);
    /* mmap of length 0: EINVAL (Linux, POSIX). */
    uint64_t a = 0;
    assert_int_equal(xvm_mmap(vs, &a, 0, R, XVM_MAP_PRIVATE, NULL, 0), EINVAL);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* PROT_MPROTECT sets the maximum exactly; mlock of PROT_NONE; device
 * memory is never writable shared; mlock refuses device pages. */
static void test_answers_max_protection_wiring_and_device_memory(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = BASE;
    assert_int_equal(xvm_mmap(vs, &a, PG, RW | XVM_PROT_MPROTECT(R),
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     EACCES);
    assert_int_equal(xvm_mmap(vs, &a, PG, R | XVM_PROT_MPROTECT(R | X),
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, NULL, 0),
                     0);
    assert_int_equal(xvm_mprotect(vs, a, PG, R | X), 0);
    assert_int_equal(xvm_mprotect(vs, a, PG, RW), EACCES);
    map_at(vs, BASE + PG, 1, XVM_PROT_NONE);
    assert_int_equal(xvm_mlock(vs, BASE + PG, PG), EACCES);

    uint8_t *mem = calloc(1, PG);
    xvm_object *dev;
    assert_int_equal(xvm_physload_device(m, 0x40000000, PG, mem), 0);
    assert_int_equal(xvm_devobj_create(m, 0x40000000, PG, &dev), 0);
    uint64_t d = 0;
    assert_int_equal(xvm_mmap(vs, &d, PG, RW, XVM_MAP_SHARED, dev, 0), EACCES);
    assert_int_equal(xvm_mmap(vs, &d, PG, R, XVM_MAP_SHARED, dev, 0), 0);
    assert_int_equal(xvm_mlock(vs, d, PG), EINVAL);
    xvm_vmspace_destroy(vs);
    xvm_object_release(dev);
    tm_check(m);
    xvm_machine_destroy(m);
    free(mem);
}

/* Reads of untouched anonymous memory map the zero page; out of RAM, the
 * access says ENOMEM and the space goes on working. */
static void test_answers_zero_page_and_out_of_ram(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 256u << 10, 0); /* 64 frames */
    xvm_vmspace *vs = tm_vs(m);
    const uint64_t pages = 128;
    uint64_t a = map_at(vs, BASE, pages, RW);
    struct xvm_stats st0 = tm_stats(m);
    for (uint64_t p = 0; p < pages; p++)
        assert_int_equal(tm_rd8(vs, a + p * PG), 0);
    struct xvm_page_info pi;
    assert_int_equal(xvm_page_info(vs, a + 7 * PG, &pi), 0);
    assert_int_equal(pi.kind, XVM_PAGE_ZERO);
    assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], st0.pages[XVM_USE_ANON]);
    uint64_t p, failed = 0;
    for (p = 0; p < pages && !failed; p++) {
        uint8_t v = (uint8_t)(p + 1);
        int e = xvm_write(vs, a + p * PG, &v, 1);
        if (e)
            failed = p + 1, assert_int_equal(e, ENOMEM);
    }
    assert_true(failed > 0); /* 128 pages do not fit in 64 frames */
    tm_check(m);
    /* The pages written before are intact, and freeing some lets it on. */
    assert_int_equal(tm_rd8(vs, a), 1);
    assert_int_equal(xvm_munmap(vs, a, 16 * PG), 0);
    tm_wr8(vs, a + (failed - 1) * PG, 0x42);
    assert_int_equal(tm_rd8(vs, a + (failed - 1) * PG), 0x42);
    tm_check(m);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_files),
        cmocka_unit_test(test_answers_hole_changes_nothing),
        cmocka_unit_test(test_answers_write_only_and_exec_only_refuse_reads),
        cmocka_unit_test(test_answers_zero_lengths_and_alignment),
        cmocka_unit_test(test_answers_max_protection_wiring_and_device_memory),
        cmocka_unit_test(test_answers_zero_page_and_out_of_ram),
    };
    return cmocka_run_group_tests(tests, setup, tree_image_teardown);
}
