/*
 * A memory disk (md(4), paper §11.6): an FFS image made by makefs, loaded
 * into the top of the machine's RAM.  Its frames leave the managed pages
 * (no vm_page), are reported as their own kind, and are a device segment
 * an XIP mount maps in place; copy mode holds a second copy of every page
 * it touches.  Expected figures come from the image file's size, the
 * page size and the pages the test touches, never from the library.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM      (UINT64_C(8) << 20)
#define DATA_LEN (40 * PG + 123) /* 41 file pages, the last partial */

/* bin/data on an image, and the image's own bytes. */
struct fixture {
    struct one_file_image *one;
    const char *img;
    uint8_t *bytes; /* the image file */
    uint64_t size;
    const uint8_t *data; /* bin/data on the host */
    uint64_t data_size;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    fx->one = one_file_image_new("bin/data", DATA_LEN, 77);
    fx->img = fx->one->img;
    fx->bytes = file_slurp(fx->img, &fx->size);
    fx->data = fx->one->data;
    fx->data_size = fx->one->size;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    one_file_image_free(fx->one);
    free(fx->bytes);
    free(fx);
    return 0;
}

static uint64_t image_pages(const struct fixture *fx)
{
    return (fx->size + PG - 1) / PG;
}

static void same_stats(xvm_machine *m, const struct xvm_stats *s0)
{
    struct xvm_stats s = tm_stats(m);
    assert_memory_equal(&s, s0, sizeof(s));
}

static xvm_flash *md_open(xvm_machine *m, const char *img)
{
    struct xvm_flash_config fc;
    xvm_flash *f = NULL;
    xvm_md_config_init(&fc);
    assert_int_equal(fc.device, XVM_DEVICE_MD);
    assert_int_equal(xvm_flash_open(m, img, &fc, &f), 0);
    return f;
}

