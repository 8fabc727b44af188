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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_trace_written_parsed_and_replayed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
