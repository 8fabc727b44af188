/*
 * Fault injection through the public injector (xvm_inject): for each
 * representative scenario and each named site (host allocation, frame,
 * page-table page, PV entry, amap, anon, copy-on-write promotion, flash
 * read), the Nth occurrence of that site alone fails, for N = 1, 2, 3,
 * ... until the scenario completes without reaching it, so every
 * occurrence is walked to the last.  At every N each call returns 0 or
 * the site's error (ENOMEM; EIO for a flash read); a call that fails
 * leaves the machine as it was (checker, bytes read back) and succeeds
 * when run again; afterwards the checker passes, the machine keeps
 * working and, once everything is destroyed, every frame is back where
 * it started.  Host leaks are LeakSanitizer's to find (the ASan build).
 */
#define _DEFAULT_SOURCE
#include "testutil.h"
#include "fstree.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf.h"
#include "xipvm_trace.h"

#define RW         (XVM_PROT_READ | XVM_PROT_WRITE)
#define RAM        (8u << 20)
#define MAX_POINTS 100000u

static const char prog_c[] = "char data[3 * 4096] = { 1, 2, 3 };\n"
                             "int main(int argc, char **argv)\n"
                             "{\n"
                             "    (void)argv;\n"
                             "    data[argc] = 7;\n"
                             "    return data[0] - 1;\n"
                             "}\n";

struct fixture {
    struct tree_image ti;
    bool have_prog;
    uint8_t *data; /* the host bytes of the image's "data" */
    uint64_t data_size;
    uint8_t *big; /* and of "big" */
    uint64_t big_size;
    uint64_t dpage;    /* a file-backed page of the program's data */
    uint8_t dbytes[2]; /* its first two bytes in the file */
};

#define DATA_SIZE 20000u
#define BIG_SIZE  (16u * 16384u)

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char path[1200], cmd[2600];
    tree_image_init(&fx->ti);
    tree_file(fx->ti.tree, "data", DATA_SIZE, 77);
    /* Past 12 direct blocks of 16 KiB: bmap reads an indirect block. */
    tree_file(fx->ti.tree, "big", BIG_SIZE, 78);
    fx->big = tree_slurp(fx->ti.tree, "big", &fx->big_size);
    fx->data = tree_slurp(fx->ti.tree, "data", &fx->data_size);

    snprintf(path, sizeof(path), "%s/prog.c", fx->ti.dir);
    file_spit(path, (const uint8_t *)prog_c, sizeof(prog_c) - 1);
    tree_dir(fx->ti.tree, "bin");
    snprintf(cmd, sizeof(cmd),
             "cc -static -O1 -o '%s/bin/prog' '%s' >/dev/null 2>&1",
             fx->ti.tree, path);
    if (system(cmd) == 0) {
        uint64_t n;
        struct elf_image img;
        uint8_t *bin = tree_slurp(fx->ti.tree, "bin/prog", &n);
        if (elf_parse(bin, (size_t)n, &img) == 0 && !img.is_dyn) {
            /* The first whole page of file bytes in the writable segment. */
            for (unsigned i = 0; i < img.nload; i++) {
                const struct elf_load *s = &img.load[i];
                uint64_t va = (s->vaddr + PG - 1) & ~(uint64_t)(PG - 1);
                if ((s->prot & ELF_PROT_WRITE) &&
                    va + PG <= s->vaddr + s->filesz) {
                    fx->dpage = va;
                    memcpy(fx->dbytes, bin + s->offset + (va - s->vaddr), 2);
                    fx->have_prog = true;
                    break;
                }
            }
        }
        free(bin);
    }
    image_make_in(fx->ti.img, sizeof(fx->ti.img), fx->ti.dir, "inject.img",
                  fx->ti.tree, 2, "little", 16384, 2048);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_image_fini(&fx->ti);
    free(fx->data);
    free(fx->big);
    free(fx);
    return 0;
}

static void need_prog(const struct fixture *fx)
{
    if (!fx->have_prog)
        fail_msg("could not build a static program with cc -static");
}

/* ---- the run: injection, probes of what must stay true, the ledger ---- */

/* A byte some process must see at va (pid 0: the vmspace vs). */
struct probe {
    uint32_t pid;
    xvm_vmspace *vs;
    uint64_t va;
    uint8_t want;
};

struct run {
    xvm_machine *m;
    enum xvm_inject_site site;
    uint64_t n, base;
    int failures;
    struct probe pr[32];
    int npr;
    struct xvm_stats st0;
};

static uint64_t count(const struct run *r)
{
    return xvm_inject_count(r->m, r->site);
}

/* What a failure at the site returns. */
static int site_error(enum xvm_inject_site site)
{
    return site == XVM_INJECT_FLASH_READ ? EIO : ENOMEM;
}

static void run_begin(struct run *r, enum xvm_inject_site site, uint64_t n)
{
    memset(r, 0, sizeof(*r));
    r->m = tm_machine("amd64", RAM, 1);
    r->site = site;
    r->n = n;
    r->st0 = tm_stats(r->m);
    r->base = count(r);
    assert_int_equal(xvm_inject(r->m, site, n), 0);
}

/* => whether the scenario reached the injected failure. */
static bool run_reached(struct run *r)
{
    bool reached = count(r) - r->base >= r->n;
    assert_int_equal(xvm_inject(r->m, r->site, 0), 0);
    return reached;
}

static void probe_set(struct run *r, uint32_t pid, xvm_vmspace *vs, uint64_t va,
                      uint8_t want)
{
    for (int i = 0; i < r->npr; i++)
        if (r->pr[i].pid == pid && r->pr[i].vs == vs && r->pr[i].va == va) {
            r->pr[i].want = want;
            return;
        }
    assert_true(r->npr < 32);
    r->pr[r->npr++] = (struct probe){ pid, vs, va, want };
}

