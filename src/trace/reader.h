/*
 * reader.h - the trace reader's state (reader.c), visible to the replay
 * (replay.c), whose loop decodes binary access records where they lie.
 * Internal to the trace library.
 */
#ifndef XVM_READER_H
#define XVM_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifndef XVM_NO_COMPRESSION
#include <zlib.h>
#include <zstd.h>
#endif

#include "tracefmt.h"

#define BUF_CAP (UINT32_C(4) << 20) /* decoded bytes held at once */
#define RAW_CAP (UINT32_C(1) << 18) /* compressed bytes read at once */
#define ERR_LEN 320

enum comp { PLAIN, GZIP, ZSTD };
/* Which hot path xvm_trace_read may try first. */
enum fast { FAST_NONE, FAST_TEXT, FAST_BINARY };

struct xvm_trace_reader {
    /* the source: a file descriptor or memory */
    int fd;
    bool own_fd;
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    uint64_t src_bytes; /* taken from the source so far */
    bool src_eof;
    /* stream decompression */
    enum comp comp;
#ifndef XVM_NO_COMPRESSION
    z_stream z;
    bool z_init;
    ZSTD_DStream *zs;
#endif
    bool mid; /* inside a gzip member or zstd frame */
    uint8_t *raw;
    size_t raw_pos, raw_len;
    /* the decoded stream: buf[pos, len) is unread; base is the stream
     * offset of buf[0] */
    uint8_t *buf; /* cap bytes, then TB_SLACK more (zero or stale) */
    size_t cap, pos, len;
    uint64_t base;
    bool eof; /* no more decoded bytes will come */
    enum xvm_trace_format fmt;
    enum fast fast; /* set after an event, cleared by any other path */
    bool started, done;
    int error; /* sticky */
    /* text */
    uint64_t line;
    int version; /* the header's */
    /* binary */
    const uint8_t *frame; /* the records of the current frame */
    size_t fpos, flen;
    uint64_t frame_at, rec_at; /* stream offset of the frame; record in it */
    uint64_t events;
#ifndef XVM_NO_COMPRESSION
    ZSTD_DCtx *fz;
#endif
    uint8_t *fbuf; /* a zstd frame's records */
    struct tb_dec *dec;
    char err[ERR_LEN];
};

#endif
