/* Informer handlers: map every change to the queue keys it affects (never reconcile here). */
#include "cleanup.h"
#include "controller.h"
#include "kjson.h"
#include "util.h"

#include <string.h>

static const char *owner_of_kind(const json_t *obj, const char *kind)
{
    size_t i;
    json_t *ref;
    json_array_foreach(kj_get(obj, "metadata.ownerReferences"), i, ref)
    {
        const char *k = kj_str(ref, "kind");
        if (k && strcmp(k, kind) == 0 && kj_bool(ref, "controller", false))
            return kj_str(ref, "name");
    }
    return NULL;
}

static const char *ns_of(const json_t *obj)
{
    return kj_str(obj, "metadata.namespace");
}

static void pod_changed(struct controller *c, const json_t *pod)
{
    controller_enqueue(c, KEY_RPOD, ns_of(pod), owner_of_kind(pod, "ReaperPod"));
}

/* Every cached object of inf in ns (NULL: all) whose string at path equals value (NULL: any). */
static void enqueue_matching(struct controller *c, struct kube_informer *inf, const char *kind,
                             const char *ns, const char *path, const char *value)
{
    _cleanup_json_ json_t *all = kube_informer_list(inf);
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const char *ons = ns_of(o);
        if (ns && (ons == NULL || strcmp(ons, ns) != 0))
            continue;
        const char *v = path ? kj_str(o, path) : NULL;
        if (value == NULL || (v && strcmp(v, value) == 0))
            controller_enqueue(c, kind, ons, kj_str(o, "metadata.name"));
    }
}

static void rpod_changed(struct controller *c, const json_t *rp)
{
    controller_enqueue(c, KEY_RPOD, ns_of(rp), kj_str(rp, "metadata.name"));
    controller_enqueue(c, KEY_RDJOB, ns_of(rp), owner_of_kind(rp, "ReaperDaemonJob"));
    const char *overlay = kj_str(rp, "spec.overlayName");
    if (overlay && *overlay)
        controller_enqueue(c, KEY_ROVL, ns_of(rp), overlay);
    else /* the namespace overlay: the ReaperOverlays that target it */
        enqueue_matching(c, c->overlays, KEY_ROVL, ns_of(rp), "spec.target", "Namespace");
}

static void overlay_changed(struct controller *c, const json_t *ovl)
{
    controller_enqueue(c, KEY_ROVL, ns_of(ovl), kj_str(ovl, "metadata.name"));
    const char *named = reaper_overlay_target(ovl); /* ReaperPods gate on named overlays only */
    if (named)
        enqueue_matching(c, c->rpods, KEY_RPOD, ns_of(ovl), "spec.overlayName", named);
}

static void job_changed(struct controller *c, const json_t *job)
{
    const char *name = kj_str(job, "metadata.name");
    controller_enqueue(c, KEY_RDJOB, ns_of(job), name);
    /* Jobs that wait for this one (`after`). */
    _cleanup_json_ json_t *all = kube_informer_list(c->jobs);
    size_t i, j;
    json_t *o, *dep;
    json_array_foreach(all, i, o)
    {
        json_array_foreach(kj_get(o, "spec.after"), j, dep)
        {
            if (json_is_string(dep) && strcmp(json_string_value(dep), name) == 0 &&
                strcmp(ns_of(o) ? ns_of(o) : "", ns_of(job) ? ns_of(job) : "") == 0)
                controller_enqueue(c, KEY_RDJOB, ns_of(o), kj_str(o, "metadata.name"));
        }
    }
}

static void node_changed(struct controller *c, const json_t *node)
{
    enqueue_matching(c, c->jobs, KEY_RDJOB, NULL, NULL, NULL);
    enqueue_matching(c, c->overlays, KEY_ROVL, NULL, NULL, NULL);
}

/* Node status heartbeats change nothing we use: only readiness, labels and taints matter. */
static bool node_relevant_change(const json_t *a, const json_t *b)
{
    return node_is_ready(a) != node_is_ready(b) ||
           !json_equal(kj_get(a, "metadata.labels"), kj_get(b, "metadata.labels")) ||
           !json_equal(kj_get(a, "spec.taints"), kj_get(b, "spec.taints"));
}

static void dispatch(struct controller *c, const struct kube_resource *r, const json_t *obj)
{
    if (r == &KUBE_PODS)
        pod_changed(c, obj);
    else if (r == &REAPER_PODS)
        rpod_changed(c, obj);
    else if (r == &REAPER_OVERLAYS)
        overlay_changed(c, obj);
    else if (r == &REAPER_DAEMONJOBS)
        job_changed(c, obj);
    else if (r == &KUBE_NODES)
        node_changed(c, obj);
}

static void on_add(void *ud, const json_t *obj)
{
    struct controller_handler_ctx *h = ud;
    dispatch(h->c, h->r, obj);
}

static void on_update(void *ud, const json_t *oldo, const json_t *newo)
{
    struct controller_handler_ctx *h = ud;
    if (h->r == &KUBE_NODES && !node_relevant_change(oldo, newo))
        return;
    dispatch(h->c, h->r, newo);
}

static void on_delete(void *ud, const json_t *obj)
{
    struct controller_handler_ctx *h = ud;
    dispatch(h->c, h->r, obj);
}

struct kube_handlers controller_handlers(struct controller_handler_ctx *h)
{
    return (struct kube_handlers){on_add, on_update, on_delete, h};
}
