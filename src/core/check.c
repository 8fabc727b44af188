/*
 * Failure reports of the layers' checks; see check.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

int check_fail(struct check *ck, const char *fmt, ...)
{
    if (ck->error)
        return ck->error;
    va_list ap;
    va_start(ap, fmt);
    if (ck->msg && ck->len)
        vsnprintf(ck->msg, ck->len, fmt, ap);
    va_end(ap);
    ck->error = EINVAL;
    return EINVAL;
}

int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EINVAL;
}
