#include "kube_cache.h"
#include "cleanup.h"
#include "kjson.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct kube_store {
    pthread_mutex_t mu;
    json_t *objs; /* key → object */
};

struct kube_store *kube_store_new(void)
{
    struct kube_store *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->objs = json_object();
    return s;
}

void kube_store_free(struct kube_store *s)
{
    if (s == NULL)
        return;
    json_decref(s->objs);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Handlers run outside the lock so they may read any store, this one included. */
static void notify(const struct kube_handlers *h, json_t *oldo, json_t *newo)
{
    if (h == NULL)
        return;
    if (oldo && newo) {
        if (h->on_update)
            h->on_update(h->ud, oldo, newo);
    } else if (newo) {
        if (h->on_add)
            h->on_add(h->ud, newo);
    } else if (oldo && h->on_delete) {
        h->on_delete(h->ud, oldo);
    }
}

void kube_store_apply(struct kube_store *s, const char *type, json_t *obj,
                      const struct kube_handlers *h)
{
    _cleanup_free_ char *key = kj_key(obj);
    bool del = strcmp(type, "DELETED") == 0;
    pthread_mutex_lock(&s->mu);
    json_t *old = json_incref(json_object_get(s->objs, key));
    if (del)
        json_object_del(s->objs, key);
    else
        json_object_set(s->objs, key, obj);
    pthread_mutex_unlock(&s->mu);
    notify(h, old, del ? NULL : obj);
    if (del && old == NULL)
        notify(h, obj, NULL); /* deleted before we saw it: still tell the handler */
    json_decref(old);
}

void kube_store_replace(struct kube_store *s, json_t *items, const struct kube_handlers *h)
{
    _cleanup_json_ json_t *fresh = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        _cleanup_free_ char *key = kj_key(it);
        json_object_set(fresh, key, it);
    }
    pthread_mutex_lock(&s->mu);
    _cleanup_json_ json_t *old = s->objs;
    s->objs = json_incref(fresh);
    pthread_mutex_unlock(&s->mu);
    const char *key;
    json_t *v;
    json_object_foreach(fresh, key, v)
    {
        json_t *o = json_object_get(old, key);
        const char *orv = kj_str(o, "metadata.resourceVersion");
        const char *nrv = kj_str(v, "metadata.resourceVersion");
        if (o == NULL || orv == NULL || nrv == NULL || strcmp(orv, nrv) != 0)
            notify(h, o, v);
    }
    json_object_foreach(old, key, v)
    {
        if (json_object_get(fresh, key) == NULL)
            notify(h, v, NULL);
    }
}

json_t *kube_store_get(struct kube_store *s, const char *key)
{
    pthread_mutex_lock(&s->mu);
    json_t *o = json_incref(json_object_get(s->objs, key));
    pthread_mutex_unlock(&s->mu);
    return o;
}

json_t *kube_store_list(struct kube_store *s)
{
    json_t *arr = json_array();
    const char *key;
    json_t *v;
    pthread_mutex_lock(&s->mu);
    json_object_foreach(s->objs, key, v)
    {
        json_array_append(arr, v);
    }
    pthread_mutex_unlock(&s->mu);
    return arr;
}

size_t kube_store_len(struct kube_store *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = json_object_size(s->objs);
    pthread_mutex_unlock(&s->mu);
    return n;
}
