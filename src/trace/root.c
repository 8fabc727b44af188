/*
 * root.c - the files a trace names, mirrored into a directory that
 * becomes the image (xipvm record --root): each path's directories,
 * its symbolic links as links (with their targets) and the file itself,
 * so that the image resolves every path the trace uses as the host did.
 */
#include "lackey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40

static int copy_file(const char *from, const char *to, mode_t mode,
                     struct trace_err *e)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
    if (in < 0)
        return trace_fail(e, errno, "%s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0777);
    if (out < 0)
        r = trace_fail(e, errno, "%s: %s", to, strerror(errno));
    while (r == 0 && (n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0 || write(out, buf, (size_t)n) != n)
            r = trace_fail(e, errno ? errno : EIO, "copying %s: %s", from,
                           strerror(errno ? errno : EIO));
    }
    close(in);
    if (out >= 0 && close(out) != 0 && r == 0)
        r = trace_fail(e, errno, "%s: %s", to, strerror(errno));
    return r;
}

/* path (absolute, "/a/b/c") into root; links followed, depth bounded. */
static int mirror(const char *root, const char *path, int depth,
                  struct trace_err *e)
{
    char host[PATH_MAX], dst[PATH_MAX + PATH_MAX], link[PATH_MAX];
    struct stat sb;
    size_t hl = 0;
    if (depth > MAX_LINKS)
        return trace_fail(e, ELOOP, "%s: too many symbolic links", path);
    for (const char *s = path; *s;) {
        while (*s == '/')
            s++;
        size_t len = strcspn(s, "/");
        if (len == 0)
            break;
        if (hl + 1 + len + 1 > sizeof(host))
            return trace_fail(e, ENAMETOOLONG, "%s: too long", path);
        host[hl++] = '/';
        memcpy(host + hl, s, len);
        hl += len;
        host[hl] = '\0';
        s += len;
        int last = strspn(s, "/") == strlen(s);
        snprintf(dst, sizeof(dst), "%s%s", root, host);
        if (lstat(host, &sb) != 0)
            return trace_fail(e, errno, "%s: cannot put it in the image: %s",
                              path, strerror(errno));
        if (S_ISLNK(sb.st_mode)) {
            ssize_t n = readlink(host, link, sizeof(link) - 1);
            if (n < 0)
                return trace_fail(e, errno, "%s: %s", host, strerror(errno));
            link[n] = '\0';
            if (symlink(link, dst) != 0 && errno != EEXIST)
                return trace_fail(e, errno, "%s: %s", dst, strerror(errno));
            /* go on from the link's target with the rest of the path */
            char next[PATH_MAX + PATH_MAX];
            if (link[0] == '/') {
                snprintf(next, sizeof(next), "%s%s", link, s);
            } else {
                host[hl - len] = '\0';
                snprintf(next, sizeof(next), "%s%s%s", host, link, s);
            }
            if (strlen(next) >= PATH_MAX)
                return trace_fail(e, ENAMETOOLONG, "%s: too long", next);
            return mirror(root, next, depth + 1, e);
        }
        if (S_ISDIR(sb.st_mode)) {
            if (mkdir(dst, 0755) != 0 && errno != EEXIST)
                return trace_fail(e, errno, "%s: %s", dst, strerror(errno));
            continue;
        }
        if (!last || !S_ISREG(sb.st_mode))
            return trace_fail(e, EINVAL,
                              "%s: not a regular file: it cannot go into "
                              "the image",
                              host);
        struct stat have;
        if (stat(dst, &have) == 0 && have.st_size == sb.st_size)
            return 0; /* there already */
        return copy_file(host, dst, sb.st_mode, e);
    }
    return 0;
}

int root_add(const char *root, const char *path, struct trace_err *e)
{
    struct stat sb;
    if (root == NULL || path == NULL || path[0] != '/')
        return trace_fail(e, EINVAL, "root_add: %s: not an absolute path",
                          path ? path : "(null)");
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
        return trace_fail(e, errno, "%s: %s", root, strerror(errno));
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return trace_fail(e, ENOTDIR, "%s: not a directory", root);
    return mirror(root, path, 0, e);
}
