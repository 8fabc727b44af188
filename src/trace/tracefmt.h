/*
 * tracefmt.h - what the trace library's readers and writers share: the
 * errno table's codes and the binary format's records (doc/trace-format.md,
 * "Binary form").  Internal to the trace library.
 */
#ifndef XVM_TRACEFMT_H
#define XVM_TRACEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xipvm_trace.h"

/* Keeps a slow path out of its caller's fast path. */
#if defined(__GNUC__)
#define TRACE_NOINLINE __attribute__((noinline))
#else
#define TRACE_NOINLINE
#endif

/* => the errno's code in the binary format (its index + 1 in the table of
 *    names), or 0 when the format cannot name it. */
int xvm_trace_errno_code(int err);
/* => the errno for a code, or 0 when the code names none. */
int xvm_trace_errno_from_code(int code);

/* xvm_trace_event_reset, inline for the readers' hot paths. */
static inline void trace_event_clear(struct xvm_trace_event *ev)
{
    ev->pid = ev->pid2 = 0;
    ev->addr = ev->len = ev->off = 0;
    ev->prot = ev->shared = ev->fixed = 0;
    ev->path = ev->label = NULL;
    ev->argc = 0;
    ev->has_data = 0;
    ev->ndata = 0;
    ev->expect_err = 0;
}

/* What a libxipvm built without zlib and zstd (-Dcompression=false, a
 * subproject's default) says of a compressed trace (ENOTSUP). */
#define NO_COMPRESSION                                                         \
    "a compressed trace, and this libxipvm was built without zlib and "        \
    "zstd (-Dcompression=false)"

/* xvm_trace_parse_text for a trace of the given version (1 or 2). */
int trace_parse_text_v(char *line, size_t len, int version,
                       struct xvm_trace_event *ev, const char **msg);

/* => 1 when xvm_trace_format_event can write ev (whatever its length). */
int trace_event_ok(const struct xvm_trace_event *ev);

/* The binary form's file header: magic, version, 7 reserved zero bytes. */
#define TB_MAGIC     "\x89XVT\r\n\x1a\n"
#define TB_MAGIC_LEN 8
#define TB_HEAD_LEN  16
#define TB_VERSION   2 /* what the writer writes; the reader takes 1 too */

/* Frames: kind, raw length (u32 LE), stored length (u32 LE), payload. */
#define TB_FRAME_HEAD 9
#define TB_FRAME_RAW  'R'
#define TB_FRAME_ZSTD 'Z'
#define TB_FRAME_END  'E'
#define TB_FRAME_MAX  (1u << 20) /* raw bytes of records in one frame */
#define TB_END_LEN    8          /* the end frame's payload: events, u64 LE */

/* Records: the first byte. */
#define TB_ACCESS_END  0x60 /* 0x00..0x5f: x, r, w (kind << 5 | size code) */
#define TB_READ_DATA   0x60 /* r with =HEX: size, delta, bytes */
#define TB_WRITE_DATA  0x61 /* w with =HEX */
#define TB_PID         0x70 /* the process of the access records that follow */
#define TB_EXPECT      0x71 /* the next event fails with this errno code */
#define TB_SPAWN       0x80
#define TB_EXEC        0x81
#define TB_FORK        0x82
#define TB_EXIT        0x83
#define TB_MMAP        0x84
#define TB_MUNMAP      0x85
#define TB_MPROTECT    0x86
#define TB_BRK         0x87
#define TB_MARK        0x88
#define TB_PREAD       0x89
#define TB_LOAN        0x8a
#define TB_UNLOAN      0x8b
#define TB_UNLOAN_DATA 0x8c /* unloan with =HEX: LEN bytes follow */
/* Version 2: 0xa0..0xff, x, r, w at its register, delta 0 (kind << 5 |
 * size code, plus 0xa0); an access that follows on from the last of its
 * kind, one byte.  In a version-1 trace they are unknown records. */
#define TB_AT_REG    0xa0
#define TB_NO_AT_REG 0x100 /* tb_dec.at_reg of a version-1 trace: none */

/* mmap's flags byte */
#define TB_MMAP_SHARED 0x08
#define TB_MMAP_FIXED  0x10
#define TB_MMAP_PATH   0x20

