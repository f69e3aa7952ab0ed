/* reaper-agent: one per node (DaemonSet). Health and metrics over HTTP, node condition, config
 * sync, ReaperOverlay reset/delete and ReaperCheckpoint on this node, garbage collection.
 * docs/agent.md. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentd.h"
#include "cleanup.h"
#include "cmdline.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

extern char **environ;

static const char USAGE[] =
    "usage: reaper-agent [--node-name NAME] [--kubeconfig FILE] [--listen ADDR:PORT]\n"
    "  [--bin-dir DIR] [--containerd-config FILE] [--runtime-name NAME]\n"
    "  [--config-path FILE] [--config-namespace NS] [--config-map NAME]\n"
    "  [--resync SECONDS] [--gc-grace SECONDS] [--request-timeout SECONDS] [--proc DIR]\n"
    "  [--node-label KEY=VALUE] [--checkpoint-root DIR] [--pod-log-dir DIR]\n"
    "  [--standalone | --once | --remove-label] [--log-level error|warn|info|debug] [--version]\n";

/* KEY=VALUE, or "" for no label. The key is checked by the API server when it is written. */
static _must_check_ int parse_node_label(struct agent_opts *o)
{
    const char *v = o->node_label, *eq = strchr(v, '=');
    if (*v == '\0')
        return 0;
    if (eq == NULL || eq == v) {
        fprintf(stderr, "reaper-agent: --node-label %s: want KEY=VALUE (or \"\" for none)\n", v);
        return -EINVAL;
    }
    o->node_label_key = xstrndup(v, (size_t)(eq - v));
    o->node_label_value = eq + 1;
    return 0;
}

/* Returns 0 to run, 1 to exit successfully (--version/--help), <0 on a usage error. */
static _must_check_ int parse_opts(int argc, char **argv, struct agent_opts *o,
                                   enum log_level *level)
{
    const struct cmdline_opt table[] = {
        {.name = "node-name", .kind = CL_STRING, .target = &o->node_name},
        {.name = "kubeconfig", .kind = CL_STRING, .target = &o->kubeconfig},
        {.name = "listen", .kind = CL_STRING, .target = &o->listen},
        {.name = "bin-dir", .kind = CL_STRING, .target = &o->bin_dir},
        {.name = "containerd-config", .kind = CL_STRING, .target = &o->containerd_config},
        {.name = "runtime-name", .kind = CL_STRING, .target = &o->runtime_name},
        {.name = "config-path", .kind = CL_STRING, .target = &o->config_path},
        {.name = "config-namespace", .kind = CL_STRING, .target = &o->config_namespace},
        {.name = "config-map", .kind = CL_STRING, .target = &o->config_map},
        {.name = "resync", .kind = CL_SECONDS, .target = &o->resync_s, .min = 1, .max = 86400 * 7},
        {.name = "gc-grace",
         .kind = CL_SECONDS,
         .target = &o->gc_grace_s,
         .min = 1,
         .max = 86400 * 7},
        {.name = "request-timeout",
         .kind = CL_SECONDS,
         .target = &o->request_timeout_s,
         .min = 1,
         .max = 3600},
        {.name = "proc", .kind = CL_STRING, .target = &o->proc},
        {.name = "node-label", .kind = CL_STRING, .target = &o->node_label},
        {.name = "checkpoint-root", .kind = CL_STRING, .target = &o->checkpoint_root},
        {.name = "pod-log-dir", .kind = CL_STRING, .target = &o->pod_log_dir},
        {.name = "standalone", .kind = CL_FLAG, .target = &o->standalone},
        {.name = "once", .kind = CL_FLAG, .target = &o->once},
        {.name = "remove-label", .kind = CL_FLAG, .target = &o->remove_label},
        {.name = "log-level", .kind = CL_LOG_LEVEL, .target = level},
        {0},
    };
    const struct cmdline cl = {.program = "reaper-agent", .usage = USAGE, .opts = table};
    int r = cmdline_parse(&cl, argc, argv);
    if (r == 0 && !o->standalone && (o->node_name == NULL || *o->node_name == '\0')) {
        fputs("reaper-agent: --node-name (or NODE_NAME) is required unless --standalone\n", stderr);
        return -EINVAL;
    }
    if (r == 0 && (o->standalone + o->once + o->remove_label) > 1) {
        fputs("reaper-agent: --standalone, --once and --remove-label exclude each other\n", stderr);
        return -EINVAL;
    }
    return r == 0 ? parse_node_label(o) : r;
}

/* ---- informer handlers: enqueue keys only ---- */

