/*
 * A whole process tree, recorded: a shell that forks a subshell and a
 * child that execs env, which execs true (all dynamically linked Debian
 * programs), under valgrind lackey at test time.  The per-process logs
 * are kept; the files the run used are copied into a root, made an image
 * by makefs, and the trace replayed with fault-ahead and read-ahead off.
 *
 * The expected per-file figures are computed here from the raw logs and
 * the ELF files alone (with this file's own reading of both): which file
 * page each access, mmap and read() of each process touched, plus exec's
 * own header read and bss page; how many address spaces mapped each file.
 * Then: several traces at once, and logs that are malformed or truncated.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "fstree.h"
#include "elfconv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lackey.h"
#include "xipvm_trace.h"

#define MAXFILES 256
#define MAXMAPS  1024
#define MAXFD    1024
#define MAXLOGS  64

/* ---------- the test's own reading of the logs ---------- */

struct tfile {
    char path[PATH_MAX]; /* realpath: the path in the image */
    uint64_t size, npages;
    uint8_t *pages; /* touched */
    unsigned procs; /* address spaces that mapped it */
};

struct tmap {
    uint64_t lo, hi;
    int file;
    uint64_t pg; /* file page at lo */
};

struct tstate {
    struct tmap m[MAXMAPS];
    int n;
    int fd[MAXFD]; /* file index; -1 none or not a file; -2 valgrind's */
    uint64_t pos[MAXFD];
    uint8_t mapped[MAXFILES];
};

struct tlog {
    char path[2 * PATH_MAX + 2];
    uint32_t pid;
    int fork_child, used;
};

struct ctx {
    struct tfile files[MAXFILES];
    int nfiles;
    struct tlog logs[MAXLOGS];
    int nlogs;
    char cwd[PATH_MAX];
};

static int file_index(struct ctx *c, const char *path)
{
    char real[PATH_MAX];
    struct stat sb;
    static const char *const virt[] = { "/proc/", "/sys/", "/dev/" };
    for (size_t i = 0; i < 3; i++)
        if (strncmp(path, virt[i], strlen(virt[i])) == 0)
            return -1;
    if (realpath(path, real) == NULL || stat(real, &sb) != 0 ||
        !S_ISREG(sb.st_mode))
        return -1;
    for (int i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].path, real) == 0)
            return i;
    assert_true(c->nfiles < MAXFILES);
    struct tfile *f = &c->files[c->nfiles];
    strcpy(f->path, real);
    f->size = (uint64_t)sb.st_size;
    f->npages = (f->size + PG - 1) / PG;
    f->pages = calloc(f->npages + 1, 1);
    assert_non_null(f->pages);
    return c->nfiles++;
}

static void touch(struct ctx *c, int file, uint64_t pg)
{
    if (file >= 0 && pg < c->files[file].npages)
        c->files[file].pages[pg] = 1;
}

static void map_remove(struct tstate *s, uint64_t lo, uint64_t hi)
{
    for (int i = 0; i < s->n; i++) {
        struct tmap *m = &s->m[i];
        if (m->hi <= lo || m->lo >= hi)
            continue;
        if (m->lo < lo && m->hi > hi) { /* split */
            assert_true(s->n < MAXMAPS);
            s->m[s->n] = *m;
            s->m[s->n].pg += (hi - m->lo) / PG;
            s->m[s->n].lo = hi;
            s->n++;
            m->hi = lo;
        } else if (m->lo < lo) {
            m->hi = lo;
        } else if (m->hi > hi) {
            m->pg += (hi - m->lo) / PG;
            m->lo = hi;
        } else {
            s->m[i--] = s->m[--s->n];
        }
    }
}

static void map_add(struct tstate *s, uint64_t lo, uint64_t hi, int file,
                    uint64_t pg)
{
    map_remove(s, lo, hi);
    if (file < 0 || hi <= lo)
        return;
    assert_true(s->n < MAXMAPS);
    s->m[s->n++] = (struct tmap){ lo, hi, file, pg };
    s->mapped[file] = 1;
}

static void access_pages(struct ctx *c, struct tstate *s, uint64_t a,
                         uint64_t n)
{
    for (uint64_t p = a & ~(uint64_t)(PG - 1); p < a + n; p += PG)
        for (int i = 0; i < s->n; i++)
            if (p >= s->m[i].lo && p < s->m[i].hi)
                touch(c, s->m[i].file, s->m[i].pg + (p - s->m[i].lo) / PG);
}

/* The log's lines, whole. */
static char **read_lines(const char *path, int *n)
{
    uint64_t size;
    char *buf = (char *)file_slurp(path, &size), **v = NULL;
    int cap = 0;
    buf[size] = '\0';
    *n = 0;
    for (char *p = buf; *p;) {
        char *nl = strchr(p, '\n');
        /* whole lines, but for the execve valgrind printed just before
         * it exec'd (the line's end would have been its result) */
        if (nl == NULL) {
            assert_non_null(strstr(p, " sys_execve "));
            nl = p + strlen(p);
        }
        int last = *nl == '\0';
        *nl = '\0';
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            v = realloc(v, (size_t)cap * sizeof(*v));
            assert_non_null(v);
        }
        v[(*n)++] = p;
        if (last)
            break;
        p = nl + 1;
    }
    if (v == NULL)
        free(buf);
    return v; /* v[0] is the buffer */
}

static uint64_t num(const char *s)
{
    return strtoull(s, NULL, 0);
}

/* A system call line's arguments: numbers, and the string after one. */
struct sc {
    char name[32];
    uint64_t a[6];
    int na;
    char str[PATH_MAX];
    int async, done, ok;
    uint64_t res;
};

static void parse_sc(const char *line, struct sc *sc)
{
    memset(sc, 0, sizeof(*sc));
    const char *p = strchr(line, ')') + 2; /* past "(NR) " */
    size_t k = strcspn(p, " ([");
    snprintf(sc->name, sizeof(sc->name), "%.*s", (int)k, p);
    const char *q = strchr(p, '(');
    if (q == NULL)
        return;
    for (q++; sc->na < 6;) {
        while (*q == ' ')
            q++;
        if (*q == ')' || *q == '\0')
            break;
        char *end;
        sc->a[sc->na++] = strtoull(q, &end, 0);
        q = end;
        if (*q == '(') {
            const char *e = strstr(q, "), ");
            const char *e2 = strstr(q, ") )");
            if (e == NULL || (e2 && e2 < e))
                e = e2;
            snprintf(sc->str, sizeof(sc->str), "%.*s", (int)(e - q - 1), q + 1);
            q = e + 1;
        }
        if (*q == ',')
            q++;
    }
    const char *r = strstr(line, "--> ");
    if (r == NULL)
        return;
    if (strstr(r, "[async]"))
        sc->async = 1;
    const char *v = strstr(r, "Success(");
    const char *f = strstr(r, "Failure(");
    if (v)
        sc->done = sc->ok = 1, sc->res = num(v + 8);
    else if (f)
        sc->done = 1, sc->res = num(f + 8);
}

