#include "leader.h"
#include "backoff.h"
#include "cleanup.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct leader_elector {
    struct kube_client *client;
    struct leader_config cfg;
    char *ns, *name, *identity;
    struct leader_observation obs;
    struct stopper stop;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards leading, last_renew_ns */
    pthread_cond_t cond;
    bool leading;
    uint64_t last_renew_ns;
};

/* Set on the elector's own thread (and around the release): its Lease writes pass the fence. */
static _Thread_local bool in_elector;

/* The client's write fence: every other write needs a lease renewed within renew_deadline. A
 * reconcile in flight when the lease is lost sends nothing more. */
static int write_fence(void *ud, const char *what, rerr **err)
{
    struct leader_elector *le = ud;
    if (in_elector || leader_is_leading(le))
        return 0;
    return rerr_setx(err, ENOLCK, "%s: not sent: %s does not hold lease %s/%s", what, le->identity,
                     le->ns, le->name);
}

enum leader_decision leader_decide(struct leader_observation *obs, const json_t *lease,
                                   const char *identity, unsigned lease_duration_s, uint64_t now_ns)
{
    if (lease == NULL)
        return LEADER_ACQUIRE;
    const char *holder = kj_str(lease, "spec.holderIdentity");
    const char *renew = kj_str(lease, "spec.renewTime");
    _cleanup_free_ char *rec = xasprintf("%s|%s|%lld", holder ? holder : "", renew ? renew : "",
                                         (long long)kj_int(lease, "spec.leaseTransitions", 0));
    if (obs->record == NULL || strcmp(obs->record, rec) != 0) {
        free(obs->record);
        obs->record = steal_ptr(rec);
        obs->seen_ns = now_ns;
    }
    if (holder && strcmp(holder, identity) == 0)
        return LEADER_RENEW;
    if (holder == NULL || *holder == '\0')
        return LEADER_ACQUIRE;
    json_int_t dur = kj_int(lease, "spec.leaseDurationSeconds", lease_duration_s);
    if (now_ns - obs->seen_ns >= (uint64_t)dur * 1000000000ull)
        return LEADER_ACQUIRE;
    return LEADER_WAIT;
}

json_t *leader_lease_object(const json_t *current, const struct leader_config *cfg,
                            enum leader_decision d)
{
    json_t *l =
        current ? json_deep_copy(current)
                : json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind",
                            "Lease", "metadata", "name", cfg->name, "namespace", cfg->namespace);
    json_t *spec = kj_obj(l, "spec");
    _cleanup_free_ char *now = kj_microtime_now();
    const char *holder = kj_str(spec, "holderIdentity");
    bool ours = holder && strcmp(holder, cfg->identity) == 0;
    if (d == LEADER_ACQUIRE && !ours) {
        json_object_set_new(spec, "acquireTime", json_string(now));
        if (holder && *holder)
            json_object_set_new(spec, "leaseTransitions",
                                json_integer(kj_int(spec, "leaseTransitions", 0) + 1));
        else if (!json_object_get(spec, "leaseTransitions"))
            json_object_set_new(spec, "leaseTransitions", json_integer(0));
    }
    json_object_set_new(spec, "holderIdentity", json_string(cfg->identity));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(cfg->lease_duration_s));
    json_object_set_new(spec, "renewTime", json_string(now));
    return l;
}

struct leader_elector *leader_new(struct kube_client *c, const struct leader_config *cfg)
{
    struct leader_elector *le = xcalloc(1, sizeof(*le));
    le->client = c;
    le->cfg = *cfg;
    le->ns = xstrdup(cfg->namespace);
    le->name = xstrdup(cfg->name);
    le->identity = xstrdup(cfg->identity);
    le->cfg.namespace = le->ns;
    le->cfg.name = le->name;
    le->cfg.identity = le->identity;
    if (le->cfg.lease_duration_s == 0)
        le->cfg.lease_duration_s = 15;
    if (le->cfg.renew_deadline_s == 0 || le->cfg.renew_deadline_s >= le->cfg.lease_duration_s)
        le->cfg.renew_deadline_s = le->cfg.lease_duration_s * 2 / 3;
    if (le->cfg.retry_period_s == 0)
        le->cfg.retry_period_s = 2;
    stopper_init(&le->stop);
    pthread_mutex_init(&le->mu, NULL);
    cond_init_monotonic(&le->cond);
    kube_client_set_write_fence(c, write_fence, le);
    return le;
}

