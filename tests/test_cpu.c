/*
 * The CPU model in the machine, through the replay: hand-computed miss,
 * fill and time figures for small traces (a loop that fits in I1, one
 * that thrashes it, strides across and within sets, a straddling access,
 * a write-back), R4000 pair entries, XIP against copy mode for text that
 * fits the cache and text that does not, and profiles' bad input.
 *
 * Every trace runs on a real FFS image made by makefs, holding Debian's
 * static busybox (the process) and a 64 KiB file mapped as text and as
 * data.  Figures are differences between two `mark`s of the trace, so
 * the spawn, the faults and the first touch of each page stay out.
 *
 * The profile `tiny` makes the arithmetic plain: 1 GHz (1 cycle = 1 ns),
 * I1 and D1 of 1 KiB, 2 ways, 32-byte lines (16 sets, 512 bytes a way:
 * inside a page, so virtual and physical addresses pick the same set), no
 * LL, an instruction 1 cycle, a data access that hits 1 cycle, a line
 * from RAM 100 ns, a line from NOR 90 + 15 x 25 = 465 ns (16-bit words).
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "pmap.h"
#include "vmspace.h"
#include "xipvm_trace.h"

#define TEXT  UINT64_C(0x20000000) /* /bin/text mapped r-x */
#define DATA  UINT64_C(0x30000000) /* /bin/text mapped r-- */
#define ANON  UINT64_C(0x40000000) /* anonymous rw- */
#define NOR   465                  /* ns: a 32-byte line from NOR */
#define RAMNS 100                  /* ns: a 32-byte line from RAM */

static const char tiny[] = "name = tiny\n"
                           "clock_mhz = 1000\n"
                           "I1 = 1024,2,32\n"
                           "D1 = 1024,2,32\n"
                           "LL = none\n"
                           "instr_cycles = 1\n"
                           "l1_hit_cycles = 1\n"
                           "ll_hit_cycles = 0\n"
                           "ram_line_ns = 100\n"
                           "nor_first_ns = 90\n"
                           "nor_word_ns = 25\n"
                           "nor_word_bytes = 2\n"
                           "block_access_ns = 90\n"
                           "block_byte_ns = 13\n"
                           "tlb = r4000\n"
                           "tlb_entries = 48\n"
                           "tlb_refill_cycles = 20\n"
                           "fault_cycles = 1000\n"
                           "zero_fill_cycles = 500\n"
                           "cow_copy_cycles = 1000\n"
                           "pagecache_cycles = 700\n"
                           "superpage_sizes = 16K,64K\n";

static int setup(void **state)
{
    struct tree_image *fx = tree_image_new();
    tree_copy(fx->tree, "bin/busybox", "/bin/busybox");
    tree_file(fx->tree, "bin/text", 65536, 77);
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "cpu.img", fx->tree, 2,
                  "little", 16384, 2048);
    *state = fx;
    return 0;
}

struct run {
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_replay *rp;
};

/* One trace line, which must replay without error or mismatch. */
static void line(struct run *r, const char *fmt, ...)
{
    char buf[256], msg[256];
    va_list ap;
    int mism = 0;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (xvm_replay_line(r->rp, buf, &mism, msg, sizeof(msg)) != 0 || mism)
        fail_msg("replaying '%s': %s", buf, msg);
}

static void start(struct run *r)
{
    line(r, XVM_TRACE_HEADER);
    line(r, "spawn 1 /bin/busybox true");
    line(r, "mmap 1 %#llx 0x10000 r-x private,fixed /bin/text 0",
         (unsigned long long)TEXT);
    line(r, "mmap 1 %#llx 0x10000 r-- private,fixed /bin/text 0",
         (unsigned long long)DATA);
    line(r, "mmap 1 %#llx 0x1000 rw- private,fixed", (unsigned long long)ANON);
}

/* A machine of the given CPU profile text (and key overrides), the image
 * mounted XIP or copy, fault-ahead and read-ahead off, busybox spawned as
 * pid 1, /bin/text mapped at TEXT (r-x) and DATA (r--), a page at ANON. */
static void up(struct run *r, const struct tree_image *fx, const char *machine,
               const char *profile, int xip, const char *key, const char *value)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_cpu_profile *p;
    char err[256];
    memset(r, 0, sizeof(*r));
    assert_int_equal(xvm_cpu_profile_create(NULL, &p), 0);
    if (xvm_cpu_profile_parse(p, profile, "tiny", err, sizeof(err)) != 0 ||
        (key && xvm_cpu_profile_set(p, key, value, err, sizeof(err)) != 0) ||
        xvm_cpu_profile_check(p, err, sizeof(err)) != 0)
        fail_msg("profile: %s", err);
    xvm_config_init(&cfg);
    cfg.profile = machine;
    cfg.cpu = p;
    xvm_config_fault_ahead(&cfg, 0);
    assert_int_equal(xvm_machine_create(&cfg, &r->m), 0);
    xvm_cpu_profile_destroy(p);
    assert_int_equal(xvm_flash_open(r->m, fx->img, NULL, &r->flash), 0);
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    mc.readahead = 0;
    assert_int_equal(xvm_mount_flash(r->flash, &mc, &r->mp), 0);
    assert_int_equal(xvm_replay_create(r->m, r->mp, &r->rp), 0);
    start(r);
}

/* `times` passes of n accesses (op: "x 1" or "r 1", size bytes) at
 * base, base + stride, ...; `mark b` after the first when mark is set. */
static void passes(struct run *r, const char *op, unsigned size, uint64_t base,
                   unsigned stride, unsigned n, unsigned times, bool mark)
{
    for (unsigned it = 0; it < times; it++) {
        for (unsigned k = 0; k < n; k++)
            line(r, "%s %#llx %u", op,
                 (unsigned long long)(base + (uint64_t)stride * k), size);
        if (it == 0 && mark)
            line(r, "mark b");
    }
}

/*
 * Exec wrote the stack and zeroed part of a bss page through D1, so its
 * lines may be dirty: fill every set of D1 with clean lines of the data
 * mapping's pages 8 and 9 first, so that no write-back falls between the
 * marks of a test.
 */
static void clean_d1(struct run *r)
{
    passes(r, "r 1", 4, DATA + 0x8000, 32, 2 * 4096 / 32, 1, false);
}