/* The image's frames leave managed RAM and are their own kind. */
static void test_md_takes_its_ram_out_of_the_managed_pages(void **state)
{
    struct fixture *fx = *state;
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    struct xvm_stats s0 = tm_stats(m);
    assert_int_equal(s0.ram_pages, RAM / PG);
    assert_int_equal(s0.md_pages, 0);
    xvm_flash *f = md_open(m, fx->img);
    uint64_t n = image_pages(fx);
    struct xvm_stats s1 = tm_stats(m);
    assert_int_equal(s1.md_pages, n);
    assert_int_equal(s1.pages[XVM_USE_MD], n);
    assert_int_equal(s1.ram_pages, RAM / PG - n);
    assert_int_equal(s1.pages[XVM_USE_FREE], s0.pages[XVM_USE_FREE] - n);
    /* No vm_page for it: the kernel's array covers managed RAM only. */
    assert_int_equal(s1.vm_page_metadata_bytes, (RAM / PG - n) * 72);
    /* Its window is the top of RAM, a device segment of n pages. */
    uint64_t base = xvm_flash_phys_base(f);
    assert_int_equal(base, RAM - n * PG);
    assert_int_equal(s1.device_pages, n);
    struct xvm_report r;
    xvm_report(m, &r);
    assert_int_equal(r.ram_now[XVM_RAM_MD], n * PG);
    assert_string_equal(xvm_ram_kind_name(XVM_RAM_MD), "md");
    assert_string_equal(xvm_use_name(XVM_USE_MD), "md");
    /* vm_pages for the frames in use but the image's: the zero page. */
    assert_int_equal(r.ram_now[XVM_RAM_VM_PAGE], 1 * 72);
    assert_int_equal(r.ram_now_total, n * PG + PG + 72);
    assert_int_equal(r.ram_peak_total, n * PG + PG + 72);
    tm_check(m);
    /* Closed, it gives its frames back. */
    assert_int_equal(xvm_flash_close(f), 0);
    struct xvm_stats s2 = tm_stats(m);
    assert_int_equal(s2.ram_pages, RAM / PG);
    assert_int_equal(s2.md_pages, 0);
    assert_int_equal(s2.pages[XVM_USE_FREE], s0.pages[XVM_USE_FREE]);
    assert_int_equal(s2.device_pages, 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

struct run {
    uint64_t pa_lo, pa_hi; /* physical addresses the pages mapped */
    struct xvm_report rep;
};

/* Maps bin/data private read-only, reads `touch` pages, checks bytes. */
static void read_data(const struct fixture *fx, int xip, unsigned touch,
                      struct run *out)
{
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    xvm_flash *f = md_open(m, fx->img);
    struct xvm_mount_config mc;
    xvm_mount *mp;
    xvm_file *file;
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    mc.readahead = 0;
    assert_int_equal(xvm_mount_flash(f, &mc, &mp), 0);
    assert_int_equal(xvm_mount_is_xip(mp), xip);
    assert_int_equal(xvm_open(mp, "/bin/data", XVM_O_RDONLY, &file), 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va = 0;
    assert_int_equal(xvm_mmap_file(vs, &va, fx->data_size, XVM_PROT_READ,
                                   XVM_MAP_PRIVATE, file, 0),
                     0);
    uint8_t buf[PG];
    out->pa_lo = UINT64_MAX, out->pa_hi = 0;
    for (unsigned p = 0; p < touch; p++) {
        uint64_t len =
            fx->data_size - p * PG < PG ? fx->data_size - p * PG : PG;
        assert_int_equal(xvm_read(vs, va + p * PG, buf, len), 0);
        assert_memory_equal(buf, fx->data + p * PG, len);
        uint64_t pa;
        assert_int_equal(xvm_extract(vs, va + p * PG, &pa), 0);
        out->pa_lo = pa < out->pa_lo ? pa : out->pa_lo;
        out->pa_hi = pa > out->pa_hi ? pa : out->pa_hi;
    }
    tm_check(m);
    xvm_report(m, &out->rep);
    /* The mapped pages are the image's own bytes in RAM under XIP. */
    uint64_t base = xvm_flash_phys_base(f);
    if (xip) {
        assert_true(out->pa_lo >= base &&
                    out->pa_hi < base + image_pages(fx) * PG);
        assert_memory_equal(fx->bytes + (out->pa_lo - base), fx->data, 16);
    } else {
        assert_true(out->pa_hi < base); /* page-cache frames below it */
    }
    xvm_vmspace_destroy(vs);
    xvm_close(file);
    assert_int_equal(xvm_unmount(mp), 0);
    assert_int_equal(xvm_flash_close(f), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* XIP holds one copy of every page (the md's), copy mode two. */
static void test_md_xip_holds_one_copy_copy_mode_two(void **state)
{
    struct fixture *fx = *state;
    const unsigned touch = 40; /* whole pages of bin/data */
    struct run x, c;
    read_data(fx, 1, touch, &x);
    read_data(fx, 0, touch, &c);
    uint64_t md = image_pages(fx) * PG;
    assert_int_equal(x.rep.ram_peak[XVM_RAM_MD], md);
    assert_int_equal(c.rep.ram_peak[XVM_RAM_MD], md);
    assert_int_equal(x.rep.ram_peak[XVM_RAM_PAGECACHE], 0);
    assert_int_equal(x.rep.st.pagecache_fills, 0);
    /* Copy mode: each page touched is read from the md into the page
     * cache (read-ahead off): a second copy of it in RAM.  exec is not
     * involved, so the only page-cache pages are the ones touched. */
    assert_int_equal(c.rep.st.pagecache_fills, touch);
    assert_int_equal(c.rep.ram_peak[XVM_RAM_PAGECACHE], touch * PG);
    assert_int_equal(c.rep.st.flash_block_bytes_read -
                         x.rep.st.flash_block_bytes_read,
                     touch * PG);
    /* XIP reads them in place, from the md's RAM. */
    assert_true(x.rep.st.flash_xip_bytes_read >= touch * PG);
    assert_int_equal(x.rep.st.device_maps, touch);
    /* What XIP saves on the md root: the copies and their vm_pages. */
    struct xvm_savings sv;
    xvm_report_savings(&x.rep, &c.rep, &sv);
    assert_int_equal(sv.ram_peak[XVM_RAM_PAGECACHE], touch * PG);
    assert_int_equal(sv.ram_peak[XVM_RAM_MD], 0);
    /* vm_pages cover the managed frames in use only, never the md's. */
    for (const struct run *r = &x; r; r = r == &x ? &c : NULL) {
        uint64_t managed = 0;
        for (int k = 0; k < XVM_RAM_VM_PAGE; k++)
            managed += k == XVM_RAM_MD ? 0 : r->rep.ram_peak[k];
        assert_int_equal(r->rep.ram_peak[XVM_RAM_VM_PAGE], managed / PG * 72);
    }
}

/* uvmpd_tune's targets for n managed pages (sgimips, 4 KiB pages): 0.5 %,
 * at least 128 KiB, at most 1 MiB, here at most a sixteenth; 4/3. */
static void tune(uint64_t n, uint64_t *min, uint64_t *targ)
{
    uint64_t v = n / 200;
    v = v < 32 ? 32 : v > 256 ? 256 : v;
    v = v > n / 16 ? n / 16 : v;
    *min = v ? v : 1;
    *targ = *min * 4 / 3 > *min ? *min * 4 / 3 : *min + 1;
}

/* The free targets follow the managed pages, as uvm_pageout re-tunes
 * when uvmexp.npages changes: the md's frames are not among them. */
static void test_md_free_targets_follow_the_managed_pages(void **state)
{
    struct fixture *fx = *state;
    uint64_t n = image_pages(fx), min, targ;
    /* A board whose RAM / 16 sets the targets: 48 pages after the md. */
    uint64_t ram = (n + 48) * PG;
    xvm_machine *m = tm_machine("sgimips", ram, 0);
    tune(ram / PG, &min, &targ);
    assert_int_equal(tm_stats(m).freemin, min);
    assert_int_equal(tm_stats(m).freetarg, targ);
    xvm_flash *f = md_open(m, fx->img);
    struct xvm_stats s = tm_stats(m);
    assert_int_equal(s.ram_pages, 48);
    tune(48, &min, &targ);
    assert_int_equal(s.freemin, min); /* 3, not the whole board's */
    assert_int_equal(s.freetarg, targ);
    tm_check(m);
    assert_int_equal(xvm_flash_close(f), 0);
    tune(ram / PG, &min, &targ);
    assert_int_equal(tm_stats(m).freemin, min);
    assert_int_equal(tm_stats(m).freetarg, targ);
    xvm_machine_destroy(m);

    /* The smallest board: what is left keeps more than its own target
     * (3 pages: freemin 1, freetarg 2); a page less is ENOMEM. */
    for (uint64_t left = 2; left <= 3; left++) {
        m = tm_machine("sgimips", (n + left) * PG, 0);
        struct xvm_flash_config fc;
        xvm_md_config_init(&fc);
        assert_int_equal(xvm_flash_open(m, fx->img, &fc, &f),
                         left == 2 ? ENOMEM : 0);
        s = tm_stats(m);
        assert_int_equal(s.ram_pages, left == 2 ? n + left : left);
        if (left == 3) {
            assert_int_equal(s.freemin, 1);
            assert_int_equal(s.freetarg, 2);
        }
        tm_check(m);
        xvm_machine_destroy(m);
    }
}

/* Errors change nothing: a base given, too big an image, used frames. */
static void test_md_refusals_change_nothing(void **state)
{
    struct fixture *fx = *state;
    struct xvm_flash_config fc;
    xvm_flash *f = NULL;
    char msg[256];

    /* A phys_base: the address is the RAM's. */
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    struct xvm_stats s0 = tm_stats(m);
    xvm_md_config_init(&fc);
    fc.phys_base = UINT64_C(0x10000000);
    assert_int_equal(xvm_flash_open(m, fx->img, &fc, &f), EINVAL);
    fc.phys_base = 0;
    fc.device = (enum xvm_device)7;
    assert_int_equal(xvm_flash_open(m, fx->img, &fc, &f), EINVAL);
    same_stats(m, &s0);
    xvm_machine_destroy(m);

    /* An image that leaves no more than the page daemon's free target
     * (16 pages here), and one that leaves a page more. */
    struct xvm_config cfg;
    xvm_config_init(&cfg);
    cfg.freemin = 8 * PG;
    cfg.freetarg = 16 * PG;
    for (uint64_t spare = 16; spare <= 17; spare++) {
        cfg.ram_bytes = (image_pages(fx) + spare) * PG;
        assert_int_equal(xvm_machine_create(&cfg, &m), 0);
        s0 = tm_stats(m);
        xvm_md_config_init(&fc);
        int want = spare == 16 ? ENOMEM : 0;
        assert_int_equal(xvm_flash_open(m, fx->img, &fc, &f), want);
        if (want) {
            assert_int_equal(
                xvm_flash_attach(m, fx->bytes, image_pages(fx) * PG, &fc, &f),
                ENOMEM);
            same_stats(m, &s0);
        } else {
            assert_int_equal(tm_stats(m).ram_pages, spare);
        }
        assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), 0);
        xvm_machine_destroy(m);
    }

    /* Frames at the top of RAM were used: too late for a memory disk. */
    m = tm_machine("sgimips", UINT64_C(2) << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t va =
        tm_anon(vs, 400, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    for (unsigned p = 0; p < 400; p++)
        tm_wr8(vs, va + p * PG, 1);
    xvm_vmspace_destroy(vs);
    s0 = tm_stats(m);
    assert_int_equal(xvm_flash_open(m, fx->img, &fc, &f), EBUSY);
    same_stats(m, &s0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Memory disks stack: one closed below another waits for it. */
static void test_md_two_disks_give_ram_back_in_stack_order(void **state)
{
    struct fixture *fx = *state;
    xvm_machine *m = tm_machine("amd64", RAM, 0);
    uint64_t n = image_pages(fx);
    xvm_flash *lo = md_open(m, fx->img), *hi = md_open(m, fx->img);
    assert_int_equal(xvm_flash_phys_base(lo), RAM - n * PG);
    assert_int_equal(xvm_flash_phys_base(hi), RAM - 2 * n * PG);
    assert_int_equal(tm_stats(m).md_pages, 2 * n);
    tm_check(m);
    /* The lower one (the first, at the top) cannot go back before the
     * second: its frames stay the md's until then. */
    assert_int_equal(xvm_flash_close(lo), 0);
    assert_int_equal(tm_stats(m).md_pages, 2 * n);
    assert_int_equal(tm_stats(m).ram_pages, RAM / PG - 2 * n);
    tm_check(m);
    assert_int_equal(xvm_flash_close(hi), 0);
    assert_int_equal(tm_stats(m).md_pages, 0);
    assert_int_equal(tm_stats(m).ram_pages, RAM / PG);
    tm_check(m);
    /* RAM given back is usable: every frame can be allocated. */
    xvm_vmspace *vs = tm_vs(m);
    uint64_t pages = RAM / PG / 2;
    uint64_t va =
        tm_anon(vs, pages, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    for (uint64_t p = 0; p < pages; p++)
        tm_wr8(vs, va + p * PG, (uint8_t)p);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* md(4) as NetBSD has it today: RAM, but not mappable; XIP refused. */
static void test_md_not_mappable_keeps_its_ram_and_refuses_xip(void **state)
{
    struct fixture *fx = *state;
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    struct xvm_flash_config fc;
    struct xvm_mount_config mc;
    xvm_flash *f;
    xvm_mount *mp;
    xvm_md_config_init(&fc);
    fc.xip_capable = 0;
    assert_int_equal(xvm_flash_open(m, fx->img, &fc, &f), 0);
    assert_int_equal(tm_stats(m).md_pages, image_pages(fx));
    assert_int_equal(tm_stats(m).device_pages, 0);
    xvm_mount_config_init(&mc);
    mc.flags = XVM_MOUNT_XIP;
    assert_int_equal(xvm_mount_flash(f, &mc, &mp), EOPNOTSUPP);
    assert_int_equal(xvm_flash_close(f), 0); /* the RAM comes back */
    assert_int_equal(tm_stats(m).md_pages, 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* A mapped md page keeps the disk: closing it is EBUSY. */
static void test_md_close_while_mapped_is_ebusy(void **state)
{
    struct fixture *fx = *state;
    xvm_machine *m = tm_machine("sgimips", RAM, 0);
    xvm_flash *f = md_open(m, fx->img);
    xvm_object *o;
    uint64_t base = xvm_flash_phys_base(f), va = 0;
    assert_int_equal(xvm_devobj_create(m, base, 2 * PG, &o), 0);
    xvm_vmspace *vs = tm_vs(m);
    assert_int_equal(
        xvm_mmap(vs, &va, 2 * PG, XVM_PROT_READ, XVM_MAP_SHARED, o, 0), 0);
    xvm_object_release(o);
    assert_int_equal(tm_rd8(vs, va + PG + 5), fx->bytes[PG + 5]);
    assert_int_equal(xvm_flash_close(f), EBUSY);
    assert_int_equal(tm_stats(m).md_pages, image_pages(fx));
    xvm_vmspace_destroy(vs);
    assert_int_equal(xvm_flash_close(f), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md_takes_its_ram_out_of_the_managed_pages),
        cmocka_unit_test(test_md_xip_holds_one_copy_copy_mode_two),
        cmocka_unit_test(test_md_free_targets_follow_the_managed_pages),
        cmocka_unit_test(test_md_refusals_change_nothing),
        cmocka_unit_test(test_md_two_disks_give_ram_back_in_stack_order),
        cmocka_unit_test(test_md_not_mappable_keeps_its_ram_and_refuses_xip),
        cmocka_unit_test(test_md_close_while_mapped_is_ebusy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
