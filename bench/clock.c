/*
 * Time (CPU and wall), medians, resident memory, and the table's rows.
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static double ns_of(const struct timeval *tv)
{
    return (double)tv->tv_sec * 1e9 + (double)tv->tv_usec * 1e3;
}

struct span tm_now(bool children)
{
    struct timespec w, c;
    struct span t;
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    t.wall = (double)w.tv_sec * 1e9 + (double)w.tv_nsec;
    t.cpu = (double)c.tv_sec * 1e9 + (double)c.tv_nsec;
    if (children) {
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        t.cpu += ns_of(&ru.ru_utime) + ns_of(&ru.ru_stime);
    }
    return t;
}

struct span tm_per(struct span t0, bool children, double n)
{
    struct span t = tm_now(children);
    t.cpu = (t.cpu - t0.cpu) / n;
    t.wall = (t.wall - t0.wall) / n;
    return t;
}

double bench_now_ns(void)
{
    return tm_now(false).wall;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t rss_bytes(void)
{
    char line[256];
    unsigned long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "RssAnon: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb << 10;
}

int run_timed(const char *cmd, struct span *t)
{
    struct span t0 = tm_now(true);
    int rc = system(cmd);
    *t = tm_per(t0, true, 1);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct row *table_row(struct table *t, const char *unit, const char *fmt, ...)
{
    /* Past TABLE_MAX the last row is written over. */
    struct row *r = &t->rows[t->n < TABLE_MAX ? t->n++ : TABLE_MAX - 1];
    va_list ap;
    memset(r, 0, sizeof(*r));
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof(r->name), fmt, ap);
    va_end(ap);
    r->unit = unit;
    return r;
}

void table_note(struct table *t, const char *fmt, ...)
{
    size_t n = strlen(t->notes);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->notes + n, sizeof(t->notes) - n, fmt, ap);
    va_end(ap);
}

void row_verdict(struct row *r, bool met, const char *fmt, ...)
{
    char what[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(r->verdict, sizeof(r->verdict), "%s (%s)", met ? "met" : "missed",
             what);
}

int bench_makefs(const char *dir, const char *img, const char *opts)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "\"$(command -v makefs || echo /usr/sbin/makefs)\" -t ffs -M 1m "
             "-b 10%% -o version=2,bsize=16384,fsize=2048 %s '%s' '%s' "
             ">/dev/null 2>&1",
             opts ? opts : "", img, dir);
    return system(cmd) == 0 ? 0 : -1;
}