static void do_syscall(struct ctx *c, struct tstate *s, const struct sc *sc)
{
    const char *n = sc->name;
    uint64_t fd = sc->a[0];
    if (!sc->ok)
        return;
    if (strcmp(n, "sys_openat") == 0 && sc->res < MAXFD) {
        char path[2 * PATH_MAX];
        if (sc->str[0] == '/')
            snprintf(path, sizeof(path), "%s", sc->str);
        else
            snprintf(path, sizeof(path), "%s/%s", c->cwd, sc->str);
        const char *base = strrchr(path, '/') + 1;
        s->fd[sc->res] =
            strncmp(base, "vgpreload_", 10) == 0 ? -2 : file_index(c, path);
        s->pos[sc->res] = 0;
    } else if (strcmp(n, "sys_close") == 0 && fd < MAXFD) {
        s->fd[fd] = -1;
    } else if ((strcmp(n, "sys_dup2") == 0 || strcmp(n, "sys_dup") == 0 ||
                (strcmp(n, "sys_fcntl") == 0 &&
                 (sc->a[1] == 0 || sc->a[1] == 1030))) &&
               fd < MAXFD && sc->res < MAXFD && sc->res != fd) {
        s->fd[sc->res] = s->fd[fd];
    } else if (strcmp(n, "sys_read") == 0 && fd < MAXFD && s->fd[fd] >= 0) {
        for (uint64_t o = s->pos[fd]; o < s->pos[fd] + sc->res; o += PG)
            touch(c, s->fd[fd], o / PG);
        if (sc->res)
            touch(c, s->fd[fd], (s->pos[fd] + sc->res - 1) / PG);
        s->pos[fd] += sc->res;
    } else if (strcmp(n, "sys_read") == 0 && fd < MAXFD) {
        s->pos[fd] += sc->res;
    } else if (strcmp(n, "sys_pread64") == 0 && fd < MAXFD && s->fd[fd] >= 0 &&
               sc->res > 0) {
        for (uint64_t o = sc->a[3]; o < sc->a[3] + sc->res; o += PG)
            touch(c, s->fd[fd], o / PG);
        touch(c, s->fd[fd], (sc->a[3] + sc->res - 1) / PG);
    } else if (strcmp(n, "sys_lseek") == 0 && fd < MAXFD) {
        s->pos[fd] = sc->res;
    } else if (strcmp(n, "sys_mmap") == 0) {
        uint64_t lo = sc->res, len = (sc->a[1] + PG - 1) & ~(uint64_t)(PG - 1);
        int64_t f = (int32_t)(uint32_t)sc->a[4];
        int file = f >= 0 && f < MAXFD && !(sc->a[3] & 0x20) ? s->fd[f] : -1;
        map_remove(s, lo, lo + len);
        if (file >= 0) {
            uint64_t pg = sc->a[5] / PG, np = c->files[file].npages;
            uint64_t fpages = np > pg ? np - pg : 0;
            uint64_t hi = lo + (fpages * PG < len ? fpages * PG : len);
            map_add(s, lo, hi, file, pg);
            s->mapped[file] = 1;
        }
    } else if (strcmp(n, "sys_munmap") == 0) {
        map_remove(s, sc->a[0], sc->a[0] + ((sc->a[1] + PG - 1) & ~(PG - 1)));
    } else if (strcmp(n, "sys_chdir") == 0 && sc->str[0] == '/') {
        snprintf(c->cwd, sizeof(c->cwd), "%s", sc->str);
    }
}

/* An ELF mapped as exec maps it, its header page and bss page touched. */
static void map_elf(struct ctx *c, struct tstate *s, int file,
                    const struct ec_elf *e, uint64_t bias)
{
    touch(c, file, 0);
    s->mapped[file] = 1;
    for (unsigned i = 0; i < e->phnum; i++) {
        const struct ec_phdr *h = &e->ph[i];
        if (h->type != EC_PT_LOAD || h->filesz == 0)
            continue;
        uint64_t lo = (h->vaddr + bias) & ~(uint64_t)(PG - 1);
        uint64_t fend = h->vaddr + bias + h->filesz;
        map_add(s, lo, (fend + PG - 1) & ~(uint64_t)(PG - 1), file,
                h->offset / PG);
        s->mapped[file] = 1;
        if ((h->flags & EC_PF_W) && h->memsz > h->filesz && fend % PG)
            touch(c, file, (h->offset + h->filesz) / PG);
    }
}

static void load_elf(const char *path, struct ec_elf *e, char *interp)
{
    uint64_t n;
    uint8_t *b = file_slurp(path, &n);
    assert_int_equal(ec_read(b, n, e), 0);
    interp[0] = '\0';
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == EC_PT_INTERP)
            snprintf(interp, PATH_MAX, "%s", (const char *)b + e->ph[i].offset);
    free(b);
}

static int in_elf(const struct ec_elf *e, uint64_t bias, uint64_t a)
{
    for (unsigned i = 0; i < e->phnum; i++)
        if (e->ph[i].type == EC_PT_LOAD && a >= e->ph[i].vaddr + bias &&
            a < e->ph[i].vaddr + bias + e->ph[i].memsz)
            return 1;
    return 0;
}

/* Where valgrind put program and interpreter: the interpreter's entry is
 * the first instruction, the program's the first outside it and mmaps. */
static void place(char **l, int n, const struct ec_elf *pe,
                  const struct ec_elf *ie, int dyn, uint64_t *pb, uint64_t *ib)
{
    uint64_t maps[256][2];
    int nm = 0, first = 1;
    *pb = *ib = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(l[i], "SYSCALL[", 8) == 0 && strstr(l[i], " sys_mmap ")) {
            struct sc sc;
            parse_sc(l[i], &sc);
            if (sc.ok && nm < 256) {
                maps[nm][0] = sc.res;
                maps[nm++][1] = sc.res + sc.a[1];
            }
        }
        if (strncmp(l[i], "I  ", 3) != 0)
            continue;
        uint64_t a = strtoull(l[i] + 3, NULL, 16);
        if (first) {
            first = 0;
            if (!dyn) {
                *pb = pe->type == 3 ? a - pe->entry : 0;
                return;
            }
            *ib = a - ie->entry;
            if (pe->type != 3)
                return;
            continue;
        }
        int inside = in_elf(ie, *ib, a);
        for (int k = 0; k < nm && !inside; k++)
            inside = a >= maps[k][0] && a < maps[k][1];
        if (!inside) {
            *pb = a - pe->entry;
            assert_int_equal(*pb % PG, 0);
            return;
        }
    }
    fail_msg("the program never started");
}

static struct tlog *next_log(struct ctx *c, uint32_t pid)
{
    for (int i = 0; i < c->nlogs; i++)
        if (!c->logs[i].used && c->logs[i].pid == pid) {
            c->logs[i].used = 1;
            return &c->logs[i];
        }
    return NULL;
}

/* One process image's log (or a forked child's, from its parent's state);
 * then what it exec'd. */
