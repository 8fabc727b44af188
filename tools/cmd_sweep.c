/*
 * xipvm sweep: traces over a grid of parameters (RAM sizes, modes,
 * machines, read-ahead, fault-ahead, swap, buffers), one replay per point,
 * and what the grid says: results.csv, results.json, a chart of each
 * metric against RAM, and the smallest RAM each mode needs.
 *
 * A job is one point of the grid: one trace, one setting of every axis.
 * Jobs are numbered in a fixed order (RAM varies fastest), each writes
 * DIR/jobs/NNNNNN.csv (a header and its row) and nothing else, so they
 * can run anywhere: here on local cores (--jobs N), under GNU parallel
 * (--emit-jobs FILE: one self-contained command per line), or as a Slurm
 * array (--slurm FILE).  --merge DIR then collects what they wrote; a
 * local sweep merges by itself.  There is no scheduler here: the local
 * pool only keeps N children busy.
 */
#define _DEFAULT_SOURCE /* realpath */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "sweep.h"

static const struct cli_opt sweep_opts[] = {
    { "--image", "IMG", NULL, "the FFS image on emulated NOR flash; required" },
    { "--out", "DIR", NULL,
      "where the jobs and the results go; required (but with --merge)" },
    { "-o", "DIR", NULL, "the same as --out" },
    { "--ram", "A:B|LIST", "64M",
      "RAM sizes: A:B doubles from A, ending at B, or a comma-separated list" },
    { "--mode", "LIST", "xip,copy", "mount modes: xip, copy" },
    { "--machine", "LIST", "sgimips", "profiles: sgimips, amd64" },
    { "--readahead", "LIST", "4", "read-ahead pages, 0 to 64 each" },
    { "--fault-ahead", "LIST", "uvm",
      "fault-ahead pages on each side, or uvm (UVM's table)" },
    { "--swap", "LIST", "0", "swap sizes (0: none), whole 4 KiB pages" },
    { "--buffers", "LIST", "16", "metadata buffer pages, 0 to 65536" },
    { "--device", "LIST", "nor",
      "where the image lives: nor (NOR flash), md (a memory disk in RAM)" },
    { "--max-slowdown", "P", NULL,
      "report the smallest RAM each mode needs to stay within P % of its "
      "time with the largest RAM" },
    { "--jobs", "N", "all local cores", "run N jobs at a time here" },
    { "--emit-jobs", "FILE", NULL,
      "write one command per job to FILE (for GNU parallel) instead" },
    { "--slurm", "FILE", NULL, "write a Slurm array script to FILE instead" },
    { "--merge", "DIR", NULL,
      "collect what the jobs wrote in DIR into the results" },
    { "--job", "N", NULL, "run job N of the grid only (emitted job lines)" },
    CLI_CPU_OPTS,
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd sweep_cmd = {
    .name = "sweep",
    .synopsis = "--image IMG --out DIR [OPTIONS] TRACE... | --merge DIR "
                "[--max-slowdown P]",
    .summary = "replay traces over a grid of RAM sizes and settings: the RAM "
               "each mode needs",
    .opts = sweep_opts,
    .details =
        "Each job is one trace at one point of the grid (RAM varies "
        "fastest).  Writes\nDIR/results.csv, DIR/results.json and "
        "DIR/<metric>.svg; --jobs, --emit-jobs,\n--slurm and --job exclude "
        "each other.  Time is time_ns, the CPU model's estimate\n"
        "(doc/time-model.md); the CPU options apply to every job.  See\n"
        "doc/sizing.md.  Exit status: 0, 1 when a job or the merge failed, 2\n"
        "for a usage error.\n",
    .fn = cmd_sweep,
};

/* ---- the grid ---- */

static void grid_init(struct grid *g)
{
    memset(g, 0, sizeof(*g));
    g->job = -1;
    g->max_slowdown = -1;
    g->cpu.superpages = -1;
}

/* Values of an axis: comma-separated; parse one with fn. */
static int list(const char *opt, const char *s, unsigned *n, void *vals,
                size_t size, unsigned max,
                int (*fn)(const char *tok, void *out))
{
    char buf[4096], *save = NULL;
    if (strlen(s) >= sizeof(buf)) {
        fprintf(stderr, "xipvm: %s: list too long\n", opt);
        return 2;
    }
    snprintf(buf, sizeof(buf), "%s", s);
    *n = 0;
    for (char *t = strtok_r(buf, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (*n == max) {
            fprintf(stderr, "xipvm: %s: more than %u values\n", opt, max);
            return 2;
        }
        if (fn(t, (char *)vals + *n * size) != 0) {
            fprintf(stderr, "xipvm: %s: bad value '%s'\n", opt, t);
            return 2;
        }
        (*n)++;
    }
    if (*n == 0) {
        fprintf(stderr, "xipvm: %s: no value\n", opt);
        return 2;
    }
    return 0;
}

/* An axis into its array, no more values than it holds (--mode and
 * --device hold two). */
#define LIST(opt, s, n, arr, fn)                                               \
    list(opt, s, n, arr, sizeof((arr)[0]),                                     \
         (unsigned)(sizeof(arr) / sizeof((arr)[0])), fn)

static int tok_size(const char *t, void *out)
{
    uint64_t v;
    if (parse_size(t, &v) || (v & 4095))
        return -1;
    *(uint64_t *)out = v;
    return 0;
}

static int tok_ram(const char *t, void *out)
{
    return tok_size(t, out) || *(uint64_t *)out == 0 ? -1 : 0;
}

static int tok_pages(const char *t, void *out)
{
    uint64_t v;
    if (parse_uint(t, 64, &v))
        return -1;
    *(int *)out = (int)v;
    return 0;
}

static int tok_fault_ahead(const char *t, void *out)
{
    if (strcmp(t, "uvm") == 0) {
        *(int *)out = -1;
        return 0;
    }
    return tok_pages(t, out);
}

static int tok_buffers(const char *t, void *out)
{
    uint64_t v;
    if (parse_uint(t, 65536, &v))
        return -1;
    *(int *)out = (int)v;
    return 0;
}

static int tok_mode(const char *t, void *out)
{
    if (strcmp(t, "xip") != 0 && strcmp(t, "copy") != 0)
        return -1;
    *(int *)out = t[0] == 'x';
    return 0;
}

static int tok_device(const char *t, void *out)
{
    return parse_device(t, out);
}

static int tok_machine(const char *t, void *out)
{
    static const char *const known[] = { "sgimips", "amd64" };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(t, known[i]) == 0) {
            *(const char **)out = known[i];
            return 0;
        }
    return -1;
}

/* --ram A:B: A, 2A, 4A, ... below B, then B itself (the end a user
 * names is a size they want to see, doubling lands on it or not). */
static int ram_axis(const char *s, struct grid *g)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL)
        return LIST("--ram", s, &g->nram, g->ram, tok_ram);
    char lo[64];
    uint64_t a = 0, b = 0;
    size_t n = (size_t)(colon - s);
    const char *bad = NULL;
    if (n < sizeof(lo)) {
        memcpy(lo, s, n);
        lo[n] = '\0';
    }
    if (n >= sizeof(lo) || tok_ram(lo, &a))
        bad = "A";
    else if (tok_ram(colon + 1, &b))
        bad = "B";
    if (bad) { /* not "A > B": say which end is wrong */
        fprintf(stderr,
                "xipvm: --ram %s: %s is not a RAM size (whole 4 KiB pages, "
                "not 0)\n",
                s, bad);
        return 2;
    }
    if (a > b) {
        fprintf(stderr, "xipvm: --ram: expected A:B with A <= B, got %s\n", s);
        return 2;
    }
    g->nram = 0;
    for (uint64_t r = a; r < b && g->nram < GRID_MAX - 1; r *= 2) {
        g->ram[g->nram++] = r;
        if (r > UINT64_MAX / 2)
            break;
    }
    g->ram[g->nram++] = b;
    return 0;
}

