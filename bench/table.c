/*
 * xipvm bench: every group of rows in one process, one table: the
 * simulator's CPU and wall figures, the anchor's (CPU) figure, their
 * ratio, and what each row aims at.
 */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"

static const struct cli_opt bench_opts[] = {
    { "--quick", NULL, NULL, "smaller sizes, for a quick look" },
    { "--runs", "N", "5",
      "each row is the median of N runs (CPU time, wall time beside it), 1 "
      "to 31" },
    { "--workdir", "DIR", "a temporary directory, removed after",
      "where the images and traces are made" },
    { "--only", "GROUPS", "all",
      "comma-separated groups of rows: access, replay, scale, corners, "
      "memory, fuzz, tlb, designs" },
    { "--designs", NULL, NULL,
      "only the device-page designs' rows, as --only designs "
      "(doc/beyond-the-paper.md: under callgrind, each loop's "
      "instructions)" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd bench_cmd = {
    .name = "bench",
    .synopsis =
        "[--quick] [--runs N] [--workdir DIR] [--only GROUPS] [--designs]",
    .summary = "benchmarks, side by side with an anchor, in CPU time",
    .opts = bench_opts,
    .details = "One table: each row's CPU time (and wall time) in the "
               "simulator, its anchor's\n(the host kernel, cachegrind, wc "
               "-l, zstd -dc) where one does comparable\nwork, their ratio "
               "and the target (doc/performance.md).  Needs makefs and\n"
               "valgrind.  Exit status: 0, 1 when a row could not run, 2 "
               "for a usage error.\n",
    .fn = bench_main,
};

static const struct {
    const char *name;
    unsigned bit;
} groups[] = {
    { "access", G_ACCESS },   { "replay", G_REPLAY },   { "scale", G_SCALE },
    { "corners", G_CORNERS }, { "memory", G_MEMORY },   { "fuzz", G_FUZZ },
    { "tlb", G_TLB },         { "designs", G_DESIGNS },
};

static int parse_groups(const char *s, unsigned *out)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", s);
    *out = 0;
    for (char *p = strtok(buf, ","); p; p = strtok(NULL, ",")) {
        size_t i;
        for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
            if (strcmp(p, groups[i].name) == 0)
                break;
        if (i == sizeof(groups) / sizeof(groups[0]))
            return -1;
        *out |= groups[i].bit;
    }
    return *out ? 0 : -1;
}

/* A figure in its unit, readably. */
static void fig(char *buf, size_t len, double v, const char *unit)
{
    if (v < 0)
        snprintf(buf, len, "failed");
    else if (strcmp(unit, "ns") == 0 && v >= 10000)
        snprintf(buf, len, "%.1f us", v / 1000);
    else if (strcmp(unit, "x") == 0)
        snprintf(buf, len, "%.2fx", v);
    else if (strcmp(unit, "B") == 0 || strcmp(unit, "instr") == 0)
        snprintf(buf, len, "%.0f %s", v, unit);
    else
        snprintf(buf, len, "%.1f %s", v, unit);
}

static void print_table(const struct bench_opts *o, const struct table *t)
{
    struct utsname u;
    double load[3] = { 0, 0, 0 };
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        fclose(f);
    }
    uname(&u);
    printf("xipvm bench: median of %u runs%s; %s %s, %ld CPUs, load average "
           "%.2f %.2f %.2f\n\n",
           o->runs, o->quick ? " (quick sizes)" : "", u.sysname, u.release,
           sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
    printf("  %-52s %12s %12s %12s %-12s %7s  %s\n", "", "CPU", "wall",
           "anchor", "(CPU)", "ratio", "target: verdict");
    for (unsigned i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i];
        char c[32], w[32], a[32] = "", ratio[16] = "";
        fig(c, sizeof(c), r->cpu, r->unit);
        if (r->wall > 0)
            fig(w, sizeof(w), r->wall, r->unit);
        else
            snprintf(w, sizeof(w), "-");
        if (r->anchor > 0) {
            fig(a, sizeof(a), r->anchor, r->unit);
            snprintf(ratio, sizeof(ratio), "%.3f", r->cpu / r->anchor);
        }
        printf("  %-52s %12s %12s %12s %-12s %7s  %s%s%s\n", r->name, c, w, a,
               r->anchor_name, ratio, r->target, r->target[0] ? ": " : "",
               r->verdict);
    }
    if (t->notes[0])
        printf("\n%s", t->notes);
}

/*
 * The kernel's rows run first, in a child forked while this process is
 * still small: fork's cost grows with the forking process's mappings.
 */
