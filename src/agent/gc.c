/* Garbage collection: runtime state left by crashed shims, overlays of deleted namespaces.
 * The decisions are agent_pure.c's; this file only acts on them. */
#include <stdlib.h>

#include "agentd.h"
#include "cleanup.h"
#include "container.h"
#include "log.h"
#include "overlay.h"
#include "scan.h"
#include "util.h"

static void gc_states(struct agent *a, const struct node_snapshot *s)
{
    for (size_t i = 0; i < s->n_workloads; i++) {
        const struct workload_info *w = &s->workloads[i];
        if (!gc_state_is_stale(w, a->o.gc_grace_s))
            continue;
        rerr *e = NULL;
        _cleanup_free_ char *dir = state_dir(a->cfg.runtime_root, w->id);
        int r = w->unreadable ? rm_rf(dir, &e) : container_delete(&a->cfg, w->id, false, &e);
        if (r < 0) {
            log_warn("gc: state %s: %s", w->id, rerr_msg(e));
            agent_counters_error(&a->counters, COMP_GC);
        } else {
            log_info("gc: removed stale state %s (process gone, bundle gone)", w->id);
            agent_counters_inc(&a->counters, &a->counters.gc_removed_states);
        }
        rerr_free(e);
    }
}

/* The names of the namespaces that exist (informer cache), or NULL before it has listed. */
static char **live_namespaces(struct agent *a)
{
    if (a->namespaces == NULL || !kube_informer_wait_synced(a->namespaces, 0))
        return NULL;
    json_t *all = kube_informer_list(a->namespaces);
    char **names = xcalloc(1, sizeof(char *));
    size_t i;
    json_t *ns;
    json_array_foreach(all, i, ns)
    {
        const char *n = json_string_value(json_object_get(json_object_get(ns, "metadata"), "name"));
        if (n)
            strv_push(&names, n);
    }
    json_decref(all);
    return names;
}

static void gc_overlays(struct agent *a, const struct node_snapshot *s)
{
    _cleanup_strv_ char **live = live_namespaces(a);
    if (live == NULL)
        return; /* never guess: without the namespace list nothing is an orphan */
    for (size_t i = 0; i < s->n_overlays; i++) {
        const struct overlay_info *o = &s->overlays[i];
        if (!gc_overlay_orphaned(o, live, s))
            continue;
        struct workload_identity id = {.k8s_namespace = o->k8s_namespace, .overlay_name = o->name};
        rerr *e = NULL;
        if (overlay_destroy(&a->cfg, &id, NULL, NULL, &e) < 0) {
            log_warn("gc: overlay %s: %s", o->key, rerr_msg(e));
            agent_counters_error(&a->counters, COMP_GC);
        } else {
            log_info("gc: removed overlay %s (namespace %s deleted)", o->key, o->k8s_namespace);
            agent_counters_inc(&a->counters, &a->counters.gc_removed_overlays);
        }
        rerr_free(e);
    }
}

int agent_gc(struct agent *a, rerr **err)
{
    struct node_snapshot s;
    int r = node_scan(&a->cfg, a->o.proc, SCAN_WORKLOADS | SCAN_OVERLAYS, &s, err);
    if (r < 0) {
        agent_counters_error(&a->counters, COMP_SCAN);
        return r;
    }
    gc_states(a, &s);
    gc_overlays(a, &s);
    node_snapshot_free(&s);
    agent_counters_inc(&a->counters, &a->counters.gc_runs);
    return 0;
}
