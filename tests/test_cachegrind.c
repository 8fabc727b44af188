/*
 * The cache model against valgrind's cachegrind on a real program.
 *
 * Debian's static busybox sorts a generated file twice under valgrind:
 * once under cachegrind (--cache-sim=yes) per geometry, once under lackey
 * (--trace-mem=yes), whose I/L/S/M lines stream through a pipe into one
 * cache model per geometry.  Both runs get the same tiny environment
 * (env -i style): the environment sits on the client's stack, so a
 * different one shifts addresses and even the instruction count.
 * The I1, D1 and LL miss counts and the instruction and data reference
 * counts must be equal (same instructions traced, same counting rules).
 *
 * The same lackey log also goes, line for line, through the whole
 * machine: a child process imports it into a trace (lackey_import, as
 * `xipvm import-lackey` does), a grandchild replays that trace on an
 * sgimips machine with busybox on an XIP-mounted FFS image and a CPU of
 * the first geometry, and sends back the machine's report.  There the
 * caches see physical addresses, the kernel's work (exec, copy-on-write)
 * and the TLB refill handler's loads: the program's I1, D1 and LL misses
 * must still be within 1% of cachegrind's.
 *
 * valgrind and busybox-static come from .ci/install-deps: without them
 * this test fails, it does not skip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache.h"
#include "fstree.h"
#include "lackey.h"
#include "xipvm.h"
#include "xipvm_trace.h"

#define BUSYBOX "/bin/busybox"

struct geometry {
    const char *i1, *d1, *ll;
};

/*
 * cachegrind's default-like L1s and a 2 MiB LL; small caches with 32-byte
 * L1 lines under a 64-byte-line LL, which miss a lot; a direct-mapped I1
 * with a fully associative D1.  cachegrind 3.19 refuses lines shorter than
 * the host's widest register (32 bytes with AVX), so none is below 32.
 */
static const struct geometry geoms[] = {
    { "32768,8,64", "32768,8,64", "2097152,16,64" },
    { "4096,2,32", "4096,2,32", "65536,4,64" },
    { "8192,1,32", "2048,64,32", "131072,8,32" },
};
#define NGEOM (sizeof geoms / sizeof geoms[0])
/* Geometries 0 and 1 also run through the whole machine. */
#define NREPLAY 2

/* cachegrind.out's summary: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw. */
struct cg_summary {
    uint64_t v[9];
};

struct world {
    char dir[64];
    char input[96];
    struct cg_summary cg[NGEOM];
    bool ran, ok; /* cachegrind and lackey have run; and all went well */
    struct cache model[NGEOM];
    uint64_t n_i, n_l, n_s, n_m, n_big; /* lackey lines by kind */
    struct xvm_stats replay[NREPLAY];   /* the machines' reports */
    uint64_t events, mismatches;
    char *tree;
    char img[512];
};

/* The same short environment for every valgrind run. */
static char *const child_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

static uint64_t prng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -1;
    strcpy(w->dir, "/tmp/xipvm-cg-XXXXXX");
    if (mkdtemp(w->dir) == NULL)
        return -1;
    snprintf(w->input, sizeof w->input, "%s/in.txt", w->dir);
    FILE *f = fopen(w->input, "w");
    if (f == NULL)
        return -1;
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 2000; i++) {
        int n = 3 + (int)(prng(&s) % 18);
        for (int k = 0; k < n; k++)
            fputc('a' + (int)(prng(&s) % 10), f);
        fputc('\n', f);
    }
    fclose(f);
    /* The image the replay runs busybox from. */
    w->tree = tree_new();
    tree_copy(w->tree, "bin/busybox", BUSYBOX);
    image_make_in(w->img, sizeof(w->img), w->dir, "bb.img", w->tree, 2,
                  "little", 16384, 2048);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char path[128];
    for (size_t g = 0; g < NGEOM; g++) {
        snprintf(path, sizeof path, "%s/cg.%zu.out", w->dir, g);
        unlink(path);
    }
    unlink(w->input);
    unlink(w->img);
    rmdir(w->dir);
    tree_remove(w->tree);
    for (size_t g = 0; w->ok && g < NGEOM; g++)
        cache_fini(&w->model[g]);
    free(w);
    return 0;
}

