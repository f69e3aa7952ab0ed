/* Informer: LIST + WATCH one resource into a local cache keyed "namespace/name", calling
 * add/update/delete handlers from the informer's own thread (one thread per informer). */
#ifndef REAPER_KUBE_INFORMER_H
#define REAPER_KUBE_INFORMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "kube_cache.h"
#include "kube_client.h"

struct kube_informer_opts {
    const struct kube_resource *resource;
    const char *namespace;                   /* NULL: all namespaces */
    const char *label_selector;              /* NULL: everything */
    const char *field_selector;              /* NULL: everything ("spec.nodeName=n1") */
    int watch_timeout_seconds;               /* 0: 300–600 s, randomised like client-go */
    unsigned backoff_min_ms, backoff_max_ms; /* 0: 200 ms / 30 s */
};

struct kube_informer;
struct kube_informer *kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
                                        const struct kube_handlers *h);
_must_check_ int kube_informer_start(struct kube_informer *inf, rerr **err);
/* new + start; NULL (and nothing left running) on failure. */
struct kube_informer *kube_informer_run(struct kube_client *c, const struct kube_informer_opts *o,
                                        const struct kube_handlers *h, rerr **err);
/* Block until the first LIST has been applied (true) or timeout/stop (false, at once on stop). */
bool kube_informer_wait_synced(struct kube_informer *inf, unsigned timeout_ms);
json_t *kube_informer_get(struct kube_informer *inf, const char *ns, const char *name);
json_t *kube_informer_list(struct kube_informer *inf);
void kube_informer_stop(struct kube_informer *inf); /* joins the thread */
void kube_informer_free(struct kube_informer *inf);
/* Stop every informer of all (NULL entries skipped). */
void kube_informers_stop(struct kube_informer *const *all, size_t n);
/* Stops every informer before freeing any: a handler of one may read another's cache until its
 * thread has ended. */
void kube_informers_free(struct kube_informer *const *all, size_t n);

#endif