/* prefix + "namespace/name" of obj. */
static void enqueue_object(struct agent *a, const char *prefix, const json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    _cleanup_free_ char *key =
        xasprintf("%s%s/%s", prefix, json_string_value(json_object_get(md, "namespace")),
                  json_string_value(json_object_get(md, "name")));
    workqueue_add(a->queue, key);
}
static void enqueue_overlay(void *ud, const json_t *obj)
{
    enqueue_object(ud, KEY_OVERLAY, obj);
}
static void overlay_update(void *ud, const json_t *o, const json_t *n)
{
    (void)o;
    enqueue_overlay(ud, n);
}
static void enqueue_checkpoint(void *ud, const json_t *obj)
{
    enqueue_object(ud, KEY_CHECKPOINT, obj);
}
static void checkpoint_update(void *ud, const json_t *o, const json_t *n)
{
    (void)o;
    enqueue_checkpoint(ud, n);
}
/* A pod of this node changed (its container started, exited, or it was deleted). */
static void pod_event(void *ud, const json_t *pod)
{
    agent_checkpoints_for_pod(ud, pod);
}
static void pod_update(void *ud, const json_t *o, const json_t *n)
{
    (void)o;
    pod_event(ud, n);
}
static void enqueue_gc(void *ud, const json_t *obj)
{
    (void)obj;
    workqueue_add(((struct agent *)ud)->queue, KEY_GC);
}
static void enqueue_config(void *ud, const json_t *obj)
{
    (void)obj;
    workqueue_add(((struct agent *)ud)->queue, KEY_CONFIG);
}
static void config_update(void *ud, const json_t *o, const json_t *n)
{
    (void)o;
    enqueue_config(ud, n);
}

static struct kube_informer *informer(struct agent *a, const struct kube_resource *r,
                                      const char *ns, struct kube_handlers h, rerr **err)
{
    struct kube_informer_opts io = {.resource = r, .namespace = ns};
    return kube_informer_run(a->client, &io, &h, err);
}

/* ReaperCheckpoints (all namespaces) and the pods of this node only. */
static _must_check_ int start_checkpoint_informers(struct agent *a, rerr **err)
{
    _cleanup_free_ char *fields = xasprintf("spec.nodeName=%s", a->o.node_name);
    struct kube_informer_opts po = {.resource = &KUBE_PODS, .field_selector = fields};
    struct kube_handlers ph = {pod_event, pod_update, pod_event, a};
    a->checkpoints =
        informer(a, &REAPER_CHECKPOINTS, NULL,
                 (struct kube_handlers){enqueue_checkpoint, checkpoint_update, NULL, a}, err);
    if (a->checkpoints == NULL)
        return rerr_code(err);
    a->pods = kube_informer_run(a->client, &po, &ph, err);
    return a->pods ? 0 : rerr_code(err);
}

static _must_check_ int start_informers(struct agent *a, rerr **err)
{
    a->overlays = informer(a, &REAPER_OVERLAYS, NULL,
                           (struct kube_handlers){enqueue_overlay, overlay_update, NULL, a}, err);
    if (a->overlays == NULL)
        return rerr_code(err);
    /* Only deletions matter: a deleted namespace may leave an orphaned overlay. */
    a->namespaces =
        informer(a, &KUBE_NAMESPACES, NULL, (struct kube_handlers){NULL, NULL, enqueue_gc, a}, err);
    if (a->namespaces == NULL)
        return rerr_code(err);
    if (*a->o.config_map) {
        a->configmaps =
            informer(a, &KUBE_CONFIGMAPS, a->o.config_namespace,
                     (struct kube_handlers){enqueue_config, config_update, NULL, a}, err);
        if (a->configmaps == NULL)
            return rerr_code(err);
    }
    return start_checkpoint_informers(a, err);
}

/* After workqueue_shutdown: stopping the informers ends sync_thread's waits, and it must be
 * gone before they are freed. */
static void stop_informers(struct agent *a)
{
    struct kube_informer *all[] = {a->overlays, a->namespaces, a->configmaps, a->checkpoints,
                                   a->pods};
    kube_informers_stop(all, ARRAY_SIZE(all));
    if (a->sync_started)
        pthread_join(a->sync_thread, NULL);
    kube_informers_free(all, ARRAY_SIZE(all));
}

/* ---- the worker ---- */

static _must_check_ int process(struct agent *a, const char *key, rerr **err)
{
    if (strcmp(key, KEY_GC) == 0)
        return agent_gc(a, err);
    if (strcmp(key, KEY_CONDITION) == 0)
        return agent_condition(a, err);
    if (strcmp(key, KEY_CONFIG) == 0)
        return agent_config_sync(a, err);
    bool overlay = str_startswith(key, KEY_OVERLAY);
    if (!overlay && !str_startswith(key, KEY_CHECKPOINT))
        return 0;
    _cleanup_free_ char *ns = xstrdup(key + strlen(overlay ? KEY_OVERLAY : KEY_CHECKPOINT));
    char *name = strchr(ns, '/');
    if (name == NULL)
        return 0;
    *name++ = '\0';
    return overlay ? agent_overlay_reconcile(a, ns, name, err)
                   : agent_checkpoint_reconcile(a, ns, name, err);
}

static void requeue_periodic(struct agent *a, const char *key)
{
    if (strcmp(key, KEY_GC) == 0 || strcmp(key, KEY_CONDITION) == 0)
        workqueue_add_after(a->queue, key, (uint64_t)a->o.resync_s * 1000);
}

static void work(struct agent *a)
{
    char *key;
    while ((key = workqueue_get(a->queue, UINT64_MAX)) != NULL) {
        rerr *e = NULL;
        int r = process(a, key, &e); /* sets e: evaluate before passing it */
        if (workqueue_settle(a->queue, key, r, e) == 0)
            requeue_periodic(a, key);
        free(key);
    }
}

