/* test_trace.c - trace v1 parser/formatter: examples, malformed lines, round trips, garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm_trace.h"

#define LINE_CAP (2 * XVM_TRACE_MAX_DATA + 4096 + XVM_TRACE_MAX_ARGS * 40)

/* events are big (4 KiB of data): keep them off the stack */
static struct xvm_trace_event *new_event(void)
{
    struct xvm_trace_event *ev = calloc(1, sizeof(*ev));
    assert_non_null(ev);
    return ev;
}

/* parse a copy of text (the parser writes into its line) */
static int parse_copy(const char *text, char *line, struct xvm_trace_event *ev,
                      const char **msg)
{
    snprintf(line, LINE_CAP, "%s", text);
    return xvm_trace_parse_line(line, ev, msg);
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_events_equal(const struct xvm_trace_event *a,
                                const struct xvm_trace_event *b)
{
    assert_int_equal(a->op, b->op);
    assert_int_equal(a->pid, b->pid);
    assert_int_equal(a->pid2, b->pid2);
    assert_int_equal(a->addr, b->addr);
    assert_int_equal(a->len, b->len);
    assert_int_equal(a->prot, b->prot);
    assert_int_equal(a->shared, b->shared);
    assert_int_equal(a->fixed, b->fixed);
    assert_str_eq_or_null(a->path, b->path);
    assert_int_equal(a->off, b->off);
    assert_int_equal(a->argc, b->argc);
    for (unsigned i = 0; i < a->argc; i++)
        assert_string_equal(a->argv[i], b->argv[i]);
    assert_str_eq_or_null(a->label, b->label);
    assert_int_equal(a->has_data, b->has_data);
    assert_int_equal(a->ndata, b->ndata);
    if (a->has_data)
        assert_memory_equal(a->data, b->data, a->ndata);
    assert_int_equal(a->expect_err, b->expect_err);
}

/* ---------- well-formed lines ---------- */

static void test_trace_header_accepts_versions_1_and_2(void **state)
{
    (void)state;
    assert_int_equal(xvm_trace_check_header("xipvm-trace 1"), 0);
    assert_int_equal(xvm_trace_check_header("xipvm-trace 1\n"), 0);
    assert_int_equal(xvm_trace_check_header("xipvm-trace 1 \t\r\n"), 0);
    assert_int_equal(xvm_trace_check_header("xipvm-trace 2"), 0);
    assert_int_equal(xvm_trace_check_header(XVM_TRACE_HEADER), 0);
    assert_int_equal(xvm_trace_header_version("xipvm-trace 1 "), 1);
    assert_int_equal(xvm_trace_header_version("xipvm-trace 2\r\n"), 2);
    assert_int_equal(xvm_trace_header_version(XVM_TRACE_HEADER),
                     XVM_TRACE_VERSION);
    assert_int_equal(xvm_trace_header_version("xipvm-trace 3"), 0);
    assert_int_equal(xvm_trace_header_version("xipvm-trace 21"), 0);
    assert_int_equal(xvm_trace_header_version(NULL), 0);
    assert_int_equal(xvm_trace_check_header("xipvm-trace 3"), EINVAL);
    assert_int_equal(xvm_trace_check_header("xipvm-trace 10"), EINVAL);
    assert_int_equal(xvm_trace_check_header("xipvm-trace  1"), EINVAL);
    assert_int_equal(xvm_trace_check_header(" xipvm-trace 1"), EINVAL);
    assert_int_equal(xvm_trace_check_header("xipvm-trace 1 x"), EINVAL);
    assert_int_equal(xvm_trace_check_header("xipvm-trace"), EINVAL);
    assert_int_equal(xvm_trace_check_header(""), EINVAL);
    assert_int_equal(xvm_trace_check_header(NULL), EINVAL);
}

/* Version 2 strings: escapes for any byte; version 1 reads backslashes
 * as themselves, as it always did. */
static void test_trace_version_2_escapes_any_byte_version_1_none(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char line[LINE_CAP];
    const char *msg = NULL;
    (void)state;

    assert_int_equal(
        parse_copy("exec 3 /bin/sh -c echo\\x20a;\\x09b \\e \\x21x a\\\\b",
                   line, ev, &msg),
        1);
    assert_string_equal(ev->path, "/bin/sh");
    assert_int_equal(ev->argc, 5);
    assert_string_equal(ev->argv[0], "-c");
    assert_string_equal(ev->argv[1], "echo a;\tb");
    assert_string_equal(ev->argv[2], "");
    assert_string_equal(ev->argv[3], "!x");
    assert_string_equal(ev->argv[4], "a\\b");
    assert_int_equal(
        parse_copy("mmap 1 0x1000 4096 r-- private /my\\x20lib.so 0", line, ev,
                   &msg),
        1);
    assert_string_equal(ev->path, "/my lib.so");
    assert_int_equal(parse_copy("mark two\\x20words", line, ev, &msg), 1);
    assert_string_equal(ev->label, "two words");
    assert_int_equal(
        parse_copy("pread 4 0x2000 100 /etc/x\\x20y 0x10", line, ev, &msg), 1);
    assert_int_equal(ev->op, XVM_T_PREAD);
    assert_int_equal(ev->addr, 0x2000);
    assert_int_equal(ev->len, 100);
    assert_string_equal(ev->path, "/etc/x y");
    assert_int_equal(ev->off, 0x10);
    static const char *const bad[] = {
        "spawn 1 /a\\q",   "spawn 1 /a\\",       "spawn 1 /a\\x4",
        "spawn 1 /a\\xg0", "spawn 1 /a\\x00b",   "spawn 1 /a \\ee",
        "mark x\\e",       "pread 1 0 1 /a\\ 0", "mmap 1 0 1 r private /\\ 0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg = NULL;
        if (parse_copy(bad[i], line, ev, &msg) != -EINVAL)
            fail_msg("%s: accepted", bad[i]);
        assert_non_null(strstr(msg, "bad escape"));
    }
    assert_int_equal(parse_copy("pread 1 0 4294967297 /a 0", line, ev, &msg),
                     -EINVAL);
    assert_int_equal(parse_copy("pread 1 0 1 /a", line, ev, &msg), -EINVAL);
    /* version 1: a backslash is a backslash */
    snprintf(line, sizeof(line), "spawn 1 /a\\q \\e");
    assert_int_equal(xvm_trace_parse_line_v(line, 1, ev, &msg), 1);
    assert_string_equal(ev->path, "/a\\q");
    assert_string_equal(ev->argv[0], "\\e");
    /* ... and version 2's events read in it too (doc/trace-format.md) */
    snprintf(line, sizeof(line), "pread 1 0x1000 16 /a\\b 0 !ENAMETOOLONG");
    assert_int_equal(xvm_trace_parse_line_v(line, 1, ev, &msg), 1);
    assert_int_equal(ev->op, XVM_T_PREAD);
    assert_string_equal(ev->path, "/a\\b");
    assert_int_equal(ev->expect_err, ENAMETOOLONG);
    /* the writer escapes what it must, and only that */
    char out[256];
    memset(ev, 0, sizeof(*ev));
    ev->op = XVM_T_SPAWN, ev->pid = 1, ev->path = "/bin/sh", ev->argc = 3;
    ev->argv[0] = "-c", ev->argv[1] = "a b\\!", ev->argv[2] = "";
    assert_true(xvm_trace_format_event(ev, out, sizeof(out)) > 0);
    assert_string_equal(out, "spawn 1 /bin/sh -c a\\x20b\\\\! \\e\n");
    ev->argc = 1, ev->argv[0] = "!bang";
    assert_true(xvm_trace_format_event(ev, out, sizeof(out)) > 0);
    assert_string_equal(out, "spawn 1 /bin/sh \\x21bang\n");
    assert_true(xvm_trace_token_ok("/bin/sh"));
    assert_false(xvm_trace_token_ok("a\\b"));
    assert_false(xvm_trace_token_ok(""));
    /* The same escapes for a string alone (xipvm fsinfo's paths). */
    assert_int_equal(xvm_trace_escape("/a\nb c\\", out, sizeof(out)), 14);
    assert_string_equal(out, "/a\\x0ab\\x20c\\\\");
    assert_int_equal(xvm_trace_escape("", out, sizeof(out)), 2);
    assert_string_equal(out, "\\e");
    assert_int_equal(xvm_trace_escape("!x", out, 5), -ENOSPC);
    assert_int_equal(xvm_trace_escape("!x", out, 6), 5);
    assert_string_equal(out, "\\x21x");
    free(ev);
}

static void test_trace_errno_names_map_both_ways(void **state)
{
    static const char *const names[] = {
        "EFAULT", "EACCES", "ENOMEM", "ENOEXEC", "ENOENT", "EINVAL",  "EROFS",
        "ESRCH",  "EEXIST", "EPERM",  "EIO",     "ELOOP",  "ENOTDIR",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int e = xvm_trace_errno_from_name(names[i]);
        assert_true(e > 0);
        assert_string_equal(xvm_trace_errno_name(e), names[i]);
    }
    assert_int_equal(xvm_trace_errno_from_name("EFAULT"), EFAULT);
    assert_int_equal(xvm_trace_errno_from_name("ENOTDIR"), ENOTDIR);
    assert_int_equal(xvm_trace_errno_from_name("EAGAIN"), 0);
    assert_int_equal(xvm_trace_errno_from_name("efault"), 0);
    assert_int_equal(xvm_trace_errno_from_name(""), 0);
    assert_int_equal(xvm_trace_errno_from_name(NULL), 0);
    assert_null(xvm_trace_errno_name(0));
    assert_null(xvm_trace_errno_name(EAGAIN));
    assert_null(xvm_trace_errno_name(-EFAULT));
}

static void test_trace_blank_and_comment_lines_are_no_events(void **state)
{
    static const char *const lines[] = {
        "",
        "\n",
        "   \t \r\n",
        "# comment",
        "#",
        "   # indented comment",
        "#r 1 2 3 garbage",
        "\v\f",
    };
    struct xvm_trace_event *ev = new_event();
    char line[LINE_CAP];
    const char *msg = "unset";
    (void)state;

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(parse_copy(lines[i], line, ev, &msg), 0);
        assert_null(msg);
    }
    assert_int_equal(xvm_trace_parse_line(NULL, ev, NULL), 0);
    free(ev);
}

