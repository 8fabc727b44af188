/*
 * The VM engine end to end through the public API: copy-on-write,
 * inheritance, protection, unmapping, zero-fill, exit orders, running out
 * of RAM, device pages.  The machine checker runs after every step.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RW (XVM_PROT_READ | XVM_PROT_WRITE)

static const char *const profiles[] = { "sgimips", "amd64" };

/*
 * Parent P writes AAAA; fork C; C writes page 0 (B); fork G from C;
 * P writes page 1 (D).  Each sees its own:
 *   P: D? -> A D A A    C: B A A A    G: B A A A
 */
static void test_fault_cow_after_fork_parent_child_grandchild(void **state)
{
    (void)state;
    for (size_t p = 0; p < 2; p++) {
        xvm_machine *m = tm_machine(profiles[p], 4u << 20, 1);
        xvm_vmspace *P, *C, *G;
        P = tm_vs(m);
        uint64_t a = tm_anon(P, 4, RW, XVM_MAP_PRIVATE);
        for (int i = 0; i < 4; i++)
            tm_wr8(P, a + i * PG + 7, 'A');
        tm_check(m);
        uint64_t anon_before = tm_stats(m).pages[XVM_USE_ANON];
        uint64_t used_before =
            tm_stats(m).ram_pages - tm_stats(m).pages[XVM_USE_FREE];

        assert_int_equal(xvm_vmspace_fork(P, &C), 0);
        tm_check(m);
        /* No page is copied at fork: only the child's root table is new. */
        assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], anon_before);
        assert_int_equal(tm_stats(m).ram_pages -
                             tm_stats(m).pages[XVM_USE_FREE],
                         used_before + 1);

        tm_wr8(C, a + 7, 'B');
        tm_check(m);
        assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], anon_before + 1);
        assert_int_equal(xvm_vmspace_fork(C, &G), 0);
        tm_check(m);
        tm_wr8(P, a + PG + 7, 'D');
        tm_check(m);

        assert_int_equal(tm_rd8(P, a + 7), 'A');
        assert_int_equal(tm_rd8(P, a + PG + 7), 'D');
        assert_int_equal(tm_rd8(C, a + 7), 'B');
        assert_int_equal(tm_rd8(C, a + PG + 7), 'A');
        assert_int_equal(tm_rd8(G, a + 7), 'B');
        assert_int_equal(tm_rd8(G, a + PG + 7), 'A');
        tm_wr8(G, a + 7, 'G');
        tm_check(m);
        assert_int_equal(tm_rd8(C, a + 7), 'B');
        assert_int_equal(tm_rd8(G, a + 7), 'G');
        assert_int_equal(tm_rd8(P, a + 3 * PG + 7), 'A');
        assert_true(tm_stats(m).cow_promotions >= 3);
        xvm_vmspace_destroy(C);
        tm_check(m);
        assert_int_equal(tm_rd8(G, a + PG + 7), 'A');
        xvm_vmspace_destroy(G);
        xvm_vmspace_destroy(P);
        tm_check(m);
        assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], 0);
        assert_int_equal(tm_stats(m).pv_entries, 0);
        xvm_machine_destroy(m);
    }
}

/* P's private pages a (3) inherited shared by its child C, and a shared
 * mapping s (2): C's writes show in P and P's in C. */
struct share {
    xvm_machine *m;
    xvm_vmspace *P, *C;
    uint64_t a, s;
};

static struct share share_child_writes_parent_sees(void)
{
    struct share t;
    xvm_machine *m = t.m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *P, *C;
    P = t.P = tm_vs(m);
    uint64_t a = t.a = tm_anon(P, 3, RW, XVM_MAP_PRIVATE);
    uint64_t s = t.s = tm_anon(P, 2, RW, XVM_MAP_SHARED);
    tm_wr8(P, a, 1);
    assert_int_equal(xvm_minherit(P, a, 3 * PG, XVM_INHERIT_SHARE), 0);
    tm_check(m);
    assert_int_equal(xvm_vmspace_fork(P, &C), 0);
    t.C = C;
    tm_check(m);
    tm_wr8(C, a, 2);
    tm_wr8(C, a + 2 * PG, 3); /* never touched before the fork */
    tm_wr8(C, s + PG, 4);     /* MAP_SHARED: shared by default */
    tm_check(m);
    assert_int_equal(tm_rd8(P, a), 2);
    assert_int_equal(tm_rd8(P, a + 2 * PG), 3);
    assert_int_equal(tm_rd8(P, s + PG), 4);
    tm_wr8(P, a + PG, 5);
    assert_int_equal(tm_rd8(C, a + PG), 5);
    tm_check(m);
    return t;
}

