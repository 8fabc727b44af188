/* util.c - what the trace writers (lackey import, synth) share: errors, the traced ELF. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void trace_err_init(struct trace_err *e, char *msg, size_t len)
{
    e->msg = len > 0 ? msg : NULL;
    e->len = len;
    e->code = 0;
    if (e->msg != NULL)
        e->msg[0] = '\0';
}

int trace_fail(struct trace_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e->msg != NULL) {
        va_start(ap, fmt);
        vsnprintf(e->msg, e->len, fmt, ap);
        va_end(ap);
    }
    return e->code = code;
}

/* => *file and *len: the whole of a regular, non-empty file. */
static int read_file(struct trace_err *e, const char *path, uint8_t **file,
                     size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    int r;

    if (f == NULL)
        return trace_fail(e, errno ? errno : EIO, "%s: %s", path,
                          strerror(errno ? errno : EIO));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        fclose(f);
        return trace_fail(e, ENOEXEC, "%s: not a regular non-empty file", path);
    }
    *len = (size_t)sb.st_size;
    if ((*file = malloc(*len)) == NULL) {
        fclose(f);
        return trace_fail(e, ENOMEM, "%s: out of memory", path);
    }
    if (fread(*file, 1, *len, f) != *len) {
        r = ferror(f) && errno ? errno : EIO;
        fclose(f);
        return trace_fail(e, r, "%s: read failed", path);
    }
    fclose(f);
    return 0;
}

int trace_load_elf(struct trace_err *e, const char *path, uint8_t **file,
                   size_t *len, struct elf_image *im)
{
    int r;

    *file = NULL;
    *len = 0;
    if (path == NULL)
        return trace_fail(e, EINVAL, "no ELF program given (--exec)");
    if ((r = read_file(e, path, file, len)) != 0)
        return r;
    if (elf_parse(*file, *len, im) != 0)
        return trace_fail(e, ENOEXEC, "%s: not a loadable ELF program", path);
    return 0;
}
