/*
 * writer.c - writing a trace: text (plain, gzip or zstd) or binary (raw
 * or zstd frames, compressed as it goes), to a file, standard output or
 * a caller's function.  See xvm_trace_writer_* in xipvm_trace.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifndef XVM_NO_COMPRESSION
#include <zlib.h>
#include <zstd.h>
#endif

#include "tracefmt.h"

#define OUT_CAP (UINT32_C(1) << 20) /* text bytes before they go out */

struct xvm_trace_writer {
    struct xvm_trace_writer_config cfg;
    xvm_trace_write_fn fn;
    void *ctx;
    int fd; /* open()'s, or -1 */
    bool own_fd;
    int error; /* sticky */
    uint64_t events;
    /* text: lines gather in out, then go out plain or compressed */
    uint8_t *out;
    size_t out_len;
#ifndef XVM_NO_COMPRESSION
    z_stream z;
    bool z_init;
    ZSTD_CCtx *zc;
#endif
    uint8_t *zbuf; /* compressed bytes */
    size_t zcap;
    /* binary: records gather in frame */
    struct tb_enc enc;
    uint8_t *frame;
    size_t flen;
};

void xvm_trace_writer_config_init(struct xvm_trace_writer_config *cfg)
{
    cfg->format = XVM_TRACE_BINARY;
#ifdef XVM_NO_COMPRESSION
    cfg->compression = XVM_TRACE_PLAIN;
#else
    cfg->compression = XVM_TRACE_ZSTD;
#endif
    cfg->level = 0;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

void xvm_trace_writer_config_path(const char *path,
                                  struct xvm_trace_writer_config *cfg)
{
    xvm_trace_writer_config_init(cfg);
    if (path && (ends_with(path, ".xvt") || ends_with(path, ".xvt.zst")))
        return; /* binary, zstd frames */
    cfg->format = XVM_TRACE_TEXT;
    cfg->compression = path && ends_with(path, ".gz")    ? XVM_TRACE_GZIP
                       : path && ends_with(path, ".zst") ? XVM_TRACE_ZSTD
                                                         : XVM_TRACE_PLAIN;
}

static int sink(xvm_trace_writer *w, const void *p, size_t n)
{
    if (w->error == 0 && n > 0 && (w->error = w->fn(w->ctx, p, n)) < 0)
        w->error = EIO;
    return w->error;
}

static int fd_write(void *ctx, const void *buf, size_t len)
{
    const xvm_trace_writer *w = ctx;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = write(w->fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 && errno ? errno : EIO;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* ---- text ---- */

/* Sends out[0, out_len) on, compressed as configured; end: the stream's. */
static int text_flush(xvm_trace_writer *w, bool end)
{
#ifdef XVM_NO_COMPRESSION
    (void)end;
#endif
    if (w->cfg.compression == XVM_TRACE_PLAIN) {
        sink(w, w->out, w->out_len);
#ifndef XVM_NO_COMPRESSION
    } else if (w->cfg.compression == XVM_TRACE_GZIP) {
        w->z.next_in = w->out;
        w->z.avail_in = (uInt)w->out_len;
        int rc;
        do {
            w->z.next_out = w->zbuf;
            w->z.avail_out = (uInt)w->zcap;
            rc = deflate(&w->z, end ? Z_FINISH : Z_NO_FLUSH);
            if (rc == Z_STREAM_ERROR)
                return w->error = w->error ? w->error : EIO;
            sink(w, w->zbuf, w->zcap - w->z.avail_out);
        } while (w->z.avail_out == 0 || (end && rc != Z_STREAM_END));
    } else {
        ZSTD_inBuffer in = { w->out, w->out_len, 0 };
        size_t left;
        do {
            ZSTD_outBuffer o = { w->zbuf, w->zcap, 0 };
            left = ZSTD_compressStream2(w->zc, &o, &in,
                                        end ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(left))
                return w->error = w->error ? w->error : EIO;
            sink(w, w->zbuf, o.pos);
        } while (in.pos < in.size || (end && left != 0));
#endif
    }
    w->out_len = 0;
    return w->error;
}

static int text_start(xvm_trace_writer *w)
{
    if ((w->out = malloc(OUT_CAP + XVM_TRACE_MAX_LINE + 1)) == NULL)
        return ENOMEM;
#ifndef XVM_NO_COMPRESSION
    int level = w->cfg.level;
    if (w->cfg.compression == XVM_TRACE_GZIP) {
        w->zcap = OUT_CAP;
        if ((w->zbuf = malloc(w->zcap)) == NULL ||
            deflateInit2(&w->z, level ? level : Z_DEFAULT_COMPRESSION,
                         Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return ENOMEM;
        w->z_init = true;
    } else if (w->cfg.compression == XVM_TRACE_ZSTD) {
        w->zcap = ZSTD_CStreamOutSize();
        if ((w->zbuf = malloc(w->zcap)) == NULL ||
            (w->zc = ZSTD_createCCtx()) == NULL ||
            ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel,
                                                level ? level : 3)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1)))
            return ENOMEM;
    }
#endif
    memcpy(w->out, XVM_TRACE_HEADER "\n", sizeof(XVM_TRACE_HEADER));
    w->out_len = sizeof(XVM_TRACE_HEADER);
    return 0;
}

static int text_write(xvm_trace_writer *w, const struct xvm_trace_event *ev)
{
    int n = xvm_trace_format_event(ev, (char *)w->out + w->out_len,
                                   XVM_TRACE_MAX_LINE + 1);
    if (n < 0)
        return EINVAL; /* unwritable, or its line too long */
    w->out_len += (size_t)n;
    return w->out_len >= OUT_CAP ? text_flush(w, false) : 0;
}

/* ---- binary ---- */

static int frame_flush(xvm_trace_writer *w)
{
    uint8_t head[TB_FRAME_HEAD];
    if (w->flen == 0)
        return w->error;
    head[0] = TB_FRAME_RAW;
    tb_put_u32(head + 1, (uint32_t)w->flen);
    tb_put_u32(head + 5, (uint32_t)w->flen);
#ifndef XVM_NO_COMPRESSION
    if (w->cfg.compression == XVM_TRACE_ZSTD) {
        size_t z = ZSTD_compress2(w->zc, w->zbuf, w->zcap, w->frame, w->flen);
        if (ZSTD_isError(z))
            return w->error = w->error ? w->error : EIO;
        head[0] = TB_FRAME_ZSTD;
        tb_put_u32(head + 5, (uint32_t)z);
        sink(w, head, sizeof(head));
        sink(w, w->zbuf, z);
    } else
#endif
    {
        sink(w, head, sizeof(head));
        sink(w, w->frame, w->flen);
    }
    w->flen = 0;
    tb_enc_frame(&w->enc);
    return w->error;
}

static int binary_start(xvm_trace_writer *w)
{
    uint8_t head[TB_HEAD_LEN] = TB_MAGIC; /* the rest zero */
    head[TB_MAGIC_LEN] = TB_VERSION;
    if (w->cfg.compression == XVM_TRACE_GZIP)
        return EINVAL; /* binary traces compress frame by frame (zstd) */
    if ((w->frame = malloc(TB_FRAME_MAX + TB_EVENT_MAX)) == NULL)
        return ENOMEM;
#ifndef XVM_NO_COMPRESSION
    if (w->cfg.compression == XVM_TRACE_ZSTD) {
        w->zcap = ZSTD_compressBound(TB_FRAME_MAX);
        if ((w->zbuf = malloc(w->zcap)) == NULL ||
            (w->zc = ZSTD_createCCtx()) == NULL ||
            ZSTD_isError(
                ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel,
                                       w->cfg.level ? w->cfg.level : 3)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1)))
            return ENOMEM;
    }
#endif
    memset(&w->enc, 0, sizeof(w->enc));
    tb_enc_frame(&w->enc);
    return sink(w, head, sizeof(head));
}