static void test_fault_inherit_share_child_writes_parent_sees(void **state)
{
    (void)state;
    struct share t = share_child_writes_parent_sees();
    xvm_machine_destroy(t.m);
}

/* A copy-inheriting grandchild takes its own copy of the shared amap. */
static void test_fault_copy_inheriting_grandchild_copies_the_shared_amap(
    void **state)
{
    (void)state;
    struct share t = share_child_writes_parent_sees();
    xvm_machine *m = t.m;
    xvm_vmspace *P = t.P, *C = t.C, *G;
    uint64_t a = t.a;
    assert_int_equal(xvm_minherit(C, a, 3 * PG, XVM_INHERIT_COPY), 0);
    assert_int_equal(xvm_vmspace_fork(C, &G), 0);
    tm_wr8(G, a, 9);
    tm_check(m);
    assert_int_equal(tm_rd8(P, a), 2);
    assert_int_equal(tm_rd8(C, a), 2);
    assert_int_equal(tm_rd8(G, a), 9);
    tm_wr8(P, a, 6);
    assert_int_equal(tm_rd8(C, a), 6);
    assert_int_equal(tm_rd8(G, a), 9);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_fault_inherit_none_child_faults(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 1);
    xvm_vmspace *P, *C;
    uint8_t b;
    P = tm_vs(m);
    uint64_t a = tm_anon(P, 2, RW, XVM_MAP_PRIVATE);
    tm_wr8(P, a, 1);
    assert_int_equal(xvm_minherit(P, a, PG, XVM_INHERIT_NONE), 0);
    assert_int_equal(xvm_vmspace_fork(P, &C), 0);
    tm_check(m);
    assert_int_equal(xvm_read(C, a, &b, 1), EFAULT);
    assert_int_equal(tm_rd8(C, a + PG), 0);
    assert_int_equal(tm_rd8(P, a), 1);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_fault_minherit_of_unknown_inheritance_is_einval(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 1);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 2, RW, XVM_MAP_PRIVATE);
    tm_wr8(P, a, 1);
    assert_int_equal(xvm_minherit(P, a, PG, 7), EINVAL);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Four private pages at *a, the second holding 42. */
static xvm_vmspace *protect_up(xvm_machine **m, uint64_t *a)
{
    *m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(*m);
    *a = tm_anon(vs, 4, RW, XVM_MAP_PRIVATE);
    tm_wr8(vs, *a + PG, 42);
    return vs;
}

