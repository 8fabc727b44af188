/*
 * lktree.c - the processes of one recorded run, from their per-process
 * logs, interleaved into one trace.
 *
 * The rule (doc/trace-format.md): the first log's process is spawned and
 * runs.  A process that forks stops there while its child runs from the
 * fork until the child execs or exits (as a shell's child runs up to its
 * exec while the shell waits on vfork); then the parent goes on.  A
 * process that waits for a child (a wait4 that blocks, naming it, or any:
 * its first child in fork order) runs that child to its exit first.  When the first process has exited, the processes left run
 * to their exits in the order they were forked.  Trace pids are given in
 * that fork order from the first one's (the option pid).
 */
#include "lk.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 1000 /* processes nested in forks and waits */

struct seg {
    char *file;
    uint32_t pid;
    int fork_child;
    char *command; /* escaped, as valgrind wrote it */
    int used;
};

struct tree {
    struct lkimp im;
    const struct lackey_opts *o;
    struct seg *segs;
    unsigned nsegs;
    struct lkproc **procs;
    unsigned nprocs, cap;
    uint32_t next_tpid;
    unsigned depth;
};

static int nomem(struct tree *t)
{
    return trace_fail(t->im.e, ENOMEM, "out of memory");
}

/* ---------- the logs ---------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct seg *)a)->file, ((const struct seg *)b)->file);
}

/* Every "*.log" of dir, in name order, with its preamble. */
static int index_logs(struct tree *t, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned cap = 0;
    int r = 0;
    if (d == NULL)
        return trace_fail(t->im.e, errno, "%s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".log") != 0)
            continue;
        if (t->nsegs == cap) {
            cap = cap ? 2 * cap : 64;
            struct seg *ns = realloc(t->segs, cap * sizeof(*ns));
            if (ns == NULL) {
                r = nomem(t);
                break;
            }
            t->segs = ns;
        }
        struct seg *s = &t->segs[t->nsegs];
        memset(s, 0, sizeof(*s));
        if ((s->file = malloc(strlen(dir) + n + 2)) == NULL) {
            r = nomem(t);
            break;
        }
        sprintf(s->file, "%s/%s", dir, de->d_name);
        t->nsegs++;
    }
    closedir(d);
    if (r)
        return r;
    if (t->nsegs == 0)
        return trace_fail(t->im.e, ENOENT, "%s: no per-process logs (*.log)",
                          dir);
    qsort(t->segs, t->nsegs, sizeof(*t->segs), by_name);
    for (unsigned i = 0; i < t->nsegs; i++) {
        struct lklog l;
        struct stat sb;
        struct seg *s = &t->segs[i];
        r = lklog_open(&l, s->file, NULL, t->im.st, t->im.e);
        if (r == 0 && l.pid == 0 && stat(s->file, &sb) == 0 && sb.st_size == 0)
            r = trace_fail(t->im.e, EINVAL,
                           "%s: empty: valgrind wrote this process's log "
                           "to standard error instead, as valgrind 3.19 "
                           "does 6 forks or more below an exec; such a run "
                           "cannot be recorded",
                           s->file);
        else if (r == 0 && l.pid == 0)
            r = trace_fail(t->im.e, EINVAL,
                           "%s: not a valgrind log (no ==PID== preamble)",
                           s->file);
        s->pid = l.pid;
        s->fork_child = l.fork_child;
        s->command = l.command;
        l.command = NULL;
        lklog_close(&l);
        if (r)
            return r;
        t->im.st->logs++;
    }
    return 0;
}

/* => the next log of host pid, in creation order, or NULL. */
static struct seg *next_seg(struct tree *t, uint32_t pid)
{
    for (unsigned i = 0; i < t->nsegs; i++)
        if (!t->segs[i].used && t->segs[i].pid == pid) {
            t->segs[i].used = 1;
            return &t->segs[i];
        }
    return NULL;
}

/* ---------- processes ---------- */

static int add_proc(struct tree *t, struct lkproc *p)
{
    if (t->nprocs == t->cap) {
        unsigned ncap = t->cap ? 2 * t->cap : 64;
        struct lkproc **np = realloc(t->procs, ncap * sizeof(*np));
        if (np == NULL)
            return nomem(t);
        t->procs = np;
        t->cap = ncap;
    }
    p->seq = t->nprocs;
    t->procs[t->nprocs++] = p;
    t->im.st->procs++;
    return 0;
}