static int kernel_in_child(const struct bench_opts *o, struct kernel_results *k)
{
    int fds[2], status;
    if (pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct kernel_results r;
        int ok = bench_kernel(o, &r) == 0 &&
                 write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    ssize_t n = pid > 0 ? read(fds[0], k, sizeof(*k)) : -1;
    close(fds[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    return n == (ssize_t)sizeof(*k) ? 0 : -1;
}

int bench_main(int argc, char **argv)
{
    struct bench_opts o = { .runs = 5, .groups = G_ALL };
    struct kernel_results k;
    static struct table t;
    char tmp[] = "/tmp/xipvm-bench.XXXXXX", self[1024];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[len > 0 ? len : 0] = '\0';
    o.self = self;
    /* The callgrind probe's way back in (bench/sim.c): not an option for
     * people, so not in the table. */
    int p = argc > 1 && strcmp(argv[1], "bench") == 0 ? 2 : 1;
    if (argc == p + 3 && strcmp(argv[p], "--probe-tlb") == 0)
        return bench_tlb_probe(atoi(argv[p + 1]),
                               (unsigned)strtoul(argv[p + 2], NULL, 10));
    struct cli_args args = { &bench_cmd, argc, p, argv, false };
    const struct cli_opt *opt;
    const char *v;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) != CLI_END) {
        uint64_t n;
        if (kind == CLI_OPT && strcmp(opt->name, "--quick") == 0) {
            o.quick = true;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--runs") == 0 &&
                   parse_uint(v, BENCH_MAX_RUNS, &n) == 0 && n > 0) {
            o.runs = (unsigned)n;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--workdir") == 0) {
            o.workdir = v;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--designs") == 0) {
            o.groups = G_DESIGNS;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--only") == 0 &&
                   parse_groups(v, &o.groups) == 0) {
            continue;
        } else {
            if (kind == CLI_OPT)
                fprintf(stderr, "xipvm bench: %s: expected %s, got %s\n",
                        opt->name,
                        strcmp(opt->name, "--runs") == 0
                            ? "1 to 31"
                            : "groups among access, replay, scale, corners, "
                              "memory, fuzz, tlb, designs",
                        v ? v : "");
            else if (kind == CLI_ARG)
                fprintf(stderr, "xipvm bench: unexpected argument %s\n", v);
            cli_usage(stderr, &bench_cmd);
            return 2;
        }
    }
    if (o.workdir == NULL && (o.workdir = mkdtemp(tmp)) == NULL) {
        perror("xipvm bench: mkdtemp");
        return 1;
    }
    struct stat wd;
    if ((mkdir(o.workdir, 0777) != 0 && errno != EEXIST) ||
        stat(o.workdir, &wd) != 0 || !S_ISDIR(wd.st_mode)) {
        fprintf(stderr, "xipvm bench: --workdir %s: %s\n", o.workdir,
                errno == EEXIST ? "not a directory" : strerror(errno));
        return 1;
    }
    int rc = 0;
    memset(&k, 0, sizeof(k));
    if ((o.groups & G_ACCESS) && kernel_in_child(&o, &k) != 0) {
        fprintf(stderr, "xipvm bench: kernel rows failed\n");
        rc = 1;
    }
    static const struct {
        unsigned bit;
        const char *what;
    } order[] = { { G_ACCESS, "access" }, { G_SCALE, "scale" },
                  { G_MEMORY, "memory" }, { G_CORNERS, "corners" },
                  { G_FUZZ, "fuzz" },     { G_TLB, "tlb" },
                  { G_REPLAY, "replay" }, { G_DESIGNS, "designs" } };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && rc == 0; i++) {
        if (!(o.groups & order[i].bit))
            continue;
        int e = order[i].bit == G_ACCESS    ? bench_access(&o, &k, &t)
                : order[i].bit == G_SCALE   ? bench_scale(&o, &t)
                : order[i].bit == G_MEMORY  ? bench_memory(&o, &t)
                : order[i].bit == G_CORNERS ? bench_corners(&o, &t)
                : order[i].bit == G_FUZZ    ? bench_fuzz(&o, &t)
                : order[i].bit == G_TLB     ? bench_tlb(&o, &t)
                : order[i].bit == G_DESIGNS ? bench_designs(&o, &t)
                                            : bench_replay(&o, &t);
        if (e != 0) {
            fprintf(stderr, "xipvm bench: the %s rows failed\n", order[i].what);
            rc = 1;
        }
    }
    if (t.n)
        print_table(&o, &t);
    if (strcmp(o.workdir, tmp) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "xipvm bench: could not remove %s\n", tmp);
    }
    return rc;
}