/* An absolute path: jobs may run anywhere. */
static int absolute(const char *path, char **out)
{
    char *r = realpath(path, NULL);
    if (r == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        return 1;
    }
    *out = r;
    return 0;
}

int grid_parse(int argc, char **argv, struct grid *g)
{
    struct cli_args args = { &sweep_cmd, argc, 1, argv, false };
    const struct cli_opt *opt;
    const char *v;
    int kind;
    grid_init(g);
    while ((kind = cli_next(&args, &opt, &v)) != CLI_END) {
        int rc = 0;
        if (kind == CLI_ERR)
            return 2;
        if (kind == CLI_ARG) {
            if (g->ntraces == GRID_MAX) {
                fprintf(stderr, "xipvm: more than %d traces\n", GRID_MAX);
                return 2;
            }
            g->traces[g->ntraces++] = (char *)v;
            continue;
        }
        const char *a = opt->name;
        if (strcmp(a, "--image") == 0)
            g->image = (char *)v;
        else if (strcmp(a, "--out") == 0 || strcmp(a, "-o") == 0)
            g->out = (char *)v;
        else if (strcmp(a, "--ram") == 0)
            rc = ram_axis(v, g);
        else if (strcmp(a, "--mode") == 0)
            rc = LIST(a, v, &g->nmode, g->mode, tok_mode);
        else if (strcmp(a, "--machine") == 0)
            rc = LIST(a, v, &g->nmachine, g->machine, tok_machine);
        else if (strcmp(a, "--readahead") == 0)
            rc = LIST(a, v, &g->nreadahead, g->readahead, tok_pages);
        else if (strcmp(a, "--fault-ahead") == 0)
            rc = LIST(a, v, &g->nfault_ahead, g->fault_ahead, tok_fault_ahead);
        else if (strcmp(a, "--swap") == 0)
            rc = LIST(a, v, &g->nswap, g->swap, tok_size);
        else if (strcmp(a, "--device") == 0)
            rc = LIST(a, v, &g->ndevice, g->device, tok_device);
        else if (strcmp(a, "--buffers") == 0)
            rc = LIST(a, v, &g->nbuffers, g->buffers, tok_buffers);
        else if (strcmp(a, "--max-slowdown") == 0) {
            char *end;
            errno = 0;
            g->max_slowdown = strtod(v, &end);
            if (errno || *end || !(g->max_slowdown >= 0) ||
                g->max_slowdown > 1e6) {
                fprintf(stderr,
                        "xipvm: --max-slowdown: expected a percentage, "
                        "got %s\n",
                        v);
                return 2;
            }
        } else if (strcmp(a, "--jobs") == 0) {
            uint64_t n;
            if (parse_uint(v, 4096, &n) || n == 0) {
                fprintf(stderr, "xipvm: --jobs: expected 1 to 4096, got %s\n",
                        v);
                return 2;
            }
            g->jobs = (unsigned)n;
        } else if (strcmp(a, "--emit-jobs") == 0)
            g->emit = (char *)v;
        else if (strcmp(a, "--slurm") == 0)
            g->slurm = (char *)v;
        else if (strcmp(a, "--merge") == 0)
            g->merge = (char *)v;
        else if (strcmp(a, "--job") == 0) {
            uint64_t n;
            if (parse_uint(v, UINT32_MAX, &n)) {
                fprintf(stderr, "xipvm: --job: not a job number: %s\n", v);
                return 2;
            }
            g->job = (long)n;
        } else if (parse_cpu_opt(a, v, &g->cpu) == 0) {
            fprintf(stderr, "xipvm: unknown option %s\n", a);
            return 2;
        }
        if (rc)
            return rc;
    }
    if (g->merge) {
        if (g->image || g->ntraces || g->emit || g->slurm || g->job >= 0 ||
            g->cpu.cpu || g->cpu.geom[0] || g->cpu.geom[1] || g->cpu.geom[2] ||
            g->cpu.no_cache || g->cpu.superpages >= 0) {
            fprintf(stderr, "xipvm: --merge DIR takes only --max-slowdown\n");
            return 2;
        }
        return 0;
    }
    if (g->image == NULL || g->out == NULL || g->ntraces == 0) {
        fprintf(stderr, "xipvm: sweep needs --image IMG, --out DIR and at "
                        "least one TRACE\n");
        return 2;
    }
    if ((g->emit != NULL) + (g->slurm != NULL) + (g->jobs != 0) +
            (g->job >= 0) >
        1) {
        fprintf(stderr, "xipvm: --jobs, --emit-jobs, --slurm and --job "
                        "exclude each other\n");
        return 2;
    }
    /* Defaults: both modes, the default machine and settings, 64 MiB. */
    if (g->nram == 0)
        g->ram[g->nram++] = UINT64_C(64) << 20;
    if (g->nmode == 0) {
        g->mode[0] = 1, g->mode[1] = 0;
        g->nmode = 2;
    }
    if (g->nmachine == 0)
        g->machine[g->nmachine++] = "sgimips";
    if (g->nreadahead == 0)
        g->readahead[g->nreadahead++] = -1;
    if (g->nfault_ahead == 0)
        g->fault_ahead[g->nfault_ahead++] = -1;
    if (g->nswap == 0)
        g->swap[g->nswap++] = 0;
    if (g->nbuffers == 0)
        g->buffers[g->nbuffers++] = -1;
    if (g->ndevice == 0)
        g->device[g->ndevice++] = XVM_DEVICE_NOR;
    uint64_t n = g->ntraces;
    n *= g->nmachine * g->nmode * g->nswap * g->ndevice;
    n *= g->nreadahead * g->nfault_ahead * g->nbuffers;
    n *= g->nram;
    if (n > 1000000) {
        fprintf(stderr, "xipvm: sweep: %llu jobs is too many\n",
                (unsigned long long)n);
        return 2;
    }
    g->njobs = (unsigned)n;
    /* Every RAM on every machine, before any job runs: one out of range
     * would fail its jobs and leave the sweep without results. */
    for (unsigned k = 0; k < g->nmachine; k++) {
        for (unsigned r = 0; r < g->nram; r++)
            if (world_ram_ok(g->machine[k], g->ram[r]))
                return 2;
        for (unsigned s = 0; s < g->nswap; s++)
            if (world_swap_ok(g->machine[k], g->swap[s]))
                return 2;
    }
    /* The CPU options, checked once for every job (on each machine). */
    for (unsigned k = 0; k < g->nmachine; k++) {
        xvm_cpu_profile *p;
        g->cpu.machine = g->machine[k];
        int rc = cpu_profile_of(&g->cpu, &p);
        if (rc)
            return rc;
        xvm_cpu_profile_destroy(p);
    }
    /* A profile file, by an absolute path as the image (jobs run from
     * anywhere), even one named like a built-in; a built-in's name stays. */
    if (g->cpu.cpu && cpu_is_file(g->cpu.cpu)) {
        if (absolute(g->cpu.cpu, &g->cpu_file))
            return 1;
        g->cpu.cpu = g->cpu_file;
    }
    /* On a failure, what was made here goes: grid_free is not called. */
    if (absolute(g->image, &g->image)) {
        free(g->cpu_file);
        return 1;
    }
    for (unsigned t = 0; t < g->ntraces; t++)
        if (absolute(g->traces[t], &g->traces[t])) {
            while (t-- > 0)
                free(g->traces[t]);
            free(g->image);
            free(g->cpu_file);
            return 1;
        }
    return 0;
}

