/*
 * The cache model against valgrind's cachegrind on a real program.
 *
 * Debian's static busybox sorts a generated file twice under valgrind:
 * once under cachegrind (--cache-sim=yes) per geometry, once under lackey
 * (--trace-mem=yes), whose I/L/S/M lines stream through a pipe into one
 * cache model per geometry.  Both runs get the same tiny environment
 * (env -i style): the environment sits on the client's stack, so a
 * different one shifts addresses and even the instruction count.
 * The I1, D1 and LL miss counts must agree within 1%; the instruction and
 * data reference counts must agree exactly (same instructions traced).
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

/* cachegrind.out's summary: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw. */
struct cg_summary {
    uint64_t v[9];
};

struct world {
    char dir[64];
    char input[96];
    struct cg_summary cg[NGEOM];
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
    rmdir(w->dir);
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

static void test_cachegrind_equal_miss_counts_on_busybox_sort(void **state)
{
    struct world *w = *state;
    if (access(BUSYBOX, X_OK) != 0)
        fail_msg(BUSYBOX " missing: .ci/install-deps installs busybox-static");
    for (size_t g = 0; g < NGEOM; g++)
        run_cachegrind(w, g);

    struct cache c[NGEOM];
    for (size_t g = 0; g < NGEOM; g++)
        mk_cache(&c[g], g);

    int p[2];
    assert_int_equal(pipe(p), 0);
    const char *args[] = { "--tool=lackey", "--trace-mem=yes", "--log-fd=9",
                           NULL };
    pid_t pid = run_valgrind(args, w->input, p[1]);
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    assert_non_null(in);

    char line[256];
    uint64_t n_i = 0, n_l = 0, n_s = 0, n_m = 0, n_big = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        char k;
        uint64_t a;
        uint32_t sz;
        if (!parse_line(line, &k, &a, &sz))
            continue;
        switch (k) {
        case 'I':
            n_i++;
            for (size_t g = 0; g < NGEOM; g++)
                cache_fetch(&c[g], a, sz);
            break;
        case 'L':
            n_l++;
            n_big += sz > 16;
            for (size_t g = 0; g < NGEOM; g++)
                cache_load(&c[g], a, cache_cg_size(&c[g], sz));
            break;
        case 'S':
            n_s++;
            n_big += sz > 16;
            for (size_t g = 0; g < NGEOM; g++)
                cache_store(&c[g], a, cache_cg_size(&c[g], sz));
            break;
        default:
            n_m++;
            n_big += sz > 16;
            for (size_t g = 0; g < NGEOM; g++)
                cache_modify(&c[g], a, cache_cg_size(&c[g], sz));
            break;
        }
    }
    fclose(in);
    wait_ok(pid, "lackey");
    print_message("lackey: %llu I, %llu L, %llu S, %llu M lines "
                  "(%llu data accesses above 16 bytes)\n",
                  (unsigned long long)n_i, (unsigned long long)n_l,
                  (unsigned long long)n_s, (unsigned long long)n_m,
                  (unsigned long long)n_big);

    for (size_t g = 0; g < NGEOM; g++) {
        const uint64_t *v = w->cg[g].v;
        struct cache *m = &c[g];
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
        static const char *const names[5] = { "I1", "D1", "LLi", "LLd", "LL" };
        print_message("--I1=%s --D1=%s --LL=%s\n", geoms[g].i1, geoms[g].d1,
                      geoms[g].ll);
        for (int k = 0; k < 5; k++) {
            print_message("  %-3s misses: model %9llu  cachegrind %9llu  "
                          "diff %.4f%%\n",
                          names[k], (unsigned long long)ours[k],
                          (unsigned long long)theirs[k],
                          pct(ours[k], theirs[k]));
            if (pct(ours[k], theirs[k]) > 1.0)
                fail_msg("%s misses differ by more than 1%%", names[k]);
        }
        cache_fini(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cachegrind_equal_miss_counts_on_busybox_sort),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