static void test_protect_write_after_mprotect_read_is_eacces(void **state)
{
    (void)state;
    xvm_machine *m;
    uint64_t a;
    xvm_vmspace *vs = protect_up(&m, &a);
    uint8_t b = 1;
    assert_int_equal(xvm_mprotect(vs, a + PG, 2 * PG, XVM_PROT_READ), 0);
    tm_check(m);
    assert_int_equal(xvm_write(vs, a + PG, &b, 1), EACCES);
    assert_int_equal(xvm_write(vs, a + 2 * PG + 5, &b, 1), EACCES);
    assert_int_equal(tm_rd8(vs, a + PG), 42);
    tm_wr8(vs, a, 1); /* outside the range: still writable */
    tm_wr8(vs, a + 3 * PG, 1);
    assert_int_equal(xvm_fetch(vs, a, &b, 1), EACCES);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_protect_none_denies_reads_and_read_write_restores(void **state)
{
    (void)state;
    xvm_machine *m;
    uint64_t a;
    xvm_vmspace *vs = protect_up(&m, &a);
    uint8_t b = 1;
    assert_int_equal(xvm_mprotect(vs, a + PG, PG, XVM_PROT_NONE), 0);
    assert_int_equal(xvm_read(vs, a + PG, &b, 1), EACCES);
    tm_check(m);
    assert_int_equal(xvm_mprotect(vs, a, 4 * PG, RW), 0);
    assert_int_equal(tm_rd8(vs, a + PG), 42);
    tm_wr8(vs, a + PG, 43);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* A write crossing into a read-only page fails at that page. */
static void test_protect_write_crossing_into_read_only_page_stops_there(
    void **state)
{
    (void)state;
    xvm_machine *m;
    uint64_t a;
    xvm_vmspace *vs = protect_up(&m, &a);
    assert_int_equal(xvm_mprotect(vs, a + 2 * PG, PG, XVM_PROT_READ), 0);
    uint8_t two[2] = { 7, 7 };
    assert_int_equal(xvm_write(vs, a + 2 * PG - 1, two, 2), EACCES);
    assert_int_equal(tm_rd8(vs, a + 2 * PG - 1), 7);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Holes in the range: ENOMEM and nothing changes. */
static void test_protect_range_with_holes_is_enomem_and_changes_nothing(
    void **state)
{
    (void)state;
    xvm_machine *m;
    uint64_t a;
    xvm_vmspace *vs = protect_up(&m, &a);
    assert_int_equal(xvm_mprotect(vs, a, 6 * PG, XVM_PROT_READ), ENOMEM);
    tm_wr8(vs, a, 2);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Two private pages at *a that may be no more than readable. */
static xvm_vmspace *read_max_up(xvm_machine **m, uint64_t *a)
{
    *m = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *vs = tm_vs(*m);
    *a = 0;
    assert_int_equal(xvm_mmap(vs, a, 2 * PG,
                              XVM_PROT_READ | XVM_PROT_MPROTECT(XVM_PROT_READ),
                              XVM_MAP_PRIVATE, NULL, 0),
                     0);
    return vs;
}

static void test_protect_max_protection_cannot_be_exceeded(void **state)
{
    (void)state;
    xvm_machine *m;
    uint64_t a;
    xvm_vmspace *vs = read_max_up(&m, &a);
    assert_int_equal(xvm_mprotect(vs, a, PG, RW), EACCES);
    assert_int_equal(xvm_mprotect(vs, a, PG, XVM_PROT_READ | XVM_PROT_EXEC),
                     EACCES);
    uint8_t b = 1;
    assert_int_equal(xvm_write(vs, a, &b, 1), EACCES);
    assert_int_equal(xvm_mprotect(vs, a, PG, XVM_PROT_NONE), 0);
    assert_int_equal(xvm_mprotect(vs, a, PG, XVM_PROT_READ), 0);
    uint64_t c = 0;
    assert_int_equal(xvm_mmap(vs, &c, PG, RW | XVM_PROT_MPROTECT(XVM_PROT_READ),
                              XVM_MAP_PRIVATE, NULL, 0),
                     EACCES);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_protect_child_inherits_max_protection(void **state)
{
    (void)state;
    xvm_machine *m;
    uint64_t a;
    xvm_vmspace *vs = read_max_up(&m, &a);
    xvm_vmspace *C;
    assert_int_equal(xvm_vmspace_fork(vs, &C), 0);
    assert_int_equal(xvm_mprotect(C, a, PG, RW), EACCES);
    tm_check(m);
    xvm_machine_destroy(m);
}

/*
 * Eight pages AAAAAAAA, shared by fork with a child; the parent unmaps
 * pages 3-4:  parent AAA..AAA, child AAAAAAAA.
 */
static void test_map_partial_munmap_in_middle_of_amap(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 1);
    xvm_vmspace *P, *C;
    uint8_t b;
    P = tm_vs(m);
    uint64_t a = tm_anon(P, 8, RW, XVM_MAP_PRIVATE);
    for (int i = 0; i < 8; i++)
        tm_wr8(P, a + i * PG, (uint8_t)(10 + i));
    assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], 8);
    assert_int_equal(xvm_vmspace_fork(P, &C), 0);
    assert_int_equal(xvm_munmap(P, a + 3 * PG, 2 * PG), 0);
    tm_check(m);
    assert_int_equal(xvm_read(P, a + 3 * PG, &b, 1), EFAULT);
    assert_int_equal(xvm_read(P, a + 4 * PG + 9, &b, 1), EFAULT);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(tm_rd8(C, a + i * PG), 10 + i);
        if (i != 3 && i != 4)
            assert_int_equal(tm_rd8(P, a + i * PG), 10 + i);
    }
    /* The child still holds all eight anons. */
    assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], 8);
    xvm_vmspace_destroy(C);
    tm_check(m);
    /* Only the six the parent still maps survive. */
    assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], 6);
    /* Unmapping a part of a now-private amap frees exactly that part. */
    assert_int_equal(xvm_munmap(P, a + 6 * PG, PG), 0);
    tm_check(m);
    assert_int_equal(tm_stats(m).pages[XVM_USE_ANON], 5);
    assert_int_equal(tm_rd8(P, a + 7 * PG), 17);
    xvm_machine_destroy(m);
}

