/*
 * reader.c - reading a trace, whatever its form: text or binary
 * (doc/trace-format.md), plain or in a gzip or zstd stream, from a file,
 * standard input or memory.  See xvm_trace_reader_* in xipvm_trace.h.
 *
 * One copy of the input: plain input is read straight into the buffer the
 * parser works in (a compressed stream is decompressed into it), lines are
 * parsed in place, raw binary frames decoded where they lie.  Only the
 * unfinished line or frame at the end of the buffer moves, once per refill.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"
#include "textscan.h"

static int failf(xvm_trace_reader *rd, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(xvm_trace_reader *rd, int error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->err, sizeof(rd->err), fmt, ap);
    va_end(ap);
    return rd->error = error;
}

static xvm_trace_reader *reader_new(void)
{
    xvm_trace_reader *rd = calloc(1, sizeof(*rd));
    if (rd == NULL)
        return NULL;
    rd->fd = -1;
    return rd;
}

/* => bytes from the source into p (at most n), 0 at its end; or -errno. */
static long src_read(xvm_trace_reader *rd, void *p, size_t n)
{
    if (rd->src_eof)
        return 0;
    if (rd->mem) {
        size_t k =
            rd->mem_len - rd->mem_pos < n ? rd->mem_len - rd->mem_pos : n;
        memcpy(p, rd->mem + rd->mem_pos, k);
        rd->mem_pos += k;
        rd->src_bytes += k;
        rd->src_eof = k == 0;
        return (long)k;
    }
    for (;;) {
        ssize_t k = read(rd->fd, p, n);
        if (k >= 0) {
            rd->src_bytes += (uint64_t)k;
            rd->src_eof = k == 0;
            return (long)k;
        }
        if (errno != EINTR)
            return -(errno ? errno : EIO);
    }
}

static int fill_raw(xvm_trace_reader *rd)
{
    long k = src_read(rd, rd->raw, RAW_CAP);
    if (k < 0)
        return failf(rd, (int)-k, "read error: %s", strerror((int)-k));
    rd->raw_pos = 0;
    rd->raw_len = (size_t)k;
    return 0;
}

