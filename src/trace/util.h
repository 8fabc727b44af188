/* util.h - what the trace writers (lackey import, synth) share: errors, the traced ELF, anonymous chunks. */
#ifndef XVM_TRACE_UTIL_H
#define XVM_TRACE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "elf.h"

/* Page size a written trace assumes (every profile uses 4 KiB pages). */
#define TRACE_PAGE UINT64_C(0x1000)

/*
 * Anonymous memory a trace maps itself (lackey's relocated accesses,
 * synth's heaps and stacks) comes in chunks of TRACE_ANON_CHUNK inside
 * [TRACE_ANON_BASE, TRACE_ANON_LIMIT), so that any trace fits the 32-bit
 * sgimips profile.
 */
#define TRACE_ANON_CHUNK UINT64_C(0x100000)
#define TRACE_ANON_BASE  UINT64_C(0x40000000)
#define TRACE_ANON_LIMIT UINT64_C(0x7ff00000)

/* => where the first anonymous chunk goes for a program whose segments
 *    end at top: TRACE_ANON_BASE, or above the program when it reaches
 *    there. */
static inline uint64_t trace_anon_start(uint64_t top)
{
    if (top <= TRACE_ANON_BASE)
        return TRACE_ANON_BASE;
    return (top + TRACE_ANON_CHUNK - 1) & ~(TRACE_ANON_CHUNK - 1);
}

/* Where a call's error message goes, and its errno. */
struct trace_err {
    char *msg; /* NULL: the caller wants no message */
    size_t len;
    int code; /* the last error reported, 0 for none */
};

/* => e writes into msg (len bytes; msg may be NULL), cleared now. */
void trace_err_init(struct trace_err *e, char *msg, size_t len);

/* => code, stored in e->code, with the message formatted into e->msg. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int trace_fail(struct trace_err *e, int code, const char *fmt, ...);

/*
 * Read the traced program from the host and parse its ELF headers.
 * => *file (malloc'd; the caller frees it, also on failure) and *len:
 *    the whole file; *im: its headers.
 * => 0; EINVAL when path is NULL; the errno of a failed open or read;
 *    ENOEXEC for an empty or irregular file or a file that is not a
 *    loadable ELF; ENOMEM.  e gets a message.
 */
int trace_load_elf(struct trace_err *e, const char *path, uint8_t **file,
                   size_t *len, struct elf_image *im);

#endif