static void test_map_munmap_unaligned_or_empty_is_einval(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 1);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 8, RW, XVM_MAP_PRIVATE);
    for (int i = 0; i < 8; i++)
        tm_wr8(P, a + i * PG, (uint8_t)(10 + i));
    assert_int_equal(xvm_munmap(P, a + 1, PG), EINVAL);
    assert_int_equal(xvm_munmap(P, a, 0), EINVAL);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void test_fault_zero_fill_reads_zero_page_writes_allocate(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t a = tm_anon(vs, 16, RW, XVM_MAP_PRIVATE);
    uint8_t buf[3 * PG];
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(xvm_read(vs, a + 100, buf, sizeof(buf)), 0);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    tm_check(m);
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.pages[XVM_USE_ANON], 0);
    assert_int_equal(st.zero_page_maps, 4);
    tm_wr8(vs, a + PG + 1, 5);
    st = tm_stats(m);
    assert_int_equal(st.pages[XVM_USE_ANON], 1);
    assert_int_equal(st.zero_fills, 1);
    assert_int_equal(tm_rd8(vs, a + PG + 1), 5);
    assert_int_equal(tm_rd8(vs, a + PG), 0);
    /* The zero page itself never changed. */
    assert_int_equal(tm_rd8(vs, a), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

static void exit_order(int parent_first)
{
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 1);
    struct xvm_stats st0 = tm_stats(m);
    xvm_vmspace *P, *C;
    P = tm_vs(m);
    uint64_t a = tm_anon(P, 8, RW, XVM_MAP_PRIVATE);
    uint64_t s = tm_anon(P, 2, RW, XVM_MAP_SHARED);
    for (int i = 0; i < 8; i++)
        tm_wr8(P, a + i * PG, (uint8_t)i);
    tm_wr8(P, s, 1);
    assert_int_equal(xvm_vmspace_fork(P, &C), 0);
    tm_wr8(C, a + 2 * PG, 99);
    tm_wr8(C, s + PG, 2);
    tm_check(m);
    xvm_vmspace *first = parent_first ? P : C, *second = parent_first ? C : P;
    xvm_vmspace_destroy(first);
    tm_check(m);
    assert_int_equal(tm_rd8(second, a + 2 * PG), parent_first ? 99 : 2);
    assert_int_equal(tm_rd8(second, a + 5 * PG), 5);
    assert_int_equal(tm_rd8(second, s + PG), 2);
    tm_wr8(second, a + 5 * PG, 55);
    tm_check(m);
    xvm_vmspace_destroy(second);
    tm_check(m);
    struct xvm_stats st = tm_stats(m);
    assert_int_equal(st.pages[XVM_USE_FREE], st0.pages[XVM_USE_FREE]);
    assert_int_equal(st.pv_entries, 0);
    xvm_machine_destroy(m);
}

static void test_exit_of_the_parent_first_leaves_the_child_whole(void **state)
{
    (void)state;
    exit_order(1);
}

static void test_exit_of_the_child_first_leaves_the_parent_whole(void **state)
{
    (void)state;
    exit_order(0);
}

