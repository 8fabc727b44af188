/*
 * xipvm convert IN OUT: a trace from one form to the other (text and
 * binary, plain or compressed), event for event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "usage: xipvm convert [--to text|binary] [--compress none|gzip|zstd]\n"
    "                     [--level N] IN OUT\n"
    "  Reads a trace in either form (text or binary, plain, .gz or .zst;\n"
    "  '-' is standard input) and writes the same events to OUT ('-' is\n"
    "  standard output).  By default OUT's name decides: *.xvt binary with\n"
    "  zstd frames, *.gz and *.zst compressed text, anything else plain\n"
    "  text.  Binary traces compress with zstd or not at all.\n";

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
            return fprintf(stderr, "xipvm: --to: text or binary\n"), -1;
    } else if (strcmp(name, "--compress") == 0) {
        *comp = true;
        if (strcmp(v, "none") == 0)
            cfg->compression = XVM_TRACE_PLAIN;
        else if (strcmp(v, "gzip") == 0)
            cfg->compression = XVM_TRACE_GZIP;
        else if (strcmp(v, "zstd") == 0)
            cfg->compression = XVM_TRACE_ZSTD;
        else
            return fprintf(stderr, "xipvm: --compress: none, gzip or zstd\n"),
                   -1;
    } else if (strcmp(name, "--level") == 0) {
        if (parse_uint(v, 22, &n) != 0 || n == 0)
            return fprintf(stderr, "xipvm: --level: 1 to 22\n"), -1;
        cfg->level = (int)n;
    } else {
        return fprintf(stderr, "xipvm: unknown option %s\n%s", name, usage), -1;
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
    int npos = 0;
    const char *pos[2] = { NULL, NULL };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] != '\0') {
            if (i + 1 >= argc) {
                fprintf(stderr, "xipvm: %s needs a value\n", a);
                return 2;
            }
            if (convert_opt(a, argv[++i], &given, &to, &comp) != 0)
                return 2;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "xipvm: unexpected argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    if (npos != 2) {
        fputs(usage, stderr);
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
    if (ev == NULL) {
        fprintf(stderr, "xipvm: out of memory\n");
        return 1;
    }
    rc = 1;
    if (xvm_trace_reader_open(in, &rd, err, sizeof(err)) != 0 ||
        xvm_trace_writer_open(out, &cfg, &w, err, sizeof(err)) != 0) {
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
    if (w) {
        int error = xvm_trace_writer_close(w);
        if (error && rc == 0) {
            fprintf(stderr, "xipvm: %s: %s\n", out, strerror(error));
            rc = 1;
        }
    }
    if (rc != 0 && w && strcmp(out, "-") != 0)
        unlink(out); /* no partial trace left behind */
    xvm_trace_reader_close(rd);
    free(ev);
    return rc;
}
