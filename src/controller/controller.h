/* reaper-controller: shared state of the reconcilers (one worker thread, see docs/controller.md).
 */
#ifndef REAPER_CONTROLLER_H
#define REAPER_CONTROLLER_H

#include <jansson.h>

#include "err.h"
#include "kube_events.h"
#include "kube_informer.h"
#include "kube_client.h"
#include "leader.h"
#include "reconcile.h"
#include "workqueue.h"

/* What an informer's handlers need: the controller and which resource they watch. */
struct controller_handler_ctx {
    struct controller *c;
    const struct kube_resource *r;
};

struct controller {
    struct kube_client *client;
    struct kube_recorder *recorder;
    struct workqueue *queue;
    struct kube_informer *pods, *nodes, *rpods, *overlays, *jobs;
    struct rpod_opts rpod_opts;
    const char *namespace;                        /* watch scope; NULL = all */
    struct controller_handler_ctx handler_ctx[5]; /* one per informer */
};

/* Queue keys: "<kind>/<namespace>/<name>", kind one of these prefixes. */
#define KEY_RPOD  "rpod"
#define KEY_ROVL  "rovl"
#define KEY_RDJOB "rdjob"

void controller_enqueue(struct controller *c, const char *kind, const char *ns, const char *name);
/* Informer handlers for each resource (handlers.c). */
struct kube_handlers controller_handlers(struct controller_handler_ctx *h);
/* Process one queue key; <0 means requeue with backoff. */
_must_check_ int controller_reconcile(struct controller *c, const char *key, rerr **err);

_must_check_ int reconcile_reaperpod(struct controller *c, const char *ns, const char *name,
                                     rerr **err);
_must_check_ int reconcile_reaperoverlay(struct controller *c, const char *ns, const char *name,
                                         rerr **err);
_must_check_ int reconcile_reaperdaemonjob(struct controller *c, const char *ns, const char *name,
                                           rerr **err);

/* PUT /status with `status` unless it already equals the object's status. */
_must_check_ int update_status(struct controller *c, const struct kube_resource *r,
                               const json_t *obj, json_t *status, rerr **err);
/* Cached objects of an informer in namespace ns satisfying pred (new array). */
json_t *cache_select(struct kube_informer *inf, const char *ns,
                     bool (*pred)(const json_t *obj, const void *arg), const void *arg);

#endif
