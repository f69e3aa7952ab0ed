/* reaper-controller: reconciles ReaperPod, ReaperOverlay and ReaperDaemonJob (docs/controller.md).
 */
#include "cleanup.h"
#include "cmdline.h"
#include "daemon.h"
#include "controller.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct opts {
    const char *kubeconfig, *namespace, *runtime_class, *image, *lease_ns, *identity;
    bool leader_elect;
    unsigned lease_duration, renew_deadline, retry_period, request_timeout;
    enum log_level level;
};

static atomic_bool g_lost;

static const char USAGE[] =
    "usage: reaper-controller [--kubeconfig FILE] [--namespace NS] [--runtime-class NAME]\n"
    "  [--placeholder-image IMAGE] [--leader-elect=true|false] [--lease-namespace NS]\n"
    "  [--lease-duration S] [--renew-deadline S] [--retry-period S] [--request-timeout S]\n"
    "  [--identity ID] [--log-level error|warn|info|debug] [--version]\n";

/* Returns 0 to run, 1 to exit successfully (--version/--help), <0 on a usage error. */
static _must_check_ int parse_opts(int argc, char **argv, struct opts *o)
{
    const struct cmdline_opt table[] = {
        {.name = "kubeconfig", .kind = CL_STRING, .target = &o->kubeconfig},
        {.name = "namespace", .kind = CL_STRING_EMPTY, .target = &o->namespace},
        {.name = "runtime-class", .kind = CL_STRING, .target = &o->runtime_class},
        {.name = "placeholder-image", .kind = CL_STRING, .target = &o->image},
        {.name = "leader-elect", .kind = CL_BOOL, .target = &o->leader_elect},
        {.name = "lease-namespace", .kind = CL_STRING, .target = &o->lease_ns},
        {.name = "lease-duration",
         .kind = CL_SECONDS,
         .target = &o->lease_duration,
         .min = 1,
         .max = 3600},
        {.name = "renew-deadline",
         .kind = CL_SECONDS,
         .target = &o->renew_deadline,
         .min = 1,
         .max = 3600},
        {.name = "retry-period",
         .kind = CL_SECONDS,
         .target = &o->retry_period,
         .min = 1,
         .max = 3600},
        {.name = "request-timeout",
         .kind = CL_SECONDS,
         .target = &o->request_timeout,
         .min = 1,
         .max = 3600},
        {.name = "identity", .kind = CL_STRING, .target = &o->identity},
        {.name = "log-level", .kind = CL_LOG_LEVEL, .target = &o->level},
        {0},
    };
    const struct cmdline cl = {.program = "reaper-controller", .usage = USAGE, .opts = table};
    return cmdline_parse(&cl, argc, argv);
}

static void on_lost(void *ud)
{
    atomic_store(&g_lost, true);
    workqueue_shutdown(ud);
}

static struct kube_informer *new_informer(struct controller *c, size_t slot,
                                          const struct kube_resource *r, const char *ns,
                                          const char *selector)
{
    struct kube_informer_opts io = {.resource = r, .namespace = ns, .label_selector = selector};
    c->handler_ctx[slot] = (struct controller_handler_ctx){c, r};
    struct kube_handlers h = controller_handlers(&c->handler_ctx[slot]);
    return kube_informer_new(c->client, &io, &h);
}

/* Every informer exists before the first one starts: handlers read other informers' caches
 * (a node change lists jobs and overlays), from the first LIST on. */
static _must_check_ int start_informers(struct controller *c, rerr **err)
{
    struct kube_informer **slots[] = {&c->nodes, &c->overlays, &c->jobs, &c->rpods, &c->pods};
    const struct kube_resource *res[] = {&KUBE_NODES, &REAPER_OVERLAYS, &REAPER_DAEMONJOBS,
                                         &REAPER_PODS, &KUBE_PODS};
    for (size_t i = 0; i < ARRAY_SIZE(slots); i++)
        *slots[i] = new_informer(c, i, res[i], res[i] == &KUBE_NODES ? NULL : c->namespace,
                                 res[i] == &KUBE_PODS ? LABEL_REAPERPOD : NULL);
    for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
        int r = kube_informer_start(*slots[i], err);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
        while (!kube_informer_wait_synced(*slots[i], 1000)) {
            if (workqueue_is_shutdown(c->queue))
                return -ECANCELED;
            log_info("waiting for the %s cache to sync", res[i]->plural);
        }
    }
    return 0;
}

