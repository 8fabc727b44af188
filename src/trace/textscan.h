/*
 * textscan.h - the text form's hot path, shared by the line parser
 * (trace.c) and the reader (reader.c): "r|w|x PID ADDR SIZE" scanned in
 * one pass.  Internal to the trace library.
 */
#ifndef XVM_TEXTSCAN_H
#define XVM_TEXTSCAN_H

#include <stdint.h>
#include <string.h>

#include "xipvm_trace.h"

/* not isspace(): locale-free and safe on negative chars */
static inline int ts_is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* A separator that does not end a line. */
static inline int ts_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Digit values + 1 for 0-9, a-f, A-F; 0 elsewhere. */
static const int8_t ts_hex_digit[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TS_SWAR 1
/*
 * Eight characters at once (little-endian hosts): => how many of the
 * first ones are hex digits (0 to 8), and their value in *v.  Per byte,
 * for ASCII t: ((t | 0x80) - k) & 0x80 is set when t >= k.
 */
static inline unsigned ts_hex8(const char *p, uint64_t *v)
{
    const uint64_t L = 0x0101010101010101ULL, H = 0x8080808080808080ULL;
    uint64_t t, lower;
    memcpy(&t, p, 8);
    lower = t | 0x20 * L;
#define TS_GE(x, k) ((((x) | H) - (k)*L) & H)
    uint64_t digit = TS_GE(t, '0') & ~TS_GE(t, '9' + 1);
    uint64_t alpha = TS_GE(lower, 'a') & ~TS_GE(lower, 'f' + 1);
#undef TS_GE
    uint64_t hex = (digit | alpha) & ~t & H; /* ASCII only */
    uint64_t stop = ~hex & H;
    unsigned n = stop ? (unsigned)__builtin_ctzll(stop) >> 3 : 8;
    if (n == 0)
        return 0;
    /* Digit values, the first character in the top byte. */
    uint64_t d = (t & 0x0f * L) + (alpha >> 7) * 9;
    d = __builtin_bswap64(d << (8 * (8 - n)));
    d = (d | d >> 4) & 0x00ff00ff00ff00ffULL;
    d = (d | d >> 8) & 0x0000ffff0000ffffULL;
    d = (d | d >> 16) & 0x00000000ffffffffULL;
    *v = d;
    return n;
}
#endif

/*
 * Hex digits at p (after "0x"): at most 16, so no overflow check.
 * => past them, or NULL for none or too many (the general path decides).
 * => wide: at least 16 bytes from p are readable.
 */
static inline const char *ts_scan_hex(const char *p, int wide, uint64_t *v)
{
    const char *start = p;
    uint64_t x = 0;
    int d;
#ifdef TS_SWAR
    if (wide) {
        uint64_t lo;
        unsigned n = ts_hex8(p, &x), n2;
        if (n == 8 && (n2 = ts_hex8(p + 8, &lo)) != 0) {
            x = x << (4 * n2) | lo;
            n += n2;
        }
        p += n;
        if (n == 0 || ts_hex_digit[(unsigned char)*p] != 0)
            return NULL; /* none, or more than 16 */
        *v = x;
        return p;
    }
#else
    (void)wide;
#endif
    while ((d = ts_hex_digit[(unsigned char)*p]) != 0) {
        x = x << 4 | (unsigned)(d - 1);
        p++;
    }
    *v = x;
    return p == start || p - start > 16 ? NULL : p;
}

/* Decimal digits: at most 19.  => past them, or NULL. */
static inline const char *ts_scan_dec(const char *p, uint64_t *v)
{
    const char *start = p;
    uint64_t x = 0;
    unsigned d;
    while ((d = (unsigned)(*p - '0')) <= 9) {
        x = x * 10 + d;
        p++;
    }
    *v = x;
    return p == start || p - start > 19 ? NULL : p;
}

static inline const char *ts_scan_num(const char *p, int wide, uint64_t *v)
{
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return ts_scan_hex(p + 2, wide, v);
    return ts_scan_dec(p, v);
}

/*
 * "r|w|x PID ADDR SIZE" at p, PID decimal, then blanks (not '\n').
 * => past the blanks, with op, pid, addr and len set in *ev (nothing
 *    else); or NULL for any other line.  The caller checks that the line
 *    ends there.  wide: 32 bytes past any byte of the line are readable.
 */
static inline const char *ts_access(const char *p, int wide,
                                    struct xvm_trace_event *ev)
{
    uint64_t pid, addr, size;
    enum xvm_trace_op op;
    switch (p[0]) {
    case 'x': op = XVM_T_EXEC_FETCH; break;
    case 'r': op = XVM_T_READ; break;
    case 'w': op = XVM_T_WRITE; break;
    default: return NULL;
    }
    if (p[1] != ' ' || (p = ts_scan_dec(p + 2, &pid)) == NULL || *p++ != ' ' ||
        (p = ts_scan_num(p, wide, &addr)) == NULL || *p++ != ' ' ||
        (p = ts_scan_num(p, wide, &size)) == NULL || pid > UINT32_MAX ||
        size > XVM_TRACE_MAX_SIZE)
        return NULL;
    for (int i = 0; i < 8 && ts_is_blank(*p); i++)
        p++;
    ev->op = op;
    ev->pid = (uint32_t)pid;
    ev->addr = addr;
    ev->len = size;
    return p;
}

#endif
