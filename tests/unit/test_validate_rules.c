#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "check.h"
#include "policy.h"
#include "rules.h"

static json_t *lit(const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void assert_rule(enum scope s, const char *field, const char *value, enum verdict want)
{
    json_t *v = lit(value);
    const struct vrule *r = rule_find(s, field, v);
    json_decref(v);
    assert_non_null(r);
    assert_string_equal(r->field, field);
    assert_int_equal(r->verdict, want);
}

static void test_value_rules_come_first(void **state)
{
    assert_rule(SCOPE_POD, "hostNetwork", "true", VERDICT_ENFORCED);
    assert_rule(SCOPE_POD, "hostNetwork", "false", VERDICT_IGNORED);
    assert_rule(SCOPE_POD, "hostUsers", "false", VERDICT_REFUSED);
    assert_rule(SCOPE_POD, "hostUsers", "true", VERDICT_ENFORCED);
    assert_rule(SCOPE_CONTAINER, "securityContext.privileged", "true", VERDICT_ENFORCED);
    assert_rule(SCOPE_CONTAINER, "securityContext.privileged", "false", VERDICT_IGNORED);
}

static void test_scopes_are_apart(void **state)
{
    assert_rule(SCOPE_POD, "securityContext.sysctls", "[]", VERDICT_REFUSED);
    assert_rule(SCOPE_CONTAINER, "image", "\"busybox\"", VERDICT_IGNORED);
    assert_rule(SCOPE_REAPER, "command", "[\"x\"]", VERDICT_ENFORCED);
    json_t *v = lit("1");
    assert_null(rule_find(SCOPE_POD, "image", v));                         /* a container field */
    assert_null(rule_find(SCOPE_CONTAINER, "securityContext.sysctls", v)); /* pod only */
    assert_null(rule_find(SCOPE_POD, "securityContext", v)); /* only its children have rules */
    json_decref(v);
    assert_true(rule_has_children(SCOPE_POD, "securityContext"));
    assert_true(rule_has_children(SCOPE_CONTAINER, "securityContext.capabilities"));
    assert_true(rule_has_children(SCOPE_CONTAINER, "resources"));
    assert_false(rule_has_children(SCOPE_CONTAINER, "resource")); /* a prefix is not a parent */
    assert_false(rule_has_children(SCOPE_REAPER, "securityContext"));
}

/* Every value rule needs a rule for any value after it, and nothing may be unreachable. */
static void test_table_is_well_formed(void **state)
{
    for (size_t i = 0; i < vrules_len; i++) {
        const struct vrule *r = &vrules[i];
        assert_null(strchr(r->reason, '|'));
        assert_true(*r->reason);
        bool later_any = false;
        for (size_t k = 0; k < vrules_len; k++) {
            const struct vrule *o = &vrules[k];
            if (k == i || o->scope != r->scope || strcmp(o->field, r->field) != 0)
                continue;
            if (k < i)
                assert_non_null(o->value); /* else rule i is shadowed */
            if (k > i && !o->value)
                later_any = true;
            if (o->value && r->value)
                assert_string_not_equal(o->value, r->value);
        }
        if (r->value)
            assert_true(later_any);
    }
}

static size_t count_verdict(const struct object_report *rep, const char *path, enum verdict v)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n_findings; i++)
        if (strcmp(rep->findings[i].path, path) == 0 && rep->findings[i].rule->verdict == v)
            n++;
    return n;
}

static void test_walk_reports_real_paths(void **state)
{
    json_t *cj =
        lit("{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"c\"},"
            "\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{"
            "\"runtimeClassName\":\"reaper-v2\",\"hostPID\":false,\"newField\":1,"
            "\"securityContext\":{\"sysctls\":[]},"
            "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"limits\":{}}}],"
            "\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"env\":null}]}}}}}}");
    struct object_report rep;
    check_object(cj, "reaper-v2", &rep);
    assert_null(rep.skipped);
    const char *p = "spec.jobTemplate.spec.template.spec.";
    char buf[256];
#define AT(rest) (snprintf(buf, sizeof(buf), "%s%s", p, rest), buf)
    assert_int_equal(count_verdict(&rep, AT("hostPID"), VERDICT_IGNORED), 1);
    assert_int_equal(count_verdict(&rep, AT("newField"), VERDICT_IGNORED), 1);
    assert_int_equal(count_verdict(&rep, AT("securityContext.sysctls"), VERDICT_REFUSED), 1);
    assert_int_equal(count_verdict(&rep, AT("initContainers[0].resources.limits"), VERDICT_IGNORED),
                     1);
    assert_int_equal(count_verdict(&rep, AT("containers[0].image"), VERDICT_IGNORED), 1);
    assert_int_equal(count_verdict(&rep, AT("containers[0].env"), VERDICT_ENFORCED), 0); /* null */
#undef AT
    object_report_clear(&rep);
    check_object(cj, "other-class", &rep);
    assert_non_null(rep.skipped);
    assert_int_equal(rep.n_findings, 0);
    object_report_clear(&rep);
    json_decref(cj);
}

static void test_severity(void **state)
{
    json_t *v = lit("\"busybox\"");
    struct finding image = {"spec.containers[0].image", rule_find(SCOPE_CONTAINER, "image", v)};
    json_decref(v);
    assert_int_equal(finding_severity(&image), SEV_NONE); /* required by the API: never warns */
    v = lit("{}");
    struct finding lim = {"x", rule_find(SCOPE_CONTAINER, "resources.limits", v)};
    struct finding sys = {"y", rule_find(SCOPE_POD, "securityContext.sysctls", v)};
    json_decref(v);
    assert_int_equal(finding_severity(&lim), SEV_WARNING);
    assert_int_equal(finding_severity(&sys), SEV_ERROR);
}

static void test_policy_cel(void **state)
{
    json_t *v = lit("false");
    char *cel = policy_rule_cel(rule_find(SCOPE_POD, "hostNetwork", v));
    json_decref(v);
    /* the generic rule excludes the earlier value rule's value */
    assert_string_equal(cel, "has(object.spec.hostNetwork) && object.spec.hostNetwork != true");
    free(cel);
    v = lit("{}");
    cel = policy_rule_cel(rule_find(SCOPE_CONTAINER, "resources.limits", v));
    json_decref(v);
    assert_non_null(strstr(cel, "object.spec.containers.exists(c, has(c.resources) && "
                                "has(c.resources.limits))"));
    assert_non_null(strstr(cel, "(has(object.spec.initContainers) && "
                                "object.spec.initContainers.exists(c, "));
    free(cel);
    json_t *objs = policy_objects("v1beta1", "reaper-v2");
    assert_int_equal(json_array_size(objs), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(objs, 0), "apiVersion")),
                        "admissionregistration.k8s.io/v1beta1");
    json_decref(objs);
    assert_null(policy_objects("v2", "reaper-v2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_rules_come_first),
        cmocka_unit_test(test_scopes_are_apart),
        cmocka_unit_test(test_table_is_well_formed),
        cmocka_unit_test(test_walk_reports_real_paths),
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_policy_cel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