void grid_free(struct grid *g)
{
    if (g->merge)
        return;
    free(g->image);
    free(g->cpu_file);
    for (unsigned t = 0; t < g->ntraces; t++)
        free(g->traces[t]);
    free(g->outabs);
}

/* Job i's point: RAM fastest, then buffers, fault-ahead, read-ahead,
 * swap, device, mode, machine, trace. */
void grid_point(const struct grid *g, unsigned i, struct run_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->image = g->image;
    o->ram = g->ram[i % g->nram], i /= g->nram;
    o->buffers = g->buffers[i % g->nbuffers], i /= g->nbuffers;
    o->fault_ahead = g->fault_ahead[i % g->nfault_ahead], i /= g->nfault_ahead;
    o->readahead = g->readahead[i % g->nreadahead], i /= g->nreadahead;
    o->swap = g->swap[i % g->nswap], i /= g->nswap;
    o->device = g->device[i % g->ndevice], i /= g->ndevice;
    o->xip = g->mode[i % g->nmode], i /= g->nmode;
    o->machine = g->machine[i % g->nmachine], i /= g->nmachine;
    o->trace = g->traces[i];
    o->quiet = true;
    o->slice = RUN_SLICE; /* as the parameters record it */
    o->cpu = g->cpu.cpu;
    cpu_hash_of(o);
    memcpy(o->geom, g->cpu.geom, sizeof(o->geom));
    o->no_cache = g->cpu.no_cache;
    o->superpages = g->cpu.superpages;
}

