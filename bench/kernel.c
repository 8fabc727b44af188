/*
 * The host kernel doing the same work as the simulator's rows: anonymous
 * zero-fill faults, read faults on a page-cache-resident file mapped
 * private with MADV_RANDOM, copy-on-write faults on that mapping,
 * copy-on-write after fork, and fork + exit.  Fault costs are divided by
 * the minor faults the kernel counted, not by pages: Linux may map
 * several pages per fault (fault-around).
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* Touches n pages of p; => ns per counted minor fault. */
static double touch(volatile uint8_t *p, size_t n, size_t pg, int write,
                    double *per_page)
{
    long f0 = minflt();
    double t0 = bench_now_ns();
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (write)
            p[i * pg] = 1;
        else
            sum += p[i * pg];
    }
    double ns = bench_now_ns() - t0;
    long faults = minflt() - f0;
    if (per_page)
        *per_page = (double)faults / (double)n;
    return ns / (double)(faults > 0 ? faults : 1) + (double)(sum & 0);
}

static double anon_zero_fill(size_t n, size_t pg)
{
    uint8_t *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    double ns = touch(p, n, pg, 1, NULL);
    munmap(p, n * pg);
    return ns;
}

static double file_fault(int fd, size_t n, size_t pg, int write,
                         double *per_page)
{
    int prot = PROT_READ | (write ? PROT_WRITE : 0);
    uint8_t *p = mmap(NULL, n * pg, prot, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    madvise(p, n * pg, MADV_RANDOM);
    double ns = touch(p, n, pg, write, per_page);
    munmap(p, n * pg);
    return ns;
}

/* The child times its copy-on-write faults and reports through a pipe. */
static double cow_after_fork(size_t n, size_t pg)
{
    int fds[2];
    double ns = -1;
    uint8_t *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || pipe(fds) != 0)
        return -1;
    touch(p, n, pg, 1, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        double v = touch(p, n, pg, 1, NULL);
        ssize_t w = write(fds[1], &v, sizeof(v));
        _exit(w == (ssize_t)sizeof(v) ? 0 : 1);
    }
    if (pid > 0) {
        if (read(fds[0], &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
            ns = -1;
        waitpid(pid, NULL, 0);
    }
    close(fds[0]);
    close(fds[1]);
    munmap(p, n * pg);
    return ns;
}

static double fork_exit(size_t mib, size_t pg, unsigned iters)
{
    size_t n = (mib << 20) / pg;
    uint8_t *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    touch(p, n, pg, 1, NULL);
    double t0 = bench_now_ns();
    for (unsigned i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0)
            break;
        waitpid(pid, NULL, 0);
    }
    double ns = (bench_now_ns() - t0) / iters;
    munmap(p, n * pg);
    return ns;
}

/* A file of n pages in the page cache. */
static int resident_file(const char *dir, size_t n, size_t pg)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/kernel.dat", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    unlink(path);
    char *buf = malloc(pg);
    memset(buf, 0x5a, pg);
    for (size_t i = 0; i < n; i++)
        if (write(fd, buf, pg) != (ssize_t)pg) {
            free(buf);
            close(fd);
            return -1;
        }
    free(buf);
    return fd;
}

int bench_kernel(const struct bench_opts *o, struct kernel_results *r)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = o->quick ? 1024 : 4096;
    unsigned runs = o->runs > BENCH_MAX_RUNS ? BENCH_MAX_RUNS : o->runs;
    static const size_t mib[3] = { 1, 16, 256 };
    memset(r, 0, sizeof(*r));
    int fd = resident_file(o->workdir, n, pg);
    if (fd < 0)
        return errno ? errno : EIO;
    MEDIAN(r->zero_fill, runs, anon_zero_fill(n, pg));
    MEDIAN(r->file_fault, runs, file_fault(fd, n, pg, 0, &r->faults_per_page));
    MEDIAN(r->cow_file, runs, file_fault(fd, n, pg, 1, NULL));
    MEDIAN(r->cow_fork, runs, cow_after_fork(n, pg));
    for (int i = 0; i < 3; i++)
        MEDIAN(r->fork_exit[i], runs,
               fork_exit(o->quick && i == 2 ? 64 : mib[i], pg, 50));
    close(fd);
    return 0;
}