/* A parse fixture: an event off the stack and a line to parse into. */
struct parse_fx {
    struct xvm_trace_event *ev;
    const char *msg;
    char line[LINE_CAP];
};

static int parse_setup(void **state)
{
    struct parse_fx *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    fx->ev = new_event();
    *state = fx;
    return 0;
}

static int parse_teardown(void **state)
{
    struct parse_fx *fx = *state;
    free(fx->ev);
    free(fx);
    return 0;
}

static int parse(struct parse_fx *fx, const char *text)
{
    return parse_copy(text, fx->line, fx->ev, &fx->msg);
}

static void test_trace_spawn_line_gives_path_and_arguments(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "spawn 1 /bin/busybox sh -c true\n"), 1);
    assert_int_equal(ev->op, XVM_T_SPAWN);
    assert_int_equal(ev->pid, 1);
    assert_string_equal(ev->path, "/bin/busybox");
    assert_int_equal(ev->argc, 3);
    assert_string_equal(ev->argv[0], "sh");
    assert_string_equal(ev->argv[2], "true");
    /* tokens point into the line itself */
    assert_true(ev->path >= fx->line && ev->path < fx->line + LINE_CAP);

    assert_int_equal(parse(fx, "spawn 7 /bin/true"), 1);
    assert_int_equal(ev->argc, 0);
}