/* => the latest process with host pid that has not exited, or NULL. */
static struct lkproc *find_live(const struct tree *t, uint32_t hpid)
{
    for (unsigned i = t->nprocs; i-- > 0;)
        if (t->procs[i]->hpid == hpid && t->procs[i]->state != P_DONE)
            return t->procs[i];
    return NULL;
}

/* => p's first child (in fork order) waiting to run, or NULL. */
static struct lkproc *first_child(const struct tree *t, const struct lkproc *p)
{
    for (unsigned i = p->seq + 1; i < t->nprocs; i++)
        if (t->procs[i]->parent == p && t->procs[i]->state == P_SUSPENDED)
            return t->procs[i];
    return NULL;
}

static int open_log(struct tree *t, struct lkproc *p, struct seg *s)
{
    if (p->log_open)
        lklog_close(&p->log);
    p->log_open = 0;
    int r = lklog_open(&p->log, s->file, NULL, t->im.st, t->im.e);
    if (r == 0)
        p->log_open = 1;
    else
        lklog_close(&p->log);
    p->log.stop = t->o->stop;
    return r;
}

/*
 * The program an exec of path runs: path itself, or for a script ("#!")
 * its interpreter, with the interpreter's argument and the script to go
 * before the arguments: as execve was given it (given), as the kernel
 * passes it.  => *prog (cap bytes), extra[0..*nextra).
 */
static int exec_target(struct tree *t, const char *path, const char *given,
                       char *prog, size_t cap, char extra[2][LK_PATH_MAX],
                       int *nextra)
{
    char head[256];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof(head) - 1, f) : 0;
    *nextra = 0;
    if (f)
        fclose(f);
    head[n] = '\0';
    if (n < 3 || head[0] != '#' || head[1] != '!') {
        if (strlen(path) >= cap)
            return trace_fail(t->im.e, ENAMETOOLONG, "%s: too long", path);
        strcpy(prog, path);
        return 0;
    }
    char *s = head + 2, *nl = strchr(s, '\n');
    if (nl == NULL)
        return trace_fail(t->im.e, ENOEXEC, "%s: a #! line over 255 bytes",
                          path);
    *nl = '\0';
    s += strspn(s, " \t");
    size_t plen = strcspn(s, " \t");
    if (plen == 0 || plen >= cap)
        return trace_fail(t->im.e, ENOEXEC, "%s: a bad #! line", path);
    if (strlen(given) >= LK_PATH_MAX)
        return trace_fail(t->im.e, ENAMETOOLONG, "%s: too long", given);
    memcpy(prog, s, plen);
    prog[plen] = '\0';
    s += plen;
    s += strspn(s, " \t");
    size_t alen = strlen(s);
    while (alen > 0 && (s[alen - 1] == ' ' || s[alen - 1] == '\t'))
        s[--alen] = '\0';
    if (alen > 0)
        strcpy(extra[(*nextra)++], s);
    strcpy(extra[(*nextra)++], given);
    return 0;
}

/*
 * Writes `spawn` (root) or `exec` of the program the log s runs, and
 * starts the new image.  given: execve's path (NULL for the root).
 */
