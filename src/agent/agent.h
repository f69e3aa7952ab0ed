/* reaper-agent: what it observes on its node, its counters, and the pure decisions over them
 * (agent_pure.c, unit-tested). The I/O lives in scan.c, overlays.c, node_condition.c,
 * config_sync.c, http.c and main.c. docs/agent.md describes the behaviour. */
#ifndef REAPER_AGENT_H
#define REAPER_AGENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "checkpoint.h"
#include "err.h"
#include "reset_mark.h"
#include "state.h"

/* One runtime state directory. */
struct workload_info {
    char *id;
    char *k8s_namespace;
    char *overlay_name; /* NULL: the namespace's overlay */
    char *overlay_key;  /* overlay_paths key: what "uses the same overlay" compares */
    bool sandbox;
    bool unreadable; /* state.json missing or corrupt */
    enum container_status status;
    bool bundle_exists;
    int64_t age_s; /* since the state dir was last modified */
};

/* One overlay on disk (<overlay_base>/<key>[/<name>]/upper). */
struct overlay_info {
    char *key; /* overlay_paths key */
    char *k8s_namespace;
    char *name; /* NULL: the namespace's overlay */
    uint64_t upper_bytes;
    bool pinned;
};

struct shim_info {
    pid_t pid;
    uint64_t rss_bytes;
};

struct node_snapshot {
    struct workload_info *workloads;
    size_t n_workloads;
    struct overlay_info *overlays;
    size_t n_overlays;
    struct shim_info *shims;
    size_t n_shims;
    /* The file system of the overlay base, where every upper layer writes (with SCAN_SIZES). */
    bool has_overlay_fs;
    uint64_t overlay_fs_size, overlay_fs_free;
};
void node_snapshot_free(struct node_snapshot *s);

enum agent_component {
    COMP_GC,
    COMP_OVERLAY,
    COMP_CONDITION,
    COMP_CONFIG,
    COMP_SCAN,
    COMP_CHECKPOINT,
    COMP_COUNT,
};

enum overlay_op { OVL_RESET, OVL_DELETE, OVL_OP_COUNT };
enum op_result { RES_OK, RES_REFUSED, RES_ERROR, RES_COUNT };
enum ckpt_result { CKR_SUCCEEDED, CKR_FAILED, CKR_COUNT };

/* What the agent has done; guarded by mu (the HTTP thread reads, the worker writes). */
struct agent_counters {
    pthread_mutex_t mu;
    uint64_t gc_runs;
    uint64_t gc_removed_states;
    uint64_t gc_removed_overlays;
    uint64_t overlay_ops[OVL_OP_COUNT][RES_COUNT];
    uint64_t config_syncs;
    double last_error[COMP_COUNT]; /* unix seconds; 0 = never */
    uint64_t checkpoints[CKR_COUNT];
    int node_ready; /* -1 unknown, 0, 1 */
    /* The last criu_probe (owned strings). */
    bool criu_probed;
    bool criu_works;
    char *criu_version, *criu_path;
    bool synced; /* informers listed: /readyz */
};
void agent_counters_error(struct agent_counters *c, enum agent_component comp);
/* ++*field under c->mu (field points into c). */
void agent_counters_inc(struct agent_counters *c, uint64_t *field);

/* Prometheus text exposition (version 0.0.4) of a snapshot and the counters (caller holds
 * c->mu or owns c). */
char *metrics_render(const struct node_snapshot *s, const struct agent_counters *c,
                     const char *version);

/* Stale: its process is gone, containerd no longer has its bundle, and it has been so for at
 * least grace_s. Never a live workload, never one containerd may still delete itself. */
bool gc_state_is_stale(const struct workload_info *w, int64_t grace_s);
/* Live (not stopped) workloads whose overlay key is key; ids appended to *ids if non-NULL. */
size_t overlay_users(const struct node_snapshot *s, const char *key, char ***ids);
/* An overlay whose Kubernetes namespace no longer exists (namespaces: the live ones) and that
 * no live workload uses. Node-mode overlays ("_node") are never orphans. */
bool gc_overlay_orphaned(const struct overlay_info *o, char *const *namespaces,
                         const struct node_snapshot *s);