static void down(struct run *r)
{
    tm_check(r->m);
    xvm_replay_destroy(r->rp);
    xvm_machine_destroy(r->m);
}

/* The report at mark i (0 first). */
static const struct xvm_stats *at(struct run *r, size_t i)
{
    struct xvm_timeline tl;
    xvm_timeline_get(r->m, &tl);
    assert_true(i < tl.nmarks);
    return &tl.marks[i].rep.st;
}

/* Figures between two marks. */
struct delta {
    uint64_t i1_refs, i1_misses, d1_refs, d1_misses, tlb_refills;
    uint64_t ram_fills, ram_wbs, nor_fills, time, exec, ram, flash, tlb;
};

static struct delta diff(struct run *r, size_t a, size_t b)
{
    const struct xvm_stats *x = at(r, a), *y = at(r, b);
    struct delta d = {
        y->i1_refs - x->i1_refs,
        y->i1_misses - x->i1_misses,
        y->d1_refs - x->d1_refs,
        y->d1_misses - x->d1_misses,
        y->tlb_refills - x->tlb_refills,
        y->ram_line_fills - x->ram_line_fills,
        y->ram_writebacks - x->ram_writebacks,
        y->nor_line_fills - x->nor_line_fills,
        y->time_ns - x->time_ns,
        y->time_ns_exec - x->time_ns_exec,
        y->stall_ns_ram - x->stall_ns_ram,
        y->stall_ns_flash - x->stall_ns_flash,
        y->time_ns_tlb - x->time_ns_tlb,
    };
    /* No kernel work and no TLB refill between marks: the figures are
     * the caches' alone. */
    assert_int_equal(y->faults, x->faults);
    assert_int_equal(d.tlb_refills, 0);
    assert_int_equal(d.tlb, 0);
    return d;
}

/* A miss's line fill: NOR under XIP (device pages), RAM in copy mode. */
static uint64_t fill(int xip)
{
    return xip ? NOR : RAMNS;
}

static void assert_fills(const struct delta *d, int xip, uint64_t lines)
{
    assert_int_equal(xip ? d->nor_fills : d->ram_fills, lines);
    assert_int_equal(xip ? d->ram_fills : d->nor_fills, 0);
    assert_int_equal(xip ? d->flash : d->ram, lines * fill(xip));
}

/* 128 fetches of 4 bytes over 512 bytes (16 lines): the loop fits I1. */
static void test_cpu_loop_fits_i1(void **state)
{
    for (int xip = 0; xip < 2; xip++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, xip, NULL, NULL);
        line(&r, "x 1 %#llx 4", (unsigned long long)TEXT); /* fault, line 0 */
        line(&r, "mark a");
        passes(&r, "x 1", 4, TEXT, 4, 128, 11, true);
        line(&r, "mark c");
        /* The first pass misses lines 1..15 once each. */
        struct delta d = diff(&r, 0, 1);
        assert_int_equal(d.i1_refs, 128);
        assert_int_equal(d.i1_misses, 15);
        assert_fills(&d, xip, 15);
        assert_int_equal(d.exec, 128);
        assert_int_equal(d.time, 128 + 15 * fill(xip));
        /* Then nothing misses: 1280 instructions, 1280 ns, either mode. */
        d = diff(&r, 1, 2);
        assert_int_equal(d.i1_refs, 1280);
        assert_int_equal(d.i1_misses, 0);
        assert_int_equal(d.time, 1280);
        down(&r);
    }
}

/*
 * One fetch per line over 1536 bytes: 48 lines, three to each of the 16
 * sets of 2 ways.  LRU replaces the line needed next: every fetch misses,
 * and XIP pays NOR where copy mode pays RAM.
 */
static void test_cpu_loop_thrashes_i1(void **state)
{
    uint64_t t[2];
    for (int xip = 0; xip < 2; xip++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, xip, NULL, NULL);
        line(&r, "x 1 %#llx 4", (unsigned long long)TEXT);
        line(&r, "mark a");
        passes(&r, "x 1", 4, TEXT, 32, 48, 11, true);
        line(&r, "mark c");
        struct delta d = diff(&r, 0, 1);
        assert_int_equal(d.i1_refs, 48);
        assert_int_equal(d.i1_misses, 47); /* line 0 was there */
        d = diff(&r, 1, 2);
        assert_int_equal(d.i1_refs, 480);
        assert_int_equal(d.i1_misses, 480);
        assert_fills(&d, xip, 480);
        assert_int_equal(d.time, 480 + 480 * fill(xip));
        t[xip] = d.time;
        down(&r);
    }
    /* XIP is slower by the flash's latency over RAM's, per miss. */
    assert_int_equal(t[1] - t[0], 480 * (NOR - RAMNS));
}

/*
 * Data loads: a stride of one line walks 8 sets and fits; a stride of
 * one way (512 bytes) puts three lines in one set of two ways and misses
 * on every load.
 */
static void test_cpu_stride_across_sets(void **state)
{
    for (int xip = 0; xip < 2; xip++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, xip, NULL, NULL);
        clean_d1(&r);
        line(&r, "r 1 %#llx 8", (unsigned long long)DATA);
        line(&r, "mark a");
        passes(&r, "r 1", 8, DATA, 32, 8, 11, false);
        line(&r, "mark b");
        struct delta d = diff(&r, 0, 1);
        assert_int_equal(d.d1_refs, 88);
        assert_int_equal(d.d1_misses, 7);
        assert_fills(&d, xip, 7);
        assert_int_equal(d.time, 88 + 7 * fill(xip));

        /* Set 0 of another page: lines at 0, 512 and 1024 of it. */
        uint64_t p = DATA + 0x2000;
        line(&r, "r 1 %#llx 8", (unsigned long long)p);
        line(&r, "mark c");
        passes(&r, "r 1", 8, p, 512, 3, 10, false);
        line(&r, "mark d");
        d = diff(&r, 2, 3);
        assert_int_equal(d.d1_refs, 30);
        assert_int_equal(d.d1_misses, 29); /* all but the first, at 0 */
        assert_fills(&d, xip, 29);
        assert_int_equal(d.time, 30 + 29 * fill(xip));
        down(&r);
    }
}

