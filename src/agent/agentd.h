/* The running agent: options, clients, informers, and the work each key stands for. */
#ifndef REAPER_AGENTD_H
#define REAPER_AGENTD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "agent.h"
#include "config.h"
#include "kube_informer.h"
#include "kube_client.h"
#include "workqueue.h"

/* The label the RuntimeClass's nodeSelector selects (deploy/node/runtimeclass.yaml). */
#define DEFAULT_NODE_LABEL "reaper.io/runtime=ready"

struct agent_opts {
    const char *kubeconfig;
    const char *node_name;
    const char *listen;  /* "ADDR:PORT" */
    const char *bin_dir; /* where the node binaries are (host path as mounted) */
    const char *containerd_config;
    const char *runtime_name;     /* containerd runtime handler, "reaper-v2" */
    const char *config_path;      /* the node's reaper.conf */
    const char *config_namespace; /* ConfigMap namespace */
    const char *config_map;       /* ConfigMap name ("" disables config sync) */
    const char *proc;             /* procfs, "/proc" */
    const char *node_label;       /* --node-label KEY=VALUE as given ("" for none) */
    char *node_label_key;         /* parsed from it: set while ReaperReady is True; NULL: none */
    const char *node_label_value;
    const char *checkpoint_root; /* ReaperCheckpoint destinations must be under it */
    const char *pod_log_dir;     /* kubelet's CRI logs, "/var/log/pods" */
    unsigned resync_s;           /* periodic GC and condition heartbeat */
    unsigned gc_grace_s;         /* a stale state must be this old */
    unsigned request_timeout_s;  /* limit of one API request (not a watch); 0: the default */
    bool standalone;             /* no API server: metrics, health and GC only */
    bool once;                   /* check the node, write condition and label, exit */
    bool remove_label;           /* remove the node label and exit (the node uninstaller) */
};

struct agent {
    struct agent_opts o;
    struct reaper_config cfg;
    struct kube_client *client; /* NULL when standalone */
    struct workqueue *queue;
    struct kube_informer *overlays, *namespaces, *configmaps, *checkpoints, *pods;
    pthread_t sync_thread; /* joined before the informers it waits on are freed */
    bool sync_started;
    struct agent_counters counters;
    json_t *last_condition; /* last ReaperReady written (worker thread only) */
    uint64_t last_heartbeat_ns;
    json_t *ckpt_unwritten; /* uid → final status the API server has not taken yet (worker) */
};

/* Work keys. */
#define KEY_GC         "gc"
#define KEY_CONDITION  "condition"
#define KEY_CONFIG     "config"
#define KEY_OVERLAY    "rovl/"  /* + ns/name */
#define KEY_CHECKPOINT "rckpt/" /* + ns/name */

_must_check_ int agent_gc(struct agent *a, rerr **err);
_must_check_ int agent_overlay_reconcile(struct agent *a, const char *ns, const char *name,
                                         rerr **err);
_must_check_ int agent_checkpoint_reconcile(struct agent *a, const char *ns, const char *name,
                                            rerr **err);
/* Queue the unfinished ReaperCheckpoints that name this pod (its status changed). */
void agent_checkpoints_for_pod(struct agent *a, const json_t *pod);
_must_check_ int agent_condition(struct agent *a, rerr **err);
/* Remove the node label (absent already: nothing to do), so that no Reaper pod is scheduled to
 * a node whose runtime is being uninstalled. */
_must_check_ int agent_remove_label(struct agent *a, rerr **err);
_must_check_ int agent_config_sync(struct agent *a, rerr **err);

/* HTTP: /healthz, /readyz, /metrics only. */
struct http_server;
struct http_server *http_start(struct agent *a, const char *listen, rerr **err);
void http_stop(struct http_server *h);

#endif
