/* ReaperPod → Pod translation, status mirroring and overlay gating (pure functions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "json_fixture.h"
#include "kjson.h"
#include "reconcile.h"
#include "util.h"

static const struct rpod_opts opts = {"reaper-v2", "busybox"};

static void test_desired_pod_translates_every_field(void **state)
{
    _cleanup_json_ json_t *rp = J(
        "{\"apiVersion\":\"reaper.io/"
        "v1alpha1\",\"kind\":\"ReaperPod\",\"metadata\":{\"name\":\"t\","
        "\"namespace\":\"ns\",\"uid\":\"u1\",\"labels\":{\"app\":\"x\"}},\"spec\":{\"command\":["
        "\"sh\"],"
        "\"args\":[\"-c\",\"id\"],\"workingDir\":\"/w\",\"env\":[{\"name\":\"A\",\"valueFrom\":"
        "{\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}}}],\"volumes\":[{\"name\":\"s\","
        "\"mountPath\":\"/s\",\"secret\":\"sec\",\"readOnly\":true},{\"name\":\"h\",\"mountPath\":"
        "\"/h\",\"hostPath\":\"/opt\"}],\"nodeName\":\"n1\",\"runAsUser\":1000,\"runAsGroup\":100,"
        "\"supplementalGroups\":[5],\"restartPolicy\":\"OnFailure\",\"dnsMode\":\"kubernetes\","
        "\"overlayName\":\"ovl\"}}");
    _cleanup_json_ json_t *pod = rpod_desired_pod(rp, &opts);
    assert_string_equal(kj_str(pod, "metadata.name"), "t");
    assert_string_equal(kj_str(pod, "metadata.namespace"), "ns");
    assert_string_equal(kj_label(pod, LABEL_REAPERPOD), "t");
    assert_string_equal(kj_label(pod, "app"), "x");
    assert_string_equal(kj_annotation(pod, ANN_DNS_MODE), "kubernetes");
    assert_string_equal(kj_annotation(pod, ANN_OVERLAY_NAME), "ovl");
    json_t *ref = json_array_get(kj_get(pod, "metadata.ownerReferences"), 0);
    assert_string_equal(kj_str(ref, "uid"), "u1");
    assert_true(kj_bool(ref, "controller", false));
    assert_string_equal(kj_str(pod, "spec.runtimeClassName"), "reaper-v2");
    assert_string_equal(kj_str(pod, "spec.restartPolicy"), "OnFailure");
    assert_string_equal(kj_str(pod, "spec.nodeName"), "n1");
    assert_int_equal(kj_int(pod, "spec.securityContext.runAsUser", -1), 1000);
    assert_int_equal(kj_int(pod, "spec.securityContext.runAsGroup", -1), 100);
    json_t *c = json_array_get(kj_get(pod, "spec.containers"), 0);
    assert_string_equal(kj_str(c, "image"), "busybox");
    assert_string_equal(kj_str(c, "workingDir"), "/w");
    assert_string_equal(json_string_value(json_array_get(kj_get(c, "args"), 1)), "id");
    assert_string_equal(
        kj_str(json_array_get(kj_get(c, "env"), 0), "valueFrom.configMapKeyRef.key"), "k");
    json_t *vols = kj_get(pod, "spec.volumes");
    assert_string_equal(kj_str(json_array_get(vols, 0), "secret.secretName"), "sec");
    assert_string_equal(kj_str(json_array_get(vols, 1), "hostPath.path"), "/opt");
    json_t *m = kj_get(c, "volumeMounts");
    assert_true(kj_bool(json_array_get(m, 0), "readOnly", false));
    assert_null(kj_get(json_array_get(m, 1), "readOnly"));
}

static void test_defaults_and_long_name_label(void **state)
{
    char name[200];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    _cleanup_json_ json_t *rp = json_pack("{s:{s:s,s:s},s:{s:[s]}}", "metadata", "name", name,
                                          "uid", "u", "spec", "command", "true");
    _cleanup_json_ json_t *pod = rpod_desired_pod(rp, &opts);
    assert_string_equal(kj_str(pod, "spec.restartPolicy"), "Never");
    assert_null(kj_get(pod, "spec.securityContext"));
    assert_null(kj_get(pod, "spec.volumes"));
    const char *lv = kj_label(pod, LABEL_REAPERPOD);
    assert_true(strlen(lv) <= 63);
    assert_true(strncmp(lv, name, 40) == 0);
}

static void test_status_mirrors_pod(void **state)
{
    _cleanup_json_ json_t *pod =
        J("{\"metadata\":{\"name\":\"t\"},\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":"
          "\"Failed\",\"startTime\":\"T0\",\"containerStatuses\":[{\"state\":{\"terminated\":"
          "{\"exitCode\":42,\"finishedAt\":\"T1\",\"reason\":\"Error\"}}}]}}");
    _cleanup_json_ json_t *st = rpod_status_from_pod(pod);
    assert_string_equal(kj_str(st, "phase"), "Failed");
    assert_string_equal(kj_str(st, "podName"), "t");
    assert_string_equal(kj_str(st, "nodeName"), "n1");
    assert_string_equal(kj_str(st, "startTime"), "T0");
    assert_string_equal(kj_str(st, "completionTime"), "T1");
    assert_int_equal(kj_int(st, "exitCode", -1), 42);
    assert_string_equal(kj_str(st, "message"), "Error");
    _cleanup_json_ json_t *fresh = J("{\"metadata\":{\"name\":\"t\"},\"spec\":{}}");
    _cleanup_json_ json_t *st2 = rpod_status_from_pod(fresh);
    assert_string_equal(kj_str(st2, "phase"), "Pending");
    assert_null(kj_get(st2, "exitCode"));
}

static void test_overlay_gate(void **state)
{
    _cleanup_json_ json_t *plain = J("{\"spec\":{\"command\":[\"x\"]}}");
    _cleanup_json_ json_t *rp = J("{\"spec\":{\"overlayName\":\"o\"}}");
    _cleanup_json_ json_t *ready = J("{\"status\":{\"phase\":\"Ready\"}}");
    _cleanup_json_ json_t *resetting = J("{\"status\":{\"phase\":\"Resetting\"}}");
    _cleanup_json_ json_t *deleting =
        J("{\"metadata\":{\"deletionTimestamp\":\"x\"},\"status\":{\"phase\":\"Ready\"}}");
    assert_int_equal(rpod_overlay_gate(plain, NULL), RPOD_GATE_OPEN);
    assert_int_equal(rpod_overlay_gate(rp, NULL), RPOD_GATE_NO_OVERLAY);
    assert_int_equal(rpod_overlay_gate(rp, resetting), RPOD_GATE_OVERLAY_NOT_READY);
    assert_int_equal(rpod_overlay_gate(rp, deleting), RPOD_GATE_NO_OVERLAY);
    assert_int_equal(rpod_overlay_gate(rp, ready), RPOD_GATE_OPEN);
    _cleanup_json_ json_t *st = rpod_waiting_status(rp, RPOD_GATE_OVERLAY_NOT_READY, resetting);
    assert_string_equal(kj_str(st, "phase"), "Pending");
    assert_string_equal(kj_str(st, "reason"), "OverlayNotReady");
    assert_non_null(strstr(kj_str(st, "message"), "Resetting"));
}

static void test_names(void **state)
{
    char *n = join_name("Job", "node.Example.com");
    assert_string_equal(n, "job-node-example-com");
    free(n);
    char longnode[120];
    memset(longnode, 'n', sizeof(longnode) - 1);
    longnode[sizeof(longnode) - 1] = '\0';
    char *a = join_name("job", longnode);
    char *b = join_name("jo", longnode);
    assert_true(strlen(a) <= 63);
    assert_string_not_equal(a, b); /* the hash keeps truncated names distinct */
    assert_true(is_dns_label(a));
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desired_pod_translates_every_field),
        cmocka_unit_test(test_defaults_and_long_name_label),
        cmocka_unit_test(test_status_mirrors_pod),
        cmocka_unit_test(test_overlay_gate),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