static int start_image(struct tree *t, struct lkproc *p, struct seg *s,
                       const char *given, int partial, uint64_t line)
{
    char full[LK_PATH_MAX], prog[LK_PATH_MAX], extra[2][LK_PATH_MAX];
    char *words[XVM_TRACE_MAX_ARGS + 2];
    struct xvm_trace_event ev;
    int nextra = 0, nw = 0, r;
    char *cmd = s->command ? strdup(s->command) : NULL;
    if (s->command && cmd == NULL)
        return nomem(t);
    if (cmd != NULL &&
        (nw = lk_command_words(cmd, words, XVM_TRACE_MAX_ARGS + 2)) < 0) {
        free(cmd);
        return trace_fail(t->im.e, E2BIG, "%s: more than %d arguments", s->file,
                          XVM_TRACE_MAX_ARGS);
    }
    if (given != NULL &&
        (nw == 0 || (partial ? strncmp(words[0], given, strlen(given))
                             : strcmp(words[0], given)) != 0)) {
        r = trace_fail(t->im.e, ENOENT,
                       "%s: its process ran execve(%s) (line %llu of its log "
                       "before), but this log runs %s: a log was lost (a "
                       "process that execs soon after fork can overwrite "
                       "its log before it is kept); record again",
                       s->file, given, (unsigned long long)line,
                       nw ? words[0] : "nothing");
        free(cmd);
        return r;
    }
    /* the program: execve's path, the option's, or the command's */
    const char *name = given                  ? words[0]
                       : t->o->exec_host_path ? t->o->exec_host_path
                       : nw > 0               ? words[0]
                                              : "";
    if (given == NULL && t->o->exec_host_path == NULL &&
        strchr(name, '/') == NULL)
        r = trace_fail(t->im.e, ENOENT,
                       "%s: runs `%s', not a path: give the program (--exec)",
                       s->file, name);
    else
        r = lkproc_path(&t->im, p, name, full, sizeof(full));
    /* --as names the root's command in the image: for a script, the
     * argument its interpreter (which keeps its own path) is given */
    const char *as = given == NULL ? t->o->path_in_image : NULL;
    if (r == 0)
        r = exec_target(t, full, as ? as : name, prog, sizeof(prog), extra,
                        &nextra);
    if (r == 0 && nextra > 0) {
        uint32_t id = str_intern(&t->im, full);
        if (id == 0)
            r = nomem(t);
        else if (!t->im.used[id])
            t->im.used[id] = 1, t->im.st->files++; /* the script */
    }
    if (r == 0) {
        xvm_trace_event_reset(&ev);
        ev.op = given ? XVM_T_EXEC : XVM_T_SPAWN;
        ev.pid = p->tpid;
        ev.path = as && nextra == 0 ? as : prog;
        for (int i = 0; i < nextra; i++)
            ev.argv[ev.argc++] = extra[i];
        if (given == NULL && t->o->argv != NULL) {
            for (unsigned i = 0; i < t->o->argc && ev.argc < XVM_TRACE_MAX_ARGS;
                 i++)
                ev.argv[ev.argc++] = t->o->argv[i];
        } else {
            for (int i = 1; i < nw; i++) {
                if (ev.argc == XVM_TRACE_MAX_ARGS) {
                    r = trace_fail(t->im.e, E2BIG, "%s: more than %d arguments",
                                   s->file, XVM_TRACE_MAX_ARGS);
                    break;
                }
                ev.argv[ev.argc++] = words[i];
            }
        }
    }
    if (r == 0)
        r = tw_event(t->im.w, &ev);
    free(cmd);
    if (r == 0 && (r = open_log(t, p, s)) == 0)
        r = lkproc_image(&t->im, p, prog, given != NULL);
    if (r == 0 && given)
        t->im.st->execs++;
    return r;
}

static int emit_simple(struct tree *t, enum xvm_trace_op op, uint32_t pid,
                       uint32_t pid2)
{
    struct xvm_trace_event ev;
    xvm_trace_event_reset(&ev);
    ev.op = op;
    ev.pid = pid;
    ev.pid2 = pid2;
    return tw_event(t->im.w, &ev);
}

static int run(struct tree *t, struct lkproc *p, int fresh);

static int do_fork(struct tree *t, struct lkproc *p, uint32_t child,
                   uint64_t line)
{
    struct seg *s;
    struct lkproc *c = NULL;
    int r;
    if (child == p->hpid)
        return trace_fail(t->im.e, EINVAL,
                          "%s: line %llu: process %u forked a child of its "
                          "own pid",
                          p->log.name, (unsigned long long)line,
                          (unsigned)p->hpid);
    s = next_seg(t, child);
    if (s == NULL || !s->fork_child)
        return trace_fail(
            t->im.e, ENOENT,
            "%s: line %llu: process %u forked %u, but %s: a log was lost "
            "(a child that execs soon after fork can overwrite its log "
            "before it is kept); record again",
            p->log.name, (unsigned long long)line, (unsigned)p->hpid,
            (unsigned)child,
            s == NULL ? "there is no log of it" : "its log starts at an exec");
    if ((r = lkproc_fork(&t->im, p, &c)) != 0)
        return r;
    c->hpid = child;
    c->tpid = t->next_tpid++;
    c->parent = p;
    c->state = P_RUN;
    if ((r = add_proc(t, c)) != 0) {
        lkproc_free(c);
        return r;
    }
    if ((r = emit_simple(t, XVM_T_FORK, p->tpid, c->tpid)) != 0 ||
        (r = open_log(t, c, s)) != 0)
        return r;
    return run(t, c, 1);
}

