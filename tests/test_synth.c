/*
 * test_synth.c - synthetic traces of /bin/busybox and of a static-pie
 * program built at test time: deterministic, canonical, valid (zero
 * mismatches when replayed on FFS images in XIP and copy mounts), and
 * with the properties each kind promises, counted from the trace alone.
 */
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf.h"
#include "synth.h"
#include "xipvm_trace.h"

extern char **environ;

#define BUSYBOX "/bin/busybox"
#define EVENTS  20000u
#define PROCS   8u
#define MAXPID  64u
#define CHUNKPG 512u /* pages of the heap and stack chunks */
#define MAXDATA 64u  /* data pages the tests' programs have at most */
#define KEYS    (CHUNKPG + MAXDATA)
#define LINE    9216u

/* Initialised data and bss over several pages, for COW to work on. */
static const char prog_src[] = "#include <stdio.h>\n"
                               "#include <string.h>\n"
                               "static char data[6 * 4096] = { 1, 2, 3 };\n"
                               "static char bss[10 * 4096];\n"
                               "int main(int argc, char **argv)\n"
                               "{\n"
                               "    data[argc] ^= 1;\n"
                               "    memset(bss, argc, sizeof(bss));\n"
                               "    puts(argv[0]);\n"
                               "    return bss[100] + data[4096];\n"
                               "}\n";

struct prog {
    char host[512];
    const char *as, *profile;
    struct elf_image im;
    uint64_t bias;
    uint64_t wlo, whi,
        wfile;           /* writable pages; whole file pages end at wfile */
    unsigned exec_cow;   /* 1 when exec zeroes bss in the last file page */
    uint64_t lo, npages; /* the image's page span */
};

struct fixture {
    char *root, *dir;
    char img[512], notelf[512];
    struct prog prog[2];
};

/* What the trace says, counted by the test on its own. */
struct facts {
    uint64_t lines, spawns, forks, exits, mmaps, x, r, w, rdata;
    unsigned nmarks;
    char marks[8][16];
    uint64_t peak_at, first_exit_at; /* event numbers */
    uint64_t
        cow_child; /* first writes of a forked pid to pages it inherited dirty */
    uint64_t
        dev_first; /* first writes to whole file pages no copy of which is held */
    uint64_t ro_pages;     /* distinct text and rodata pages fetched or read */
    uint64_t hot_permille; /* x events in the most fetched --hot-pages pages */
    uint64_t data_written[MAXPID + 1]; /* distinct data pages written, by pid */
};

struct pstate {
    int live, forked;
    uint32_t parent;
    unsigned nchunks;
    uint8_t dirty[KEYS], own[KEYS];
};

/* ---------- fixture ---------- */

