/* The resources Reaper's controller and agent talk about. */
#include "kube_client.h"
#include "kjson.h"

#include <string.h>

const struct kube_resource KUBE_PODS = {"v1", "Pod", "pods", true};
const struct kube_resource KUBE_NODES = {"v1", "Node", "nodes", false};
const struct kube_resource KUBE_EVENTS = {"v1", "Event", "events", true};
const struct kube_resource KUBE_NAMESPACES = {"v1", "Namespace", "namespaces", false};
const struct kube_resource KUBE_CONFIGMAPS = {"v1", "ConfigMap", "configmaps", true};
const struct kube_resource KUBE_LEASES = {"coordination.k8s.io/v1", "Lease", "leases", true};
const struct kube_resource REAPER_PODS = {"reaper.io/v1alpha1", "ReaperPod", "reaperpods", true};
const struct kube_resource REAPER_OVERLAYS = {"reaper.io/v1alpha1", "ReaperOverlay",
                                              "reaperoverlays", true};
const struct kube_resource REAPER_DAEMONJOBS = {"reaper.io/v1alpha1", "ReaperDaemonJob",
                                                "reaperdaemonjobs", true};
const struct kube_resource REAPER_CHECKPOINTS = {"reaper.io/v1alpha1", "ReaperCheckpoint",
                                                 "reapercheckpoints", true};

const char *reaper_overlay_target(const json_t *ovl)
{
    const char *target = kj_str(ovl, "spec.target");
    if (target && strcmp(target, "Namespace") == 0)
        return NULL;
    return kj_str(ovl, "metadata.name");
}
