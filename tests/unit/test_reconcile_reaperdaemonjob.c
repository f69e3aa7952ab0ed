/* ReaperDaemonJob planning: node matching, dependencies, retries, triggers, spec changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "json_fixture.h"
#include "kjson.h"
#include "reconcile.h"
#include "util.h"

static json_t *node(const char *name, bool ready, const char *labels, const char *taints)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"labels\":{%s}},\"spec\":{\"taints\":[%s]},"
             "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
             name, labels, taints, ready ? "True" : "False");
    return J(buf);
}

/* Ready, unlabelled, untainted nodes: "a,b". */
static json_t *ready_nodes(const char *names)
{
    _cleanup_strv_ char **v = strv_split(names, ",");
    json_t *nodes = json_array();
    for (size_t i = 0; v[i]; i++)
        json_array_append_new(nodes, node(v[i], true, "", ""));
    return nodes;
}

static json_t *rpod(const char *name, const char *nodename, int gen, int retry, const char *phase,
                    int exit_code)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"annotations\":{\"reaper.io/job-generation\":\"%d\","
             "\"reaper.io/retry\":\"%d\"}},\"spec\":{\"nodeName\":\"%s\"},\"status\":{\"phase\":"
             "\"%s\",\"exitCode\":%d}}",
             name, gen, retry, nodename, phase, exit_code);
    return J(buf);
}

/* One planning pass; NULL ReaperPods or dependency jobs mean none. */
static void plan(const json_t *job, const json_t *nodes, const json_t *rpods, const json_t *jobs,
                 struct rdjob_plan *p)
{
    _cleanup_json_ json_t *none = json_array();
    rdjob_plan(job, nodes, rpods ? rpods : none, jobs ? jobs : none, p);
}

#define JOB(spec, status)                                                                          \
    "{\"apiVersion\":\"reaper.io/v1alpha1\",\"kind\":\"ReaperDaemonJob\",\"metadata\":{\"name\":"  \
    "\"job\",\"namespace\":\"ns\",\"uid\":\"ju\",\"generation\":1},\"spec\":{\"command\":["        \
    "\"x\"]" spec "},\"status\":{" status "}}"

static void test_node_matching(void **state)
{
    _cleanup_json_ json_t *spec = J("{\"nodeSelector\":{\"role\":\"compute\"},\"tolerations\":"
                                    "[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}");
    _cleanup_json_ json_t *a = node("a", true, "\"role\":\"compute\"", "");
    _cleanup_json_ json_t *b = node("b", true, "\"role\":\"login\"", "");
    _cleanup_json_ json_t *c =
        node("c", true, "\"role\":\"compute\"", "{\"key\":\"gpu\",\"effect\":\"NoSchedule\"}");
    _cleanup_json_ json_t *d = node("d", true, "\"role\":\"compute\"",
                                    "{\"key\":\"other\",\"value\":\"v\",\"effect\":\"NoExecute\"}");
    _cleanup_json_ json_t *e = node("e", true, "\"role\":\"compute\"",
                                    "{\"key\":\"other\",\"effect\":\"PreferNoSchedule\"}");
    assert_true(node_matches(spec, a));
    assert_false(node_matches(spec, b));
    assert_true(node_matches(spec, c));
    assert_false(node_matches(spec, d));
    assert_true(node_matches(spec, e));
    _cleanup_json_ json_t *all = J("{\"tolerations\":[{\"operator\":\"Exists\"}]}");
    assert_true(node_matches(all, d));
    _cleanup_json_ json_t *eq = J("{\"tolerations\":[{\"key\":\"other\",\"operator\":\"Equal\","
                                  "\"value\":\"v\",\"effect\":\"NoExecute\"}]}");
    assert_true(node_matches(eq, d));
}