static void test_trace_fork_line_gives_parent_and_child(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "fork 1 0x2"), 1);
    assert_int_equal(ev->op, XVM_T_FORK);
    assert_int_equal(ev->pid, 1);
    assert_int_equal(ev->pid2, 2);
}

static void test_trace_exec_line_carries_expected_error(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "exec 2 /bin/ls -l !ENOENT"), 1);
    assert_int_equal(ev->op, XVM_T_EXEC);
    assert_int_equal(ev->argc, 1);
    assert_int_equal(ev->expect_err, ENOENT);
}

static void test_trace_exit_pid_may_be_uint32_max(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "exit 4294967295"), 1);
    assert_int_equal(ev->op, XVM_T_EXIT);
    assert_int_equal(ev->pid, UINT32_MAX);
}

static void test_trace_mmap_anonymous_private_line(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "mmap 1 0x7f0000000000 8192 rw- private"), 1);
    assert_int_equal(ev->op, XVM_T_MMAP);
    assert_int_equal(ev->addr, 0x7f0000000000ULL);
    assert_int_equal(ev->len, 8192);
    assert_int_equal(ev->prot, XVM_PROT_READ | XVM_PROT_WRITE);
    assert_int_equal(ev->shared, 0);
    assert_int_equal(ev->fixed, 0);
    assert_null(ev->path);
}

static void test_trace_mmap_file_line_gives_flags_path_and_offset(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(
        parse(fx,
              "mmap 1 0x400000 0x1000 r-x shared,fixed /lib/libc.so 0x2000"),
        1);
    assert_int_equal(ev->prot, XVM_PROT_READ | XVM_PROT_EXEC);
    assert_int_equal(ev->shared, 1);
    assert_int_equal(ev->fixed, 1);
    assert_string_equal(ev->path, "/lib/libc.so");
    assert_int_equal(ev->off, 0x2000);
}

static void test_trace_mmap_prot_may_be_none_or_letters_in_any_order(
    void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "mmap 1 0 4096 - private,fixed"), 1);
    assert_int_equal(ev->prot, 0);
    assert_int_equal(ev->fixed, 1);
    assert_int_equal(parse(fx, "mmap 1 0 4096 xr private !EACCES"), 1);
    assert_int_equal(ev->prot, XVM_PROT_READ | XVM_PROT_EXEC);
    assert_int_equal(ev->expect_err, EACCES);
}

static void test_trace_munmap_line_gives_range(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "munmap 1 0x1000 0x2000"), 1);
    assert_int_equal(ev->op, XVM_T_MUNMAP);
    assert_int_equal(ev->len, 0x2000);
}

static void test_trace_mprotect_line_gives_protection(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "mprotect 1 0x1000 4096 r"), 1);
    assert_int_equal(ev->op, XVM_T_MPROTECT);
    assert_int_equal(ev->prot, XVM_PROT_READ);
}

static void test_trace_brk_line_gives_break(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "brk 1 0x600000"), 1);
    assert_int_equal(ev->op, XVM_T_BRK);
    assert_int_equal(ev->addr, 0x600000);
}

static void test_trace_read_line_with_hex_data_in_either_case(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "r 1 0x1000 4 =deadBEEF"), 1);
    assert_int_equal(ev->op, XVM_T_READ);
    assert_int_equal(ev->has_data, 1);
    assert_int_equal(ev->ndata, 4);
    assert_int_equal(ev->data[0], 0xde);
    assert_int_equal(ev->data[3], 0xef);
}

static void test_trace_write_line_with_expected_error_has_no_data(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "w 1 0x1000 8 !EFAULT"), 1);
    assert_int_equal(ev->op, XVM_T_WRITE);
    assert_int_equal(ev->has_data, 0);
    assert_int_equal(ev->len, 8);
    assert_int_equal(ev->expect_err, EFAULT);
}

static void test_trace_access_size_and_address_at_their_limits(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "w 1 0x1000 4294967296"), 1);
    assert_int_equal(ev->len, 4294967296ULL);
    assert_int_equal(parse(fx, "r 1 0xffffffffffffffff 0"), 1);
    assert_int_equal(ev->addr, UINT64_MAX);
    assert_int_equal(ev->len, 0);
}

static void test_trace_fetch_line_ending_in_crlf(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "x 3 0x401000 16\r\n"), 1);
    assert_int_equal(ev->op, XVM_T_EXEC_FETCH);
    assert_int_equal(ev->pid, 3);
}

