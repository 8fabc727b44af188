/*
 * Fault injection through the public injector (xvm_inject_failures):
 * for each representative scenario, the Nth host allocation and,
 * separately, the Nth frame allocation fail, for N = 1, 2, 3, ... until
 * the scenario completes without reaching the injected failure.  At
 * every N each call returns 0 or ENOMEM; a call that fails leaves the
 * machine as it was (checker, bytes read back) and succeeds when run
 * again; afterwards the checker passes, the machine keeps working and,
 * once everything is destroyed, every frame is back where it started.
 * Host leaks are LeakSanitizer's to find (the ASan build).
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

enum kind { K_ALLOC, K_FRAME };

static const char prog_c[] = "char data[3 * 4096] = { 1, 2, 3 };\n"
                             "int main(int argc, char **argv)\n"
                             "{\n"
                             "    (void)argv;\n"
                             "    data[argc] = 7;\n"
                             "    return data[0] - 1;\n"
                             "}\n";

struct fixture {
    char *tree, *dir;
    char img[1024];
    bool have_prog;
    uint8_t *data; /* the host bytes of the image's "data" */
    uint64_t data_size;
    uint64_t dpage;    /* a file-backed page of the program's data */
    uint8_t dbytes[2]; /* its first two bytes in the file */
};

#define DATA_SIZE 20000u

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char path[1200], cmd[2600];
    fx->tree = tree_new();
    fx->dir = tree_new();
    tree_file(fx->tree, "data", DATA_SIZE, 77);
    fx->data = tree_slurp(fx->tree, "data", &fx->data_size);

    snprintf(path, sizeof(path), "%s/prog.c", fx->dir);
    file_spit(path, (const uint8_t *)prog_c, sizeof(prog_c) - 1);
    tree_dir(fx->tree, "bin");
    snprintf(cmd, sizeof(cmd),
             "cc -static -O1 -o '%s/bin/prog' '%s' >/dev/null 2>&1", fx->tree,
             path);
    if (system(cmd) == 0) {
        uint64_t n;
        struct elf_image img;
        uint8_t *bin = tree_slurp(fx->tree, "bin/prog", &n);
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
    image_make_in(fx->img, sizeof(fx->img), fx->dir, "inject.img", fx->tree, 2,
                  "little", 16384, 2048);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    tree_remove(fx->tree);
    tree_remove(fx->dir);
    free(fx->data);
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
    enum kind kind;
    uint64_t n, base;
    int failures;
    struct probe pr[32];
    int npr;
    struct xvm_stats st0;
};

static uint64_t count(const struct run *r)
{
    uint64_t allocs, frames;
    xvm_alloc_counts(r->m, &allocs, &frames);
    return r->kind == K_ALLOC ? allocs : frames;
}

static void run_begin(struct run *r, enum kind kind, uint64_t n)
{
    memset(r, 0, sizeof(*r));
    r->m = tm_machine("amd64", RAM, 1);
    r->kind = kind;
    r->n = n;
    r->st0 = tm_stats(r->m);
    r->base = count(r);
    xvm_inject_failures(r->m, kind == K_ALLOC ? n : 0, kind == K_FRAME ? n : 0);
}

/* => whether the scenario reached the injected failure. */
static bool run_reached(struct run *r)
{
    bool reached = count(r) - r->base >= r->n;
    xvm_inject_failures(r->m, 0, 0);
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
                     line, r->kind == K_ALLOC ? "allocation" : "frame",
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
    if (err != ENOMEM)
        fail_msg("line %d: %s failed with %d, not ENOMEM", line, what, err);
    r->failures++;
    tm_check_at(r->m, __FILE__, line);
    verify(r, line);
}