static void test_enomem_in_tiny_ram_changes_nothing_and_freeing_recovers(
    void **state)
{
    (void)state;
    for (size_t p = 0; p < 2; p++) {
        xvm_machine *m = tm_machine(profiles[p], 16 * PG, 1);
        xvm_vmspace *vs = tm_vs(m);
        uint64_t a = tm_anon(vs, 64, RW, XVM_MAP_PRIVATE);
        int error = 0;
        uint64_t i;
        for (i = 0; i < 64; i++) {
            uint8_t v = (uint8_t)i;
            if ((error = xvm_write(vs, a + i * PG, &v, 1)) != 0)
                break;
            tm_check(m);
        }
        assert_int_equal(error, ENOMEM);
        assert_true(i > 2 && i < 16);
        tm_check(m);
        assert_int_equal(tm_stats(m).pages[XVM_USE_FREE], 0);
        /* Reads of what was written still work; so does forking and
         * reading in a child if a table can be had, else ENOMEM. */
        for (uint64_t k = 0; k < i; k++)
            assert_int_equal(tm_rd8(vs, a + k * PG), (uint8_t)k);
        xvm_vmspace *C = NULL;
        assert_int_equal(xvm_vmspace_fork(vs, &C), ENOMEM);
        tm_check(m);
        /* Free half and carry on. */
        assert_int_equal(xvm_munmap(vs, a, 4 * PG), 0);
        tm_check(m);
        uint8_t v = 77;
        assert_int_equal(xvm_write(vs, a + i * PG, &v, 1), 0);
        assert_int_equal(tm_rd8(vs, a + i * PG), 77);
        tm_check(m);
        xvm_vmspace_destroy(vs);
        tm_check(m);
        struct xvm_stats st = tm_stats(m);
        assert_int_equal(st.pages[XVM_USE_FREE], st.ram_pages - 1);
        assert_true(st.enomem >= 1);
        xvm_machine_destroy(m);
    }
}

static void test_machines_side_by_side_share_nothing(void **state)
{
    (void)state;
    xvm_machine *m1 = tm_machine("sgimips", 4u << 20, 1);
    xvm_machine *m2 = tm_machine("sgimips", 4u << 20, 1);
    xvm_vmspace *v1, *v2;
    v1 = tm_vs(m1);
    v2 = tm_vs(m2);
    uint64_t a1 = tm_anon(v1, 4, RW, XVM_MAP_PRIVATE);
    uint64_t a2 = tm_anon(v2, 4, RW, XVM_MAP_PRIVATE);
    assert_int_equal(a1, a2); /* same layout, separate worlds */
    tm_wr8(v1, a1, 1);
    tm_wr8(v2, a2, 2);
    tm_wr8(v2, a2 + PG, 3);
    assert_int_equal(tm_rd8(v1, a1), 1);
    assert_int_equal(tm_rd8(v2, a2), 2);
    assert_int_equal(tm_rd8(v1, a1 + PG), 0);
    assert_int_equal(tm_stats(m1).pages[XVM_USE_ANON], 1);
    assert_int_equal(tm_stats(m2).pages[XVM_USE_ANON], 2);
    tm_check(m1);
    xvm_machine_destroy(m2);
    tm_check(m1);
    assert_int_equal(tm_rd8(v1, a1), 1);
    xvm_machine_destroy(m1);
}

/*
 * A device segment mapped private into three processes; one writes and
 * gets a private copy (promotion from the device page), the others and
 * the device's bytes stay as they were.  Each test is registered once
 * for each profile (DEVICE_TEST).
 */
enum { NPG = 4 };
static const uint64_t dev_pa = 0x1c000000;

struct dev3 {
    xvm_machine *m;
    uint8_t *dev, *orig;
    xvm_object *obj;
    struct xvm_stats st0; /* before the three mappings */
    xvm_vmspace *vs[3];
    uint64_t a[3];
};

