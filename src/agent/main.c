/* reaper-agent: one per node (DaemonSet). Health and metrics over HTTP, node condition, config
 * sync, ReaperOverlay reset/delete on this node, garbage collection. docs/agent.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentd.h"
#include "cleanup.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

extern char **environ;

static void usage(FILE *f)
{
    fputs("usage: reaper-agent [--node-name NAME] [--kubeconfig FILE] [--listen ADDR:PORT]\n"
          "  [--bin-dir DIR] [--containerd-config FILE] [--runtime-name NAME]\n"
          "  [--config-path FILE] [--config-namespace NS] [--config-map NAME]\n"
          "  [--resync SECONDS] [--gc-grace SECONDS] [--proc DIR] [--node-label KEY=VALUE]\n"
          "  [--standalone]\n"
          "  [--log-level error|warn|info|debug] [--version]\n",
          f);
}

static int parse_seconds(const char *flag, const char *v, unsigned *out)
{
    int64_t n;
    if (parse_int64(v, 1, 86400 * 7, &n) < 0) {
        fprintf(stderr, "reaper-agent: %s %s: want seconds (1..604800)\n", flag, v);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* KEY=VALUE, or "" for no label. The key is checked by the API server when it is written. */
static int parse_node_label(const char *v, struct agent_opts *o)
{
    const char *eq = strchr(v, '=');
    free(o->node_label_key);
    o->node_label_key = NULL;
    if (*v == '\0')
        return 0;
    if (eq == NULL || eq == v) {
        fprintf(stderr, "reaper-agent: --node-label %s: want KEY=VALUE (or \"\" for none)\n", v);
        return -1;
    }
    o->node_label_key = xstrndup(v, (size_t)(eq - v));
    o->node_label_value = eq + 1;
    return 0;
}

/* Returns 0 to run, 1 to exit successfully (--version/--help), -1 on a usage error. */
static int parse_opts(int argc, char **argv, struct agent_opts *o, enum log_level *level)
{
    static const struct option lo[] = {{"node-name", 1, 0, 'n'},
                                       {"kubeconfig", 1, 0, 'k'},
                                       {"listen", 1, 0, 'l'},
                                       {"bin-dir", 1, 0, 'b'},
                                       {"containerd-config", 1, 0, 'c'},
                                       {"runtime-name", 1, 0, 'r'},
                                       {"config-path", 1, 0, 'p'},
                                       {"config-namespace", 1, 0, 'N'},
                                       {"config-map", 1, 0, 'm'},
                                       {"resync", 1, 0, 'R'},
                                       {"gc-grace", 1, 0, 'g'},
                                       {"proc", 1, 0, 'P'},
                                       {"node-label", 1, 0, 'T'},
                                       {"standalone", 0, 0, 's'},
                                       {"log-level", 1, 0, 'L'},
                                       {"version", 0, 0, 'v'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->node_name = optarg;
            break;
        case 'k':
            o->kubeconfig = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'b':
            o->bin_dir = optarg;
            break;
        case 'c':
            o->containerd_config = optarg;
            break;
        case 'r':
            o->runtime_name = optarg;
            break;
        case 'p':
            o->config_path = optarg;
            break;
        case 'N':
            o->config_namespace = optarg;
            break;
        case 'm':
            o->config_map = optarg;
            break;
        case 'R':
            if (parse_seconds("--resync", optarg, &o->resync_s) < 0)
                return -1;
            break;
        case 'g':
            if (parse_seconds("--gc-grace", optarg, &o->gc_grace_s) < 0)
                return -1;
            break;
        case 'P':
            o->proc = optarg;
            break;
        case 'T':
            if (parse_node_label(optarg, o) < 0)
                return -1;
            break;
        case 's':
            o->standalone = true;
            break;
        case 'L':
            if (log_level_parse(optarg, level) < 0) {
                fprintf(stderr, "reaper-agent: --log-level %s: want error, warn, info or debug\n",
                        optarg);
                return -1;
            }
            break;
        case 'v':
            printf("reaper-agent %s\n", REAPER_VERSION);
            return 1;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "reaper-agent: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->standalone && (o->node_name == NULL || *o->node_name == '\0')) {
        fputs("reaper-agent: --node-name (or NODE_NAME) is required unless --standalone\n", stderr);
        return -1;
    }
    return 0;
}

/* ---- informer handlers: enqueue keys only ---- */

static void enqueue_overlay(void *ud, const json_t *obj)
{
    struct agent *a = ud;
    json_t *md = json_object_get(obj, "metadata");
    _cleanup_free_ char *key =
        xasprintf(KEY_OVERLAY "%s/%s", json_string_value(json_object_get(md, "namespace")),
                  json_string_value(json_object_get(md, "name")));
    workqueue_add(a->queue, key);
}
static void overlay_update(void *ud, const json_t *o, const json_t *n)
{
    (void)o;
    enqueue_overlay(ud, n);
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
    return 0;
}

static void stop_informers(struct agent *a)
{
    struct kube_informer *all[] = {a->overlays, a->namespaces, a->configmaps};
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        kube_informer_free(all[i]);
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
    if (str_startswith(key, KEY_OVERLAY)) {
        _cleanup_free_ char *ns = xstrdup(key + strlen(KEY_OVERLAY));
        char *name = strchr(ns, '/');
        if (name == NULL)
            return 0;
        *name++ = '\0';
        return agent_overlay_reconcile(a, ns, name, err);
    }
    return 0;
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

/* Mark ready once every informer has listed (waits are timed; shutdown ends them). */
static void *sync_thread(void *ud)
{
    struct agent *a = ud;
    struct kube_informer *all[] = {a->overlays, a->namespaces, a->configmaps};
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

static _must_check_ int connect_api(struct agent *a, rerr **err)
{
    struct kube_config *kc = NULL;
    int r = kube_config_load(a->o.kubeconfig, &kc, err);
    if (r == 0)
        r = kube_client_new(kc, &a->client, err);
    if (r == 0)
        r = start_informers(a, err);
    if (r < 0)
        return r;
    pthread_t t;
    pthread_create(&t, NULL, sync_thread, a);
    pthread_detach(t);
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
                            .resync_s = 60,
                            .gc_grace_s = 300}};
    enum log_level level = LOG_LVL_INFO;
    int pr = parse_node_label(DEFAULT_NODE_LABEL, &a.o);
    if (pr == 0)
        pr = parse_opts(argc, argv, &a.o, &level);
    if (pr != 0) {
        free(a.o.node_label_key);
        return pr > 0 ? 0 : 2;
    }
    log_init_stderr("reaper-agent", level);
    daemon_block_signals(); /* inherited by every thread started below */
    _cleanup_rerr_ rerr *err = NULL;
    if (config_load(&a.cfg, NULL, environ, &err) < 0) {
        log_error("%s", rerr_msg(err));
        return 1;
    }
    pthread_mutex_init(&a.counters.mu, NULL);
    a.counters.node_ready = -1;
    a.queue = workqueue_new(200, 30000);
    daemon_shutdown_on_signal(a.queue);
    int r = run(&a, &err);
    if (r < 0)
        log_error("%s", rerr_msg(err));
    workqueue_free(a.queue);
    kube_client_free(a.client);
    json_decref(a.last_condition);
    config_free(&a.cfg);
    free(a.o.node_label_key);
    return r < 0 ? 1 : 0;
}
