/* ReaperPod reconciler: gate on the overlay, create the Pod, mirror its status. */
#include "cleanup.h"
#include "controller.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>

/* The cache may still hold a ReaperPod that was deleted and recreated under the same name;
 * a Pod created for it would be orphaned at once. Confirm the uid with a live read first. */
static bool still_current(struct controller *c, const json_t *rpod)
{
    _cleanup_json_ json_t *live = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    if (kube_get(c->client, &REAPER_PODS, kj_str(rpod, "metadata.namespace"),
                 kj_str(rpod, "metadata.name"), &live, &e) < 0)
        return false;
    const char *a = kj_str(live, "metadata.uid"), *b = kj_str(rpod, "metadata.uid");
    return a && b && strcmp(a, b) == 0 && !is_deleting(live);
}

static _must_check_ int create_pod(struct controller *c, const json_t *rpod, rerr **err)
{
    if (!still_current(c, rpod))
        return 0; /* its replacement's events bring us back */
    _cleanup_json_ json_t *pod = rpod_desired_pod(rpod, &c->rpod_opts);
    int r = kube_create(c->client, &KUBE_PODS, kj_str(rpod, "metadata.namespace"), pod, NULL, err);
    if (r == -EEXIST) { /* the Pod informer has not seen it yet; its event brings us back */
        rerr_free(*err);
        *err = NULL;
        return 0;
    }
    if (r < 0)
        return rerr_wrap(err, "create Pod %s", kj_str(pod, "metadata.name"));
    kube_event(c->recorder, rpod, "Normal", "CreatedPod", "Created Pod %s",
               kj_str(pod, "metadata.name"));
    json_t *st =
        json_pack("{s:s,s:s?}", "phase", "Pending", "podName", kj_str(pod, "metadata.name"));
    return update_status(c, &REAPER_PODS, rpod, st, err);
}

static _must_check_ int wait_for_overlay(struct controller *c, const json_t *rpod, enum rpod_gate g,
                                         const json_t *ovl, rerr **err)
{
    json_t *st = rpod_waiting_status(rpod, g, ovl);
    if (!json_equal(st, kj_get(rpod, "status")))
        kube_event(c->recorder, rpod, "Normal", "WaitingForOverlay", "%s", kj_str(st, "message"));
    return update_status(c, &REAPER_PODS, rpod, st, err);
}

/* A Pod of our name that we do not own: the leftover of an earlier ReaperPod of the same name
 * (garbage collection is asynchronous; its deletion event brings us back) or a user's Pod. */
static _must_check_ int foreign_pod(struct controller *c, const json_t *rpod, const json_t *pod,
                                    rerr **err)
{
    bool leftover = false;
    size_t i;
    json_t *ref;
    json_array_foreach(kj_get(pod, "metadata.ownerReferences"), i, ref)
    {
        const char *kind = kj_str(ref, "kind"), *name = kj_str(ref, "name");
        leftover |= kind && name && strcmp(kind, "ReaperPod") == 0 &&
                    strcmp(name, kj_str(rpod, "metadata.name")) == 0;
    }
    json_t *st = leftover
                     ? json_pack("{s:s,s:s,s:s}", "phase", "Pending", "reason", "OldPodTerminating",
                                 "message", "waiting for the previous Pod of this name to go")
                     : json_pack("{s:s,s:s,s:s}", "phase", "Failed", "reason", "PodConflict",
                                 "message", "a Pod of this name exists and is not owned by it");
    return update_status(c, &REAPER_PODS, rpod, st, err);
}

int reconcile_reaperpod(struct controller *c, const char *ns, const char *name, rerr **err)
{
    _cleanup_json_ json_t *rpod = kube_informer_get(c->rpods, ns, name);
    if (rpod == NULL || is_deleting(rpod))
        return 0; /* the Pod goes with it (ownerReference garbage collection) */
    _cleanup_json_ json_t *pod = kube_informer_get(c->pods, ns, name);
    if (pod == NULL) {
        const char *oname = kj_str(rpod, "spec.overlayName");
        _cleanup_json_ json_t *ovl = oname ? kube_informer_get(c->overlays, ns, oname) : NULL;
        if (ovl && reaper_overlay_target(ovl) == NULL) { /* a namespace overlay's object */
            json_decref(ovl);
            ovl = NULL;
        }
        enum rpod_gate g = rpod_overlay_gate(rpod, ovl);
        if (g != RPOD_GATE_OPEN)
            return wait_for_overlay(c, rpod, g, ovl, err);
        return create_pod(c, rpod, err);
    }
    if (!is_owned_by(pod, rpod))
        return foreign_pod(c, rpod, pod, err);
    json_t *st = rpod_status_from_pod(pod);
    const char *phase = kj_str(st, "phase"), *old = kj_str(rpod, "status.phase");
    if (strcmp(phase, "Failed") == 0 && (old == NULL || strcmp(old, "Failed") != 0))
        kube_event(c->recorder, rpod, "Warning", "Failed", "Pod %s failed (exit code %lld)", name,
                   (long long)kj_int(st, "exitCode", -1));
    return update_status(c, &REAPER_PODS, rpod, st, err);
}