/* The device memory, registered, with a device object over it. */
static void dev3_device(struct dev3 *t, const char *profile)
{
    xvm_machine *m = t->m = tm_machine(profile, 4u << 20, 0);
    t->dev = malloc(NPG * PG), t->orig = malloc(NPG * PG);
    assert_true(t->dev != NULL && t->orig != NULL);
    for (size_t i = 0; i < NPG * PG; i++)
        t->dev[i] = (uint8_t)(i * 7 + 3);
    memcpy(t->orig, t->dev, NPG * PG);
    assert_int_equal(xvm_physload_device(m, dev_pa, NPG * PG, t->dev), 0);
    assert_int_equal(xvm_devobj_create(m, dev_pa, NPG * PG, &t->obj), 0);
}

/* Releases the object and destroys the machine. */
static void dev3_down(struct dev3 *t)
{
    xvm_object_release(t->obj);
    xvm_machine_destroy(t->m);
    free(t->dev);
    free(t->orig);
}

/* Fixtures for the profile named by the test's initial state: the
 * device alone, or mapped private into three processes, each reading it
 * all. */
static int dev3_device_setup(void **state)
{
    struct dev3 *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    dev3_device(t, *state);
    *state = t;
    return 0;
}

static int dev3_setup(void **state)
{
    int error = dev3_device_setup(state);
    if (error)
        return error;
    struct dev3 *t = *state;
    xvm_machine *m = t->m;
    t->st0 = tm_stats(m);
    for (int k = 0; k < 3; k++) {
        t->vs[k] = tm_vs(m);
        t->a[k] = 0;
        assert_int_equal(xvm_mmap(t->vs[k], &t->a[k], NPG * PG,
                                  RW | XVM_PROT_EXEC, XVM_MAP_PRIVATE, t->obj,
                                  0),
                         0);
        uint8_t buf[NPG * PG];
        assert_int_equal(xvm_read(t->vs[k], t->a[k], buf, sizeof(buf)), 0);
        assert_memory_equal(buf, t->orig, sizeof(buf));
        tm_check(m);
    }
    return 0;
}

static int dev3_device_teardown(void **state)
{
    struct dev3 *t = *state;
    dev3_down(t);
    free(t);
    return 0;
}

/* Every process gone: no PV entry left, the device bytes untouched. */
static int dev3_teardown(void **state)
{
    struct dev3 *t = *state;
    for (int k = 0; k < 3; k++)
        xvm_vmspace_destroy(t->vs[k]);
    tm_check(t->m);
    assert_int_equal(tm_stats(t->m).pv_entries, 0);
    assert_memory_equal(t->dev, t->orig, NPG * PG);
    return dev3_device_teardown(state);
}

/* The second process writes three bytes across its first two pages. */
static const uint8_t dev3_w[3] = { 0xAA, 0xBB, 0xCC };

static void dev3_write(struct dev3 *t)
{
    assert_int_equal(xvm_write(t->vs[1], t->a[1] + PG - 1, dev3_w, 3), 0);
    tm_check(t->m);
}

static void test_device_registration_refuses_overlap_and_bad_ranges(
    void **state)
{
    struct dev3 *t = *state;
    xvm_machine *m = t->m;
    assert_int_equal(xvm_physload_device(m, dev_pa, NPG * PG, t->dev), EEXIST);
    assert_int_equal(xvm_physload_device(m, 0, NPG * PG, t->dev), EINVAL);
    xvm_object *bad = NULL;
    assert_int_equal(xvm_devobj_create(m, dev_pa + PG, NPG * PG, &bad), EINVAL);
    assert_null(bad);
    tm_check(m);
}

static void test_device_pages_mapped_private_in_three_use_no_ram(void **state)
{
    struct dev3 *t = *state;
    struct xvm_stats st = tm_stats(t->m);
    /* Mapped without a single RAM frame for data; PV in the hash. */
    assert_int_equal(st.pages[XVM_USE_ANON], 0);
    assert_int_equal(st.pages[XVM_USE_PAGECACHE], 0);
    assert_int_equal(st.pv_device, 3 * NPG);
    assert_int_equal(st.device_maps - t->st0.device_maps, 3 * NPG);
    uint64_t pa0;
    assert_int_equal(xvm_extract(t->vs[0], t->a[0] + 5, &pa0), 0);
    assert_int_equal(pa0, dev_pa + 5);
}