static int run(const char *const *argv)
{
    pid_t pid;
    int st = 0;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) !=
        0)
        return -1;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void load_prog(struct prog *p, const char *host, const char *as,
                      const char *profile)
{
    uint64_t n;
    uint8_t *buf = file_slurp(host, &n);
    snprintf(p->host, sizeof(p->host), "%s", host);
    p->as = as;
    p->profile = profile;
    assert_int_equal(elf_parse(buf, n, &p->im), 0);
    free(buf);
    p->bias =
        p->im.is_dyn ? ELF_DYN_BASE - (p->im.lo & ~(uint64_t)(PG - 1)) : 0;
    p->lo = (p->im.lo + p->bias) & ~(uint64_t)(PG - 1);
    p->npages = (p->im.hi + p->bias + PG - 1) / PG - p->lo / PG;
    unsigned nw = 0;
    for (unsigned i = 0; i < p->im.nload; i++) {
        const struct elf_load *l = &p->im.load[i];
        if (!(l->prot & ELF_PROT_WRITE))
            continue;
        nw++;
        p->wlo = (l->vaddr + p->bias) & ~(uint64_t)(PG - 1);
        p->whi = (l->vaddr + p->bias + l->memsz + PG - 1) & ~(uint64_t)(PG - 1);
        p->wfile = (l->vaddr + p->bias + l->filesz) & ~(uint64_t)(PG - 1);
        p->exec_cow = l->memsz > l->filesz && l->filesz &&
                      ((l->vaddr + l->filesz) & (PG - 1));
    }
    assert_int_equal(nw, 1);
    assert_true((p->whi - p->wlo) / PG <= MAXDATA);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char src[512], pie[512], busy[512];
    uint64_t n;
    assert_non_null(fx);
    fx->root = tree_new();
    fx->dir = tree_new();
    snprintf(busy, sizeof(busy), "%s/bin/busybox", fx->root);
    tree_dir(fx->root, "bin");
    uint8_t *b = file_slurp(BUSYBOX, &n);
    file_spit(busy, b, n);
    free(b);
    snprintf(src, sizeof(src), "%s/prog.c", fx->dir);
    file_spit(src, (const uint8_t *)prog_src, sizeof(prog_src) - 1);
    snprintf(pie, sizeof(pie), "%s/bin/pie", fx->root);
    /* the toolchain supports it here: a failure is a failure, not a skip */
    if (run((const char *const[]){ "cc", "-static-pie", "-O1", "-o", pie, src,
                                   NULL }) != 0)
        fail_msg("cc -static-pie failed");
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "fs.img", fx->root, 2,
                  "little", 32768, 4096);
    snprintf(fx->notelf, sizeof(fx->notelf), "%s/prog.c", fx->dir);
    load_prog(&fx->prog[0], BUSYBOX, "/bin/busybox", "sgimips");
    load_prog(&fx->prog[1], pie, "/bin/pie", "amd64");
    assert_false(fx->prog[0].im.is_dyn);
    assert_true(fx->prog[1].im.is_dyn);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_remove(fx->root);
    tree_remove(fx->dir);
    free(fx);
    return 0;
}

/* ---------- generating ---------- */

static char *gen(const struct synth_opts *o, size_t *len,
                 struct synth_stats *st)
{
    char *buf = NULL, err[256];
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    int rc = synth_write(f, o, st, err, sizeof(err));
    assert_int_equal(fclose(f), 0);
    if (rc != 0)
        fail_msg("synth_write: %s (%d)", err, rc);
    *len = n;
    return buf;
}

static void opts_for(struct synth_opts *o, enum synth_kind k,
                     const struct prog *p)
{
    synth_opts_init(o, k);
    o->seed = 42;
    o->events = EVENTS;
    o->procs = PROCS;
    o->exec_host_path = p->host;
    o->path_in_image = p->as;
}

/* => the next line of buf (copied, NUL-terminated) or NULL at the end. */
static char *next_line(const char *buf, size_t len, size_t *pos, char *line)
{
    if (*pos >= len)
        return NULL;
    const char *nl = memchr(buf + *pos, '\n', len - *pos);
    assert_non_null(nl); /* every line ends in a newline */
    size_t n = (size_t)(nl - (buf + *pos)) + 1;
    assert_true(n < LINE);
    memcpy(line, buf + *pos, n);
    line[n] = '\0';
    *pos += n;
    return line;
}

/* ---------- the trace on its own ---------- */

static int in_seg(const struct prog *p, uint64_t a, uint64_t n, int need)
{
    for (unsigned i = 0; i < p->im.nload; i++) {
        const struct elf_load *l = &p->im.load[i];
        uint64_t lo = (l->vaddr + p->bias) & ~(uint64_t)(PG - 1);
        uint64_t hi =
            (l->vaddr + p->bias + l->memsz + PG - 1) & ~(uint64_t)(PG - 1);
        if ((l->prot & need) == need && a >= lo && a + n <= hi)
            return 1;
    }
    return 0;
}

/* => the page's key for the dirty maps, or -1 outside data and chunks. */
static int key_of(const struct prog *p, uint64_t a)
{
    if (a >= TRACE_ANON_BASE && a < TRACE_ANON_BASE + 2 * TRACE_ANON_CHUNK)
        return (int)((a - TRACE_ANON_BASE) / PG);
    if (a >= p->wlo && a < p->whi)
        return (int)(CHUNKPG + (a - p->wlo) / PG);
    return -1;
}

