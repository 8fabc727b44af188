/*
 * What used to be quadratic, with the inputs that showed it: mappings
 * placed anywhere (10,000 and 40,000 `mmap 1 0 4096` lines), a million
 * marks in a 10 KB .gz, fsinfo of a 1.2 MB image with 65,000 hard links
 * to one sparse file, and tearing down 100,000 processes.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bench.h"
#include "cli.h"
#include "ffs.h"
#include "ffs_format.h"
#include "machine.h"
#include "vfs.h"

#define PG 4096u

/* A replay of a trace file, with its status; => its time, whole. */
static struct span replay(const char *img, const char *trace, int *status)
{
    uint64_t events;
    return bench_replay_trace(img, trace, false, status, &events);
}

/* n `mmap 1 0 4096` lines after a spawn: per line. */
static struct span mmaps(const char *img, const char *path, unsigned n)
{
    FILE *f = fopen(path, "w");
    int status;
    if (f == NULL)
        return (struct span){ -1, -1 };
    fprintf(f, "xipvm-trace 1\nspawn 1 /bin/busybox\n");
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "mmap 1 0 4096 rw- private\n");
    fclose(f);
    struct span t = replay(img, path, &status);
    if (status != 0)
        return (struct span){ -1, -1 };
    t.cpu /= n;
    t.wall /= n;
    return t;
}

static int million_marks(const char *path)
{
    gzFile g = gzopen(path, "wb9");
    if (g == NULL)
        return EIO;
    gzprintf(g, "xipvm-trace 1\n");
    for (unsigned i = 0; i < 1000000; i++)
        gzprintf(g, "mark m%u\n", i);
    return gzclose(g) == Z_OK ? 0 : EIO;
}

/* A 1.2 MB image: one file of two blocks and `links` hard links to it,
 * its size then patched to 64 MiB (a legal sparse file). */
static int links_image(const char *workdir, unsigned links, char *img,
                       size_t cap)
{
    char dir[600], a[700], b[700], cmd[2048];
    snprintf(dir, sizeof(dir), "%s/lnroot", workdir);
    snprintf(img, cap, "%s/links.img", workdir);
    snprintf(cmd, sizeof(cmd),
             "rm -rf '%s' && mkdir -p '%s/l' && head -c 32768 /dev/urandom > "
             "'%s/l/f0'",
             dir, dir, dir);
    if (system(cmd) != 0)
        return EIO;
    snprintf(a, sizeof(a), "%s/l/f0", dir);
    for (unsigned i = 1; i < links; i++) {
        snprintf(b, sizeof(b), "%s/l/%u", dir, i);
        if (link(a, b) != 0)
            return errno;
    }
    if (bench_makefs(dir, img, NULL) != 0)
        return EIO;
    /* The size: UFS2 di_size, beside the first block pointer. */
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_flash *f;
    xvm_mount *mp;
    uint64_t off;
    unsigned psz;
    uint32_t ino;
    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    int error = xvm_machine_create(&cfg, &m);
    if (error == 0 && (error = xvm_flash_open(m, img, NULL, &f)) == 0 &&
        (error = xvm_mount_flash(f, NULL, &mp)) == 0 &&
        (error = ffs_namei(mp->fs, "l/f0", 1, &ino)) == 0)
        error = ffs_db_offset(mp->fs, ino, 0, &off, &psz);
    xvm_machine_destroy(m);
    if (error)
        return error;
    FILE *fp = fopen(img, "r+b");
    uint8_t size[8];
    for (int k = 0; k < 8; k++)
        size[k] = (uint8_t)((UINT64_C(64) << 20) >> (8 * k));
    if (fp == NULL ||
        fseek(fp, (long)(off - FFS_DI2_DB + FFS_DI2_SIZE), SEEK_SET) != 0 ||
        fwrite(size, 1, 8, fp) != 8) {
        if (fp)
            fclose(fp);
        return EIO;
    }
    return fclose(fp) == 0 ? 0 : EIO;
}

static int count(void *arg, const struct xvm_file_info *fi)
{
    ++*(uint64_t *)arg;
    return fi->error;
}

/* An amd64 machine of ram bytes (0: the default) with img mounted at
 * *mp (NULL when it could not be); NULL: no machine. */
static xvm_machine *mounted(const char *img, uint64_t ram, xvm_mount **mp)
{
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_flash *f;
    xvm_config_init(&cfg);
    cfg.profile = "amd64";
    if (ram)
        cfg.ram_bytes = ram;
    *mp = NULL;
    if (xvm_machine_create(&cfg, &m) != 0)
        return NULL;
    if (xvm_flash_open(m, img, NULL, &f) != 0 ||
        xvm_mount_flash(f, NULL, mp) != 0)
        *mp = NULL;
    return m;
}

