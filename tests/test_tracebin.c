/*
 * test_tracebin.c - the binary trace form, the trace reader and writer:
 * bytes made by hand from doc/trace-format.md, round trips through both
 * forms and compressions, every class of bad input with its message and
 * offset, and the text form's edges (NUL bytes, the 64 KiB line).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xipvm_trace.h"
#include "memsink.h"
#include "tracefmt.h"

static struct xvm_trace_event *new_event(void)
{
    struct xvm_trace_event *ev = calloc(1, sizeof(*ev));
    assert_non_null(ev);
    xvm_trace_event_reset(ev);
    return ev;
}

/* ---- a trace made by hand ---- */

/* The header, then one raw frame of records: the same trace as version 1
 * wrote it (41 bytes) and as version 2 does (40), where the fetch that
 * follows on from the one before is one byte, at its register.  The
 * records before and after that fetch are the same in both. */
#define HAND_BEFORE                                                            \
    0x70, 0x01,                      /* PID 1 */                               \
        0x04, 0x80, 0xc0, 0x80, 0x04 /* x 1 0x401000 4: zigzag 0x802000 */
#define HAND_AFTER                                                             \
    0x04, 0x0b,                             /* x 1 0x401000 4: delta -6 */     \
        0x28, 0x80, 0x80, 0x80, 0x80, 0x08, /* r 1 0x40000000 8 */             \
        0x61, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, /* w ... 8 =01..08 */        \
        0x71, 0x01,                               /* EXPECT EFAULT */          \
        0x21, 0xe0, 0xff, 0xff, 0xff, 0x01,       /* r 1 0x50000000 1 */       \
        0x88, 0x03, 'e', 'n', 'd'                 /* mark end */

static const uint8_t hand_records[] = {
    HAND_BEFORE,
    0x02,
    0x00, /* x 1 0x401004 2: delta 0 */
    HAND_AFTER,
};

static const uint8_t hand_records_v2[] = {
    HAND_BEFORE,
    0xa2, /* x 1 0x401004 2: at the register */
    HAND_AFTER,
};

static const char hand_text[] = "xipvm-trace 2\n"
                                "x 1 0x401000 4\n"
                                "x 1 0x401004 2\n"
                                "x 1 0x401000 4\n"
                                "r 1 0x40000000 8\n"
                                "w 1 0x40000008 8 =0102030405060708\n"
                                "r 1 0x50000000 1 !EFAULT\n"
                                "mark end\n";

#define HAND_EVENTS 7

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* => a binary trace of the version: header, one frame of records
 *    (kind), end frame counting events.  *n gets its length. */
static uint8_t *make_trace_v(unsigned version, char kind, const uint8_t *rec,
                             size_t nrec, uint64_t events, size_t *n)
{
    static const uint8_t head[16] = { 0x89, 'X',  'V',  'T',
                                      '\r', '\n', 0x1a, '\n' };
    uint8_t *b = calloc(1, 16 + 9 + nrec + 17);
    assert_non_null(b);
    memcpy(b, head, 16);
    b[8] = (uint8_t)version;
    b[16] = (uint8_t)kind;
    put_u32(b + 17, (uint32_t)nrec);
    put_u32(b + 21, (uint32_t)nrec);
    memcpy(b + 25, rec, nrec);
    uint8_t *e = b + 25 + nrec;
    e[0] = 'E';
    put_u32(e + 1, 0);
    put_u32(e + 5, 8);
    for (int i = 0; i < 8; i++)
        e[9 + i] = (uint8_t)(events >> (8 * i));
    *n = 16 + 9 + nrec + 17;
    return b;
}

/* make_trace_v of the version the writer writes. */
static uint8_t *make_trace(char kind, const uint8_t *rec, size_t nrec,
                           uint64_t events, size_t *n)
{
    return make_trace_v(2, kind, rec, nrec, events, n);
}

/* Reads every event of buf, writing each to w (if any); => the reader's
 * last result (0 at the end), with its message in msg. */
static int read_all(const void *buf, size_t len, xvm_trace_writer *w,
                    uint64_t *events, char *msg, size_t msglen)
{
    xvm_trace_reader *rd;
    struct xvm_trace_event *ev = new_event();
    int rc;
    *events = 0;
    assert_int_equal(xvm_trace_reader_mem(buf, len, &rd), 0);
    while ((rc = xvm_trace_read(rd, ev)) == 1) {
        ++*events;
        if (w)
            assert_int_equal(xvm_trace_write(w, ev), 0);
    }
    snprintf(msg, msglen, "%s",
             xvm_trace_reader_error(rd) ? xvm_trace_reader_error(rd) : "");
    xvm_trace_reader_close(rd);
    free(ev);
    return rc;
}

/* => buf converted by the reader and a writer of cfg; s gets the bytes. */
static void convert(const void *buf, size_t len,
                    const struct xvm_trace_writer_config *cfg, struct sink *s)
{
    xvm_trace_writer *w;
    uint64_t n;
    char msg[512];
    memset(s, 0, sizeof(*s));
    assert_int_equal(xvm_trace_writer_create(cfg, sink_fn, s, &w), 0);
    assert_int_equal(read_all(buf, len, w, &n, msg, sizeof(msg)), 0);
    assert_int_equal(xvm_trace_writer_close(w), 0);
}

static const struct xvm_trace_writer_config text_plain = { XVM_TRACE_TEXT,
                                                           XVM_TRACE_PLAIN, 0 };
static const struct xvm_trace_writer_config bin_raw = { XVM_TRACE_BINARY,
                                                        XVM_TRACE_PLAIN, 0 };
static const struct xvm_trace_writer_config bin_zstd = { XVM_TRACE_BINARY,
                                                         XVM_TRACE_ZSTD, 0 };

/* Both versions' bytes read as the same text. */
static void test_hand_made_binary_reads_as_its_text(void **state)
{
    (void)state;
    for (unsigned v = 1; v <= 2; v++) {
        size_t n;
        uint8_t *b = v == 1
                         ? make_trace_v(1, 'R', hand_records,
                                        sizeof(hand_records), HAND_EVENTS, &n)
                         : make_trace('R', hand_records_v2,
                                      sizeof(hand_records_v2), HAND_EVENTS, &n);
        struct sink s;
        convert(b, n, &text_plain, &s);
        assert_int_equal(s.n, strlen(hand_text));
        assert_memory_equal(s.p, hand_text, s.n);
        free(s.p);
        free(b);
    }
}