static void on_write(const struct prog *p, struct pstate *ps, uint32_t pid,
                     uint64_t a, struct facts *fc)
{
    int k = key_of(p, a);
    assert_true(k >= 0);
    if (!ps->own[k]) {
        if (ps->dirty[k] && ps->forked)
            fc->cow_child++;
        if (!ps->dirty[k] && a >= p->wlo && a < p->wfile)
            fc->dev_first++;
        if (k >= (int)CHUNKPG)
            fc->data_written[pid]++;
    }
    ps->own[k] = ps->dirty[k] = 1;
}

/* Process events: pids alive when used, parents outliving children. */
static void on_proc(const struct xvm_trace_event *ev, struct pstate *ps,
                    struct facts *fc)
{
    assert_true(ev->pid >= 1 && ev->pid <= MAXPID);
    struct pstate *s = &ps[ev->pid];
    switch (ev->op) {
    case XVM_T_SPAWN:
        assert_false(s->live);
        memset(s, 0, sizeof(*s));
        s->live = 1;
        fc->spawns++;
        break;
    case XVM_T_FORK:
        assert_true(s->live && ev->pid2 <= MAXPID && !ps[ev->pid2].live);
        ps[ev->pid2] = *s;
        memset(ps[ev->pid2].own, 0, sizeof(s->own));
        ps[ev->pid2].forked = 1;
        ps[ev->pid2].parent = ev->pid;
        fc->forks++;
        break;
    default:
        assert_true(s->live);
        for (unsigned c = 1; c <= MAXPID; c++)
            if (ps[c].live && ps[c].parent == ev->pid && ps[c].forked)
                fail_msg("pid %u exits before its child %u", ev->pid, c);
        s->live = 0;
        if (fc->exits++ == 0)
            fc->first_exit_at = fc->lines;
        break;
    }
}

static void on_access(const struct prog *p, const struct xvm_trace_event *ev,
                      struct pstate *ps, struct facts *fc, uint32_t *xcount)
{
    struct pstate *s = &ps[ev->pid];
    assert_true(ev->pid >= 1 && ev->pid <= MAXPID && s->live);
    int chunk = ev->addr >= TRACE_ANON_BASE &&
                ev->addr + ev->len <= TRACE_ANON_BASE + 2 * TRACE_ANON_CHUNK;
    if (chunk)
        assert_int_equal(s->nchunks, 2); /* mapped before use */
    if (ev->op == XVM_T_EXEC_FETCH) {
        assert_true(ev->len >= 1 && ev->len <= 15);
        assert_true(in_seg(p, ev->addr, ev->len, ELF_PROT_EXEC));
        xcount[ev->addr / PG - p->lo / PG]++;
        fc->x++;
    } else if (ev->op == XVM_T_READ) {
        assert_true(chunk || in_seg(p, ev->addr, ev->len, ELF_PROT_READ));
        fc->r++;
        fc->rdata += (uint64_t)ev->has_data;
    } else {
        assert_true(chunk || in_seg(p, ev->addr, ev->len, ELF_PROT_WRITE));
        on_write(p, s, ev->pid, ev->addr, fc);
        fc->w++;
    }
}

static void on_mmap(const struct xvm_trace_event *ev, struct pstate *ps,
                    struct facts *fc)
{
    assert_true(ev->pid >= 1 && ev->pid <= MAXPID && ps[ev->pid].live);
    assert_true(ev->path == NULL && ev->fixed && !ev->shared);
    assert_int_equal(ev->len, TRACE_ANON_CHUNK);
    assert_int_equal(ev->addr,
                     TRACE_ANON_BASE + ps[ev->pid].nchunks * TRACE_ANON_CHUNK);
    ps[ev->pid].nchunks++;
    fc->mmaps++;
}

static int cmp_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Distinct text/rodata pages used, and the share of fetches in the hottest. */
static void page_figures(const struct prog *p, uint32_t *xcount,
                         const uint8_t *ro, unsigned hot, struct facts *fc)
{
    for (uint64_t i = 0; i < p->npages; i++)
        fc->ro_pages += ro[i];
    qsort(xcount, p->npages, sizeof(*xcount), cmp_desc);
    uint64_t top = 0;
    for (unsigned i = 0; i < hot && i < p->npages; i++)
        top += xcount[i];
    fc->hot_permille = fc->x ? top * 1000 / fc->x : 0;
}

