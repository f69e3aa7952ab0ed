#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "annotations.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define KV(k, v)                                                                                   \
    {                                                                                              \
        (char *)(k), (char *)(v)                                                                   \
    }

static struct reaper_config cfg;

static int setup(void **state)
{
    config_init_defaults(&cfg);
    return 0;
}

static int teardown(void **state)
{
    config_free(&cfg);
    return 0;
}

static void test_namespace_sources(void **state)
{
    struct workload_identity id;
    rerr *e = NULL;
    const struct kv both[] = {KV(ANN_POD_NAMESPACE, "pod-ns"), KV(ANN_SANDBOX_NAMESPACE, "sb-ns")};
    assert_int_equal(workload_identity_resolve(&cfg, both, 2, &id, NULL, &e), 0);
    assert_string_equal(id.k8s_namespace, "sb-ns");
    assert_null(id.overlay_name);
    assert_int_equal(id.dns_mode, DNS_HOST);
    workload_identity_free(&id);

    const struct kv pod[] = {KV("x", "y"), KV(ANN_POD_NAMESPACE, "pod-ns")};
    assert_int_equal(workload_identity_resolve(&cfg, pod, 2, &id, NULL, &e), 0);
    assert_string_equal(id.k8s_namespace, "pod-ns");
    workload_identity_free(&id);

    assert_int_equal(workload_identity_resolve(&cfg, NULL, 0, &id, NULL, &e), 0);
    assert_string_equal(id.k8s_namespace, "default");
    workload_identity_free(&id);
    workload_identity_free(&id); /* zeroed: idempotent */
    workload_identity_free(NULL);
}

static void test_bad_namespace(void **state)
{
    struct workload_identity id;
    rerr *e = NULL;
    const struct kv bad[] = {KV(ANN_SANDBOX_NAMESPACE, "Prod_NS")};
    assert_int_equal(workload_identity_resolve(&cfg, bad, 1, &id, NULL, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "annotation io.kubernetes.cri.sandbox-namespace: "
                                        "\"Prod_NS\" is not"));
    rerr_free(e);
    e = NULL;
    const struct kv bad_pod[] = {KV(ANN_POD_NAMESPACE, "../etc")};
    assert_int_equal(workload_identity_resolve(&cfg, bad_pod, 1, &id, NULL, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "annotation io.kubernetes.pod.namespace: \"../etc\""));
    rerr_free(e);
}

static void test_overrides(void **state)
{
    struct workload_identity id;
    _cleanup_strv_ char **warnings = NULL;
    rerr *e = NULL;
    const struct kv ann[] = {KV(ANN_SANDBOX_NAMESPACE, "prod"), KV(ANN_DNS_MODE, "k8s"),
                             KV(ANN_OVERLAY_NAME, "pippo")};
    assert_int_equal(workload_identity_resolve(&cfg, ann, 3, &id, &warnings, &e), 0);
    assert_string_equal(id.k8s_namespace, "prod");
    assert_string_equal(id.overlay_name, "pippo");
    assert_int_equal(id.dns_mode, DNS_KUBERNETES);
    assert_int_equal(strv_len(warnings), 0);
    workload_identity_free(&id);

    cfg.dns_mode = DNS_KUBERNETES;
    const struct kv host[] = {KV(ANN_DNS_MODE, "host")};
    assert_int_equal(workload_identity_resolve(&cfg, host, 1, &id, &warnings, &e), 0);
    assert_int_equal(id.dns_mode, DNS_HOST);
    workload_identity_free(&id);
    cfg.dns_mode = DNS_HOST;
}