static void test_text_writes_as_the_hand_made_binary(void **state)
{
    (void)state;
    size_t n;
    uint8_t *b = make_trace('R', hand_records_v2, sizeof(hand_records_v2),
                            HAND_EVENTS, &n);
    struct sink s;
    convert(hand_text, strlen(hand_text), &bin_raw, &s);
    assert_int_equal(s.n, n);
    assert_memory_equal(s.p, b, n);
    free(s.p);
    free(b);
}

/* Events of every kind, many processes, many frames: text -> binary (raw
 * and zstd) -> text gives the same bytes. */
static char *big_text(size_t *len)
{
    size_t cap = 64u << 20, n = 0;
    char *t = malloc(cap);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    assert_non_null(t);
    n += (size_t)sprintf(t, "xipvm-trace 2\n# a comment\n\n");
    for (unsigned i = 0; i < 400000; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        unsigned pid = 1 + (unsigned)(seed % 1500); /* slot collisions */
        uint64_t a = 0x400000 + (seed >> 20) % 0x100000;
        switch (seed % 23) {
        case 0:
            n += (size_t)sprintf(t + n, "spawn %u /bin/p%u a b c\n", pid, i);
            break;
        case 1: n += (size_t)sprintf(t + n, "fork %u %u\n", pid, i); break;
        case 2:
            n += (size_t)sprintf(t + n,
                                 "mmap %u 0x%llx 8192 r-x shared,fixed "
                                 "/lib/x 0x1000 !EISDIR\n",
                                 pid, (unsigned long long)a << 12);
            break;
        case 3: n += (size_t)sprintf(t + n, "mark m%u\n", i); break;
        case 4:
            n += (size_t)sprintf(t + n, "w %u 0x%llx 3 =a1b2c3\n", pid,
                                 (unsigned long long)a);
            break;
        case 5:
            n += (size_t)sprintf(t + n, "r %u 0x%llx 4096\n", pid,
                                 (unsigned long long)a);
            break;
        case 6:
            n += (size_t)sprintf(t + n, "x %u 0xffffffffffffff00 0 !EFAULT\n",
                                 pid);
            break;
        default:
            n += (size_t)sprintf(t + n, "%c %u 0x%llx %u\n", "xrw"[seed % 3],
                                 pid, (unsigned long long)a,
                                 1 + (unsigned)(seed % 16));
        }
    }
    *len = n;
    return t;
}

static void test_round_trip_many_frames_both_compressions(void **state)
{
    (void)state;
    size_t len;
    char *text = big_text(&len);
    struct sink plain, canon, raw, zst, back;
    /* The writer's text is canonical (no comment, hex in lower case). */
    convert(text, len, &text_plain, &canon);
    convert(canon.p, canon.n, &bin_raw, &raw);
    convert(canon.p, canon.n, &bin_zstd, &zst);
    assert_true(raw.n > (1u << 20) + 4096); /* several frames */
    assert_true(zst.n < raw.n);
    convert(raw.p, raw.n, &text_plain, &back);
    assert_int_equal(back.n, canon.n);
    assert_memory_equal(back.p, canon.p, canon.n);
    free(back.p);
    convert(zst.p, zst.n, &text_plain, &back);
    assert_int_equal(back.n, canon.n);
    assert_memory_equal(back.p, canon.p, canon.n);
    /* Binary -> binary: the same bytes. */
    convert(raw.p, raw.n, &bin_raw, &plain);
    assert_int_equal(plain.n, raw.n);
    assert_memory_equal(plain.p, raw.p, raw.n);
    free(plain.p), free(back.p), free(raw.p), free(zst.p), free(canon.p);
    free(text);
}

/*
 * The largest records of one event: a spawn whose line is as long as a
 * line can be, its 257 strings each long enough for a 2-byte length (one
 * for a 3-byte one), so its records are longer than its line.  A frame
 * ends early when the largest event might not fit; it left too little
 * room for this one, and the writer wrote a frame over 1 MiB that its own
 * reader refused.
 */
static void test_longest_spawn_fits_its_frame(void **state)
{
    (void)state;
    struct xvm_trace_event *ev = new_event(), *got = new_event();
    char *path = malloc(XVM_TRACE_MAX_LINE), *line;
    static char arg[129];
    uint8_t *rec = malloc(2 * TB_EVENT_MAX);
    struct tb_enc *e = calloc(1, sizeof(*e));
    assert_true(path && rec && e);
    line = (char *)rec;
    memset(arg, 'a', 128);
    strcpy(path, "/");
    ev->op = XVM_T_SPAWN;
    ev->path = path;
    ev->argc = XVM_TRACE_MAX_ARGS;
    for (unsigned i = 0; i < ev->argc; i++)
        ev->argv[i] = arg;
    /* PATH grown until the line (with its '\n') is XVM_TRACE_MAX_LINE. */
    int n = xvm_trace_format_event(ev, line, XVM_TRACE_MAX_LINE + 1);
    size_t plen = 1 + XVM_TRACE_MAX_LINE - (size_t)n;
    memset(path + 1, 'p', plen - 1);
    path[plen] = '\0';
    assert_int_equal(xvm_trace_format_event(ev, line, XVM_TRACE_MAX_LINE + 1),
                     XVM_TRACE_MAX_LINE);
    tb_enc_frame(e);
    n = tb_encode(e, ev, rec);
    assert_true(n > XVM_TRACE_MAX_LINE && n <= TB_EVENT_MAX);

    /* One-byte fetches fill the frame to where the writer still takes
     * an event into it; then the spawn. */
    struct sink s = { 0 };
    xvm_trace_writer *w;
    struct xvm_trace_event *x = new_event();
    size_t fill = 0;
    uint64_t events = 0;
    assert_int_equal(xvm_trace_writer_create(&bin_raw, sink_fn, &s, &w), 0);
    tb_enc_frame(e);
    x->op = XVM_T_EXEC_FETCH, x->pid = 1, x->len = 1;
    while (fill < TB_FRAME_MAX - TB_EVENT_MAX) {
        fill += (size_t)tb_encode(e, x, rec);
        assert_int_equal(xvm_trace_write(w, x), 0);
        x->addr++, events++;
    }
    assert_int_equal(fill, TB_FRAME_MAX - TB_EVENT_MAX);
    assert_int_equal(xvm_trace_write(w, ev), 0);
    assert_int_equal(xvm_trace_writer_close(w), 0);

    xvm_trace_reader *rd;
    uint64_t k = 0;
    assert_int_equal(xvm_trace_reader_mem(s.p, s.n, &rd), 0);
    while (xvm_trace_read(rd, got) == 1)
        k++;
    assert_null(xvm_trace_reader_error(rd));
    assert_int_equal(k, events + 1);
    assert_int_equal(got->op, XVM_T_SPAWN);
    assert_string_equal(got->path, path);
    assert_int_equal(got->argc, XVM_TRACE_MAX_ARGS);
    assert_string_equal(got->argv[XVM_TRACE_MAX_ARGS - 1], arg);
    xvm_trace_reader_close(rd);
    free(s.p), free(x), free(e), free(rec), free(path), free(got), free(ev);
}