/*
 * Runs valgrind with args (NULL-terminated, after "valgrind"), the client
 * `busybox sort INPUT`, stdout and stderr on /dev/null; log_fd >= 0: the
 * write end of a pipe handed to the child as fd 9 (--log-fd=9).
 * => the child's pid; fails the test when it cannot start.
 */
static pid_t run_valgrind(const char *const *args, const char *input,
                          int log_fd)
{
    const char *argv[24];
    int n = 0;
    argv[n++] = "valgrind";
    for (; *args != NULL; args++)
        argv[n++] = *args;
    argv[n++] = BUSYBOX;
    argv[n++] = "sort";
    argv[n++] = input;
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (log_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, log_fd, 9);
        if (log_fd != 9)
            posix_spawn_file_actions_addclose(&fa, log_fd);
    }
    pid_t pid;
    int e = posix_spawnp(&pid, "valgrind", &fa, NULL, (char *const *)argv,
                         child_env);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0)
        fail_msg("cannot run valgrind (%s): .ci/install-deps installs it",
                 strerror(e));
    return pid;
}

static void wait_ok(pid_t pid, const char *what)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: valgrind or busybox failed (status %d)", what, st);
}

static void read_summary(const char *path, struct cg_summary *s)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("no cachegrind output %s", path);
    char line[512];
    bool events_ok = false, found = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "events:", 7) == 0)
            events_ok =
                strstr(line, "Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw") != NULL;
        if (strncmp(line, "summary:", 8) == 0) {
            unsigned long long v[9];
            found = sscanf(line + 8,
                           "%llu %llu %llu %llu %llu %llu %llu "
                           "%llu %llu",
                           &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                           &v[7], &v[8]) == 9;
            for (int i = 0; i < 9; i++)
                s->v[i] = v[i];
        }
    }
    fclose(f);
    if (!events_ok || !found)
        fail_msg("%s: no events/summary lines of the expected form", path);
}

static void run_cachegrind(struct world *w, size_t g)
{
    char i1[64], d1[64], ll[64], out[128];
    snprintf(i1, sizeof i1, "--I1=%s", geoms[g].i1);
    snprintf(d1, sizeof d1, "--D1=%s", geoms[g].d1);
    snprintf(ll, sizeof ll, "--LL=%s", geoms[g].ll);
    snprintf(out, sizeof out, "--cachegrind-out-file=%s/cg.%zu.out", w->dir, g);
    const char *args[] = {
        "--tool=cachegrind", "--cache-sim=yes", i1, d1, ll, out, NULL
    };
    wait_ok(run_valgrind(args, w->input, -1), "cachegrind");
    read_summary(out + strlen("--cachegrind-out-file="), &w->cg[g]);
}

static void mk_cache(struct cache *c, size_t g)
{
    struct cache_config cfg;
    char err[160];
    memset(&cfg, 0, sizeof cfg);
    if (cache_geom_parse("--I1", geoms[g].i1, &cfg.i1, err, sizeof err) ||
        cache_geom_parse("--D1", geoms[g].d1, &cfg.d1, err, sizeof err) ||
        cache_geom_parse("--LL", geoms[g].ll, &cfg.ll, err, sizeof err) ||
        cache_init(c, &cfg, err, sizeof err))
        fail_msg("geometry %zu: %s", g, err);
}

/* One lackey access line: "I  ADDR,SIZE" or " [LSM] ADDR,SIZE". */
static bool parse_line(const char *s, char *kind, uint64_t *addr,
                       uint32_t *size)
{
    if (s[0] == 'I' && s[1] == ' ' && s[2] == ' ')
        *kind = 'I';
    else if (s[0] == ' ' && (s[1] == 'L' || s[1] == 'S' || s[1] == 'M') &&
             s[2] == ' ')
        *kind = s[1];
    else
        return false;
    s += 3;
    while (*s == ' ')
        s++;
    uint64_t a = 0;
    int digits = 0;
    for (;; s++, digits++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            break;
        a = a << 4 | d;
    }
    if (digits == 0 || *s != ',')
        return false;
    uint32_t n = 0;
    for (s++; *s >= '0' && *s <= '9'; s++)
        n = n * 10 + (uint32_t)(*s - '0');
    *addr = a;
    *size = n;
    return true;
}

