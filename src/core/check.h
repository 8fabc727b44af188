/*
 * What a layer's *_check() reports through: the first violation found,
 * as an errno and a message.  Checks run only on demand (tests, fuzzers).
 */
#ifndef XVM_CHECK_H
#define XVM_CHECK_H

#include <stddef.h>

struct check {
    char *msg;
    size_t len;
    int error; /* 0, or EINVAL once something failed */
};

/* Records the first failure only.  => EINVAL. */
int check_fail(struct check *ck, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A message into err (when err and errlen allow) for a caller that
 * reports one bad input.  => EINVAL. */
int errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
