/* ReaperDaemonJob: one ReaperPod per matching Ready node, dependencies, retries, spec changes. */
#include "cleanup.h"
#include "kjson.h"
#include "reconcile.h"
#include "util.h"

#include <string.h>

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool node_is_ready(const json_t *node)
{
    return str_eq(kj_condition(node, "Ready"), "True");
}

static bool tolerates(const json_t *tol, const json_t *taint)
{
    const char *effect = kj_str(tol, "effect");
    if (effect && *effect && !str_eq(effect, kj_str(taint, "effect")))
        return false;
    const char *key = kj_str(tol, "key");
    const char *op = kj_str(tol, "operator");
    bool exists = str_eq(op, "Exists");
    if (key == NULL || *key == '\0')
        return exists;
    if (!str_eq(key, kj_str(taint, "key")))
        return false;
    if (exists)
        return true;
    const char *v = kj_str(tol, "value"), *tv = kj_str(taint, "value");
    return str_eq(v ? v : "", tv ? tv : "");
}

static bool taints_tolerated(const json_t *spec, const json_t *node)
{
    size_t i, j;
    json_t *taint, *tol;
    json_array_foreach(kj_get(node, "spec.taints"), i, taint)
    {
        const char *eff = kj_str(taint, "effect");
        if (!str_eq(eff, "NoSchedule") && !str_eq(eff, "NoExecute"))
            continue;
        bool ok = false;
        json_array_foreach(json_object_get(spec, "tolerations"), j, tol)
        {
            ok |= tolerates(tol, taint);
        }
        if (!ok)
            return false;
    }
    return true;
}

bool node_matches(const json_t *spec, const json_t *node)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(spec, "nodeSelector"), k, v)
    {
        if (!str_eq(kj_label(node, k), json_string_value(v)))
            return false;
    }
    return taints_tolerated(spec, node);
}

static const char *const copied_fields[] = {
    "command",   "args",       "env",     "workingDir",  "overlayName",       "dnsMode",
    "runAsUser", "runAsGroup", "volumes", "tolerations", "supplementalGroups"};

json_t *rdjob_desired_rpod(const json_t *job, const char *node, long long gen, long long retry)
{
    const json_t *jspec = json_object_get(job, "spec");
    json_t *spec = json_pack("{s:s,s:s}", "nodeName", node, "restartPolicy", "Never");
    for (size_t i = 0; i < ARRAY_SIZE(copied_fields); i++) {
        json_t *v = json_object_get(jspec, copied_fields[i]);
        if (v)
            json_object_set(spec, copied_fields[i], v);
    }
    const char *jname = kj_str(job, "metadata.name");
    _cleanup_free_ char *name = join_name(jname, node);
    _cleanup_free_ char *lv = label_value(jname);
    _cleanup_free_ char *g = xasprintf("%lld", gen), *r = xasprintf("%lld", retry);
    return json_pack("{s:s,s:s,s:{s:s,s:s?,s:{s:s},s:{s:s,s:s},s:[o]},s:o}", "apiVersion",
                     "reaper.io/v1alpha1", "kind", "ReaperPod", "metadata", "name", name,
                     "namespace", kj_str(job, "metadata.namespace"), "labels",
                     "reaper.io/daemonjob", lv, "annotations", ANN_JOB_GENERATION, g, ANN_RETRY, r,
                     "ownerReferences", owner_reference(job), "spec", spec);
}

/* NULL when every `after` dependency is Completed, else the reason (caller frees). */
static char *unmet_dependency(const json_t *job, const json_t *jobs)
{
    size_t i, j;
    json_t *dep, *other;
    json_array_foreach(kj_get(job, "spec.after"), i, dep)
    {
        const char *name = json_string_value(dep);
        const json_t *found = NULL;
        json_array_foreach(jobs, j, other)
        {
            if (str_eq(kj_str(other, "metadata.name"), name))
                found = other;
        }
        if (found == NULL)
            return xasprintf("dependency %s not found", name ? name : "");
        const char *phase = kj_str(found, "status.phase");
        if (!str_eq(phase, "Completed"))
            return xasprintf("waiting for %s (%s)", name, phase ? phase : "Pending");
    }
    return NULL;
}

static const json_t *find_by_node(const json_t *arr, const char *field, const char *node)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (str_eq(kj_str(v, field), node))
            return v;
    }
    return NULL;
}