static int do_exec(struct tree *t, struct lkproc *p, uint32_t path, int partial,
                   uint64_t line)
{
    const char *given = str_of(&t->im, path);
    struct seg *s = next_seg(t, p->hpid);
    if (s == NULL || s->fork_child)
        return trace_fail(t->im.e, ENOENT,
                          "%s: line %llu: process %u ran execve(%s), but "
                          "there is no log of what it ran: %s",
                          p->log.name, (unsigned long long)line,
                          (unsigned)p->hpid, given,
                          strcmp(given, "/proc/self/exe") == 0
                              ? "valgrind cannot run /proc/self/exe (that is "
                                "valgrind itself): run programs by their "
                                "path"
                              : "a log was lost");
    return start_image(t, p, s, given, partial, line);
}

/* Runs p until it exits, or (fresh: a child just forked) until it has
 * exec'd once: then it waits, suspended, for a wait or the end. */
static int run(struct tree *t, struct lkproc *p, int fresh)
{
    int r = 0;
    if (++t->depth > MAX_DEPTH) {
        t->depth--;
        return trace_fail(t->im.e, ELOOP,
                          "processes nested more than %d deep in forks and "
                          "waits",
                          MAX_DEPTH);
    }
    p->state = P_RUN;
    while (r == 0) {
        struct lk_event ev;
        struct lkproc *c;
        if ((r = lkproc_step(&t->im, p, &ev)) != 0)
            break;
        if (ev.sync == LS_FORK) {
            r = do_fork(t, p, ev.hpid, ev.line);
        } else if (ev.sync == LS_EXEC) {
            if ((r = do_exec(t, p, ev.path, ev.partial, ev.line)) == 0 &&
                fresh && !p->yielded) {
                p->yielded = 1;
                p->state = P_SUSPENDED;
                break;
            }
        } else if (ev.sync == LS_WAIT) {
            c = ev.hpid ? find_live(t, ev.hpid) : first_child(t, p);
            if (c != NULL && c != p && c->state == P_SUSPENDED)
                r = run(t, c, 0);
        } else if (ev.sync == LS_EXIT) {
            p->state = P_DONE;
            lklog_close(&p->log);
            p->log_open = 0;
            if (!t->im.single)
                r = emit_simple(t, XVM_T_EXIT, p->tpid, 0);
            break;
        }
    }
    t->depth--;
    return r;
}

/* ---------- the import ---------- */

/* A tree writing to out through a writer of its own.  => 0 or ENOMEM. */
static int tree_init(struct tree *t, xvm_trace_writer *out,
                     const struct lackey_opts *o, struct lackey_stats *st,
                     struct trace_err *e)
{
    struct twriter *w = malloc(sizeof(*w));
    memset(t, 0, sizeof(*t));
    if (w == NULL)
        return trace_fail(e, ENOMEM, "out of memory");
    t->o = o;
    t->im.w = w;
    t->im.st = st;
    t->im.e = e;
    t->next_tpid = o->pid ? o->pid : 1;
    tw_init(w, out, st, e);
    return 0;
}

static void tree_fini(struct tree *t)
{
    for (unsigned i = 0; i < t->nprocs; i++)
        lkproc_free(t->procs[i]);
    free(t->procs);
    for (unsigned i = 0; i < t->nsegs; i++) {
        free(t->segs[i].file);
        free(t->segs[i].command);
    }
    free(t->segs);
    str_fini(&t->im.strs);
    free(t->im.used);
    free(t->im.w);
}

/* The root process, its cwd the option's or ours. */
static int new_root(struct tree *t, struct lkproc **out)
{
    char cwd[LK_PATH_MAX];
    struct lkproc *p = NULL;
    int r = lkproc_new(&t->im, &p);
    if (r)
        return r;
    p->hpid = 0;
    p->tpid = t->next_tpid++;
    if ((r = add_proc(t, p)) != 0) {
        lkproc_free(p);
        return r;
    }
    if (t->o->cwd == NULL && getcwd(cwd, sizeof(cwd)) == NULL)
        return trace_fail(t->im.e, errno, "getcwd: %s", strerror(errno));
    if ((p->cwd = str_intern(&t->im, t->o->cwd ? t->o->cwd : cwd)) == 0)
        return nomem(t);
    *out = p;
    return 0;
}