/* ReaperOverlay (docs/controller.md, "the controller ↔ agent contract"). */
enum overlay_action { OVA_NONE, OVA_REGISTER, OVA_RESET, OVA_DELETE };
enum overlay_action overlay_action(const json_t *obj, const char *node);
/* The reset obj asks for: its uid, spec.resetGeneration and reaper.io/reset-request. */
void overlay_reset_wanted(const json_t *obj, struct reset_mark *out);
/* This node's status.nodes[] entry after an action (result RES_OK, RES_REFUSED or RES_ERROR,
 * with message for the latter two). applied: the reset values the action was decided on (NULL:
 * obj's own). now: RFC 3339. Caller owns the result. */
json_t *overlay_entry(const json_t *obj, const char *node, enum overlay_action a,
                      const struct reset_mark *applied, enum op_result result, const char *message,
                      const char *now);
/* Put entry into obj's status.nodes[] (replacing this node's). Returns 1 if nothing changed. */
_must_check_ int overlay_upsert_entry(json_t *obj, const json_t *entry);

/* Node condition ReaperReady from the three checks. */
struct node_checks {
    const char *binaries_error; /* NULL: present and runnable */
    const char *runtime_error;  /* NULL: containerd has the runtime registered */
    const char *state_error;    /* NULL: state dir writable */
    const char *criu;           /* informational (criu_info.message), never makes it False */
};
/* The condition object (type, status, reason, message, lastHeartbeatTime, lastTransitionTime);
 * lastTransitionTime is kept from prev when the status did not change. */
json_t *node_condition(const struct node_checks *c, const json_t *prev, const char *now);
/* Replace/insert the ReaperReady condition in a Node's status.conditions. 1 if unchanged. */
_must_check_ int node_upsert_condition(json_t *node, const json_t *cond);

/* Record a criu_probe result in the counters (under c->mu). */
void agent_counters_set_criu(struct agent_counters *c, const struct criu_info *info);

/* ---- ReaperCheckpoint (docs/checkpoint.md) ---- */

/* What this node does with a ReaperCheckpoint as the API server has it now. pod_here: its pod
 * is on this node. START: unclaimed, run it. RESUME: dumped here, waiting for the container's
 * exit to copy its log. ABANDONED: claimed here while dumping but no dump is in progress (the
 * agent restarted in the middle): never re-run. */
enum ckpt_action { CKA_NONE, CKA_START, CKA_RESUME, CKA_ABANDONED };
enum ckpt_action checkpoint_action(const json_t *obj, const char *node, bool pod_here);

/* status.reason values the agent writes. */
#define CKPT_DUMPING          "Dumping"
#define CKPT_WAITING_FOR_EXIT "WaitingForExit"
#define CKPT_DONE             "Checkpointed"

/* "containerd://<id>" (a Pod's containerStatuses[].containerID) → the runtime id. */
_must_check_ int container_id_parse(const char *container_id, char **id, rerr **err);

/* The image directory: spec.destination, or <root>/<namespace>/<name> when unset. It must be an
 * absolute, normalised path (no "", ".", ".." components) strictly under root. */
_must_check_ int checkpoint_destination(const char *root, const json_t *obj, char **out,
                                        rerr **err);

/* spec.options (missing fields false). image_path is left to the caller. */
void checkpoint_opts_from_spec(const json_t *obj, struct checkpoint_opts *o);

/* The status of the container spec.container names in pod.status.containerStatuses (name NULL:
 * the pod's only container). Borrowed; the error names what is missing. */
_must_check_ int pod_container_status(const json_t *pod, const char *name, const json_t **status,
                                      rerr **err);
/* The container with this containerID ("containerd://...") has terminated, as the kubelet
 * reports it (state.terminated, or lastState.terminated after a restart). */
bool pod_container_exited(const json_t *pod, const char *container_id);
/* Kubelet's CRI log of a container: <root>/<ns>_<pod>_<uid>/<container>/<restartCount>.log. */
char *pod_log_path(const char *log_root, const json_t *pod, const char *container,
                   long long restart_count);

/* A status change; NULL strings and negative numbers leave the field as it is. */
struct ckpt_status {
    const char *phase, *reason;
    const char *message; /* NULL: removed */
    const char *node, *container_id, *image_path, *log_path, *criu_version;
    long long size_bytes, duration_ms, log_lines;
};
/* Apply s to obj.status: startTime when it first runs, completionTime when it ends,
 * observedGeneration from metadata.generation. now: RFC 3339. */
void checkpoint_status_apply(json_t *obj, const struct ckpt_status *s, const char *now);

/* The ConfigMap's reaper.conf, or NULL if the object has none. */
const char *config_map_reaper_conf(const json_t *cm);

#endif
