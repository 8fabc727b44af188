/*
 * Trace input: plain text, gzip or zstd, told apart by their magic bytes,
 * from a file or standard input, read as lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "cli.h"

#define RAW_CAP  (1u << 17)
#define OUT_CAP  (1u << 20)
#define MAX_LINE (1u << 16)

enum kind { PLAIN, GZIP, ZSTD };

struct input {
    FILE *f;
    enum kind kind;
    z_stream z;
    ZSTD_DStream *zs;
    uint8_t raw[RAW_CAP];
    size_t raw_pos, raw_len;
    uint64_t raw_total;
    char out[OUT_CAP + 1];
    size_t out_pos, out_len;
    int eof; /* no more decoded bytes will come */
    int mid; /* inside a gzip member or zstd frame */
};

static int fill_raw(struct input *in)
{
    in->raw_len = fread(in->raw, 1, RAW_CAP, in->f);
    in->raw_pos = 0;
    in->raw_total += in->raw_len;
    return ferror(in->f) ? EIO : 0;
}

struct input *input_open(const char *path, char *err, size_t errlen)
{
    struct input *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in->f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(in);
        return NULL;
    }
    if (fill_raw(in) != 0) {
        snprintf(err, errlen, "%s: read error", path);
        input_close(in);
        return NULL;
    }
    const uint8_t *b = in->raw;
    if (in->raw_len >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        in->kind = GZIP;
        in->mid = 1;
        /* 15 + 32: zlib or gzip headers, detected. */
        if (inflateInit2(&in->z, 15 + 32) != Z_OK)
            in->kind = PLAIN, in->eof = 1;
    } else if (in->raw_len >= 4 && b[0] == 0x28 && b[1] == 0xb5 &&
               b[2] == 0x2f && b[3] == 0xfd) {
        in->kind = ZSTD;
        in->mid = 1;
        in->zs = ZSTD_createDStream();
        if (in->zs == NULL || ZSTD_isError(ZSTD_initDStream(in->zs))) {
            snprintf(err, errlen, "%s: cannot start zstd", path);
            input_close(in);
            return NULL;
        }
    }
    return in;
}

/* Appends decoded bytes after out_len; => 0, or an errno. */
static int decode_more(struct input *in)
{
    size_t room = OUT_CAP - in->out_len;
    if (in->raw_pos == in->raw_len) {
        if (fill_raw(in) != 0)
            return EIO;
        /* Inside a member or frame, the decoder may still hold output;
         * it is asked below, and must end it (else: truncated). */
        if (in->raw_len == 0 && (in->kind == PLAIN || !in->mid)) {
            in->eof = 1;
            return 0;
        }
    }
    size_t before = in->out_len;
    if (in->kind == PLAIN) {
        size_t n =
            in->raw_len - in->raw_pos < room ? in->raw_len - in->raw_pos : room;
        memcpy(in->out + in->out_len, in->raw + in->raw_pos, n);
        in->raw_pos += n;
        in->out_len += n;
        return 0;
    }
    if (in->kind == GZIP) {
        in->z.next_in = in->raw + in->raw_pos;
        in->z.avail_in = (uInt)(in->raw_len - in->raw_pos);
        in->z.next_out = (Bytef *)in->out + in->out_len;
        in->z.avail_out = (uInt)room;
        int rc = inflate(&in->z, Z_NO_FLUSH);
        in->raw_pos = in->raw_len - in->z.avail_in;
        in->out_len = OUT_CAP - in->z.avail_out;
        if (rc == Z_STREAM_END) {
            /* Concatenated members continue; anything else ends it. */
            in->mid = 0;
            if (inflateReset(&in->z) != Z_OK)
                in->eof = 1;
            return 0;
        }
        if (in->raw_len == 0 && in->out_len == before)
            return EILSEQ; /* the input ended inside a member */
        in->mid = 1;
        return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : EILSEQ;
    }
    ZSTD_inBuffer zin = { in->raw, in->raw_len, in->raw_pos };
    ZSTD_outBuffer zout = { in->out, OUT_CAP, in->out_len };
    size_t rc = ZSTD_decompressStream(in->zs, &zout, &zin);
    in->raw_pos = zin.pos;
    in->out_len = zout.pos;
    if (ZSTD_isError(rc))
        return EILSEQ;
    if (rc != 0 && in->raw_len == 0 && in->out_len == before)
        return EILSEQ; /* the input ended inside a frame */
    in->mid = rc != 0; /* 0: a frame ended, fully flushed */
    return 0;
}

char *input_line(struct input *in, int *err)
{
    *err = 0;
    for (;;) {
        char *start = in->out + in->out_pos;
        char *nl = memchr(start, '\n', in->out_len - in->out_pos);
        if (nl) {
            *nl = '\0';
            in->out_pos = (size_t)(nl - in->out) + 1;
            return start;
        }
        if (in->eof) {
            if (in->out_pos == in->out_len)
                return NULL;
            in->out[in->out_len] = '\0'; /* a last line without '\n' */
            in->out_pos = in->out_len;
            return start;
        }
        /* Move the partial line to the front and decode more after it. */
        size_t keep = in->out_len - in->out_pos;
        if (keep > MAX_LINE) {
            *err = E2BIG;
            return NULL;
        }
        memmove(in->out, start, keep);
        in->out_pos = 0;
        in->out_len = keep;
        size_t before = keep;
        int guard = 0;
        do {
            if ((*err = decode_more(in)) != 0)
                return NULL;
        } while (in->out_len == before && !in->eof && ++guard < 1000000);
        if (in->out_len == before && !in->eof) {
            *err = EILSEQ; /* a decoder that makes no progress */
            return NULL;
        }
    }
}

uint64_t input_bytes(const struct input *in)
{
    return in->raw_total;
}

void input_close(struct input *in)
{
    if (in == NULL)
        return;
    if (in->kind == GZIP)
        inflateEnd(&in->z);
    if (in->zs)
        ZSTD_freeDStream(in->zs);
    if (in->f && in->f != stdin)
        fclose(in->f);
    free(in);
}