static void test_trace_mark_line_gives_label(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "mark after-boot"), 1);
    assert_int_equal(ev->op, XVM_T_MARK);
    assert_string_equal(ev->label, "after-boot");
}

/* leading zeros are decimal, not octal; hex digits in either case */
static void test_trace_leading_zeros_are_decimal_and_hex_is_any_case(
    void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "\t brk  010 0XaB "), 1);
    assert_int_equal(ev->pid, 10);
    assert_int_equal(ev->addr, 0xab);
}

/* a '!' argument is fine where it is not the last token */
static void test_trace_bang_token_before_the_last_is_an_argument(void **state)
{
    struct parse_fx *fx = *state;
    struct xvm_trace_event *ev = fx->ev;

    assert_int_equal(parse(fx, "spawn 1 /bin/sh !x !EPERM"), 1);
    assert_int_equal(ev->argc, 1);
    assert_string_equal(ev->argv[0], "!x");
    assert_int_equal(ev->expect_err, EPERM);
}

/* fields from a previous event must not leak into the next */
static void test_trace_fields_of_a_previous_line_do_not_leak(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char line[LINE_CAP];
    (void)state;

    assert_int_equal(
        parse_copy("mmap 1 0x1000 4096 rwx shared,fixed /f 0x10 !EIO", line, ev,
                   NULL),
        1);
    assert_int_equal(parse_copy("r 2 0x10 1 =ab", line, ev, NULL), 1);
    assert_int_equal(parse_copy("exit 5", line, ev, NULL), 1);
    assert_int_equal(ev->pid, 5);
    assert_int_equal(ev->addr, 0);
    assert_int_equal(ev->len, 0);
    assert_int_equal(ev->prot, 0);
    assert_int_equal(ev->shared, 0);
    assert_int_equal(ev->fixed, 0);
    assert_null(ev->path);
    assert_int_equal(ev->off, 0);
    assert_int_equal(ev->has_data, 0);
    assert_int_equal(ev->ndata, 0);
    assert_int_equal(ev->expect_err, 0);
    assert_null(ev->label);
    free(ev);
}

/* ---------- malformed lines ---------- */

struct bad {
    const char *line, *msg_part;
};

static const struct bad bad_lines[] = {
    /* unknown op */
    { "read 1 0 1", "unknown op" },
    { "R 1 0 1", "unknown op" },
    { "xipvm-trace 1", "unknown op" },
    { "!EFAULT", "unknown op" },
    /* missing and extra fields */
    { "spawn 1", "missing" },
    { "spawn", "missing" },
    { "fork 1", "missing" },
    { "fork 1 2 3", "too many" },
    { "exit", "missing" },
    { "exit 1 2", "too many" },
    { "mmap 1 0 4096 r--", "missing" },
    { "mmap 1 0 4096 r-- private /f", "needs OFF" },
    { "mmap 1 0 4096 r-- private /f 0 9", "too many" },
    { "munmap 1 0", "missing" },
    { "munmap 1 0 1 2", "too many" },
    { "mprotect 1 0 1", "missing" },
    { "mprotect 1 0 1 r w", "too many" },
    { "brk 1", "missing" },
    { "brk 1 2 3", "too many" },
    { "r 1 0", "missing" },
    { "r 1 0 1 =00 =00", "too many" },
    { "x 1 0 1 =00", "too many" },
    { "mark", "missing" },
    { "mark a b", "too many" },
    { "exit !EFAULT", "missing" },
    { "r 1 0 1 00", "expected =HEX" },
    /* bad numbers */
    { "exit x", "bad PID" },
    { "exit -1", "bad PID" },
    { "exit +1", "bad PID" },
    { "exit 4294967296", "PID out of range" },
    { "exit 0x", "bad PID" },
    { "exit 12a", "bad PID" },
    { "exit 0x1g", "bad PID" },
    { "exit 1.0", "bad PID" },
    { "fork x 1", "bad PPID" },
    { "fork 1 99999999999", "CPID out of range" },
    { "brk 1 18446744073709551616", "ADDR overflows" },
    { "brk 1 0x10000000000000000", "ADDR overflows" },
    { "brk 1 0b101", "bad ADDR" },
    { "munmap 1 0 1k", "bad LEN" },
    { "mprotect 1 0 99999999999999999999 r", "LEN overflows" },
    { "mmap 1 0 1 r private /f -1", "bad OFF" },
    { "mmap 1 0 1 r private /f 0x1ffffffffffffffff", "OFF overflows" },
    { "r 1 0 4294967297", "SIZE above" },
    { "x 1 0 0x100000001", "SIZE above" },
    { "w 1 0 zz", "bad SIZE" },
    { "r 1 nope 1", "bad ADDR" },
    /* a loan of nothing: LEN is 1 to 2^32 */
    { "loan 1 0x1000 0", "LEN out of range" },
    { "unloan 1 0x1000 0", "LEN out of range" },
    { "unloan 1 0x1000 0 =", "LEN out of range" },
    /* =HEX */
    { "r 1 0 2 =abc", "odd" },
    { "w 1 0 2 =abcdef", "differs" },
    { "w 1 0 2 =ab", "differs" },
    { "r 1 0 0 =", "SIZE must be" },
    { "r 1 0 0 =00", "SIZE must be" },
    { "w 1 0 4097 =00", "SIZE must be" },
    { "w 1 0 1 =0g", "non-hex" },
    { "w 1 0 1 =", "differs" },
    { "r 1 0 2 =0x12", "non-hex" },
    /* !ERR */
    { "exit 1 !EAGAIN", "unknown !ERR" },
    { "exit 1 !", "unknown !ERR" },
    { "exit 1 !efault", "unknown !ERR" },
    { "exit 1 !EFAULT !EFAULT", "too many" },
    /* PROT and FLAGS */
    { "mprotect 1 0 1 rwxa", "bad PROT" },
    { "mprotect 1 0 1 rr", "bad PROT" },
    { "mprotect 1 0 1 R", "bad PROT" },
    { "mmap 1 0 1 p private", "bad PROT" },
    { "mmap 1 0 1 r Private", "bad FLAGS" },
    { "mmap 1 0 1 r private,", "bad FLAGS" },
    { "mmap 1 0 1 r fixed", "bad FLAGS" },
    { "mmap 1 0 1 r shared,private", "bad FLAGS" },
    { "mmap 1 0 1 r private,fixed,fixed", "bad FLAGS" },
    { "mmap 1 0 1 r privatex", "bad FLAGS" },
    { "mmap 1 0 1 r sharedfixed", "bad FLAGS" },
};

