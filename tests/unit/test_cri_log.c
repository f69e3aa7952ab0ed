/* The CRI log parser behind the replay of a restored container's earlier output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cri_log.h"

#define TS "2026-12-02T08:13:32.123456789Z"

static void assert_line(const char *line, int stream, bool partial, const char *content)
{
    struct cri_log_line l;
    assert_int_equal(cri_log_parse_line(line, strlen(line), &l), 0);
    assert_int_equal(l.stream, stream);
    assert_int_equal(l.partial, partial);
    assert_int_equal(l.len, strlen(content));
    assert_memory_equal(l.content, content, l.len);
}

static void test_entries(void **state)
{
    assert_line(TS " stdout F hello world", CRI_STDOUT, false, "hello world");
    assert_line(TS " stderr P part", CRI_STDERR, true, "part");
    assert_line(TS " stdout F ", CRI_STDOUT, false, ""); /* empty line */
    assert_line(TS " stdout F", CRI_STDOUT, false, "");  /* ... without its space */
    assert_line(TS " stdout F  two spaces", CRI_STDOUT, false, " two spaces");
    assert_line(TS " stdout F:x tagged", CRI_STDOUT, false, "tagged"); /* further tags */
    assert_line("2026-12-02T08:13:32+01:00 stdout F tz", CRI_STDOUT, false, "tz");
}

static void test_not_entries(void **state)
{
    static const char *const bad[] = {
        "",
        "hello",
        TS,
        TS " ",
        TS " stdin F x",
        TS " stdout X x",
        TS " stdout FF x",
        TS " stdout  F x",
        "2026-1-02T08:13:32Z stdout F x",
        "yesterday stdout F x",
        " " TS " stdout F x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cri_log_line l;
        if (cri_log_parse_line(bad[i], strlen(bad[i]), &l) != -EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
}

static void test_split_by_stream(void **state)
{
    const char text[] = TS " stdout F one\n" TS " stderr P e1-\n" TS " stdout P tw\n"
                           "garbage\n" TS " stdout F o\n" TS " stderr F e2\n" TS " stdout F last";
    struct cri_log_streams s;
    cri_log_split(text, strlen(text), &s);
    assert_string_equal(s.out, "one\ntwo\nlast\n");
    assert_int_equal(s.out_len, strlen("one\ntwo\nlast\n"));
    assert_string_equal(s.err, "e1-e2\n");
    assert_int_equal(s.err_len, 6);
    assert_int_equal(s.bad_lines, 1);
    cri_log_streams_free(&s);
}

static void test_split_empty_and_binary(void **state)
{
    struct cri_log_streams s;
    cri_log_split("", 0, &s);
    assert_int_equal(s.out_len + s.err_len + s.bad_lines, 0);
    cri_log_streams_free(&s);
    const char text[] = TS " stdout P a\0b\n" TS " stdout F \n";
    cri_log_split(text, sizeof(text) - 1, &s);
    assert_int_equal(s.out_len, 4);
    assert_memory_equal(s.out, "a\0b\n", 4);
    cri_log_streams_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_not_entries),
        cmocka_unit_test(test_split_by_stream),
        cmocka_unit_test(test_split_empty_and_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