/* Parses every line (it must write back identically) and counts. */
static void analyze(const struct prog *p, const char *buf, size_t len,
                    unsigned hot, struct facts *fc)
{
    struct xvm_trace_event ev;
    char line[LINE], orig[LINE], again[LINE];
    struct pstate *ps = calloc(MAXPID + 1, sizeof(*ps));
    uint32_t *xcount = calloc(p->npages, sizeof(*xcount));
    uint8_t *ro = calloc(p->npages, 1);
    size_t pos = 0;
    assert_true(ps && xcount && ro);
    memset(fc, 0, sizeof(*fc));
    assert_int_equal(xvm_trace_check_header(next_line(buf, len, &pos, line)),
                     0);
    fc->lines = 1;
    while (next_line(buf, len, &pos, line)) {
        memcpy(orig, line, sizeof(line));
        assert_int_equal(xvm_trace_parse_line(line, &ev, NULL), 1);
        assert_true(xvm_trace_format_event(&ev, again, sizeof(again)) > 0);
        assert_string_equal(again, orig); /* canonical */
        fc->lines++;
        if (ev.op == XVM_T_MARK) {
            assert_true(fc->nmarks < 8);
            snprintf(fc->marks[fc->nmarks++], 16, "%s", ev.label);
            if (strcmp(ev.label, "peak") == 0)
                fc->peak_at = fc->lines;
        } else if (ev.op == XVM_T_MMAP) {
            on_mmap(&ev, ps, fc);
        } else if (ev.op == XVM_T_SPAWN || ev.op == XVM_T_FORK ||
                   ev.op == XVM_T_EXIT) {
            on_proc(&ev, ps, fc);
        } else {
            on_access(p, &ev, ps, fc, xcount);
            uint64_t pg = ev.addr / PG - p->lo / PG;
            if (ev.op != XVM_T_WRITE && pg < p->npages &&
                !in_seg(p, ev.addr, ev.len, ELF_PROT_WRITE))
                ro[pg] = 1;
        }
    }
    page_figures(p, xcount, ro, hot, fc);
    free(ps);
    free(xcount);
    free(ro);
}

/* ---------- replaying ---------- */

struct outcome {
    struct xvm_stats st;
    struct xvm_stats peak; /* at mark "peak" */
};

static void feed(xvm_replay *r, const char *buf, size_t len)
{
    char line[LINE], msg[256];
    size_t pos = 0;
    while (next_line(buf, len, &pos, line)) {
        int mismatch = 0;
        if (xvm_replay_line(r, line, &mismatch, msg, sizeof(msg)) != 0 ||
            mismatch)
            fail_msg("replay: %s", msg);
    }
}

static void replay(const struct fixture *fx, const struct prog *p,
                   const char *buf, size_t len, const struct facts *fc, int xip,
                   struct outcome *out)
{
    struct xvm_replay_totals t;
    struct tm_world w;
    xvm_replay *r;
    tm_world_open(&w, p->profile, UINT64_C(128) << 20, 1, fx->img);
    tm_world_mount(&w, xip, TM_RA_DEFAULT, 0);
    xvm_machine *m = w.m;
    assert_int_equal(xvm_replay_create(m, w.mp, &r), 0);
    feed(r, buf, len);
    xvm_replay_totals(r, &t);
    assert_int_equal(t.mismatches, 0);
    assert_int_equal(t.lines, fc->lines);
    assert_int_equal(t.events, fc->lines - 1);
    assert_int_equal(t.nmarks, fc->nmarks);
    for (unsigned i = 0; i < t.nmarks; i++) {
        assert_string_equal(t.marks[i].label, fc->marks[i]);
        if (strcmp(t.marks[i].label, "peak") == 0)
            out->peak = t.marks[i].rep.st;
    }
    tm_check(m);
    xvm_machine_stats(m, &out->st);
    for (uint32_t pid = 1; pid <= MAXPID; pid++) {
        int e = xvm_exit(m, pid); /* --keep leaves them running */
        assert_true(e == 0 || e == ESRCH);
    }
    xvm_replay_destroy(r);
    tm_world_down(&w);
}