static void test_creates_on_ready_nodes_only(void **state)
{
    _cleanup_json_ json_t *job = J(JOB("", ""));
    _cleanup_json_ json_t *nodes =
        json_pack("[o,o]", node("a", true, "", ""), node("b", false, "", ""));
    struct rdjob_plan p;
    plan(job, nodes, NULL, NULL, &p);
    assert_int_equal(json_array_size(p.create), 1);
    json_t *rp = json_array_get(p.create, 0);
    assert_string_equal(kj_str(rp, "metadata.name"), "job-a");
    assert_string_equal(kj_str(rp, "spec.nodeName"), "a");
    assert_string_equal(kj_str(rp, "spec.restartPolicy"), "Never");
    assert_string_equal(kj_annotation(rp, ANN_JOB_GENERATION), "1");
    assert_true(is_owned_by(rp, job));
    assert_string_equal(kj_str(p.status, "phase"), "Running");
    assert_int_equal(kj_int(p.status, "totalNodes", -1), 1);
    rdjob_plan_free(&p);
}

static void test_dependencies(void **state)
{
    /* The job waits for the ReaperDaemonJob named in `after` to complete. */
    static const struct {
        const char *base_phase; /* NULL: no job "base" */
        const char *message, *phase;
        size_t creates;
    } cases[] = {
        {NULL, "dependency base not found", "Pending", 0},
        {"Running", "waiting for base (Running)", "Pending", 0},
        {"Completed", "0/1 nodes succeeded, 0 failed", "Running", 1},
    };
    _cleanup_json_ json_t *job = J(JOB(",\"after\":[\"base\"]", ""));
    _cleanup_json_ json_t *nodes = ready_nodes("a");
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_json_ json_t *jobs =
            cases[i].base_phase ? json_pack("[{s:{s:s},s:{s:s}}]", "metadata", "name", "base",
                                            "status", "phase", cases[i].base_phase)
                                : NULL;
        struct rdjob_plan p;
        plan(job, nodes, NULL, jobs, &p);
        assert_string_equal(kj_str(p.status, "message"), cases[i].message);
        assert_string_equal(kj_str(p.status, "phase"), cases[i].phase);
        assert_int_equal(json_array_size(p.create), cases[i].creates);
        rdjob_plan_free(&p);
    }
}

static void test_retry_until_limit(void **state)
{
    _cleanup_json_ json_t *job = J(JOB(",\"retryLimit\":1", "\"observedGeneration\":1"));
    _cleanup_json_ json_t *nodes = ready_nodes("a");
    _cleanup_json_ json_t *failed0 = json_pack("[o]", rpod("job-a", "a", 1, 0, "Failed", 3));
    struct rdjob_plan p;
    plan(job, nodes, failed0, NULL, &p);
    assert_int_equal(json_array_size(p.delete), 1);
    json_t *ns = json_array_get(kj_get(p.status, "nodeStatuses"), 0);
    assert_int_equal(kj_int(ns, "retryCount", -1), 1);
    assert_string_equal(kj_str(ns, "phase"), "Pending");
    assert_int_equal(p.events.n, 1);
    /* Next pass: ReaperPod gone, status remembers retry 1 → recreate with retry 1. */
    _cleanup_json_ json_t *job2 = json_deep_copy(job);
    json_object_set(job2, "status", p.status);
    rdjob_plan_free(&p);
    plan(job2, nodes, NULL, NULL, &p);
    assert_int_equal(json_array_size(p.create), 1);
    assert_string_equal(kj_annotation(json_array_get(p.create, 0), ANN_RETRY), "1");
    rdjob_plan_free(&p);
    /* Same failure seen again (stale cache) with status already at retry 1: no double count. */
    plan(job2, nodes, failed0, NULL, &p);
    assert_int_equal(kj_int(json_array_get(kj_get(p.status, "nodeStatuses"), 0), "retryCount", -1),
                     1);
    rdjob_plan_free(&p);
    _cleanup_json_ json_t *failed1 = json_pack("[o]", rpod("job-a", "a", 1, 1, "Failed", 3));
    plan(job2, nodes, failed1, NULL, &p);
    assert_int_equal(json_array_size(p.delete), 0);
    assert_string_equal(kj_str(p.status, "phase"), "PartiallyFailed");
    assert_int_equal(kj_int(json_array_get(kj_get(p.status, "nodeStatuses"), 0), "exitCode", -1),
                     3);
    rdjob_plan_free(&p);
}

