/* ReaperOverlay reconciler: finalizer, phase from the agents' node entries, reset policies. */
#include "cleanup.h"
#include "controller.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>

/* ReaperPods of the overlay ovl manages: its name as overlayName, or none for the namespace's. */
static bool uses_overlay(const json_t *rpod, const void *ovl)
{
    const char *want = reaper_overlay_target(ovl);
    const char *o = kj_str(rpod, "spec.overlayName");
    if (o && *o == '\0')
        o = NULL;
    return (want && o ? strcmp(o, want) == 0 : want == o) && !is_deleting(rpod);
}

static json_t *node_names(struct controller *c)
{
    _cleanup_json_ json_t *nodes = kube_informer_list(c->nodes);
    json_t *set = json_object();
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        json_object_set_new(set, kj_str(n, "metadata.name"), json_true());
    }
    return set;
}

/* Add or drop our finalizer on the live object (retried on conflict). */
static _must_check_ int edit_finalizer(json_t *obj, void *ud, rerr **err)
{
    bool add = *(const bool *)ud;
    if (has_finalizer(obj, OVERLAY_FINALIZER) == add)
        return 1;
    json_t *md = kj_obj(obj, "metadata");
    json_t *fin = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(md, "finalizers"), i, f)
    {
        if (!json_is_string(f) || strcmp(json_string_value(f), OVERLAY_FINALIZER) != 0)
            json_array_append(fin, f);
    }
    if (add)
        json_array_append_new(fin, json_string(OVERLAY_FINALIZER));
    json_object_set_new(md, "finalizers", fin);
    return 0;
}

static _must_check_ int set_finalizer(struct controller *c, const json_t *ovl, bool add, rerr **err)
{
    return kube_modify(c->client, &REAPER_OVERLAYS, kj_str(ovl, "metadata.namespace"),
                       kj_str(ovl, "metadata.name"), false, edit_finalizer, &add, NULL, err);
}

/* One merge patch of the annotations, guarded by resourceVersion. */
static _must_check_ int patch_annotations(struct controller *c, const json_t *ovl,
                                          const struct rovl_plan *p, rerr **err)
{
    json_t *ann = json_object();
    if (p->reset_request >= 0) {
        _cleanup_free_ char *v = xasprintf("%lld", p->reset_request);
        json_object_set_new(ann, ANN_RESET_REQUEST, json_string(v));
    }
    if (p->in_use >= 0)
        json_object_set_new(ann, ANN_IN_USE, p->in_use ? json_string("true") : json_null());
    _cleanup_json_ json_t *patch =
        json_pack("{s:{s:o,s:s?}}", "metadata", "annotations", ann, "resourceVersion",
                  kj_str(ovl, "metadata.resourceVersion"));
    return kube_patch(c->client, &REAPER_OVERLAYS, kj_str(ovl, "metadata.namespace"),
                      kj_str(ovl, "metadata.name"), NULL, KUBE_PATCH_MERGE, patch, NULL, err);
}

static _must_check_ int mark_rpods(struct controller *c, const char *ns, const json_t *names,
                                   rerr **err)
{
    _cleanup_json_ json_t *patch =
        json_pack("{s:{s:{s:s}}}", "metadata", "annotations", ANN_RESET_REQUESTED_BY, "true");
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        int r = kube_patch(c->client, &REAPER_PODS, ns, json_string_value(n), NULL,
                           KUBE_PATCH_MERGE, patch, NULL, err);
        if (r < 0 && r != -ENOENT)
            return r;
    }
    return 0;
}

/* The rpod cache may not show our mark yet: re-read each candidate so that one failure
 * requests exactly one reset (a crash between the bump and the mark can still double it). */
static _must_check_ int drop_marked(struct controller *c, const char *ns, struct rovl_plan *p,
                                    rerr **err)
{
    json_t *fresh = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(p->mark_rpods, i, n)
    {
        _cleanup_json_ json_t *rp = NULL;
        int r = kube_get(c->client, &REAPER_PODS, ns, json_string_value(n), &rp, err);
        if (r == -ENOENT) {
            rerr_free(*err);
            *err = NULL;
            continue;
        }
        if (r < 0) {
            json_decref(fresh);
            return r;
        }
        if (!kj_annotation(rp, ANN_RESET_REQUESTED_BY))
            json_array_append(fresh, n);
    }
    if (json_array_size(p->mark_rpods) > 0 && json_array_size(fresh) == 0)
        p->reset_request = -1;
    json_decref(p->mark_rpods);
    p->mark_rpods = fresh;
    return 0;
}

static _must_check_ int apply_policy(struct controller *c, const json_t *ovl, struct rovl_plan *p,
                                     rerr **err)
{
    int r = drop_marked(c, kj_str(ovl, "metadata.namespace"), p, err);
    if (r < 0 || (p->reset_request < 0 && p->in_use < 0))
        return r;
    r = patch_annotations(c, ovl, p, err);
    if (r < 0)
        return r;
    if (p->reset_request >= 0)
        kube_event(c->recorder, ovl, "Normal", "ResetRequested",
                   "resetPolicy %s: requested reset %lld on every node",
                   kj_str(ovl, "spec.resetPolicy"), p->reset_request);
    /* The annotation change brings a new event; status is written on that pass. */
    return mark_rpods(c, kj_str(ovl, "metadata.namespace"), p->mark_rpods, err);
}

int reconcile_reaperoverlay(struct controller *c, const char *ns, const char *name, rerr **err)
{
    _cleanup_json_ json_t *ovl = kube_informer_get(c->overlays, ns, name);
    if (ovl == NULL)
        return 0;
    _cleanup_json_ json_t *rpods = cache_select(c->rpods, ns, uses_overlay, ovl);
    _cleanup_json_ json_t *nodes = node_names(c);
    struct rovl_plan p;
    rovl_plan(ovl, rpods, nodes, &p);
    int r = 0;
    if (p.add_finalizer)
        r = set_finalizer(c, ovl, true, err); /* the update event brings us back */
    else if (p.reset_request >= 0 || p.in_use >= 0)
        r = apply_policy(c, ovl, &p, err);
    else if (p.remove_finalizer) {
        r = set_finalizer(c, ovl, false, err);
        if (r >= 0)
            log_info("overlay %s/%s: every node removed its data; finalizer dropped", ns, name);
    } else
        r = update_status(c, &REAPER_OVERLAYS, ovl, json_incref(p.status), err);
    rovl_plan_free(&p);
    return r < 0 ? r : 0;
}