static void probe_drop(struct run *r, uint32_t pid, xvm_vmspace *vs)
{
    for (int i = 0; i < r->npr;)
        if (r->pr[i].pid == pid && r->pr[i].vs == vs)
            r->pr[i] = r->pr[--r->npr];
        else
            i++;
}

static void probe_del(struct run *r, uint32_t pid, xvm_vmspace *vs, uint64_t va)
{
    for (int i = 0; i < r->npr; i++)
        if (r->pr[i].pid == pid && r->pr[i].vs == vs && r->pr[i].va == va) {
            r->pr[i] = r->pr[--r->npr];
            return;
        }
    fail_msg("no probe at %#llx", (unsigned long long)va);
}

/* Inherits every probe of a parent: a fork copies what it sees. */
static void probe_fork(struct run *r, uint32_t ppid, xvm_vmspace *pvs,
                       uint32_t cpid, xvm_vmspace *cvs)
{
    int n = r->npr;
    for (int i = 0; i < n; i++)
        if (r->pr[i].pid == ppid && r->pr[i].vs == pvs)
            probe_set(r, cpid, cvs, r->pr[i].va, r->pr[i].want);
}

static void verify(struct run *r, int line)
{
    for (int i = 0; i < r->npr; i++) {
        const struct probe *p = &r->pr[i];
        xvm_vmspace *vs = p->pid ? xvm_proc_vmspace(r->m, p->pid) : p->vs;
        uint8_t v = 0;
        if (vs == NULL)
            fail_msg("line %d: pid %u is gone", line, p->pid);
        int e = xvm_read(vs, p->va, &v, 1);
        if (e != 0 || v != p->want)
            fail_msg("line %d (%s point %llu): pid %u va %#llx: error %d, read "
                     "%#x, want %#x",
                     line, xvm_inject_site_name(r->site),
                     (unsigned long long)r->n, p->pid,
                     (unsigned long long)p->va, e, v, p->want);
    }
}

/* Reads every probe as a step: reads may fault and allocate too. */
static int probes_step(struct run *r)
{
    for (int i = 0; i < r->npr; i++) {
        const struct probe *p = &r->pr[i];
        xvm_vmspace *vs = p->pid ? xvm_proc_vmspace(r->m, p->pid) : p->vs;
        uint8_t v = (uint8_t)~p->want;
        assert_non_null(vs);
        int e = xvm_read(vs, p->va, &v, 1);
        if (e)
            return e;
        assert_int_equal(v, p->want);
    }
    return 0;
}

/* A failed call: nothing changed, the checker passes. */
static void after_failure(struct run *r, int err, const char *what, int line)
{
    if (err != site_error(r->site))
        fail_msg("line %d: %s failed with %d, not %d (%s point %llu)", line,
                 what, err, site_error(r->site), xvm_inject_site_name(r->site),
                 (unsigned long long)r->n);
    r->failures++;
    tm_check_at(r->m, __FILE__, line);
    verify(r, line);
}

/* Runs a step; on the site's error checks the machine and runs it again
 * (the injected point fires once, so the second run must succeed). */
