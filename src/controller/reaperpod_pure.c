/* ReaperPod → Pod translation and Pod → ReaperPod status mirroring. */
#include "cleanup.h"
#include "kjson.h"
#include "reconcile.h"
#include "util.h"

#include <string.h>

static void copy_if(json_t *dst, const char *dkey, const json_t *src, const char *skey)
{
    json_t *v = json_object_get(src, skey);
    if (v && !json_is_null(v))
        json_object_set(dst, dkey, v);
}

/* Simplified volumes → Pod volumes + container volumeMounts. */
static void add_volumes(const json_t *spec, json_t *podspec, json_t *container)
{
    json_t *vols = json_array(), *mounts = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        const char *name = kj_str(v, "name");
        json_t *pv = json_pack("{s:s}", "name", name ? name : "");
        if (kj_str(v, "configMap"))
            json_object_set_new(pv, "configMap",
                                json_pack("{s:s}", "name", kj_str(v, "configMap")));
        else if (kj_str(v, "secret"))
            json_object_set_new(pv, "secret",
                                json_pack("{s:s}", "secretName", kj_str(v, "secret")));
        else if (kj_str(v, "hostPath"))
            json_object_set_new(pv, "hostPath", json_pack("{s:s}", "path", kj_str(v, "hostPath")));
        else
            json_object_set_new(pv, "emptyDir", json_object());
        json_array_append_new(vols, pv);
        json_t *m =
            json_pack("{s:s,s:s?}", "name", name ? name : "", "mountPath", kj_str(v, "mountPath"));
        if (kj_bool(v, "readOnly", false))
            json_object_set_new(m, "readOnly", json_true());
        json_array_append_new(mounts, m);
    }
    if (json_array_size(vols) > 0) {
        json_object_set(podspec, "volumes", vols);
        json_object_set(container, "volumeMounts", mounts);
    }
    json_decref(vols);
    json_decref(mounts);
}

static json_t *security_context(const json_t *spec)
{
    json_t *sc = json_object();
    copy_if(sc, "runAsUser", spec, "runAsUser");
    copy_if(sc, "runAsGroup", spec, "runAsGroup");
    copy_if(sc, "supplementalGroups", spec, "supplementalGroups");
    return sc;
}

static json_t *pod_metadata(const json_t *rpod)
{
    const char *name = kj_str(rpod, "metadata.name");
    const json_t *spec = json_object_get(rpod, "spec");
    json_t *labels = json_deep_copy(kj_get(rpod, "metadata.labels"));
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    _cleanup_free_ char *lv = label_value(name);
    json_object_set_new(labels, LABEL_REAPERPOD, json_string(lv));
    json_t *ann = json_object();
    if (kj_str(spec, "dnsMode"))
        json_object_set_new(ann, ANN_DNS_MODE, json_string(kj_str(spec, "dnsMode")));
    if (kj_str(spec, "overlayName"))
        json_object_set_new(ann, ANN_OVERLAY_NAME, json_string(kj_str(spec, "overlayName")));
    return json_pack("{s:s,s:s?,s:o,s:o,s:[o]}", "name", name, "namespace",
                     kj_str(rpod, "metadata.namespace"), "labels", labels, "annotations", ann,
                     "ownerReferences", owner_reference(rpod));
}

json_t *rpod_desired_pod(const json_t *rpod, const struct rpod_opts *o)
{
    const json_t *spec = json_object_get(rpod, "spec");
    json_t *c = json_pack("{s:s,s:s,s:s}", "name", "main", "image", o->image, "imagePullPolicy",
                          "IfNotPresent");
    copy_if(c, "command", spec, "command");
    copy_if(c, "args", spec, "args");
    copy_if(c, "env", spec, "env");
    copy_if(c, "workingDir", spec, "workingDir");
    const char *restart = kj_str(spec, "restartPolicy");
    json_t *ps = json_pack("{s:s,s:s,s:b}", "runtimeClassName", o->runtime_class, "restartPolicy",
                           restart ? restart : "Never", "enableServiceLinks", 0);
    copy_if(ps, "nodeName", spec, "nodeName");
    copy_if(ps, "nodeSelector", spec, "nodeSelector");
    copy_if(ps, "tolerations", spec, "tolerations");
    json_t *sc = security_context(spec);
    if (json_object_size(sc) > 0)
        json_object_set(ps, "securityContext", sc);
    json_decref(sc);
    add_volumes(spec, ps, c);
    json_object_set_new(ps, "containers", json_pack("[o]", c));
    return json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                     pod_metadata(rpod), "spec", ps);
}

/* The first container's terminated state, if any. */
static const json_t *terminated_state(const json_t *pod)
{
    json_t *cs = json_array_get(kj_get(pod, "status.containerStatuses"), 0);
    return kj_get(cs, "state.terminated");
}

json_t *rpod_status_from_pod(const json_t *pod)
{
    const char *phase = kj_str(pod, "status.phase");
    json_t *st = json_pack("{s:s,s:s?}", "phase", phase ? phase : "Pending", "podName",
                           kj_str(pod, "metadata.name"));
    copy_if(st, "nodeName", kj_get(pod, "spec"), "nodeName");
    copy_if(st, "startTime", kj_get(pod, "status"), "startTime");
    const json_t *term = terminated_state(pod);
    if (term) {
        copy_if(st, "exitCode", term, "exitCode");
        copy_if(st, "completionTime", term, "finishedAt");
    }
    const char *msg = kj_str(pod, "status.message");
    if (msg == NULL && term)
        msg = kj_str(term, "message") ? kj_str(term, "message") : kj_str(term, "reason");
    if (msg)
        json_object_set_new(st, "message", json_string(msg));
    const char *reason = kj_str(pod, "status.reason");
    if (reason)
        json_object_set_new(st, "reason", json_string(reason));
    return st;
}

enum rpod_gate rpod_overlay_gate(const json_t *rpod, const json_t *overlay)
{
    const char *name = kj_str(rpod, "spec.overlayName");
    if (name == NULL || *name == '\0')
        return RPOD_GATE_OPEN;
    if (overlay == NULL || is_deleting(overlay))
        return RPOD_GATE_NO_OVERLAY;
    const char *phase = kj_str(overlay, "status.phase");
    return phase && strcmp(phase, "Ready") == 0 ? RPOD_GATE_OPEN : RPOD_GATE_OVERLAY_NOT_READY;
}

json_t *rpod_waiting_status(const json_t *rpod, enum rpod_gate g, const json_t *overlay)
{
    const char *name = kj_str(rpod, "spec.overlayName");
    const char *phase = kj_str(overlay, "status.phase");
    _cleanup_free_ char *msg =
        g == RPOD_GATE_NO_OVERLAY ? xasprintf("waiting for ReaperOverlay %s to be created", name)
                                  : xasprintf("waiting for ReaperOverlay %s to be Ready (phase %s)",
                                              name, phase ? phase : "unknown");
    return json_pack("{s:s,s:s,s:s}", "phase", "Pending", "reason",
                     g == RPOD_GATE_NO_OVERLAY ? "OverlayNotFound" : "OverlayNotReady", "message",
                     msg);
}