/* Copies every file the trace names into the root directory. */
static int fill_root(struct tree *t)
{
    if (t->o->root_dir == NULL)
        return 0;
    for (uint32_t id = 1; id < t->im.strs.n; id++) {
        if (!t->im.used[id])
            continue;
        int r = root_add(t->o->root_dir, t->im.strs.s[id], t->im.e);
        if (r)
            return r;
    }
    return 0;
}

int lackey_import_to(FILE *in, xvm_trace_writer *out,
                     const struct lackey_opts *o, struct lackey_stats *st,
                     char *err, size_t errlen)
{
    struct lackey_stats local;
    struct trace_err e;
    struct tree t;
    struct lkproc *p = NULL;
    int r;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    trace_err_init(&e, err, errlen);
    if (in == NULL || out == NULL || o == NULL)
        return trace_fail(&e, EINVAL, "lackey_import: NULL argument");
    if (o->exec_host_path == NULL)
        return trace_fail(&e, EINVAL, "no ELF program given (--exec)");
    if ((r = tree_init(&t, out, o, st, &e)) != 0)
        return r;
    t.im.single = 1;
    if ((r = new_root(&t, &p)) == 0) {
        struct xvm_trace_event ev;
        xvm_trace_event_reset(&ev);
        ev.op = XVM_T_SPAWN;
        ev.pid = p->tpid;
        ev.path = o->path_in_image ? o->path_in_image : o->exec_host_path;
        ev.argc = o->argc;
        if (o->argc > XVM_TRACE_MAX_ARGS || (o->argc && o->argv == NULL))
            r = trace_fail(&e, EINVAL,
                           "too many spawn arguments (%u, at most %d)", o->argc,
                           XVM_TRACE_MAX_ARGS);
        for (unsigned i = 0; r == 0 && i < o->argc; i++)
            ev.argv[i] = o->argv[i];
        if (r == 0)
            r = tw_event(t.im.w, &ev);
    }
    if (r == 0) {
        /* open or not, p's log is closed with p (as open_log's is) */
        r = lklog_open(&p->log, NULL, in, st, &e);
        p->log_open = 1;
        p->log.stop = o->stop;
    }
    if (r == 0) {
        char full[LK_PATH_MAX];
        r = lkproc_path(&t.im, p, o->exec_host_path, full, sizeof(full));
        if (r == 0)
            r = lkproc_image(&t.im, p, full, 0);
    }
    if (r == 0)
        r = run(&t, p, 0);
    if (r == 0)
        r = fill_root(&t);
    tree_fini(&t);
    return r;
}

int lackey_import_dir_to(const char *dir, xvm_trace_writer *out,
                         const struct lackey_opts *o, struct lackey_stats *st,
                         char *err, size_t errlen)
{
    struct lackey_stats local;
    struct trace_err e;
    struct tree t;
    struct lkproc *root = NULL;
    int r;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    trace_err_init(&e, err, errlen);
    if (dir == NULL || out == NULL || o == NULL)
        return trace_fail(&e, EINVAL, "lackey_import_dir: NULL argument");
    if ((r = tree_init(&t, out, o, st, &e)) != 0)
        return r;
    if ((r = index_logs(&t, dir)) == 0 && t.segs[0].fork_child)
        r = trace_fail(&e, EINVAL,
                       "%s: the first log is a forked child's, not a "
                       "program's start",
                       t.segs[0].file);
    if (r == 0 && (r = new_root(&t, &root)) == 0) {
        root->hpid = t.segs[0].pid;
        t.segs[0].used = 1;
    }
    if (r == 0)
        r = start_image(&t, root, &t.segs[0], NULL, 0, 0);
    if (r == 0)
        r = run(&t, root, 0);
    /* the rest, in fork order, each to its exit */
    for (unsigned i = 0; r == 0 && i < t.nprocs; i++)
        if (t.procs[i]->state == P_SUSPENDED)
            r = run(&t, t.procs[i], 0);
    for (unsigned i = 0; r == 0 && i < t.nsegs; i++)
        if (!t.segs[i].used)
            r = trace_fail(&e, EINVAL,
                           "%s: a log no process of the run led to (pid %u)",
                           t.segs[i].file, (unsigned)t.segs[i].pid);
    if (r == 0)
        r = fill_root(&t);
    tree_fini(&t);
    return r;
}
