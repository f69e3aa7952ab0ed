#include "check.h"
#include "cleanup.h"
#include "jpath.h"
#include "util.h"

#include <string.h>

/* Where each workload kind keeps its pod spec. */
static const struct {
    const char *kind;
    const char *path[5];
} templates[] = {
    {"Pod", {"spec"}},
    {"PodTemplate", {"template", "spec"}},
    {"Deployment", {"spec", "template", "spec"}},
    {"StatefulSet", {"spec", "template", "spec"}},
    {"DaemonSet", {"spec", "template", "spec"}},
    {"ReplicaSet", {"spec", "template", "spec"}},
    {"ReplicationController", {"spec", "template", "spec"}},
    {"Job", {"spec", "template", "spec"}},
    {"CronJob", {"spec", "jobTemplate", "spec", "template", "spec"}},
};

static const char *const container_lists[] = {"containers", "initContainers",
                                              "ephemeralContainers"};

enum severity finding_severity(const struct finding *f)
{
    if (f->rule->verdict == VERDICT_REFUSED)
        return SEV_ERROR;
    if (f->rule->verdict == VERDICT_IGNORED && !f->rule->always_set)
        return SEV_WARNING;
    return SEV_NONE;
}

static const char *str_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static void add_finding(struct object_report *r, const char *path, const struct vrule *rule)
{
    r->findings = xrealloc(r->findings, (r->n_findings + 1) * sizeof(*r->findings));
    r->findings[r->n_findings++] = (struct finding){xstrdup(path), rule};
}

static bool is_container_list(const char *key)
{
    for (size_t i = 0; i < sizeof(container_lists) / sizeof(container_lists[0]); i++)
        if (strcmp(key, container_lists[i]) == 0)
            return true;
    return false;
}

static void walk(struct object_report *r, const json_t *node, enum scope s, const char *rel,
                 const char *concrete);

static void walk_containers(struct object_report *r, const json_t *list, const char *concrete)
{
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c)
    {
        _cleanup_free_ char *cp = jpath_index(concrete, i);
        if (json_is_object(c))
            walk(r, c, SCOPE_CONTAINER, "", cp);
    }
}

/* Report each field at the most specific rule that names it; descend where rules go deeper. */
static void walk(struct object_report *r, const json_t *node, enum scope s, const char *rel,
                 const char *concrete)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)node, key, val)
    {
        if (json_is_null(val))
            continue; /* the API treats null as unset */
        _cleanup_free_ char *rp = jpath(rel, key);
        _cleanup_free_ char *cp = jpath(concrete, key);
        if (s == SCOPE_POD && !*rel && is_container_list(key) && json_is_array(val)) {
            walk_containers(r, val, cp);
            continue;
        }
        const struct vrule *rule = rule_find(s, rp, val);
        if (rule)
            add_finding(r, cp, rule);
        else if (json_is_object(val) && rule_has_children(s, rp))
            walk(r, val, s, rp, cp);
        else
            add_finding(r, cp, s == SCOPE_REAPER ? &vrule_unknown_reaper : &vrule_unknown_pod);
    }
}

/* The pod spec of a workload kind and its JSON path (NULL: not a kind with one). */
static const json_t *pod_spec(const json_t *obj, const char *kind, char **path)
{
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
        if (strcmp(kind, templates[i].kind) != 0)
            continue;
        const json_t *node = obj;
        char *p = xstrdup("");
        for (size_t k = 0; k < 5 && templates[i].path[k]; k++) {
            char *next = jpath(p, templates[i].path[k]);
            free(p);
            p = next;
            node = json_object_get(node, templates[i].path[k]);
        }
        *path = p;
        return node;
    }
    return NULL;
}

static bool is_reaper_kind(const json_t *obj, const char *kind)
{
    return str_startswith(str_member(obj, "apiVersion"), "reaper.io/") &&
           (strcmp(kind, "ReaperPod") == 0 || strcmp(kind, "ReaperDaemonJob") == 0);
}

void check_object(const json_t *obj, const char *runtime_class, struct object_report *out)
{
    const json_t *meta = json_object_get(obj, "metadata");
    *out = (struct object_report){.kind = str_member(obj, "kind"),
                                  .namespace = str_member(meta, "namespace"),
                                  .name = str_member(meta, "name")};
    if (is_reaper_kind(obj, out->kind)) {
        const json_t *spec = json_object_get(obj, "spec");
        if (json_is_object(spec))
            walk(out, spec, SCOPE_REAPER, "", "spec");
        return;
    }
    _cleanup_free_ char *path = NULL;
    const json_t *spec = pod_spec(obj, out->kind, &path);
    if (!path) {
        out->skipped =
            xasprintf("kind %s has no pod template", *out->kind ? out->kind : "(missing)");
        return;
    }
    if (!json_is_object(spec)) {
        out->skipped = xasprintf("no pod spec at %s", path);
        return;
    }
    const char *rc = str_member(spec, "runtimeClassName");
    if (strcmp(rc, runtime_class) != 0) {
        out->skipped = xasprintf("%s.runtimeClassName is %s%s%s, not %s", path, *rc ? "" : "(",
                                 *rc ? rc : "unset", *rc ? "" : ")", runtime_class);
        return;
    }
    walk(out, spec, SCOPE_POD, "", path);
}

void object_report_clear(struct object_report *r)
{
    for (size_t i = 0; i < r->n_findings; i++)
        free(r->findings[i].path);
    free(r->findings);
    free(r->skipped);
    *r = (struct object_report){0};
}