static void test_trace_malformed_lines_are_refused_with_a_reason(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char line[LINE_CAP];
    (void)state;

    for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
        const char *msg = NULL;
        int rc = parse_copy(bad_lines[i].line, line, ev, &msg);
        if (rc != -EINVAL || msg == NULL ||
            strstr(msg, bad_lines[i].msg_part) == NULL)
            fail_msg("line \"%s\": rc %d msg \"%s\", wanted \"%s\"",
                     bad_lines[i].line, rc, msg ? msg : "(null)",
                     bad_lines[i].msg_part);
    }
    free(ev);
}

static void test_trace_arguments_up_to_the_maximum_and_not_one_more(
    void **state)
{
    struct xvm_trace_event *ev = new_event();
    char text[LINE_CAP], line[LINE_CAP];
    const char *msg = NULL;
    (void)state;

    /* exactly XVM_TRACE_MAX_ARGS args, with and without !ERR, then one more */
    strcpy(text, "spawn 1 /bin/x");
    for (int i = 0; i < XVM_TRACE_MAX_ARGS; i++)
        strcat(text, " a");
    assert_int_equal(parse_copy(text, line, ev, &msg), 1);
    assert_int_equal(ev->argc, XVM_TRACE_MAX_ARGS);
    strcat(text, " !ENOENT");
    assert_int_equal(parse_copy(text, line, ev, &msg), 1);
    assert_int_equal(ev->argc, XVM_TRACE_MAX_ARGS);
    assert_int_equal(ev->expect_err, ENOENT);
    strcpy(text + strlen(text) - strlen(" !ENOENT"), " b");
    assert_int_equal(parse_copy(text, line, ev, &msg), -EINVAL);
    assert_non_null(strstr(msg, "too many"));
    strcat(text, " !ENOENT");
    assert_int_equal(parse_copy(text, line, ev, &msg), -EINVAL);
    assert_non_null(strstr(msg, "too many"));
    free(ev);
}

/* a huge number of tokens is cut off, not overrun */
static void test_trace_line_of_countless_tokens_is_refused(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char text[LINE_CAP], line[LINE_CAP];
    const char *msg = NULL;
    (void)state;

    strcpy(text, "exec 1 /x");
    while (strlen(text) < LINE_CAP - 3)
        strcat(text, " y");
    assert_int_equal(parse_copy(text, line, ev, &msg), -EINVAL);
    free(ev);
}

static void test_trace_write_with_the_maximum_data_parses(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char *text = malloc(LINE_CAP), *line = malloc(LINE_CAP);
    const char *msg;
    (void)state;

    assert_non_null(text);
    assert_non_null(line);
    int n = snprintf(text, LINE_CAP, "w 9 0x10 %d =", XVM_TRACE_MAX_DATA);
    for (int i = 0; i < XVM_TRACE_MAX_DATA; i++)
        n += snprintf(text + n, (size_t)(LINE_CAP - n), "%02x", i & 0xff);
    assert_int_equal(parse_copy(text, line, ev, &msg), 1);
    assert_int_equal(ev->ndata, XVM_TRACE_MAX_DATA);
    assert_int_equal(ev->data[XVM_TRACE_MAX_DATA - 1], 0xff);
    free(text);
    free(line);
    free(ev);
}

/* ---------- formatting ---------- */

static void test_trace_format_mmap_with_every_field(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char buf[256];
    (void)state;

    ev->op = XVM_T_MMAP, ev->pid = 3, ev->addr = 0x400000, ev->len = 8192;
    ev->prot = XVM_PROT_READ | XVM_PROT_EXEC, ev->shared = 1, ev->fixed = 1;
    ev->path = "/lib/x.so", ev->off = 0x1000, ev->expect_err = EACCES;
    int n = xvm_trace_format_event(ev, buf, sizeof(buf));
    assert_string_equal(
        buf,
        "mmap 3 0x400000 8192 r-x shared,fixed /lib/x.so 0x1000 !EACCES\n");
    assert_int_equal(n, (int)strlen(buf));
    free(ev);
}

static void test_trace_format_read_data_as_two_hex_digits_a_byte(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char buf[256];
    (void)state;

    ev->op = XVM_T_READ, ev->pid = 1, ev->addr = 0, ev->len = 2,
    ev->has_data = 1;
    ev->ndata = 2, ev->data[0] = 0x0f, ev->data[1] = 0xa0;
    xvm_trace_format_event(ev, buf, sizeof(buf));
    assert_string_equal(buf, "r 1 0x0 2 =0fa0\n");
    free(ev);
}