#define STEP(r, call)                                                          \
    do {                                                                       \
        int err_ = (call);                                                     \
        if (err_ != 0) {                                                       \
            after_failure((r), err_, #call, __LINE__);                         \
            if ((err_ = (call)) != 0)                                          \
                fail_msg("line %d: %s failed again: %d", __LINE__, #call,      \
                         err_);                                                \
        }                                                                      \
    } while (0)

static int pwr(xvm_machine *m, uint32_t pid, uint64_t va, uint8_t v)
{
    xvm_vmspace *vs = xvm_proc_vmspace(m, pid);
    assert_non_null(vs);
    return tm_wr_step(vs, va, v);
}

static int vs_step(xvm_machine *m, xvm_vmspace **out)
{
    *out = NULL;
    int error = xvm_vmspace_create(m, out);
    if (error)
        assert_null(*out);
    return error;
}

static int flash_step(xvm_machine *m, const char *img, xvm_flash **f)
{
    *f = NULL;
    return xvm_flash_open(m, img, NULL, f);
}

static int mount_step(xvm_flash *f, int xip, xvm_mount **mp)
{
    struct xvm_mount_config mc;
    xvm_mount_config_init(&mc);
    mc.flags = xip ? XVM_MOUNT_XIP : 0;
    *mp = NULL;
    return xvm_mount_flash(f, &mc, mp);
}

static int spawn_step(xvm_machine *m, xvm_mount *mp, uint32_t pid)
{
    static const char *const argv[] = { "/bin/prog", "x" };
    int error = xvm_spawn(m, mp, pid, "/bin/prog", 2, argv);
    if (error)
        assert_null(xvm_proc_vmspace(m, pid));
    return error;
}

static int fork_pid_step(xvm_machine *m, uint32_t ppid, uint32_t cpid)
{
    int error = xvm_fork(m, ppid, cpid);
    if (error)
        assert_null(xvm_proc_vmspace(m, cpid));
    return error;
}

static int exec_step(xvm_machine *m, uint32_t pid)
{
    static const char *const argv[] = { "/bin/prog" };
    xvm_vmspace *before = xvm_proc_vmspace(m, pid);
    int error = xvm_exec(m, pid, "/bin/prog", 1, argv);
    if (error)
        assert_ptr_equal(xvm_proc_vmspace(m, pid), before);
    return error;
}

static uint64_t brk_of(xvm_machine *m, uint32_t pid)
{
    struct xvm_proc_info in;
    assert_int_equal(xvm_proc_info(m, pid, &in), 0);
    return in.brk;
}

static int brk_step(xvm_machine *m, uint32_t pid, uint64_t addr)
{
    uint64_t before = brk_of(m, pid);
    int error = xvm_brk(m, pid, addr);
    if (error)
        assert_int_equal(brk_of(m, pid), before);
    return error;
}

/* A fresh mapping, written and read back. */
static void keeps_working(xvm_machine *m)
{
    xvm_vmspace *vs;
    uint64_t a = 0;
    uint8_t v = 0;
    vs = tm_vs(m);
    assert_int_equal(xvm_mmap(vs, &a, 2 * PG, RW, XVM_MAP_PRIVATE, NULL, 0), 0);
    assert_int_equal(tm_wr_step(vs, a + PG + 9, 0x5a), 0);
    assert_int_equal(xvm_read(vs, a + PG + 9, &v, 1), 0);
    assert_int_equal(v, 0x5a);
    xvm_vmspace_destroy(vs);
}

/* Everything is destroyed: every frame is where it was at the start. */
static void run_finish(struct run *r)
{
    struct xvm_stats st = tm_stats(r->m);
    tm_check(r->m);
    for (int u = 0; u < XVM_USE_COUNT; u++)
        if (st.pages[u] != r->st0.pages[u])
            fail_msg("%s point %llu: %s frames %llu, %llu at the start",
                     xvm_inject_site_name(r->site), (unsigned long long)r->n,
                     xvm_use_name((enum xvm_use)u),
                     (unsigned long long)st.pages[u],
                     (unsigned long long)r->st0.pages[u]);
    assert_int_equal(st.pv_entries, 0);
    assert_int_equal(st.pv_device, 0);
    assert_int_equal(st.device_pages, 0);
    xvm_machine_destroy(r->m);
}

/* ---- (a) anonymous memory, fork, copy-on-write, exit ---- */

static bool scenario_fork_cow(struct fixture *fx, struct run *r)
{
    (void)fx;
    xvm_vmspace *P, *C;
    uint64_t a = 0;
    STEP(r, vs_step(r->m, &P));
    STEP(r, xvm_mmap(P, &a, 4 * PG, RW, XVM_MAP_PRIVATE, NULL, 0));
    STEP(r, tm_wr_step(P, a, 'a'));
    probe_set(r, 0, P, a, 'a');
    STEP(r, tm_wr_step(P, a + PG, 'b'));
    probe_set(r, 0, P, a + PG, 'b');
    STEP(r, tm_fork_step(P, &C));
    probe_fork(r, 0, P, 0, C);
    STEP(r, tm_wr_step(C, a, 'C'));
    probe_set(r, 0, C, a, 'C');
    STEP(r, tm_wr_step(P, a + PG, 'P'));
    probe_set(r, 0, P, a + PG, 'P');
    STEP(r, tm_wr_step(C, a + 2 * PG, 'c'));
    probe_set(r, 0, C, a + 2 * PG, 'c');
    STEP(r, tm_rd_step(P, a + 2 * PG, 0));
    probe_set(r, 0, P, a + 2 * PG, 0);
    STEP(r, tm_rd_step(C, a + PG, 'b'));
    /* The child exits; the parent writes what it shared with it. */
    probe_drop(r, 0, C);
    xvm_vmspace_destroy(C);
    STEP(r, tm_wr_step(P, a, 'A'));
    probe_set(r, 0, P, a, 'A');
    STEP(r, tm_wr_step(P, a + 3 * PG, 'd'));
    probe_set(r, 0, P, a + 3 * PG, 'd');

    bool reached = run_reached(r);
    verify(r, __LINE__);
    tm_check(r->m);
    keeps_working(r->m);
    xvm_vmspace_destroy(P);
    run_finish(r);
    return reached;
}

/* ---- (b) mount, open, read(), private file mapping, COW, munmap ---- */

static bool scenario_file(struct fixture *fx, struct run *r, int xip)
{
    xvm_flash *fl;
    xvm_mount *mp;
    xvm_file *f = NULL;
    xvm_vmspace *vs;
    uint64_t a = 0;
    const uint8_t *host = fx->data;
    size_t done;
    uint8_t *buf = malloc(DATA_SIZE);
    assert_non_null(buf);

    STEP(r, flash_step(r->m, fx->ti.img, &fl));
    STEP(r, mount_step(fl, xip, &mp));
    STEP(r, xvm_open(mp, "data", XVM_O_RDONLY, &f));
    STEP(r, xvm_pread(f, 0, buf, DATA_SIZE, &done));
    assert_int_equal(done, DATA_SIZE);
    assert_memory_equal(buf, host, DATA_SIZE);
    STEP(r, vs_step(r->m, &vs));
    STEP(r, xvm_mmap_file(vs, &a, DATA_SIZE, RW, XVM_MAP_PRIVATE, f, 0));
    STEP(r, tm_rd_step(vs, a + 5, host[5]));
    probe_set(r, 0, vs, a + 5, host[5]);
    probe_set(r, 0, vs, a + PG + 1, host[PG + 1]);
    /* Copy-on-write of a device page (XIP) or a page-cache page. */
    STEP(r, tm_wr_step(vs, a + PG + 1, (uint8_t)~host[PG + 1]));
    probe_set(r, 0, vs, a + PG + 1, (uint8_t)~host[PG + 1]);
    STEP(r, tm_rd_step(vs, a + PG + 2, host[PG + 2]));
    /* The tail page, in fragments. */
    STEP(r, tm_rd_step(vs, a + 4 * PG + 7, host[4 * PG + 7]));
    probe_set(r, 0, vs, a + 4 * PG + 7, host[4 * PG + 7]);
    STEP(r, tm_wr_step(vs, a + 4 * PG + 8, 0xee));
    probe_set(r, 0, vs, a + 4 * PG + 8, 0xee);
    STEP(r, xvm_pread(f, PG, buf, 16, &done));
    assert_memory_equal(buf, host + PG, 16); /* the file is untouched */
    STEP(r, xvm_munmap(vs, a + PG, PG));
    probe_drop(r, 0, vs);
    probe_set(r, 0, vs, a + 5, host[5]);
    probe_set(r, 0, vs, a + 4 * PG + 8, 0xee);

    bool reached = run_reached(r);
    verify(r, __LINE__);
    assert_int_equal(xvm_read(vs, a + PG, buf, 1), EFAULT);
    tm_check(r->m);
    keeps_working(r->m);
    xvm_vmspace_destroy(vs);
    xvm_close(f);
    assert_int_equal(xvm_unmount(mp), 0);
    assert_int_equal(xvm_flash_close(fl), 0);
    free(buf);
    run_finish(r);
    return reached;
}

static bool scenario_file_xip(struct fixture *fx, struct run *r)
{
    return scenario_file(fx, r, 1);
}

static bool scenario_file_copy(struct fixture *fx, struct run *r)
{
    return scenario_file(fx, r, 0);
}

/* ---- (c) spawn a static program, fork, exec, brk, exit ---- */

static bool scenario_proc(struct fixture *fx, struct run *r)
{
    xvm_flash *fl;
    xvm_mount *mp;
    uint64_t d = fx->dpage;

    STEP(r, flash_step(r->m, fx->ti.img, &fl));
    STEP(r, mount_step(fl, 1, &mp));
    STEP(r, spawn_step(r->m, mp, 1));
    uint64_t heap = brk_of(r->m, 1);
    STEP(r, brk_step(r->m, 1, heap + 2 * PG));
    STEP(r, pwr(r->m, 1, heap + PG, 'p'));
    probe_set(r, 1, NULL, heap + PG, 'p');
    probe_set(r, 1, NULL, d + 1, fx->dbytes[1]);
    probe_set(r, 1, NULL, d, fx->dbytes[0]);
    STEP(r, pwr(r->m, 1, d + 1, 'd')); /* COW from a device page */
    probe_set(r, 1, NULL, d + 1, 'd');
    STEP(r, fork_pid_step(r->m, 1, 2));
    probe_fork(r, 1, NULL, 2, NULL);
    STEP(r, pwr(r->m, 2, heap + PG, 'c'));
    probe_set(r, 2, NULL, heap + PG, 'c');
    STEP(r, pwr(r->m, 1, d + 1, 'D'));
    probe_set(r, 1, NULL, d + 1, 'D');
    STEP(r, exec_step(r->m, 2));
    probe_drop(r, 2, NULL);
    probe_set(r, 2, NULL, d + 1, fx->dbytes[1]);
    probe_set(r, 2, NULL, d, fx->dbytes[0]);
    STEP(r, brk_step(r->m, 2, heap + PG + 1));
    STEP(r, pwr(r->m, 2, heap + PG, 'e'));
    probe_set(r, 2, NULL, heap + PG, 'e');
    STEP(r, brk_step(r->m, 1, heap + PG)); /* shrink */
    probe_del(r, 1, NULL, heap + PG);
    STEP(r, probes_step(r));
    probe_drop(r, 2, NULL);
    STEP(r, xvm_exit(r->m, 2));

    bool reached = run_reached(r);
    verify(r, __LINE__);
    uint8_t v;
    assert_int_equal(xvm_read(xvm_proc_vmspace(r->m, 1), heap + PG, &v, 1),
                     EFAULT);
    tm_check(r->m);
    keeps_working(r->m);
    assert_int_equal(xvm_exit(r->m, 1), 0);
    assert_int_equal(xvm_unmount(mp), 0);
    assert_int_equal(xvm_flash_close(fl), 0);
    run_finish(r);
    return reached;
}

/* ---- (d) a short replay of a hand-written trace ---- */

static const char *const trace_lines[] = {
    "xipvm-trace 1",
    "spawn 1 /bin/prog one two",
    "mmap 1 0x30000000 0x3000 rw- private,fixed",
    "w 1 0x30000000 4 =01020304",
    "w 1 0x30001000 1 =aa",
    "mark setup",
    "fork 1 2",
    "w 2 0x30000000 2 =ffff",
    "r 1 0x30000000 4 =01020304",
    "r 2 0x30000000 4 =ffff0304",
    "mmap 2 0x31000000 0x2000 r-- private,fixed /data 0",
    "r 2 0x31000000 4 =DATA",
    "w 2 0x31000000 1 =00 !EACCES",
    "mmap 1 0x32000000 0x2000 rw- shared,fixed",
    "w 1 0x32001000 2 =beef",
    "fork 1 3",
    "r 3 0x32001000 2 =beef",
    "munmap 1 0x30001000 0x1000",
    "r 1 0x30001000 1 !EFAULT",
    "r 2 0x30001000 1 =aa",
    "exec 2 /bin/prog",
    "r 2 0x30000000 1 !EFAULT",
    "exit 3",
    "exit 2",
    "mark end",
    "exit 1",
};
#define NLINES (sizeof(trace_lines) / sizeof(trace_lines[0]))

static int replay_step(xvm_machine *m, xvm_mount *mp, xvm_replay **out)
{
    *out = NULL;
    return xvm_replay_create(m, mp, out);
}

static bool scenario_replay(struct fixture *fx, struct run *r)
{
    xvm_flash *fl;
    xvm_mount *mp;
    xvm_replay *rp;
    char line[256], msg[256];
    int mismatch, line_failures = 0;

    STEP(r, flash_step(r->m, fx->ti.img, &fl));
    STEP(r, mount_step(fl, 1, &mp));
    STEP(r, replay_step(r->m, mp, &rp));
    for (size_t i = 0; i < NLINES; i++) {
        for (int attempt = 0;; attempt++) {
            snprintf(line, sizeof(line), "%s", trace_lines[i]);
            char *hex = strstr(line, "=DATA");
            if (hex) /* the first bytes of /data */
                snprintf(hex, sizeof(line) - (size_t)(hex - line),
                         "=%02x%02x%02x%02x", fx->data[0], fx->data[1],
                         fx->data[2], fx->data[3]);
            assert_int_equal(
                xvm_replay_line(rp, line, &mismatch, msg, sizeof(msg)), 0);
            if (!mismatch)
                break;
            /* Only the injected failure may go wrong, and only once. */
            const char *got =
                site_error(r->site) == EIO ? "got EIO" : "got ENOMEM";
            if (attempt > 0 || strstr(msg, got) == NULL)
                fail_msg("trace line %zu (%s point %llu): %s", i + 1,
                         xvm_inject_site_name(r->site),
                         (unsigned long long)r->n, msg);
            r->failures++;
            line_failures++;
            tm_check(r->m);
        }
    }
    struct xvm_replay_totals t;
    xvm_replay_totals(rp, &t);
    assert_int_equal(t.mismatches, line_failures);
    assert_int_equal(t.lines, NLINES + line_failures);
    assert_int_equal(t.nmarks, 2);

    bool reached = run_reached(r);
    assert_null(xvm_proc_vmspace(r->m, 1));
    tm_check(r->m);
    keeps_working(r->m);
    xvm_replay_destroy(rp);
    assert_int_equal(xvm_unmount(mp), 0);
    assert_int_equal(xvm_flash_close(fl), 0);
    run_finish(r);
    return reached;
}

/* ---- the walk ---- */

typedef bool (*scenario_fn)(struct fixture *fx, struct run *r);

struct walked {
    uint64_t points; /* occurrences of the site in the scenario */
    int reported;    /* of them, failures a call returned */
};

/* Walks every occurrence of site in the scenario, to the last. */
static struct walked walk(struct fixture *fx, scenario_fn fn,
                          enum xvm_inject_site site, const char *name)
{
    struct run r;
    struct walked w = { 0, 0 };
    uint64_t n;
    for (n = 1; n < MAX_POINTS; n++) {
        run_begin(&r, site, n);
        bool reached = fn(fx, &r);
        assert_true(r.failures <= 1); /* the point fires once */
        w.reported += r.failures;
        if (!reached)
            break;
    }
    assert_true(n < MAX_POINTS);
    w.points = n - 1;
    print_message("%-10s %-11s %4llu points, %d reported as %s\n", name,
                  xvm_inject_site_name(site), (unsigned long long)w.points,
                  w.reported, site_error(site) == EIO ? "EIO" : "ENOMEM");
    return w;
}

static const struct {
    const char *name;
    scenario_fn fn;
    bool needs_prog;
} scenarios[] = {
    { "fork-cow", scenario_fork_cow, false },
    { "file-xip", scenario_file_xip, false },
    { "file-copy", scenario_file_copy, false },
    { "proc", scenario_proc, true },
    { "replay", scenario_replay, true },
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

/*
 * One site through every scenario.  The site occurs, and some of its
 * failures reach a caller, in every scenario that uses it (want lists
 * them by bit); the rest are hints (neighbours, read-ahead, buffers)
 * that are skipped silently.
 */
static void walk_site(struct fixture *fx, enum xvm_inject_site site,
                      unsigned want)
{
    need_prog(fx);
    for (unsigned i = 0; i < NSCENARIOS; i++) {
        struct walked w = walk(fx, scenarios[i].fn, site, scenarios[i].name);
        if (want & (1u << i) && (w.points == 0 || w.reported == 0))
            fail_msg("%s: the %s site was never met or never reported",
                     scenarios[i].name, xvm_inject_site_name(site));
        if (!(want & (1u << i)) && w.points != 0)
            fail_msg("%s: met the %s site %llu times, where it has none",
                     scenarios[i].name, xvm_inject_site_name(site),
                     (unsigned long long)w.points);
    }
}

#define ALL      0x1fu
#define NO_FLASH 0x01u /* fork-cow reads no flash */
#define FILES    (ALL & ~NO_FLASH)

static void test_inject_every_host_allocation_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_ALLOC, ALL);
}