static double pct(uint64_t ours, uint64_t theirs)
{
    if (theirs == 0)
        return ours == 0 ? 0.0 : 100.0;
    double d = (double)ours - (double)theirs;
    return 100.0 * (d < 0 ? -d : d) / (double)theirs;
}

/* A machine of geometry g with busybox's image mounted XIP. */
static xvm_replay *replay_machine(struct world *w, size_t g, xvm_machine **mo)
{
    struct xvm_config cfg;
    struct xvm_mount_config mc;
    xvm_cpu_profile *p;
    xvm_machine *m;
    xvm_flash *flash;
    xvm_mount *mp;
    xvm_replay *rp;
    char err[256];
    if (xvm_cpu_profile_create("sgimips", &p) != 0 ||
        xvm_cpu_profile_set(p, "I1", geoms[g].i1, err, sizeof err) ||
        xvm_cpu_profile_set(p, "D1", geoms[g].d1, err, sizeof err) ||
        xvm_cpu_profile_set(p, "LL", geoms[g].ll, err, sizeof err))
        _exit(2);
    xvm_config_init(&cfg);
    cfg.cpu = p;
    cfg.ram_bytes = UINT64_C(128) << 20;
    xvm_mount_config_init(&mc);
    mc.flags = XVM_MOUNT_XIP;
    if (xvm_machine_create(&cfg, &m) ||
        xvm_flash_open(m, w->img, NULL, &flash) ||
        xvm_mount_flash(flash, &mc, &mp) || xvm_replay_create(m, mp, &rp))
        _exit(3);
    xvm_cpu_profile_destroy(p);
    *mo = m;
    return rp;
}

/*
 * The grandchild: replays the trace read from fd in (the importer's
 * output) on one machine per replayed geometry, and writes their reports
 * and the event counts to fd out.
 */
static void replay_child(struct world *w, int in, int out)
{
    xvm_replay *rp[NREPLAY];
    xvm_machine *m[NREPLAY];
    char err[256], line[8192], copy[8192];
    FILE *f = fdopen(in, "r");
    if (f == NULL)
        _exit(2);
    for (size_t g = 0; g < NREPLAY; g++)
        rp[g] = replay_machine(w, g, &m[g]);
    int mism;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        for (size_t g = 0; g < NREPLAY; g++) {
            strcpy(copy, line); /* the parser works in place */
            if (xvm_replay_line(rp[g], copy, &mism, err, sizeof err) != 0) {
                fprintf(stderr, "replay: %s\n", err);
                _exit(4);
            }
        }
    }
    struct xvm_replay_totals t;
    xvm_replay_totals(rp[0], &t);
    for (size_t g = 0; g < NREPLAY; g++) {
        struct xvm_report rep;
        xvm_report(m[g], &rep);
        if (write(out, &rep.st, sizeof rep.st) != (ssize_t)sizeof rep.st)
            _exit(5);
    }
    uint64_t ev[2] = { t.events, t.mismatches };
    if (write(out, ev, sizeof ev) != (ssize_t)sizeof ev)
        _exit(5);
    _exit(0);
}

/*
 * The importer and the replayer: a child that runs lackey_import from fd
 * in into a pipe, whose other end a grandchild replays (replay_child).
 * The child closes parents, the parent's end of the pipe it reads.
 * => the child's pid.
 */
static pid_t start_replay(struct world *w, int in, int out, int parents)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    close(parents); /* the tee's write end: else no end of file */
    int p[2];
    if (pipe(p) != 0)
        _exit(6);
    pid_t gc = fork();
    if (gc == 0) {
        close(p[1]);
        close(in);
        replay_child(w, p[0], out);
    }
    close(p[0]);
    close(out);
    FILE *fin = fdopen(in, "r"), *fout = fdopen(p[1], "w");
    const char *args[] = { "sort", w->input };
    struct lackey_opts o = { .exec_host_path = BUSYBOX,
                             .path_in_image = "/bin/busybox",
                             .argc = 2,
                             .argv = args,
                             .pid = 1 };
    char err[256];
    int e =
        fin && fout ? lackey_import(fin, fout, &o, NULL, err, sizeof err) : EIO;
    if (fout)
        fclose(fout);
    if (e != 0)
        fprintf(stderr, "lackey_import: %s\n", err);
    int st;
    waitpid(gc, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "the replay failed (status %d)\n", st);
    _exit(e == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 7);
}

