/*
 * An in-memory sink for the trace writer (xvm_trace_writer_create's write
 * function), shared by test_tracebin and fuzz_tracebin.
 */
#ifndef MEMSINK_H
#define MEMSINK_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    uint8_t *p;
    size_t n, cap;
};

/* => 0, or ENOMEM with the sink unchanged. */
static inline int sink_fn(void *ctx, const void *buf, size_t len)
{
    struct sink *s = ctx;
    if (s->n + len > s->cap) {
        size_t cap = (s->n + len) * 2;
        uint8_t *p = realloc(s->p, cap);
        if (p == NULL)
            return ENOMEM;
        s->p = p, s->cap = cap;
    }
    memcpy(s->p + s->n, buf, len);
    s->n += len;
    return 0;
}

#endif