static void process(struct ctx *c, struct tlog *lg, struct tstate *s,
                    const char *prog)
{
    int n;
    char **l = read_lines(lg->path, &n), exec_path[PATH_MAX] = "";
    struct sc pending;
    int has_pending = 0, has_cont = 0;
    if (prog != NULL) {
        struct ec_elf pe, ie;
        char interp[PATH_MAX];
        uint64_t pb, ib;
        load_elf(prog, &pe, interp);
        if (interp[0])
            load_elf(interp, &ie, (char[PATH_MAX]){ 0 });
        place(l, n, &pe, &ie, interp[0] != 0, &pb, &ib);
        map_elf(c, s, file_index(c, prog), &pe, pb);
        if (interp[0])
            map_elf(c, s, file_index(c, interp), &ie, ib);
    }
    for (int i = 0; i < n; i++) {
        const char *x = l[i];
        if (strncmp(x, "I  ", 3) == 0 ||
            (x[0] == ' ' && strchr("LSM", x[1]) && x[2] == ' ')) {
            char *comma;
            uint64_t a = strtoull(x + 3, &comma, 16);
            access_pages(c, s, a, strtoull(comma + 1, NULL, 10));
            continue;
        }
        if (strncmp(x, " --> ", 5) == 0 && has_cont) {
            has_cont = 0; /* fork's result: nothing to do */
            continue;
        }
        if (strncmp(x, "SYSCALL[", 8) != 0)
            continue;
        struct sc sc;
        if (strstr(x, ") ... [async] --> ")) {
            if (has_pending) {
                parse_sc(x, &sc);
                pending.done = sc.done, pending.ok = sc.ok;
                pending.res = sc.res;
                do_syscall(c, s, &pending);
                has_pending = 0;
            }
            continue;
        }
        parse_sc(x, &sc);
        const char *child = strstr(x, "created child ");
        if (child) {
            struct tlog *cl = next_log(c, (uint32_t)num(child + 14));
            assert_non_null(cl);
            assert_true(cl->fork_child);
            struct tstate *cs = malloc(sizeof(*cs));
            *cs = *s;
            memset(cs->mapped, 0, sizeof(cs->mapped));
            process(c, cl, cs, NULL);
            free(cs);
            has_cont = 1;
            continue;
        }
        if (strcmp(sc.name, "sys_execve") == 0 && !sc.done) {
            snprintf(exec_path, sizeof(exec_path), "%s", sc.str);
            break; /* the image ends here */
        }
        if (sc.async)
            pending = sc, has_pending = 1;
        else
            do_syscall(c, s, &sc);
    }
    for (int f = 0; f < c->nfiles; f++)
        c->files[f].procs += s->mapped[f];
    free(l[0]);
    free(l);
    if (exec_path[0]) {
        struct tstate *ns = calloc(1, sizeof(*ns));
        memcpy(ns->fd, s->fd, sizeof(ns->fd)); /* files stay open */
        memcpy(ns->pos, s->pos, sizeof(ns->pos));
        struct tlog *next = next_log(c, lg->pid);
        assert_non_null(next);
        process(c, next, ns, exec_path);
        free(ns);
    }
}

/* Every log of dir, in name order, with its pid and kind. */
static void index_logs(struct ctx *c, const char *dir)
{
    char cmd[PATH_MAX + 64], line[PATH_MAX];
    snprintf(cmd, sizeof(cmd), "ls '%s' | sort", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        assert_true(c->nlogs < MAXLOGS);
        struct tlog *lg = &c->logs[c->nlogs++];
        snprintf(lg->path, sizeof(lg->path), "%s/%s", dir, line);
        FILE *f = fopen(lg->path, "r");
        char l[4096];
        assert_non_null(f);
        while (fgets(l, sizeof(l), f)) {
            if (l[0] == '=' && l[1] == '=') {
                lg->pid = (uint32_t)strtoul(l + 2, NULL, 10);
                continue;
            }
            if (strncmp(l, "--", 2) == 0)
                continue;
            lg->fork_child = strncmp(l, " --> ", 5) == 0;
            break;
        }
        fclose(f);
    }
    pclose(p);
}

/* ---------- the fixture ---------- */

struct fixture {
    char *dir;
    char logs[PATH_MAX + 8], root[PATH_MAX + 8], trace[PATH_MAX + 16],
        img[PATH_MAX + 8];
    struct lackey_stats st;
    struct ctx *c;
};

static int group_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    char err[1024];
    int status = 0;
    /* a fork that does not exec, a fork that execs, an exec chain */
    const char *argv[] = { "/bin/sh", "-c",
                           "(true); /usr/bin/env /usr/bin/true", NULL };
    struct lackey_opts o = { .pid = 1, .quiet = 1 };
    fx->dir = tree_new();
    snprintf(fx->logs, sizeof(fx->logs), "%s/logs", fx->dir);
    snprintf(fx->root, sizeof(fx->root), "%s/root", fx->dir);
    snprintf(fx->trace, sizeof(fx->trace), "%s/tree.trace", fx->dir);
    setenv("LC_ALL", "C", 1);
    if (lackey_collect(argv, fx->logs, &o, &status, err, sizeof(err)) != 0) {
        fprintf(stderr, "test_tree: %s\n", err);
        return -1;
    }
    FILE *out = fopen(fx->trace, "w");
    o.root_dir = fx->root;
    if (out == NULL ||
        lackey_import_dir(fx->logs, out, &o, &fx->st, err, sizeof(err)) != 0) {
        fprintf(stderr, "test_tree: %s\n", err);
        return -1;
    }
    fclose(out);
    snprintf(fx->img, sizeof(fx->img), "%s/img", fx->dir);
    image_make(fx->root, fx->img, 2, "little", 32768, 4096);
    /* the expectations, from the logs */
    fx->c = calloc(1, sizeof(*fx->c));
    assert_non_null(getcwd(fx->c->cwd, sizeof(fx->c->cwd)));
    index_logs(fx->c, fx->logs);
    struct tstate *s = calloc(1, sizeof(*s));
    for (int i = 0; i < MAXFD; i++)
        s->fd[i] = -1;
    fx->c->logs[0].used = 1;
    process(fx->c, &fx->c->logs[0], s, "/bin/sh");
    free(s);
    for (int i = 0; i < fx->c->nlogs; i++)
        if (!fx->c->logs[i].used)
            fail_msg("log %s led to by no process", fx->c->logs[i].path);
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx == NULL)
        return 0;
    for (int i = 0; fx->c && i < fx->c->nfiles; i++)
        free(fx->c->files[i].pages);
    free(fx->c);
    tree_remove(fx->dir);
    free(fx);
    return 0;
}

/* ---------- replays ---------- */

struct reports {
    struct xvm_file_report r[MAXFILES];
    char paths[MAXFILES][PATH_MAX];
    int n;
};

static int keep(void *arg, const struct xvm_file_report *fr)
{
    struct reports *rs = arg;
    assert_true(rs->n < MAXFILES);
    rs->r[rs->n] = *fr;
    snprintf(rs->paths[rs->n], PATH_MAX, "%s", fr->path);
    rs->r[rs->n].path = rs->paths[rs->n];
    rs->n++;
    return 0;
}

static const struct xvm_file_report *find(const struct reports *rs,
                                          const char *path)
{
    for (int i = 0; i < rs->n; i++)
        if (strcmp(rs->paths[i], path) == 0)
            return &rs->r[i];
    return NULL;
}