/* ---- running jobs ---- */

static int job_path(char *buf, size_t len, const char *dir, unsigned i,
                    const char *ext)
{
    int n = snprintf(buf, len, "%s/jobs/%06u.csv%s", dir, i, ext);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int make_dirs(const char *dir)
{
    char path[PATH_MAX];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    if (snprintf(path, sizeof(path), "%s/jobs", dir) >= (int)sizeof(path))
        return -1;
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Runs job i; its row lands in DIR/jobs/ whole or not at all. */
static int run_job(const struct grid *g, unsigned i)
{
    struct run_opts o;
    struct run_result r;
    char path[PATH_MAX], tmp[PATH_MAX];
    grid_point(g, i, &o);
    if (job_path(path, sizeof(path), g->out, i, "") ||
        job_path(tmp, sizeof(tmp), g->out, i, ".tmp")) {
        fprintf(stderr, "xipvm: %s: path too long\n", g->out);
        return 1;
    }
    /* A memory disk larger than the point's RAM: a row that does not fit. */
    int rc = replay_file(&o, o.xip, &r);
    if (rc != 0 && rc != WORLD_NO_ROOM)
        return 1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", tmp, strerror(errno));
        run_result_free(&r);
        return 1;
    }
    csv_header(f);
    csv_row(f, &o, o.xip, &r);
    run_result_free(&r);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

/* Keeps up to n children running jobs; => the jobs that failed. */
static unsigned run_local(const struct grid *g, unsigned n)
{
    unsigned next = 0, running = 0, failed = 0, done = 0;
    bool progress = isatty(STDERR_FILENO);
    while (next < g->njobs || running > 0) {
        while (running < n && next < g->njobs) {
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0)
                _exit(run_job(g, next) ? 1 : 0);
            if (pid < 0) {
                if (running == 0) {
                    fprintf(stderr, "xipvm: fork: %s\n", strerror(errno));
                    return g->njobs - next + failed;
                }
                break; /* wait for one, then try again */
            }
            running++;
            next++;
        }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        running--;
        done++;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
        if (progress)
            fprintf(stderr, "\rsweep: %u of %u jobs done ", done, g->njobs);
    }
    if (progress)
        fprintf(stderr, "\r%40s\r", "");
    return failed;
}

/* Removes the rows of an earlier sweep into the same directory. */
static void clear_jobs(const struct grid *g)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/jobs", g->out);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        unsigned i;
        char tail[8];
        if (sscanf(e->d_name, "%u.csv%7s", &i, tail) == 1 &&
            strlen(e->d_name) == 10 &&
            job_path(path, sizeof(path), g->out, i, "") == 0)
            unlink(path);
    }
    closedir(d);
}

