/* The agent's decisions and its metrics text: pure functions over what scan.c observed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

static const char *const component_names[COMP_COUNT] = {"gc",     "overlay", "condition",
                                                        "config", "scan",    "checkpoint"};
static const char *const ckpt_result_names[CKR_COUNT] = {"succeeded", "failed"};
static const char *const op_names[OVL_OP_COUNT] = {"reset", "delete"};
static const char *const result_names[RES_COUNT] = {"ok", "refused", "error"};

void agent_counters_error(struct agent_counters *c, enum agent_component comp)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pthread_mutex_lock(&c->mu);
    c->last_error[comp] = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    pthread_mutex_unlock(&c->mu);
}

void agent_counters_inc(struct agent_counters *c, uint64_t *field)
{
    pthread_mutex_lock(&c->mu);
    (*field)++;
    pthread_mutex_unlock(&c->mu);
}

void agent_counters_set_criu(struct agent_counters *c, const struct criu_info *info)
{
    pthread_mutex_lock(&c->mu);
    free(c->criu_version);
    free(c->criu_path);
    c->criu_version = info->version ? xstrdup(info->version) : NULL;
    c->criu_path = info->path ? xstrdup(info->path) : NULL;
    c->criu_works = info->works;
    c->criu_probed = true;
    pthread_mutex_unlock(&c->mu);
}

void node_snapshot_free(struct node_snapshot *s)
{
    for (size_t i = 0; i < s->n_workloads; i++) {
        free(s->workloads[i].id);
        free(s->workloads[i].k8s_namespace);
        free(s->workloads[i].overlay_name);
        free(s->workloads[i].overlay_key);
    }
    for (size_t i = 0; i < s->n_overlays; i++) {
        free(s->overlays[i].key);
        free(s->overlays[i].k8s_namespace);
        free(s->overlays[i].name);
    }
    free(s->workloads);
    free(s->overlays);
    free(s->shims);
    memset(s, 0, sizeof(*s));
}

/* ---- metrics ---- */

/* Label value escaping of the text format: backslash, double quote, newline. */
static void put_label(FILE *f, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            fputc('\\', f);
        if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct ns_count {
    const char *ns;
    const char *state;
    unsigned n;
};

static void count(struct ns_count **v, size_t *n, const char *ns, const char *state)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].ns, ns) == 0 && strcmp((*v)[i].state, state) == 0) {
            (*v)[i].n++;
            return;
        }
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = (struct ns_count){ns, state, 1};
}

static int cmp_count(const void *a, const void *b)
{
    const struct ns_count *x = a, *y = b;
    int r = strcmp(x->ns, y->ns);
    return r ? r : strcmp(x->state, y->state);
}

/* Containers by (namespace, state); sandboxes (no process of their own) by namespace, counting
 * those not known to have stopped. */
static void render_workloads(FILE *f, const struct node_snapshot *s, bool sandboxes)
{
    _cleanup_free_ struct ns_count *v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < s->n_workloads; i++) {
        const struct workload_info *w = &s->workloads[i];
        if (w->sandbox != sandboxes || w->unreadable || (sandboxes && w->status == STATUS_STOPPED))
            continue;
        count(&v, &n, w->k8s_namespace ? w->k8s_namespace : "",
              sandboxes ? "" : container_status_name(w->status));
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_count);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s{namespace=\"", sandboxes ? "reaper_pod_sandboxes" : "reaper_workloads");
        put_label(f, v[i].ns);
        if (sandboxes)
            fprintf(f, "\"} %u\n", v[i].n);
        else
            fprintf(f, "\",state=\"%s\"} %u\n", v[i].state, v[i].n);
    }
}

static void render_overlays(FILE *f, const struct node_snapshot *s)
{
    family(f, "reaper_overlay_upper_bytes", "gauge",
           "Disk space used by an overlay's upper layer (what its workloads wrote).");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            family(f, "reaper_overlay_pinned", "gauge",
                   "1 if the overlay's mount namespace is set up, 0 if only its data remains.");
        for (size_t i = 0; i < s->n_overlays; i++) {
            const struct overlay_info *o = &s->overlays[i];
            fprintf(f, "%s{namespace=\"",
                    pass ? "reaper_overlay_pinned" : "reaper_overlay_upper_bytes");
            put_label(f, o->k8s_namespace);
            fputs("\",overlay=\"", f);
            put_label(f, o->name);
            if (pass)
                fprintf(f, "\"} %d\n", o->pinned ? 1 : 0);
            else
                fprintf(f, "\"} %llu\n", (unsigned long long)o->upper_bytes);
        }
    }
    if (!s->has_overlay_fs)
        return;
    family(f, "reaper_overlay_filesystem_size_bytes", "gauge",
           "Size of the file system holding the overlays' upper layers.");
    fprintf(f, "reaper_overlay_filesystem_size_bytes %llu\n",
            (unsigned long long)s->overlay_fs_size);
    family(f, "reaper_overlay_filesystem_free_bytes", "gauge",
           "Free space on it (0: workloads writing to their overlay get ENOSPC).");
    fprintf(f, "reaper_overlay_filesystem_free_bytes %llu\n",
            (unsigned long long)s->overlay_fs_free);
}