/* ---------- one kind on one program ---------- */

static void check_marks(const struct facts *fc)
{
    assert_int_equal(fc->nmarks, 3);
    assert_string_equal(fc->marks[0], "spawned");
    assert_string_equal(fc->marks[1], "peak");
    assert_string_equal(fc->marks[2], "end");
}

/* Generates twice and with another seed; => the trace, its facts and stats. */
static char *generate_checked(const struct synth_opts *o, size_t *len,
                              struct synth_stats *st)
{
    struct synth_opts other = *o;
    size_t n2, n3;
    char *t1 = gen(o, len, st), *t2 = gen(o, &n2, NULL);
    assert_int_equal(*len, n2);
    assert_memory_equal(t1, t2, n2); /* same seed, same bytes */
    other.seed++;
    char *t3 = gen(&other, &n3, NULL);
    assert_true(n3 != *len || memcmp(t1, t3, n3) != 0);
    free(t2);
    free(t3);
    return t1;
}

static void check_kind(const struct fixture *fx, const struct prog *p,
                       const struct synth_opts *o, struct facts *fc,
                       struct outcome out[2])
{
    struct synth_stats st;
    size_t len;
    char *t = generate_checked(o, &len, &st);
    analyze(p, t, len, o->hot_pages, fc);
    assert_int_equal(st.lines, fc->lines);
    assert_int_equal(st.x, fc->x);
    assert_int_equal(st.r, fc->r);
    assert_int_equal(st.w, fc->w);
    assert_true(fc->rdata > fc->r / 2); /* most reads check their bytes */
    check_marks(fc);
    for (int xip = 0; xip < 2; xip++)
        replay(fx, p, t, len, fc, xip, &out[xip]);
    /* copy mode caches every text and rodata page used; XIP maps them in place */
    assert_int_equal(out[0].st.reclaimed, 0);
    assert_true(out[0].st.pages_peak[XVM_USE_PAGECACHE] >= fc->ro_pages);
    assert_true(out[1].st.pages_peak[XVM_USE_PAGECACHE] <
                out[0].st.pages_peak[XVM_USE_PAGECACHE]);
    assert_true(out[1].st.device_maps > 0);
    assert_int_equal(out[0].st.cow_from_device, 0);
    free(t);
}

/*
 * Every promotion is accounted for: exec's bss page, first writes to whole
 * file pages (from flash under XIP) and children's first writes to pages
 * they share with their parent (which never writes after forking).
 */
static void check_cow(const struct prog *p, const struct facts *fc,
                      const struct outcome out[2])
{
    uint64_t execs = fc->spawns * p->exec_cow;
    for (int xip = 0; xip < 2; xip++)
        assert_int_equal(out[xip].st.cow_promotions,
                         fc->cow_child + fc->dev_first + execs);
    assert_int_equal(out[1].st.cow_from_device, fc->dev_first + execs);
}

static void spawn_many(const struct fixture *fx, const struct prog *p, int keep)
{
    struct synth_opts o;
    struct facts fc;
    struct outcome out[2];
    opts_for(&o, SYNTH_SPAWN_MANY, p);
    o.keep = keep;
    check_kind(fx, p, &o, &fc, out);
    assert_int_equal(fc.spawns, PROCS);
    assert_int_equal(fc.forks, 0);
    assert_int_equal(fc.exits, keep ? 0 : PROCS);
    assert_int_equal(fc.x + fc.r + fc.w, EVENTS);
    assert_int_equal(fc.mmaps, 2 * PROCS);
    if (!keep)
        assert_true(fc.peak_at < fc.first_exit_at);
    /* all alive at the peak: one private stack page each at least */
    assert_true(out[1].peak.pages[XVM_USE_ANON] >= PROCS);
    check_cow(p, &fc, out);
}