/* An 8-byte fetch across two lines: one reference, one miss, two fills;
 * again: a hit. */
static void test_cpu_straddling_access(void **state)
{
    for (int xip = 0; xip < 2; xip++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, xip, NULL, NULL);
        line(&r, "x 1 %#llx 4", (unsigned long long)(TEXT + 0x400)); /* page */
        line(&r, "mark a");
        line(&r, "x 1 %#llx 8", (unsigned long long)(TEXT + 28));
        line(&r, "mark b");
        line(&r, "x 1 %#llx 8", (unsigned long long)(TEXT + 28));
        line(&r, "mark c");
        struct delta d = diff(&r, 0, 1);
        assert_int_equal(d.i1_refs, 1);
        assert_int_equal(d.i1_misses, 1);
        assert_fills(&d, xip, 2);
        assert_int_equal(d.time, 1 + 2 * fill(xip));
        d = diff(&r, 1, 2);
        assert_int_equal(d.i1_misses, 0);
        assert_int_equal(d.time, 1);
        down(&r);
    }
}

/* Stores allocate and dirty lines; a dirty victim is written back. */
static void test_cpu_write_back(void **state)
{
    struct run r;
    up(&r, *state, "sgimips", tiny, 1, NULL, NULL);
    clean_d1(&r);
    /* Set 0 holds two dirty lines of the page: at 0 (older) and 512. */
    line(&r, "w 1 %#llx 8", (unsigned long long)ANON); /* zero fill */
    line(&r, "w 1 %#llx 8", (unsigned long long)(ANON + 512));
    line(&r, "mark a");
    line(&r, "w 1 %#llx 8", (unsigned long long)(ANON + 1024)); /* out: 0 */
    line(&r, "w 1 %#llx 8", (unsigned long long)ANON);          /* out: 512 */
    line(&r, "mark b");
    struct delta d = diff(&r, 0, 1);
    assert_int_equal(d.d1_refs, 2);
    assert_int_equal(d.d1_misses, 2);
    assert_int_equal(d.ram_fills, 2);
    assert_int_equal(d.ram_wbs, 2);
    assert_int_equal(d.time, 2 + 4 * RAMNS);
    down(&r);
}

/*
 * A dirty line of D1 costs a RAM write for every LL line of it that LL
 * no longer holds, however many: D1 one set of two 64 KiB ways, LL two
 * 16-byte lines (one per set).  The store misses (a line from RAM); the
 * first load, of 32 bytes, evicts a clean line and fills both of LL's
 * lines from NOR; the second evicts the dirty line: 4096 write-backs.
 */
static void test_cpu_write_back_of_a_line_over_many_ll_lines(void **state)
{
    static const uint64_t bb[4] = { 0x401000, 0x421000, 0x441000, 0x461000 };
    char profile[sizeof(tiny) + 64];
    snprintf(profile, sizeof(profile), "%sD1 = 131072,2,65536\nLL = 32,1,16\n",
             tiny);
    struct run r;
    up(&r, *state, "sgimips", profile, 1, NULL, NULL);
    /* Mapped, and in the TLB, first: a refill's table reads go through
     * D1.  Then D1's set and LL hold clean lines only. */
    line(&r, "w 1 %#llx 8", (unsigned long long)ANON); /* zero fill */
    for (int k = 0; k < 4; k++) /* busybox's text, 128 KiB apart */
        line(&r, "x 1 %#llx 4", (unsigned long long)bb[k]);
    line(&r, "r 1 %#llx 4", (unsigned long long)bb[2]);
    line(&r, "r 1 %#llx 32", (unsigned long long)bb[3]);
    line(&r, "mark a");
    line(&r, "w 1 %#llx 8", (unsigned long long)ANON);
    line(&r, "r 1 %#llx 32", (unsigned long long)bb[0]);
    line(&r, "r 1 %#llx 4", (unsigned long long)bb[1]);
    line(&r, "mark b");
    struct delta d = diff(&r, 0, 1);
    assert_int_equal(d.d1_misses, 3);
    assert_int_equal(d.ram_fills, 1);
    assert_int_equal(d.nor_fills, 3);
    assert_int_equal(d.ram_wbs, 4096);
    assert_int_equal(d.ram, (1 + 4096) * RAMNS);
    assert_int_equal(d.time, 3 + (1 + 4096) * RAMNS + 3 * (90 + 7 * 25));
    down(&r);
}

/*
 * The R4000 joint TLB maps an even/odd pair of pages per entry: pages 0
 * and 1 of the text take one refill, pages 1 and 2 two.  A refill costs
 * the handler's cycles and its three table loads (through D1).
 */
static void test_cpu_r4000_pairs(void **state)
{
    struct run r;
    up(&r, *state, "sgimips", tiny, 1, NULL, NULL);
    line(&r, "mark a");
    line(&r, "x 1 %#llx 4", (unsigned long long)(TEXT + 4096 * 0));
    line(&r, "x 1 %#llx 4", (unsigned long long)(TEXT + 4096 * 1));
    line(&r, "mark b");
    line(&r, "x 1 %#llx 4", (unsigned long long)(TEXT + 4096 * 3));
    line(&r, "x 1 %#llx 4", (unsigned long long)(TEXT + 4096 * 4));
    line(&r, "mark c");
    const struct xvm_stats *s0 = at(&r, 0), *s1 = at(&r, 1), *s2 = at(&r, 2);
    assert_int_equal(s1->tlb_refills - s0->tlb_refills, 1); /* one pair */
    assert_int_equal(s2->tlb_refills - s1->tlb_refills, 2); /* two pairs */
    assert_int_equal(s2->tlb_misses - s1->tlb_misses, 2);
    /* Each refill: 20 cycles of handler and 3 table loads (1 cycle each
     * when they hit D1; a miss adds a line from RAM). */
    uint64_t tlb = s2->time_ns_tlb - s1->time_ns_tlb;
    assert_true(tlb >= 2 * (20 + 3) && tlb <= 2 * (20 + 3) + 6 * RAMNS);
    down(&r);
}

