/* Two ValidatingAdmissionPolicies with their bindings, generated from the rule table:
 * reaper-pod-guard (Deny) refuses the runtime class in namespaces without the label and every
 * refused field; reaper-pod-ignored-fields (Warn, Audit) names every ignored field a Pod sets.
 * The CEL sticks to has(), exists(), `in` and comparisons: valid Kubernetes CEL that plain CEL
 * implementations evaluate too (tests/cel). */
#include "policy.h"
#include "cleanup.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const char *const container_lists[] = {"containers", "initContainers",
                                              "ephemeralContainers"};

/* has(b.x) && has(b.x.y) && ... for the dotted field below base. */
static char *cel_has_path(const char *base, const char *field)
{
    char *out = xstrdup("");
    _cleanup_free_ char *cur = xstrdup(base);
    _cleanup_strv_ char **parts = strv_split(field, ".");
    for (size_t i = 0; parts[i]; i++) {
        char *next = xasprintf("%s.%s", cur, parts[i]);
        free(cur);
        cur = next;
        char *joined = xasprintf("%s%shas(%s)", out, *out ? " && " : "", cur);
        free(out);
        out = joined;
    }
    return out;
}

/* The rule's condition on one object (base: "object.spec" or a container variable). */
static char *cel_condition(const struct vrule *r, const char *base)
{
    char *cond = cel_has_path(base, r->field);
    for (const struct vrule *e = vrules; e <= r; e++) {
        if (e->scope != r->scope || strcmp(e->field, r->field) != 0 || !e->value)
            continue;
        char *next =
            xasprintf("%s && %s.%s %s %s", cond, base, r->field, e == r ? "==" : "!=", e->value);
        free(cond);
        cond = next;
    }
    return cond;
}

char *policy_rule_cel(const struct vrule *r)
{
    if (r->scope == SCOPE_POD)
        return cel_condition(r, "object.spec");
    if (r->scope != SCOPE_CONTAINER)
        return NULL;
    _cleanup_free_ char *cond = cel_condition(r, "c");
    char *out = xstrdup("");
    for (size_t i = 0; i < sizeof(container_lists) / sizeof(container_lists[0]); i++) {
        const char *l = container_lists[i];
        char *next = i == 0
                         ? xasprintf("object.spec.%s.exists(c, %s)", l, cond)
                         : xasprintf("%s || (has(object.spec.%s) && object.spec.%s.exists(c, %s))",
                                     out, l, l, cond);
        free(out);
        out = next;
    }
    return out;
}

/* " = v" for a value rule; for the rule after one boolean value rule, " = " the other value. */
static const char *value_suffix(const struct vrule *r, char *buf, size_t len)
{
    const char *other = NULL;
    for (const struct vrule *e = vrules; e < r; e++)
        if (e->scope == r->scope && strcmp(e->field, r->field) == 0 && e->value)
            other = e->value;
    if (r->value)
        snprintf(buf, len, " = %s", r->value);
    else if (other && (strcmp(other, "true") == 0 || strcmp(other, "false") == 0))
        snprintf(buf, len, " = %s", strcmp(other, "true") == 0 ? "false" : "true");
    else
        snprintf(buf, len, "%s%s", other ? " other than " : "", other ? other : "");
    return buf;
}

static json_t *validation_for(const struct vrule *r)
{
    _cleanup_free_ char *cel = policy_rule_cel(r);
    _cleanup_free_ char *expr = xasprintf("!(%s)", cel);
    char value[128];
    _cleanup_free_ char *msg =
        xasprintf("%s%s%s: %s by Reaper: %s", scope_prefix(r->scope), r->field,
                  value_suffix(r, value, sizeof(value)), verdict_name(r->verdict), r->reason);
    return json_pack("{s:s, s:s, s:s}", "expression", expr, "message", msg, "reason", "Invalid");
}

static json_t *namespace_validation(const char *runtime_class)
{
    const char *labels = "namespaceObject.metadata.labels";
    _cleanup_free_ char *expr =
        xasprintf("has(%s) && '%s' in %s && %s['%s'] == 'true'", labels, POLICY_NAMESPACE_LABEL,
                  labels, labels, POLICY_NAMESPACE_LABEL);
    _cleanup_free_ char *msg = xasprintf(
        "'runtimeClassName %s runs host processes: namespace ' + namespaceObject.metadata.name + "
        "' is not labelled %s=true'",
        runtime_class, POLICY_NAMESPACE_LABEL);
    return json_pack("{s:s, s:s, s:s}", "expression", expr, "messageExpression", msg, "reason",
                     "Forbidden");
}

static json_t *metadata(const char *name)
{
    return json_pack("{s:s, s:{s:s}}", "name", name, "labels", "app.kubernetes.io/part-of",
                     "reaper");
}

static json_t *policy(const char *api, const char *name, const char *failure,
                      const char *runtime_class, json_t *validations)
{
    _cleanup_free_ char *match = xasprintf(
        "has(object.spec.runtimeClassName) && object.spec.runtimeClassName == '%s'", runtime_class);
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:{s:[{s:[s], s:[s], s:[s], s:[s]}]}, "
                     "s:[{s:s, s:s}], s:o}}",
                     "apiVersion", api, "kind", "ValidatingAdmissionPolicy", "metadata",
                     metadata(name), "spec", "failurePolicy", failure, "matchConstraints",
                     "resourceRules", "apiGroups", "", "apiVersions", "v1", "operations", "CREATE",
                     "resources", "pods", "matchConditions", "name", "reaper-runtime-class",
                     "expression", match, "validations", validations);
}

static json_t *binding(const char *api, const char *name, json_t *actions)
{
    return json_pack("{s:s, s:s, s:o, s:{s:s, s:o}}", "apiVersion", api, "kind",
                     "ValidatingAdmissionPolicyBinding", "metadata", metadata(name), "spec",
                     "policyName", name, "validationActions", actions);
}

json_t *policy_objects(const char *api_version, const char *runtime_class)
{
    if (strcmp(api_version, "v1") != 0 && strcmp(api_version, "v1beta1") != 0)
        return NULL;
    _cleanup_free_ char *api = xasprintf("admissionregistration.k8s.io/%s", api_version);
    json_t *deny = json_array(), *warn = json_array();
    json_array_append_new(deny, namespace_validation(runtime_class));
    for (size_t i = 0; i < vrules_len; i++) {
        const struct vrule *r = &vrules[i];
        if (r->scope == SCOPE_REAPER || r->verdict == VERDICT_ENFORCED || r->always_set)
            continue;
        json_array_append_new(r->verdict == VERDICT_REFUSED ? deny : warn, validation_for(r));
    }
    return json_pack(
        "[o, o, o, o]", policy(api, "reaper-pod-guard", "Fail", runtime_class, deny),
        binding(api, "reaper-pod-guard", json_pack("[s]", "Deny")),
        policy(api, "reaper-pod-ignored-fields", "Ignore", runtime_class, warn),
        binding(api, "reaper-pod-ignored-fields", json_pack("[s, s]", "Warn", "Audit")));
}
