/*
 * lkrecord.c - running valgrind lackey over a whole process tree and
 * keeping one log per process image.
 *
 * valgrind (--trace-children=yes, --log-file=DIR/log.%p.%n) opens a new
 * log in a forked child and again in every exec'd image, truncating a
 * file of the same name.  %n, valgrind's count of the logs a process
 * opened, keeps a child's log before its exec (log.PID.2, or more) apart
 * from the log of what it execs (log.PID.1: the count restarts at every
 * exec); and each log is renamed the moment it appears (inotify), to
 * DIR/NNNNNNNN.PID.log in creation order, so that a second exec in the
 * same process (log.PID.1 again) finds the name free.  Should a log
 * still be lost (an exec chain faster than the renaming), the import
 * sees one missing and says so.
 *
 * valgrind runs under a helper that leads a process group of its own and
 * is the subreaper of the tree, so that the recording waits for every
 * process (a background job outliving its shell too) and an interrupted
 * one kills them all.
 */
#define _GNU_SOURCE
#include "lackey.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define POLL_MS 100

/* => path of prog: itself when it holds '/', else the first executable in $PATH. */
static int find_program(const char *prog, char *buf, size_t cap)
{
    const char *dirs = getenv("PATH");

    if (strchr(prog, '/') != NULL) {
        if (strlen(prog) >= cap)
            return ENAMETOOLONG;
        strcpy(buf, prog);
        return access(prog, X_OK) == 0 ? 0 : errno;
    }
    for (const char *d = dirs != NULL ? dirs : "/usr/bin:/bin";; d++) {
        size_t n = strcspn(d, ":");
        int w = snprintf(buf, cap, "%.*s/%s", (int)n, n > 0 ? d : ".", prog);

        if (w > 0 && (size_t)w < cap && access(buf, X_OK) == 0)
            return 0;
        d += n;
        if (*d == '\0')
            return ENOENT;
    }
}

/* Removes dir and the files in it. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];
    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

struct collector {
    const char *dir;
    int dfd, ino;
    unsigned seq;
    struct trace_err *e;
};

/* Renames one new log (log.PID.N) out of valgrind's way. */
static int keep(struct collector *c, const char *name)
{
    char to[64];
    if (strncmp(name, "log.", 4) != 0)
        return 0; /* one of ours */
    snprintf(to, sizeof(to), "%08u.%.*s.log", ++c->seq,
             (int)strcspn(name + 4, "."), name + 4);
    if (renameat(c->dfd, name, c->dfd, to) != 0)
        return trace_fail(c->e, errno, "%s/%s: %s", c->dir, name,
                          strerror(errno));
    return 0;
}

/* Every inotify event waiting: => 0, or an error. */
static int drain(struct collector *c)
{
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(c->ino, buf, sizeof(buf));
        if (n < 0)
            return errno == EAGAIN || errno == EINTR
                       ? 0
                       : trace_fail(c->e, errno, "inotify: %s",
                                    strerror(errno));
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                return trace_fail(c->e, EOVERFLOW,
                                  "more logs at once than could be followed");
            if ((ev->mask & IN_CREATE) && ev->len > 0) {
                int r = keep(c, ev->name);
                if (r)
                    return r;
            }
            p += sizeof(*ev) + ev->len;
        }
    }
}

/* The program's standard files, then valgrind over it (never returns). */
static void exec_valgrind(const char *prog, const char *const *argv,
                          const char *logopt, int quiet, int out_is_stdout)
{
    static const char *const head[] = {
        "valgrind",
        "--tool=lackey",
        "--trace-mem=yes",
        "--trace-syscalls=yes",
        "--trace-children=yes",
    };
    size_t nh = sizeof(head) / sizeof(head[0]), na = 0, k = 0;
    while (argv[na] != NULL)
        na++;
    const char **v = calloc(nh + na + 4, sizeof(*v));
    if (v == NULL)
        _exit(127);
    for (size_t i = 0; i < nh; i++)
        v[k++] = head[i];
    v[k++] = logopt;
    v[k++] = "--";
    v[k++] = prog;
    for (size_t i = 1; i < na; i++)
        v[k++] = argv[i];
    if (quiet) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
            if (fd > 2)
                close(fd);
        }
    } else if (out_is_stdout) {
        dup2(2, 1); /* the program must not write into the trace */
    }
    execvp("valgrind", (char *const *)v);
    _exit(127);
}