/*
 * XIP against copy mode, whole loops timed from the first fetch of an
 * already-mapped page.  Text that fits I1: after 15 cold misses nothing
 * goes to memory, so 10,000 passes take about as long in both modes.
 * Text that does not fit: every fetch misses, and XIP is slower by the
 * flash's line latency over RAM's on every one of them.
 */
static void test_cpu_xip_vs_copy_time(void **state)
{
    uint64_t fits[2], thrash[2];
    for (int xip = 0; xip < 2; xip++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, xip, NULL, NULL);
        line(&r, "x 1 %#llx 4", (unsigned long long)TEXT);
        line(&r, "x 1 %#llx 4", (unsigned long long)(TEXT + 0x1000));
        line(&r, "mark a");
        passes(&r, "x 1", 4, TEXT, 4, 128, 2000, false);
        line(&r, "mark b");
        passes(&r, "x 1", 4, TEXT + 0x1000, 32, 64, 100, false);
        line(&r, "mark c");
        fits[xip] = diff(&r, 0, 1).time;
        thrash[xip] = diff(&r, 1, 2).time;
        down(&r);
    }
    double ratio = (double)fits[1] / (double)fits[0];
    print_message("text in I1: xip %llu ns, copy %llu ns (%.4fx); "
                  "text over I1: xip %llu ns, copy %llu ns (%.2fx)\n",
                  (unsigned long long)fits[1], (unsigned long long)fits[0],
                  ratio, (unsigned long long)thrash[1],
                  (unsigned long long)thrash[0],
                  (double)thrash[1] / (double)thrash[0]);
    assert_true(ratio >= 1.0 && ratio < 1.03);
    /* 64 lines over a 1 KiB I1: every fetch misses but the first (its
     * line came in with the page's first touch). */
    assert_int_equal(thrash[1] - thrash[0], 6399 * (NOR - RAMNS));
}

/* read() of a device page reads from NOR every line its bytes span:
 * two bytes across a 32-byte line boundary are two lines, inside one
 * line one. */
static void test_cpu_read_from_flash_reads_the_lines_it_spans(void **state)
{
    struct run r;
    up(&r, *state, "sgimips", tiny, 1, NULL, NULL);
    line(&r, "w 1 %#llx 8", (unsigned long long)ANON); /* zero fill */
    line(&r, "mark a");
    line(&r, "pread 1 %#llx 2 /bin/text 31", (unsigned long long)ANON);
    line(&r, "mark b");
    line(&r, "pread 1 %#llx 2 /bin/text 40", (unsigned long long)ANON);
    line(&r, "mark c");
    assert_int_equal(diff(&r, 0, 1).nor_fills, 2);
    assert_int_equal(diff(&r, 0, 1).flash, 2 * NOR);
    assert_int_equal(diff(&r, 1, 2).nor_fills, 1);
    down(&r);
}

/*
 * An estimate past 2^64 ns (a 1 kHz clock: 10^6 ns a cycle) stays at
 * the top, its parts adding up to it: 80,000 page-sized loads, each of
 * 256 lines missing a 1-way D1 and looked up in LL at 10^6 cycles,
 * take 2.05 x 10^19 ns.
 */
static void test_cpu_time_past_2_64_ns_stays_at_the_top(void **state)
{
    char profile[sizeof(tiny) + 128];
    snprintf(profile, sizeof(profile),
             "%sclock_mhz = 0.001\nD1 = 4096,1,16\nLL = 32,1,16\n"
             "ll_hit_cycles = 1000000\n",
             tiny);
    struct run r;
    up(&r, *state, "sgimips", profile, 1, NULL, NULL);
    for (int k = 0; k < 40000; k++) {
        line(&r, "r 1 %#llx 4096", (unsigned long long)ANON);
        line(&r, "r 1 %#llx 4096", (unsigned long long)DATA);
    }
    struct xvm_stats st;
    xvm_machine_stats(r.m, &st);
    assert_int_equal(st.time_ns, UINT64_MAX);
    assert_true(st.time_ns_exec > UINT64_MAX / 2);
    assert_int_equal(st.time_ns_exec + st.stall_ns_ram + st.stall_ns_flash +
                         st.time_ns_tlb + st.time_ns_kernel,
                     UINT64_MAX);
    assert_true(st.cycles > UINT64_C(20000000000)); /* 2.05 x 10^10 */
    down(&r);
}

/* With the caches off every access goes to memory: a 4-byte fetch from
 * NOR reads 2 words (90 + 25 ns), 3 at an odd address (90 + 2 x 25), a
 * 2-byte one there 2; from RAM one line's latency. */
static void test_cpu_no_cache(void **state)
{
    for (int xip = 0; xip < 2; xip++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, xip, "caches", "off");
        line(&r, "x 1 %#llx 4", (unsigned long long)TEXT);
        line(&r, "mark a");
        passes(&r, "x 1", 4, TEXT, 0, 10, 1, false);
        line(&r, "mark b");
        passes(&r, "x 1", 4, TEXT + 1, 0, 10, 1, false);
        passes(&r, "x 1", 2, TEXT + 3, 0, 10, 1, false);
        line(&r, "mark c");
        struct delta d = diff(&r, 0, 1);
        assert_int_equal(d.i1_refs, 10);
        assert_int_equal(d.i1_misses, 0);
        assert_int_equal(d.time, 10 + 10 * (xip ? 90 + 25 : RAMNS));
        d = diff(&r, 1, 2);
        assert_int_equal(d.i1_refs, 20);
        assert_int_equal(d.time, 20 + (xip ? 10 * (90 + 2 * 25) + 10 * (90 + 25)
                                           : 20 * RAMNS));
        down(&r);
    }
}