static void stop_informers(struct controller *c)
{
    struct kube_informer *all[] = {c->pods, c->rpods, c->jobs, c->overlays, c->nodes};
    kube_informers_free(all, ARRAY_SIZE(all));
}

/* The single worker: one key at a time, rate-limited requeue on failure. */
static void work(struct controller *c, struct leader_elector *le)
{
    char *key;
    while ((key = workqueue_get(c->queue, UINT64_MAX)) != NULL) {
        if (le && !leader_is_leading(le)) {
            workqueue_done(c->queue, key);
            free(key);
            on_lost(c->queue);
            break;
        }
        rerr *e = NULL;
        int r = controller_reconcile(c, key, &e); /* sets e: evaluate before passing it */
        if (workqueue_settle(c->queue, key, r, e) == 0)
            log_debug("reconciled %s", key);
        free(key);
    }
}

static struct leader_elector *elect(struct controller *c, const struct opts *o, rerr **err)
{
    const char *ns = o->lease_ns;
    const struct kube_config *cfg = kube_client_config(c->client);
    if (ns == NULL)
        ns = cfg->namespace && getenv("KUBERNETES_SERVICE_HOST") ? cfg->namespace : "reaper-system";
    struct leader_config lc = {.namespace = ns,
                               .name = "reaper-controller",
                               .identity = o->identity,
                               .lease_duration_s = o->lease_duration,
                               .renew_deadline_s = o->renew_deadline,
                               .retry_period_s = o->retry_period,
                               .on_stopped = on_lost,
                               .ud = c->queue};
    struct leader_elector *le = leader_new(c->client, &lc);
    if (leader_start(le, err) < 0) {
        leader_free(le);
        return NULL;
    }
    log_info("leader election: %s waiting for lease %s/reaper-controller", o->identity, ns);
    while (!leader_wait_leading(le, 1000)) {
        if (workqueue_is_shutdown(c->queue))
            break;
    }
    return le;
}

static _must_check_ int run(struct controller *c, const struct opts *o, rerr **err)
{
    struct leader_elector *le = NULL;
    if (o->leader_elect) {
        le = elect(c, o, err);
        if (le == NULL)
            return -EIO;
    }
    int r = 0;
    if (!workqueue_is_shutdown(c->queue)) {
        r = start_informers(c, err);
        if (r == 0) {
            log_info("reaper-controller %s running (runtime class %s)", REAPER_VERSION,
                     c->rpod_opts.runtime_class);
            work(c, le);
        }
    }
    workqueue_shutdown(c->queue);
    stop_informers(c);
    leader_free(le); /* releases the lease if still held */
    return r == -ECANCELED ? 0 : r;
}

int main(int argc, char **argv)
{
    struct opts o = {.runtime_class = "reaper-v2",
                     .image = "busybox",
                     .leader_elect = true,
                     .level = LOG_LVL_INFO};
    int pr = parse_opts(argc, argv, &o);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    log_init_stderr("reaper-controller", o.level);
    char host[256] = "controller";
    gethostname(host, sizeof(host) - 1);
    _cleanup_free_ char *identity = o.identity           ? xstrdup(o.identity)
                                    : getenv("POD_NAME") ? xstrdup(getenv("POD_NAME"))
                                                         : xasprintf("%s_%d", host, (int)getpid());
    o.identity = identity;
    daemon_block_signals(); /* inherited by every thread started below */
    _cleanup_rerr_ rerr *err = NULL;
    struct kube_config *cfg = NULL;
    struct kube_client *client = NULL;
    if (kube_config_load(o.kubeconfig, &cfg, &err) < 0 || kube_client_new(cfg, &client, &err) < 0) {
        log_error("%s", rerr_msg(err));
        return 1;
    }
    kube_client_set_request_timeout(client, o.request_timeout);
    struct controller c = {.client = client,
                           .queue = workqueue_new(5, 300000),
                           .rpod_opts = {o.runtime_class, o.image},
                           .namespace = o.namespace};
    c.recorder = kube_recorder_new(client, "reaper-controller", identity);
    daemon_shutdown_on_signal(c.queue);
    int r = run(&c, &o, &err);
    if (r < 0)
        log_error("%s", rerr_msg(err));
    kube_recorder_free(c.recorder);
    workqueue_free(c.queue);
    kube_client_free(client);
    if (atomic_load(&g_lost)) {
        log_error("leader election lost: exiting");
        return 1;
    }
    return r < 0 ? 1 : 0;
}
