/*
 * Fuzz target 5: the trace reader on any bytes (binary traces above all:
 * headers, frames, records; text and compressed streams too).  Whatever
 * it accepts must write in both forms and read back as the same events;
 * whatever it refuses must be refused with a message.  Memory and time
 * stay in proportion to the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm_trace.h"
#include "memsink.h"

#define MAX_INPUT (1u << 20)

/* Events compare as their text lines: a line parses back to one event. */
static char line[XVM_TRACE_MAX_LINE + 1];

static size_t as_line(const struct xvm_trace_event *ev, const char *form)
{
    int n = xvm_trace_format_event(ev, line, sizeof(line));
    if (n < 0) {
        fprintf(stderr, "fuzz_tracebin: %s: an event no trace can hold\n",
                form);
        abort();
    }
    return (size_t)n;
}

/* Reads back what a writer wrote: the same events, then the end. */
static void check_back(const struct sink *s, const char *form,
                       const struct sink *lines, struct xvm_trace_event *ev)
{
    xvm_trace_reader *rd;
    size_t at = 0;
    int rc;
    if (xvm_trace_reader_mem(s->p, s->n, &rd) != 0)
        abort();
    while ((rc = xvm_trace_read(rd, ev)) == 1) {
        size_t n = as_line(ev, form);
        if (at + n > lines->n || memcmp(lines->p + at, line, n) != 0) {
            fprintf(stderr, "fuzz_tracebin: %s: event differs: %.*s", form,
                    (int)n, line);
            abort();
        }
        at += n;
    }
    if (rc != 0 || at != lines->n) {
        fprintf(stderr, "fuzz_tracebin: %s: %s\n", form,
                rc ? xvm_trace_reader_error(rd) : "events missing");
        abort();
    }
    xvm_trace_reader_close(rd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct xvm_trace_writer_config cfg[2] = {
        { XVM_TRACE_BINARY, XVM_TRACE_PLAIN, 0 },
        { XVM_TRACE_TEXT, XVM_TRACE_PLAIN, 0 },
    };
    static struct xvm_trace_event ev;
    xvm_trace_reader *rd;
    xvm_trace_writer *w[2];
    struct sink out[2], lines;
    int rc;
    if (size > MAX_INPUT)
        return 0;
    memset(out, 0, sizeof(out));
    memset(&lines, 0, sizeof(lines));
    if (xvm_trace_reader_mem(data, size, &rd) != 0 ||
        xvm_trace_writer_create(&cfg[0], sink_fn, &out[0], &w[0]) != 0 ||
        xvm_trace_writer_create(&cfg[1], sink_fn, &out[1], &w[1]) != 0)
        abort();
    while ((rc = xvm_trace_read(rd, &ev)) == 1) {
        size_t n = as_line(&ev, "input");
        if (sink_fn(&lines, line, n) != 0)
            abort();
        for (int k = 0; k < 2; k++)
            if (xvm_trace_write(w[k], &ev) != 0)
                abort();
    }
    if (rc != 0 && xvm_trace_reader_error(rd) == NULL) {
        fprintf(stderr, "fuzz_tracebin: error %d without a message\n", rc);
        abort();
    }
    xvm_trace_reader_close(rd);
    for (int k = 0; k < 2; k++) {
        if (xvm_trace_writer_close(w[k]) != 0)
            abort();
        check_back(&out[k], k ? "text" : "binary", &lines, &ev);
        free(out[k].p);
    }
    free(lines.p);
    return 0;
}