static void test_trace_format_mark_gives_label(void **state)
{
    struct xvm_trace_event *ev = new_event();
    char buf[256];
    (void)state;

    ev->op = XVM_T_MARK, ev->label = "L1";
    xvm_trace_format_event(ev, buf, sizeof(buf));
    assert_string_equal(buf, "mark L1\n");
    free(ev);
}

/* ENOSPC at every capacity short of length + NUL */
static void test_trace_format_into_short_buffer_is_enospc_and_writes_nothing(
    void **state)
{
    struct xvm_trace_event *ev = new_event();
    char buf[256];
    (void)state;

    ev->op = XVM_T_FORK, ev->pid = 12, ev->pid2 = 345;
    int n = xvm_trace_format_event(ev, buf, sizeof(buf));
    assert_string_equal(buf, "fork 12 345\n");
    for (int cap = 0; cap <= n; cap++) {
        char small[32];
        memset(small, 'Z', sizeof(small));
        assert_int_equal(
            xvm_trace_format_event(ev, cap ? small : NULL, (size_t)cap),
            -ENOSPC);
        /* nothing written past cap */
        for (size_t k = (size_t)cap; k < sizeof(small); k++)
            assert_int_equal(small[k], 'Z');
    }
    assert_int_equal(xvm_trace_format_event(ev, buf, (size_t)n + 1), n);
    free(ev);
}

static void expect_format_einval(struct xvm_trace_event *ev)
{
    char buf[LINE_CAP];
    assert_int_equal(xvm_trace_format_event(ev, buf, sizeof(buf)), -EINVAL);
}

static void test_trace_format_refuses_unrepresentable_events(void **state)
{
    struct xvm_trace_event *ev = new_event();
    (void)state;

    assert_int_equal(xvm_trace_format_event(NULL, NULL, 0), -EINVAL);
    memset(ev, 0, sizeof(*ev)), ev->op = (enum xvm_trace_op)99,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_EXIT, ev->expect_err = EAGAIN,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_MPROTECT, ev->prot = 8,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_SPAWN, expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_EXEC, ev->path = "/x",
                                ev->argc = 1, ev->argv[0] = NULL,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_PREAD, expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_PREAD, ev->path = "/x",
                                ev->len = XVM_TRACE_MAX_SIZE + 1,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_EXEC, ev->path = "/x",
                                ev->argc = XVM_TRACE_MAX_ARGS + 1,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_MARK, expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_MMAP, ev->off = 1,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_READ,
                                ev->len = XVM_TRACE_MAX_SIZE + 1,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_READ, ev->len = 2,
                                ev->has_data = 1, ev->ndata = 1,
                                expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_WRITE, ev->len = 0,
                                ev->has_data = 1, expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)),
        ev->op = XVM_T_WRITE, ev->len = XVM_TRACE_MAX_DATA + 1,
        ev->has_data = 1, ev->ndata = XVM_TRACE_MAX_DATA + 1,
        expect_format_einval(ev);
    memset(ev, 0, sizeof(*ev)), ev->op = XVM_T_EXEC_FETCH, ev->len = 1,
                                ev->has_data = 1, ev->ndata = 1,
                                expect_format_einval(ev);
    free(ev);
}

/* ---------- round trip over generated events ---------- */

static const int gen_errs[] = { EFAULT, EACCES, ENOMEM, ENOEXEC, ENOENT,
                                EINVAL, EROFS,  ESRCH,  EEXIST,  EPERM,
                                EIO,    ELOOP,  ENOTDIR };

static uint64_t gen_num(uint64_t *s)
{
    uint64_t r = tm_prng(s);
    switch (r & 3) {
    case 0: return r >> 2 & 0xff;
    case 1: return tm_prng(s);
    case 2: return UINT64_MAX - (r >> 60);
    default: return r >> 20;
    }
}

/* a string: any bytes but NUL (whitespace, '!', backslash, empty too) */
static const char *gen_str(uint64_t *s, char **pool)
{
    char *start = *pool;
    unsigned n = (unsigned)(tm_prng(s) % 25);
    for (unsigned i = 0; i < n; i++) {
        uint64_t r = tm_prng(s);
        /* mostly plain characters, sometimes the ones that need escapes */
        char c = r % 4 ? (char)(0x21 + r / 4 % 0x5e)
                       : " \t\n!\\\x7f\x01\xff"[r / 4 % 8];
        *(*pool)++ = c;
    }
    *(*pool)++ = '\0';
    return start;
}

static void gen_access(uint64_t *s, struct xvm_trace_event *ev)
{
    ev->addr = gen_num(s);
    ev->len = tm_prng(s) % (XVM_TRACE_MAX_SIZE + 1);
    if (ev->op != XVM_T_EXEC_FETCH && ev->op != XVM_T_LOAN && tm_prng(s) % 2) {
        ev->len = 1 + tm_prng(s) % (tm_prng(s) % 8 ? 16 : XVM_TRACE_MAX_DATA);
        ev->has_data = 1;
        ev->ndata = (size_t)ev->len;
        for (size_t i = 0; i < ev->ndata; i++)
            ev->data[i] = (uint8_t)tm_prng(s);
    }
}

