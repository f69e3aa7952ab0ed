/* reaper-agent pure parts: metrics text, GC decisions, ReaperOverlay entries, node condition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "util.h"

static struct workload_info wl(const char *id, const char *ns, const char *key,
                               enum container_status st)
{
    return (struct workload_info){.id = (char *)id,
                                  .k8s_namespace = (char *)ns,
                                  .overlay_key = (char *)key,
                                  .status = st,
                                  .age_s = 1000};
}

static void test_metrics_text(void **state)
{
    (void)state;
    struct workload_info w[] = {
        wl("a", "team-b", "team-b", STATUS_RUNNING), wl("b", "team-a", "team-a", STATUS_RUNNING),
        wl("c", "team-a", "team-a", STATUS_RUNNING), wl("d", "q\"x", "q", STATUS_STOPPED),
        wl("s", "team-a", "team-a", STATUS_STOPPED)};
    w[4].sandbox = true;
    w[4].status = STATUS_CREATED; /* the shim never "starts" a sandbox: it has no process */
    struct overlay_info o[] = {
        {.key = "team-a", .k8s_namespace = "team-a", .upper_bytes = 4096, .pinned = true},
        {.key = "team-a_grp", .k8s_namespace = "team-a", .name = "grp"}};
    struct shim_info sh[] = {{.pid = 42, .rss_bytes = 700000}};
    struct node_snapshot s = {w, 5, o, 2, sh, 1, true, 1 << 20, 0};
    struct agent_counters c = {.gc_runs = 3, .gc_removed_states = 2, .node_ready = 1};
    c.overlay_ops[OVL_RESET][RES_REFUSED] = 4;
    c.last_error[COMP_CONFIG] = 1700000000.5;
    char *m = metrics_render(&s, &c, "9.9");
    assert_non_null(strstr(m, "# TYPE reaper_workloads gauge\n"
                              "reaper_workloads{namespace=\"q\\\"x\",state=\"stopped\"} 1\n"
                              "reaper_workloads{namespace=\"team-a\",state=\"running\"} 2\n"
                              "reaper_workloads{namespace=\"team-b\",state=\"running\"} 1\n"));
    assert_non_null(strstr(m, "reaper_pod_sandboxes{namespace=\"team-a\"} 1\n"));
    assert_non_null(strstr(m, "reaper_build_info{version=\"9.9\"} 1\n"));
    assert_non_null(
        strstr(m, "reaper_overlay_upper_bytes{namespace=\"team-a\",overlay=\"grp\"} 0\n"));
    assert_non_null(strstr(m, "reaper_overlay_pinned{namespace=\"team-a\",overlay=\"\"} 1\n"));
    assert_non_null(strstr(m, "reaper_shim_resident_memory_bytes{pid=\"42\"} 700000\n"));
    assert_non_null(strstr(m, "reaper_shim_processes 1\n"));
    assert_non_null(strstr(m, "reaper_overlay_filesystem_size_bytes 1048576\n"
                              "# HELP reaper_overlay_filesystem_free_bytes"));
    assert_non_null(strstr(m, "reaper_overlay_filesystem_free_bytes 0\n"));
    assert_non_null(strstr(m, "reaper_gc_removed_total{kind=\"state\"} 2\n"));
    assert_non_null(
        strstr(m, "reaper_overlay_operations_total{operation=\"reset\",result=\"refused\"} 4\n"));
    assert_non_null(
        strstr(m, "reaper_last_error_timestamp_seconds{component=\"config\"} 1700000000.500\n"));
    assert_non_null(strstr(m, "reaper_node_ready 1\n"));
    assert_non_null(strstr(m, "reaper_checkpoints_total{result=\"failed\"} 0\n"));
    assert_null(strstr(m, "reaper_criu")); /* not probed yet */
    free(m);
    c.node_ready = -1;
    c.checkpoints[CKR_SUCCEEDED] = 2;
    struct criu_info broken = {.path = "/opt/\"criu\"", .works = false};
    pthread_mutex_init(&c.mu, NULL);
    agent_counters_set_criu(&c, &broken);
    m = metrics_render(&s, &c, "9.9");
    assert_null(strstr(m, "reaper_node_ready"));
    assert_non_null(strstr(m, "reaper_checkpoints_total{result=\"succeeded\"} 2\n"));
    assert_non_null(strstr(m, "reaper_criu_info{version=\"\",path=\"/opt/\\\"criu\\\"\"} 1\n"));
    assert_non_null(strstr(m, "reaper_criu_works 0\n"));
    free(m);
    struct criu_info good = {.path = "/usr/sbin/criu", .version = "4.2", .works = true};
    agent_counters_set_criu(&c, &good);
    m = metrics_render(&s, &c, "9.9");
    assert_non_null(strstr(m, "reaper_criu_info{version=\"4.2\",path=\"/usr/sbin/criu\"} 1\n"
                              "# HELP reaper_criu_works"));
    assert_non_null(strstr(m, "reaper_criu_works 1\n"));
    free(m);
    free(c.criu_version);
    free(c.criu_path);
    pthread_mutex_destroy(&c.mu);
}

