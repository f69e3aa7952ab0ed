#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assert_contains.h"
#include "cleanup.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "util.h"

/* Parse text into fresh defaults; returns the result, error message in *msg (caller frees). */
static int parse(struct reaper_config *cfg, const char *text, char **msg)
{
    rerr *e = NULL;
    config_init_defaults(cfg);
    int r = config_parse_text(cfg, text, "/etc/reaper/reaper.conf", &e);
    *msg = e ? xstrdup(rerr_msg(e)) : NULL;
    rerr_free(e);
    return r;
}

static void expect_parse_error(const char *text, const char *needle)
{
    struct reaper_config cfg;
    _cleanup_free_ char *msg = NULL;
    assert_int_equal(parse(&cfg, text, &msg), -EINVAL);
    assert_non_null(msg);
    assert_contains(msg, needle);
    config_free(&cfg);
}

static char *write_temp(const char *text)
{
    char *path = xstrdup("/tmp/reaper-test-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, text, strlen(text)), 0);
    close(fd);
    return path;
}

static void test_defaults(void **state)
{
    struct reaper_config cfg;
    config_init_defaults(&cfg);
    assert_string_equal(cfg.runtime_root, "/run/reaper");
    assert_string_equal(cfg.overlay_base, "/run/reaper/overlay");
    assert_string_equal(cfg.filter_dir, "/run/reaper/overlay-filters");
    assert_null(cfg.shim_log);
    assert_null(cfg.runtime_log);
    assert_int_equal(cfg.isolation, ISOLATION_NAMESPACE);
    assert_int_equal(cfg.dns_mode, DNS_HOST);
    assert_true(cfg.annotations_enabled);
    assert_true(cfg.filter_enabled);
    assert_int_equal(cfg.filter_mode, FILTER_APPEND);
    assert_int_equal(strv_len(cfg.filter_paths), 0);
    assert_int_equal(strv_len(cfg.filter_allowlist), 0);
    config_free(&cfg);
    config_free(&cfg); /* zeroed after free: idempotent */
    struct reaper_config zero = {0};
    config_free(&zero);
}

static void test_parse_full(void **state)
{
    struct reaper_config cfg;
    _cleanup_free_ char *msg = NULL;
    const char *text = "# reaper node config\n"
                       "\n"
                       "  REAPER_RUNTIME_ROOT = /var/run/r  \n"
                       "REAPER_DNS_MODE=\"k8s\"\n"
                       "REAPER_OVERLAY_ISOLATION='node'\n"
                       "REAPER_SHIM_LOG=/var/log/shim.log\r\n"
                       "REAPER_RUNTIME_LOG=\"/var/log/rt.log\"\n"
                       "REAPER_ANNOTATIONS_ENABLED=no\n"
                       "REAPER_FILTER_ENABLED=0\n"
                       "REAPER_FILTER_MODE=replace\n"
                       "REAPER_FILTER_PATHS=\"/a/b::/c\"\n"
                       "REAPER_FILTER_ALLOWLIST=/etc/shadow\n"
                       "\t# indented comment\n"
                       "REAPER_FILTER_DIR=/srv/filters";
    assert_int_equal(parse(&cfg, text, &msg), 0);
    assert_string_equal(cfg.runtime_root, "/var/run/r");
    assert_string_equal(cfg.overlay_base, "/var/run/r/overlay");
    assert_string_equal(cfg.filter_dir, "/srv/filters");
    assert_int_equal(cfg.dns_mode, DNS_KUBERNETES);
    assert_int_equal(cfg.isolation, ISOLATION_NODE);
    assert_string_equal(cfg.shim_log, "/var/log/shim.log");
    assert_string_equal(cfg.runtime_log, "/var/log/rt.log");
    assert_false(cfg.annotations_enabled);
    assert_false(cfg.filter_enabled);
    assert_int_equal(cfg.filter_mode, FILTER_REPLACE);
    assert_int_equal(strv_len(cfg.filter_paths), 2);
    assert_string_equal(cfg.filter_paths[0], "/a/b");
    assert_string_equal(cfg.filter_paths[1], "/c");
    assert_int_equal(strv_len(cfg.filter_allowlist), 1);
    config_free(&cfg);
}

static void test_quotes_only_when_matching(void **state)
{
    struct reaper_config cfg;
    _cleanup_free_ char *msg = NULL;
    assert_int_equal(parse(&cfg, "REAPER_SHIM_LOG=\"/x'\n", &msg), -EINVAL);
    assert_contains(msg, "REAPER_SHIM_LOG: invalid value \"\"/x'\"");
    config_free(&cfg);
    free(msg);
    msg = NULL;
    assert_int_equal(parse(&cfg, "REAPER_SHIM_LOG=\"\"\n", &msg), 0);
    assert_null(cfg.shim_log); /* empty: no log */
    config_free(&cfg);
}

static void test_derived_paths_follow_root(void **state)
{
    struct reaper_config cfg;
    _cleanup_free_ char *msg = NULL;
    assert_int_equal(
        parse(&cfg, "REAPER_OVERLAY_BASE=/big/overlay\nREAPER_RUNTIME_ROOT=/r\n", &msg), 0);
    assert_string_equal(cfg.overlay_base, "/big/overlay"); /* explicit wins, in any order */
    assert_string_equal(cfg.filter_dir, "/r/overlay-filters");
    config_free(&cfg);
}

static void test_error_messages(void **state)
{
    expect_parse_error("# c\n\nREAPER_DNS_MODE=x\n",
                       "/etc/reaper/reaper.conf:3: REAPER_DNS_MODE: invalid value \"x\" (want "
                       "host, kubernetes or k8s)");
    expect_parse_error("REAPER_RUNTIME_ROOT\n", "/etc/reaper/reaper.conf:1: expected KEY=VALUE");
    expect_parse_error("=/x\n", "reaper.conf:1: missing key");
    expect_parse_error("REAPER_OVERLAY_ISOLATION=pod",
                       "REAPER_OVERLAY_ISOLATION: invalid value \"pod\" (want namespace or node)");
    expect_parse_error("REAPER_ANNOTATIONS_ENABLED=maybe",
                       "REAPER_ANNOTATIONS_ENABLED: invalid value \"maybe\" (want true or false)");
    expect_parse_error("\nREAPER_FILTER_ENABLED=2", "reaper.conf:2: REAPER_FILTER_ENABLED");
    expect_parse_error("REAPER_FILTER_MODE=merge", "(want append or replace)");
    expect_parse_error("REAPER_RUNTIME_ROOT=run/reaper", "(want an absolute path)");
    expect_parse_error("REAPER_RUNTIME_ROOT=", "REAPER_RUNTIME_ROOT: invalid value \"\"");
    expect_parse_error("REAPER_OVERLAY_BASE=overlay", "REAPER_OVERLAY_BASE");
    expect_parse_error("REAPER_FILTER_DIR=./f", "REAPER_FILTER_DIR");
    expect_parse_error("REAPER_SHIM_LOG=shim.log", "REAPER_SHIM_LOG");
    expect_parse_error("REAPER_RUNTIME_LOG=rt.log", "REAPER_RUNTIME_LOG");
    expect_parse_error("REAPER_FILTER_PATHS=/a:b",
                       "REAPER_FILTER_PATHS: invalid value \"/a:b\" (want colon-separated "
                       "absolute paths)");
    expect_parse_error("REAPER_FILTER_ALLOWLIST=x", "REAPER_FILTER_ALLOWLIST");
}

static void test_unknown_keys_warn(void **state)
{
    struct reaper_config cfg;
    _cleanup_free_ char *msg = NULL;
    _cleanup_free_ char *log_path = write_temp("");
    assert_int_equal(log_init("test", log_path, false, LOG_LVL_WARN), 0);
    assert_int_equal(
        parse(&cfg, "REAPER_BOGUS=1\nFOO=bar\nREAPER_CONFIG=/x\nREAPER_DNS_MODE=k8s", &msg), 0);
    log_close();
    log_set_level(LOG_LVL_ERROR);
    assert_int_equal(cfg.dns_mode, DNS_KUBERNETES); /* parsing went on */
    assert_string_equal(cfg.config_path, REAPER_DEFAULT_CONFIG);
    config_free(&cfg);
    _cleanup_free_ char *log = NULL;
    assert_int_equal(read_file(log_path, 1 << 20, &log, NULL, NULL), 0);
    assert_contains(log, "/etc/reaper/reaper.conf:1: unknown setting REAPER_BOGUS ignored");
    assert_contains(log, "reaper.conf:2: unknown setting FOO ignored");
    assert_contains(log, "reaper.conf:3: REAPER_CONFIG is only read from the environment");
    unlink(log_path);
}

static void test_config_set(void **state)
{
    struct reaper_config cfg;
    rerr *e = NULL;
    config_init_defaults(&cfg);
    assert_int_equal(config_set(&cfg, "REAPER_DNS_MODE", "kubernetes", "test", &e), 0);
    assert_int_equal(cfg.dns_mode, DNS_KUBERNETES);
    assert_int_equal(config_set(&cfg, "NOPE", "1", "test", &e), -ENOENT);
    assert_contains(rerr_msg(e), "unknown setting NOPE");
    rerr_free(e);
    config_free(&cfg);
}

static void test_load_file_and_env(void **state)
{
    _cleanup_free_ char *path =
        write_temp("REAPER_DNS_MODE=kubernetes\nREAPER_RUNTIME_ROOT=/file/root\n"
                   "REAPER_FILTER_MODE=replace\n");
    char *envp[] = {"PATH=/bin", "REAPER_RUNTIME_ROOT=/env/root", "REAPER_UNKNOWN=zzz",
                    "REAPER_FILTER_PATHS=/x:/y", NULL};
    struct reaper_config cfg;
    rerr *e = NULL;
    assert_int_equal(config_load(&cfg, path, envp, &e), 0);
    assert_string_equal(cfg.config_path, path);
    assert_int_equal(cfg.dns_mode, DNS_KUBERNETES);     /* from the file */
    assert_int_equal(cfg.filter_mode, FILTER_REPLACE);  /* from the file */
    assert_string_equal(cfg.runtime_root, "/env/root"); /* env over file */
    assert_string_equal(cfg.overlay_base, "/env/root/overlay");
    assert_int_equal(strv_len(cfg.filter_paths), 2);
    config_free(&cfg);
    unlink(path);
}

static void test_load_via_env_config(void **state)
{
    _cleanup_free_ char *path = write_temp("REAPER_OVERLAY_ISOLATION=node\n");
    _cleanup_free_ char *var = xasprintf("REAPER_CONFIG=%s", path);
    char *envp[] = {var, "REAPER_DNS_MODE=k8s", NULL};
    struct reaper_config cfg;
    rerr *e = NULL;
    assert_int_equal(config_load(&cfg, NULL, envp, &e), 0);
    assert_string_equal(cfg.config_path, path);
    assert_int_equal(cfg.isolation, ISOLATION_NODE);
    assert_int_equal(cfg.dns_mode, DNS_KUBERNETES);
    config_free(&cfg);
    unlink(path);
}

static void test_load_errors(void **state)
{
    struct reaper_config cfg;
    rerr *e = NULL;
    /* A named file that is missing is an error... */
    assert_int_equal(config_load(&cfg, "/nonexistent/reaper.conf", NULL, &e), -ENOENT);
    assert_contains(rerr_msg(e), "/nonexistent/reaper.conf");
    config_free(&cfg);
    rerr_free(e);
    e = NULL;
    char *envp[] = {"REAPER_CONFIG=/nonexistent/env.conf", NULL};
    assert_int_equal(config_load(&cfg, NULL, envp, &e), -ENOENT);
    assert_contains(rerr_msg(e), "/nonexistent/env.conf");
    rerr_free(e);
    e = NULL;
    /* ...a bad line names the file and line... */
    _cleanup_free_ char *path = write_temp("# x\nREAPER_DNS_MODE=x\n");
    assert_int_equal(config_load(&cfg, path, NULL, &e), -EINVAL);
    _cleanup_free_ char *want = xasprintf("%s:2: REAPER_DNS_MODE: invalid value \"x\"", path);
    assert_contains(rerr_msg(e), want);
    rerr_free(e);
    e = NULL;
    unlink(path);
    /* ...and a bad environment value names the variable. */
    char *bad_env[] = {"REAPER_FILTER_ENABLED=perhaps", NULL};
    _cleanup_free_ char *empty = write_temp("");
    assert_int_equal(config_load(&cfg, empty, bad_env, &e), -EINVAL);
    assert_string_equal(rerr_msg(e), "environment: REAPER_FILTER_ENABLED: invalid value "
                                     "\"perhaps\" (want true or false)");
    rerr_free(e);
    unlink(empty);
}

static void test_load_missing_default_is_fine(void **state)
{
    if (access(REAPER_DEFAULT_CONFIG, F_OK) == 0)
        skip();
    struct reaper_config cfg;
    rerr *e = NULL;
    char *envp[] = {"REAPER_DNS_MODE=k8s", NULL};
    assert_int_equal(config_load(&cfg, NULL, envp, &e), 0);
    assert_string_equal(cfg.config_path, REAPER_DEFAULT_CONFIG);
    assert_int_equal(cfg.dns_mode, DNS_KUBERNETES);
    config_free(&cfg);
}

static void test_load_too_big(void **state)
{
    char *big = xmalloc(70 * 1024 + 1);
    memset(big, '#', 70 * 1024);
    big[70 * 1024] = '\0';
    _cleanup_free_ char *path = write_temp(big);
    free(big);
    struct reaper_config cfg;
    rerr *e = NULL;
    assert_int_equal(config_load(&cfg, path, NULL, &e), -EFBIG);
    rerr_free(e);
    config_free(&cfg);
    unlink(path);
}

static void test_dns_mode(void **state)
{
    const struct {
        const char *in;
        int r;
        enum dns_mode mode;
    } cases[] = {
        {"kubernetes", 0, DNS_KUBERNETES}, {"host", 0, DNS_HOST},   {"k8s", 0, DNS_KUBERNETES},
        {"K8S", -EINVAL, DNS_HOST},        {"", -EINVAL, DNS_HOST},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        enum dns_mode m = DNS_HOST;
        assert_int_equal(dns_mode_parse(cases[i].in, &m), cases[i].r);
        assert_int_equal(m, cases[i].mode);
    }
    assert_string_equal(dns_mode_name(DNS_HOST), "host");
    assert_string_equal(dns_mode_name(DNS_KUBERNETES), "kubernetes");
}

int main(void)
{
    log_set_level(LOG_LVL_ERROR); /* unknown-key warnings are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_quotes_only_when_matching),
        cmocka_unit_test(test_derived_paths_follow_root),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_unknown_keys_warn),
        cmocka_unit_test(test_config_set),
        cmocka_unit_test(test_load_file_and_env),
        cmocka_unit_test(test_load_via_env_config),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_missing_default_is_fine),
        cmocka_unit_test(test_load_too_big),
        cmocka_unit_test(test_dns_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
