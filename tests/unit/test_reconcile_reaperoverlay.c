/* ReaperOverlay planning: phase, observed generations, policies, finalizer, pruning. */
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

#define OVL(spec, ann, extra, nodes)                                                               \
    "{\"metadata\":{\"name\":\"o\",\"namespace\":\"ns\",\"finalizers\":[\"reaper.io/"              \
    "overlay-cleanup\"],"                                                                          \
    "\"annotations\":{" ann "}" extra "},\"spec\":{" spec "},\"status\":{\"nodes\":[" nodes "]}}"

static void plan(const char *ovl_s, const char *rpods_s, const char *nodes_s, struct rovl_plan *p,
                 json_t **ovl)
{
    *ovl = J(ovl_s);
    _cleanup_json_ json_t *rpods = J(rpods_s ? rpods_s : "[]");
    _cleanup_json_ json_t *nodes = nodes_s ? J(nodes_s) : NULL;
    rovl_plan(*ovl, rpods, nodes, p);
}

static void test_phases(void **state)
{
    static const struct {
        const char *ovl, *phase;
        int observed_reset_generation; /* -1: not asserted */
    } cases[] = {
        {OVL("", "", "", ""), "Pending", -1},
        {OVL("\"resetGeneration\":2", "", "",
             "{\"nodeName\":\"a\",\"ready\":true,\"observedResetGeneration\":2},"
             "{\"nodeName\":\"b\",\"ready\":true,\"observedResetGeneration\":1}"),
         "Resetting", 0},
        {OVL("\"resetGeneration\":2", "", "",
             "{\"nodeName\":\"a\",\"ready\":true,\"observedResetGeneration\":2},"
             "{\"nodeName\":\"b\",\"ready\":true,\"observedResetGeneration\":3}"),
         "Ready", 2},
        {OVL("", "", "",
             "{\"nodeName\":\"a\",\"ready\":true},{\"nodeName\":\"b\",\"error\":\"x\"}"),
         "Failed", -1},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct rovl_plan p;
        _cleanup_json_ json_t *o = NULL;
        plan(cases[i].ovl, NULL, NULL, &p, &o);
        assert_string_equal(kj_str(p.status, "phase"), cases[i].phase);
        if (cases[i].observed_reset_generation >= 0)
            assert_int_equal(kj_int(p.status, "observedResetGeneration", -1),
                             cases[i].observed_reset_generation);
        assert_false(p.add_finalizer); /* the finalizer is already there */
        rovl_plan_free(&p);
    }
}

static void test_reset_request_annotation_counts(void **state)
{
    struct rovl_plan p;
    _cleanup_json_ json_t *o = NULL;
    plan(OVL("", "\"reaper.io/reset-request\":\"3\"", "",
             "{\"nodeName\":\"a\",\"ready\":true,\"observedResetRequest\":2}"),
         NULL, NULL, &p, &o);
    assert_string_equal(kj_str(p.status, "phase"), "Resetting");
    assert_int_equal(kj_int(p.status, "observedResetRequest", -1), 0);
    rovl_plan_free(&p);
}

static void test_on_failure_marks_each_failure_once(void **state)
{
    struct rovl_plan p;
    _cleanup_json_ json_t *o = NULL;
    plan(OVL("\"resetPolicy\":\"OnFailure\"", "\"reaper.io/reset-request\":\"1\"", "", ""),
         "[{\"metadata\":{\"name\":\"bad\"},\"status\":{\"phase\":\"Failed\"}},"
         "{\"metadata\":{\"name\":\"done\",\"annotations\":{\"reaper.io/overlay-reset-requested\":"
         "\"true\"}},\"status\":{\"phase\":\"Failed\"}},"
         "{\"metadata\":{\"name\":\"ok\"},\"status\":{\"phase\":\"Running\"}}]",
         NULL, &p, &o);
    assert_int_equal(p.reset_request, 2);
    assert_int_equal(json_array_size(p.mark_rpods), 1);
    assert_string_equal(json_string_value(json_array_get(p.mark_rpods, 0)), "bad");
    rovl_plan_free(&p);
}

static void test_on_delete_resets_after_last_user(void **state)
{
    struct rovl_plan p;
    _cleanup_json_ json_t *o1 = NULL, *o2 = NULL, *o3 = NULL;
    plan(OVL("\"resetPolicy\":\"OnDelete\"", "", "", ""), "[{\"metadata\":{\"name\":\"u\"}}]", NULL,
         &p, &o1);
    assert_int_equal(p.in_use, 1);
    assert_int_equal(p.reset_request, -1);
    rovl_plan_free(&p);
    plan(OVL("\"resetPolicy\":\"OnDelete\"", "\"reaper.io/in-use\":\"true\"", "", ""), "[]", NULL,
         &p, &o2);
    assert_int_equal(p.in_use, 0);
    assert_int_equal(p.reset_request, 1);
    rovl_plan_free(&p);
    plan(OVL("\"resetPolicy\":\"Manual\"", "\"reaper.io/in-use\":\"true\"", "", ""), "[]", NULL, &p,
         &o3);
    assert_int_equal(p.in_use, -1);
    assert_int_equal(p.reset_request, -1);
    rovl_plan_free(&p);
}

static void test_deletion_waits_for_every_node_and_prunes_gone_nodes(void **state)
{
    struct rovl_plan p;
    _cleanup_json_ json_t *o1 = NULL, *o2 = NULL, *o3 = NULL;
    plan(OVL("", "", ",\"deletionTimestamp\":\"t\"",
             "{\"nodeName\":\"a\",\"removed\":true},{\"nodeName\":\"b\"}"),
         NULL, "{\"a\":true,\"b\":true}", &p, &o1);
    assert_false(p.remove_finalizer);
    assert_non_null(strstr(kj_str(p.status, "message"), "1 node"));
    rovl_plan_free(&p);
    /* node b no longer exists: its entry is pruned and deletion completes */
    plan(OVL("", "", ",\"deletionTimestamp\":\"t\"",
             "{\"nodeName\":\"a\",\"removed\":true},{\"nodeName\":\"b\"}"),
         NULL, "{\"a\":true}", &p, &o2);
    assert_true(p.remove_finalizer);
    assert_int_equal(json_array_size(kj_get(p.status, "nodes")), 1);
    rovl_plan_free(&p);
    _cleanup_json_ json_t *fresh = J("{\"metadata\":{\"name\":\"o\"},\"spec\":{}}");
    _cleanup_json_ json_t *none = J("[]");
    rovl_plan(fresh, none, NULL, &p);
    assert_true(p.add_finalizer);
    rovl_plan_free(&p);
    (void)o3;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phases),
        cmocka_unit_test(test_reset_request_annotation_counts),
        cmocka_unit_test(test_on_failure_marks_each_failure_once),
        cmocka_unit_test(test_on_delete_resets_after_last_user),
        cmocka_unit_test(test_deletion_waits_for_every_node_and_prunes_gone_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