/* ---- bad binary input: a message naming the place ---- */

struct bad {
    const char *what;
    uint8_t rec[24];
    size_t n;
    const char *msg; /* expected, whole */
};

#define AT(r) "binary trace: record at byte " #r " of the frame at byte 16: "

static const struct bad bad_records[] = {
    { "a fetch cut in its delta",
      { 0x70, 0x01, 0x04, 0x80, 0xc0 },
      5,
      AT(2) "truncated record" },
    { "a varint of 11 bytes",
      { 0x70, 0x01, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x01 },
      14,
      AT(2) "bad varint" },
    { "a varint past 64 bits",
      { 0x70, 0x01, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x02 },
      13,
      AT(2) "bad varint" },
    { "an over-long varint",
      { 0x70, 0x01, 0x04, 0x80, 0x00 },
      5,
      AT(2) "bad varint" },
    { "an unknown record type",
      { 0x70, 0x01, 0x02, 0x00, 0x90, 0x00 },
      6,
      AT(4) "unknown record type" },
    { "a record at its register, cut in its size",
      { 0x70, 0x01, 0xc0 },
      3,
      AT(2) "truncated record" },
    { "a record at its register, a size above 2^32",
      { 0x70, 0x01, 0xe0, 0x81, 0x80, 0x80, 0x80, 0x10 },
      8,
      AT(2) "size above 2^32" },
    { "a record at its register before any PID",
      { 0xa2 },
      1,
      AT(0) "access before any PID record" },
    { "an access before any PID",
      { 0x02, 0x00 },
      2,
      AT(0) "access before any PID record" },
    { "a PID at the frame's end",
      { 0x70, 0x01 },
      2,
      AT(0) "PID record not followed by an event" },
    { "EXPECT then PID",
      { 0x71, 0x01, 0x70, 0x01, 0x02, 0x00 },
      6,
      AT(0) "EXPECT record not followed by an event" },
    { "an unknown errno code",
      { 0x71, 0x63, 0x83, 0x01 },
      4,
      AT(0) "unknown errno code" },
    { "a pid of 33 bits",
      { 0x83, 0x80, 0x80, 0x80, 0x80, 0x10 },
      6,
      AT(0) "pid out of range" },
    { "a label holding a NUL",
      { 0x88, 0x03, 'a', 0, 'b' },
      5,
      AT(0) "NUL byte in a string" },
    { "an unloan's data of 0 bytes",
      { 0x8c, 0x01, 0x00, 0x00 },
      4,
      AT(0) "data size out of range (1 to 4096)" },
    { "an unloan's data past its record",
      { 0x8c, 0x01, 0x00, 0x04, 0xab },
      5,
      AT(0) "truncated record" },
    { "a loan of 0 bytes",
      { 0x8a, 0x01, 0x00, 0x00 },
      4,
      AT(0) "LEN out of range (1 to 2^32)" },
    { "an unloan of 0 bytes",
      { 0x8b, 0x01, 0x00, 0x00 },
      4,
      AT(0) "LEN out of range (1 to 2^32)" },
    { "a loan of 2^32 + 1 bytes",
      { 0x8a, 0x01, 0x00, 0x81, 0x80, 0x80, 0x80, 0x10 },
      8,
      AT(0) "size above 2^32" },
    { "257 arguments",
      { 0x80, 0x01, 0x01, 'p', 0x81, 0x02 },
      6,
      AT(0) "too many arguments" },
    { "a string past the frame",
      { 0x88, 0x09, 'a', 'b' },
      4,
      AT(0) "truncated record" },
    { "data of 0 bytes",
      { 0x70, 0x01, 0x60, 0x00, 0x00 },
      5,
      AT(2) "data size out of range (1 to 4096)" },
    { "data of 4097 bytes",
      { 0x70, 0x01, 0x61, 0x81, 0x20, 0x00 },
      6,
      AT(2) "data size out of range (1 to 4096)" },
    { "data past the frame",
      { 0x70, 0x01, 0x61, 0x04, 0x00, 1, 2 },
      7,
      AT(2) "truncated record" },
    { "a size above 2^32",
      { 0x70, 0x01, 0x20, 0x81, 0x80, 0x80, 0x80, 0x10, 0x00 },
      9,
      AT(2) "size above 2^32" },
    { "mmap flags with bit 6",
      { 0x84, 0x01, 0x00, 0x01, 0x40 },
      5,
      AT(0) "bad flags" },
    { "mprotect prot with bit 3",
      { 0x86, 0x01, 0x00, 0x01, 0x08 },
      5,
      AT(0) "bad flags" },
};