static void gen_body(uint64_t *s, struct xvm_trace_event *ev, char **pool)
{
    switch (ev->op) {
    case XVM_T_SPAWN:
    case XVM_T_EXEC:
        ev->path = gen_str(s, pool);
        /* mostly a few, sometimes up to the most a line may hold */
        ev->argc = (unsigned)(tm_prng(s) % 64 == 0
                                  ? tm_prng(s) % (XVM_TRACE_MAX_ARGS + 1)
                                  : tm_prng(s) % 9);
        for (unsigned i = 0; i < ev->argc; i++)
            ev->argv[i] = gen_str(s, pool);
        break;
    case XVM_T_FORK: ev->pid2 = (uint32_t)tm_prng(s); break;
    case XVM_T_MMAP:
        ev->addr = gen_num(s), ev->len = gen_num(s),
        ev->prot = (int)(tm_prng(s) % 8);
        ev->shared = (int)(tm_prng(s) % 2), ev->fixed = (int)(tm_prng(s) % 2);
        if (tm_prng(s) % 2)
            ev->path = gen_str(s, pool), ev->off = gen_num(s);
        break;
    case XVM_T_MUNMAP: ev->addr = gen_num(s), ev->len = gen_num(s); break;
    case XVM_T_MPROTECT:
        ev->addr = gen_num(s), ev->len = gen_num(s),
        ev->prot = (int)(tm_prng(s) % 8);
        break;
    case XVM_T_BRK: ev->addr = gen_num(s); break;
    case XVM_T_READ:
    case XVM_T_WRITE:
    case XVM_T_EXEC_FETCH:
    case XVM_T_LOAN:
    case XVM_T_UNLOAN: gen_access(s, ev); break;
    case XVM_T_MARK: ev->label = gen_str(s, pool); break;
    case XVM_T_PREAD:
        ev->addr = gen_num(s), ev->len = tm_prng(s) % (XVM_TRACE_MAX_SIZE + 1);
        ev->path = gen_str(s, pool), ev->off = gen_num(s);
        break;
    case XVM_T_EXIT: break;
    }
}

static void gen_event(uint64_t *s, struct xvm_trace_event *ev, char *pool)
{
    memset(ev, 0, sizeof(*ev));
    ev->op = (enum xvm_trace_op)(tm_prng(s) % (XVM_T_UNLOAN + 1));
    if (ev->op != XVM_T_MARK)
        ev->pid = (uint32_t)gen_num(s);
    gen_body(s, ev, &pool);
    if (tm_prng(s) % 4 == 0)
        ev->expect_err =
            gen_errs[tm_prng(s) % (sizeof(gen_errs) / sizeof(gen_errs[0]))];
}

static void test_trace_generated_events_round_trip_through_text(void **state)
{
    struct xvm_trace_event *a = new_event(), *b = new_event();
    char *pool = malloc(32 * (XVM_TRACE_MAX_ARGS + 2)), *buf = malloc(LINE_CAP),
         *buf2 = malloc(LINE_CAP);
    uint64_t seed = 0x1234567887654321ULL;
    (void)state;

    assert_non_null(pool);
    assert_non_null(buf);
    assert_non_null(buf2);
    for (int it = 0; it < 200000; it++) {
        const char *msg = NULL;
        gen_event(&seed, a, pool);
        int n = xvm_trace_format_event(a, buf, LINE_CAP);
        assert_true(n > 0);
        assert_int_equal(buf[n - 1], '\n');
        assert_int_equal((size_t)n, strlen(buf));
        memcpy(buf2, buf, (size_t)n + 1);
        int rc = xvm_trace_parse_line(buf2, b, &msg);
        if (rc != 1)
            fail_msg("iteration %d: \"%s\" -> %d %s", it, buf, rc,
                     msg ? msg : "");
        assert_events_equal(a, b);
        /* and formatting the parsed event gives the same text */
        char again[LINE_CAP];
        assert_int_equal(xvm_trace_format_event(b, again, sizeof(again)), n);
        assert_string_equal(again, buf);
    }
    free(pool);
    free(buf);
    free(buf2);
    free(a);
    free(b);
}

/* ---------- garbage never crashes ---------- */

static const char *const vocab[] = {
    "spawn",
    "fork",
    "exec",
    "exit",
    "mmap",
    "munmap",
    "mprotect",
    "brk",
    "r",
    "w",
    "x",
    "mark",
    "0",
    "1",
    "0x",
    "0x10",
    "4096",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "-1",
    "rwx",
    "r--",
    "-",
    "private",
    "shared,fixed",
    "=",
    "=00",
    "=0",
    "=abcd",
    "!EFAULT",
    "!EBOGUS",
    "!",
    "#",
    "/bin/sh",
    "\t",
    "",
    "\r\n",
    "  ",
};

/* a parsed line must be internally consistent */
static void check_parsed(const struct xvm_trace_event *ev)
{
    char buf[LINE_CAP];

    assert_true(ev->argc <= XVM_TRACE_MAX_ARGS);
    assert_true(ev->ndata <= XVM_TRACE_MAX_DATA);
    assert_true(!ev->has_data || ev->ndata == ev->len);
    assert_true((ev->prot & ~7) == 0);
    int n = xvm_trace_format_event(ev, buf, sizeof(buf));
    assert_true(n > 0 || n == -EINVAL);
}

