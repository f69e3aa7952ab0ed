/* Kubernetes REST client (jansson over libcurl, which stays private to this library). Thread-safe:
 * every call uses its own curl handle.
 *
 * HTTP failures map to negative errno values (docs/controller.md, "Client errors"):
 *   404 → -ENOENT, 409 AlreadyExists → -EEXIST, 409 Conflict → -ESTALE (stale resourceVersion),
 *   410 Gone → -EKEYEXPIRED (expired resourceVersion: relist), 400/422 → -EINVAL,
 *   401 → -EACCES, 403 → -EPERM, 429/5xx → -EAGAIN, transport failures → -ECONNREFUSED/-EIO.
 * The error message is the API server's Status message. */
#ifndef REAPER_KUBE_CLIENT_H
#define REAPER_KUBE_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "kube_config.h"

struct kube_resource {
    const char *api_version; /* "v1" or "group/version" */
    const char *kind;
    const char *plural;
    bool namespaced;
};

extern const struct kube_resource KUBE_PODS, KUBE_NODES, KUBE_EVENTS, KUBE_LEASES;
extern const struct kube_resource KUBE_NAMESPACES, KUBE_CONFIGMAPS;
extern const struct kube_resource REAPER_PODS, REAPER_OVERLAYS, REAPER_DAEMONJOBS;
extern const struct kube_resource REAPER_CHECKPOINTS;

/* The overlay a ReaperOverlay manages: the named overlay metadata.name (spec.target Named, the
 * default), or NULL for the namespace's own overlay (spec.target Namespace). */
const char *reaper_overlay_target(const json_t *ovl);

enum kube_patch_type { KUBE_PATCH_MERGE, KUBE_PATCH_JSON };

struct kube_client;

/* Takes ownership of cfg. */
_must_check_ int kube_client_new(struct kube_config *cfg, struct kube_client **out, rerr **err);
void kube_client_free(struct kube_client *c);
const struct kube_config *kube_client_config(const struct kube_client *c);

/* Every request but a watch fails with -EIO after this long (kubectl's --request-timeout);
 * 0 restores the default. A hung API server must not hold a worker forever. */
#define KUBE_REQUEST_TIMEOUT_DEFAULT_S 60
void kube_client_set_request_timeout(struct kube_client *c, unsigned seconds);
/* Called before every write (any method but GET) with "METHOD path"; a negative return fails
 * the write with it, unsent (a controller that lost its Lease must not write). */
typedef int (*kube_write_fence)(void *ud, const char *what, rerr **err);
void kube_client_set_write_fence(struct kube_client *c, kube_write_fence fence, void *ud);

/* "/api/v1/namespaces/ns/pods/name/status?query"; ns/name/sub/query may be NULL. */
char *kube_path(const struct kube_resource *r, const char *ns, const char *name, const char *sub,
                const char *query);
/* Percent-encode for a query value (label selectors contain '=' and ','). */
char *kube_query_escape(const char *s);

/* Raw request: body may be NULL; *out (may be NULL) receives the decoded response body.
 * Returns the HTTP status (2xx) or a negative errno as above. */
_must_check_ int kube_request(struct kube_client *c, const char *method, const char *path,
                              const char *content_type, const json_t *body, json_t **out,
                              rerr **err);

_must_check_ int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns,
                          const char *name, json_t **out, rerr **err);
/* query: e.g. "labelSelector=a%3Db&resourceVersion=0" (already escaped) or NULL. */
_must_check_ int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns,
                           const char *query, json_t **out, rerr **err);
_must_check_ int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
                             const json_t *obj, json_t **out, rerr **err);
/* PUT; obj carries metadata.resourceVersion for optimistic concurrency (409 → -ESTALE). */
_must_check_ int kube_update(struct kube_client *c, const struct kube_resource *r,
                             const json_t *obj, json_t **out, rerr **err);
_must_check_ int kube_update_status(struct kube_client *c, const struct kube_resource *r,
                                    const json_t *obj, json_t **out, rerr **err);
/* sub: NULL or "status". */
_must_check_ int kube_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
                            const char *name, const char *sub, enum kube_patch_type type,
                            const json_t *patch, json_t **out, rerr **err);
/* uid (may be NULL) becomes a precondition; background propagation. */
_must_check_ int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns,
                             const char *name, const char *uid, rerr **err);

/* Read-modify-write with retry on conflict (client-go's RetryOnConflict): GET the object, let
 * mutate change it (return 0 to write, 1 when nothing needs writing, <0 to fail), PUT it (to
 * /status when status is true) carrying the read resourceVersion; on 409 start over, up to
 * 10 times. *out (may be NULL) receives the written (or unchanged) object. */
typedef int (*kube_mutate_fn)(json_t *obj, void *ud, rerr **err);
_must_check_ int kube_modify(struct kube_client *c, const struct kube_resource *r, const char *ns,
                             const char *name, bool status, kube_mutate_fn mutate, void *ud,
                             json_t **out, rerr **err);

#endif