static void test_bad_records_say_what_and_where(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_records) / sizeof(bad_records[0]); i++) {
        const struct bad *b = &bad_records[i];
        size_t n;
        uint64_t events;
        char msg[512];
        uint8_t *t = make_trace('R', b->rec, b->n, 1, &n);
        int rc = read_all(t, n, NULL, &events, msg, sizeof(msg));
        if (rc != EINVAL || strcmp(msg, b->msg) != 0)
            fail_msg("%s: rc %d, message '%s', wanted '%s'", b->what, rc, msg,
                     b->msg);
        free(t);
    }
}

/* Records at their register came with version 2: in a version-1 trace
 * they are unknown records. */
static void test_at_register_is_version_2(void **state)
{
    (void)state;
    static const uint8_t rec[] = { 0x70, 0x01, 0x02, 0x00, 0xa2 };
    size_t n;
    uint64_t events;
    char msg[512];
    uint8_t *t = make_trace_v(1, 'R', rec, sizeof(rec), 2, &n);
    assert_int_equal(read_all(t, n, NULL, &events, msg, sizeof(msg)), EINVAL);
    assert_string_equal(msg, AT(4) "unknown record type");
    assert_int_equal(events, 1);
    free(t);
    t = make_trace_v(2, 'R', rec, sizeof(rec), 2, &n);
    assert_int_equal(read_all(t, n, NULL, &events, msg, sizeof(msg)), 0);
    assert_int_equal(events, 2);
    free(t);
}

/*
 * The batch decoder (tb_take_refs) takes access records up to max, and
 * stops at the first that runs past end, whether the records fit with
 * room to spare (no record tested against end) or end is near.
 */
static void test_batch_decoder_stops_at_a_record_past_end(void **state)
{
    (void)state;
    enum { N = 1000 };
    uint8_t *buf = calloc(1, N + TB_SLACK);
    struct xvm_access a[N];
    assert_non_null(buf);
    for (size_t i = 0; i < N; i++)
        buf[i] = TB_AT_REG | 4; /* x at its register, 4 bytes */
    for (size_t cut = 0; cut < 24; cut++) {
        /* Records of cut at-register fetches, then one whose delta's
         * varint goes on past end. */
        size_t n = cut + 2;
        buf[cut] = 0x04, buf[cut + 1] = 0x80, buf[cut + 2] = 0x01;
        for (size_t max = 1; max <= 30; max++) {
            struct tb_reg r = { .end = { 0x1000, 0x8000 } };
            size_t used, last, want = max < cut ? max : cut;
            size_t k =
                tb_take_refs(&r, TB_AT_REG, buf, buf + n, a, max, &used, &last);
            if (k != want || used != want || r.end[0] != 0x1000 + 4 * want ||
                r.end[1] != 0x8000 || (want && last != want - 1))
                fail_msg("cut %zu max %zu: %zu records, %zu bytes", cut, max, k,
                         used);
            for (size_t i = 0; i < k; i++)
                assert_true(a[i].va == 0x1000 + 4 * i && a[i].len == 4 &&
                            a[i].kind == XVM_ACCESS_FETCH);
        }
        buf[cut] = buf[cut + 1] = buf[cut + 2] = TB_AT_REG | 4;
    }
    /* Room for max records of the most bytes: the whole batch. */
    struct tb_reg r = { .end = { 0, 0 } };
    size_t used, last;
    assert_int_equal(
        tb_take_refs(&r, TB_AT_REG, buf, buf + N, a, N / 11, &used, &last),
        N / 11);
    assert_int_equal(used, N / 11);
    assert_int_equal(r.end[0], 4 * (N / 11));
    free(buf);
}