static void test_gc_state_decisions(void **state)
{
    (void)state;
    struct workload_info w = wl("x", "ns", "ns", STATUS_STOPPED);
    assert_true(gc_state_is_stale(&w, 300));
    w.age_s = 10; /* too recent: the shim may be about to delete it */
    assert_false(gc_state_is_stale(&w, 300));
    w.age_s = 1000;
    w.bundle_exists = true; /* containerd still knows it and will delete it itself */
    assert_false(gc_state_is_stale(&w, 300));
    w.bundle_exists = false;
    w.status = STATUS_RUNNING;
    assert_false(gc_state_is_stale(&w, 300));
    w.status = STATUS_CREATED;
    assert_false(gc_state_is_stale(&w, 300));
    w.status = STATUS_PAUSED;
    assert_false(gc_state_is_stale(&w, 300));
    w.unreadable = true; /* corrupt state.json, no bundle, old */
    assert_true(gc_state_is_stale(&w, 300));
}

static void test_overlay_users_and_orphans(void **state)
{
    (void)state;
    struct workload_info w[] = {
        wl("r", "a", "a", STATUS_RUNNING), wl("s", "b", "b", STATUS_STOPPED),
        wl("c", "a", "a_grp", STATUS_CREATED), wl("p", "a", "a", STATUS_RUNNING)};
    w[3].sandbox = true; /* sandboxes have no process in the overlay */
    struct node_snapshot s = {.workloads = w, .n_workloads = 4};
    char **ids = xcalloc(1, sizeof(char *));
    assert_int_equal(overlay_users(&s, "a", &ids), 1);
    assert_string_equal(ids[0], "r");
    strv_free(ids);
    assert_int_equal(overlay_users(&s, "b", NULL), 0);
    assert_int_equal(overlay_users(&s, "a_grp", NULL), 1);

    char *live[] = {"a", NULL};
    struct overlay_info b = {.key = "b", .k8s_namespace = "b"};
    struct overlay_info a = {.key = "a", .k8s_namespace = "a"};
    struct overlay_info gone_busy = {.key = "a_grp", .k8s_namespace = "a", .name = "grp"};
    struct overlay_info node = {.key = "_node", .k8s_namespace = "_node"};
    assert_true(gc_overlay_orphaned(&b, live, &s));  /* namespace gone, nobody uses it */
    assert_false(gc_overlay_orphaned(&a, live, &s)); /* namespace exists */
    char *none[] = {NULL};
    assert_false(gc_overlay_orphaned(&gone_busy, none, &s)); /* namespace gone, still used */
    assert_false(gc_overlay_orphaned(&node, none, &s));      /* node mode: never */
}

static json_t *overlay_obj(const char *json)
{
    json_error_t e;
    json_t *o = json_loads(json, 0, &e);
    assert_non_null(o);
    return o;
}

