/* reaper-agent, ReaperCheckpoint pure parts: the action per node, container id parsing, the
 * destination rules, pod container lookup, log path and the status written. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "json_fixture.h"
#include "util.h"

static enum ckpt_action action_of(const char *status, const char *node, bool here)
{
    char *s = xasprintf("{\"spec\":{\"podName\":\"p\"}%s%s}", status ? ",\"status\":" : "",
                        status ? status : "");
    json_t *obj = J(s);
    enum ckpt_action a = checkpoint_action(obj, node, here);
    json_decref(obj);
    free(s);
    return a;
}

static void test_action(void **state)
{
    (void)state;
    const struct {
        const char *status;
        bool here;
        enum ckpt_action want;
    } cases[] = {
        {NULL, true, CKA_START},
        {NULL, false, CKA_NONE}, /* its pod is on another node (or not seen yet) */
        {"{}", true, CKA_START},
        {"{\"phase\":\"Pending\"}", true, CKA_START},
        {"{\"phase\":\"Running\",\"nodeName\":\"n1\",\"reason\":\"Dumping\"}", true, CKA_ABANDONED},
        {"{\"phase\":\"Running\",\"nodeName\":\"n1\",\"reason\":\"WaitingForExit\"}", false,
         CKA_RESUME},
        {"{\"phase\":\"Running\",\"nodeName\":\"n2\",\"reason\":\"Dumping\"}", true, CKA_NONE},
        {"{\"phase\":\"Succeeded\",\"nodeName\":\"n1\"}", true, CKA_NONE},
        {"{\"phase\":\"Failed\"}", true, CKA_NONE}, /* finished: never re-run */
        {"{\"phase\":\"Failed\",\"nodeName\":\"n1\"}", true, CKA_NONE},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        print_message("case %zu\n", i);
        assert_int_equal(action_of(cases[i].status, "n1", cases[i].here), cases[i].want);
    }
}

static void test_container_id(void **state)
{
    (void)state;
    char *id = NULL;
    rerr *e = NULL;
    assert_int_equal(container_id_parse("containerd://abc123", &id, &e), 0);
    assert_string_equal(id, "abc123");
    free(id);
    const char *bad[] = {NULL, "", "docker://abc", "containerd://", "containerd://../x", "abc123"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        id = NULL;
        assert_int_equal(container_id_parse(bad[i], &id, &e), -EINVAL);
        assert_null(id);
        assert_non_null(rerr_msg(e));
        rerr_free(e);
        e = NULL;
    }
}

static int dest_of(const char *root, const char *spec, char **out, rerr **e)
{
    json_t *obj = J("{\"metadata\":{\"namespace\":\"team\",\"name\":\"c1\"},\"spec\":{}}");
    if (spec)
        json_object_set_new(json_object_get(obj, "spec"), "destination", json_string(spec));
    int r = checkpoint_destination(root, obj, out, e);
    json_decref(obj);
    return r;
}

static void test_destination(void **state)
{
    (void)state;
    const char *root = "/var/lib/reaper/checkpoints";
    char *d = NULL;
    rerr *e = NULL;
    assert_int_equal(dest_of(root, NULL, &d, &e), 0);
    assert_string_equal(d, "/var/lib/reaper/checkpoints/team/c1");
    free(d);
    assert_int_equal(dest_of(root, "/var/lib/reaper/checkpoints/x/y", &d, &e), 0);
    assert_string_equal(d, "/var/lib/reaper/checkpoints/x/y");
    free(d);
    const struct {
        const char *spec;
        int want;
    } bad[] = {
        {"relative", -EINVAL},
        {"/var/lib/reaper/checkpoints/a/../../../../etc", -EINVAL},
        {"/var/lib/reaper/checkpoints/./a", -EINVAL},
        {"/var/lib/reaper/checkpoints//a", -EINVAL},
        {"/var/lib/reaper/checkpoints/a/", -EINVAL},
        {"/var/lib/reaper/checkpoints", -EPERM}, /* the root itself */
        {"/var/lib/reaper/checkpointsX/a", -EPERM},
        {"/etc/cron.d", -EPERM},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        d = NULL;
        print_message("%s\n", bad[i].spec);
        assert_int_equal(dest_of(root, bad[i].spec, &d, &e), bad[i].want);
        assert_null(d);
        assert_non_null(strstr(rerr_msg(e), bad[i].spec));
        rerr_free(e);
        e = NULL;
    }
    assert_int_equal(dest_of("/var/lib/../x", NULL, &d, &e), -EINVAL);
    rerr_free(e);
}

static void test_options(void **state)
{
    (void)state;
    json_t *obj = J("{\"spec\":{\"options\":{\"leaveRunning\":true,\"fileLocks\":true}}}");
    struct checkpoint_opts o = {.image_path = "/x", .tcp_established = true};
    checkpoint_opts_from_spec(obj, &o);
    assert_true(o.leave_running && o.file_locks);
    assert_false(o.tcp_established || o.ext_unix_sk);
    assert_string_equal(o.image_path, "/x");
    json_decref(obj);
    obj = J("{\"spec\":{}}");
    checkpoint_opts_from_spec(obj, &o);
    assert_false(o.leave_running || o.file_locks || o.tcp_established || o.ext_unix_sk);
    json_decref(obj);
}