static void test_inject_every_frame_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_FRAME, ALL);
}

static void test_inject_every_page_table_page_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_PAGETABLE, ALL);
}

static void test_inject_every_pv_entry_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_PV, ALL);
}

static void test_inject_every_amap_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_AMAP, ALL);
}

static void test_inject_every_anon_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_ANON, ALL);
}

static void test_inject_every_cow_promotion_fails_cleanly(void **state)
{
    walk_site(*state, XVM_INJECT_COW, ALL);
}

/* EIO from the flash reaches the caller of the read or access. */
static void test_inject_every_flash_read_fails_cleanly_with_eio(void **state)
{
    walk_site(*state, XVM_INJECT_FLASH_READ, FILES);
}

/* The injector itself: counts, fires once, 0 disables, one machine only. */
static void test_inject_alloc_counts_count_the_machines_allocations(
    void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 1u << 20, 0);
    uint64_t a0, f0, a1, f1;
    xvm_alloc_counts(m, &a0, &f0);
    assert_true(a0 > 0);     /* the machine's own: TLB, frames */
    assert_int_equal(f0, 1); /* the zero page */
    tm_vs(m);
    xvm_alloc_counts(m, &a1, &f1);
    assert_true(a1 > a0);
    assert_true(f1 > f0); /* the page-table root */
    tm_check(m);
    xvm_machine_destroy(m);
}