/* Profiles: bad text is refused with the key named; the built-ins load. */
static void test_cpu_profile_errors(void **state)
{
    (void)state;
    xvm_cpu_profile *p;
    char err[256];
    assert_int_equal(xvm_cpu_profile_create("no-such-cpu", &p), ENOENT);
    for (size_t i = 0; xvm_cpu_builtin(i) != NULL; i++) {
        assert_int_equal(xvm_cpu_profile_create(xvm_cpu_builtin(i), &p), 0);
        assert_int_equal(xvm_cpu_profile_check(p, err, sizeof(err)), 0);
        xvm_cpu_profile_destroy(p);
    }
    static const struct {
        const char *text, *says;
    } bad[] = {
        { "clock_mhz = 100\nbogus = 1\n", "f:2: bogus: unknown key" },
        { "clock_mhz = 0\n", "f:1: clock_mhz: a zero clock" },
        { "I1 = 1000,2,32\n", "f:1: I1: line size 32 times associativity 2 "
                              "does not divide" },
        { "I1 = 3072,1,32\n", "f:1: I1: set count 96" },
        { "D1 = 1024,2,48\n", "f:1: D1: line size 48 is not a power of two" },
        { "LL = 3000,2,64\n", "f:1: LL:" },
        { "clock_mhz 100\n", "f:1: expected KEY = VALUE" },
        { "ram_line_ns = 1.2345\n", "f:1: ram_line_ns:" },
        { "tlb = sparc\n", "f:1: tlb: expected r4000, split or direct" },
        { "superpage_sizes = 3K\n", "f:1: superpage_sizes:" },
        { "superpage_sizes = 16K,,64K\n", "f:1: superpage_sizes: an empty" },
        { "superpage_sizes = 16K,\n", "f:1: superpage_sizes: an empty" },
        { "superpage_sizes = ,16K\n", "f:1: superpage_sizes: an empty" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(xvm_cpu_profile_create("sgimips", &p), 0);
        assert_int_equal(
            xvm_cpu_profile_parse(p, bad[i].text, "f", err, sizeof(err)),
            EINVAL);
        if (strncmp(err, bad[i].says, strlen(bad[i].says)) != 0)
            fail_msg("'%s': said '%s', expected '%s...'", bad[i].text, err,
                     bad[i].says);
        xvm_cpu_profile_destroy(p);
    }
    /* Whole-profile checks: no clock; a super page the TLB cannot hold. */
    assert_int_equal(xvm_cpu_profile_create(NULL, &p), 0);
    assert_int_equal(xvm_cpu_profile_check(p, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "clock_mhz"));
    xvm_cpu_profile_destroy(p);
    assert_int_equal(xvm_cpu_profile_create("sgimips", &p), 0);
    assert_int_equal(
        xvm_cpu_profile_set(p, "superpage_sizes", "2M", err, sizeof(err)), 0);
    assert_int_equal(xvm_cpu_profile_check(p, err, sizeof(err)), EINVAL);
    assert_non_null(strstr(err, "superpage_sizes"));
    /* A machine refuses a bad profile. */
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_config_init(&cfg);
    cfg.cpu = p;
    assert_int_equal(xvm_machine_create(&cfg, &m), EINVAL);
    xvm_cpu_profile_destroy(p);
}

/* ---- super pages (paper §11 "Super pages", §4.2) ---- */

/* A machine of the given built-in CPU (or tiny) with super pages on or
 * off, fault-ahead off, and device memory of len bytes at pa in a devobj
 * mapped r-x private at va. */
struct sp {
    xvm_machine *m;
    xvm_vmspace *vs;
    xvm_object *obj;
    uint8_t *bytes;
};

static void sp_up_design(struct sp *s, const char *machine, const char *cpu,
                         int on, uint64_t pa, uint64_t va, uint64_t len,
                         unsigned ahead, enum xvm_device_design design)
{
    struct xvm_config cfg;
    xvm_cpu_profile *p;
    char err[200];
    memset(s, 0, sizeof(*s));
    if (cpu) {
        assert_int_equal(xvm_cpu_profile_create(cpu, &p), 0);
    } else {
        assert_int_equal(xvm_cpu_profile_create(NULL, &p), 0);
        assert_int_equal(
            xvm_cpu_profile_parse(p, tiny, "tiny", err, sizeof(err)), 0);
    }
    assert_int_equal(xvm_cpu_profile_set(p, "superpages", on ? "on" : "off",
                                         err, sizeof(err)),
                     0);
    xvm_config_init(&cfg);
    cfg.profile = machine;
    cfg.cpu = p;
    cfg.device_design = design;
    xvm_config_fault_ahead(&cfg, ahead);
    assert_int_equal(xvm_machine_create(&cfg, &s->m), 0);
    xvm_cpu_profile_destroy(p);
    s->bytes = malloc(len);
    for (uint64_t i = 0; i < len; i++)
        s->bytes[i] = (uint8_t)(i * 7 + (i >> 12));
    assert_int_equal(xvm_physload_device(s->m, pa, len, s->bytes), 0);
    assert_int_equal(xvm_devobj_create(s->m, pa, len, &s->obj), 0);
    s->vs = tm_vs(s->m);
    uint64_t at = va;
    assert_int_equal(xvm_mmap(s->vs, &at, len, XVM_PROT_READ | XVM_PROT_EXEC,
                              XVM_MAP_PRIVATE | XVM_MAP_FIXED, s->obj, 0),
                     0);
}

static void sp_up_ahead(struct sp *s, const char *machine, const char *cpu,
                        int on, uint64_t pa, uint64_t va, uint64_t len,
                        unsigned ahead)
{
    sp_up_design(s, machine, cpu, on, pa, va, len, ahead, XVM_DESIGN_SEGMENT);
}

static void sp_up(struct sp *s, const char *machine, const char *cpu, int on,
                  uint64_t pa, uint64_t va, uint64_t len)
{
    sp_up_ahead(s, machine, cpu, on, pa, va, len, 0);
}

static void sp_down(struct sp *s)
{
    tm_check(s->m);
    xvm_vmspace_destroy(s->vs);
    xvm_object_release(s->obj);
    xvm_machine_destroy(s->m);
    free(s->bytes);
}

static void fetch_pages(struct sp *s, uint64_t va, uint64_t len)
{
    uint8_t b[4];
    for (uint64_t off = 0; off < len; off += PG) {
        assert_int_equal(xvm_fetch(s->vs, va + off, b, 4), 0);
        assert_memory_equal(b, s->bytes + off, 4);
    }
}

static unsigned lg_shift(struct sp *s, uint64_t va)
{
    uint64_t pte = pmap_pte(s->vs->pmap, va);
    assert_true(pte & PTE_V);
    return pte_shift(pte, 12);
}

/*
 * sgimips: 128 KiB of device text at 64 KiB-aligned addresses enters as
 * two 64 KiB super pages, which one R4000 entry (a pair of 64 KiB pages)
 * maps: one refill for 32 pages instead of 16.  A write inside one (after
 * mprotect made it writable) demotes it: the copy-on-write page replaces
 * one PTE, the other fifteen go back to 4 KiB pages.
 */
static void test_superpage_entry_and_demotion_by_write(void **state)
{
    (void)state;
    const uint64_t pa = 0x10000000, va = 0x20000000, len = 0x20000;
    uint64_t refills[2];
    for (int on = 0; on < 2; on++) {
        struct sp s;
        sp_up(&s, "sgimips", NULL, on, pa, va, len);
        fetch_pages(&s, va, len);
        struct xvm_stats st = tm_stats(s.m);
        refills[on] = st.tlb_refills;
        assert_int_equal(st.superpages, on ? 2 : 0);
        assert_int_equal(st.device_maps, 32);
        assert_int_equal(lg_shift(&s, va + 0x5000), on ? 16 : 12);
        tm_check(s.m);
        if (on) {
            assert_int_equal(xvm_mprotect(s.vs, va, len, XVM_PROT_ALL), 0);
            assert_int_equal(tm_stats(s.m).superpage_demotions, 0);
            tm_wr8(s.vs, va + 0x3000, 0xee);
            st = tm_stats(s.m);
            assert_int_equal(st.superpage_demotions, 1);
            assert_int_equal(st.cow_from_device, 1);
            assert_int_equal(lg_shift(&s, va + 0x4000), 12);
            assert_int_equal(lg_shift(&s, va + 0x10000), 16); /* untouched */
            assert_int_equal(tm_rd8(s.vs, va + 0x3000), 0xee);
            assert_int_equal(tm_rd8(s.vs, va + 0x4001), s.bytes[0x4001]);
            tm_check(s.m);
        }
        sp_down(&s);
    }
    print_message("32 pages fetched: %llu TLB refills with 4 KiB pages, "
                  "%llu with super pages\n",
                  (unsigned long long)refills[0],
                  (unsigned long long)refills[1]);
    assert_int_equal(refills[0], 16);
    assert_int_equal(refills[1], 1);
}

/*
 * Super pages under every device-page design (doc/beyond-the-paper.md):
 * the PV hash, vm_pages of device pages, no PV entries at all.  A fork
 * makes the child's own (two mappings of each device page), a write in
 * the child demotes its super page and not the parent's, and the checker,
 * which knows large entries and each design's PV tracking, stays clean.
 */
static void test_superpage_under_each_device_design(void **state)
{
    (void)state;
    const uint64_t pa = 0x10000000, va = 0x20000000, len = 0x20000;
    for (int d = 0; d < XVM_DESIGNS; d++) {
        struct sp s;
        xvm_vmspace *child;
        sp_up_design(&s, "sgimips", NULL, 1, pa, va, len, 0,
                     (enum xvm_device_design)d);
        fetch_pages(&s, va, len);
        assert_int_equal(tm_stats(s.m).superpages, 2);
        assert_int_equal(lg_shift(&s, va + 0x5000), 16);
        tm_check(s.m);
        assert_int_equal(xvm_vmspace_fork(s.vs, &child), 0);
        uint8_t b[4];
        for (uint64_t off = 0; off < len; off += PG)
            assert_int_equal(xvm_fetch(child, va + off, b, 4), 0);
        assert_int_equal(tm_stats(s.m).superpages, 4); /* the child's too */
        tm_check(s.m);
        uint64_t demoted = tm_stats(s.m).superpage_demotions;
        assert_int_equal(xvm_mprotect(child, va, len, XVM_PROT_ALL), 0);
        tm_wr8(child, va + 0x13000, 0xab);
        assert_int_equal(tm_rd8(child, va + 0x13000), 0xab);
        assert_int_equal(tm_rd8(s.vs, va + 0x13000), s.bytes[0x13000]);
        assert_true(tm_stats(s.m).superpage_demotions > demoted);
        assert_int_equal(lg_shift(&s, va + 0x15000), 16); /* the parent's */
        tm_check(s.m);
        assert_int_equal(xvm_mprotect(s.vs, va + 0x2000, PG, XVM_PROT_READ), 0);
        assert_int_equal(lg_shift(&s, va), 12);
        tm_check(s.m);
        xvm_vmspace_destroy(child);
        tm_check(s.m);
        sp_down(&s);
    }
}

/* mprotect of one page inside a super page, and munmap of one, demote
 * it; mprotect of a whole one keeps it, with the new rights. */
static void test_superpage_demotion_by_mprotect_and_munmap(void **state)
{
    (void)state;
    const uint64_t pa = 0x10000000, va = 0x20000000, len = 0x30000;
    struct sp s;
    sp_up(&s, "sgimips", NULL, 1, pa, va, len);
    fetch_pages(&s, va, len);
    assert_int_equal(tm_stats(s.m).superpages, 3);

    assert_int_equal(xvm_mprotect(s.vs, va + 0x1000, PG, XVM_PROT_READ), 0);
    assert_int_equal(tm_stats(s.m).superpage_demotions, 1);
    assert_int_equal(lg_shift(&s, va), 12);
    uint8_t b[4];
    assert_int_equal(xvm_fetch(s.vs, va + 0x1000, b, 4), EACCES);
    assert_int_equal(xvm_fetch(s.vs, va + 0x2000, b, 4), 0);
    tm_check(s.m);

    assert_int_equal(xvm_munmap(s.vs, va + 0x12000, PG), 0);
    assert_int_equal(tm_stats(s.m).superpage_demotions, 2);
    assert_int_equal(lg_shift(&s, va + 0x13000), 12);
    assert_int_equal(xvm_fetch(s.vs, va + 0x12000, b, 4), EFAULT);
    tm_check(s.m);

    /* The whole third one made read-only: still one super page. */
    assert_int_equal(xvm_mprotect(s.vs, va + 0x20000, 0x10000, XVM_PROT_READ),
                     0);
    assert_int_equal(tm_stats(s.m).superpage_demotions, 2);
    assert_int_equal(lg_shift(&s, va + 0x25000), 16);
    assert_int_equal(xvm_fetch(s.vs, va + 0x25000, b, 4), EACCES);
    assert_int_equal(xvm_read(s.vs, va + 0x25000, b, 4), 0);
    tm_check(s.m);
    sp_down(&s);
}

/*
 * amd64: 2 MiB of device text at 2 MiB-aligned addresses is one 2 MiB
 * mapping: one page walk (of three reads: the PDE is the leaf) for 512
 * pages; with 4 KiB pages, 512 walks.
 */
static void test_superpage_amd64_2m(void **state)
{
    (void)state;
    const uint64_t pa = 0x40000000, va = 0x40000000, len = 0x200000;
    uint64_t walks[2];
    for (int on = 0; on < 2; on++) {
        struct sp s;
        sp_up(&s, "amd64", "amd64", on, pa, va, len);
        fetch_pages(&s, va, len);
        struct xvm_stats st = tm_stats(s.m);
        walks[on] = st.tlb_refills;
        assert_int_equal(st.superpages, on);
        assert_int_equal(lg_shift(&s, va + 0x123000), on ? 21 : 12);
        sp_down(&s);
    }
    assert_int_equal(walks[0], 512);
    assert_int_equal(walks[1], 1);
}

/*
 * XIP text from a real image: /bin/text (64 KiB) in FFS blocks of 16 KiB,
 * each block aligned on flash, maps as super pages of at least 16 KiB.
 * Fewer TLB refills, less TLB time; same bytes, checker clean.
 */
static void test_superpage_xip_text(void **state)
{
    uint64_t refills[2], tlb_ns[2], sp[2];
    for (int on = 0; on < 2; on++) {
        struct run r;
        up(&r, *state, "sgimips", tiny, 1, "superpages", on ? "on" : "off");
        line(&r, "mark a");
        passes(&r, "x 1", 4, TEXT, 4096, 16, 3, false);
        line(&r, "mark b");
        const struct xvm_stats *a = at(&r, 0), *b = at(&r, 1);
        refills[on] = b->tlb_refills - a->tlb_refills;
        tlb_ns[on] = b->time_ns_tlb - a->time_ns_tlb;
        sp[on] = b->superpages;
        down(&r);
    }
    print_message("16 XIP text pages: %llu refills, %llu ns of TLB time with "
                  "4 KiB pages; %llu refills, %llu ns with %llu super pages\n",
                  (unsigned long long)refills[0], (unsigned long long)tlb_ns[0],
                  (unsigned long long)refills[1], (unsigned long long)tlb_ns[1],
                  (unsigned long long)sp[1]);
    assert_int_equal(sp[0], 0);
    assert_true(sp[1] >= 1);
    assert_int_equal(refills[0], 8); /* 16 pages, 8 pairs */
    assert_true(refills[1] < refills[0]);
    assert_true(tlb_ns[1] < tlb_ns[0]);
}

/* The raw PTE bytes of va (sgimips: 4-byte big-endian, 10/10/12). */
static uint8_t *pte_bytes(xvm_machine *m, xvm_vmspace *vs, uint64_t va)
{
    const uint8_t *p =
        pmap_table_entry(&m->mmu, vs->pmap->root, (va >> 22) & 1023);
    assert_non_null(p);
    uint64_t pde = (uint64_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
    pageh leaf = phys_lookup(&m->ph, (pde >> 12) << 12);
    uint8_t *pte = pmap_table_entry(&m->mmu, leaf, (va >> 12) & 1023);
    assert_non_null(pte);
    return pte;
}

static void expect_fail(xvm_machine *m, const char *what)
{
    char msg[256];
    assert_int_equal(xvm_machine_check(m, msg, sizeof(msg)), EINVAL);
    if (strstr(msg, what) == NULL)
        fail_msg("checker said \"%s\", expected \"%s\"", msg, what);
}

/* The checker knows super pages: a page of one with another size or
 * frame, and a software TLB entry of the wrong size, are named. */
static void test_superpage_checker_catches_a_broken_run(void **state)
{
    (void)state;
    const uint64_t va = 0x20000000;
    struct sp s;
    sp_up(&s, "sgimips", NULL, 1, 0x10000000, va, 0x10000);
    fetch_pages(&s, va, 0x10000);
    tm_check(s.m);
    uint8_t *pte = pte_bytes(s.m, s.vs, va + 0x5000);
    pte[2] ^= 0x0f; /* LG bits: another size */
    expect_fail(s.m, "super page");
    pte[2] ^= 0x0f;
    pte[2] ^= 0x10; /* the frame: one page further */
    expect_fail(s.m, "super page");
    pte[2] ^= 0x10;
    uint8_t *first = pte_bytes(s.m, s.vs, va);
    first[2] &= 0xf0; /* the first page no longer large */
    expect_fail(s.m, "super page");
    first[2] |= 0x04; /* 16: 64 KiB again */
    tm_check(s.m);
    struct tlbent *e =
        tlb_slot(&s.m->mmu.tlb, s.vs->pmap->asid, (va + 0x3000) >> 12);
    assert_int_equal(e->shift, 16);
    e->shift = 12;
    expect_fail(s.m, "wrong page size");
    e->shift = 16;
    /* A RAM page marked as a super page's. */
    uint64_t a =
        tm_anon(s.vs, 1, XVM_PROT_READ | XVM_PROT_WRITE, XVM_MAP_PRIVATE);
    tm_wr8(s.vs, a, 1);
    uint8_t *anon = pte_bytes(s.m, s.vs, a);
    anon[2] |= 0x04;
    expect_fail(s.m, "super page of a RAM page");
    anon[2] &= 0xf0;
    sp_down(&s);
}

/*
 * Fault-ahead maps neighbours as 4 KiB pages first; the super page then
 * takes them over (they change size: the TLB model drops them).  A page
 * protection lowered through the PV list demotes; a super page that
 * cannot get its PV entries is not made, and the page maps alone.
 */
static void test_superpage_over_neighbours_pv_protect_and_no_memory(
    void **state)
{
    (void)state;
    const uint64_t pa = 0x10000000, va = 0x20000000, len = 0x10000;
    struct sp s;
    sp_up_ahead(&s, "sgimips", NULL, 1, pa, va, len, 4);
    uint8_t b[4];
    /* Neighbours first, then the run over them. */
    assert_int_equal(xvm_fetch(s.vs, va + 0x8000, b, 4), 0);
    assert_memory_equal(b, s.bytes + 0x8000, 4);
    struct xvm_stats st = tm_stats(s.m);
    assert_int_equal(st.superpages, 1);
    assert_true(st.neighbour_maps > 0);
    assert_int_equal(lg_shift(&s, va + 0x7000), 16);
    tm_check(s.m);
    pmap_page_protect(&s.m->mmu, page_device(pa + 0x3000), XVM_PROT_READ);
    assert_int_equal(tm_stats(s.m).superpage_demotions, 1);
    assert_int_equal(lg_shift(&s, va + 0x3000), 12);
    tm_check(s.m);
    /* The entry still allows exec: the fault maps the page back, and the
     * run is whole again, so it is a super page again. */
    assert_int_equal(xvm_fetch(s.vs, va + 0x3000, b, 4), 0);
    assert_memory_equal(b, s.bytes + 0x3000, 4);
    assert_int_equal(tm_stats(s.m).superpages, 2);
    assert_int_equal(lg_shift(&s, va + 0x3000), 16);
    tm_check(s.m);
    sp_down(&s);

    /* Out of host memory at each allocation of the fault in turn (the
     * fault restarts after ENOMEM, as UVM's waits for the page daemon):
     * a failure inside the 64 KiB run leaves no part of it, and the fault
     * falls back to a 16 KiB super page; the bytes are always right. */
    bool smaller = false;
    for (uint64_t n = 1; n < 40; n++) {
        sp_up(&s, "sgimips", NULL, 1, pa, va, len);
        xvm_inject_failures(s.m, n, 0);
        int e = xvm_fetch(s.vs, va, b, 4);
        xvm_inject_failures(s.m, 0, 0);
        assert_int_equal(e, 0);
        assert_memory_equal(b, s.bytes, 4);
        if (lg_shift(&s, va) == 14) {
            smaller = true;
            assert_int_equal(pmap_pte(s.vs->pmap, va + 0x4000) & PTE_V, 0);
        }
        tm_check(s.m);
        sp_down(&s);
    }
    assert_true(smaller);
}

/* pmap_enter_large refuses what is not a super page of device memory;
 * pmap_walk_pas knows no walk where no table is. */
static void test_superpage_refusals_and_walks(void **state)
{
    (void)state;
    const uint64_t pa = 0x10000000, va = 0x20000000;
    struct sp s;
    sp_up(&s, "sgimips", NULL, 1, pa, va, 0x20000);
    struct pmap *pm = s.vs->pmap;
    const unsigned rx = XVM_PROT_READ | XVM_PROT_EXEC;
    assert_int_equal(pmap_enter_large(pm, va, pa, 12, rx), EINVAL);
    assert_int_equal(pmap_enter_large(pm, va, pa, 41, rx), EINVAL);
    assert_int_equal(pmap_enter_large(pm, va + 0x1000, pa, 16, rx), EINVAL);
    assert_int_equal(pmap_enter_large(pm, va, pa + 0x1000, 16, rx), EINVAL);
    assert_int_equal(pmap_enter_large(pm, va, pa, 16, XVM_PROT_ALL), EINVAL);
    assert_int_equal(pmap_enter_large(pm, 0x7fff0000, pa, 17, rx), EINVAL);
    assert_int_equal(pmap_enter_large(pm, va, 0, 16, rx), EINVAL); /* RAM */
    assert_int_equal(pmap_enter_large(pm, 0x40000000, pa, 30, rx), EINVAL);
    assert_int_equal(pmap_enter_large(pm, 0x80000000, pa, 16, rx), EINVAL);
    assert_int_equal(tm_stats(s.m).superpages, 0);
    uint64_t pas[5];
    assert_int_equal(pmap_walk_pas(pm, UINT64_C(0x80000000), pas), 0);
    assert_int_equal(pmap_walk_pas(pm, 0x50000000, pas), 0);
    fetch_pages(&s, va, 0x1000);
    assert_int_equal(pmap_walk_pas(pm, va, pas), 3);
    assert_int_equal(pas[2], pas[1] ^ 4); /* the pair's other PTE */
    /* Entering one page of a super page again, with other rights, or as
     * a plain page, splits it first. */
    fetch_pages(&s, va, 0x10000);
    assert_int_equal(lg_shift(&s, va + 0x2000), 16);
    assert_int_equal(
        pmap_enter(pm, va + 0x2000, page_device(pa + 0x2000), XVM_PROT_READ, 0),
        0);
    assert_int_equal(tm_stats(s.m).superpage_demotions, 1);
    assert_int_equal(lg_shift(&s, va + 0x5000), 12);
    tm_check(s.m);
    sp_down(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_loop_fits_i1),
        cmocka_unit_test(test_cpu_loop_thrashes_i1),
        cmocka_unit_test(test_cpu_stride_across_sets),
        cmocka_unit_test(test_cpu_straddling_access),
        cmocka_unit_test(test_cpu_write_back),
        cmocka_unit_test(test_cpu_write_back_of_a_line_over_many_ll_lines),
        cmocka_unit_test(test_cpu_r4000_pairs),
        cmocka_unit_test(test_cpu_xip_vs_copy_time),
        cmocka_unit_test(test_cpu_no_cache),
        cmocka_unit_test(test_cpu_read_from_flash_reads_the_lines_it_spans),
        cmocka_unit_test(test_cpu_time_past_2_64_ns_stays_at_the_top),
        cmocka_unit_test(test_cpu_profile_errors),
        cmocka_unit_test(test_superpage_entry_and_demotion_by_write),
        cmocka_unit_test(test_superpage_under_each_device_design),
        cmocka_unit_test(test_superpage_demotion_by_mprotect_and_munmap),
        cmocka_unit_test(test_superpage_amd64_2m),
        cmocka_unit_test(test_superpage_xip_text),
        cmocka_unit_test(test_superpage_checker_catches_a_broken_run),
        cmocka_unit_test(
            test_superpage_over_neighbours_pv_protect_and_no_memory),
        cmocka_unit_test(test_superpage_refusals_and_walks),
    };
    return cmocka_run_group_tests(tests, setup, tree_image_teardown);
}