/* The helper: group leader and subreaper; reports valgrind's status. */
static void helper(int wfd, const char *prog, const char *const *argv,
                   const char *logopt, int quiet, int out_is_stdout)
{
    int status = 0, st;
    pid_t vg, pid;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if ((vg = fork()) < 0)
        _exit(126);
    if (vg == 0)
        exec_valgrind(prog, argv, logopt, quiet, out_is_stdout);
    for (;;) {
        pid = waitpid(-1, &st, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            break; /* ECHILD: the whole tree is gone */
        if (pid == vg)
            status = st;
    }
    ssize_t n = write(wfd, &status, sizeof(status));
    _exit(n == (ssize_t)sizeof(status) ? 0 : 126);
}

static int collect(const char *const *argv, const char *dir,
                   const struct lackey_opts *o, int out_is_stdout,
                   int *child_status, struct trace_err *e)
{
    char prog[PATH_MAX], logopt[PATH_MAX + 32];
    struct collector c = { .dir = dir, .dfd = -1, .ino = -1, .e = e };
    int pfd[2] = { -1, -1 }, r, status = 0, got = 0;
    pid_t h = -1;

    if ((r = find_program("valgrind", prog, sizeof(prog))) != 0)
        return trace_fail(e, r,
                          "valgrind: %s (Debian: apt-get install valgrind)",
                          strerror(r));
    if ((r = find_program(argv[0], prog, sizeof(prog))) != 0)
        return trace_fail(e, r, "%s: %s", argv[0], strerror(r));
    snprintf(logopt, sizeof(logopt), "--log-file=%s/log.%%p.%%n", dir);
    if ((c.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return trace_fail(e, errno, "%s: %s", dir, strerror(errno));
    c.ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (c.ino < 0 || inotify_add_watch(c.ino, dir, IN_CREATE) < 0 ||
        pipe2(pfd, O_CLOEXEC) != 0) {
        r = trace_fail(e, errno, "inotify or pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    if ((h = fork()) < 0) {
        r = trace_fail(e, errno, "fork: %s", strerror(errno));
        goto out;
    }
    if (h == 0) {
        setpgid(0, 0);
        close(pfd[0]);
        helper(pfd[1], prog, argv, logopt, o->quiet, out_is_stdout);
    }
    setpgid(h, h); /* also here: no race with kill(-h) below */
    close(pfd[1]);
    pfd[1] = -1;
    while (!got) {
        struct pollfd pf[2] = { { c.ino, POLLIN, 0 }, { pfd[0], POLLIN, 0 } };
        if (o->stop != NULL && *o->stop) {
            kill(-h, SIGKILL);
            r = trace_fail(e, EINTR, "interrupted: every process stopped");
            break;
        }
        if (poll(pf, 2, POLL_MS) < 0 && errno != EINTR) {
            r = trace_fail(e, errno, "poll: %s", strerror(errno));
            kill(-h, SIGKILL);
            break;
        }
        if ((r = drain(&c)) != 0) {
            kill(-h, SIGKILL);
            break;
        }
        if (pf[1].revents) {
            ssize_t n = read(pfd[0], &status, sizeof(status));
            if (n < 0 && errno == EINTR)
                continue;
            got = 1;
            if (n != (ssize_t)sizeof(status))
                r = trace_fail(e, ECHILD, "the recording's helper failed");
        }
    }
    while (waitpid(h, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r == 0)
        r = drain(&c);
    if (r == 0 && c.seq == 0)
        r = trace_fail(e, ECHILD,
                       "valgrind produced no log (wait status 0x%x); see its "
                       "messages above",
                       (unsigned)status);
    if (child_status)
        *child_status = status;
out:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (c.ino >= 0)
        close(c.ino);
    close(c.dfd);
    return r;
}

int lackey_collect(const char *const *argv, const char *dir,
                   const struct lackey_opts *o, int *child_status, char *err,
                   size_t errlen)
{
    struct trace_err e;
    trace_err_init(&e, err, errlen);
    if (argv == NULL || argv[0] == NULL || dir == NULL || o == NULL)
        return trace_fail(&e, EINVAL, "lackey_collect: no program");
    if (mkdir(dir, 0700) != 0)
        return trace_fail(&e, errno, "%s: %s", dir, strerror(errno));
    int r = collect(argv, dir, o, 0, child_status, &e);
    if (r)
        remove_dir(dir);
    return r;
}

int lackey_record(const char *const *argv, FILE *out,
                  const struct lackey_opts *o, struct lackey_stats *st,
                  int *child_status, char *err, size_t errlen)
{
    struct lackey_stats local;
    struct lackey_opts io;
    struct trace_err e;
    char tmpl[PATH_MAX], cwd[PATH_MAX];
    const char *dir;
    int r;

    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    trace_err_init(&e, err, errlen);
    if (argv == NULL || argv[0] == NULL || out == NULL || o == NULL)
        return trace_fail(&e, EINVAL, "lackey_record: no program");
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return trace_fail(&e, errno, "getcwd: %s", strerror(errno));
    if (o->keep_logs != NULL) {
        dir = o->keep_logs;
        if (mkdir(dir, 0700) != 0)
            return trace_fail(&e, errno, "%s: %s", dir, strerror(errno));
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(tmpl, sizeof(tmpl), "%s/xipvm-record.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if ((dir = mkdtemp(tmpl)) == NULL)
            return trace_fail(&e, errno, "%s: %s", tmpl, strerror(errno));
    }
    r = collect(argv, dir, o, fileno(out) == 1, child_status, &e);
    if (r == 0) {
        io = *o;
        if (io.cwd == NULL)
            io.cwd = cwd;
        r = lackey_import_dir(dir, out, &io, st, err, errlen);
    }
    if (o->keep_logs == NULL || (r != 0 && e.code != 0))
        remove_dir(dir);
    return r;
}