/* ---- emitting jobs for GNU parallel and Slurm ---- */

/* Shell-quotes s: 'a'\''b'. */
static void shq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* The grid as options, canonical (absolute paths, every axis): what a job
 * needs to find its point, and what the results record. */
static void grid_args(FILE *f, const struct grid *g)
{
    fputs(" --image ", f);
    shq(f, g->image);
    fputs(" --out ", f);
    shq(f, g->outabs);
    fputs(" --ram ", f);
    for (unsigned k = 0; k < g->nram; k++)
        fprintf(f, "%s%llu", k ? "," : "", (unsigned long long)g->ram[k]);
    fputs(" --mode ", f);
    for (unsigned k = 0; k < g->nmode; k++)
        fprintf(f, "%s%s", k ? "," : "", g->mode[k] ? "xip" : "copy");
    fputs(" --machine ", f);
    for (unsigned k = 0; k < g->nmachine; k++)
        fprintf(f, "%s%s", k ? "," : "", g->machine[k]);
    fputs(" --swap ", f);
    for (unsigned k = 0; k < g->nswap; k++)
        fprintf(f, "%s%llu", k ? "," : "", (unsigned long long)g->swap[k]);
    struct run_opts def;
    memset(&def, 0, sizeof(def));
    def.readahead = def.buffers = -1;
    fputs(" --readahead ", f);
    for (unsigned k = 0; k < g->nreadahead; k++) {
        def.readahead = g->readahead[k];
        fprintf(f, "%s%d", k ? "," : "", run_readahead(&def));
    }
    fputs(" --fault-ahead ", f);
    for (unsigned k = 0; k < g->nfault_ahead; k++) {
        if (g->fault_ahead[k] < 0)
            fprintf(f, "%suvm", k ? "," : "");
        else
            fprintf(f, "%s%d", k ? "," : "", g->fault_ahead[k]);
    }
    fputs(" --buffers ", f);
    for (unsigned k = 0; k < g->nbuffers; k++) {
        def.buffers = g->buffers[k];
        fprintf(f, "%s%d", k ? "," : "", run_buffers(&def));
    }
    fputs(" --device ", f);
    for (unsigned k = 0; k < g->ndevice; k++)
        fprintf(f, "%s%s", k ? "," : "", device_name(g->device[k]));
    if (g->max_slowdown >= 0)
        fprintf(f, " --max-slowdown %g", g->max_slowdown);
    if (g->cpu.cpu) {
        fputs(" --cpu ", f);
        shq(f, g->cpu.cpu);
    }
    static const char *const geo[3] = { " --I1 ", " --D1 ", " --LL " };
    for (int k = 0; k < 3; k++)
        if (g->cpu.geom[k]) {
            fputs(geo[k], f);
            shq(f, g->cpu.geom[k]);
        }
    if (g->cpu.no_cache)
        fputs(" --no-cache", f);
    if (g->cpu.superpages >= 0)
        fputs(g->cpu.superpages ? " --superpages" : " --no-superpages", f);
    for (unsigned t = 0; t < g->ntraces; t++) {
        fputc(' ', f);
        shq(f, g->traces[t]);
    }
}