static void test_invalid_overrides_warn(void **state)
{
    struct workload_identity id;
    _cleanup_strv_ char **warnings = NULL;
    rerr *e = NULL;
    /* restore-from is read by container_create (checkpoint.h), not warned about here. */
    const struct kv ann[] = {KV(ANN_OVERLAY_NAME, "Bad_Name"), KV(ANN_DNS_MODE, "coredns"),
                             KV("reaper.runtime/unknown", "1"), KV(ANN_RESTORE_FROM, "/ckpt")};
    assert_int_equal(workload_identity_resolve(&cfg, ann, 4, &id, &warnings, &e), 0);
    assert_null(id.overlay_name);
    assert_int_equal(id.dns_mode, DNS_HOST);
    assert_int_equal(strv_len(warnings), 3);
    assert_true(strv_contains(warnings, "annotation reaper.runtime/overlay-name: \"Bad_Name\" is "
                                        "not a DNS label; using the namespace overlay"));
    assert_true(strv_contains(warnings, "annotation reaper.runtime/dns-mode: \"coredns\" is not "
                                        "host, kubernetes or k8s; using the node setting (host)"));
    assert_true(strv_contains(warnings, "annotation reaper.runtime/unknown is not supported; "
                                        "ignored"));
    workload_identity_free(&id);
}

static void test_reserved_overlay_names(void **state)
{
    const char *names[] = {"upper", "work"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct workload_identity id;
        _cleanup_strv_ char **warnings = NULL;
        rerr *e = NULL;
        const struct kv ann[] = {KV(ANN_OVERLAY_NAME, names[i])};
        assert_int_equal(workload_identity_resolve(&cfg, ann, 1, &id, &warnings, &e), 0);
        assert_null(id.overlay_name);
        assert_int_equal(strv_len(warnings), 1);
        assert_non_null(strstr(warnings[0], "is reserved; using the namespace overlay"));
        workload_identity_free(&id);
    }
}

static void test_annotations_disabled(void **state)
{
    struct workload_identity id;
    _cleanup_strv_ char **warnings = NULL;
    rerr *e = NULL;
    cfg.annotations_enabled = false;
    cfg.dns_mode = DNS_KUBERNETES;
    const struct kv ann[] = {KV(ANN_SANDBOX_NAMESPACE, "prod"), KV(ANN_DNS_MODE, "host"),
                             KV(ANN_OVERLAY_NAME, "pippo"), KV(ANN_OVERLAY_NAME "x", "Bad")};
    assert_int_equal(workload_identity_resolve(&cfg, ann, 4, &id, &warnings, &e), 0);
    assert_string_equal(id.k8s_namespace, "prod"); /* the namespace is not an override */
    assert_null(id.overlay_name);
    assert_int_equal(id.dns_mode, DNS_KUBERNETES);
    assert_int_equal(strv_len(warnings), 0);
    workload_identity_free(&id);
    cfg.annotations_enabled = true;
    cfg.dns_mode = DNS_HOST;
}

static void test_warnings_without_list_are_logged(void **state)
{
    struct workload_identity id;
    rerr *e = NULL;
    const struct kv ann[] = {KV(ANN_OVERLAY_NAME, "-x")};
    assert_int_equal(workload_identity_resolve(&cfg, ann, 1, &id, NULL, &e), 0);
    assert_null(id.overlay_name);
    workload_identity_free(&id);
}

static void test_kv_helpers(void **state)
{
    const struct kv kv[] = {KV("a", "1"), KV("b", "2"), KV("a", "3")};
    assert_string_equal(kv_get(kv, 3, "a"), "3");
    assert_string_equal(kv_get(kv, 3, "b"), "2");
    assert_null(kv_get(kv, 3, "c"));
    assert_null(kv_get(NULL, 0, "a"));
    struct kv *copy = kv_dup(kv, 3);
    assert_string_equal(copy[1].key, "b");
    assert_string_equal(copy[1].value, "2");
    assert_ptr_not_equal(copy[1].key, kv[1].key);
    kv_free(copy, 3);
    kv_free(NULL, 0);
}

int main(void)
{
    log_set_level(LOG_LVL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespace_sources),
        cmocka_unit_test(test_bad_namespace),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_invalid_overrides_warn),
        cmocka_unit_test(test_reserved_overlay_names),
        cmocka_unit_test(test_annotations_disabled),
        cmocka_unit_test(test_warnings_without_list_are_logged),
        cmocka_unit_test(test_kv_helpers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
