/* The informer thread: LIST, then WATCH from the list's resourceVersion; bookmarks advance it;
 * a normal end re-watches; 410 Gone relists; other errors back off (stoppable timed wait). */
#include "backoff.h"
#include "cleanup.h"
#include "kjson.h"
#include "kube_informer.h"
#include "kube_watch.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct kube_informer {
    struct kube_client *client;
    struct kube_informer_opts o;
    char *ns, *selector, *field_selector;
    struct kube_handlers h;
    struct kube_store *store;
    struct stopper stop;
    atomic_bool stop_flag; /* read by curl's progress callback */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards synced */
    pthread_cond_t synced_cond;
    bool synced;
    char *rv; /* last resourceVersion seen (informer thread only) */
    struct backoff backoff;
};

struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
                                        const struct kube_handlers *h)
{
    struct kube_informer *inf = xcalloc(1, sizeof(*inf));
    inf->client = c;
    inf->o = *o;
    inf->ns = o->namespace ? xstrdup(o->namespace) : NULL;
    inf->selector = o->label_selector ? xstrdup(o->label_selector) : NULL;
    inf->o.namespace = inf->ns;
    inf->o.label_selector = inf->selector;
    inf->field_selector = o->field_selector ? xstrdup(o->field_selector) : NULL;
    inf->o.field_selector = inf->field_selector;
    if (h)
        inf->h = *h;
    inf->store = kube_store_new();
    stopper_init(&inf->stop);
    pthread_mutex_init(&inf->mu, NULL);
    cond_init_monotonic(&inf->synced_cond);
    backoff_init(&inf->backoff, o->backoff_min_ms ? o->backoff_min_ms : 200,
                 o->backoff_max_ms ? o->backoff_max_ms : 30000);
    return inf;
}

static void set_rv(struct kube_informer *inf, const char *rv)
{
    if (rv == NULL || *rv == '\0')
        return;
    free(inf->rv);
    inf->rv = xstrdup(rv);
}

static _must_check_ int relist(struct kube_informer *inf, rerr **err)
{
    _cleanup_free_ char *q = kube_selector_query(inf->selector, inf->field_selector);
    _cleanup_json_ json_t *list = NULL;
    int r = kube_list(inf->client, inf->o.resource, inf->ns, q, &list, err);
    if (r < 0)
        return r;
    /* LIST items carry no kind/apiVersion; handlers and reconcilers expect them. */
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        json_object_set_new(it, "kind", json_string(inf->o.resource->kind));
        json_object_set_new(it, "apiVersion", json_string(inf->o.resource->api_version));
    }
    kube_store_replace(inf->store, json_object_get(list, "items"), &inf->h);
    set_rv(inf, kj_str(list, "metadata.resourceVersion"));
    pthread_mutex_lock(&inf->mu);
    inf->synced = true;
    pthread_cond_broadcast(&inf->synced_cond);
    pthread_mutex_unlock(&inf->mu);
    return 0;
}

static void on_event(void *ud, const char *type, json_t *obj)
{
    struct kube_informer *inf = ud;
    set_rv(inf, kj_str(obj, "metadata.resourceVersion"));
    backoff_reset(&inf->backoff); /* the server answers again: the next failure starts small */
    if (strcmp(type, "BOOKMARK") == 0)
        return;
    kube_store_apply(inf->store, type, obj, &inf->h);
}

static int watch_timeout(const struct kube_informer *inf)
{
    if (inf->o.watch_timeout_seconds > 0)
        return inf->o.watch_timeout_seconds;
    return 300 + (int)(random() % 300);
}

/* One pass: relist if needed, then watch until the stream ends or fails. */
static _must_check_ int run_once(struct kube_informer *inf, bool *need_list, rerr **err)
{
    if (*need_list) {
        int r = relist(inf, err);
        if (r < 0)
            return r;
        *need_list = false;
        backoff_reset(&inf->backoff);
    }
    struct kube_watch_opts wo = {.namespace = inf->ns,
                                 .label_selector = inf->selector,
                                 .field_selector = inf->field_selector,
                                 .resource_version = inf->rv,
                                 .timeout_seconds = watch_timeout(inf),
                                 .stop = &inf->stop_flag};
    int r = kube_watch(inf->client, inf->o.resource, &wo, on_event, inf, err);
    if (r == -EKEYEXPIRED)
        *need_list = true;
    return r;
}

static void *informer_main(void *arg)
{
    struct kube_informer *inf = arg;
    bool need_list = true;
    while (!stopper_stopped(&inf->stop)) {
        rerr *e = NULL;
        int r = run_once(inf, &need_list, &e);
        if (r == 0 || r == -EKEYEXPIRED) {
            if (r == -EKEYEXPIRED)
                log_info("%s: %s; relisting", inf->o.resource->plural, rerr_msg(e));
            else
                backoff_reset(&inf->backoff);
            rerr_free(e);
            continue; /* stream ended normally or must relist: go again at once */
        }
        if (r != -ECANCELED)
            log_warn("%s informer: %s", inf->o.resource->plural, rerr_msg(e));
        rerr_free(e);
        stopper_wait(&inf->stop, backoff_next(&inf->backoff));
    }
    return NULL;
}

int kube_informer_start(struct kube_informer *inf, rerr **err)
{
    int r = pthread_create(&inf->thread, NULL, informer_main, inf);
    if (r != 0)
        return rerr_set(err, r, "start %s informer", inf->o.resource->plural);
    inf->started = true;
    return 0;
}

struct kube_informer *kube_informer_run(struct kube_client *c, const struct kube_informer_opts *o,
                                        const struct kube_handlers *h, rerr **err)
{
    struct kube_informer *inf = kube_informer_new(c, o, h);
    if (kube_informer_start(inf, err) < 0) {
        kube_informer_free(inf);
        return NULL;
    }
    return inf;
}

bool kube_informer_wait_synced(struct kube_informer *inf, unsigned timeout_ms)
{
    struct timespec dl = deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced && !stopper_stopped(&inf->stop) &&
           pthread_cond_timedwait(&inf->synced_cond, &inf->mu, &dl) == 0) {
    }
    bool v = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return v;
}

json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name)
{
    _cleanup_free_ char *key = (ns && *ns) ? xasprintf("%s/%s", ns, name) : xstrdup(name);
    return kube_store_get(inf->store, key);
}

json_t *kube_informer_list(struct kube_informer *inf)
{
    return kube_store_list(inf->store);
}

void kube_informer_stop(struct kube_informer *inf)
{
    atomic_store(&inf->stop_flag, true);
    stopper_stop(&inf->stop);
    pthread_mutex_lock(&inf->mu); /* wake kube_informer_wait_synced callers at once */
    pthread_cond_broadcast(&inf->synced_cond);
    pthread_mutex_unlock(&inf->mu);
    if (inf->started)
        pthread_join(inf->thread, NULL);
    inf->started = false;
}

void kube_informer_free(struct kube_informer *inf)
{
    if (inf == NULL)
        return;
    kube_informer_stop(inf);
    kube_store_free(inf->store);
    stopper_destroy(&inf->stop);
    pthread_mutex_destroy(&inf->mu);
    pthread_cond_destroy(&inf->synced_cond);
    free(inf->ns);
    free(inf->selector);
    free(inf->field_selector);
    free(inf->rv);
    free(inf);
}

void kube_informers_stop(struct kube_informer *const *all, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (all[i])
            kube_informer_stop(all[i]);
}

void kube_informers_free(struct kube_informer *const *all, size_t n)
{
    kube_informers_stop(all, n);
    for (size_t i = 0; i < n; i++)
        kube_informer_free(all[i]);
}