/* The next frame: a page table or the page of the first write. */
static void test_inject_frame_failure_fires_once(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 1u << 20, 0);
    xvm_vmspace *vs = tm_vs(m);
    uint64_t addr = 0;
    assert_int_equal(xvm_mmap(vs, &addr, PG, RW, XVM_MAP_PRIVATE, NULL, 0), 0);
    xvm_inject_failures(m, 0, 1);
    assert_int_equal(tm_wr_step(vs, addr, 1), ENOMEM);
    assert_int_equal(tm_wr_step(vs, addr, 1), 0); /* once only */
    tm_check(m);
    xvm_machine_destroy(m);
}

/* The next host allocation. */
static void test_inject_host_failure_fires_at_the_next_allocation(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 1u << 20, 0);
    xvm_vmspace *vs2;
    xvm_inject_failures(m, 1, 0);
    assert_int_equal(xvm_vmspace_create(m, &vs2), ENOMEM);
    tm_vs(m);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* The third one from now, not the first; another machine's allocations
 * do not count. */
static void test_inject_failure_counts_its_own_machines_allocations_only(
    void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 1u << 20, 0);
    xvm_machine *m2 = tm_machine("sgimips", 1u << 20, 0);
    uint64_t a0, a1;
    tm_vs(m);
    xvm_alloc_counts(m, &a0, NULL);
    xvm_inject_failures(m, 3, 0);
    xvm_vmspace *other = tm_vs(m2); /* another machine */
    xvm_vmspace_destroy(other);
    xvm_alloc_counts(m, &a1, NULL);
    assert_int_equal(a1, a0);
    xvm_inject_failures(m, 0, 0);
    tm_check(m);
    tm_check(m2);
    xvm_machine_destroy(m);
    xvm_machine_destroy(m2);
}

