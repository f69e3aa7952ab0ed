/* Pure parts of the overlay module: path layout, filter list, shadow masking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "filter.h"
#include "overlay.h"
#include "util.h"

static struct reaper_config cfg_with(char **paths, char **allow, enum filter_mode mode)
{
    struct reaper_config c = {0};
    c.runtime_root = "/run/reaper";
    c.filter_enabled = true;
    c.filter_mode = mode;
    c.filter_paths = paths;
    c.filter_allowlist = allow;
    return c;
}

static void test_filter_defaults_append(void **state)
{
    char *paths[] = {"/custom/secret", "/etc/shadow", "relative", "/", NULL};
    struct reaper_config c = cfg_with(paths, NULL, FILTER_APPEND);
    _cleanup_strv_ char **v = filter_effective_paths(&c);
    assert_int_equal(strv_len(v),
                     12); /* 11 defaults + /custom/secret; duplicates and junk dropped */
    assert_string_equal(v[0], "/root/.ssh");
    assert_true(strv_contains(v, "/run/secrets"));
    assert_true(strv_contains(v, "/etc/ssh/ssh_host_ed25519_key"));
    assert_string_equal(v[11], "/custom/secret");
}

static void test_filter_replace_allowlist(void **state)
{
    char *paths[] = {"/etc/shadow", "/etc/gshadow/", "/home/u/.aws", NULL};
    char *allow[] = {"/etc/shadow/", "/root/.ssh", NULL};
    struct reaper_config c = cfg_with(paths, allow, FILTER_REPLACE);
    _cleanup_strv_ char **v = filter_effective_paths(&c);
    assert_int_equal(strv_len(v), 2);
    assert_string_equal(v[0], "/etc/gshadow");
    assert_string_equal(v[1], "/home/u/.aws");

    c.filter_mode = FILTER_APPEND;
    _cleanup_strv_ char **w = filter_effective_paths(&c);
    assert_false(strv_contains(w, "/etc/shadow"));
    assert_false(strv_contains(w, "/root/.ssh"));
    assert_true(strv_contains(w, "/etc/sudoers"));
}

static void test_filter_disabled(void **state)
{
    char *paths[] = {"/x", NULL};
    struct reaper_config c = cfg_with(paths, NULL, FILTER_APPEND);
    c.filter_enabled = false;
    _cleanup_strv_ char **v = filter_effective_paths(&c);
    assert_non_null(v);
    assert_int_equal(strv_len(v), 0);
}

static void check_mask(const char *in, const char *want)
{
    _cleanup_free_ char *out = filter_shadow_mask(in);
    assert_string_equal(out, want);
}

static void test_shadow_mask(void **state)
{
    check_mask("root:$6$abc$def:19000:0:99999:7:::\nbob::19000::::::\n",
               "root:!:19000:0:99999:7:::\nbob:!:19000::::::\n");
    check_mask("grp:*::alice,bob\n", "grp:!::alice,bob\n");
    check_mask("short:hash", "short:!");
    check_mask("nocolon\n\nx:y\n", "nocolon\n\nx:!\n");
    check_mask("", "");
}

static void resolve_ok(struct reaper_config *c, const char *ns, const char *name,
                       struct overlay_paths *p)
{
    struct workload_identity id = {.k8s_namespace = (char *)ns, .overlay_name = (char *)name};
    rerr *e = NULL;
    assert_int_equal(overlay_paths_resolve(c, &id, p, &e), 0);
    assert_null(e);
}

static void test_paths_namespace_mode(void **state)
{
    struct reaper_config c = {.runtime_root = "/r"};
    struct overlay_paths p;
    resolve_ok(&c, "kube-system", NULL, &p);
    assert_string_equal(p.key, "kube-system");
    assert_string_equal(p.dir, "/r/overlay/kube-system");
    assert_string_equal(p.upper, "/r/overlay/kube-system/upper");
    assert_string_equal(p.work, "/r/overlay/kube-system/work");
    assert_string_equal(p.merged, "/r/merged/kube-system");
    assert_string_equal(p.pin, "/r/ns/kube-system");
    assert_string_equal(p.lock, "/r/locks/kube-system.lock");
    overlay_paths_free(&p);

    c.overlay_base = "/big/ov";
    resolve_ok(&c, "dev", "build", &p);
    assert_string_equal(p.key, "dev_build");
    assert_string_equal(p.upper, "/big/ov/dev/build/upper");
    assert_string_equal(p.pin, "/r/ns/dev_build");
    assert_string_equal(p.lock, "/r/locks/dev_build.lock");
    overlay_paths_free(&p);
}

static void test_paths_node_mode(void **state)
{
    struct reaper_config c = {.runtime_root = "/r", .isolation = ISOLATION_NODE};
    struct overlay_paths p;
    resolve_ok(&c, "whatever", NULL, &p);
    assert_string_equal(p.key, "_node");
    assert_string_equal(p.dir, "/r/overlay/_node");
    overlay_paths_free(&p);
    resolve_ok(&c, "x", "shared", &p);
    assert_string_equal(p.key, "_node_shared");
    assert_string_equal(p.merged, "/r/merged/_node_shared");
    overlay_paths_free(&p);
}

static void test_paths_invalid(void **state)
{
    struct reaper_config c = {.runtime_root = "/r"};
    struct overlay_paths p;
    struct workload_identity id = {.k8s_namespace = "../etc"};
    rerr *e = NULL;
    assert_int_equal(overlay_paths_resolve(&c, &id, &p, &e), -EINVAL);
    assert_string_equal(rerr_msg(e), "overlay: invalid namespace \"../etc\"");
    rerr_free(e);
    e = NULL;
    id.k8s_namespace = "ok";
    id.overlay_name = "a_b";
    assert_int_equal(overlay_paths_resolve(&c, &id, &p, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "a_b"));
    rerr_free(e);
    overlay_paths_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_defaults_append),
        cmocka_unit_test(test_filter_replace_allowlist),
        cmocka_unit_test(test_filter_disabled),
        cmocka_unit_test(test_shadow_mask),
        cmocka_unit_test(test_paths_namespace_mode),
        cmocka_unit_test(test_paths_node_mode),
        cmocka_unit_test(test_paths_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
