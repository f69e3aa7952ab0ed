#include "kube_events.h"
#include "cleanup.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORDER_CACHE_MAX 4096

struct kube_recorder {
    struct kube_client *client;
    char *component, *instance;
    pthread_mutex_t mu;
    json_t *seen; /* "uid|reason|message" → {"name","ns","count"} */
};

struct kube_recorder *kube_recorder_new(struct kube_client *c, const char *component,
                                        const char *instance)
{
    struct kube_recorder *r = xcalloc(1, sizeof(*r));
    r->client = c;
    r->component = xstrdup(component);
    r->instance = xstrdup(instance ? instance : component);
    pthread_mutex_init(&r->mu, NULL);
    r->seen = json_object();
    return r;
}

void kube_recorder_free(struct kube_recorder *r)
{
    if (r == NULL)
        return;
    json_decref(r->seen);
    pthread_mutex_destroy(&r->mu);
    free(r->component);
    free(r->instance);
    free(r);
}

json_t *kube_event_object(const json_t *obj, const char *type, const char *reason,
                          const char *message, const char *component, const char *instance)
{
    const char *ns = kj_str(obj, "metadata.namespace");
    const char *name = kj_str(obj, "metadata.name");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    _cleanup_free_ char *evname =
        xasprintf("%s.%llx%05lx", name ? name : "object", (unsigned long long)ts.tv_sec,
                  (unsigned long)(ts.tv_nsec / 10000) & 0xfffff);
    _cleanup_free_ char *now = kj_time_now();
    json_t *involved = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "apiVersion",
                                 kj_str(obj, "apiVersion"), "kind", kj_str(obj, "kind"), "name",
                                 name, "namespace", ns, "uid", kj_str(obj, "metadata.uid"),
                                 "resourceVersion", kj_str(obj, "metadata.resourceVersion"));
    /* Legacy core/v1 Event fields only (no eventTime): what kubectl describe shows. */
    return json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:s,s:s,s:s,s:i,s:{s:s},s:s,s:s,s:s}",
                     "apiVersion", "v1", "kind", "Event", "metadata", "name", evname, "namespace",
                     ns && *ns ? ns : "default", "involvedObject", involved, "reason", reason,
                     "message", message, "type", type, "firstTimestamp", now, "lastTimestamp", now,
                     "count", 1, "source", "component", component, "reportingComponent", component,
                     "reportingInstance", instance, "action", reason);
}

/* Returns the existing Event's name/ns/count for this key (new ref) and bumps the count. */
static json_t *seen_before(struct kube_recorder *r, const char *key)
{
    pthread_mutex_lock(&r->mu);
    json_t *e = json_object_get(r->seen, key);
    if (e)
        json_object_set_new(e, "count", json_integer(kj_int(e, "count", 1) + 1));
    json_incref(e);
    pthread_mutex_unlock(&r->mu);
    return e;
}

static void remember(struct kube_recorder *r, const char *key, const json_t *ev)
{
    pthread_mutex_lock(&r->mu);
    if (json_object_size(r->seen) >= RECORDER_CACHE_MAX)
        json_object_clear(r->seen);
    json_object_set_new(r->seen, key,
                        json_pack("{s:s,s:s,s:i}", "name", kj_str(ev, "metadata.name"), "ns",
                                  kj_str(ev, "metadata.namespace"), "count", 1));
    pthread_mutex_unlock(&r->mu);
}

static _must_check_ int bump(struct kube_recorder *r, const json_t *prev, rerr **err)
{
    _cleanup_free_ char *now = kj_time_now();
    _cleanup_json_ json_t *patch =
        json_pack("{s:I,s:s}", "count", kj_int(prev, "count", 2), "lastTimestamp", now);
    return kube_patch(r->client, &KUBE_EVENTS, kj_str(prev, "ns"), kj_str(prev, "name"), NULL,
                      KUBE_PATCH_MERGE, patch, NULL, err);
}

void kube_event(struct kube_recorder *r, const json_t *obj, const char *type, const char *reason,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    if (r == NULL)
        return;
    _cleanup_free_ char *key =
        xasprintf("%s|%s|%s", kj_str(obj, "metadata.uid") ?: "", reason, msg);
    _cleanup_json_ json_t *prev = seen_before(r, key);
    _cleanup_rerr_ rerr *e = NULL;
    if (prev && bump(r, prev, &e) == 0)
        return;
    rerr_free(e);
    e = NULL;
    _cleanup_json_ json_t *ev =
        kube_event_object(obj, type, reason, msg, r->component, r->instance);
    if (kube_create(r->client, &KUBE_EVENTS, kj_str(ev, "metadata.namespace"), ev, NULL, &e) < 0) {
        log_warn("event %s %s: %s", reason, msg, rerr_msg(e));
        return;
    }
    remember(r, key, ev);
}