struct job_ctx {
    const json_t *job;
    long long gen, retry_limit;
    bool replace;
    json_t *statuses; /* new nodeStatuses */
    struct rdjob_plan *p;
};

static json_t *node_status(const char *node, const char *phase, const char *rpod, long long retry,
                           long long gen)
{
    return json_pack("{s:s,s:s,s:s?,s:I,s:I}", "nodeName", node, "phase", phase, "reaperPodName",
                     rpod, "retryCount", (json_int_t)retry, "generation", (json_int_t)gen);
}

static void finish_node(struct job_ctx *c, json_t *st, const json_t *rp)
{
    json_t *code = kj_get(rp, "status.exitCode");
    if (json_is_integer(code))
        json_object_set(st, "exitCode", code);
    json_array_append_new(c->statuses, st);
}

/* A node with an existing ReaperPod for the current generation. */
static void step_current(struct job_ctx *c, const char *node, const json_t *rp, long long retry)
{
    const char *name = kj_str(rp, "metadata.name");
    const char *phase = kj_str(rp, "status.phase");
    long long rp_retry = ann_int(rp, ANN_RETRY, 0);
    if (str_eq(phase, "Succeeded")) {
        finish_node(c, node_status(node, "Succeeded", name, rp_retry, c->gen), rp);
    } else if (str_eq(phase, "Failed")) {
        if (retry <= rp_retry && rp_retry >= c->retry_limit) {
            finish_node(c, node_status(node, "Failed", name, rp_retry, c->gen), rp);
            ctl_events_add(&c->p->events, "Warning", "NodeFailed",
                           "%s failed on node %s after %lld retries", name, node, rp_retry);
            return;
        }
        if (retry <= rp_retry) {
            retry = rp_retry + 1;
            ctl_events_add(&c->p->events, "Normal", "Retrying",
                           "%s failed on node %s: retry %lld/%lld", name, node, retry,
                           c->retry_limit);
        }
        json_array_append_new(c->p->delete, json_string(name));
        finish_node(c, node_status(node, "Pending", name, retry, c->gen), rp);
    } else {
        json_array_append_new(c->statuses,
                              node_status(node, str_eq(phase, "Running") ? "Running" : "Pending",
                                          name, rp_retry, c->gen));
    }
}

/* A node whose ReaperPod runs an older generation. */
static void step_old(struct job_ctx *c, const char *node, const json_t *rp)
{
    const char *name = kj_str(rp, "metadata.name");
    const char *phase = kj_str(rp, "status.phase");
    bool done = str_eq(phase, "Succeeded") || str_eq(phase, "Failed");
    if (!done && !c->replace) { /* Skip: let it finish, then run the new generation */
        json_array_append_new(c->statuses,
                              node_status(node, "Running", name, ann_int(rp, ANN_RETRY, 0),
                                          ann_int(rp, ANN_JOB_GENERATION, 0)));
        return;
    }
    json_array_append_new(c->p->delete, json_string(name));
    json_array_append_new(c->statuses, node_status(node, "Pending", name, 0, c->gen));
}

static void step_node(struct job_ctx *c, const json_t *node, const json_t *rp, const json_t *prev)
{
    const char *n = kj_str(node, "metadata.name");
    long long retry = kj_int(prev, "generation", -1) == c->gen ? kj_int(prev, "retryCount", 0) : 0;
    if (rp && is_deleting(rp)) {
        json_array_append_new(
            c->statuses, node_status(n, "Pending", kj_str(rp, "metadata.name"), retry, c->gen));
    } else if (rp && ann_int(rp, ANN_JOB_GENERATION, 0) != c->gen) {
        step_old(c, n, rp);
    } else if (rp) {
        step_current(c, n, rp, retry);
    } else if (prev && kj_int(prev, "generation", -1) == c->gen &&
               (str_eq(kj_str(prev, "phase"), "Succeeded") ||
                str_eq(kj_str(prev, "phase"), "Failed"))) {
        json_array_append(c->statuses, (json_t *)prev); /* finished; its ReaperPod was removed */
    } else if (node_is_ready(node)) {
        json_t *obj = rdjob_desired_rpod(c->job, n, c->gen, retry);
        json_array_append_new(
            c->statuses, node_status(n, "Pending", kj_str(obj, "metadata.name"), retry, c->gen));
        json_array_append_new(c->p->create, obj);
    } else {
        json_array_append_new(c->statuses, node_status(n, "Pending", NULL, retry, c->gen));
    }
}