/* Replays the trace ntimes at once, in slices of slice events. */
static void replay(struct tm_world *w, const char *trace, unsigned ntimes,
                   uint64_t slice, struct xvm_replay_totals *t)
{
    FILE *f[4];
    char line[1 << 16], msg[256];
    int mism, left = (int)ntimes;
    xvm_replay *r;
    assert_true(ntimes <= 4);
    assert_int_equal(xvm_replay_create(w->m, w->mp, &r), 0);
    assert_int_equal(xvm_replay_sources(r, ntimes), 0);
    for (unsigned k = 0; k < ntimes; k++)
        assert_non_null(f[k] = fopen(trace, "r"));
    while (left > 0)
        for (unsigned k = 0; k < ntimes; k++)
            for (uint64_t e = 0; f[k] != NULL && e < slice; e++) {
                if (fgets(line, sizeof(line), f[k]) == NULL) {
                    fclose(f[k]);
                    f[k] = NULL;
                    left--;
                    break;
                }
                line[strcspn(line, "\n")] = '\0';
                if (xvm_replay_line_from(r, k, line, &mism, msg, sizeof(msg)) !=
                    0)
                    fail_msg("%s", msg);
                if (mism)
                    fail_msg("mismatch: %s", msg);
            }
    xvm_replay_totals(r, t);
    xvm_replay_destroy(r);
}

static void test_tree_per_file_pages_match_the_raw_logs(void **state)
{
    struct fixture *fx = *state;
    const struct ctx *c = fx->c;
    /* what the run was: the shell, its subshell (a fork without exec),
     * env and the true it execs (the shell may exec env itself, as the
     * last command: then 2 processes) */
    assert_true(fx->st.procs >= 2);
    assert_int_equal(fx->st.execs, 2);
    assert_int_equal(fx->st.logs, (uint64_t)c->nlogs);
    for (int xip = 0; xip < 2; xip++) {
        struct tm_world w;
        struct xvm_replay_totals t;
        struct reports *rs = calloc(1, sizeof(*rs));
        tm_world_up(&w, "amd64", 64u << 20, 0, fx->img, xip, 0);
        replay(&w, fx->trace, 1, UINT64_MAX, &t);
        assert_int_equal(t.mismatches, 0);
        assert_int_equal(xvm_file_report(w.mp, keep, rs), 0);
        int checked = 0;
        for (int i = 0; i < c->nfiles; i++) {
            const struct tfile *tf = &c->files[i];
            uint64_t want = 0;
            for (uint64_t p = 0; p < tf->npages; p++)
                want += tf->pages[p];
            const struct xvm_file_report *fr = find(rs, tf->path);
            if (fr == NULL)
                fail_msg("%s: not in the image", tf->path);
            if (fr->pages_touched != want || fr->processes != tf->procs)
                fail_msg("%s %s: touched %llu, processes %llu; the logs say "
                         "%llu, %u",
                         xip ? "xip" : "copy", tf->path,
                         (unsigned long long)fr->pages_touched,
                         (unsigned long long)fr->processes,
                         (unsigned long long)want, tf->procs);
            if (xip)
                assert_int_equal(fr->pages_in_place + fr->pages_cached, want);
            else
                assert_true(fr->pages_cached == want &&
                            fr->pages_in_place == 0);
            assert_int_equal(fr->textrel, 0); /* Debian's are PIC */
            assert_int_equal(fr->text_pages_copied, 0);
            checked += want > 0;
        }
        /* and the image's other files were not touched at all */
        for (int i = 0; i < rs->n; i++) {
            int known = 0;
            for (int k = 0; k < c->nfiles && !known; k++)
                known = strcmp(c->files[k].path, rs->paths[i]) == 0;
            if (!known)
                assert_int_equal(rs->r[i].pages_touched, 0);
        }
        /* libc, ld.so, the shell, env, true at least */
        assert_true(checked >= 5);
        free(rs);
        tm_world_down(&w);
    }
}

/*
 * The same run three times at once: every file's pages are the same (the
 * page cache holds them once), the address spaces that mapped each and
 * the copies on write three times as many; events add up; the traces'
 * pids were renumbered apart (else the second spawn would fail).
 */
static void test_tree_several_traces_at_once_share_the_files(void **state)
{
    struct fixture *fx = *state;
    struct tm_world w1, w3;
    struct xvm_replay_totals t1, t3;
    struct reports *one = calloc(1, sizeof(*one)),
                   *three = calloc(1, sizeof(*three));
    tm_world_up(&w1, "sgimips", 64u << 20, 0, fx->img, 0, 0);
    replay(&w1, fx->trace, 1, UINT64_MAX, &t1);
    assert_int_equal(xvm_file_report(w1.mp, keep, one), 0);
    tm_world_up(&w3, "sgimips", 64u << 20, 0, fx->img, 0, 0);
    replay(&w3, fx->trace, 3, 5000, &t3);
    assert_int_equal(xvm_file_report(w3.mp, keep, three), 0);
    assert_int_equal(t3.events, 3 * t1.events);
    assert_int_equal(t3.mismatches, 0);
    assert_int_equal(one->n, three->n);
    for (int i = 0; i < one->n; i++) {
        const struct xvm_file_report *a = &one->r[i], *b = &three->r[i];
        assert_string_equal(one->paths[i], three->paths[i]);
        assert_int_equal(a->pages_touched, b->pages_touched);
        assert_int_equal(a->pages_cached, b->pages_cached);
        assert_int_equal(3 * a->processes, b->processes);
        assert_int_equal(3 * a->pages_copied, b->pages_copied);
    }
    /* interleaved: more RAM at once than one run needed */
    struct xvm_stats s1 = tm_stats(w1.m), s3 = tm_stats(w3.m);
    assert_true(s3.pages_peak[XVM_USE_ANON] > s1.pages_peak[XVM_USE_ANON]);
    free(one);
    free(three);
    tm_world_down(&w1);
    tm_world_down(&w3);
}

/* ---------- logs made by hand ---------- */

#define BB     "/bin/busybox"
#define PRE(p) "==" #p "== Command: " BB " true\n==" #p "== Parent PID: 1\n"
#define ENTRY  "I  0040ebf0,2\n" /* busybox's first instruction */
#define FORKED " --> [pre-success] Success(0x0) \n"
#define EXECVE "SYSCALL[100,1](59) sys_execve ( 0x1000(" BB "), 0x2, 0x3 )"
#define FORK101                                                                \
    "SYSCALL[100,1](58) sys_fork ( )   fork: process 100 "                     \
    "created child 101\n --> [pre-success] Success(0x65) \n"

/* Imports logs[0..n) (as 1.log, 2.log, ...) => the error, and the trace. */
static int import_logs(const char *const *logs, int n, char *err, size_t errlen,
                       char **trace)
{
    char *dir = tree_new(), path[PATH_MAX];
    size_t len = 0;
    struct lackey_opts o = { .pid = 1 };
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%d.log", dir, i + 1);
        file_spit(path, (const uint8_t *)logs[i], strlen(logs[i]));
    }
    FILE *out = open_memstream(trace, &len);
    assert_non_null(out);
    int r = lackey_import_dir(dir, out, &o, NULL, err, errlen);
    fclose(out);
    tree_remove(dir);
    return r;
}

static void expect_bad(const char *const *logs, int n, int want,
                       const char *msg)
{
    char err[1024], *trace = NULL;
    int r = import_logs(logs, n, err, sizeof(err), &trace);
    free(trace);
    if (r != want || strstr(err, msg) == NULL)
        fail_msg("error %d `%s', expected %d and `%s'", r, err, want, msg);
}

/* valgrind writes "Parent PID:" only when it traces children: without it
 * the next valgrind line ends the command (it used to swallow the log). */
