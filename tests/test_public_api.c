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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_api_calls_work_through_the_shared_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