static const char POD[] =
    "{\"metadata\":{\"namespace\":\"team\",\"name\":\"counter\",\"uid\":\"u-1\"},"
    "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"main\"}%s]},"
    "\"status\":{\"containerStatuses\":[{\"name\":\"main\",\"restartCount\":2,"
    "\"containerID\":\"containerd://new\",\"state\":{\"running\":{}},"
    "\"lastState\":{\"terminated\":{\"containerID\":\"containerd://old\"}}}%s]}}";

static json_t *pod(bool two)
{
    char *s = xasprintf(POD, two ? ",{\"name\":\"side\"}" : "",
                        two ? ",{\"name\":\"side\",\"containerID\":\"containerd://s\","
                              "\"state\":{\"terminated\":{\"containerID\":\"containerd://s\"}}}"
                            : "");
    json_t *p = J(s);
    free(s);
    return p;
}

static void test_pod_container(void **state)
{
    (void)state;
    json_t *one = pod(false), *two = pod(true);
    const json_t *cs = NULL;
    rerr *e = NULL;
    assert_int_equal(pod_container_status(one, NULL, &cs, &e), 0);
    assert_string_equal(json_string_value(json_object_get(cs, "name")), "main");
    assert_int_equal(pod_container_status(two, NULL, &cs, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "set spec.container"));
    rerr_free(e);
    e = NULL;
    assert_int_equal(pod_container_status(two, "side", &cs, &e), 0);
    assert_string_equal(json_string_value(json_object_get(cs, "containerID")), "containerd://s");
    assert_int_equal(pod_container_status(two, "nope", &cs, &e), -ENOENT);
    assert_non_null(strstr(rerr_msg(e), "nope"));
    rerr_free(e);

    assert_true(pod_container_exited(two, "containerd://s"));   /* state.terminated */
    assert_true(pod_container_exited(one, "containerd://old")); /* restarted since */
    assert_false(pod_container_exited(one, "containerd://new"));
    assert_false(pod_container_exited(one, NULL));

    char *log = pod_log_path("/var/log/pods", one, "main", 2);
    assert_string_equal(log, "/var/log/pods/team_counter_u-1/main/2.log");
    free(log);
    json_decref(one);
    json_decref(two);
}

static void test_status(void **state)
{
    (void)state;
    json_t *obj = J("{\"metadata\":{\"generation\":3},\"spec\":{}}");
    struct ckpt_status run = {.phase = "Running",
                              .reason = CKPT_DUMPING,
                              .node = "n1",
                              .container_id = "containerd://abc",
                              .image_path = "/ck/a",
                              .log_path = "/l/0.log",
                              .size_bytes = -1,
                              .duration_ms = -1,
                              .log_lines = -1};
    checkpoint_status_apply(obj, &run, "T0");
    json_t *want = J("{\"phase\":\"Running\",\"reason\":\"Dumping\",\"nodeName\":\"n1\","
                     "\"containerID\":\"containerd://abc\",\"imagePath\":\"/ck/a\","
                     "\"logPath\":\"/l/0.log\",\"startTime\":\"T0\",\"observedGeneration\":3}");
    assert_true(json_equal(json_object_get(obj, "status"), want));
    json_decref(want);

    struct ckpt_status done = {.phase = "Succeeded",
                               .reason = CKPT_DONE,
                               .criu_version = "4.2",
                               .size_bytes = 270000,
                               .duration_ms = 312,
                               .log_lines = 0};
    checkpoint_status_apply(obj, &done, "T1");
    json_t *st = json_object_get(obj, "status");
    assert_string_equal(json_string_value(json_object_get(st, "phase")), "Succeeded");
    assert_string_equal(json_string_value(json_object_get(st, "startTime")), "T0"); /* kept */
    assert_string_equal(json_string_value(json_object_get(st, "completionTime")), "T1");
    assert_string_equal(json_string_value(json_object_get(st, "nodeName")), "n1");
    assert_int_equal(json_integer_value(json_object_get(st, "sizeBytes")), 270000);
    assert_int_equal(json_integer_value(json_object_get(st, "durationMilliseconds")), 312);
    assert_int_equal(json_integer_value(json_object_get(st, "logCopied")), 0);
    assert_string_equal(json_string_value(json_object_get(st, "criuVersion")), "4.2");
    assert_null(json_object_get(st, "message"));

    struct ckpt_status failed = {.phase = "Failed",
                                 .reason = "CheckpointFailed",
                                 .message = "criu dump: (00.1) Error (criu/x.c:1): boom",
                                 .size_bytes = -1,
                                 .duration_ms = -1,
                                 .log_lines = -1};
    checkpoint_status_apply(obj, &failed, "T2");
    assert_string_equal(json_string_value(json_object_get(st, "message")), failed.message);
    assert_string_equal(json_string_value(json_object_get(st, "completionTime")), "T2");
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action),        cmocka_unit_test(test_container_id),
        cmocka_unit_test(test_destination),   cmocka_unit_test(test_options),
        cmocka_unit_test(test_pod_container), cmocka_unit_test(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