static void run_garbage(char *line, struct xvm_trace_event *ev)
{
    const char *msg = NULL;
    int rc = xvm_trace_parse_line(line, ev, &msg);

    assert_true(rc == 0 || rc == 1 || rc == -EINVAL);
    if (rc == -EINVAL)
        assert_non_null(msg);
    if (rc == 1)
        check_parsed(ev);
}

static void test_trace_random_bytes_never_crash_the_parser(void **state)
{
    struct xvm_trace_event *ev = new_event();
    uint64_t seed = 42;
    (void)state;

    for (int it = 0; it < 100000; it++) {
        size_t n = (size_t)(tm_prng(&seed) % 200);
        char *line = malloc(n + 1); /* exact size: ASan catches overreads */
        assert_non_null(line);
        for (size_t i = 0; i < n; i++) {
            line[i] = (char)(1 + tm_prng(&seed) % 255);
        }
        line[n] = '\0';
        run_garbage(line, ev);
        free(line);
    }
    free(ev);
}

static void test_trace_random_token_soup_never_crashes_the_parser(void **state)
{
    struct xvm_trace_event *ev = new_event();
    /* where the random-byte walk above leaves its seed of 42, so the two
       tests see the lines they saw as one */
    uint64_t seed = 0x4ab54ec273be62beULL;
    (void)state;

    for (int it = 0; it < 100000; it++) {
        char line[512];
        size_t len = 0;
        unsigned ntok = (unsigned)(tm_prng(&seed) % 12);
        line[0] = '\0';
        for (unsigned k = 0; k < ntok; k++) {
            const char *w =
                vocab[tm_prng(&seed) % (sizeof(vocab) / sizeof(vocab[0]))];
            len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s",
                                    k ? " " : "", w);
        }
        run_garbage(line, ev);
    }
    free(ev);
}

/* byte flips in valid formatted lines */
static void test_trace_mutated_valid_lines_never_crash_the_parser(void **state)
{
    struct xvm_trace_event *a = new_event(), *b = new_event();
    char *pool = malloc(4096), *buf = malloc(LINE_CAP);
    uint64_t seed = 7;
    (void)state;

    assert_non_null(pool);
    assert_non_null(buf);
    for (int it = 0; it < 100000; it++) {
        gen_event(&seed, a, pool);
        int n = xvm_trace_format_event(a, buf, LINE_CAP);
        assert_true(n > 0);
        for (int k = 0; k < 1 + (int)(tm_prng(&seed) % 3); k++) {
            size_t at = (size_t)(tm_prng(&seed) % (uint64_t)n);
            buf[at] = (char)(1 + tm_prng(&seed) % 255);
        }
        char *line = malloc((size_t)n + 1);
        assert_non_null(line);
        memcpy(line, buf, (size_t)n + 1);
        run_garbage(line, b);
        free(line);
    }
    free(pool);
    free(buf);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_header_accepts_versions_1_and_2),
        cmocka_unit_test(test_trace_version_2_escapes_any_byte_version_1_none),
        cmocka_unit_test(test_trace_errno_names_map_both_ways),
        cmocka_unit_test(test_trace_blank_and_comment_lines_are_no_events),
        cmocka_unit_test_setup_teardown(
            test_trace_spawn_line_gives_path_and_arguments, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_fork_line_gives_parent_and_child, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_exec_line_carries_expected_error, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(test_trace_exit_pid_may_be_uint32_max,
                                        parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(test_trace_mmap_anonymous_private_line,
                                        parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_mmap_file_line_gives_flags_path_and_offset, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_mmap_prot_may_be_none_or_letters_in_any_order,
            parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(test_trace_munmap_line_gives_range,
                                        parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_mprotect_line_gives_protection, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(test_trace_brk_line_gives_break,
                                        parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_read_line_with_hex_data_in_either_case, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_write_line_with_expected_error_has_no_data, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_access_size_and_address_at_their_limits, parse_setup,
            parse_teardown),
        cmocka_unit_test_setup_teardown(test_trace_fetch_line_ending_in_crlf,
                                        parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(test_trace_mark_line_gives_label,
                                        parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_leading_zeros_are_decimal_and_hex_is_any_case,
            parse_setup, parse_teardown),
        cmocka_unit_test_setup_teardown(
            test_trace_bang_token_before_the_last_is_an_argument, parse_setup,
            parse_teardown),
        cmocka_unit_test(test_trace_fields_of_a_previous_line_do_not_leak),
        cmocka_unit_test(test_trace_malformed_lines_are_refused_with_a_reason),
        cmocka_unit_test(
            test_trace_arguments_up_to_the_maximum_and_not_one_more),
        cmocka_unit_test(test_trace_line_of_countless_tokens_is_refused),
        cmocka_unit_test(test_trace_write_with_the_maximum_data_parses),
        cmocka_unit_test(test_trace_format_mmap_with_every_field),
        cmocka_unit_test(test_trace_format_read_data_as_two_hex_digits_a_byte),
        cmocka_unit_test(test_trace_format_mark_gives_label),
        cmocka_unit_test(
            test_trace_format_into_short_buffer_is_enospc_and_writes_nothing),
        cmocka_unit_test(test_trace_format_refuses_unrepresentable_events),
        cmocka_unit_test(test_trace_generated_events_round_trip_through_text),
        cmocka_unit_test(test_trace_random_bytes_never_crash_the_parser),
        cmocka_unit_test(test_trace_random_token_soup_never_crashes_the_parser),
        cmocka_unit_test(test_trace_mutated_valid_lines_never_crash_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