static int binary_write(xvm_trace_writer *w, const struct xvm_trace_event *ev)
{
    /* An event's records never straddle frames: a frame ends early when
     * the largest event might not fit. */
    if (TB_FRAME_MAX - w->flen < TB_EVENT_MAX && frame_flush(w) != 0)
        return w->error;
    int n = tb_encode(&w->enc, ev, w->frame + w->flen);
    if (n < 0)
        return EINVAL;
    w->flen += (size_t)n;
    return 0;
}

/* ---- the interface ---- */

/* => 0, EINVAL or ENOTSUP for a configuration no writer takes. */
static int config_check(const struct xvm_trace_writer_config *cfg)
{
    if ((cfg->format != XVM_TRACE_TEXT && cfg->format != XVM_TRACE_BINARY) ||
        (unsigned)cfg->compression > XVM_TRACE_ZSTD || cfg->level < 0 ||
        cfg->level > (cfg->compression == XVM_TRACE_GZIP ? 9 : 22) ||
        (cfg->format == XVM_TRACE_BINARY && cfg->compression == XVM_TRACE_GZIP))
        return EINVAL;
#ifdef XVM_NO_COMPRESSION
    if (cfg->compression != XVM_TRACE_PLAIN)
        return ENOTSUP;
#endif
    return 0;
}