/* Longest encoding of a record's fixed part (op, varints, flags): a
 * decoder may read this far past a record's start before it checks. */
#define TB_SLACK 64

/*
 * Address registers, per process: where the last fetch and the last data
 * access of the process ended.  A direct-mapped table of TB_REGS slots
 * tagged by pid: a pid that finds its slot taken by another starts from
 * zero, the same in writer and reader.  Frames start afresh (gen).
 */
#define TB_REGS 1024u

struct tb_reg {
    uint32_t pid;
    uint32_t gen;    /* the frame it was set in; another means unset */
    uint64_t end[2]; /* [0] fetches, [1] reads and writes */
};

struct tb_regs {
    uint32_t gen;
    struct tb_reg slot[TB_REGS];
};

static inline struct tb_reg *tb_reg_of(struct tb_regs *t, uint32_t pid)
{
    struct tb_reg *r = &t->slot[pid & (TB_REGS - 1)];
    if (r->gen != t->gen || r->pid != pid) {
        r->pid = pid;
        r->gen = t->gen;
        r->end[0] = r->end[1] = 0;
    }
    return r;
}

/* A new frame: every register unset (generation 0 is never current). */
static inline void tb_regs_new_frame(struct tb_regs *t)
{
    if (++t->gen == 0) {
        for (unsigned i = 0; i < TB_REGS; i++)
            t->slot[i].gen = 0;
        t->gen = 1;
    }
}

static inline uint64_t tb_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t tb_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* => p past the LEB128 encoding of v (at most 10 bytes). */
static inline uint8_t *tb_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/*
 * => p past a canonical LEB128 number (*v), or NULL: more than 10 bytes,
 *    more than 64 bits, or an over-long encoding (a last byte of 0).
 *    Reads at most 10 bytes from p, whatever they hold.
 */
static inline const uint8_t *tb_get_varint(const uint8_t *p, uint64_t *v)
{
    if (p[0] < 0x80) {
        *v = p[0];
        return p + 1;
    }
    uint64_t x = p[0] & 0x7f;
    for (unsigned i = 1; i < 10; i++) {
        uint64_t b = p[i];
        x |= (b & 0x7f) << (7 * i);
        if (b < 0x80) {
            if (b == 0 || (i == 9 && b > 1))
                return NULL;
            *v = x;
            return p + i + 1;
        }
    }
    return NULL;
}

static inline void tb_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t tb_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void tb_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t tb_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 8; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/*
 * Record encoder and decoder (tracebin.c).  An encoder appends the records
 * of one event to a frame; a decoder reads one record of a frame.
 */
struct tb_enc {
    struct tb_regs regs;
    uint32_t pid; /* the current process of the frame */
    bool have_pid;
};

/* Starts a frame's records afresh. */
void tb_enc_frame(struct tb_enc *e);

/* The most bytes one event's records take: an access with 4 KiB of data,
 * or a line's worth of strings and their lengths.  A string's length
 * takes up to 3 bytes where its line has 1 (a space): 2 more for each of
 * spawn's 1 + XVM_TRACE_MAX_ARGS strings. */
#define TB_EVENT_MAX                                                           \
    (XVM_TRACE_MAX_LINE + 2 * (1 + XVM_TRACE_MAX_ARGS) + 2 * TB_SLACK)

/*
 * => the number of bytes written at out (at most TB_EVENT_MAX), or
 *    -EINVAL when the event cannot be written (xvm_trace_format_event
 *    would refuse it, or its line would be longer than XVM_TRACE_MAX_LINE).
 */
int tb_encode(struct tb_enc *e, const struct xvm_trace_event *ev, uint8_t *out);

struct tb_dec {
    struct tb_regs regs;
    uint32_t pid;
    bool have_pid;
    struct tb_reg *reg; /* pid's registers, while have_pid */
    unsigned at_reg;    /* TB_AT_REG, or TB_NO_AT_REG in a version-1 trace */
    char strings[XVM_TRACE_MAX_LINE + 1]; /* the event's, NUL-terminated */
    char line[XVM_TRACE_MAX_LINE + 1];    /* to check the event's line */
};

void tb_dec_frame(struct tb_dec *d);