/* This program, by an absolute path (the jobs run it from anywhere). */
static int self_path(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* => path opened for writing the jobs' commands, and this program's
 * path in self; NULL after saying why. */
static FILE *open_jobs(const char *path, char *self, size_t len)
{
    if (self_path(self, len) != 0) {
        fprintf(stderr, "xipvm: cannot find my own path\n");
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
    return f;
}

static int emit_jobs(const struct grid *g)
{
    char self[PATH_MAX];
    FILE *f = open_jobs(g->emit, self, sizeof(self));
    if (f == NULL)
        return 1;
    for (unsigned i = 0; i < g->njobs; i++) {
        shq(f, self);
        fprintf(f, " sweep --job %u", i);
        grid_args(f, g);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "xipvm: %s: write error\n", g->emit);
        return 1;
    }
    fprintf(stderr,
            "xipvm: %u jobs in %s: run them with GNU parallel (parallel < "
            "%s,\nor with --sshloginfile across hosts that see the same "
            "paths), then\nxipvm sweep --merge %s\n",
            g->njobs, g->emit, g->emit, g->outabs);
    return 0;
}

static int emit_slurm(const struct grid *g)
{
    char self[PATH_MAX];
    FILE *f = open_jobs(g->slurm, self, sizeof(self));
    if (f == NULL)
        return 1;
    fprintf(f,
            "#!/bin/sh\n"
            "# xipvm sweep: one array task per job; then: xipvm sweep "
            "--merge DIR\n"
            "#SBATCH --job-name=xipvm-sweep\n"
            "#SBATCH --array=0-%u\n"
            "#SBATCH --ntasks=1\n"
            "#SBATCH --output=%s/jobs/slurm-%%A_%%a.out\n"
            "exec ",
            g->njobs - 1, g->outabs);
    shq(f, self);
    fputs(" sweep --job \"$SLURM_ARRAY_TASK_ID\"", f);
    grid_args(f, g);
    fputc('\n', f);
    if (fclose(f) != 0) {
        fprintf(stderr, "xipvm: %s: write error\n", g->slurm);
        return 1;
    }
    chmod(g->slurm, 0755);
    fprintf(stderr,
            "xipvm: %u jobs as a Slurm array in %s: sbatch %s, then\n"
            "xipvm sweep --merge %s\n",
            g->njobs, g->slurm, g->slurm, g->outabs);
    return 0;
}

/* What merge needs to know of the grid besides the rows. */
static int write_conf(const struct grid *g)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sweep.args", g->outabs);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs("xipvm sweep", f);
    grid_args(f, g);
    /* The merge checks that every job wrote its row. */
    fprintf(f, "\n# %u jobs\n", g->njobs);
    if (fclose(f) != 0) {
        fprintf(stderr, "xipvm: %s: %s\n", path, strerror(errno));
        unlink(path);
        return 1;
    }
    return 0;
}

