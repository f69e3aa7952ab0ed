/* The informer's local cache: objects keyed "namespace/name", updated from LIST results and
 * watch events, calling add/update/delete handlers (no I/O; unit-tested directly). */
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

#endif
