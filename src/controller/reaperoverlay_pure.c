/* ReaperOverlay: overall phase from the agents' per-node entries, reset policies, finalizer. */
#include "cleanup.h"
#include "kjson.h"
#include "reconcile.h"
#include "util.h"

#include <string.h>

static bool entry_behind(const json_t *ovl, const json_t *e)
{
    long long gen = kj_int(ovl, "spec.resetGeneration", 0);
    long long req = ann_int(ovl, ANN_RESET_REQUEST, 0);
    return kj_int(e, "observedResetGeneration", 0) < gen ||
           kj_int(e, "observedResetRequest", 0) < req;
}

const char *rovl_phase(const json_t *ovl, const json_t *entries)
{
    size_t i;
    json_t *e;
    bool behind = false, not_ready = json_array_size(entries) == 0;
    json_array_foreach(entries, i, e)
    {
        const char *err = kj_str(e, "error");
        if (err && *err)
            return "Failed";
        behind |= entry_behind(ovl, e);
        not_ready |= !kj_bool(e, "ready", false);
    }
    if (behind)
        return "Resetting";
    return not_ready ? "Pending" : "Ready";
}

/* Entries of nodes that still exist (all of them when nodes is NULL). */
static json_t *live_entries(const json_t *ovl, const json_t *nodes)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(kj_get(ovl, "status.nodes"), i, e)
    {
        const char *n = kj_str(e, "nodeName");
        if (nodes == NULL || (n && json_object_get(nodes, n)))
            json_array_append(out, e);
    }
    return out;
}

static bool all_reached(const json_t *entries, const char *field, long long target)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (kj_int(e, field, 0) < target)
            return false;
    }
    return json_array_size(entries) > 0;
}

static size_t count_not_removed(const json_t *entries)
{
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        n += !kj_bool(e, "removed", false);
    }
    return n;
}

static void set_observed(json_t *st, const json_t *ovl, const json_t *entries)
{
    long long gen = kj_int(ovl, "spec.resetGeneration", 0);
    long long req = ann_int(ovl, ANN_RESET_REQUEST, 0);
    json_object_set_new(st, "observedResetGeneration",
                        json_integer(all_reached(entries, "observedResetGeneration", gen)
                                         ? gen
                                         : kj_int(ovl, "status.observedResetGeneration", 0)));
    json_object_set_new(st, "observedResetRequest",
                        json_integer(all_reached(entries, "observedResetRequest", req)
                                         ? req
                                         : kj_int(ovl, "status.observedResetRequest", 0)));
}

static json_t *desired_status(const json_t *ovl, json_t *entries)
{
    const char *phase = rovl_phase(ovl, entries);
    json_t *st = json_pack("{s:s,s:O}", "phase", phase, "nodes", entries);
    set_observed(st, ovl, entries);
    _cleanup_free_ char *msg = NULL;
    if (is_deleting(ovl))
        msg = xasprintf("deleting: waiting for %zu node(s) to remove overlay data",
                        count_not_removed(entries));
    else if (json_array_size(entries) == 0)
        msg = xstrdup("waiting for a node agent to report");
    else
        msg = xasprintf("%s on %zu node(s)", phase, json_array_size(entries));
    json_object_set_new(st, "message", json_string(msg));
    return st;
}

/* OnFailure: failed ReaperPods that have not requested a reset yet. */
static void plan_on_failure(const json_t *rpods, struct rovl_plan *p)
{
    size_t i;
    json_t *rp;
    json_array_foreach(rpods, i, rp)
    {
        const char *phase = kj_str(rp, "status.phase");
        if (phase && strcmp(phase, "Failed") == 0 && !kj_annotation(rp, ANN_RESET_REQUESTED_BY))
            json_array_append_new(p->mark_rpods, json_string(kj_str(rp, "metadata.name")));
    }
}

static void plan_policy(const json_t *ovl, const json_t *rpods, struct rovl_plan *p)
{
    const char *policy = kj_str(ovl, "spec.resetPolicy");
    long long req = ann_int(ovl, ANN_RESET_REQUEST, 0);
    if (policy && strcmp(policy, "OnFailure") == 0) {
        plan_on_failure(rpods, p);
        if (json_array_size(p->mark_rpods) > 0)
            p->reset_request = req + 1;
    } else if (policy && strcmp(policy, "OnDelete") == 0) {
        bool used = kj_annotation(ovl, ANN_IN_USE) != NULL;
        if (json_array_size(rpods) > 0 && !used)
            p->in_use = 1;
        else if (json_array_size(rpods) == 0 && used) {
            p->in_use = 0;
            p->reset_request = req + 1;
        }
    }
}

void rovl_plan(const json_t *ovl, const json_t *rpods, const json_t *nodes, struct rovl_plan *p)
{
    *p = (struct rovl_plan){.reset_request = -1, .in_use = -1, .mark_rpods = json_array()};
    json_t *entries = live_entries(ovl, nodes);
    p->status = desired_status(ovl, entries);
    if (is_deleting(ovl)) {
        p->remove_finalizer =
            has_finalizer(ovl, OVERLAY_FINALIZER) && count_not_removed(entries) == 0;
    } else {
        p->add_finalizer = !has_finalizer(ovl, OVERLAY_FINALIZER);
        plan_policy(ovl, rpods, p);
    }
    json_decref(entries);
}

void rovl_plan_free(struct rovl_plan *p)
{
    json_decref(p->status);
    json_decref(p->mark_rpods);
    p->status = p->mark_rpods = NULL;
}
