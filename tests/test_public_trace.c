/*
 * The trace API as a user sees it: only xipvm_trace.h and the shared
 * library.  A tool of one's own writes a trace with the formatter; the
 * parser reads it back; the replayer runs it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xipvm_trace.h"

/* => the trace a user's tool writes: header, then one line per event. */
static size_t write_trace(char *buf, size_t cap)
{
    struct xvm_trace_event *ev = calloc(1, sizeof(*ev));
    size_t n = (size_t)snprintf(buf, cap, "%s\n", XVM_TRACE_HEADER);
    int len;

    assert_non_null(ev);
    xvm_trace_event_reset(ev);
    ev->op = XVM_T_MARK;
    ev->label = "start";
    assert_true((len = xvm_trace_format_event(ev, buf + n, cap - n)) > 0);
    n += (size_t)len;

    xvm_trace_event_reset(ev);
    ev->op = XVM_T_SPAWN;
    ev->pid = 1;
    ev->path = "/bin/prog";
    ev->expect_err = ENOENT; /* no mount: no program */
    assert_true((len = xvm_trace_format_event(ev, buf + n, cap - n)) > 0);
    n += (size_t)len;

    xvm_trace_event_reset(ev);
    ev->op = XVM_T_WRITE;
    ev->pid = 1;
    ev->addr = 0x1000;
    ev->len = 2;
    ev->has_data = 1;
    ev->ndata = 2;
    ev->data[0] = 0xbe;
    ev->data[1] = 0xef;
    ev->expect_err = ESRCH; /* no such process */
    assert_true((len = xvm_trace_format_event(ev, buf + n, cap - n)) > 0);
    n += (size_t)len;
    free(ev);
    return n;
}

static void test_public_trace_written_parsed_and_replayed(void **state)
{
    (void)state;
    static const char want[] = XVM_TRACE_HEADER "\n"
                                                "mark start\n"
                                                "spawn 1 /bin/prog !ENOENT\n"
                                                "w 1 0x1000 2 =beef !ESRCH\n";
    char text[512], *line, *save = NULL, msg[256];
    struct xvm_trace_event *ev = calloc(1, sizeof(*ev));
    struct xvm_replay_totals t;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_replay *r;
    int mismatch;

    assert_non_null(ev);
    assert_int_equal(write_trace(text, sizeof(text)), strlen(want));
    assert_string_equal(text, want);
    assert_true(xvm_trace_token_ok("/bin/prog"));
    assert_false(xvm_trace_token_ok("two words"));
    assert_string_equal(xvm_trace_errno_name(EFAULT), "EFAULT");
    assert_int_equal(xvm_trace_errno_from_name("EACCES"), EACCES);

    xvm_config_init(&cfg);
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    assert_int_equal(xvm_replay_create(m, NULL, &r), 0);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", line);
        if (xvm_trace_check_header(copy) != 0) {
            assert_int_equal(xvm_trace_parse_line(copy, ev, NULL), 1);
            snprintf(copy, sizeof(copy), "%s", line);
        }
        assert_int_equal(xvm_replay_line(r, copy, &mismatch, msg, sizeof(msg)),
                         0);
        assert_int_equal(mismatch, 0);
    }
    xvm_replay_totals(r, &t);
    assert_int_equal(t.lines, 4);
    assert_int_equal(t.events, 3);
    assert_int_equal(t.mismatches, 0);
    assert_int_equal(t.nmarks, 1);
    assert_string_equal(t.marks[0].label, "start");
    assert_int_equal(t.marks[0].event, 1);
    xvm_replay_destroy(r);
    xvm_machine_destroy(m);
    free(ev);
}

/* Two traces at once, through the shared library: pids and marks apart;
 * a version 1 line and a version 2 one; the per-file report's symbol. */
static void test_public_several_traces_and_versions(void **state)
{
    (void)state;
    char a[64], b[64], msg[256];
    struct xvm_trace_event ev;
    struct xvm_replay_totals t;
    struct xvm_config cfg;
    xvm_machine *m;
    xvm_replay *r;
    int mismatch;

    snprintf(a, sizeof(a), "spawn 1 /a\\x20b");
    assert_int_equal(xvm_trace_parse_line_v(a, 2, &ev, NULL), 1);
    assert_string_equal(ev.path, "/a b");
    snprintf(b, sizeof(b), "spawn 1 /a\\x20b");
    assert_int_equal(xvm_trace_parse_line_v(b, 1, &ev, NULL), 1);
    assert_string_equal(ev.path, "/a\\x20b");
    assert_int_equal(xvm_trace_header_version("xipvm-trace 1"), 1);
    assert_int_equal(xvm_trace_header_version(XVM_TRACE_HEADER), 2);

    xvm_config_init(&cfg);
    assert_int_equal(xvm_machine_create(&cfg, &m), 0);
    assert_int_equal(xvm_replay_create(m, NULL, &r), 0);
    assert_int_equal(xvm_replay_sources(r, 2), 0);
    /* pid 0 is refused alone and beside another trace alike */
    static const char *const lines[] = { XVM_TRACE_HEADER, "mark x",
                                         "exit 7 !ESRCH", "fork 7 0 !EINVAL" };
    for (unsigned k = 0; k < 2; k++)
        for (size_t i = 0; i < 4; i++) {
            snprintf(a, sizeof(a), "%s", lines[i]);
            assert_int_equal(
                xvm_replay_line_from(r, k, a, &mismatch, msg, sizeof(msg)), 0);
            assert_int_equal(mismatch, 0);
        }
    snprintf(a, sizeof(a), "mark y");
    assert_int_equal(xvm_replay_line_from(r, 2, a, &mismatch, msg, sizeof(msg)),
                     EINVAL); /* no third trace */
    xvm_replay_totals(r, &t);
    assert_int_equal(t.events, 6);
    assert_int_equal(t.nmarks, 2);
    assert_string_equal(t.marks[0].label, "1:x");
    assert_string_equal(t.marks[1].label, "2:x");
    xvm_replay_destroy(r);
    xvm_machine_destroy(m);
    assert_int_equal(xvm_file_report(NULL, NULL, NULL), EINVAL);
    assert_int_equal(xvm_file_pages(NULL, 2, NULL, NULL), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_trace_written_parsed_and_replayed),
        cmocka_unit_test(test_public_several_traces_and_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
