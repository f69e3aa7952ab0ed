/* Pure reconcile logic: desired objects and new status from a resource and the observed state.
 * No I/O here; the reconcilers (reaperpod.c, reaperoverlay.c, reaperdaemonjob.c) apply the result.
 * Every json_t returned is a new reference owned by the caller. */
#ifndef REAPER_RECONCILE_H
#define REAPER_RECONCILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define LABEL_REAPERPOD        "reaper.io/reaperpod"
#define ANN_DNS_MODE           "reaper.runtime/dns-mode"
#define ANN_OVERLAY_NAME       "reaper.runtime/overlay-name"
#define OVERLAY_FINALIZER      "reaper.io/overlay-cleanup"
#define ANN_RESET_REQUEST      "reaper.io/reset-request"
#define ANN_IN_USE             "reaper.io/in-use"
#define ANN_RESET_REQUESTED_BY "reaper.io/overlay-reset-requested"
#define ANN_JOB_GENERATION     "reaper.io/job-generation"
#define ANN_RETRY              "reaper.io/retry"

/* ---- shared helpers (ctl_common.c) ---- */
/* ownerReference {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}. */
json_t *owner_reference(const json_t *owner);
/* True if obj has a controller ownerReference with the owner's uid. */
bool is_owned_by(const json_t *obj, const json_t *owner);
/* A label value (≤ 63 bytes): s itself when short enough, else a truncated prefix + hash. */
char *label_value(const char *s);
/* "<a>-<b>" lower-cased, as a DNS label (≤ 63): truncated + 8 hex FNV-1a when too long. */
char *join_name(const char *a, const char *b);
/* Integer annotation (decimal), def when missing or malformed. */
long long ann_int(const json_t *obj, const char *key, long long def);
bool has_finalizer(const json_t *obj, const char *f);
bool is_deleting(const json_t *obj);

/* An Event the reconciler should record. */
struct ctl_event {
    const char *type; /* Normal / Warning */
    const char *reason;
    char *message;
};
struct ctl_events {
    struct ctl_event *v;
    size_t n;
};
void ctl_events_add(struct ctl_events *e, const char *type, const char *reason, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
void ctl_events_free(struct ctl_events *e);

/* ---- ReaperPod (reaperpod_pure.c) ---- */
struct rpod_opts {
    const char *runtime_class;
    const char *image;
};
json_t *rpod_desired_pod(const json_t *rpod, const struct rpod_opts *o);
json_t *rpod_status_from_pod(const json_t *pod);
enum rpod_gate { RPOD_GATE_OPEN, RPOD_GATE_NO_OVERLAY, RPOD_GATE_OVERLAY_NOT_READY };
/* overlay: the ReaperOverlay named by spec.overlayName in the same namespace, or NULL. */
enum rpod_gate rpod_overlay_gate(const json_t *rpod, const json_t *overlay);
json_t *rpod_waiting_status(const json_t *rpod, enum rpod_gate g, const json_t *overlay);

/* ---- ReaperOverlay (reaperoverlay_pure.c) ---- */
struct rovl_plan {
    json_t *status; /* desired status */
    bool add_finalizer;
    bool remove_finalizer;
    long long reset_request; /* new reaper.io/reset-request value, or -1: unchanged */
    int in_use;              /* 1 set, 0 remove, -1 unchanged */
    json_t *mark_rpods;      /* names of failed ReaperPods to mark as having requested a reset */
};
/* rpods: ReaperPods of the namespace that reference this overlay; nodes: object whose keys are
 * the names of existing Nodes (NULL: do not prune). */
void rovl_plan(const json_t *ovl, const json_t *rpods, const json_t *nodes, struct rovl_plan *p);
void rovl_plan_free(struct rovl_plan *p);
const char *rovl_phase(const json_t *ovl, const json_t *node_entries);

/* ---- ReaperDaemonJob (reaperdaemonjob_pure.c) ---- */
struct rdjob_plan {
    json_t *status;
    json_t *create; /* ReaperPod objects to create */
    json_t *delete; /* names of ReaperPods to delete */
    struct ctl_events events;
};
bool node_is_ready(const json_t *node);
bool node_matches(const json_t *spec, const json_t *node); /* nodeSelector + tolerations */
/* jobs: every ReaperDaemonJob of the namespace (for `after`); rpods: those the job owns. */
void rdjob_plan(const json_t *job, const json_t *nodes, const json_t *rpods, const json_t *jobs,
                struct rdjob_plan *p);
void rdjob_plan_free(struct rdjob_plan *p);
json_t *rdjob_desired_rpod(const json_t *job, const char *node, long long gen, long long retry);

#endif
