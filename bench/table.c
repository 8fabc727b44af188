/*
 * xipvm bench: runs the simulator's and the kernel's rows in one process
 * and prints one table with the ratio simulator/kernel per row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cli.h"

static const struct cli_opt bench_opts[] = {
    { "--quick", NULL, NULL, "smaller sizes, for a quick look" },
    { "--runs", "N", "5", "each row is the median of N runs, 1 to 31" },
    { "--workdir", "DIR", "a temporary directory, removed after",
      "where the images and traces are made" },
    { "--designs", NULL, NULL,
      "only the device-page designs' rows (doc/beyond-the-paper.md: under "
      "callgrind, each loop's instructions)" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd bench_cmd = {
    .name = "bench",
    .synopsis = "[--quick] [--runs N] [--workdir DIR] [--designs]",
    .summary = "benchmarks, side by side with the host kernel",
    .opts = bench_opts,
    .details = "One table: each row's time in the simulator and, where the "
               "host kernel\ndoes the same, in the kernel, their ratio and "
               "the target\n(doc/performance.md).  Needs makefs and "
               "valgrind.  Exit status: 0, 1\nwhen a row could not run, 2 "
               "for a usage error.\n",
    .fn = bench_main,
};

static void row(const char *what, double sim, double kern, const char *unit,
                const char *target)
{
    printf("  %-44s %10.1f %s", what, sim, unit);
    if (kern > 0)
        printf("  %10.1f %s  %7.3f", kern, unit, sim / kern);
    else
        printf("  %13s  %7s", "", "");
    printf("  %s\n", target);
}

static void print_designs(const struct design_results *d);

static void print_table(const struct bench_opts *o, const struct sim_results *s,
                        const struct kernel_results *k,
                        const struct replay_results *r,
                        const struct design_results *dz)
{
    static const char *const mib[3] = { "1", "16", "256" };
    char what[80];
    printf("xipvm bench: median of %u runs%s\n\n", o->runs,
           o->quick ? " (quick sizes)" : "");
    printf("  %-44s %13s  %13s  %7s  %s\n", "", "simulator", "kernel", "ratio",
           "target");
    row("access, TLB hit, read (8 bytes)", s->tlb_read, 0, "ns", "<= 3 ns");
    row("access, TLB hit, write (8 bytes)", s->tlb_write, 0, "ns", "<= 3 ns");
    row("access, TLB hit, execute (8 bytes)", s->tlb_exec, 0, "ns", "<= 3 ns");
    row("fault: XIP read, device page", s->xip_fault, k->file_fault, "ns",
        "<= 150 ns, 10x kernel");
    row("fault: copy-mode read, page-cache page", s->copy_resident_fault,
        k->file_fault, "ns", "");
    row("fault: copy-mode read, reads flash", s->copy_flash_fault, 0, "ns", "");
    row("fault: COW promotion from a device page", s->cow_device, k->cow_file,
        "ns", "<= 600 ns, 10x kernel");
    row("fault: anonymous zero-fill", s->zero_fill, k->zero_fill, "ns", "");
    row("fault: copy-on-write after fork", s->cow_fork, k->cow_fork, "ns", "");
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof(what), "fork + exit, %s MiB touched",
                 o->quick && i == 2 ? "64" : mib[i]);
        row(what, s->fork_exit[i] / 1000, k->fork_exit[i] / 1000, "us", "flat");
    }
    row("fork + exit, busybox-sized process", s->busybox_fork / 1000, 0, "us",
        "<= 20 us");
    printf("  %-44s %10.2f M/s\n", "replay, plain lackey trace",
           r->plain / 1e6);
    printf("  %-44s %10.2f M/s\n", "replay, .gz", r->gz / 1e6);
    printf("  %-44s %10.2f M/s  %28s\n", "replay, .zst", r->zst / 1e6,
           ">= 20 M events/s");
    printf("  %-44s %10.2f M/s\n", "replay, plain, CPU model off (--no-cache)",
           r->plain_nocache / 1e6);
    printf("  %-44s %10.1f ns  %10.1f ns  %7.3f  %s\n",
           "replay per event: full CPU model / off", 1e9 / r->plain,
           1e9 / r->plain_nocache, r->model_ratio, "ratio <= 1.5");
    row("per access: replay (full model) / cachegrind", 1e9 / r->plain,
        r->cg_ns, "ns", "");
    printf("  %-44s %10.0f B\n", "host metadata per simulated RAM page",
           s->ram_page_bytes);
    printf("  %-44s %10.0f B  %28s\n", "host metadata per device page",
           s->device_page_bytes, "<= 64 B RAM, 0 device");
    printf("  %-44s %10.0f B\n", "  + per live device mapping (PV, hash)",
           s->pv_bytes);
    static const char *const np[3] = { "1", "100", "10,000" }, *const ne[3] = {
        "10", "1,000", "100,000"
    };
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof(what), "per event, %s processes", np[i]);
        row(what, s->procs[i], 0, "ns", i == 2 ? "<= 2x smallest" : "");
    }
    for (int i = 0; i < 3; i++) {
        snprintf(what, sizeof(what), "per event, %s map entries", ne[i]);
        row(what, s->entries[i], 0, "ns", i == 2 ? "<= 2x smallest" : "");
    }
    print_designs(dz);
    printf(
        "\nkernel: %.2f minor faults per page touched on the MADV_RANDOM file "
        "mapping; its fault costs are per fault.\n",
        k->faults_per_page);
    printf("replay trace: %llu events (busybox under valgrind lackey); "
           "cachegrind ran the same\nworkload: %llu accesses (Ir + Dr + Dw), "
           "its time per access in the kernel column.\n",
           (unsigned long long)r->events, (unsigned long long)r->cg_accesses);
}

/* The device-page designs, one row per operation and design. */
static void print_designs(const struct design_results *d)
{
    static const char *const what[4] = {
        "XIP read fault, device page",
        "COW fault from a device page",
        "fork + exit, XIP process",
        "fork + child runs 64 text pages",
    };
    const double *rows[4] = { d->xip_fault, d->cow_device, d->fork_exit,
                              d->fork_text };
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < XVM_DESIGNS; k++) {
            char label[96];
            const double *v = rows[r];
            snprintf(label, sizeof(label), "%s: %s", what[r],
                     xvm_device_design_name((enum xvm_device_design)k));
            if (r >= 2)
                row(label, v[k] / 1000, 0, "us", "");
            else
                row(label, v[k], 0, "ns", "");
        }
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
    struct bench_opts o = { .runs = 5, .workdir = NULL };
    struct sim_results s;
    struct kernel_results k;
    struct replay_results r;
    struct design_results dz;
    bool designs_only = false;
    char tmp[] = "/tmp/xipvm-bench.XXXXXX";
    struct cli_args args = { &bench_cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v;
    int kind;
    while ((kind = cli_next(&args, &opt, &v)) != CLI_END) {
        uint64_t n;
        if (kind == CLI_OPT && strcmp(opt->name, "--quick") == 0) {
            o.quick = true;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--designs") == 0) {
            designs_only = true;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--runs") == 0 &&
                   parse_uint(v, 31, &n) == 0 && n > 0) {
            o.runs = (unsigned)n;
        } else if (kind == CLI_OPT && strcmp(opt->name, "--workdir") == 0) {
            o.workdir = v;
        } else {
            if (kind == CLI_OPT)
                fprintf(stderr,
                        "xipvm bench: --runs: expected 1 to 31, "
                        "got %s\n",
                        v);
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
    int rc = 1;
    if (designs_only) {
        if (bench_designs(&o, &dz) != 0) {
            fprintf(stderr, "xipvm bench: design rows failed (makefs "
                            "missing?)\n");
        } else {
            printf("xipvm bench --designs: median of %u runs%s\n\n", o.runs,
                   o.quick ? " (quick sizes)" : "");
            print_designs(&dz);
            rc = 0;
        }
    } else if (kernel_in_child(&o, &k) != 0)
        fprintf(stderr, "xipvm bench: kernel rows failed\n");
    else if (bench_sim(&o, &s) != 0)
        fprintf(stderr,
                "xipvm bench: simulator rows failed (makefs missing?)\n");
    else if (bench_replay(&o, &r) != 0)
        fprintf(stderr,
                "xipvm bench: replay rows failed (valgrind missing?)\n");
    else if (bench_designs(&o, &dz) != 0)
        fprintf(stderr, "xipvm bench: design rows failed\n");
    else {
        print_table(&o, &s, &k, &r, &dz);
        rc = 0;
    }
    if (strcmp(o.workdir, tmp) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "xipvm bench: could not remove %s\n", tmp);
    }
    return rc;
}