static struct span fsinfo(const char *img, uint64_t *entries)
{
    xvm_mount *mp;
    struct span t = { -1, -1 };
    *entries = 0;
    xvm_machine *m = mounted(img, 0, &mp);
    if (m == NULL)
        return t;
    if (mp) {
        struct span t0 = tm_now(false);
        if (xvm_fsinfo(mp, count, entries) == 0)
            t = tm_per(t0, false, 1);
    }
    xvm_machine_destroy(m);
    return t;
}

/* n processes (a spawn, then forks of it): the machine's destruction. */
static struct span teardown(const char *img, uint32_t n)
{
    xvm_mount *mp;
    struct span t = { -1, -1 };
    xvm_machine *m = mounted(img, UINT64_C(8) << 30, &mp);
    if (m == NULL)
        return t;
    if (mp && xvm_spawn(m, mp, 1, "/bin/busybox", 0, NULL) == 0) {
        uint32_t i;
        for (i = 2; i <= n && xvm_fork(m, 1, i) == 0; i++)
            ;
        if (i > n) {
            struct span t0 = tm_now(false);
            xvm_machine_destroy(m);
            return tm_per(t0, false, 1);
        }
    }
    xvm_machine_destroy(m);
    return t;
}

static void ms_row(struct table *t, struct span v, const char *name)
{
    struct row *r = table_row(t, "ms", "%s", name);
    r->cpu = v.cpu / 1e6;
    r->wall = v.wall / 1e6;
}

int bench_corners(const struct bench_opts *o, struct table *t)
{
    char img[600], path[600], links[600];
    unsigned runs = o->runs > 3 ? 3 : o->runs;
    struct span v, w;
    struct row *r;
    int status;
    if (bench_busybox_image(o->workdir, "corners", img, sizeof(img)) != 0)
        return EIO;
    /* Anywhere-mappings: flat per line. */
    snprintf(path, sizeof(path), "%s/mmaps.trace", o->workdir);
    MEDIAN_TM(v, runs, mmaps(img, path, 10000));
    MEDIAN_TM(w, runs, mmaps(img, path, 40000));
    r = table_row(t, "ns", "`mmap 1 0 4096` x 10,000, per line");
    r->cpu = v.cpu, r->wall = v.wall;
    r = table_row(t, "ns", "`mmap 1 0 4096` x 40,000, per line");
    r->cpu = w.cpu, r->wall = w.wall;
    snprintf(r->target, sizeof(r->target), "flat (<= 2x 10,000)");
    row_verdict(r, w.cpu <= 2 * v.cpu, "%.1fx", w.cpu / v.cpu);
    /* A million marks: an error at mark 4097, quickly, in little memory. */
    snprintf(path, sizeof(path), "%s/marks.trace.gz", o->workdir);
    if (million_marks(path) != 0)
        return EIO;
    uint64_t rss0 = rss_bytes();
    v = replay(img, path, &status);
    r = table_row(t, "ms", "a million marks (.gz): refused at the 4,097th");
    r->cpu = v.cpu / 1e6, r->wall = v.wall / 1e6;
    snprintf(r->target, sizeof(r->target), "an error, < 100 MB");
    row_verdict(r, status != 0 && rss_bytes() - rss0 < (100u << 20),
                "%.1f MB more RSS", (double)(rss_bytes() - rss0) / 1e6);
    /* fsinfo: 65,000 links to one sparse file. */
    unsigned nlinks = o->quick ? 10000 : 65000;
    uint64_t entries = 0;
    if (links_image(o->workdir, nlinks, links, sizeof(links)) != 0)
        return EIO;
    MEDIAN_TM(v, runs, fsinfo(links, &entries));
    char name[80];
    snprintf(name, sizeof(name), "fsinfo, %u hard links to a sparse file",
             nlinks);
    ms_row(t, v, name);
    r = &t->rows[t->n - 1];
    snprintf(r->target, sizeof(r->target), "linear (was 62 s)");
    row_verdict(r, v.cpu < 5e9 && entries == nlinks + 1, "%llu entries",
                (unsigned long long)entries);
    /* Teardown: linear in processes. */
    uint32_t big = o->quick ? 20000 : 100000;
    MEDIAN_TM(v, runs, teardown(img, big / 10));
    MEDIAN_TM(w, runs, teardown(img, big));
    snprintf(name, sizeof(name), "machine teardown, %u processes", big / 10);
    ms_row(t, v, name);
    snprintf(name, sizeof(name), "machine teardown, %u processes", big);
    ms_row(t, w, name);
    r = &t->rows[t->n - 1];
    snprintf(r->target, sizeof(r->target), "linear (~10x)");
    row_verdict(r, w.cpu <= 20 * v.cpu, "%.1fx", w.cpu / v.cpu);
    return 0;
}