/* Frames and the file around them. */
static void test_bad_frames_say_what_and_where(void **state)
{
    (void)state;
    size_t n;
    uint64_t events;
    char msg[512];
    uint8_t *t = make_trace_v(1, 'R', hand_records, sizeof(hand_records),
                              HAND_EVENTS, &n);
    uint8_t *c = malloc(n + 64);
    static const struct {
        const char *what;
        size_t at; /* byte to patch, or cut the file there (value 0x100) */
        unsigned value;
        int rc;
        const char *msg;
    } cases[] = {
        { "a cut header", 10, 0x100, EINVAL, "binary trace: truncated header" },
        { "a later version", 8, 3, EINVAL,
          "binary trace: version 3, not 1 to 2" },
        { "version 0", 8, 0, EINVAL, "binary trace: version 0, not 1 to 2" },
        { "a reserved byte set", 12, 1, EINVAL,
          "binary trace: reserved header byte 12 not 0" },
        { "an unknown frame kind", 16, 'X', EINVAL,
          "binary trace: frame at byte 16: unknown frame kind" },
        { "raw and stored lengths differ", 21, 40, EINVAL,
          "binary trace: frame at byte 16: bad stored length" },
        { "a frame of 0 bytes", 17, 0, EINVAL,
          "binary trace: frame at byte 16: record bytes out of range (1 to 1 "
          "MiB)" },
        { "a cut frame head", 20, 0x100, EINVAL,
          "binary trace: frame at byte 16: truncated frame header" },
        { "a cut frame", 40, 0x100, EINVAL,
          "binary trace: frame at byte 16: truncated frame" },
        { "no end frame", 66, 0x100, EINVAL,
          "binary trace: frame at byte 66: the trace ends without its end "
          "frame" },
        { "a cut end frame", 80, 0x100, EINVAL,
          "binary trace: frame at byte 66: truncated end frame" },
        { "a wrong count", 75, 8, EINVAL,
          "binary trace: the end frame counts 8 events, the frames held 7" },
        { "a 'Z' frame of raw bytes", 16, 'Z', EINVAL,
          "binary trace: frame at byte 16: bad zstd frame" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = n;
        memcpy(c, t, n);
        if (cases[i].value == 0x100)
            len = cases[i].at;
        else
            c[cases[i].at] = (uint8_t)cases[i].value;
        int rc = read_all(c, len, NULL, &events, msg, sizeof(msg));
        if (rc != cases[i].rc || strcmp(msg, cases[i].msg) != 0)
            fail_msg("%s: rc %d, message '%s', wanted '%s'", cases[i].what, rc,
                     msg, cases[i].msg);
    }
    /* Anything after the end frame. */
    memcpy(c, t, n);
    c[n] = 0;
    assert_int_equal(read_all(c, n + 1, NULL, &events, msg, sizeof(msg)),
                     EINVAL);
    assert_string_equal(msg,
                        "binary trace: data after the end frame (byte 83)");
    free(c);
    free(t);
}

/* A corrupt zstd frame, and a mismatch's place in a binary trace. */
static void test_corrupt_zstd_frame(void **state)
{
    (void)state;
    struct sink z;
    uint64_t events;
    char msg[512];
    convert(hand_text, strlen(hand_text), &bin_zstd, &z);
    assert_int_equal(z.p[16], 'Z');
    z.p[16 + 9 + 8] ^= 0xff; /* inside the compressed bytes */
    assert_int_equal(read_all(z.p, z.n, NULL, &events, msg, sizeof(msg)),
                     EINVAL);
    assert_non_null(strstr(msg, "binary trace: frame at byte 16: "));
    free(z.p);
}

/* A zstd stream may hold skippable frames, first too (pzstd's do). */
static void test_zstd_skippable_frames(void **state)
{
    (void)state;
    static const struct xvm_trace_writer_config text_zstd = { XVM_TRACE_TEXT,
                                                              XVM_TRACE_ZSTD,
                                                              0 };
    /* Magics 0x184d2a50 to 0x184d2a5f, then a length and its bytes. */
    static const uint8_t skip[2][11] = {
        { 0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c' },
        { 0x5f, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c' },
    };
    struct sink z;
    uint64_t events;
    char msg[512];
    convert(hand_text, strlen(hand_text), &text_zstd, &z);
    uint8_t *b = malloc(z.n + 2 * sizeof(skip[0]));
    assert_non_null(b);
    for (int k = 0; k < 2; k++) {
        memcpy(b, skip[k], sizeof(skip[k]));
        memcpy(b + sizeof(skip[k]), z.p, z.n);
        memcpy(b + sizeof(skip[k]) + z.n, skip[!k], sizeof(skip[k]));
        size_t n = z.n + 2 * sizeof(skip[k]);
        if (read_all(b, n, NULL, &events, msg, sizeof(msg)) != 0)
            fail_msg("skippable frame 0x%02x first: %s", skip[k][0], msg);
        assert_int_equal(events, HAND_EVENTS);
    }
    free(b);
    free(z.p);
}

/* ---- version 2: strings of any bytes, pread, loan, unloan ---- */

static const uint8_t v2_records[] = {
    0x88, 0x03, 'a',  ' ',  'b',              /* mark "a b" */
    0x80, 0x01, 0x00, 0x00,                   /* spawn 1 "" */
    0x88, 0x02, '!',  'b',                    /* mark "!b" */
    0x89, 0x01, 0x80, 0x20, 0x10,             /* pread 1 0x1000 16 */
    0x02, '/',  'f',  0x05,                   /* /f 5 */
    0x8a, 0x01, 0x80, 0x40, 0x80, 0x40,       /* loan 1 0x2000 8192 */
    0x8c, 0x01, 0x80, 0x40, 0x02, 0xab, 0xcd, /* unloan ... =abcd */
    0x8b, 0x01, 0x80, 0x40, 0x80, 0x40,       /* unloan 1 0x2000 8192 */
};

static const char v2_text[] = "xipvm-trace 2\n"
                              "mark a\\x20b\n"
                              "spawn 1 \\e\n"
                              "mark \\x21b\n"
                              "pread 1 0x1000 16 /f 0x5\n"
                              "loan 1 0x2000 8192\n"
                              "unloan 1 0x2000 2 =abcd\n"
                              "unloan 1 0x2000 8192\n";

/*
 * A stream of empty frames before the trace: skippable zstd frames, empty
 * gzip members.  Valid (zstd -d and gzip -d read them), but after a
 * million of them with no byte out the reader said "corrupt compressed
 * data (no progress)": input taken is progress.
 */
static void test_many_empty_frames_are_progress(void **state)
{
    (void)state;
    static const struct xvm_trace_writer_config text_zstd = { XVM_TRACE_TEXT,
                                                              XVM_TRACE_ZSTD,
                                                              0 };
    static const struct xvm_trace_writer_config text_gzip = { XVM_TRACE_TEXT,
                                                              XVM_TRACE_GZIP,
                                                              0 };
    /* A skippable frame of no bytes; a gzip member of none (RFC 1952:
     * its header, an empty final block, CRC 0, size 0). */
    static const uint8_t skip[] = { 0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0 };
    static const uint8_t member[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3,
                                      3,    0,    0, 0, 0, 0, 0, 0, 0, 0 };
    const struct {
        const struct xvm_trace_writer_config *cfg;
        const uint8_t *empty;
        size_t n;
    } kinds[] = { { &text_zstd, skip, sizeof(skip) },
                  { &text_gzip, member, sizeof(member) } };
    const size_t count = 1100000; /* more than the reader's guard */
    for (size_t k = 0; k < 2; k++) {
        struct sink z;
        uint64_t events;
        char msg[512];
        convert(hand_text, strlen(hand_text), kinds[k].cfg, &z);
        size_t n = count * kinds[k].n + z.n;
        uint8_t *b = malloc(n);
        assert_non_null(b);
        for (size_t i = 0; i < count; i++)
            memcpy(b + i * kinds[k].n, kinds[k].empty, kinds[k].n);
        memcpy(b + count * kinds[k].n, z.p, z.n);
        if (read_all(b, n, NULL, &events, msg, sizeof(msg)) != 0)
            fail_msg("%s: %s", k ? "gzip" : "zstd", msg);
        assert_int_equal(events, HAND_EVENTS);
        free(b);
        free(z.p);
    }
}

static void test_version_2_events_both_ways(void **state)
{
    (void)state;
    size_t n;
    struct sink text, bin;
    uint8_t *t = make_trace('R', v2_records, sizeof(v2_records), 7, &n);
    convert(t, n, &text_plain, &text);
    assert_int_equal(text.n, strlen(v2_text));
    assert_memory_equal(text.p, v2_text, text.n);
    convert(v2_text, strlen(v2_text), &bin_raw, &bin);
    assert_int_equal(bin.n, n);
    assert_memory_equal(bin.p, t, n);
    free(t);
    free(text.p);
    free(bin.p);
}

/* ---- the writer refuses what no trace can hold, in both forms ---- */

static void test_writers_refuse_the_same_events(void **state)
{
    (void)state;
    const struct xvm_trace_writer_config *cfgs[] = { &text_plain, &bin_raw };
    char *huge = malloc(40000);
    assert_non_null(huge);
    memset(huge, 'a', 39999);
    huge[39999] = '\0';
    for (int k = 0; k < 2; k++) {
        struct sink s = { 0 };
        xvm_trace_writer *w;
        struct xvm_trace_event *ev = new_event();
        assert_int_equal(xvm_trace_writer_create(cfgs[k], sink_fn, &s, &w), 0);
        ev->op = XVM_T_MPROTECT;
        ev->pid = 1;
        ev->len = 4096;
        ev->prot = 8; /* no such protection bit */
        assert_int_equal(xvm_trace_write(w, ev), EINVAL);
        xvm_trace_event_reset(ev);
        ev->op = XVM_T_EXEC_FETCH;
        ev->len = 1;
        ev->expect_err = EINTR; /* no trace names it */
        assert_int_equal(xvm_trace_write(w, ev), EINVAL);
        /* Two paths of 40,000 bytes: a line of more than 64 KiB. */
        xvm_trace_event_reset(ev);
        ev->op = XVM_T_SPAWN;
        ev->pid = 1;
        ev->path = huge;
        ev->argc = 1;
        ev->argv[0] = huge;
        assert_int_equal(xvm_trace_write(w, ev), EINVAL);
        ev->argc = 0; /* one fits */
        assert_int_equal(xvm_trace_write(w, ev), 0);
        assert_int_equal(xvm_trace_writer_events(w), 1);
        assert_int_equal(xvm_trace_writer_close(w), 0);
        free(ev);
        free(s.p);
    }
    free(huge);
}

/* Levels: 1 to 22 for zstd, 1 to 9 for gzip; others are EINVAL. */
static void test_writer_levels(void **state)
{
    (void)state;
    static const struct {
        enum xvm_trace_format format;
        enum xvm_trace_compression comp;
        int level, rc;
    } cases[] = {
        { XVM_TRACE_TEXT, XVM_TRACE_GZIP, 9, 0 },
        { XVM_TRACE_TEXT, XVM_TRACE_GZIP, 10, EINVAL },
        { XVM_TRACE_TEXT, XVM_TRACE_GZIP, 22, EINVAL },
        { XVM_TRACE_TEXT, XVM_TRACE_ZSTD, 22, 0 },
        { XVM_TRACE_BINARY, XVM_TRACE_ZSTD, 22, 0 },
        { XVM_TRACE_BINARY, XVM_TRACE_ZSTD, 23, EINVAL },
        { XVM_TRACE_TEXT, XVM_TRACE_PLAIN, -1, EINVAL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct xvm_trace_writer_config cfg = { cases[i].format, cases[i].comp,
                                               cases[i].level };
        struct sink s = { 0 };
        xvm_trace_writer *w = NULL;
        int rc = xvm_trace_writer_create(&cfg, sink_fn, &s, &w);
        if (rc != cases[i].rc)
            fail_msg("case %zu (level %d): %d, wanted %d", i, cases[i].level,
                     rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(xvm_trace_writer_close(w), 0);
        free(s.p);
    }
}

/* A configuration no writer takes is refused before the file is
 * opened: an existing file stays as it was. */
static void test_writer_open_refuses_before_truncating(void **state)
{
    (void)state;
    char path[] = "/tmp/test_tracebin.XXXXXX", err[512], back[8] = { 0 };
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "keep me", 7), 7);
    close(fd);
    static const struct xvm_trace_writer_config bad[] = {
        { XVM_TRACE_BINARY, XVM_TRACE_GZIP, 0 },
        { XVM_TRACE_TEXT, XVM_TRACE_GZIP, 10 },
        { XVM_TRACE_TEXT, XVM_TRACE_PLAIN, 23 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xvm_trace_writer *w = NULL;
        assert_int_equal(
            xvm_trace_writer_open(path, &bad[i], &w, err, sizeof(err)), EINVAL);
        assert_non_null(strstr(err, "bad trace format"));
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(fread(back, 1, sizeof(back), f), 7);
        fclose(f);
        assert_memory_equal(back, "keep me", 7);
    }
    unlink(path);
}

/* ---- the text form's edges ---- */

static int read_text(const char *text, size_t len, char *msg, size_t msglen)
{
    uint64_t events;
    return read_all(text, len, NULL, &events, msg, msglen);
}

static void test_text_nul_bytes_are_errors(void **state)
{
    (void)state;
    char msg[512];
    static const char line[] = "xipvm-trace 2\nx 1 0x401000 16\0junk\n";
    assert_int_equal(read_text(line, sizeof(line) - 1, msg, sizeof(msg)),
                     EINVAL);
    assert_string_equal(msg, "line 2: NUL byte in the line");
    static const char head[] = "xipvm-trace 1\0junk\nx 1 0x401000 16\n";
    assert_int_equal(read_text(head, sizeof(head) - 1, msg, sizeof(msg)),
                     EINVAL);
    assert_non_null(strstr(msg, "line 1: not a trace"));
    /* The parser alone, given the line's length. */
    struct xvm_trace_event *ev = new_event();
    char l[] = "r 1 0x1000 4\0 !EFAULT";
    const char *why;
    assert_int_equal(xvm_trace_parse_text(l, sizeof(l) - 1, ev, &why), -EINVAL);
    assert_string_equal(why, "NUL byte in the line");
    free(ev);
}

/* A comment line of n bytes before its '\n'. */
static size_t comment(char *p, size_t n)
{
    p[0] = '#';
    memset(p + 1, 'c', n - 1);
    p[n] = '\n';
    return n + 1;
}

static void test_text_line_limit_holds_everywhere(void **state)
{
    (void)state;
    char msg[512];
    size_t cap = (5u << 20), n;
    char *t = malloc(cap);
    assert_non_null(t);
    /* The longest line, then one byte more: at the buffer's start. */
    n = (size_t)sprintf(t, "xipvm-trace 2\n");
    n += comment(t + n, 65535);
    n += (size_t)sprintf(t + n, "x 1 0x1000 1\n");
    assert_int_equal(read_text(t, n, msg, sizeof(msg)), 0);
    n = (size_t)sprintf(t, "xipvm-trace 2\n");
    n += comment(t + n, 65536);
    assert_int_equal(read_text(t, n, msg, sizeof(msg)), E2BIG);
    assert_string_equal(msg, "line 2: longer than 65535 bytes");
    /* Far into the reader's 4 MiB buffer, straddling its end, past it. */
    static const size_t leads[] = { 1u << 20, (4u << 20) - 1000,
                                    (4u << 20) + 5 };
    for (size_t k = 0; k < sizeof(leads) / sizeof(leads[0]); k++) {
        size_t lead = leads[k];
        n = (size_t)sprintf(t, "xipvm-trace 2\n");
        unsigned lines = 1;
        while (n < lead)
            n += comment(t + n, 999), lines++;
        n += comment(t + n, 65536);
        assert_int_equal(read_text(t, n, msg, sizeof(msg)), E2BIG);
        char want[64];
        snprintf(want, sizeof(want), "line %u: longer than 65535 bytes",
                 lines + 1);
        assert_string_equal(msg, want);
    }
    /* A last line without '\n', too long. */
    n = (size_t)sprintf(t, "xipvm-trace 2\n");
    n += comment(t + n, 70000) - 1;
    assert_int_equal(read_text(t, n, msg, sizeof(msg)), E2BIG);
    free(t);
}

/* The longest line the formatter writes (65,535 bytes and its '\n')
 * parses back with its '\n', as the parser's comment promises. */
static void test_longest_line_parses_with_its_newline(void **state)
{
    (void)state;
    struct xvm_trace_event *ev = new_event(), *back = new_event();
    size_t max = XVM_TRACE_MAX_LINE - 1; /* bytes before the '\n' */
    char *label = malloc(max), *buf = malloc(max + 3);
    const char *why = NULL;
    assert_non_null(label);
    assert_non_null(buf);
    memset(label, 'a', max - 5); /* "mark " and the label */
    label[max - 5] = '\0';
    ev->op = XVM_T_MARK;
    ev->label = label;
    int n = xvm_trace_format_event(ev, buf, max + 2);
    assert_int_equal(n, max + 1);
    assert_int_equal(xvm_trace_parse_text(buf, (size_t)n, back, &why), 1);
    assert_string_equal(back->label, label);
    assert_int_equal(xvm_trace_format_event(ev, buf, max + 2), n);
    assert_int_equal(xvm_trace_parse_line(buf, back, &why), 1);
    /* One byte more is too long, with its '\n' or without. */
    memcpy(buf, "mark ", 5);
    memset(buf + 5, 'a', max + 1 - 5);
    buf[max + 1] = '\0';
    assert_int_equal(xvm_trace_parse_line(buf, back, &why), -EINVAL);
    memcpy(buf, "mark ", 5);
    memset(buf + 5, 'a', max + 1 - 5);
    buf[max + 1] = '\n';
    buf[max + 2] = '\0';
    assert_int_equal(xvm_trace_parse_line(buf, back, &why), -EINVAL);
    assert_string_equal(why, "line longer than 65535 bytes");
    free(label);
    free(buf);
    free(ev);
    free(back);
}

/* Every errno the format names: through both forms. */
/*
 * A line within the limit whose event, written back, is not: raw control
 * bytes the writer escapes as \xHH, numbers it writes in 0x hex, PROT's
 * filler.  It read, and then neither form could write it ("the event
 * cannot be written"): now the parser refuses it, as the binary reader
 * refuses an event whose line would be too long.  The written length is
 * counted here from xvm_trace_escape, not from the formatter.
 */
static void test_line_that_outgrows_the_limit_is_refused(void **state)
{
    (void)state;
    static const char head[] = "mmap 1 0 0 r private ";
    static const char out_head[] = "mmap 1 0x0 0 r-- private ";
    struct xvm_trace_event *ev = new_event();
    char *line = malloc(XVM_TRACE_MAX_LINE + 1);
    char *path = malloc(XVM_TRACE_MAX_LINE), *esc = malloc(4 * 65536);
    const char *why;
    assert_true(line && path && esc);
    /* "/" and k bytes of 0x01: the longest k whose written line fits
     * (XVM_TRACE_MAX_LINE with its '\n'), then one more. */
    size_t k = 0;
    for (;; k++) {
        path[0] = '/';
        memset(path + 1, 1, k + 1);
        path[k + 2] = '\0';
        int e = xvm_trace_escape(path, esc, 4 * 65536);
        assert_true(e > 0);
        if (strlen(out_head) + (size_t)e + strlen(" 0x0\n") >
            XVM_TRACE_MAX_LINE)
            break;
    }
    for (size_t extra = 0; extra < 2; extra++) {
        path[0] = '/';
        memset(path + 1, 1, k + extra);
        path[k + extra + 1] = '\0';
        size_t want = strlen(out_head) +
                      (size_t)xvm_trace_escape(path, esc, 4 * 65536) +
                      strlen(" 0x0\n");
        assert_true(extra ? want > XVM_TRACE_MAX_LINE
                          : want <= XVM_TRACE_MAX_LINE);
        int n = snprintf(line, XVM_TRACE_MAX_LINE + 1, "%s%s 0\n", head, path);
        assert_true(n < XVM_TRACE_MAX_LINE / 2); /* far from the limit */
        int rc = xvm_trace_parse_text(line, (size_t)n, ev, &why);
        if (extra == 0) {
            assert_int_equal(rc, 1);
            assert_int_equal(
                xvm_trace_format_event(ev, esc, XVM_TRACE_MAX_LINE + 1), want);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_string_equal(why, "event longer than a trace line once "
                                     "written (escapes, hex)");
        }
    }
    free(line), free(path), free(esc), free(ev);
}

static void test_every_errno_name_round_trips(void **state)
{
    (void)state;
    static const char *const names[] = {
        "EFAULT",  "EACCES",     "ENOMEM",       "ENOEXEC", "ENOENT", "EINVAL",
        "EROFS",   "ESRCH",      "EEXIST",       "EPERM",   "EIO",    "ELOOP",
        "ENOTDIR", "EISDIR",     "ENAMETOOLONG", "E2BIG",   "EFBIG",  "ENOSPC",
        "EBUSY",   "EOPNOTSUPP", "ERANGE",
    };
    char text[4096];
    size_t n = (size_t)sprintf(text, "xipvm-trace 2\n");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_not_equal(xvm_trace_errno_from_name(names[i]), 0);
        n += (size_t)sprintf(text + n, "exit %zu !%s\n", i + 1, names[i]);
    }
    struct sink bin, back;
    convert(text, n, &bin_raw, &bin);
    convert(bin.p, bin.n, &text_plain, &back);
    assert_int_equal(back.n, n);
    assert_memory_equal(back.p, text, n);
    /* The code is the name's place in the list (doc/trace-format.md). */
    assert_int_equal(bin.p[25], 0x71);
    assert_int_equal(bin.p[26], 1);
    free(bin.p);
    free(back.p);
}

/* Marks past XVM_MARKS_MAX: the replay's error, not a mismatch. */
static void test_replay_marks_past_the_bound_are_an_error(void **state)
{
    (void)state;
    xvm_machine *m;
    xvm_replay *r;
    struct xvm_trace_event *ev = new_event();
    struct xvm_replay_totals t;
    char msg[256], label[32];
    int mismatch;
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    assert_int_equal(xvm_replay_create(m, NULL, &r), 0);
    ev->op = XVM_T_MARK;
    ev->label = label;
    for (int i = 0; i < XVM_MARKS_MAX; i++) {
        snprintf(label, sizeof(label), "m%d", i);
        assert_int_equal(xvm_replay_event(r, ev, &mismatch, msg, sizeof(msg)),
                         0);
        assert_int_equal(mismatch, 0);
    }
    assert_int_equal(xvm_replay_event(r, ev, &mismatch, msg, sizeof(msg)),
                     E2BIG);
    assert_string_equal(msg, "more than 4096 marks: a replay keeps at most "
                             "4096");
    xvm_replay_totals(r, &t);
    assert_int_equal(t.nmarks, XVM_MARKS_MAX);
    assert_int_equal(t.events, XVM_MARKS_MAX);
    assert_int_equal(t.mismatches, 0);
    assert_string_equal(t.marks[XVM_MARKS_MAX - 1].label, "m4095");
    xvm_replay_destroy(r);
    xvm_machine_destroy(m);
    free(ev);
}

/* A repeated mark label is reported under LABEL#N, so that every mark
 * keeps its own key in a report (JSON's object of marks); a label cut
 * to XVM_LABEL_MAX is cut shorter for its #N. */
static void test_replay_repeated_mark_labels_stay_apart(void **state)
{
    (void)state;
    xvm_machine *m;
    xvm_replay *r;
    struct xvm_trace_event *ev = new_event();
    struct xvm_replay_totals t;
    char msg[256], longl[100];
    int mismatch;
    memset(longl, 'x', sizeof(longl) - 1);
    longl[sizeof(longl) - 1] = '\0';
    const char *in[] = { "a", "a", "a#2", "a", "b", longl, longl };
    const size_t n = sizeof(in) / sizeof(in[0]);
    assert_int_equal(xvm_machine_create(NULL, &m), 0);
    assert_int_equal(xvm_replay_create(m, NULL, &r), 0);
    ev->op = XVM_T_MARK;
    for (size_t i = 0; i < n; i++) {
        ev->label = in[i];
        assert_int_equal(xvm_replay_event(r, ev, &mismatch, msg, sizeof(msg)),
                         0);
    }
    xvm_replay_totals(r, &t);
    assert_int_equal(t.nmarks, n);
    assert_string_equal(t.marks[0].label, "a");
    assert_string_equal(t.marks[1].label, "a#2");
    assert_string_equal(t.marks[2].label, "a#2#2"); /* the trace's a#2 */
    assert_string_equal(t.marks[3].label, "a#3");
    assert_string_equal(t.marks[4].label, "b");
    assert_int_equal(strlen(t.marks[5].label), XVM_LABEL_MAX - 1);
    assert_int_equal(strlen(t.marks[6].label), XVM_LABEL_MAX - 1);
    assert_memory_equal(t.marks[6].label, longl, XVM_LABEL_MAX - 3);
    assert_string_equal(t.marks[6].label + XVM_LABEL_MAX - 3, "#2");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t.marks[i].label, t.marks[j].label);
    xvm_replay_destroy(r);
    xvm_machine_destroy(m);
    free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_made_binary_reads_as_its_text),
        cmocka_unit_test(test_text_writes_as_the_hand_made_binary),
        cmocka_unit_test(test_round_trip_many_frames_both_compressions),
        cmocka_unit_test(test_longest_spawn_fits_its_frame),
        cmocka_unit_test(test_bad_records_say_what_and_where),
        cmocka_unit_test(test_batch_decoder_stops_at_a_record_past_end),
        cmocka_unit_test(test_bad_frames_say_what_and_where),
        cmocka_unit_test(test_corrupt_zstd_frame),
        cmocka_unit_test(test_zstd_skippable_frames),
        cmocka_unit_test(test_many_empty_frames_are_progress),
        cmocka_unit_test(test_version_2_events_both_ways),
        cmocka_unit_test(test_at_register_is_version_2),
        cmocka_unit_test(test_writers_refuse_the_same_events),
        cmocka_unit_test(test_writer_levels),
        cmocka_unit_test(test_writer_open_refuses_before_truncating),
        cmocka_unit_test(test_text_nul_bytes_are_errors),
        cmocka_unit_test(test_text_line_limit_holds_everywhere),
        cmocka_unit_test(test_longest_line_parses_with_its_newline),
        cmocka_unit_test(test_line_that_outgrows_the_limit_is_refused),
        cmocka_unit_test(test_every_errno_name_round_trips),
        cmocka_unit_test(test_replay_marks_past_the_bound_are_an_error),
        cmocka_unit_test(test_replay_repeated_mark_labels_stay_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