static void test_device_page_written_by_one_process_is_promoted_there_only(
    void **state)
{
    struct dev3 *t = *state;
    dev3_write(t);
    struct xvm_stats st = tm_stats(t->m);
    assert_int_equal(st.cow_from_device, 2);
    assert_int_equal(st.pages[XVM_USE_ANON], 2);
    assert_int_equal(st.pv_device, 3 * NPG - 2);
    uint8_t buf[NPG * PG];
    assert_int_equal(xvm_read(t->vs[1], t->a[1], buf, sizeof(buf)), 0);
    assert_memory_equal(buf + PG - 1, dev3_w, 3);
    assert_memory_equal(buf, t->orig, PG - 1);
    assert_memory_equal(buf + PG + 2, t->orig + PG + 2, (NPG - 1) * PG - 2);
    for (int k = 0; k < 3; k += 2) {
        assert_int_equal(xvm_read(t->vs[k], t->a[k], buf, sizeof(buf)), 0);
        assert_memory_equal(buf, t->orig, sizeof(buf));
    }
    assert_memory_equal(t->dev, t->orig, NPG * PG);
}

/* A fork shares the promoted page until the child writes it. */
static void test_device_promoted_page_is_shared_by_fork_until_written(
    void **state)
{
    struct dev3 *t = *state;
    dev3_write(t);
    xvm_vmspace *c;
    assert_int_equal(xvm_vmspace_fork(t->vs[1], &c), 0);
    assert_int_equal(tm_rd8(c, t->a[1] + PG), 0xBB);
    tm_wr8(c, t->a[1] + PG, 0x11);
    assert_int_equal(tm_rd8(t->vs[1], t->a[1] + PG), 0xBB);
    tm_check(t->m);
    xvm_vmspace_destroy(c);
}

/* Shared mappings of read-only device memory cannot be writable. */
static void test_device_shared_mapping_cannot_be_writable(void **state)
{
    struct dev3 *t = *state;
    uint64_t sh = 0;
    assert_int_equal(xvm_mmap(t->vs[0], &sh, PG, RW, XVM_MAP_SHARED, t->obj, 0),
                     EACCES);
    assert_int_equal(
        xvm_mmap(t->vs[0], &sh, PG, XVM_PROT_READ, XVM_MAP_SHARED, t->obj, PG),
        0);
    assert_int_equal(xvm_mprotect(t->vs[0], sh, PG, RW), EACCES);
    assert_int_equal(tm_rd8(t->vs[0], sh), t->orig[PG]);
    tm_check(t->m);
}

/* Wiring a device page is refused (paper §11.4). */
static void test_device_page_cannot_be_wired(void **state)
{
    struct dev3 *t = *state;
    uint64_t sh = 0;
    assert_int_equal(
        xvm_mmap(t->vs[0], &sh, PG, XVM_PROT_READ, XVM_MAP_SHARED, t->obj, PG),
        0);
    assert_int_equal(xvm_mlock(t->vs[0], sh, PG), EINVAL);
    tm_check(t->m);
}

/*
 * A length that wraps the page offset (off + n past 2^64) must not pass
 * the one-page TLB-hit test: it is EFAULT, never a huge copy.
 */
static void test_access_length_near_2_64_on_tlb_hit_is_efault(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m);
    uint64_t a = tm_anon(P, 1, RW, XVM_MAP_PRIVATE);
    tm_wr8(P, a + 1, 'x'); /* the page is now in the TLB, writable */
    uint8_t b[8];
    assert_int_equal(xvm_read(P, a + 1, b, SIZE_MAX), EFAULT);
    assert_int_equal(xvm_write(P, a + 1, b, SIZE_MAX - 1), EFAULT);
    assert_int_equal(xvm_fetch(P, a + 1, b, SIZE_MAX), EFAULT);
    assert_int_equal(tm_rd8(P, a + 1), 'x');
    tm_check(m);
    xvm_machine_destroy(m);
}

/*
 * P and C share an amap (inherit-share) and both have written its pages;
 * C forks G with copy inheritance, so G's copy shares the anons.  A later
 * write by P (which did not fork, so was not write-protected) must not
 * reach G's copy.
 */