static void test_overlay_actions(void **state)
{
    (void)state;
    json_t *o = overlay_obj("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"resetGeneration\":2}}");
    assert_int_equal(overlay_action(o, "n1"), OVA_REGISTER);
    json_t *e = overlay_entry(o, "n1", OVA_REGISTER, NULL, RES_OK, NULL, "T0");
    assert_int_equal(overlay_upsert_entry(o, e), 0);
    assert_int_equal(overlay_upsert_entry(o, e), 1); /* unchanged: no write */
    json_decref(e);
    assert_int_equal(overlay_action(o, "n1"), OVA_NONE);
    assert_int_equal(overlay_action(o, "n2"), OVA_REGISTER);

    /* bump the generation: reset, first refused (workload running), then done */
    json_object_set_new(json_object_get(o, "spec"), "resetGeneration", json_integer(3));
    assert_int_equal(overlay_action(o, "n1"), OVA_RESET);
    e = overlay_entry(o, "n1", OVA_RESET, NULL, RES_REFUSED, "waiting: 1 running workload", "T1");
    assert_int_equal(overlay_upsert_entry(o, e), 0); /* changed: write */
    json_decref(e);
    json_t *ent = json_array_get(json_object_get(json_object_get(o, "status"), "nodes"), 0);
    assert_true(json_is_true(json_object_get(ent, "ready")));
    assert_int_equal(json_integer_value(json_object_get(ent, "observedResetGeneration")), 2);
    assert_string_equal(json_string_value(json_object_get(ent, "message")),
                        "waiting: 1 running workload");
    assert_int_equal(overlay_action(o, "n1"), OVA_RESET);
    e = overlay_entry(o, "n1", OVA_RESET, NULL, RES_OK, NULL, "T2");
    assert_int_equal(overlay_upsert_entry(o, e), 0); /* changed: write */
    json_decref(e);
    ent = json_array_get(json_object_get(json_object_get(o, "status"), "nodes"), 0);
    assert_int_equal(json_integer_value(json_object_get(ent, "observedResetGeneration")), 3);
    assert_string_equal(json_string_value(json_object_get(ent, "lastResetTime")), "T2");
    assert_null(json_object_get(ent, "message"));

    /* the controller's reset-request annotation */
    json_object_set_new(json_object_get(o, "metadata"), "annotations",
                        json_pack("{s:s}", "reaper.io/reset-request", "1"));
    assert_int_equal(overlay_action(o, "n1"), OVA_RESET);
    e = overlay_entry(o, "n1", OVA_RESET, NULL, RES_ERROR, "umount: busy", "T3");
    assert_int_equal(overlay_upsert_entry(o, e), 0); /* changed: write */
    json_decref(e);
    ent = json_array_get(json_object_get(json_object_get(o, "status"), "nodes"), 0);
    assert_false(json_is_true(json_object_get(ent, "ready")));
    assert_string_equal(json_string_value(json_object_get(ent, "error")), "umount: busy");

    /* deletion */
    json_object_set_new(json_object_get(o, "metadata"), "deletionTimestamp", json_string("T4"));
    assert_int_equal(overlay_action(o, "n1"), OVA_DELETE);
    e = overlay_entry(o, "n1", OVA_DELETE, NULL, RES_OK, NULL, "T4");
    assert_int_equal(overlay_upsert_entry(o, e), 0); /* changed: write */
    json_decref(e);
    ent = json_array_get(json_object_get(json_object_get(o, "status"), "nodes"), 0);
    assert_true(json_is_true(json_object_get(ent, "removed")));
    assert_null(json_object_get(ent, "error"));
    assert_int_equal(overlay_action(o, "n1"), OVA_NONE);
    assert_int_equal(json_array_size(json_object_get(json_object_get(o, "status"), "nodes")), 1);
    json_decref(o);
}

/* The entry records the reset the node did, not one asked for while it did it. */
static void test_overlay_reset_applied(void **state)
{
    (void)state;
    json_t *o =
        overlay_obj("{\"metadata\":{\"name\":\"x\",\"uid\":\"u-1\",\"annotations\":"
                    "{\"reaper.io/reset-request\":\"4\"}},\"spec\":{\"resetGeneration\":2}}");
    struct reset_mark want;
    overlay_reset_wanted(o, &want);
    assert_string_equal(want.uid, "u-1");
    assert_int_equal(want.generation, 2);
    assert_int_equal(want.request, 4);
    json_object_set_new(json_object_get(o, "spec"), "resetGeneration", json_integer(3));
    json_t *e = overlay_entry(o, "n1", OVA_RESET, &want, RES_OK, NULL, "T1");
    assert_int_equal(overlay_upsert_entry(o, e), 0);
    json_decref(e);
    json_t *ent = json_array_get(json_object_get(json_object_get(o, "status"), "nodes"), 0);
    assert_int_equal(json_integer_value(json_object_get(ent, "observedResetGeneration")), 2);
    assert_int_equal(json_integer_value(json_object_get(ent, "observedResetRequest")), 4);
    assert_int_equal(overlay_action(o, "n1"), OVA_RESET); /* generation 3 still to do */
    json_decref(o);

    json_t *bare = overlay_obj("{\"metadata\":{\"name\":\"y\"}}");
    overlay_reset_wanted(bare, &want);
    assert_string_equal(want.uid, "");
    assert_int_equal(want.generation, 0);
    assert_int_equal(want.request, 0);
    json_decref(bare);
}