/* Mark ready once every informer has listed (stopping the informers ends the waits). */
static void *sync_thread(void *ud)
{
    struct agent *a = ud;
    struct kube_informer *all[] = {a->overlays, a->namespaces, a->configmaps, a->checkpoints,
                                   a->pods};
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        while (all[i] && !kube_informer_wait_synced(all[i], 1000))
            if (workqueue_is_shutdown(a->queue))
                return NULL;
    pthread_mutex_lock(&a->counters.mu);
    a->counters.synced = true;
    pthread_mutex_unlock(&a->counters.mu);
    workqueue_add(a->queue, KEY_GC); /* now namespace GC can trust the namespace list */
    log_info("synced with the API server");
    return NULL;
}

static _must_check_ int client_new(struct agent *a, rerr **err)
{
    struct kube_config *kc = NULL;
    int r = kube_config_load(a->o.kubeconfig, &kc, err);
    if (r == 0)
        r = kube_client_new(kc, &a->client, err);
    if (r == 0)
        kube_client_set_request_timeout(a->client, a->o.request_timeout_s);
    return r;
}

static _must_check_ int connect_api(struct agent *a, rerr **err)
{
    int r = client_new(a, err);
    if (r == 0)
        r = start_informers(a, err);
    if (r < 0)
        return r;
    a->sync_started = pthread_create(&a->sync_thread, NULL, sync_thread, a) == 0;
    workqueue_add(a->queue, KEY_CONDITION);
    return 0;
}

static _must_check_ int run(struct agent *a, rerr **err)
{
    struct http_server *h = http_start(a, a->o.listen, err);
    if (h == NULL)
        return rerr_code(err);
    int r = 0;
    if (a->o.standalone) {
        a->counters.synced = true;
    } else {
        r = connect_api(a, err);
    }
    if (r == 0) {
        workqueue_add(a->queue, KEY_GC);
        log_info("reaper-agent %s serving on %s (node %s)", REAPER_VERSION, a->o.listen,
                 a->o.node_name ? a->o.node_name : "-");
        work(a);
    }
    workqueue_shutdown(a->queue);
    stop_informers(a);
    http_stop(h);
    return r;
}

/* --once (the node installer's last step): the ReaperReady check, its condition and the node
 * label written once. Success means they were written, whatever the check found. */
static _must_check_ int check_once(struct agent *a, rerr **err)
{
    int r = client_new(a, err);
    if (r == 0)
        r = agent_condition(a, err);
    if (r == 0)
        log_info("node %s: ReaperReady=%s", a->o.node_name,
                 a->counters.node_ready == 1 ? "True" : "False");
    return r;
}

/* --remove-label (the node installer's uninstall): the scheduling label removed, nothing else. */
static _must_check_ int remove_label_once(struct agent *a, rerr **err)
{
    int r = client_new(a, err);
    return r < 0 ? r : agent_remove_label(a, err);
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

int main(int argc, char **argv)
{
    struct agent a = {.o = {.node_name = getenv("NODE_NAME"),
                            .listen = "0.0.0.0:9464",
                            .bin_dir = "/usr/local/bin",
                            .containerd_config = "/etc/containerd/config.toml",
                            .runtime_name = "reaper-v2",
                            .config_path = REAPER_DEFAULT_CONFIG,
                            .config_namespace = env_or("POD_NAMESPACE", "reaper-system"),
                            .config_map = "reaper-config",
                            .proc = "/proc",
                            .node_label = DEFAULT_NODE_LABEL,
                            .checkpoint_root = "/var/lib/reaper/checkpoints",
                            .pod_log_dir = "/var/log/pods",
                            .resync_s = 60,
                            .gc_grace_s = 300}};
    enum log_level level = LOG_LVL_INFO;
    int pr = parse_opts(argc, argv, &a.o, &level);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    log_init_stderr("reaper-agent", level);
    daemon_block_signals(); /* inherited by every thread started below */
    _cleanup_rerr_ rerr *err = NULL;
    if (config_load(&a.cfg, NULL, environ, &err) < 0) {
        log_error("%s", rerr_msg(err));
        return 1;
    }
    pthread_mutex_init(&a.counters.mu, NULL);
    a.counters.node_ready = -1;
    a.ckpt_unwritten = json_object();
    int r;
    if (a.o.once) {
        r = check_once(&a, &err);
    } else if (a.o.remove_label) {
        r = remove_label_once(&a, &err);
    } else {
        a.queue = workqueue_new(200, 30000);
        daemon_shutdown_on_signal(a.queue);
        r = run(&a, &err);
        workqueue_free(a.queue);
    }
    if (r < 0)
        log_error("%s", rerr_msg(err));
    kube_client_free(a.client);
    json_decref(a.last_condition);
    json_decref(a.ckpt_unwritten);
    free(a.counters.criu_version);
    free(a.counters.criu_path);
    config_free(&a.cfg);
    free(a.o.node_label_key);
    return r < 0 ? 1 : 0;
}