static void test_fault_copy_of_shared_amap_is_safe_from_other_sharers(
    void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 4u << 20, 0);
    xvm_vmspace *P = tm_vs(m), *C, *G;
    uint64_t a = tm_anon(P, 2, RW, XVM_MAP_PRIVATE);
    assert_int_equal(xvm_minherit(P, a, 2 * PG, XVM_INHERIT_SHARE), 0);
    C = tm_fork(P);
    tm_wr8(P, a, 1);
    tm_wr8(C, a + PG, 2);
    tm_wr8(P, a + PG, 3); /* P's PTE and TLB entry now writable */
    assert_int_equal(xvm_minherit(C, a, 2 * PG, XVM_INHERIT_COPY), 0);
    G = tm_fork(C);
    assert_int_equal(tm_rd8(G, a), 1);
    assert_int_equal(tm_rd8(G, a + PG), 3);
    tm_wr8(P, a, 7);
    tm_wr8(P, a + PG, 8);
    tm_check(m);
    assert_int_equal(tm_rd8(C, a), 7);
    assert_int_equal(tm_rd8(C, a + PG), 8);
    assert_int_equal(tm_rd8(G, a), 1);
    assert_int_equal(tm_rd8(G, a + PG), 3);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* A device test on each profile, named after it. */
#define DEVICE_TEST(f, setup, teardown)                                        \
    { #f "_sgimips", f, setup, teardown, "sgimips" },                          \
    {                                                                          \
#f "_amd64", f, setup, teardown, "amd64"                               \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_cow_after_fork_parent_child_grandchild),
        cmocka_unit_test(test_fault_inherit_share_child_writes_parent_sees),
        cmocka_unit_test(
            test_fault_copy_inheriting_grandchild_copies_the_shared_amap),
        cmocka_unit_test(test_fault_inherit_none_child_faults),
        cmocka_unit_test(test_fault_minherit_of_unknown_inheritance_is_einval),
        cmocka_unit_test(test_protect_write_after_mprotect_read_is_eacces),
        cmocka_unit_test(
            test_protect_none_denies_reads_and_read_write_restores),
        cmocka_unit_test(
            test_protect_write_crossing_into_read_only_page_stops_there),
        cmocka_unit_test(
            test_protect_range_with_holes_is_enomem_and_changes_nothing),
        cmocka_unit_test(test_protect_max_protection_cannot_be_exceeded),
        cmocka_unit_test(test_protect_child_inherits_max_protection),
        cmocka_unit_test(test_map_partial_munmap_in_middle_of_amap),
        cmocka_unit_test(test_map_munmap_unaligned_or_empty_is_einval),
        cmocka_unit_test(test_fault_zero_fill_reads_zero_page_writes_allocate),
        cmocka_unit_test(test_exit_of_the_parent_first_leaves_the_child_whole),
        cmocka_unit_test(test_exit_of_the_child_first_leaves_the_parent_whole),
        cmocka_unit_test(
            test_enomem_in_tiny_ram_changes_nothing_and_freeing_recovers),
        cmocka_unit_test(test_machines_side_by_side_share_nothing),
        DEVICE_TEST(test_device_registration_refuses_overlap_and_bad_ranges,
                    dev3_device_setup, dev3_device_teardown),
        DEVICE_TEST(test_device_pages_mapped_private_in_three_use_no_ram,
                    dev3_setup, dev3_teardown),
        DEVICE_TEST(
            test_device_page_written_by_one_process_is_promoted_there_only,
            dev3_setup, dev3_teardown),
        DEVICE_TEST(test_device_promoted_page_is_shared_by_fork_until_written,
                    dev3_setup, dev3_teardown),
        DEVICE_TEST(test_device_shared_mapping_cannot_be_writable, dev3_setup,
                    dev3_teardown),
        DEVICE_TEST(test_device_page_cannot_be_wired, dev3_setup,
                    dev3_teardown),
        cmocka_unit_test(test_access_length_near_2_64_on_tlb_hit_is_efault),
        cmocka_unit_test(
            test_fault_copy_of_shared_amap_is_safe_from_other_sharers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