static void test_node_condition(void **state)
{
    (void)state;
    struct node_checks ok = {NULL, NULL, NULL, NULL};
    json_t *c1 = node_condition(&ok, NULL, "T0");
    assert_string_equal(json_string_value(json_object_get(c1, "status")), "True");
    assert_string_equal(json_string_value(json_object_get(c1, "reason")), "Ready");
    json_t *c2 = node_condition(&ok, c1, "T1"); /* same status: transition time kept */
    assert_string_equal(json_string_value(json_object_get(c2, "lastTransitionTime")), "T0");
    assert_string_equal(json_string_value(json_object_get(c2, "lastHeartbeatTime")), "T1");
    struct node_checks bad = {NULL, "config.toml does not register runtime reaper-v2", "ro", NULL};
    json_t *c3 = node_condition(&bad, c2, "T2");
    assert_string_equal(json_string_value(json_object_get(c3, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(c3, "reason")), "RuntimeNotRegistered");
    assert_string_equal(json_string_value(json_object_get(c3, "message")),
                        "config.toml does not register runtime reaper-v2; ro");
    assert_string_equal(json_string_value(json_object_get(c3, "lastTransitionTime")), "T2");
    /* CRIU is reported, never decides the status. */
    struct node_checks no_criu = {NULL, NULL, NULL, "criu not found on PATH"};
    json_t *c4 = node_condition(&no_criu, NULL, "T3");
    assert_string_equal(json_string_value(json_object_get(c4, "status")), "True");
    assert_string_equal(json_string_value(json_object_get(c4, "message")),
                        "Reaper binaries run, containerd has the runtime registered, state "
                        "directory writable; checkpoint/restore: criu not found on PATH");
    json_decref(c4);
    bad.criu = "criu 4.2: check ok";
    c4 = node_condition(&bad, NULL, "T3");
    assert_string_equal(json_string_value(json_object_get(c4, "status")), "False");
    assert_string_equal(json_string_value(json_object_get(c4, "message")),
                        "config.toml does not register runtime reaper-v2; ro; checkpoint/restore: "
                        "criu 4.2: check ok");
    json_decref(c4);

    json_t *node = overlay_obj("{\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}");
    assert_int_equal(node_upsert_condition(node, c1), 0);
    assert_int_equal(node_upsert_condition(node, c2), 1); /* only the heartbeat differs */
    assert_int_equal(node_upsert_condition(node, c3), 0);
    json_t *conds = json_object_get(json_object_get(node, "status"), "conditions");
    assert_int_equal(json_array_size(conds), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(conds, 0), "type")),
                        "Ready");
    json_decref(node);
    json_decref(c1);
    json_decref(c2);
    json_decref(c3);
}

static void test_config_map(void **state)
{
    (void)state;
    json_t *cm = overlay_obj("{\"data\":{\"reaper.conf\":\"REAPER_DNS_MODE=host\\n\"}}");
    assert_string_equal(config_map_reaper_conf(cm), "REAPER_DNS_MODE=host\n");
    json_t *empty = overlay_obj("{\"data\":{}}");
    assert_null(config_map_reaper_conf(empty));
    json_decref(cm);
    json_decref(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_gc_state_decisions),
        cmocka_unit_test(test_overlay_users_and_orphans),
        cmocka_unit_test(test_overlay_actions),
        cmocka_unit_test(test_overlay_reset_applied),
        cmocka_unit_test(test_node_condition),
        cmocka_unit_test(test_config_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