/* => whether n bytes came (a pipe hands over what each write wrote). */
static bool read_all(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

/*
 * cachegrind once per geometry; lackey once, its log read here into one
 * cache model per geometry and passed on to the importer and replayer.
 */
static void run_all(struct world *w)
{
    if (w->ran)
        return;
    w->ran = true; /* once, even if it fails: counts must not add up twice */
    if (access(BUSYBOX, X_OK) != 0)
        fail_msg(BUSYBOX " missing: .ci/install-deps installs busybox-static");
    for (size_t g = 0; g < NGEOM; g++)
        run_cachegrind(w, g);
    for (size_t g = 0; g < NGEOM; g++)
        mk_cache(&w->model[g], g);

    int p[2], tee[2], back[2];
    assert_int_equal(pipe(tee), 0);
    assert_int_equal(pipe(back), 0);
    fflush(NULL);
    pid_t rpid = start_replay(w, tee[0], back[1], tee[1]);
    close(tee[0]);
    close(back[1]);
    assert_int_equal(pipe(p), 0); /* after the fork: lackey's alone */
    const char *args[] = { "--tool=lackey", "--trace-mem=yes", "--log-fd=9",
                           NULL };
    pid_t pid = run_valgrind(args, w->input, p[1]);
    close(p[1]);
    FILE *in = fdopen(p[0], "r"), *out = fdopen(tee[1], "w");
    assert_non_null(in);
    assert_non_null(out);

    char line[256];
    struct cache *c = w->model;
    while (fgets(line, sizeof line, in) != NULL) {
        fputs(line, out);
        char k;
        uint64_t a;
        uint32_t sz;
        if (!parse_line(line, &k, &a, &sz))
            continue;
        switch (k) {
        case 'I':
            w->n_i++;
            for (size_t g = 0; g < NGEOM; g++)
                cache_fetch(&c[g], a, sz);
            break;
        case 'L':
            w->n_l++;
            w->n_big += sz > 16;
            for (size_t g = 0; g < NGEOM; g++)
                cache_load(&c[g], a, cache_cg_size(&c[g], sz));
            break;
        case 'S':
            w->n_s++;
            w->n_big += sz > 16;
            for (size_t g = 0; g < NGEOM; g++)
                cache_store(&c[g], a, cache_cg_size(&c[g], sz));
            break;
        default:
            w->n_m++;
            w->n_big += sz > 16;
            for (size_t g = 0; g < NGEOM; g++)
                cache_modify(&c[g], a, cache_cg_size(&c[g], sz));
            break;
        }
    }
    fclose(in);
    fclose(out);
    wait_ok(pid, "lackey");
    uint64_t ev[2];
    if (!read_all(back[0], w->replay, sizeof w->replay) ||
        !read_all(back[0], ev, sizeof ev))
        fail_msg("the import and replay of the lackey log failed");
    close(back[0]);
    int st;
    waitpid(rpid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("import or replay: status %d", st);
    w->events = ev[0];
    w->mismatches = ev[1];
    w->ok = true;
    print_message("lackey: %llu I, %llu L, %llu S, %llu M lines "
                  "(%llu data accesses above 16 bytes)\n",
                  (unsigned long long)w->n_i, (unsigned long long)w->n_l,
                  (unsigned long long)w->n_s, (unsigned long long)w->n_m,
                  (unsigned long long)w->n_big);
}

/* Prints each pair; fails when one differs by more than 1 %. */
static void within_one_percent(const char *who, const char *const *what,
                               const uint64_t *ours, const uint64_t *theirs,
                               int n)
{
    for (int k = 0; k < n; k++) {
        print_message("  %-3s misses: %s %9llu  cachegrind %9llu  "
                      "diff %.4f%%\n",
                      what[k], who, (unsigned long long)ours[k],
                      (unsigned long long)theirs[k], pct(ours[k], theirs[k]));
        if (pct(ours[k], theirs[k]) > 1.0)
            fail_msg("%s misses differ by more than 1%%", what[k]);
    }
}

static const char *const names[5] = { "I1", "D1", "LLi", "LLd", "LL" };

static void test_cachegrind_equal_miss_counts_on_busybox_sort(void **state)
{
    struct world *w = *state;
    run_all(w);
    if (!w->ok)
        fail_msg("the valgrind runs failed");
    for (size_t g = 0; g < NGEOM; g++) {
        const uint64_t *v = w->cg[g].v;
        struct cache *m = &w->model[g];
        char err[160];
        if (cache_check(m, err, sizeof err) != 0)
            fail_msg("%s", err);
        /* Same instructions, same data references. */
        assert_int_equal(m->i1.refs[CACHE_I], v[0]);
        assert_int_equal(m->d1.refs[CACHE_R], v[3]);
        assert_int_equal(m->d1.refs[CACHE_W], v[6]);

        uint64_t ours[5] = {
            m->i1.misses[CACHE_I],
            m->d1.misses[CACHE_R] + m->d1.misses[CACHE_W],
            m->ll.misses[CACHE_I],
            m->ll.misses[CACHE_R] + m->ll.misses[CACHE_W],
            m->ll.misses[CACHE_I] + m->ll.misses[CACHE_R] +
                m->ll.misses[CACHE_W],
        };
        uint64_t theirs[5] = { v[1], v[4] + v[7], v[2], v[5] + v[8],
                               v[2] + v[5] + v[8] };
        print_message("--I1=%s --D1=%s --LL=%s\n", geoms[g].i1, geoms[g].d1,
                      geoms[g].ll);
        for (int k = 0; k < 5; k++) {
            print_message("  %-3s misses: model %9llu  cachegrind %9llu\n",
                          names[k], (unsigned long long)ours[k],
                          (unsigned long long)theirs[k]);
            assert_int_equal(ours[k], theirs[k]);
        }
    }
}

/*
 * Through the whole machine.  References: every instruction is one fetch
 * but those split at a page edge (two pieces, two references); a lackey
 * M is one read and one write in a trace, so D1 references are
 * cachegrind's plus one per M (and exec's few stores of argv and bss).
 */
static void test_cachegrind_equal_miss_counts_through_the_replay(void **state)
{
    struct world *w = *state;
    run_all(w);
    if (!w->ok)
        fail_msg("the valgrind runs failed");
    assert_int_equal(w->mismatches, 0);
    for (size_t g = 0; g < NREPLAY; g++) {
        const uint64_t *v = w->cg[g].v;
        const struct xvm_stats *st = &w->replay[g];
        print_message(
            "--I1=%s --D1=%s --LL=%s through the machine: %llu "
            "events;\n  I1 refs %llu (cachegrind %llu), D1 refs "
            "%llu (cachegrind %llu + %llu M)\n",
            geoms[g].i1, geoms[g].d1, geoms[g].ll,
            (unsigned long long)w->events, (unsigned long long)st->i1_refs,
            (unsigned long long)v[0], (unsigned long long)st->d1_refs,
            (unsigned long long)(v[3] + v[6]), (unsigned long long)w->n_m);
        assert_true(pct(st->i1_refs, v[0]) < 0.1);
        assert_true(pct(st->d1_refs, v[3] + v[6] + w->n_m) < 0.1);
        print_message(
            "  (%llu copy-on-write copies, %llu zero fills, %llu refills)\n",
            (unsigned long long)st->cow_promotions,
            (unsigned long long)st->zero_fills,
            (unsigned long long)st->tlb_refills);
        uint64_t ours[3] = { st->i1_misses, st->d1_misses, st->ll_misses };
        uint64_t theirs[3] = { v[1], v[4] + v[7], v[2] + v[5] + v[8] };
        static const char *const what[3] = { "I1", "D1", "LL" };
        within_one_percent("machine", what, ours, theirs, 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cachegrind_equal_miss_counts_on_busybox_sort),
        cmocka_unit_test(test_cachegrind_equal_miss_counts_through_the_replay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
