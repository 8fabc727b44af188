/*
 * Output files that appear whole or not at all: written to a temporary
 * file next to the target and renamed into place once complete, removed
 * on failure.  A name ending in .gz or .zst compresses as it is written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "cli.h"

#define ZBUF (1u << 17)

enum kind { PLAIN, GZIP, ZSTD };

struct output {
    char *path, *tmp;
    FILE *raw;  /* the temporary file */
    FILE *user; /* what the caller writes: raw, or a compressing cookie */
    enum kind kind;
    z_stream z;
    ZSTD_CStream *zs;
    int failed;
    unsigned char buf[ZBUF];
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Compressed bytes out to the temporary file. */
static int put_raw(struct output *o, const void *p, size_t n)
{
    if (n > 0 && fwrite(p, 1, n, o->raw) != n) {
        o->failed = 1;
        return -1;
    }
    return 0;
}

/* => 0 when every byte of [p, p+n) went through the compressor; with
 *    finish, also the end of the stream. */
static int squeeze(struct output *o, const void *p, size_t n, int finish)
{
    if (o->kind == GZIP) {
        o->z.next_in = (Bytef *)(uintptr_t)p;
        o->z.avail_in = (uInt)n;
        for (;;) {
            o->z.next_out = o->buf;
            o->z.avail_out = ZBUF;
            int rc = deflate(&o->z, finish ? Z_FINISH : Z_NO_FLUSH);
            if (rc == Z_STREAM_ERROR ||
                put_raw(o, o->buf, ZBUF - o->z.avail_out) != 0)
                return -1;
            if (finish ? rc == Z_STREAM_END
                       : o->z.avail_in == 0 && o->z.avail_out != 0)
                return 0;
        }
    }
    ZSTD_inBuffer in = { p, n, 0 };
    for (;;) {
        ZSTD_outBuffer out = { o->buf, ZBUF, 0 };
        size_t rc = ZSTD_compressStream2(o->zs, &out, &in,
                                         finish ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(rc) || put_raw(o, o->buf, out.pos) != 0)
            return -1;
        if (finish ? rc == 0 : in.pos == in.size)
            return 0;
    }
}

static ssize_t cookie_write(void *c, const char *p, size_t n)
{
    struct output *o = c;
    if (o->failed || squeeze(o, p, n, 0) != 0) {
        o->failed = 1;
        errno = EIO;
        return -1;
    }
    return (ssize_t)n;
}

static int cookie_close(void *c)
{
    struct output *o = c;
    if (!o->failed && squeeze(o, NULL, 0, 1) != 0)
        o->failed = 1;
    return o->failed ? -1 : 0;
}

static void release(struct output *o)
{
    if (o->kind == GZIP)
        deflateEnd(&o->z);
    if (o->zs)
        ZSTD_freeCStream(o->zs);
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
        o->user = o->raw = stdout;
        *out = o;
        return stdout;
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
    o->kind = ends_with(path, ".gz")    ? GZIP
              : ends_with(path, ".zst") ? ZSTD
                                        : PLAIN;
    int ok = 1;
    if (o->kind == GZIP)
        /* 15 + 16: a gzip header */
        ok = deflateInit2(&o->z, 6, Z_DEFLATED, 15 + 16, 8,
                          Z_DEFAULT_STRATEGY) == Z_OK;
    else if (o->kind == ZSTD)
        ok = (o->zs = ZSTD_createCStream()) != NULL &&
             !ZSTD_isError(
                 ZSTD_CCtx_setParameter(o->zs, ZSTD_c_compressionLevel, 3));
    if (ok && o->kind != PLAIN) {
        cookie_io_functions_t io = { .write = cookie_write,
                                     .close = cookie_close };
        ok = (o->user = fopencookie(o, "w", io)) != NULL;
    } else {
        o->user = o->raw;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: cannot start the compressor", path);
        fclose(o->raw);
        unlink(o->tmp);
        release(o);
        return NULL;
    }
    *out = o;
    return o->user;
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
    if (o->user != o->raw)
        bad |= fclose(o->user) != 0 || o->failed;
    bad |= fflush(o->raw) != 0 || fsync(fileno(o->raw)) != 0;
    bad |= fclose(o->raw) != 0;
    if (!bad && rename(o->tmp, o->path) != 0)
        bad = 1;
    if (bad) {
        snprintf(err, errlen, "%s: %s", o->path,
                 errno ? strerror(errno) : "write error");
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
    if (o->user != o->raw) {
        o->failed = 1; /* the close below writes nothing more */
        fclose(o->user);
    }
    fclose(o->raw);
    unlink(o->tmp);
    release(o);
}