static void fork_storm(const struct fixture *fx, const struct prog *p)
{
    struct synth_opts o;
    struct facts fc;
    struct outcome out[2];
    opts_for(&o, SYNTH_FORK_STORM, p);
    check_kind(fx, p, &o, &fc, out);
    assert_int_equal(fc.spawns, 1);
    assert_int_equal(fc.forks, PROCS - 1);
    assert_int_equal(fc.exits, PROCS);
    assert_int_equal(fc.x + fc.r + fc.w, EVENTS);
    assert_true(fc.cow_child >= PROCS - 1);
    assert_true(fc.dev_first > 0);
    check_cow(p, &fc, out);
}

static void data_writers(const struct fixture *fx, const struct prog *p,
                         uint64_t fraction)
{
    struct synth_opts o;
    struct facts fc;
    struct outcome out[2];
    uint64_t n = (p->whi - p->wlo) / PG;
    uint64_t want = (n * fraction + SYNTH_ONE / 2) >> 32;
    opts_for(&o, SYNTH_DATA_WRITERS, p);
    o.write_fraction = fraction;
    check_kind(fx, p, &o, &fc, out);
    assert_int_equal(fc.spawns, PROCS);
    assert_int_equal(fc.exits, PROCS);
    assert_true(fc.x + fc.r + fc.w >= EVENTS);
    for (uint32_t pid = 1; pid <= PROCS; pid++)
        assert_int_equal(fc.data_written[pid], want);
    if (fraction == SYNTH_ONE)
        assert_int_equal(fc.dev_first, PROCS * ((p->wfile - p->wlo) / PG));
    assert_int_equal(fc.cow_child, 0);
    check_cow(p, &fc, out);
}

static void text_walk(const struct fixture *fx, const struct prog *p)
{
    struct synth_opts o;
    struct facts fc, cold;
    struct outcome out[2];
    size_t len;
    opts_for(&o, SYNTH_TEXT_WALK, p);
    o.hot_pages = 8;
    check_kind(fx, p, &o, &fc, out);
    assert_int_equal(fc.spawns, 1);
    assert_int_equal(fc.exits, 1);
    assert_int_equal(fc.x + fc.r + fc.w, EVENTS);
    assert_true(fc.x > EVENTS / 2);
    check_cow(p, &fc, out);
    assert_true(fc.hot_permille >= 750); /* locality 0.9 */
    /* no locality: fetches spread over the whole text */
    o.locality = 0;
    char *t = gen(&o, &len, NULL);
    analyze(p, t, len, o.hot_pages, &cold);
    free(t);
    assert_true(cold.hot_permille < 500);
}

/* prog[0] is busybox (sgimips), prog[1] the static-pie program (amd64). */
static void test_synth_spawn_many_of_busybox_runs_every_process(void **state)
{
    struct fixture *fx = *state;
    spawn_many(fx, &fx->prog[0], 0);
}

static void test_synth_spawn_many_of_static_pie_runs_every_process(void **state)
{
    struct fixture *fx = *state;
    spawn_many(fx, &fx->prog[1], 0);
}

static void test_synth_spawn_many_with_keep_leaves_every_process_running(
    void **state)
{
    struct fixture *fx = *state;
    spawn_many(fx, &fx->prog[0], 1);
}

static void test_synth_fork_storm_of_busybox_children_copy_on_write(
    void **state)
{
    struct fixture *fx = *state;
    fork_storm(fx, &fx->prog[0]);
}

static void test_synth_fork_storm_of_static_pie_children_copy_on_write(
    void **state)
{
    struct fixture *fx = *state;
    fork_storm(fx, &fx->prog[1]);
}

/*
 * fork-storm's --events: its set-up (pid 1's writes, then each child's
 * reads and writes of the same pages: N times the data pages and 64 heap
 * pages) is made whatever the count; from the set-up on, it is exact.
 */