/* 0 disables a pending injection. */
static void test_inject_zero_disables_a_pending_failure(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 1u << 20, 0);
    xvm_vmspace *vs = tm_vs(m), *child;
    uint64_t a0, a1, addr = 0;
    assert_int_equal(xvm_mmap(vs, &addr, PG, RW, XVM_MAP_PRIVATE, NULL, 0), 0);
    tm_wr8(vs, addr, 1);
    xvm_alloc_counts(m, &a0, NULL);
    xvm_inject_failures(m, 3, 0);
    xvm_inject_failures(m, 0, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(xvm_vmspace_fork(vs, &child), 0);
        xvm_vmspace_destroy(child);
    }
    xvm_alloc_counts(m, &a1, NULL);
    assert_true(a1 >= a0 + 3);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* NULL is harmless. */
static void test_inject_calls_without_a_machine_are_harmless(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("sgimips", 1u << 20, 0);
    uint64_t a1, f1;
    xvm_alloc_counts(m, NULL, NULL);
    xvm_inject_failures(NULL, 1, 1);
    xvm_alloc_counts(NULL, &a1, &f1);
    assert_int_equal(a1, 0);
    assert_int_equal(f1, 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/* Deltas of every site's count since a snapshot. */
struct counts {
    uint64_t n[XVM_INJECT_SITES];
};

static struct counts counts_of(xvm_machine *m)
{
    struct counts c;
    for (int i = 0; i < XVM_INJECT_SITES; i++)
        c.n[i] = xvm_inject_count(m, (enum xvm_inject_site)i);
    return c;
}

/* The counts moved by exactly pagetable, pv, amap, anon, cow (and no
 * flash read), and frames by at least frame: kernel memory takes a slab
 * frame now and then on top (doc/kernel-memory.md).  Host allocations
 * are not pinned.  frame_exact: frames too exactly. */
static void moved(xvm_machine *m, struct counts *since, uint64_t frame,
                  bool frame_exact, uint64_t pt, uint64_t pv, uint64_t amap,
                  uint64_t anon, uint64_t cow, int line)
{
    struct counts now = counts_of(m);
    const uint64_t want[XVM_INJECT_SITES] = {
        now.n[0] - since->n[0], frame, pt, pv, amap, anon, cow, 0
    };
    for (int i = 0; i < XVM_INJECT_SITES; i++) {
        uint64_t got = now.n[i] - since->n[i];
        bool ok = i == XVM_INJECT_FRAME && !frame_exact ? got >= want[i]
                                                        : got == want[i];
        if (!ok)
            fail_msg("line %d: %s occurred %llu times, expected %s%llu", line,
                     xvm_inject_site_name((enum xvm_inject_site)i),
                     (unsigned long long)got,
                     i == XVM_INJECT_FRAME && !frame_exact ? "at least " : "",
                     (unsigned long long)want[i]);
    }
    *since = now;
}

/*
 * Counts by hand on amd64 (4-level tables, fault-ahead off): a first
 * write to anonymous memory makes an amap, an anon and its frame, three
 * tables below the root (3 frames) and one PV entry; after a fork, the
 * child's write copies the amap and promotes (a copy-on-write) into a new
 * anon, in tables of its own.  Arming one site never fires or moves
 * another, and a site fires at exactly its nth occurrence.
 */
static void test_inject_sites_are_independent_and_counted(void **state)
{
    (void)state;
    xvm_machine *m = tm_machine("amd64", 1u << 20, 0);
    xvm_vmspace *vs, *child;
    uint64_t a = 0;
    struct counts c = counts_of(m);

    assert_int_equal(xvm_inject(m, XVM_INJECT_SITES, 1), EINVAL);
    assert_int_equal(xvm_inject(NULL, XVM_INJECT_PV, 1), EINVAL);
    assert_int_equal(xvm_inject_count(m, XVM_INJECT_SITES), 0);
    assert_null(xvm_inject_site_name(XVM_INJECT_SITES));
    assert_string_equal(xvm_inject_site_name(XVM_INJECT_FLASH_READ),
                        "flash_read");

    vs = tm_vs(m);
    moved(m, &c, 1, false, 1, 0, 0, 0, 0, __LINE__); /* the root table */
    assert_int_equal(xvm_mmap(vs, &a, 2 * PG, RW, XVM_MAP_PRIVATE, NULL, 0), 0);
    moved(m, &c, 0, false, 0, 0, 0, 0, 0, __LINE__);

    /* The first PV entry fails; a frame far ahead is armed too and does
     * not fire.  The failed enter leaves the anon in the amap but frees
     * the tables it made (they hold nothing): the retry makes them
     * again. */
    assert_int_equal(xvm_inject(m, XVM_INJECT_PV, 1), 0);
    assert_int_equal(xvm_inject(m, XVM_INJECT_FRAME, 1000), 0);
    assert_int_equal(tm_wr_step(vs, a, 1), ENOMEM);
    moved(m, &c, 4, false, 3, 1, 1, 1, 0, __LINE__);
    tm_check(m);
    assert_int_equal(tm_wr_step(vs, a, 1), 0);
    moved(m, &c, 3, false, 3, 1, 0, 0, 0, __LINE__);
    /* The next frame fails, whatever wants it first (the anon's frame, or
     * a slab for the anon): the write stops there. */
    assert_int_equal(xvm_inject(m, XVM_INJECT_FRAME, 1), 0);
    assert_int_equal(tm_wr_step(vs, a + PG, 2), ENOMEM);
    moved(m, &c, 1, true, 0, 0, 0, 1, 0, __LINE__);
    tm_check(m);
    assert_int_equal(tm_wr_step(vs, a + PG, 2), 0);
    moved(m, &c, 1, false, 0, 1, 0, 1, 0, __LINE__);

    /* A page-table page fails without taking a frame. */
    assert_int_equal(xvm_inject(m, XVM_INJECT_PAGETABLE, 1), 0);
    assert_int_equal(xvm_vmspace_fork(vs, &child), ENOMEM);
    moved(m, &c, 0, false, 1, 0, 0, 0, 0, __LINE__);
    assert_int_equal(xvm_vmspace_fork(vs, &child), 0);
    moved(m, &c, 1, false, 1, 0, 0, 0, 0, __LINE__);

    /* The child's write: amap copy, copy-on-write, anon, tables, PV. */
    assert_int_equal(xvm_inject(m, XVM_INJECT_COW, 1), 0);
    assert_int_equal(tm_wr_step(child, a, 3), ENOMEM);
    moved(m, &c, 0, false, 0, 0, 1, 0, 1, __LINE__);
    tm_check(m);
    assert_int_equal(tm_wr_step(child, a, 3), 0);
    moved(m, &c, 4, false, 3, 1, 0, 1, 1, __LINE__);
    assert_int_equal(tm_rd8(vs, a), 1);

    /* Disarmed: nothing fails. */
    assert_int_equal(xvm_inject(m, XVM_INJECT_AMAP, 1), 0);
    assert_int_equal(xvm_inject(m, XVM_INJECT_AMAP, 0), 0);
    assert_int_equal(tm_wr_step(vs, a, 4), 0);
    tm_check(m);
    xvm_machine_destroy(m);
}

/*
 * A flash read that fails is EIO for the access that needed it: a fault
 * filling the page cache (copy mode), a fault whose bmap reads an
 * indirect block (XIP), and read() of either.  Nothing is left half
 * done: the page is still not resident, the checker passes, and the
 * same access then succeeds.
 */
static void flash_eio(struct fixture *fx, int xip, int via_read)
{
    const uint64_t off = 13 * 16384; /* behind the first indirect block */
    struct tm_world w;
    struct xvm_page_info pi;
    xvm_file *f;
    uint64_t a = 0, pa;
    uint8_t b[4];
    size_t done;
    tm_world_up(&w, "amd64", RAM, 0, fx->ti.img, xip, 0);
    assert_int_equal(xvm_open(w.mp, "big", XVM_O_RDONLY, &f), 0);
    assert_int_equal(xvm_mmap_file(w.vs, &a, BIG_SIZE,
                                   XVM_PROT_READ | XVM_PROT_EXEC,
                                   XVM_MAP_PRIVATE, f, 0),
                     0);
    uint64_t n0 = xvm_inject_count(w.m, XVM_INJECT_FLASH_READ);
    assert_int_equal(xvm_inject(w.m, XVM_INJECT_FLASH_READ, 1), 0);
    if (via_read) {
        assert_int_equal(xvm_pread(f, off, b, 4, &done), EIO);
        assert_int_equal(done, 0);
    } else {
        assert_int_equal(xvm_fetch(w.vs, a + off, b, 4), EIO);
    }
    assert_int_equal(xvm_inject_count(w.m, XVM_INJECT_FLASH_READ), n0 + 1);
    tm_check(w.m);
    assert_int_equal(xvm_page_info(w.vs, a + off, &pi), 0);
    assert_int_equal(pi.kind, xip ? XVM_PAGE_DEVICE : XVM_PAGE_NOT_RESIDENT);
    assert_int_equal(pi.mapped, 0);
    assert_int_equal(xvm_extract(w.vs, a + off, &pa), ENOENT);
    if (via_read) {
        assert_int_equal(xvm_pread(f, off, b, 4, &done), 0);
        assert_int_equal(done, 4);
    } else {
        assert_int_equal(xvm_fetch(w.vs, a + off, b, 4), 0);
    }
    assert_memory_equal(b, fx->big + off, 4);
    xvm_close(f);
    tm_world_down(&w);
}

/*
 * A flash read that fails is EIO for the access or read() that needed
 * it: a fault filling the page cache (copy mode), a fault whose bmap
 * reads an indirect block (XIP).  Nothing is left half done: the page is
 * still not mapped, the checker passes, and the same call then succeeds.
 */
static void test_inject_flash_eio_reaches_the_access(void **state)
{
    for (int xip = 0; xip <= 1; xip++)
        for (int via_read = 0; via_read <= 1; via_read++)
            flash_eio(*state, xip, via_read);
}

/*
 * An injected failure reaches the caller: the page daemon, which could
 * free page-cache pages and retry, does not absorb it (a real shortage
 * it does).  Copy mode, a private mapping of a cached file page.
 */
static void test_inject_failure_is_not_absorbed_by_the_page_daemon(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w;
    xvm_file *f;
    uint64_t a = 0;
    tm_world_up(&w, "amd64", RAM, 0, fx->ti.img, 0, 4);
    assert_int_equal(xvm_open(w.mp, "data", XVM_O_RDONLY, &f), 0);
    assert_int_equal(
        xvm_mmap_file(w.vs, &a, DATA_SIZE, RW, XVM_MAP_PRIVATE, f, 0), 0);
    assert_int_equal(tm_rd8(w.vs, a), fx->data[0]);
    assert_true(tm_stats(w.m).pages[XVM_USE_PAGECACHE] > 0);
    /* The first write makes the amap; each then fails on a page of its
     * own, already read (mapped, cached). */
    static const enum xvm_inject_site sites[] = {
        XVM_INJECT_AMAP, XVM_INJECT_FRAME, XVM_INJECT_ANON, XVM_INJECT_COW
    };
    for (unsigned i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
        enum xvm_inject_site site = sites[i];
        uint64_t va = a + i * PG;
        assert_int_equal(tm_rd8(w.vs, va), fx->data[va - a]);
        assert_int_equal(xvm_inject(w.m, site, 1), 0);
        if (tm_wr_step(w.vs, va, 0x77) != ENOMEM)
            fail_msg("a %s failure was absorbed", xvm_inject_site_name(site));
        tm_check(w.m);
        assert_int_equal(tm_wr_step(w.vs, va, 0x77), 0);
    }
    xvm_close(f);
    tm_world_down(&w);
}

/*
 * The same on a full RAM: a fault whose read-ahead (a hint) found no
 * frame, then met the injected failure, got it retried by the page
 * daemon (absorbed); one that ran out, had a scan, and met it on the
 * restart got its process killed.  Now an injected failure that comes
 * last reaches the caller and kills nobody, whatever RAM did before it.
 * Copy mode, a process writing a private mapping of a file while read()
 * keeps the page cache full, at several small RAMs.
 */
static void test_inject_failure_on_a_full_ram_is_not_retried_nor_kills(
    void **state)
{
    struct fixture *fx = *state;
    static const enum xvm_inject_site sites[] = { XVM_INJECT_ANON,
                                                  XVM_INJECT_COW };
    uint8_t *buf = malloc(BIG_SIZE);
    unsigned fired = 0;
    assert_non_null(buf);
    need_prog(fx);
    for (unsigned pages = 56; pages <= 96; pages += 8)
        for (unsigned k = 0; k < 2 * 2; k++) {
            enum xvm_inject_site site = sites[k % 2];
            uint64_t nth = 1 + k / 2, a = 0;
            struct tm_world w;
            xvm_file *f;
            size_t done;
            uint32_t pid;
            tm_world_open(&w, "amd64", (uint64_t)pages * PG, 0, fx->ti.img);
            tm_world_mount(&w, 0, 4, 0);
            assert_int_equal(spawn_step(w.m, w.mp, 1), 0);
            xvm_vmspace *vs = xvm_proc_vmspace(w.m, 1);
            assert_int_equal(xvm_open(w.mp, "big", XVM_O_RDONLY, &f), 0);
            assert_int_equal(
                xvm_mmap_file(vs, &a, BIG_SIZE, RW, XVM_MAP_PRIVATE, f, 0), 0);
            for (unsigned p = 0; p < BIG_SIZE / PG; p += 2) {
                /* The anons written fill RAM at last: that is the end. */
                if (xvm_pread(f, 0, buf, BIG_SIZE, &done) != 0)
                    break;
                uint64_t base = xvm_inject_count(w.m, site);
                assert_int_equal(xvm_inject(w.m, site, nth), 0);
                int error = tm_wr_step(vs, a + p * PG, 0x77);
                bool met = xvm_inject_count(w.m, site) - base >= nth;
                assert_int_equal(xvm_inject(w.m, site, 0), 0);
                tm_check(w.m);
                if (met && error != ENOMEM)
                    fail_msg("%u pages, page %u: a %s failure was absorbed",
                             pages, p, xvm_inject_site_name(site));
                if (met && xvm_oom_next(w.m, &pid) == 0)
                    fail_msg("%u pages, page %u: a %s failure killed pid %u",
                             pages, p, xvm_inject_site_name(site), pid);
                fired += met;
                if (error == 0)
                    continue;
                /* Again, with nothing armed: RAM itself may not have it
                 * (the process is then killed, and that is the end). */
                if (tm_wr_step(vs, a + p * PG, 0x77) != 0)
                    break;
            }
            xvm_close(f);
            (void)xvm_oom_next(w.m, &pid);
            xvm_exit(w.m, 1);
            tm_world_down(&w);
        }
    assert_true(fired > 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_inject_alloc_counts_count_the_machines_allocations),
        cmocka_unit_test(test_inject_frame_failure_fires_once),
        cmocka_unit_test(test_inject_host_failure_fires_at_the_next_allocation),
        cmocka_unit_test(
            test_inject_failure_counts_its_own_machines_allocations_only),
        cmocka_unit_test(test_inject_zero_disables_a_pending_failure),
        cmocka_unit_test(test_inject_calls_without_a_machine_are_harmless),
        cmocka_unit_test(test_inject_sites_are_independent_and_counted),
        cmocka_unit_test(
            test_inject_failure_is_not_absorbed_by_the_page_daemon),
        cmocka_unit_test(
            test_inject_failure_on_a_full_ram_is_not_retried_nor_kills),
        cmocka_unit_test(test_inject_flash_eio_reaches_the_access),
        cmocka_unit_test(test_inject_every_host_allocation_fails_cleanly),
        cmocka_unit_test(test_inject_every_frame_fails_cleanly),
        cmocka_unit_test(test_inject_every_page_table_page_fails_cleanly),
        cmocka_unit_test(test_inject_every_pv_entry_fails_cleanly),
        cmocka_unit_test(test_inject_every_amap_fails_cleanly),
        cmocka_unit_test(test_inject_every_anon_fails_cleanly),
        cmocka_unit_test(test_inject_every_cow_promotion_fails_cleanly),
        cmocka_unit_test(test_inject_every_flash_read_fails_cleanly_with_eio),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