static void test_tree_log_without_parent_pid_keeps_its_command(void **state)
{
    const char *logs[] = { "==100== Command: " BB " true\n==100== \n" ENTRY
                           "SYSCALL[100,1](231) exit_group( 0 ) --> "
                           "[pre-success] Success(0x0) \n" };
    char err[1024], *trace = NULL;
    (void)state;
    if (import_logs(logs, 1, err, sizeof(err), &trace) != 0)
        fail_msg("%s", err);
    assert_string_equal(trace, XVM_TRACE_HEADER "\n"
                                                "spawn 1 /bin/busybox true\n"
                                                "x 1 0x40ebf0 2\n"
                                                "exit 1\n");
    free(trace);
}

static void test_tree_logs_made_by_hand_interleave_by_the_rule(void **state)
{
    /* 100 forks 101, which execs busybox again; 100 waits for it */
    const char *logs[] = {
        PRE(100) ENTRY FORK101 "SYSCALL[100,1](61) sys_wait4 ( 4294967295, "
                               "0x4, 0, 0x0 ) --> [async] ... \n" ENTRY
                               "SYSCALL[100,1](231) exit_group( 0 ) --> "
                               "[pre-success] Success(0x0) \n",
        PRE(101) FORKED ENTRY "SYSCALL[101,1](59) sys_execve ( 0x1000(" BB
                              "), 0x2, 0x3 )",
        "==101== Command: " BB
        " echo two\\ words\n==101== Parent PID: 100\n" ENTRY,
    };
    char err[1024], *trace = NULL;
    (void)state;
    if (import_logs(logs, 3, err, sizeof(err), &trace) != 0)
        fail_msg("%s", err);
    /* the child runs from its fork to its exec, the parent on to its wait,
     * then the child to its end, then the parent */
    static const char want[] =
        XVM_TRACE_HEADER "\n"
                         "spawn 1 /bin/busybox true\n"
                         "x 1 0x40ebf0 2\n"
                         "fork 1 2\n"
                         "x 2 0x40ebf0 2\n"
                         "exec 2 /bin/busybox echo two\\x20words\n"
                         "x 2 0x40ebf0 2\n"
                         "exit 2\n"
                         "x 1 0x40ebf0 2\n"
                         "exit 1\n";
    assert_string_equal(trace, want);
    free(trace);
}

/* Imports one log of `./s.sh a`, a script in a new directory that is the
 * run's working directory, with --as as (or NULL) => the trace. */
static char *import_script(const char *as)
{
    char *dir = tree_new(), path[PATH_MAX], err[1024], *trace = NULL;
    static const char script[] = "#!" BB " sh -e\ntrue\n";
    static const char log[] = "==100== Command: ./s.sh a\n"
                              "==100== Parent PID: 1\n" ENTRY
                              "SYSCALL[100,1](231) exit_group( 0 ) --> "
                              "[pre-success] Success(0x0) \n";
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/s.sh", dir);
    file_spit(path, (const uint8_t *)script, sizeof(script) - 1);
    snprintf(path, sizeof(path), "%s/1.log", dir);
    file_spit(path, (const uint8_t *)log, sizeof(log) - 1);
    struct lackey_opts o = { .pid = 1, .cwd = dir, .path_in_image = as };
    FILE *out = open_memstream(&trace, &len);
    assert_non_null(out);
    int r = lackey_import_dir(dir, out, &o, NULL, err, sizeof(err));
    fclose(out);
    tree_remove(dir);
    if (r != 0)
        fail_msg("%s", err);
    return trace;
}

/*
 * A script run by a relative path (`./s.sh a`, as a shell runs it): its
 * #! interpreter runs with the script as execve was given it, the kernel's
 * argv[1] ("$0" reads ./s.sh), not the path made absolute.
 */
static void test_tree_script_keeps_its_path_as_execve_was_given(void **state)
{
    char *trace = import_script(NULL);
    (void)state;
    /* the rest of the #! line is one argument, as Linux passes it */
    if (strstr(trace, "\nspawn 1 " BB " sh\\x20-e ./s.sh a\n") == NULL)
        fail_msg("the trace has:\n%s", trace);
    free(trace);
}

/* --as names a script in the image: its interpreter still runs, given
 * that path (a spawn of the script itself is ENOEXEC in every replay). */
static void test_tree_script_as_names_the_script_not_the_program(void **state)
{
    char *trace = import_script("/etc/s.sh");
    (void)state;
    if (strstr(trace, "\nspawn 1 " BB " sh\\x20-e /etc/s.sh a\n") == NULL)
        fail_msg("the trace has:\n%s", trace);
    free(trace);
}

/*
 * One process's system calls, by hand, and the events they become: brk
 * moves the heap after exec's break; a file mmap is the file's pages and
 * anonymous memory past its last page, in a trace chunk; dup2, close,
 * lseek, read and pread64 follow the file; a read into memory no call
 * mapped (the stack) announces its chunk; mprotect, mremap (a munmap and
 * an mmap like the old one), munmap; valgrind's preload and its code are
 * left out.
 */