int cmd_sweep(int argc, char **argv)
{
    struct grid g;
    int rc = grid_parse(argc, argv, &g);
    if (rc) {
        if (rc == 2)
            cli_usage(stderr, &sweep_cmd);
        return rc;
    }
    if (g.merge) {
        rc = sweep_merge(g.merge, g.max_slowdown);
        grid_free(&g);
        return rc;
    }
    if (make_dirs(g.out) != 0 || (g.outabs = realpath(g.out, NULL)) == NULL) {
        fprintf(stderr, "xipvm: %s: %s\n", g.out, strerror(errno));
        grid_free(&g);
        return 1;
    }
    g.out = g.outabs;
    if (g.job >= 0) {
        if ((unsigned long)g.job >= g.njobs) {
            fprintf(stderr, "xipvm: --job %ld: the grid has %u jobs\n", g.job,
                    g.njobs);
            rc = 2;
        } else {
            rc = run_job(&g, (unsigned)g.job);
        }
        grid_free(&g);
        return rc;
    }
    clear_jobs(&g);
    rc = write_conf(&g);
    if (rc == 0 && g.emit)
        rc = emit_jobs(&g);
    else if (rc == 0 && g.slurm)
        rc = emit_slurm(&g);
    else if (rc == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned n = g.jobs ? g.jobs : cpus > 0 ? (unsigned)cpus : 1;
        unsigned failed = run_local(&g, n);
        if (failed) {
            fprintf(stderr, "xipvm: sweep: %u of %u jobs failed\n", failed,
                    g.njobs);
            rc = 1;
        } else {
            rc = sweep_merge(g.outabs, g.max_slowdown);
        }
    }
    grid_free(&g);
    return rc;
}
