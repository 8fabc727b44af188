/*
 * lkwriter.c - the importer's events into a trace writer
 * (xvm_trace_writer: text or binary, plain or compressed, as configured),
 * with the importer's messages; and the text-to-a-FILE form of the
 * importer's entry points.
 */
#include "lk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void tw_init(struct twriter *w, xvm_trace_writer *out, struct lackey_stats *st,
             struct trace_err *e)
{
    w->out = out;
    w->st = st;
    w->e = e;
}

int tw_event(struct twriter *w, const struct xvm_trace_event *ev)
{
    int r = xvm_trace_write(w->out, ev);
    if (r == 0) {
        w->st->events++;
        return 0;
    }
    if (r != EINVAL)
        return trace_fail(w->e, r, "writing the trace: %s", strerror(r));
    /* Why: its line would be too long, or no trace can hold it. */
    char *line = malloc(XVM_TRACE_MAX_LINE + 1);
    int n = line ? xvm_trace_format_event(ev, line, XVM_TRACE_MAX_LINE + 1)
                 : -ENOMEM;
    free(line);
    if (n == -ENOMEM)
        return trace_fail(w->e, ENOMEM, "out of memory");
    if (n == -ENOSPC || n >= 0)
        return trace_fail(w->e, E2BIG,
                          "a %s line of %u bytes or more: readers would "
                          "refuse it",
                          ev->op == XVM_T_MMAP    ? "mmap"
                          : ev->op == XVM_T_PREAD ? "pread"
                                                  : "spawn or exec",
                          (unsigned)XVM_TRACE_MAX_LINE);
    return trace_fail(w->e, EINVAL, "cannot write a trace line (op %d): %s",
                      (int)ev->op,
                      ev->argc > XVM_TRACE_MAX_ARGS ? "more than 256 arguments"
                                                    : "the event is malformed");
}

/* ---------- the entry points on a FILE: plain text ---------- */

static int file_sink(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : errno ? errno : EIO;
}

/* A plain text writer on a FILE, for the three entry points below. */
struct on_file {
    FILE *out;
    xvm_trace_writer *w;
    struct trace_err e;
};

static int file_open(struct on_file *f, FILE *out, char *err, size_t errlen)
{
    struct xvm_trace_writer_config cfg;
    xvm_trace_writer_config_init(&cfg);
    cfg.format = XVM_TRACE_TEXT;
    cfg.compression = XVM_TRACE_PLAIN;
    f->out = out;
    trace_err_init(&f->e, err, errlen);
    int r = out ? xvm_trace_writer_create(&cfg, file_sink, out, &f->w) : EINVAL;
    if (r)
        return trace_fail(&f->e, r, "%s",
                          r == EINVAL ? "lackey: NULL output" : strerror(r));
    return 0;
}

/* Closes the writer (its last bytes out) and flushes the FILE; r: the
 * import's result. */
static int file_close(struct on_file *f, int r)
{
    int c = xvm_trace_writer_close(f->w);
    if (c == 0 && fflush(f->out) != 0)
        c = errno ? errno : EIO;
    if (r == 0 && c != 0)
        r = trace_fail(&f->e, c, "writing the trace: %s", strerror(c));
    return r;
}

int lackey_import(FILE *in, FILE *out, const struct lackey_opts *o,
                  struct lackey_stats *st, char *err, size_t errlen)
{
    struct on_file f;
    int r = file_open(&f, out, err, errlen);
    return r ? r
             : file_close(&f, lackey_import_to(in, f.w, o, st, err, errlen));
}

int lackey_import_dir(const char *dir, FILE *out, const struct lackey_opts *o,
                      struct lackey_stats *st, char *err, size_t errlen)
{
    struct on_file f;
    int r = file_open(&f, out, err, errlen);
    return r ? r
             : file_close(&f,
                          lackey_import_dir_to(dir, f.w, o, st, err, errlen));
}

int lackey_record(const char *const *argv, FILE *out,
                  const struct lackey_opts *o, struct lackey_stats *st,
                  int *child_status, char *err, size_t errlen)
{
    struct on_file f;
    struct lackey_opts io;
    int r = file_open(&f, out, err, errlen);
    if (r)
        return r;
    if (o) {
        io = *o;
        io.trace_on_stdout = fileno(out) == 1;
    }
    return file_close(&f, lackey_record_to(argv, f.w, o ? &io : NULL, st,
                                           child_status, err, errlen));
}