static void render_shims(FILE *f, const struct node_snapshot *s)
{
    family(f, "reaper_shim_processes", "gauge", "Running containerd-shim-reaper-v2 processes.");
    fprintf(f, "reaper_shim_processes %zu\n", s->n_shims);
    family(f, "reaper_shim_resident_memory_bytes", "gauge",
           "Resident memory of each containerd-shim-reaper-v2 process.");
    for (size_t i = 0; i < s->n_shims; i++)
        fprintf(f, "reaper_shim_resident_memory_bytes{pid=\"%d\"} %llu\n", (int)s->shims[i].pid,
                (unsigned long long)s->shims[i].rss_bytes);
}

static void render_counters(FILE *f, const struct agent_counters *c)
{
    family(f, "reaper_gc_runs_total", "counter", "Garbage-collection passes.");
    fprintf(f, "reaper_gc_runs_total %llu\n", (unsigned long long)c->gc_runs);
    family(f, "reaper_gc_removed_total", "counter",
           "What garbage collection removed: stale runtime state, orphaned overlays.");
    fprintf(f, "reaper_gc_removed_total{kind=\"state\"} %llu\n",
            (unsigned long long)c->gc_removed_states);
    fprintf(f, "reaper_gc_removed_total{kind=\"overlay\"} %llu\n",
            (unsigned long long)c->gc_removed_overlays);
    family(f, "reaper_overlay_operations_total", "counter",
           "ReaperOverlay resets and deletions on this node, by result.");
    for (int op = 0; op < OVL_OP_COUNT; op++)
        for (int r = 0; r < RES_COUNT; r++)
            fprintf(f, "reaper_overlay_operations_total{operation=\"%s\",result=\"%s\"} %llu\n",
                    op_names[op], result_names[r], (unsigned long long)c->overlay_ops[op][r]);
    family(f, "reaper_config_syncs_total", "counter",
           "Times the node's reaper.conf was rewritten from the ConfigMap.");
    fprintf(f, "reaper_config_syncs_total %llu\n", (unsigned long long)c->config_syncs);
    family(f, "reaper_last_error_timestamp_seconds", "gauge",
           "When a component of the agent last failed, in unix seconds (0: never).");
    for (int i = 0; i < COMP_COUNT; i++)
        fprintf(f, "reaper_last_error_timestamp_seconds{component=\"%s\"} %.3f\n",
                component_names[i], c->last_error[i]);
    family(f, "reaper_checkpoints_total", "counter",
           "ReaperCheckpoints this agent finished, by result.");
    for (int r = 0; r < CKR_COUNT; r++)
        fprintf(f, "reaper_checkpoints_total{result=\"%s\"} %llu\n", ckpt_result_names[r],
                (unsigned long long)c->checkpoints[r]);
    if (c->criu_probed) {
        family(f, "reaper_criu_info", "gauge",
               "The CRIU checkpoints use (REAPER_CRIU): version and path, value 1.");
        fputs("reaper_criu_info{version=\"", f);
        put_label(f, c->criu_version);
        fputs("\",path=\"", f);
        put_label(f, c->criu_path);
        fputs("\"} 1\n", f);
        family(f, "reaper_criu_works", "gauge", "1 if `criu check` succeeds on this node, else 0.");
        fprintf(f, "reaper_criu_works %d\n", c->criu_works ? 1 : 0);
    }
    if (c->node_ready >= 0) {
        family(f, "reaper_node_ready", "gauge",
               "The ReaperReady node condition (1 true, 0 false).");
        fprintf(f, "reaper_node_ready %d\n", c->node_ready);
    }
}

char *metrics_render(const struct node_snapshot *s, const struct agent_counters *c,
                     const char *version)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    family(f, "reaper_build_info", "gauge", "Build of the running reaper-agent (value 1).");
    fputs("reaper_build_info{version=\"", f);
    put_label(f, version);
    fputs("\"} 1\n", f);
    family(f, "reaper_workloads", "gauge",
           "Reaper containers on this node by Kubernetes namespace and state.");
    render_workloads(f, s, false);
    family(f, "reaper_pod_sandboxes", "gauge",
           "Reaper pod sandboxes (pods) on this node by Kubernetes namespace.");
    render_workloads(f, s, true);
    render_overlays(f, s);
    render_shims(f, s);
    render_counters(f, c);
    fclose(f);
    return buf;
}

/* ---- garbage collection ---- */

bool gc_state_is_stale(const struct workload_info *w, int64_t grace_s)
{
    if (w->bundle_exists || w->age_s < grace_s)
        return false;
    return w->unreadable || w->status == STATUS_STOPPED;
}

size_t overlay_users(const struct node_snapshot *s, const char *key, char ***ids)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_workloads; i++) {
        const struct workload_info *w = &s->workloads[i];
        if (w->unreadable || w->sandbox || w->status == STATUS_STOPPED || w->overlay_key == NULL ||
            strcmp(w->overlay_key, key) != 0)
            continue;
        n++;
        if (ids)
            strv_push(ids, w->id);
    }
    return n;
}

bool gc_overlay_orphaned(const struct overlay_info *o, char *const *namespaces,
                         const struct node_snapshot *s)
{
    if (o->k8s_namespace == NULL || strcmp(o->key, "_node") == 0 ||
        str_startswith(o->key, "_node_"))
        return false;
    if (strv_contains(namespaces, o->k8s_namespace))
        return false;
    return overlay_users(s, o->key, NULL) == 0;
}