static void test_synth_fork_storm_events_exact_from_the_setup_on(void **state)
{
    struct fixture *fx = *state;
    struct synth_opts o;
    struct synth_stats st;
    size_t len;
    opts_for(&o, SYNTH_FORK_STORM, &fx->prog[0]);
    o.events = 1;
    free(gen(&o, &len, &st));
    uint64_t setup = st.r + st.w;
    assert_int_equal(st.x, 0);
    assert_int_equal(setup % PROCS, 0);
    assert_true(setup / PROCS > 64);
    for (uint64_t e = setup; e <= setup + 1; e++) {
        o.events = e;
        free(gen(&o, &len, &st));
        assert_int_equal(st.x + st.r + st.w, e);
    }
}

static void test_synth_data_writers_of_busybox_write_half_their_data(
    void **state)
{
    struct fixture *fx = *state;
    data_writers(fx, &fx->prog[0], SYNTH_ONE / 2);
}

static void test_synth_data_writers_of_static_pie_write_half_their_data(
    void **state)
{
    struct fixture *fx = *state;
    data_writers(fx, &fx->prog[1], SYNTH_ONE / 2);
}

static void test_synth_data_writers_writing_all_promote_every_file_page(
    void **state)
{
    struct fixture *fx = *state;
    data_writers(fx, &fx->prog[1], SYNTH_ONE);
}

static void test_synth_data_writers_writing_nothing_write_no_data(void **state)
{
    struct fixture *fx = *state;
    data_writers(fx, &fx->prog[0], 0);
}

static void test_synth_text_walk_of_busybox_fetches_mostly_hot_pages(
    void **state)
{
    struct fixture *fx = *state;
    text_walk(fx, &fx->prog[0]);
}

static void test_synth_text_walk_of_static_pie_fetches_mostly_hot_pages(
    void **state)
{
    struct fixture *fx = *state;
    text_walk(fx, &fx->prog[1]);
}

/* Kinds differ from one another on the same seed. */
static void test_synth_kinds_differ_on_the_same_seed(void **state)
{
    struct fixture *fx = *state;
    struct synth_opts a, b;
    size_t na, nb;
    opts_for(&a, SYNTH_SPAWN_MANY, &fx->prog[0]);
    opts_for(&b, SYNTH_DATA_WRITERS, &fx->prog[0]);
    char *ta = gen(&a, &na, NULL), *tb = gen(&b, &nb, NULL);
    assert_true(na != nb || memcmp(ta, tb, na) != 0);
    free(ta);
    free(tb);
}

/* => synth_write's error for o, with its message checked non-empty. */
static int gen_error(const struct synth_opts *o)
{
    char *buf = NULL, err[256];
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    int rc = synth_write(f, o, NULL, err, sizeof(err));
    fclose(f);
    assert_int_equal(n, 0); /* nothing written */
    free(buf);
    if (rc)
        assert_true(err[0] != '\0');
    return rc;
}

static void test_synth_kind_names_map_both_ways(void **state)
{
    enum synth_kind k;
    (void)state;
    assert_int_equal(synth_kind_from_name("bogus", &k), EINVAL);
    assert_int_equal(synth_kind_from_name("fork-storm", &k), 0);
    assert_int_equal(k, SYNTH_FORK_STORM);
    assert_string_equal(synth_kind_name(SYNTH_TEXT_WALK), "text-walk");
    assert_null(synth_kind_name(SYNTH_KIND_COUNT));
}

static void test_synth_out_of_range_options_are_einval(void **state)
{
    struct fixture *fx = *state;
    struct synth_opts o;
    opts_for(&o, SYNTH_TEXT_WALK, &fx->prog[0]);
    o.kind = SYNTH_KIND_COUNT;
    assert_int_equal(gen_error(&o), EINVAL);
    opts_for(&o, SYNTH_TEXT_WALK, &fx->prog[0]);
    o.locality = 2 * SYNTH_ONE;
    assert_int_equal(gen_error(&o), EINVAL);
    opts_for(&o, SYNTH_DATA_WRITERS, &fx->prog[0]);
    o.write_fraction = SYNTH_ONE + 1;
    assert_int_equal(gen_error(&o), EINVAL);
    o.write_fraction = 0;
    o.procs = 0;
    assert_int_equal(gen_error(&o), EINVAL);
    o.procs = SYNTH_MAX_PROCS + 1;
    assert_int_equal(gen_error(&o), EINVAL);
}