/* Which nodes this pass handles: matching Ready nodes, plus (NodeReady) nodes with a run, or
 * (Manual, generation already started) only the nodes recorded for the generation. */
static bool targeted(const json_t *job, const json_t *node, const json_t *rp, const json_t *prev,
                     long long gen)
{
    const json_t *spec = json_object_get(job, "spec");
    if (!node_matches(spec, node))
        return rp != NULL;
    bool manual = str_eq(kj_str(spec, "triggerOn"), "Manual");
    bool started = kj_int(job, "status.observedGeneration", 0) == gen;
    if (manual && started)
        return rp != NULL || (prev != NULL && kj_int(prev, "generation", -1) == gen);
    return node_is_ready(node) || rp != NULL || (prev && kj_int(prev, "generation", -1) == gen);
}

static void summarise(json_t *st, const json_t *statuses)
{
    size_t i, ok = 0, failed = 0, n = json_array_size(statuses);
    json_t *s;
    json_array_foreach(statuses, i, s)
    {
        ok += str_eq(kj_str(s, "phase"), "Succeeded");
        failed += str_eq(kj_str(s, "phase"), "Failed");
    }
    const char *phase = n == 0             ? "Pending"
                        : ok == n          ? "Completed"
                        : ok + failed == n ? "PartiallyFailed"
                                           : "Running";
    _cleanup_free_ char *msg =
        n == 0 ? xstrdup("no matching Ready nodes")
               : xasprintf("%zu/%zu nodes succeeded, %zu failed", ok, n, failed);
    json_object_set_new(st, "phase", json_string(phase));
    json_object_set_new(st, "readyNodes", json_integer((json_int_t)ok));
    json_object_set_new(st, "totalNodes", json_integer((json_int_t)n));
    json_object_set_new(st, "message", json_string(msg));
}

/* ReaperPods of nodes that no longer exist are deleted. */
static void drop_orphans(const json_t *nodes, const json_t *rpods, struct rdjob_plan *p)
{
    size_t i;
    json_t *rp;
    json_array_foreach(rpods, i, rp)
    {
        if (!find_by_node(nodes, "metadata.name", kj_str(rp, "spec.nodeName")) && !is_deleting(rp))
            json_array_append_new(p->delete, json_string(kj_str(rp, "metadata.name")));
    }
}

void rdjob_plan(const json_t *job, const json_t *nodes, const json_t *rpods, const json_t *jobs,
                struct rdjob_plan *p)
{
    *p = (struct rdjob_plan){.create = json_array(), .delete = json_array()};
    json_t *old = kj_get(job, "status");
    p->status = json_is_object(old) ? json_deep_copy(old) : json_object();
    _cleanup_free_ char *unmet = unmet_dependency(job, jobs);
    if (unmet) {
        json_object_set_new(p->status, "phase", json_string("Pending"));
        json_object_set_new(p->status, "message", json_string(unmet));
        return;
    }
    struct job_ctx c = {.job = job,
                        .gen = kj_int(job, "metadata.generation", 1),
                        .retry_limit = kj_int(job, "spec.retryLimit", 0),
                        .replace = str_eq(kj_str(job, "spec.concurrencyPolicy"), "Replace"),
                        .statuses = json_array(),
                        .p = p};
    size_t i;
    json_t *node;
    json_array_foreach(nodes, i, node)
    {
        const char *n = kj_str(node, "metadata.name");
        const json_t *rp = find_by_node(rpods, "spec.nodeName", n);
        const json_t *prev = find_by_node(kj_get(job, "status.nodeStatuses"), "nodeName", n);
        if (targeted(job, node, rp, prev, c.gen))
            step_node(&c, node, rp, prev);
    }
    drop_orphans(nodes, rpods, p);
    json_object_set_new(p->status, "nodeStatuses", c.statuses);
    json_object_set_new(p->status, "observedGeneration", json_integer(c.gen));
    summarise(p->status, c.statuses);
}

void rdjob_plan_free(struct rdjob_plan *p)
{
    json_decref(p->status);
    json_decref(p->create);
    json_decref(p->delete);
    ctl_events_free(&p->events);
    p->status = p->create = p->delete = NULL;
}