/* One attempt: returns 1 if we hold the lease now, 0 if someone else does, <0 on error. */
static _must_check_ int try_acquire_or_renew(struct leader_elector *le, rerr **err)
{
    _cleanup_json_ json_t *cur = NULL;
    int r = kube_get(le->client, &KUBE_LEASES, le->ns, le->name, &cur, err);
    if (r < 0 && r != -ENOENT)
        return r;
    if (r == -ENOENT) {
        rerr_free(*err);
        *err = NULL;
    }
    enum leader_decision d =
        leader_decide(&le->obs, cur, le->identity, le->cfg.lease_duration_s, monotonic_ns());
    if (d == LEADER_WAIT)
        return 0;
    _cleanup_json_ json_t *next = leader_lease_object(cur, &le->cfg, d);
    r = cur ? kube_update(le->client, &KUBE_LEASES, next, NULL, err)
            : kube_create(le->client, &KUBE_LEASES, le->ns, next, NULL, err);
    if (r == -ESTALE || r == -EEXIST) { /* another candidate won the race */
        rerr_free(*err);
        *err = NULL;
        return 0;
    }
    return r < 0 ? r : 1;
}

static void set_leading(struct leader_elector *le, bool v)
{
    pthread_mutex_lock(&le->mu);
    bool was = le->leading;
    le->leading = v;
    if (v)
        le->last_renew_ns = monotonic_ns();
    pthread_cond_broadcast(&le->cond);
    pthread_mutex_unlock(&le->mu);
    if (v && !was) {
        log_info("leader election: %s acquired lease %s/%s", le->identity, le->ns, le->name);
        if (le->cfg.on_started)
            le->cfg.on_started(le->cfg.ud);
    } else if (!v && was) {
        log_warn("leader election: %s lost lease %s/%s", le->identity, le->ns, le->name);
        if (le->cfg.on_stopped)
            le->cfg.on_stopped(le->cfg.ud);
    }
}

static void step(struct leader_elector *le)
{
    rerr *e = NULL;
    int r = try_acquire_or_renew(le, &e);
    if (r == 1) {
        set_leading(le, true);
        return;
    }
    if (r < 0)
        log_warn("leader election: %s", rerr_msg(e));
    rerr_free(e);
    pthread_mutex_lock(&le->mu);
    bool expired = le->leading && monotonic_ns() - le->last_renew_ns >=
                                      (uint64_t)le->cfg.renew_deadline_s * 1000000000ull;
    pthread_mutex_unlock(&le->mu);
    if (r == 0 || expired)
        set_leading(le, false);
}

static void *leader_main(void *arg)
{
    struct leader_elector *le = arg;
    in_elector = true;
    do {
        step(le);
    } while (!stopper_wait(&le->stop, (uint64_t)le->cfg.retry_period_s * 1000));
    return NULL;
}

int leader_start(struct leader_elector *le, rerr **err)
{
    int r = pthread_create(&le->thread, NULL, leader_main, le);
    if (r != 0)
        return rerr_set(err, r, "start leader election");
    le->started = true;
    return 0;
}

bool leader_is_leading(struct leader_elector *le)
{
    pthread_mutex_lock(&le->mu);
    bool v = le->leading && monotonic_ns() - le->last_renew_ns <
                                (uint64_t)le->cfg.renew_deadline_s * 1000000000ull;
    pthread_mutex_unlock(&le->mu);
    return v;
}

bool leader_wait_leading(struct leader_elector *le, uint64_t timeout_ms)
{
    struct timespec dl = deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&le->mu);
    while (!le->leading && pthread_cond_timedwait(&le->cond, &le->mu, &dl) == 0) {
    }
    bool v = le->leading;
    pthread_mutex_unlock(&le->mu);
    return v;
}

static void release(struct leader_elector *le)
{
    _cleanup_json_ json_t *cur = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    if (kube_get(le->client, &KUBE_LEASES, le->ns, le->name, &cur, &e) < 0)
        return;
    const char *holder = kj_str(cur, "spec.holderIdentity");
    if (holder == NULL || strcmp(holder, le->identity) != 0)
        return;
    json_t *spec = kj_obj(cur, "spec");
    json_object_set_new(spec, "holderIdentity", json_string(""));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
    if (kube_update(le->client, &KUBE_LEASES, cur, NULL, &e) < 0)
        log_warn("leader election: release: %s", rerr_msg(e));
    else
        log_info("leader election: released lease %s/%s", le->ns, le->name);
}

void leader_stop(struct leader_elector *le)
{
    stopper_stop(&le->stop);
    if (le->started)
        pthread_join(le->thread, NULL);
    le->started = false;
    pthread_mutex_lock(&le->mu);
    bool was = le->leading;
    le->leading = false;
    pthread_mutex_unlock(&le->mu);
    if (was) {
        in_elector = true;
        release(le);
        in_elector = false;
    }
}

void leader_free(struct leader_elector *le)
{
    if (le == NULL)
        return;
    leader_stop(le);
    kube_client_set_write_fence(le->client, NULL, NULL);
    free(le->obs.record);
    free(le->ns);
    free(le->name);
    free(le->identity);
    stopper_destroy(&le->stop);
    pthread_mutex_destroy(&le->mu);
    pthread_cond_destroy(&le->cond);
    free(le);
}