/* Runs a step; on ENOMEM checks the machine and runs it again (the
 * injected point fires once, so the second run must succeed). */
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
                     r->kind == K_ALLOC ? "allocation" : "frame",
                     (unsigned long long)r->n, xvm_use_name((enum xvm_use)u),
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

    STEP(r, flash_step(r->m, fx->img, &fl));
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

    STEP(r, flash_step(r->m, fx->img, &fl));
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

    STEP(r, flash_step(r->m, fx->img, &fl));
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
            if (attempt > 0 || strstr(msg, "got ENOMEM") == NULL)
                fail_msg("trace line %zu (%s point %llu): %s", i + 1,
                         r->kind == K_ALLOC ? "allocation" : "frame",
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

/* => the number of allocation points of the scenario. */
static uint64_t walk(struct fixture *fx, scenario_fn fn, enum kind kind,
                     const char *name)
{
    struct run r;
    uint64_t n;
    int reported = 0;
    for (n = 1; n < MAX_POINTS; n++) {
        run_begin(&r, kind, n);
        bool reached = fn(fx, &r);
        assert_true(r.failures <= 1); /* the point fires once */
        reported += r.failures;
        if (!reached)
            break;
    }
    assert_true(n < MAX_POINTS);
    uint64_t points = n - 1;
    print_message("%-14s %-16s %4llu points, %d reported as ENOMEM\n", name,
                  kind == K_ALLOC ? "host allocation" : "frame",
                  (unsigned long long)points, reported);
    assert_true(points > 0);
    /* Most failures surface; the rest are hints (neighbours, read-ahead,
     * buffers) that are skipped silently. */
    assert_true(reported > 0);
    return points;
}

static void test_inject_fork_cow_fails_cleanly_at_every_host_allocation(
    void **state)
{
    walk(*state, scenario_fork_cow, K_ALLOC, "fork-cow");
}

static void test_inject_fork_cow_fails_cleanly_at_every_frame_allocation(
    void **state)
{
    walk(*state, scenario_fork_cow, K_FRAME, "fork-cow");
}

static void test_inject_xip_file_mapping_fails_cleanly_at_every_host_allocation(
    void **state)
{
    walk(*state, scenario_file_xip, K_ALLOC, "file-xip");
}

static void
test_inject_xip_file_mapping_fails_cleanly_at_every_frame_allocation(
    void **state)
{
    walk(*state, scenario_file_xip, K_FRAME, "file-xip");
}

static void
test_inject_copy_file_mapping_fails_cleanly_at_every_host_allocation(
    void **state)
{
    walk(*state, scenario_file_copy, K_ALLOC, "file-copy");
}

static void
test_inject_copy_file_mapping_fails_cleanly_at_every_frame_allocation(
    void **state)
{
    walk(*state, scenario_file_copy, K_FRAME, "file-copy");
}

static void
test_inject_spawn_fork_exec_brk_fails_cleanly_at_every_host_allocation(
    void **state)
{
    need_prog(*state);
    walk(*state, scenario_proc, K_ALLOC, "proc");
}

static void
test_inject_spawn_fork_exec_brk_fails_cleanly_at_every_frame_allocation(
    void **state)
{
    need_prog(*state);
    walk(*state, scenario_proc, K_FRAME, "proc");
}

static void test_inject_replay_fails_cleanly_at_every_host_allocation(
    void **state)
{
    need_prog(*state);
    walk(*state, scenario_replay, K_ALLOC, "replay");
}

static void test_inject_replay_fails_cleanly_at_every_frame_allocation(
    void **state)
{
    need_prog(*state);
    walk(*state, scenario_replay, K_FRAME, "replay");
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
        cmocka_unit_test(
            test_inject_fork_cow_fails_cleanly_at_every_host_allocation),
        cmocka_unit_test(
            test_inject_fork_cow_fails_cleanly_at_every_frame_allocation),
        cmocka_unit_test(
            test_inject_xip_file_mapping_fails_cleanly_at_every_host_allocation),
        cmocka_unit_test(
            test_inject_xip_file_mapping_fails_cleanly_at_every_frame_allocation),
        cmocka_unit_test(
            test_inject_copy_file_mapping_fails_cleanly_at_every_host_allocation),
        cmocka_unit_test(
            test_inject_copy_file_mapping_fails_cleanly_at_every_frame_allocation),
        cmocka_unit_test(
            test_inject_spawn_fork_exec_brk_fails_cleanly_at_every_host_allocation),
        cmocka_unit_test(
            test_inject_spawn_fork_exec_brk_fails_cleanly_at_every_frame_allocation),
        cmocka_unit_test(
            test_inject_replay_fails_cleanly_at_every_host_allocation),
        cmocka_unit_test(
            test_inject_replay_fails_cleanly_at_every_frame_allocation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