static void test_synth_program_missing_or_not_static_elf_is_refused(
    void **state)
{
    struct fixture *fx = *state;
    struct synth_opts o;
    opts_for(&o, SYNTH_TEXT_WALK, &fx->prog[0]);
    o.exec_host_path = NULL;
    assert_int_equal(gen_error(&o), EINVAL);
    o.exec_host_path = fx->notelf;
    assert_int_equal(gen_error(&o), ENOEXEC);
    o.exec_host_path = fx->dir;
    assert_int_equal(gen_error(&o), ENOEXEC);
    o.exec_host_path = "/nonexistent/prog";
    assert_int_equal(gen_error(&o), ENOENT);
    o.exec_host_path = "/bin/bash"; /* dynamically linked */
    if (access(o.exec_host_path, R_OK) == 0)
        assert_int_equal(gen_error(&o), ENOEXEC);
}

/* A path in the image with a space (or a leading '!') is carried escaped. */
static void test_synth_path_in_image_is_escaped(void **state)
{
    struct fixture *fx = *state;
    struct synth_opts o;
    struct xvm_trace_event ev;
    size_t n;
    opts_for(&o, SYNTH_TEXT_WALK, &fx->prog[0]);
    o.path_in_image = "!bin/has space";
    char *t = gen(&o, &n, NULL);
    char *line = strchr(t, '\n') + 1;
    *strchr(line, '\n') = '\0';
    assert_non_null(strstr(line, " \\x21bin/has\\x20space"));
    assert_int_equal(xvm_trace_parse_line(line, &ev, NULL), 1);
    assert_int_equal(ev.op, XVM_T_SPAWN);
    assert_string_equal(ev.path, "!bin/has space");
    free(t);
}

/* Without events every kind still spawns, marks and exits. */
static void test_synth_every_kind_without_events_spawns_marks_and_exits(
    void **state)
{
    struct fixture *fx = *state;
    struct synth_opts o;
    struct synth_stats st;
    struct facts fc;
    size_t len;
    for (int k = 0; k < SYNTH_KIND_COUNT; k++) {
        opts_for(&o, (enum synth_kind)k, &fx->prog[0]);
        o.events = 0;
        o.procs = 1;
        char *t = gen(&o, &len, &st);
        analyze(&fx->prog[0], t, len, o.hot_pages, &fc);
        assert_int_equal(st.events, fc.lines - 1);
        assert_int_equal(fc.exits, 1);
        check_marks(&fc);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_spawn_many_of_busybox_runs_every_process),
        cmocka_unit_test(
            test_synth_spawn_many_of_static_pie_runs_every_process),
        cmocka_unit_test(
            test_synth_spawn_many_with_keep_leaves_every_process_running),
        cmocka_unit_test(
            test_synth_fork_storm_of_busybox_children_copy_on_write),
        cmocka_unit_test(
            test_synth_fork_storm_of_static_pie_children_copy_on_write),
        cmocka_unit_test(test_synth_fork_storm_events_exact_from_the_setup_on),
        cmocka_unit_test(
            test_synth_data_writers_of_busybox_write_half_their_data),
        cmocka_unit_test(
            test_synth_data_writers_of_static_pie_write_half_their_data),
        cmocka_unit_test(
            test_synth_data_writers_writing_all_promote_every_file_page),
        cmocka_unit_test(test_synth_data_writers_writing_nothing_write_no_data),
        cmocka_unit_test(
            test_synth_text_walk_of_busybox_fetches_mostly_hot_pages),
        cmocka_unit_test(
            test_synth_text_walk_of_static_pie_fetches_mostly_hot_pages),
        cmocka_unit_test(test_synth_kinds_differ_on_the_same_seed),
        cmocka_unit_test(test_synth_kind_names_map_both_ways),
        cmocka_unit_test(test_synth_out_of_range_options_are_einval),
        cmocka_unit_test(
            test_synth_program_missing_or_not_static_elf_is_refused),
        cmocka_unit_test(test_synth_path_in_image_is_escaped),
        cmocka_unit_test(
            test_synth_every_kind_without_events_spawns_marks_and_exits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