static void test_tree_system_calls_become_events(void **state)
{
    char *dir = tree_new(), path[PATH_MAX], log[8192], want[6 * PATH_MAX];
    char err[1024], *trace = NULL;
    (void)state;
    tree_file(dir, "data", 5000, 3); /* two pages, the second partly */
    tree_path(path, sizeof(path), dir, "data");
    snprintf(
        log, sizeof(log),
        PRE(100) ENTRY
        "SYSCALL[100,1](12) sys_brk ( 0x0 ) --> [pre-success] "
        "Success(0x5ed000) \n"
        "SYSCALL[100,1](12) sys_brk ( 0x5ef000 ) --> [pre-success] "
        "Success(0x5ef000) \n"
        " S 005ed010,8\n"
        "SYSCALL[100,1](257) sys_openat ( 4294967196, 0x1(%s), 524288 ) "
        "--> [async] ... \n"
        "SYSCALL[100,1](257) ... [async] --> Success(0x3) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 1, 2, 3, 0 ) --> "
        "[pre-success] Success(0x4835000) \n"
        " L 04835008,8\n"
        "SYSCALL[100,1](33) sys_dup2 ( 3, 7 )[sync] --> Success(0x7) \n"
        "SYSCALL[100,1](3) sys_close ( 3 )[sync] --> Success(0x0) \n"
        "SYSCALL[100,1](8) sys_lseek ( 7, 100, 0 )[sync] --> Success(0x64) \n"
        "SYSCALL[100,1](0) sys_read ( 7, 0x1ffefff000, 50 ) --> [async] ... \n"
        "SYSCALL[100,1](0) ... [async] --> Success(0x32) \n"
        "SYSCALL[100,1](17) sys_pread64 ( 7, 0x1ffefff100, 10, 4096 ) --> "
        "Success(0xa) \n"
        "SYSCALL[100,1](10) sys_mprotect ( 0x4835000, 4096, 3 )[sync] --> "
        "Success(0x0) \n"
        "SYSCALL[100,1](25) sys_mremap ( 0x4835000, 8192, 16384, 0x1 ) --> "
        "[pre-success] Success(0x4a00000) \n"
        "SYSCALL[100,1](11) sys_munmap ( 0x4a00000, 16384 )[sync] --> "
        "Success(0x0) \n"
        "SYSCALL[100,1](257) sys_openat ( 4294967196, "
        "0x1(/usr/libexec/valgrind/vgpreload_core-amd64-linux.so), 524288 "
        ") --> Success(0x4) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 5, 2, 4, 0 ) --> "
        "Success(0x4900000) \n"
        "I  04900010,4\n"
        "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n",
        path);
    /* busybox ends at 0x5ebb58: the break starts at 0x5ec000; the first
     * chunk goes at 0x40000000 (host 0x48xxxxx), the stack's next */
    snprintf(want, sizeof(want),
             XVM_TRACE_HEADER
             "\n"
             "spawn 1 /bin/busybox true\n"
             "x 1 0x40ebf0 2\n"
             "brk 1 0x5ee000\n"
             "w 1 0x5ec010 8\n"
             "mmap 1 0x40035000 8192 r-- private,fixed %s 0x0\n"
             "r 1 0x40035008 8\n"
             "mmap 1 0x40100000 1048576 rw- private,fixed\n"
             "pread 1 0x401ff000 50 %s 0x64\n"
             "pread 1 0x401ff100 10 %s 0x1000\n"
             "mprotect 1 0x40035000 4096 rw-\n"
             "munmap 1 0x40035000 4096\n"
             "munmap 1 0x40036000 4096\n"
             "mmap 1 0x40200000 8192 rw- private,fixed %s 0x0\n"
             "mmap 1 0x40202000 8192 rw- private,fixed\n"
             "munmap 1 0x40200000 16384\n"
             "exit 1\n",
             path, path, path, path);
    const char *logs[] = { log };
    struct lackey_stats st;
    char *ldir = tree_new(), lpath[PATH_MAX];
    size_t len = 0;
    struct lackey_opts o = { .pid = 1 };
    tree_path(lpath, sizeof(lpath), ldir, "1.log");
    file_spit(lpath, (const uint8_t *)logs[0], strlen(logs[0]));
    FILE *out = open_memstream(&trace, &len);
    if (lackey_import_dir(ldir, out, &o, &st, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    fclose(out);
    assert_string_equal(trace, want);
    assert_int_equal(st.dropped_bytes, 4);
    assert_int_equal(st.reads, 2);
    assert_int_equal(st.files, 2); /* busybox, data */
    free(trace);
    tree_remove(ldir);
    tree_remove(dir);
}

/*
 * A thread: valgrind prints clone's flags in hex without 0x, and ends the
 * clone's line only when the parent runs again, so the new thread's next
 * line is glued to it (an access, or a blocking call's completion), as
 * valgrind 3.19 wrote them for pthread_create.
 */
static void test_tree_threads_clone_and_glued_lines(void **state)
{
    const char *logs[] = {
        PRE(100) ENTRY
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) "
        "--> [pre-success] Success(0x4835000) \n"
        "SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x522bf70, 0x522c990, "
        "0x522c990, 0x522c6c0 ) --> [pre-success] Success(0x7028) "
        "I  0040ebf0,2\n"
        "SYSCALL[100,2](11) sys_munmap ( 0x4836000, 4096 ) --> [async] "
        "... \n"
        "SYSCALL[100,1](56) sys_clone ( 3d0f00, 0x5a2cf70, 0x5a2d990, "
        "0x5a2d990, 0x5a2d6c0 ) --> [pre-success] Success(0x7029) "
        "SYSCALL[100,2](11) ... [async] --> Success(0x0) \n"
        "\n"
        " S 04835008,8\n"
        "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n"
    };
    char err[1024], *trace = NULL;
    (void)state;
    if (import_logs(logs, 1, err, sizeof(err), &trace) != 0)
        fail_msg("%s", err);
    assert_string_equal(trace, XVM_TRACE_HEADER "\n"
                                                "spawn 1 /bin/busybox true\n"
                                                "x 1 0x40ebf0 2\n"
                                                "mmap 1 0x40035000 8192 rw- "
                                                "private,fixed\n"
                                                "x 1 0x40ebf0 2\n"
                                                "munmap 1 0x40036000 4096\n"
                                                "w 1 0x40035008 8\n"
                                                "exit 1\n");
    free(trace);
}

/*
 * madvise(MADV_DONTNEED) drops private pages: the range is mapped anew,
 * as it was (the heap too), so its pages are no longer counted and read
 * zeros again; MADV_FREE (8) keeps them, as the host did without memory
 * pressure.
 */
static void test_tree_madvise_dontneed_maps_the_range_anew(void **state)
{
    const char *logs[] = {
        PRE(100) ENTRY
        "SYSCALL[100,1](12) sys_brk ( 0x0 ) --> [pre-success] "
        "Success(0x5ed000) \n"
        "SYSCALL[100,1](12) sys_brk ( 0x5f0000 ) --> [pre-success] "
        "Success(0x5f0000) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 12288, 3, 34, 4294967295, 0 ) "
        "--> [pre-success] Success(0x4835000) \n"
        " S 04835008,8\n"
        "SYSCALL[100,1](28) sys_madvise ( 0x4836000, 8192, 4 ) --> [async] "
        "... \n"
        "SYSCALL[100,1](28) ... [async] --> Success(0x0) \n"
        "SYSCALL[100,1](28) sys_madvise ( 0x4835000, 4096, 8 ) --> [async] "
        "... \n"
        "SYSCALL[100,1](28) ... [async] --> Success(0x0) \n"
        "SYSCALL[100,1](28) sys_madvise ( 0x5ed000, 4096, 4 ) --> [async] "
        "... \n"
        "SYSCALL[100,1](28) ... [async] --> Success(0x0) \n"
        "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n"
    };
    char err[1024], *trace = NULL;
    (void)state;
    if (import_logs(logs, 1, err, sizeof(err), &trace) != 0)
        fail_msg("%s", err);
    assert_string_equal(trace, XVM_TRACE_HEADER "\n"
                                                "spawn 1 /bin/busybox true\n"
                                                "x 1 0x40ebf0 2\n"
                                                "brk 1 0x5ef000\n"
                                                "mmap 1 0x40035000 12288 rw- "
                                                "private,fixed\n"
                                                "w 1 0x40035008 8\n"
                                                "mmap 1 0x40036000 8192 rw- "
                                                "private,fixed\n"
                                                "mmap 1 0x5ec000 4096 rw- "
                                                "private,fixed\n"
                                                "exit 1\n");
    free(trace);
}

/* mremap in place keeps the pages it had: a grown tail is mapped like the
 * rest (the file's next page, anonymous memory past its end), a shrunk
 * one goes; only a move maps the whole range anew. */
static void test_tree_mremap_in_place_keeps_its_pages(void **state)
{
    char *dir = tree_new(), path[PATH_MAX], log[2 * PATH_MAX];
    char want[3 * PATH_MAX], err[1024], *trace = NULL;
    (void)state;
    tree_file(dir, "data", 5000, 3); /* two pages, the second partly */
    tree_path(path, sizeof(path), dir, "data");
    snprintf(log, sizeof(log),
             PRE(100) ENTRY
             "SYSCALL[100,1](257) sys_openat ( 4294967196, 0x1(%s), 0 ) "
             "--> Success(0x3) \n"
             "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 3, 0 ) --> "
             "[pre-success] Success(0x4835000) \n"
             "SYSCALL[100,1](25) sys_mremap ( 0x4835000, 4096, 12288, 0x0 ) "
             "--> [pre-success] Success(0x4835000) \n"
             "SYSCALL[100,1](25) sys_mremap ( 0x4835000, 12288, 4096, 0x0 ) "
             "--> [pre-success] Success(0x4835000) \n"
             "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
             "Success(0x0) \n",
             path);
    snprintf(want, sizeof(want),
             XVM_TRACE_HEADER "\n"
                              "spawn 1 /bin/busybox true\n"
                              "x 1 0x40ebf0 2\n"
                              "mmap 1 0x40035000 4096 r-- private,fixed %s "
                              "0x0\n"
                              "mmap 1 0x40036000 4096 r-- private,fixed %s "
                              "0x1000\n"
                              "mmap 1 0x40037000 4096 r-- private,fixed\n"
                              "munmap 1 0x40036000 8192\n"
                              "exit 1\n",
             path, path);
    const char *logs[] = { log };
    if (import_logs(logs, 1, err, sizeof(err), &trace) != 0)
        fail_msg("%s", err);
    assert_string_equal(trace, want);
    free(trace);
    tree_remove(dir);
}

/* Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, or of /dev/zero)
 * stays shared: after a fork, parent and child write one object, as the
 * host's did; MADV_DONTNEED leaves its contents. */
static void test_tree_shared_anonymous_memory_stays_shared(void **state)
{
    const char *logs[] = {
        PRE(100) ENTRY
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 3, 33, 4294967295, 0 ) "
        "--> [pre-success] Success(0x4835000) \n"
        "SYSCALL[100,1](257) sys_openat ( 4294967196, 0x1(/dev/zero), 2 ) "
        "--> Success(0x3) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 3, 1, 3, 0 ) --> "
        "[pre-success] Success(0x4837000) \n"
        "SYSCALL[100,1](28) sys_madvise ( 0x4835000, 12288, 4 ) --> "
        "Success(0x0) \n"
        "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n"
    };
    char err[1024], *trace = NULL;
    (void)state;
    if (import_logs(logs, 1, err, sizeof(err), &trace) != 0)
        fail_msg("%s", err);
    assert_string_equal(trace, XVM_TRACE_HEADER "\n"
                                                "spawn 1 /bin/busybox true\n"
                                                "x 1 0x40ebf0 2\n"
                                                "mmap 1 0x40035000 8192 rw- "
                                                "shared,fixed\n"
                                                "mmap 1 0x40037000 4096 rw- "
                                                "shared,fixed\n"
                                                "exit 1\n");
    free(trace);
}

