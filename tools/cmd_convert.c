/*
 * xipvm convert IN OUT: a trace from one form to the other (text and
 * binary, plain or compressed), event for event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const struct cli_opt convert_opts[] = {
    { "--to", "FORM", "by OUT's name",
      "text or binary (the other form's compression by default)" },
    { "--compress", "KIND", "by OUT's name",
      "none, gzip or zstd (binary: zstd or none)" },
    { "--level", "N", "zstd's 3, gzip's 6",
      "compression level, 1 to 22 (gzip: 1 to 9)" },
    { NULL, NULL, NULL, NULL },
};

const struct cli_cmd convert_cmd = {
    .name = "convert",
    .synopsis = "[--to text|binary] [--compress none|gzip|zstd] [--level N] "
                "IN OUT",
    .summary = "a trace from text to binary or back, event for event",
    .opts = convert_opts,
    .details =
        "Reads a trace in either form (text or binary, plain, .gz or .zst; "
        "'-' is\nstandard input) and writes the same events to OUT ('-' is "
        "standard\noutput).  By default OUT's name decides: *.xvt (and "
        "*.xvt.zst) binary\nwith zstd frames, other *.gz and *.zst "
        "compressed text, anything else\nplain text.  Exit status: 0, 1 "
        "when IN cannot be read or OUT written (no\npartial OUT is left; "
        "on standard output, a FIFO or a device, the trace\nstops without "
        "its end, so no reader takes it for whole), 2 for a usage\n"
        "error.\n",
    .fn = cmd_convert,
};

static int convert_opt(const char *name, const char *v,
                       struct xvm_trace_writer_config *cfg, bool *to,
                       bool *comp)
{
    uint64_t n;
    if (strcmp(name, "--to") == 0) {
        *to = true;
        if (strcmp(v, "text") == 0)
            cfg->format = XVM_TRACE_TEXT;
        else if (strcmp(v, "binary") == 0)
            cfg->format = XVM_TRACE_BINARY;
        else
            return fprintf(stderr, "xipvm convert: --to: text or binary\n"), -1;
    } else if (strcmp(name, "--compress") == 0) {
        *comp = true;
        if (strcmp(v, "none") == 0)
            cfg->compression = XVM_TRACE_PLAIN;
        else if (strcmp(v, "gzip") == 0)
            cfg->compression = XVM_TRACE_GZIP;
        else if (strcmp(v, "zstd") == 0)
            cfg->compression = XVM_TRACE_ZSTD;
        else
            return fprintf(stderr,
                           "xipvm convert: --compress: none, gzip or zstd\n"),
                   -1;
    } else { /* --level */
        if (parse_uint(v, 22, &n) != 0 || n == 0)
            return fprintf(stderr, "xipvm convert: --level: 1 to 22\n"), -1;
        cfg->level = (int)n;
    }
    return 0;
}

/* The configuration OUT's name gives, overridden by the options. */
static int options(int argc, char **argv, struct xvm_trace_writer_config *cfg,
                   const char **in, const char **out)
{
    struct xvm_trace_writer_config given = { XVM_TRACE_TEXT, XVM_TRACE_PLAIN,
                                             0 };
    bool to = false, comp = false;
    int npos = 0, kind;
    const char *pos[2] = { NULL, NULL }, *v;
    const struct cli_opt *opt;
    struct cli_args args = { &convert_cmd, argc, 1, argv, false };
    while ((kind = cli_next(&args, &opt, &v)) != CLI_END) {
        if (kind == CLI_ERR) {
            cli_usage(stderr, &convert_cmd);
            return 2;
        }
        if (kind == CLI_OPT) {
            if (convert_opt(opt->name, v, &given, &to, &comp) != 0)
                return 2;
        } else if (npos < 2) {
            pos[npos++] = v;
        } else {
            fprintf(stderr, "xipvm convert: unexpected argument %s\n", v);
            cli_usage(stderr, &convert_cmd);
            return 2;
        }
    }
    if (npos != 2) {
        cli_usage(stderr, &convert_cmd);
        return 2;
    }
    *in = pos[0];
    *out = pos[1];
    xvm_trace_writer_config_path(*out, cfg);
    if (to) {
        /* Another form than the name's: its compression by default. */
        if (cfg->format != given.format)
            cfg->compression = given.format == XVM_TRACE_BINARY
                                   ? XVM_TRACE_ZSTD
                                   : XVM_TRACE_PLAIN;
        cfg->format = given.format;
    }
    if (comp)
        cfg->compression = given.compression;
    cfg->level = given.level;
    if (cfg->format == XVM_TRACE_BINARY && cfg->compression == XVM_TRACE_GZIP) {
        fprintf(stderr, "xipvm: binary traces compress with zstd or not at "
                        "all (--compress zstd or none)\n");
        return 2;
    }
    if (cfg->compression == XVM_TRACE_GZIP && cfg->level > 9) {
        fprintf(stderr, "xipvm convert: --level: 1 to 9 for gzip\n");
        return 2;
    }
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    struct xvm_trace_writer_config cfg;
    const char *in, *out;
    char err[512], where[160];
    int rc = options(argc, argv, &cfg, &in, &out), got;
    if (rc != 0)
        return rc;
    struct xvm_trace_event *ev = malloc(sizeof(*ev));
    xvm_trace_reader *rd = NULL;
    xvm_trace_writer *w = NULL;
    struct output *o = NULL;
    if (ev == NULL) {
        fprintf(stderr, "xipvm: out of memory\n");
        return 1;
    }
    rc = 1;
    /* OUT written aside and renamed (output.c): IN may be OUT, and a
     * failure leaves OUT as it was. */
    if (xvm_trace_reader_open(in, &rd, err, sizeof(err)) != 0 ||
        (w = trace_output_open_cfg(out, &cfg, &o, err, sizeof(err))) == NULL) {
        fprintf(stderr, "xipvm: %s\n", err);
        goto done;
    }
    while ((got = xvm_trace_read(rd, ev)) == 1) {
        int error = xvm_trace_write(w, ev);
        if (error) {
            xvm_trace_reader_where(rd, where, sizeof(where));
            fprintf(stderr, "xipvm: %s: %s: %s\n", out, where,
                    error == EINVAL ? "the event cannot be written"
                                    : strerror(error));
            goto done;
        }
    }
    if (got != 0) {
        fprintf(stderr, "xipvm: %s: %s\n", in, xvm_trace_reader_error(rd));
        goto done;
    }
    rc = 0;
done:
    if (w && rc == 0 && trace_output_commit(w, o, err, sizeof(err)) != 0) {
        fprintf(stderr, "xipvm: %s\n", err);
        rc = 1;
    } else if (w && rc != 0) {
        trace_output_abort(w, o); /* no partial trace left behind */
    }
    xvm_trace_reader_close(rd);
    free(ev);
    return rc;
}
