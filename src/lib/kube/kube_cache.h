/* Informer: LIST + WATCH one resource into a local cache keyed "namespace/name", calling
 * add/update/delete handlers from the informer's own thread (one thread per informer). */
#ifndef REAPER_KUBE_CACHE_H
#define REAPER_KUBE_CACHE_H

#include <jansson.h>
#include <stdbool.h>

#include "kube_client.h"

/* Handlers get borrowed objects; they must be quick (enqueue a key, not reconcile). */
struct kube_handlers {
    void (*on_add)(void *ud, const json_t *obj);
    void (*on_update)(void *ud, const json_t *oldobj, const json_t *newobj);
    void (*on_delete)(void *ud, const json_t *obj);
    void *ud;
};

/* ---- the store (no I/O; unit-tested directly) ---- */
struct kube_store;
struct kube_store *kube_store_new(void);
void kube_store_free(struct kube_store *s);
/* Apply one watch event (ADDED/MODIFIED/DELETED) and call the matching handler. */
void kube_store_apply(struct kube_store *s, const char *type, json_t *obj,
                      const struct kube_handlers *h);
/* Replace the contents with a LIST result: emits add/update for items and delete for keys that
 * disappeared while the watch was down. */
void kube_store_replace(struct kube_store *s, json_t *items, const struct kube_handlers *h);
json_t *kube_store_get(struct kube_store *s, const char *key); /* new reference or NULL */
json_t *kube_store_list(struct kube_store *s);                 /* new array of objects */
size_t kube_store_len(struct kube_store *s);

/* ---- the informer ---- */
struct kube_informer_opts {
    const struct kube_resource *resource;
    const char *namespace;                   /* NULL: all namespaces */
    const char *label_selector;              /* NULL: everything */
    int watch_timeout_seconds;               /* 0: 300–600 s, randomised like client-go */
    unsigned backoff_min_ms, backoff_max_ms; /* 0: 200 ms / 30 s */
};

struct kube_informer;
struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
                                        const struct kube_handlers *h);
int kube_informer_start(struct kube_informer *inf, rerr **err);
/* new + start; NULL (and nothing left running) on failure. */
struct kube_informer *kube_informer_run(struct kube_client *c, const struct kube_informer_opts *o,
                                        const struct kube_handlers *h, rerr **err);
/* Block until the first LIST has been applied (true) or timeout/stop (false). */
bool kube_informer_wait_synced(struct kube_informer *inf, unsigned timeout_ms);
json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name);
json_t *kube_informer_list(struct kube_informer *inf);
/* Counters for tests and logs. */
unsigned kube_informer_relists(struct kube_informer *inf);
void kube_informer_stop(struct kube_informer *inf); /* joins the thread */
void kube_informer_free(struct kube_informer *inf);

#endif