/* Imports logs as import_logs does, into a root and its image, checks
 * the trace against want and replays it (XIP): no mismatch.  => the
 * import's figures and the machine's. */
static void import_and_replay(const char *const *logs, int n, const char *want,
                              struct lackey_stats *st, struct xvm_stats *s)
{
    char *dir = tree_new(), path[PATH_MAX], root[PATH_MAX], trace[PATH_MAX];
    char img[PATH_MAX], err[1024];
    struct lackey_opts o = { .pid = 1, .root_dir = root };
    struct tm_world w;
    struct xvm_replay_totals t;
    tree_dir(dir, "logs");
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/logs/%d.log", dir, i + 1);
        file_spit(path, (const uint8_t *)logs[i], strlen(logs[i]));
    }
    tree_path(path, sizeof(path), dir, "logs");
    tree_path(root, sizeof(root), dir, "root");
    tree_path(trace, sizeof(trace), dir, "trace");
    tree_path(img, sizeof(img), dir, "img");
    FILE *out = fopen(trace, "w");
    assert_non_null(out);
    if (lackey_import_dir(path, out, &o, st, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    fclose(out);
    uint64_t len;
    char *text = (char *)file_slurp(trace, &len);
    text[len] = '\0';
    assert_string_equal(text, want);
    free(text);
    image_make(root, img, 2, "little", 32768, 4096);
    tm_world_up(&w, "amd64", 64u << 20, 0, img, 1, 0);
    replay(&w, trace, 1, UINT64_MAX, &t);
    assert_int_equal(t.mismatches, 0);
    *s = tm_stats(w.m);
    tm_world_down(&w);
    tree_remove(dir);
}

#define MEMFD3                                                                 \
    "SYSCALL[100,1](319) sys_memfd_create ( 0x10a00b, 1 )[sync] --> "          \
    "Success(0x3) \n"

/*
 * memfd_create's memory is shared anonymous memory (tmpfs pages, in no
 * file): an mmap of it is anonymous, shared when MAP_SHARED; its fd is
 * followed through dup, fork and close.  Parent and child write one
 * object, counted once; a second mmap of the memfd (in the child, by the
 * fd it inherited) is an object of its own (the trace cannot name one
 * object twice: doc/trace-format.md).
 */
static void test_tree_memfd_memory_is_shared_anonymous_memory(void **state)
{
    const char *logs[] = {
        PRE(100) ENTRY MEMFD3
        "SYSCALL[100,1](77) sys_ftruncate ( 3, 8192 ) --> [async] ... \n"
        "SYSCALL[100,1](77) ... [async] --> Success(0x0) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 3, 1, 3, 0 ) --> "
        "[pre-success] Success(0x4835000) \n"
        " S 04835008,8\n"
        "SYSCALL[100,1](32) sys_dup ( 3 )[sync] --> Success(0x4) \n"
        "SYSCALL[100,1](3) sys_close ( 3 )[sync] --> Success(0x0) \n" FORK101
        " S 04836008,8\n"
        "SYSCALL[100,1](3) sys_close ( 4 )[sync] --> Success(0x0) \n"
        "SYSCALL[100,1](11) sys_munmap ( 0x4835000, 8192 )[sync] --> "
        "Success(0x0) \n"
        "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n",
        PRE(101) FORKED ENTRY
        " S 04836010,8\n"
        "SYSCALL[101,1](9) sys_mmap ( 0x0, 4096, 3, 1, 4, 0 ) --> "
        "[pre-success] Success(0x4900000) \n"
        " S 04900000,8\n"
        "SYSCALL[101,1](3) sys_close ( 4 )[sync] --> Success(0x0) \n"
        "SYSCALL[101,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n",
    };
    static const char want[] =
        XVM_TRACE_HEADER "\n"
                         "spawn 1 /bin/busybox true\n"
                         "x 1 0x40ebf0 2\n"
                         "mmap 1 0x40035000 8192 rw- shared,fixed\n"
                         "w 1 0x40035008 8\n"
                         "fork 1 2\n"
                         "x 2 0x40ebf0 2\n"
                         "w 2 0x40036010 8\n"
                         "mmap 2 0x40100000 4096 rw- shared,fixed\n"
                         "w 2 0x40100000 8\n"
                         "exit 2\n"
                         "w 1 0x40036008 8\n"
                         "munmap 1 0x40035000 8192\n"
                         "exit 1\n";
    struct lackey_stats st;
    struct xvm_stats s;
    (void)state;
    import_and_replay(logs, 2, want, &st, &s);
    assert_int_equal(st.files, 1); /* busybox: the memfd is no file */
    /* the fork's object once (2 pages), the child's second mmap apart */
    assert_int_equal(s.pages_peak[XVM_USE_AOBJ], 3);
    /* a closed memfd is gone: mapping its fd again is refused */
    expect_bad((const char *[]){ PRE(100) ENTRY MEMFD3
                                 "SYSCALL[100,1](3) sys_close ( 3 )[sync] --> "
                                 "Success(0x0) \n"
                                 "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 3, "
                                 "1, 3, 0 ) --> [pre-success] "
                                 "Success(0x4835000) \n" },
               1, EINVAL,
               "line 6: mmap of fd 3, which this process never opened");
}

/* POSIX shared memory (shm_open: a file under /dev/shm, on tmpfs) is
 * anonymous memory too: shared when mapped MAP_SHARED, private when
 * MAP_PRIVATE; it goes into no image. */
static void test_tree_posix_shared_memory_is_anonymous_memory(void **state)
{
    const char *logs[] = {
        PRE(100) ENTRY
        "SYSCALL[100,1](257) sys_openat ( 4294967196, "
        "0x1fff0003c0(/dev/shm/xipvm-ring), 655426, 384 ) --> [async] ... \n"
        "SYSCALL[100,1](257) ... [async] --> Success(0x3) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 8192, 3, 1, 3, 0 ) --> "
        "[pre-success] Success(0x4835000) \n"
        "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 3, 2, 3, 0 ) --> "
        "[pre-success] Success(0x4837000) \n"
        "SYSCALL[100,1](3) sys_close ( 3 )[sync] --> Success(0x0) \n"
        " S 04835008,8\n"
        " S 04836008,8\n"
        " S 04837008,8\n"
        "SYSCALL[100,1](231) exit_group( 0 ) --> [pre-success] "
        "Success(0x0) \n"
    };
    static const char want[] =
        XVM_TRACE_HEADER "\n"
                         "spawn 1 /bin/busybox true\n"
                         "x 1 0x40ebf0 2\n"
                         "mmap 1 0x40035000 8192 rw- shared,fixed\n"
                         "mmap 1 0x40037000 4096 rw- private,fixed\n"
                         "w 1 0x40035008 8\n"
                         "w 1 0x40036008 8\n"
                         "w 1 0x40037008 8\n"
                         "exit 1\n";
    struct lackey_stats st;
    struct xvm_stats s, s0;
    (void)state;
    import_and_replay(logs, 1, want, &st, &s);
    assert_int_equal(st.files, 1);
    assert_int_equal(s.pages_peak[XVM_USE_AOBJ], 2);
    /* the private mapping's page is one anon more than busybox alone */
    const char *alone[] = { PRE(100) ENTRY
                            "SYSCALL[100,1](231) exit_group( 0 ) --> "
                            "[pre-success] Success(0x0) \n" };
    import_and_replay(alone, 1,
                      XVM_TRACE_HEADER "\nspawn 1 /bin/busybox true\n"
                                       "x 1 0x40ebf0 2\nexit 1\n",
                      &st, &s0);
    assert_int_equal(s.pages_peak[XVM_USE_ANON],
                     s0.pages_peak[XVM_USE_ANON] + 1);
}

/* Malformed, truncated and missing logs: a clear error with the line. */
static void test_tree_bad_logs_are_refused_with_their_line(void **state)
{
    (void)state;
    expect_bad((const char *[]){ PRE(100) ENTRY "I  0040eb" }, 1, EINVAL,
               "1.log: line 4: the log ends in the middle of a line");
    expect_bad((const char *[]){ PRE(100) ENTRY
                                 "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, "
                                 "2, 7, 0 ) --> [pre-success] "
                                 "Success(0x4835000) \n" },
               1, EINVAL,
               "line 4: mmap of fd 7, which this process never opened");
    expect_bad(
        (const char *[]){ PRE(100) ENTRY
                          "SYSCALL[100,1](257) sys_openat ( 4294967196, "
                          "0x1(/nonexistent/lib.so), 0 ) --> Success(0x3) \n"
                          "SYSCALL[100,1](9) sys_mmap ( 0x0, 4096, 1, 2, 3, 0 "
                          ") --> [pre-success] Success(0x4835000) \n" },
        1, EINVAL,
        "line 5: mmap of /nonexistent/lib.so, which is not a regular");
    expect_bad((const char *[]){ PRE(100) ENTRY
                                 "SYSCALL[100,1](9) sys_mmap ( 0x0, zz\n" },
               1, EINVAL, "line 4: malformed system call");
    expect_bad((const char *[]){ PRE(100) ENTRY FORK101 }, 1, ENOENT,
               "process 100 forked 101, but there is no log of it");
    expect_bad((const char *[]){ PRE(100) ENTRY EXECVE }, 1, ENOENT,
               "ran execve(/bin/busybox), but there is no log of what it ran");
    expect_bad((const char *[]){ PRE(100) ENTRY EXECVE,
                                 "==100== Command: /bin/other\n" ENTRY },
               2, ENOENT, "a log was lost");
    expect_bad((const char *[]){ PRE(100) ENTRY FORK101, PRE(101) ENTRY }, 2,
               ENOENT, "its log starts at an exec");
    expect_bad((const char *[]){ PRE(100) FORKED ENTRY }, 1, EINVAL,
               "the first log is a forked child's");
    expect_bad((const char *[]){ ENTRY }, 1, EINVAL,
               "not a valgrind log (no ==PID== preamble)");
    /* valgrind 3.19 writes the log of a process 6 forks below an exec
     * to standard error, leaving its file empty */
    expect_bad((const char *[]){ PRE(100) ENTRY FORK101, "" }, 2, EINVAL,
               "2.log: empty: valgrind wrote this process's log to "
               "standard error");
    expect_bad((const char *[]){ PRE(100) ENTRY, PRE(999) ENTRY }, 2, EINVAL,
               "2.log: a log no process of the run led to (pid 999)");
    expect_bad((const char *[]){ PRE(100) " L 1000,8\n" ENTRY }, 1, EINVAL,
               "line 3: data access before the first instruction");
    expect_bad((const char *[]){ PRE(100) "I  00401000,2\n" }, 1, EINVAL,
               "line 3: first instruction at 0x401000, not at the ELF entry");
    char *empty = tree_new(), err[512];
    FILE *out = fopen("/dev/null", "w");
    struct lackey_opts o = { .pid = 1 };
    assert_int_equal(lackey_import_dir(empty, out, &o, NULL, err, sizeof(err)),
                     ENOENT);
    assert_non_null(strstr(err, "no per-process logs"));
    fclose(out);
    tree_remove(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_logs_made_by_hand_interleave_by_the_rule),
        cmocka_unit_test(test_tree_log_without_parent_pid_keeps_its_command),
        cmocka_unit_test(test_tree_script_keeps_its_path_as_execve_was_given),
        cmocka_unit_test(test_tree_script_as_names_the_script_not_the_program),
        cmocka_unit_test(test_tree_bad_logs_are_refused_with_their_line),
        cmocka_unit_test(test_tree_system_calls_become_events),
        cmocka_unit_test(test_tree_threads_clone_and_glued_lines),
        cmocka_unit_test(test_tree_madvise_dontneed_maps_the_range_anew),
        cmocka_unit_test(test_tree_mremap_in_place_keeps_its_pages),
        cmocka_unit_test(test_tree_shared_anonymous_memory_stays_shared),
        cmocka_unit_test(test_tree_memfd_memory_is_shared_anonymous_memory),
        cmocka_unit_test(test_tree_posix_shared_memory_is_anonymous_memory),
        cmocka_unit_test(test_tree_per_file_pages_match_the_raw_logs),
        cmocka_unit_test(test_tree_several_traces_at_once_share_the_files),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
