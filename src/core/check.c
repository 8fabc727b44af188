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