/* fd >= 0: the writer writes to it (fd_write, with itself as context). */
static int writer_make(const struct xvm_trace_writer_config *cfg,
                       xvm_trace_write_fn fn, void *ctx, int fd,
                       xvm_trace_writer **out)
{
    if (cfg == NULL || out == NULL)
        return EINVAL;
    int bad = config_check(cfg);
    if (bad)
        return bad;
    xvm_trace_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return ENOMEM;
    w->cfg = *cfg;
    w->fn = fd >= 0 ? fd_write : fn;
    w->ctx = fd >= 0 ? w : ctx;
    w->fd = fd;
    int error = cfg->format == XVM_TRACE_TEXT ? text_start(w) : binary_start(w);
    if (error) {
        w->error = error;
        xvm_trace_writer_close(w);
        return error;
    }
    *out = w;
    return 0;
}

int xvm_trace_writer_create(const struct xvm_trace_writer_config *cfg,
                            xvm_trace_write_fn fn, void *ctx,
                            xvm_trace_writer **out)
{
    return fn ? writer_make(cfg, fn, ctx, -1, out) : EINVAL;
}

int xvm_trace_writer_open(const char *path,
                          const struct xvm_trace_writer_config *cfg,
                          xvm_trace_writer **out, char *err, size_t errlen)
{
    struct xvm_trace_writer_config by_path;
    if (path == NULL || out == NULL)
        return EINVAL;
    if (cfg == NULL) {
        xvm_trace_writer_config_path(path, &by_path);
        cfg = &by_path;
    }
    bool std = strcmp(path, "-") == 0;
    /* Checked before open(): a configuration no writer takes leaves the
     * file as it was. */
    int fd = -1, error = config_check(cfg);
    if (error == 0) {
        fd = std ? STDOUT_FILENO
                 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            int e = errno;
            snprintf(err, errlen, "%s: %s", path, strerror(e));
            return e;
        }
        error = writer_make(cfg, NULL, NULL, fd, out);
    }
    if (error) {
        snprintf(err, errlen, "%s: %s", path,
                 error == EINVAL    ? "bad trace format"
                 : error == ENOTSUP ? "a compressed trace, and this libxipvm "
                                      "was built without zlib and zstd "
                                      "(-Dcompression=false)"
                                    : strerror(error));
        if (fd >= 0 && !std)
            close(fd);
        return error;
    }
    (*out)->own_fd = !std;
    return 0;
}

int xvm_trace_write(xvm_trace_writer *w, const struct xvm_trace_event *ev)
{
    if (w == NULL || ev == NULL)
        return EINVAL;
    if (w->error)
        return w->error;
    int error = w->cfg.format == XVM_TRACE_TEXT ? text_write(w, ev)
                                                : binary_write(w, ev);
    if (error == 0)
        w->events++;
    return error;
}

uint64_t xvm_trace_writer_events(const xvm_trace_writer *w)
{
    return w ? w->events : 0;
}

int xvm_trace_writer_close(xvm_trace_writer *w)
{
    if (w == NULL)
        return EINVAL;
    int error = w->error;
    if (error == 0 && w->cfg.format == XVM_TRACE_TEXT && w->out) {
        error = text_flush(w, true);
    } else if (error == 0 && w->frame) {
        uint8_t end[TB_FRAME_HEAD + TB_END_LEN] = { TB_FRAME_END };
        tb_put_u32(end + 5, TB_END_LEN);
        tb_put_u64(end + TB_FRAME_HEAD, w->events);
        if (frame_flush(w) == 0)
            sink(w, end, sizeof(end));
        error = w->error;
    }
    if (w->own_fd && close(w->fd) != 0 && error == 0)
        error = errno ? errno : EIO;
#ifndef XVM_NO_COMPRESSION
    if (w->z_init)
        deflateEnd(&w->z);
    ZSTD_freeCCtx(w->zc);
#endif
    free(w->out);
    free(w->zbuf);
    free(w->frame);
    free(w);
    return error;
}