/* Decompresses more after len.  => 0, or an error (set). */
static int inflate_more(xvm_trace_reader *rd)
{
    size_t room = rd->cap - rd->len, before = rd->len;
    if (rd->raw_pos == rd->raw_len) {
        if (fill_raw(rd) != 0)
            return rd->error;
        if (rd->raw_len == 0 && !rd->mid) {
            rd->eof = true;
            return 0;
        }
    }
#ifdef XVM_NO_COMPRESSION
    (void)room, (void)before;
    return failf(rd, ENOTSUP, "%s", NO_COMPRESSION);
#else
    if (rd->comp == GZIP) {
        rd->z.next_in = rd->raw + rd->raw_pos;
        rd->z.avail_in = (uInt)(rd->raw_len - rd->raw_pos);
        rd->z.next_out = rd->buf + rd->len;
        rd->z.avail_out = (uInt)room;
        int rc = inflate(&rd->z, Z_NO_FLUSH);
        rd->raw_pos = rd->raw_len - rd->z.avail_in;
        rd->len = rd->cap - rd->z.avail_out;
        if (rc == Z_STREAM_END) {
            rd->mid = false; /* concatenated members continue */
            if (inflateReset(&rd->z) != Z_OK)
                return failf(rd, ENOMEM, "out of memory");
            return 0;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return failf(rd, EILSEQ, "corrupt compressed data (gzip)");
        if (rd->raw_len == 0 && rd->len == before)
            return failf(
                rd, EILSEQ,
                "corrupt compressed data (the gzip stream ends early)");
        rd->mid = true;
        return 0;
    }
    ZSTD_inBuffer zin = { rd->raw, rd->raw_len, rd->raw_pos };
    ZSTD_outBuffer zout = { rd->buf, rd->cap, rd->len };
    size_t rc = ZSTD_decompressStream(rd->zs, &zout, &zin);
    rd->raw_pos = zin.pos;
    rd->len = zout.pos;
    if (ZSTD_isError(rc))
        return failf(rd, EILSEQ, "corrupt compressed data (zstd: %s)",
                     ZSTD_getErrorName(rc));
    if (rc != 0 && rd->raw_len == 0 && rd->len == before)
        return failf(rd, EILSEQ,
                     "corrupt compressed data (the zstd stream ends early)");
    rd->mid = rc != 0; /* 0: a frame ended, fully flushed */
    return 0;
#endif
}

/* => the source's bytes the decoder has taken so far. */
static uint64_t taken_in(const xvm_trace_reader *rd)
{
    return rd->src_bytes - (rd->raw_len - rd->raw_pos);
}

/*
 * More decoded bytes after len, at least one unless at the end; the
 * unread part moves to the front first when the buffer is full.
 * => 0 (eof set at the end), or an error.
 */
static int more(xvm_trace_reader *rd)
{
    if (rd->eof)
        return 0;
    if (rd->len == rd->cap) {
        size_t keep = rd->len - rd->pos;
        memmove(rd->buf, rd->buf + rd->pos, keep);
        rd->base += rd->pos;
        rd->pos = 0;
        rd->len = keep;
        if (keep == rd->cap)
            return failf(rd, E2BIG, "internal: buffer full");
    }
    size_t before = rd->len;
    uint64_t taken = taken_in(rd);
    for (int idle = 0; rd->len == before && !rd->eof;) {
        if (idle == 1000000)
            return failf(rd, EILSEQ, "corrupt compressed data (no progress)");
        if (rd->comp == PLAIN) {
            long k = src_read(rd, rd->buf + rd->len, rd->cap - rd->len);
            if (k < 0)
                return failf(rd, (int)-k, "read error: %s", strerror((int)-k));
            rd->len += (size_t)k;
            rd->eof = k == 0;
        } else if (inflate_more(rd) != 0) {
            return rd->error;
        }
        /* Input taken is progress, though nothing came of it (skippable
         * frames, empty gzip members): only a decoder that takes nothing
         * and gives nothing is stuck. */
        uint64_t now = taken_in(rd);
        idle = now == taken ? idle + 1 : 0;
        taken = now;
    }
    rd->buf[rd->len] = '\0'; /* stops the text fast path (text_fast) */
    return 0;
}

/* => 0 with at least n unread bytes, or with fewer at the end; or error. */
static int ensure(xvm_trace_reader *rd, size_t n)
{
    if (rd->len - rd->pos < n && rd->pos > 0 && rd->cap - rd->pos < n + 1) {
        size_t keep = rd->len - rd->pos;
        memmove(rd->buf, rd->buf + rd->pos, keep);
        rd->base += rd->pos;
        rd->pos = 0;
        rd->len = keep;
    }
    while (rd->len - rd->pos < n && !rd->eof)
        if (more(rd) != 0)
            return rd->error;
    return 0;
}

static bool gzip_magic(const uint8_t *h, size_t got)
{
    return got >= 2 && h[0] == 0x1f && h[1] == 0x8b;
}

/* A zstd frame, or a skippable frame (pzstd's streams start with one). */
static bool zstd_magic(const uint8_t *h, size_t got)
{
    return got == 4 &&
           (memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0 ||
            ((h[0] & 0xf0) == 0x50 && memcmp(h + 1, "\x2a\x4d\x18", 3) == 0));
}

/* Tells the compression by its magic bytes and starts a decoder. */
static int start(xvm_trace_reader *rd)
{
    uint8_t head[4];
    long k = 0;
    size_t got = 0;
    rd->started = true;
    while (got < sizeof(head) &&
           (k = src_read(rd, head + got, sizeof(head) - got)) > 0)
        got += (size_t)k;
    if (k < 0)
        return failf(rd, (int)-k, "read error: %s", strerror((int)-k));
    /* A plain trace in memory needs no more than itself. */
    bool small = rd->mem && rd->mem_len < BUF_CAP && !gzip_magic(head, got) &&
                 !zstd_magic(head, got);
    rd->cap = small ? rd->mem_len + 1 : BUF_CAP;
    /* Zeroed: a decoder may read the slack past a frame's end. */
    if ((rd->buf = calloc(1, rd->cap + TB_SLACK)) == NULL)
        return failf(rd, ENOMEM, "out of memory");
#ifdef XVM_NO_COMPRESSION
    if (gzip_magic(head, got) || zstd_magic(head, got))
        return failf(rd, ENOTSUP, "%s", NO_COMPRESSION);
#else
    if (gzip_magic(head, got)) {
        rd->comp = GZIP;
        if (inflateInit2(&rd->z, 15 + 32) != Z_OK) /* gzip or zlib */
            return failf(rd, ENOMEM, "out of memory");
        rd->z_init = true;
    } else if (zstd_magic(head, got)) {
        rd->comp = ZSTD;
        if ((rd->zs = ZSTD_createDStream()) == NULL ||
            ZSTD_isError(ZSTD_initDStream(rd->zs)))
            return failf(rd, ENOMEM, "out of memory");
    }
#endif
    if (rd->comp == PLAIN) {
        memcpy(rd->buf, head, got);
        rd->len = got;
        rd->buf[got] = '\0';
        rd->eof = got < sizeof(head);
    } else {
        if ((rd->raw = malloc(RAW_CAP)) == NULL)
            return failf(rd, ENOMEM, "out of memory");
        memcpy(rd->raw, head, got);
        rd->raw_len = got;
        rd->mid = true;
    }
    /* The form: the binary magic, or else a text header line. */
    if (ensure(rd, TB_MAGIC_LEN) != 0)
        return rd->error;
    if (rd->len - rd->pos == 0)
        return failf(rd, EINVAL, "empty trace");
    if (rd->len - rd->pos >= TB_MAGIC_LEN &&
        memcmp(rd->buf + rd->pos, TB_MAGIC, TB_MAGIC_LEN) == 0) {
        rd->fmt = XVM_TRACE_BINARY;
        if (ensure(rd, TB_HEAD_LEN) != 0)
            return rd->error;
        const uint8_t *h = rd->buf + rd->pos;
        if (rd->len - rd->pos < TB_HEAD_LEN)
            return failf(rd, EINVAL, "binary trace: truncated header");
        if (h[TB_MAGIC_LEN] < 1 || h[TB_MAGIC_LEN] > TB_VERSION)
            return failf(rd, EINVAL, "binary trace: version %u, not 1 to %u",
                         h[TB_MAGIC_LEN], TB_VERSION);
        for (unsigned i = TB_MAGIC_LEN + 1; i < TB_HEAD_LEN; i++)
            if (h[i] != 0)
                return failf(rd, EINVAL,
                             "binary trace: reserved header byte %u not 0", i);
        rd->pos += TB_HEAD_LEN;
        if ((rd->dec = malloc(sizeof(*rd->dec))) == NULL)
            return failf(rd, ENOMEM, "out of memory");
        memset(&rd->dec->regs, 0, sizeof(rd->dec->regs));
        rd->dec->have_pid = false;
        rd->dec->at_reg = h[TB_MAGIC_LEN] >= 2 ? TB_AT_REG : TB_NO_AT_REG;
        return 0;
    }
    rd->fmt = XVM_TRACE_TEXT;
    return 0;
}

/* ---- text ---- */

/* => the next line in place, NUL-terminated, and its length; NULL at the
 *    end or on an error (set). */
static char *next_line(xvm_trace_reader *rd, size_t *n)
{
    size_t from = rd->pos;
    for (;;) {
        uint8_t *start = rd->buf + rd->pos;
        uint8_t *nl = memchr(rd->buf + from, '\n', rd->len - from);
        size_t have = rd->len - rd->pos;
        if (nl != NULL) {
            *n = (size_t)(nl - start);
            if (*n >= XVM_TRACE_MAX_LINE)
                break;
            *nl = '\0';
            rd->pos += *n + 1;
            rd->line++;
            return (char *)start;
        }
        if (have >= XVM_TRACE_MAX_LINE)
            break;
        if (rd->eof) {
            if (have == 0)
                return NULL;
            /* A last line without '\n': its NUL goes into the slack. */
            start[have] = '\0';
            *n = have;
            rd->pos += have;
            rd->line++;
            return (char *)start;
        }
        size_t scanned = have;
        if (more(rd) != 0)
            return NULL;
        from = rd->pos + scanned; /* more() may have moved the bytes */
    }
    failf(rd, E2BIG, "line %llu: longer than %u bytes",
          (unsigned long long)rd->line + 1, XVM_TRACE_MAX_LINE - 1);
    return NULL;
}

/*
 * The bulk of a text trace, "r|w|x PID ADDR SIZE\n", parsed where it lies
 * without looking for the line's end first.  The NUL after the buffer's
 * last byte (more()) stops it at a line the buffer does not hold whole.
 * => 1 with *ev filled, or 0: next_line() and the parser take the line.
 */
static inline int text_fast(xvm_trace_reader *rd, struct xvm_trace_event *ev)
{
    const char *p = (const char *)rd->buf + rd->pos;
    trace_event_clear(ev);
    const char *q = ts_access(p, 1, ev);
    if (q == NULL || *q != '\n')
        return 0;
    rd->pos += (size_t)(q + 1 - p);
    rd->line++;
    return 1;
}

static int read_text(xvm_trace_reader *rd, struct xvm_trace_event *ev)
{
    const char *why;
    size_t n;
    char *line;
    while ((line = next_line(rd, &n)) != NULL) {
        if (rd->line == 1) {
            if (memchr(line, '\0', n) ||
                (rd->version = xvm_trace_header_version(line)) == 0)
                return failf(rd, EINVAL,
                             "line 1: not a trace: the first line must be "
                             "'" XVM_TRACE_HEADER "' (or 'xipvm-trace 1')");
            continue;
        }
        int rc = trace_parse_text_v(line, n, rd->version, ev, &why);
        if (rc == 1)
            return 1;
        if (rc < 0)
            return failf(rd, EINVAL, "line %llu: %s",
                         (unsigned long long)rd->line, why ? why : "malformed");
    }
    if (rd->error)
        return rd->error;
    rd->done = true;
    return 0;
}

/* ---- binary ---- */

static int bad_frame(xvm_trace_reader *rd, const char *why)
{
    return failf(rd, EINVAL, "binary trace: frame at byte %llu: %s",
                 (unsigned long long)rd->frame_at, why);
}

/* The end frame: the count of events, then nothing. */
static int end_frame(xvm_trace_reader *rd, uint32_t rawlen, uint32_t stored)
{
    if (rawlen != 0 || stored != TB_END_LEN)
        return bad_frame(rd, "bad end frame");
    if (ensure(rd, TB_FRAME_HEAD + TB_END_LEN) != 0)
        return rd->error;
    if (rd->len - rd->pos < TB_FRAME_HEAD + TB_END_LEN)
        return bad_frame(rd, "truncated end frame");
    uint64_t n = tb_get_u64(rd->buf + rd->pos + TB_FRAME_HEAD);
    rd->pos += TB_FRAME_HEAD + TB_END_LEN;
    if (n != rd->events)
        return failf(rd, EINVAL,
                     "binary trace: the end frame counts %llu events, the "
                     "frames held %llu",
                     (unsigned long long)n, (unsigned long long)rd->events);
    if (ensure(rd, 1) != 0)
        return rd->error;
    if (rd->len - rd->pos != 0)
        return failf(rd, EINVAL,
                     "binary trace: data after the end frame "
                     "(byte %llu)",
                     (unsigned long long)(rd->base + rd->pos));
    rd->done = true;
    return 0;
}

/* => 1 with the next frame's records in frame/flen, 0 after the end
 *    frame, or an error. */
static int next_frame(xvm_trace_reader *rd)
{
    if (ensure(rd, TB_FRAME_HEAD) != 0)
        return rd->error;
    rd->frame_at = rd->base + rd->pos;
    if (rd->len - rd->pos == 0)
        return bad_frame(rd, "the trace ends without its end frame");
    if (rd->len - rd->pos < TB_FRAME_HEAD)
        return bad_frame(rd, "truncated frame header");
    const uint8_t *h = rd->buf + rd->pos; /* until ensure() below */
    uint8_t kind = h[0];
    uint32_t rawlen = tb_get_u32(h + 1), stored = tb_get_u32(h + 5);
    if (kind == TB_FRAME_END)
        return end_frame(rd, rawlen, stored);
    if (kind != TB_FRAME_RAW && kind != TB_FRAME_ZSTD)
        return bad_frame(rd, "unknown frame kind");
    if (rawlen == 0 || rawlen > TB_FRAME_MAX)
        return bad_frame(rd, "record bytes out of range (1 to 1 MiB)");
#ifdef XVM_NO_COMPRESSION
    if (kind == TB_FRAME_ZSTD)
        return failf(rd, ENOTSUP, "%s", NO_COMPRESSION);
#define ZSTD_compressBound(n) (n)
#endif
    if (kind == TB_FRAME_RAW
            ? stored != rawlen
            : stored == 0 || stored > ZSTD_compressBound(TB_FRAME_MAX))
        return bad_frame(rd, "bad stored length");
    if (ensure(rd, TB_FRAME_HEAD + (size_t)stored) != 0)
        return rd->error;
    if (rd->len - rd->pos < TB_FRAME_HEAD + (size_t)stored)
        return bad_frame(rd, "truncated frame");
    const uint8_t *payload = rd->buf + rd->pos + TB_FRAME_HEAD;
    rd->pos += TB_FRAME_HEAD + (size_t)stored;
    if (kind == TB_FRAME_RAW) {
        rd->frame = payload; /* the buffer's slack lies beyond it */
    } else {
#ifndef XVM_NO_COMPRESSION
        if (rd->fz == NULL &&
            ((rd->fz = ZSTD_createDCtx()) == NULL ||
             (rd->fbuf = calloc(1, TB_FRAME_MAX + TB_SLACK)) == NULL))
            return failf(rd, ENOMEM, "out of memory");
        unsigned long long want = ZSTD_getFrameContentSize(payload, stored);
        if (want != rawlen ||
            ZSTD_findFrameCompressedSize(payload, stored) != stored)
            return bad_frame(rd, "bad zstd frame");
        size_t got =
            ZSTD_decompressDCtx(rd->fz, rd->fbuf, rawlen, payload, stored);
        if (ZSTD_isError(got) || got != rawlen)
            return bad_frame(rd, "corrupt zstd frame");
        rd->frame = rd->fbuf;
#endif
    }
    rd->fpos = 0;
    rd->flen = rawlen;
    tb_dec_frame(rd->dec);
    return 1;
}

static int read_binary(xvm_trace_reader *rd, struct xvm_trace_event *ev)
{
    while (rd->fpos == rd->flen) {
        int rc = next_frame(rd);
        if (rc != 1)
            return rc;
    }
    const char *why = NULL;
    size_t fault = 0;
    rd->rec_at = rd->fpos;
    long n = tb_decode(rd->dec, rd->frame + rd->fpos, rd->frame + rd->flen, ev,
                       &why, &fault);
    if (n < 0)
        return failf(rd, EINVAL,
                     "binary trace: record at byte %llu of the frame at byte "
                     "%llu: %s",
                     (unsigned long long)(rd->rec_at + fault),
                     (unsigned long long)rd->frame_at, why);
    rd->fpos += (size_t)n;
    rd->events++;
    return 1;
}

/* ---- the interface ---- */

static TRACE_NOINLINE int read_any(xvm_trace_reader *rd,
                                   struct xvm_trace_event *ev);

/* The hot paths inline, everything else (and every error) out of line. */
int xvm_trace_read(xvm_trace_reader *rd, struct xvm_trace_event *ev)
{
    if (rd == NULL || ev == NULL)
        return EINVAL;
    if (rd->fast == FAST_TEXT) {
        if (text_fast(rd, ev))
            return 1;
    } else if (rd->fast == FAST_BINARY && rd->fpos < rd->flen) {
        long n = tb_decode_access(rd->dec, rd->frame + rd->fpos,
                                  rd->frame + rd->flen, ev);
        if (n > 0) {
            rd->rec_at = rd->fpos;
            rd->fpos += (size_t)n;
            rd->events++;
            return 1;
        }
    }
    return read_any(rd, ev);
}

static int read_any(xvm_trace_reader *rd, struct xvm_trace_event *ev)
{
    int rc;
    rd->fast = FAST_NONE;
    if (rd->error)
        return rd->error;
    if (rd->done)
        return 0;
    if (!rd->started && start(rd) != 0)
        return rd->error;
    rc = rd->fmt == XVM_TRACE_TEXT ? read_text(rd, ev) : read_binary(rd, ev);
    /* Past the header, with no error: the hot paths may go first. */
    if (rc == 1)
        rd->fast = rd->fmt == XVM_TRACE_TEXT ? FAST_TEXT : FAST_BINARY;
    return rc;
}

int xvm_trace_reader_open(const char *path, xvm_trace_reader **out, char *err,
                          size_t errlen)
{
    if (path == NULL || out == NULL)
        return EINVAL;
    xvm_trace_reader *rd = reader_new();
    if (rd == NULL) {
        snprintf(err, errlen, "out of memory");
        return ENOMEM;
    }
    if (strcmp(path, "-") == 0) {
        rd->fd = STDIN_FILENO;
    } else if ((rd->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        xvm_trace_reader_close(rd);
        return e;
    } else {
        rd->own_fd = true;
    }
    *out = rd;
    return 0;
}

int xvm_trace_reader_mem(const void *buf, size_t len, xvm_trace_reader **out)
{
    if ((buf == NULL && len) || out == NULL)
        return EINVAL;
    xvm_trace_reader *rd = reader_new();
    if (rd == NULL)
        return ENOMEM;
    rd->mem = buf ? buf : (const uint8_t *)"";
    rd->mem_len = len;
    *out = rd;
    return 0;
}

const char *xvm_trace_reader_error(const xvm_trace_reader *rd)
{
    return rd && rd->error ? rd->err : NULL;
}

enum xvm_trace_format xvm_trace_reader_format(const xvm_trace_reader *rd)
{
    return rd->fmt;
}

int xvm_trace_reader_where(const xvm_trace_reader *rd, char *buf, size_t len)
{
    if (rd->fmt == XVM_TRACE_TEXT)
        return snprintf(buf, len, "line %llu", (unsigned long long)rd->line);
    return snprintf(buf, len,
                    "event %llu (record at byte %llu of the frame at byte "
                    "%llu)",
                    (unsigned long long)rd->events,
                    (unsigned long long)rd->rec_at,
                    (unsigned long long)rd->frame_at);
}

uint64_t xvm_trace_reader_lines(const xvm_trace_reader *rd)
{
    return rd->line;
}

uint64_t xvm_trace_reader_bytes(const xvm_trace_reader *rd)
{
    return rd->src_bytes;
}

void xvm_trace_reader_close(xvm_trace_reader *rd)
{
    if (rd == NULL)
        return;
#ifndef XVM_NO_COMPRESSION
    if (rd->z_init)
        inflateEnd(&rd->z);
    ZSTD_freeDStream(rd->zs);
    ZSTD_freeDCtx(rd->fz);
#endif
    if (rd->own_fd)
        close(rd->fd);
    free(rd->raw);
    free(rd->buf);
    free(rd->fbuf);
    free(rd->dec);
    free(rd);
}