static void test_completed_and_late_nodes(void **state)
{
    _cleanup_json_ json_t *job = J(JOB("", "\"observedGeneration\":1"));
    _cleanup_json_ json_t *nodes = ready_nodes("a,b");
    _cleanup_json_ json_t *ok = json_pack("[o]", rpod("job-a", "a", 1, 0, "Succeeded", 0));
    struct rdjob_plan p;
    plan(job, nodes, ok, NULL, &p); /* NodeReady: b (new) gets a run */
    assert_int_equal(json_array_size(p.create), 1);
    assert_string_equal(kj_str(json_array_get(p.create, 0), "spec.nodeName"), "b");
    rdjob_plan_free(&p);
    _cleanup_json_ json_t *manual = J(
        JOB(",\"triggerOn\":\"Manual\"", "\"observedGeneration\":1,\"nodeStatuses\":[{\"nodeName\":"
                                         "\"a\",\"phase\":\"Succeeded\",\"generation\":1}]"));
    plan(manual, nodes, ok, NULL, &p); /* Manual: b came later, not run */
    assert_int_equal(json_array_size(p.create), 0);
    assert_string_equal(kj_str(p.status, "phase"), "Completed");
    assert_int_equal(kj_int(p.status, "readyNodes", -1), 1);
    rdjob_plan_free(&p);
}

static void test_spec_change_skip_and_replace(void **state)
{
    _cleanup_json_ json_t *skip = J(JOB("", "\"observedGeneration\":1"));
    json_object_set_new(kj_get(skip, "metadata"), "generation", json_integer(2));
    _cleanup_json_ json_t *nodes = ready_nodes("a,b");
    _cleanup_json_ json_t *rps = json_pack("[o,o]", rpod("job-a", "a", 1, 0, "Running", 0),
                                           rpod("job-b", "b", 1, 0, "Succeeded", 0));
    struct rdjob_plan p;
    plan(skip, nodes, rps, NULL, &p);
    /* b finished the old generation: deleted to re-run; a still running: left alone (Skip) */
    assert_int_equal(json_array_size(p.delete), 1);
    assert_string_equal(json_string_value(json_array_get(p.delete, 0)), "job-b");
    rdjob_plan_free(&p);
    _cleanup_json_ json_t *replace = json_deep_copy(skip);
    json_object_set_new(kj_get(replace, "spec"), "concurrencyPolicy", json_string("Replace"));
    plan(replace, nodes, rps, NULL, &p);
    assert_int_equal(json_array_size(p.delete), 2);
    rdjob_plan_free(&p);
}

static void test_orphans_of_deleted_nodes(void **state)
{
    _cleanup_json_ json_t *job = J(JOB("", "\"observedGeneration\":1"));
    _cleanup_json_ json_t *nodes = ready_nodes("a");
    _cleanup_json_ json_t *rps = json_pack("[o,o]", rpod("job-a", "a", 1, 0, "Succeeded", 0),
                                           rpod("job-gone", "gone", 1, 0, "Running", 0));
    struct rdjob_plan p;
    plan(job, nodes, rps, NULL, &p);
    assert_int_equal(json_array_size(p.delete), 1);
    assert_string_equal(json_string_value(json_array_get(p.delete, 0)), "job-gone");
    assert_string_equal(kj_str(p.status, "phase"), "Completed");
    rdjob_plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_matching),
        cmocka_unit_test(test_creates_on_ready_nodes_only),
        cmocka_unit_test(test_dependencies),
        cmocka_unit_test(test_retry_until_limit),
        cmocka_unit_test(test_completed_and_late_nodes),
        cmocka_unit_test(test_spec_change_skip_and_replace),
        cmocka_unit_test(test_orphans_of_deleted_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
