/*
 * The host kernel doing the same work as the simulator's rows: anonymous
 * zero-fill faults, read faults on a page-cache-resident file mapped
 * private with MADV_RANDOM, copy-on-write faults on that mapping,
 * copy-on-write after fork, and fork + exit.  Fault costs are divided by
 * the minor faults the kernel counted, not by pages: Linux may map
 * several pages per fault (fault-around).  CPU time is this process's
 * (the faults are kernel work done for it) and, for fork + exit, its
 * children's too.
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

static const struct span failed = { -1, -1 };

/* Touches n pages of p; => time per counted minor fault (the faults are
 * the kernel's work in this process: its CPU time counts them). */
static struct span touch(volatile uint8_t *p, size_t n, size_t pg, int write,
                         double *per_page)
{
    long f0 = minflt();
    struct span t0 = tm_now(false);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (write)
            p[i * pg] = 1;
        else
            sum += p[i * pg];
    }
    long faults = minflt() - f0;
    struct span t = tm_per(t0, false, (double)(faults > 0 ? faults : 1));
    if (per_page)
        *per_page = (double)faults / (double)n;
    t.cpu += (double)(sum & 0);
    return t;
}

static struct span anon_zero_fill(size_t n, size_t pg)
{
    uint8_t *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return failed;
    struct span t = touch(p, n, pg, 1, NULL);
    munmap(p, n * pg);
    return t;
}

static struct span file_fault(int fd, size_t n, size_t pg, int write,
                              double *per_page)
{
    int prot = PROT_READ | (write ? PROT_WRITE : 0);
    uint8_t *p = mmap(NULL, n * pg, prot, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return failed;
    madvise(p, n * pg, MADV_RANDOM);
    struct span t = touch(p, n, pg, write, per_page);
    munmap(p, n * pg);
    return t;
}

/* The child times its copy-on-write faults and reports through a pipe. */
static struct span cow_after_fork(size_t n, size_t pg)
{
    int fds[2];
    struct span t = failed;
    uint8_t *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || pipe(fds) != 0)
        return failed;
    touch(p, n, pg, 1, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct span v = touch(p, n, pg, 1, NULL);
        ssize_t w = write(fds[1], &v, sizeof(v));
        _exit(w == (ssize_t)sizeof(v) ? 0 : 1);
    }
    if (pid > 0) {
        if (read(fds[0], &t, sizeof(t)) != (ssize_t)sizeof(t))
            t = failed;
        waitpid(pid, NULL, 0);
    }
    close(fds[0]);
    close(fds[1]);
    munmap(p, n * pg);
    return t;
}

/* Fork and reap: the parent's and the children's CPU time. */
static struct span fork_exit(size_t mib, size_t pg, unsigned iters)
{
    size_t n = (mib << 20) / pg;
    uint8_t *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return failed;
    touch(p, n, pg, 1, NULL);
    struct span t0 = tm_now(true);
    for (unsigned i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0)
            break;
        waitpid(pid, NULL, 0);
    }
    struct span t = tm_per(t0, true, iters);
    munmap(p, n * pg);
    return t;
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
    MEDIAN_TM(r->zero_fill, runs, anon_zero_fill(n, pg));
    MEDIAN_TM(r->file_fault, runs,
              file_fault(fd, n, pg, 0, &r->faults_per_page));
    MEDIAN_TM(r->cow_file, runs, file_fault(fd, n, pg, 1, NULL));
    MEDIAN_TM(r->cow_fork, runs, cow_after_fork(n, pg));
    for (int i = 0; i < 3; i++)
        MEDIAN_TM(r->fork_exit[i], runs,
                  fork_exit(o->quick && i == 2 ? 64 : mib[i], pg, 50));
    close(fd);
    return 0;
}
