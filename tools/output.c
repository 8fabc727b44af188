/*
 * Output files that appear whole or not at all: written to a temporary
 * file next to the target and renamed into place once complete, removed
 * on failure.  Traces go through a trace writer on it (its form and
 * compression by the name, xvm_trace_writer_config_path).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct output {
    char *path, *tmp;
    FILE *raw;    /* the temporary file, or stdout */
    bool aborted; /* a trace on it failed: nothing more goes out */
};

static void release(struct output *o)
{
    free(o->path);
    free(o->tmp);
    free(o);
}

FILE *output_open(const char *path, struct output **out, char *err,
                  size_t errlen)
{
    struct output *o = calloc(1, sizeof(*o));
    *out = NULL;
    if (o == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        o->raw = stdout;
        *out = o;
        return stdout;
    }
    /* A device or a FIFO (/dev/null, a pipe's name) is written in place:
     * never replaced by a file of ours, never removed. */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if ((o->path = strdup(path)) == NULL) {
            release(o);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        if ((o->raw = fopen(path, "wbe")) == NULL) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            release(o);
            return NULL;
        }
        *out = o;
        return o->raw;
    }
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    if ((o->path = strdup(path)) == NULL ||
        (o->tmp = malloc(strlen(path) + 16)) == NULL) {
        release(o);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sprintf(o->tmp, "%.*s.%s.XXXXXX", (int)dl, path, path + dl);
    int fd = mkostemp(o->tmp, O_CLOEXEC);
    if (fd < 0 || (o->raw = fdopen(fd, "wb")) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        release(o);
        return NULL;
    }
    fchmod(fd, 0644);
    *out = o;
    return o->raw;
}

int output_commit(struct output *o, char *err, size_t errlen)
{
    int bad = 0;
    if (o->raw == stdout) {
        bad = fflush(stdout) != 0;
        free(o);
        if (bad)
            snprintf(err, errlen, "standard output: write error");
        return bad ? -1 : 0;
    }
    errno = 0;
    if (o->tmp == NULL) { /* written in place (output_open) */
        bad |= fflush(o->raw) != 0;
        bad |= fclose(o->raw) != 0;
    } else {
        bad |= fflush(o->raw) != 0 || fsync(fileno(o->raw)) != 0;
        bad |= fclose(o->raw) != 0;
        if (!bad && rename(o->tmp, o->path) != 0)
            bad = 1;
    }
    if (bad) {
        snprintf(err, errlen, "%s: %s", o->path,
                 errno ? strerror(errno) : "write error");
        if (o->tmp)
            unlink(o->tmp);
    }
    release(o);
    return bad ? -1 : 0;
}

void output_abort(struct output *o)
{
    if (o == NULL)
        return;
    if (o->raw == stdout) {
        fflush(stdout);
        free(o);
        return;
    }
    fclose(o->raw);
    if (o->tmp)
        unlink(o->tmp);
    release(o);
}

/* ---- traces ---- */

static int to_file(void *ctx, const void *buf, size_t len)
{
    struct output *o = ctx;
    if (o->aborted)
        return ECANCELED;
    return fwrite(buf, 1, len, o->raw) == len ? 0 : errno ? errno : EIO;
}

xvm_trace_writer *trace_output_open(const char *path, struct output **o,
                                    char *err, size_t errlen)
{
    return trace_output_open_cfg(path, NULL, o, err, errlen);
}

xvm_trace_writer *trace_output_open_cfg(
    const char *path, const struct xvm_trace_writer_config *given,
    struct output **o, char *err, size_t errlen)
{
    struct xvm_trace_writer_config cfg;
    xvm_trace_writer *w;
    FILE *f = output_open(path, o, err, errlen);
    if (f == NULL)
        return NULL;
    if (given)
        cfg = *given;
    else
        xvm_trace_writer_config_path(strcmp(path, "-") == 0 ? NULL : path,
                                     &cfg);
    int r = xvm_trace_writer_create(&cfg, to_file, *o, &w);
    if (r) {
        snprintf(err, errlen, "%s: %s", path, strerror(r));
        output_abort(*o);
        *o = NULL;
        return NULL;
    }
    return w;
}

int trace_output_commit(xvm_trace_writer *w, struct output *o, char *err,
                        size_t errlen)
{
    int r = xvm_trace_writer_close(w);
    if (r) {
        snprintf(err, errlen, "%s: %s", o->path ? o->path : "standard output",
                 strerror(r));
        output_abort(o);
        return -1;
    }
    return output_commit(o, err, errlen);
}

/* On standard output or a FIFO the bytes already out stay: the trace's
 * end (the binary form's end frame, a compressed stream's) must not
 * follow them, or a reader takes the trace for whole. */
void trace_output_abort(xvm_trace_writer *w, struct output *o)
{
    if (o)
        o->aborted = true;
    (void)xvm_trace_writer_close(w);
    output_abort(o);
}