/*
 * The bulk of a trace: an access record without data or errno whose size
 * is in its first byte, with a delta or at its register (records from
 * at_reg, tb_dec's).  => past it, with the access in *a and its register
 * (where the process's last fetch, or read or write, ended) advanced, or
 * NULL when the record at p is anything else (tb_decode takes it, errors
 * included) or runs past end; in_bounds says the caller knows it ends by
 * end (a constant where this is inlined, so that the test goes).  Reads
 * at most TB_SLACK bytes from p.
 */
static inline const uint8_t *tb_access_record(
    const uint8_t *p, const uint8_t *end, bool in_bounds, unsigned at_reg,
    uint64_t *fetch_end, uint64_t *data_end, struct xvm_access *a)
{
    const uint8_t *q;
    unsigned b = p[0], len = b & 31, kind;
    uint64_t va;
    if (len == 0)
        return NULL;
    if (b >= at_reg) { /* the commonest: the next instruction */
        kind = (b - TB_AT_REG) >> 5;
        va = kind ? *data_end : *fetch_end;
        q = p + 1;
    } else {
        uint64_t delta = p[1];
        if (b >= TB_ACCESS_END)
            return NULL;
        kind = b >> 5;
        q = p + 2;
        if (delta >= 0x80 && (q = tb_get_varint(p + 1, &delta)) == NULL)
            return NULL;
        va = (kind ? *data_end : *fetch_end) + (uint64_t)tb_unzigzag(delta);
    }
    if (!in_bounds && q > end)
        return NULL;
    /* Branches, not an index: the registers stay in the host's. */
    if (kind)
        *data_end = va + len;
    else
        *fetch_end = va + len;
    *a = (struct xvm_access){ va, len, kind };
    return q;
}

/* The most bytes an access record takes: its first byte and a varint. */
#define TB_ACCESS_MAX 11

/* tb_access_record, the record tested against end. */
static inline const uint8_t *tb_next_access(const uint8_t *p,
                                            const uint8_t *end, unsigned at_reg,
                                            uint64_t *fetch_end,
                                            uint64_t *data_end,
                                            struct xvm_access *a)
{
    return tb_access_record(p, end, false, at_reg, fetch_end, data_end, a);
}

/*
 * The plain access records at p (those from at_reg as tb_dec's at_reg),
 * up to max of them and none past end, decoded into a (the process's
 * address registers r advanced), the bytes after end up to TB_SLACK
 * readable.  => how many; *used: their bytes, *last: where the last one
 * starts.  Out of line, so that its loop has the host's registers.
 */
size_t tb_take_refs(struct tb_reg *r, unsigned at_reg, const uint8_t *p,
                    const uint8_t *end, struct xvm_access *a, size_t max,
                    size_t *used, size_t *last);

/* The trace op of an access's kind (enum xvm_access_kind). */
static inline enum xvm_trace_op tb_trace_op(unsigned kind)
{
    static const enum xvm_trace_op ops[3] = { XVM_T_EXEC_FETCH, XVM_T_READ,
                                              XVM_T_WRITE };
    return ops[kind];
}

/* tb_next_access for the current process, into *ev.  => its bytes, or 0
 * (tb_decode takes the record). */
static inline long tb_decode_access(struct tb_dec *d, const uint8_t *p,
                                    const uint8_t *end,
                                    struct xvm_trace_event *ev)
{
    struct xvm_access a;
    const uint8_t *q = d->have_pid
                           ? tb_next_access(p, end, d->at_reg, &d->reg->end[0],
                                            &d->reg->end[1], &a)
                           : NULL;
    if (q == NULL)
        return 0;
    trace_event_clear(ev);
    ev->pid = d->pid;
    ev->op = tb_trace_op(a.kind);
    ev->addr = a.va;
    ev->len = a.len;
    return q - p;
}

/*
 * Decodes the records of one event from [p, end); the bytes after end up
 * to TB_SLACK are readable (their contents do not matter).
 * => the bytes taken (> 0) with *ev filled (strings in d->strings), or
 *    -EINVAL with *msg (a short static message) and *fault, the offset
 *    from p of the record at fault.
 */
long tb_decode(struct tb_dec *d, const uint8_t *p, const uint8_t *end,
               struct xvm_trace_event *ev, const char **msg, size_t *fault);

#endif
