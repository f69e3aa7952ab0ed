/* Pure parts of the shim: containerd's flag syntax, socket naming, /proc stat parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cleanup.h"
#include "shim.h"
#include "stats.h"

static void test_flags_go_style(void **state)
{
    char *argv[] = {"shim",   "-namespace", "k8s.io", "--address=/run/c.sock", "-id", "abc",
                    "-debug", "start",      NULL};
    struct shim_opts o;
    rerr *err = NULL;
    assert_int_equal(shim_opts_parse(8, argv, &o, &err), 0);
    assert_string_equal(o.ns, "k8s.io");
    assert_string_equal(o.address, "/run/c.sock");
    assert_string_equal(o.id, "abc");
    assert_true(o.debug);
    assert_string_equal(o.action, "start");
    shim_opts_free(&o);
}

static void test_flags_errors(void **state)
{
    struct shim_opts o;
    rerr *err = NULL;
    char *missing[] = {"shim", "-id", NULL};
    assert_int_equal(shim_opts_parse(2, missing, &o, &err), -EINVAL);
    assert_non_null(strstr(rerr_msg(err), "-id needs a value"));
    shim_opts_free(&o);
    rerr_free(err);
    err = NULL;
    char *unknown[] = {"shim", "-bogus", "x", NULL};
    assert_int_equal(shim_opts_parse(3, unknown, &o, &err), -EINVAL);
    assert_non_null(strstr(rerr_msg(err), "unknown flag -bogus"));
    shim_opts_free(&o);
    rerr_free(err);
}

static void test_socket_path_groups(void **state)
{
    struct reaper_config cfg = {.runtime_root = "/run/reaper"};
    _cleanup_free_ char *a = shim_socket_path(&cfg, "/c.sock", "k8s.io", "sandbox1");
    _cleanup_free_ char *b = shim_socket_path(&cfg, "/c.sock", "k8s.io", "sandbox1");
    _cleanup_free_ char *c = shim_socket_path(&cfg, "/c.sock", "k8s.io", "sandbox2");
    _cleanup_free_ char *d = shim_socket_path(&cfg, "/c.sock", "default", "sandbox1");
    _cleanup_free_ char *e = shim_socket_path(&cfg, "/other.sock", "k8s.io", "sandbox1");
    assert_string_equal(a, b); /* containers of one pod share the pod's shim */
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_string_not_equal(a, e); /* two containerds never share a shim */
    assert_true(strlen(a) < 108);
    assert_int_equal(strncmp(a, "/run/reaper/s/", 14), 0);
}

static void test_stat_line(void **state)
{
    /* comm with a space and a paren; utime 150, stime 50 ticks; rss 100 pages */
    const char *line = "42 (my (odd) comm) S 1 42 42 0 -1 4194304 7 0 3 0 150 50 0 0 20 0 1 0 "
                       "12345 1000000 100 18446744073709551615";
    struct tree_stats st = {0};
    struct proc_stat ps;
    assert_int_equal(proc_stat_parse(line, &ps), 0);
    stats_add(&ps, 100, 4096, &st);
    assert_int_equal(st.user_ns, 1500000000ull);
    assert_int_equal(st.kernel_ns, 500000000ull);
    assert_int_equal(st.rss_bytes, 409600);
    assert_int_equal(st.minflt, 7);
    assert_int_equal(st.majflt, 3);
    assert_int_equal(st.pids, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_go_style),
        cmocka_unit_test(test_flags_errors),

        cmocka_unit_test(test_socket_path_groups),
        cmocka_unit_test(test_stat_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
