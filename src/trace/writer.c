/* writer.c - trace lines written through xvm_trace_format_event, buffered. */
#include "lk.h"

#include <errno.h>
#include <string.h>

void tw_init(struct twriter *w, FILE *out, struct lackey_stats *st,
             struct trace_err *e)
{
    w->out = out;
    w->st = st;
    w->e = e;
    w->n = 0;
}

int tw_flush(struct twriter *w)
{
    if (w->n > 0 && fwrite(w->buf, 1, w->n, w->out) != w->n)
        return trace_fail(w->e, errno ? errno : EIO, "writing the trace: %s",
                          strerror(errno ? errno : EIO));
    w->n = 0;
    return 0;
}

int tw_header(struct twriter *w)
{
    static const char head[] = XVM_TRACE_HEADER "\n";
    int r;
    if (w->n + sizeof(head) > TW_BUF && (r = tw_flush(w)) != 0)
        return r;
    memcpy(w->buf + w->n, head, sizeof(head) - 1);
    w->n += sizeof(head) - 1;
    return 0;
}

/* Every line goes through the trace formatter, straight into the buffer. */
int tw_event(struct twriter *w, const struct xvm_trace_event *ev)
{
    int n, r;

    if (w->n + TW_LINE_MAX + 1 > TW_BUF && (r = tw_flush(w)) != 0)
        return r;
    n = xvm_trace_format_event(ev, w->buf + w->n, TW_LINE_MAX + 1);
    if (n == -ENOSPC)
        return trace_fail(w->e, E2BIG,
                          "a %s line longer than %u bytes: readers would "
                          "refuse it",
                          ev->op == XVM_T_MMAP ? "mmap" : "spawn or exec",
                          TW_LINE_MAX);
    if (n < 0)
        return trace_fail(
            w->e, EINVAL, "cannot write a trace line (op %d): %s", (int)ev->op,
            ev->argc > XVM_TRACE_MAX_ARGS ? "more than 256 arguments"
                                          : "the event is malformed");
    w->n += (size_t)n;
    w->st->events++;
    return 0;
}
