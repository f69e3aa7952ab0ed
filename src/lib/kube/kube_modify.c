/* Read-modify-write with optimistic concurrency, retried on 409 Conflict. */
#include "cleanup.h"
#include "kjson.h"
#include "kube_client.h"

#include <errno.h>

#define MODIFY_ATTEMPTS 10

/* One attempt: 0 written or unchanged, -ESTALE on conflict, other <0 on failure. */
static _must_check_ int modify_once(struct kube_client *c, const struct kube_resource *r,
                                    const char *ns, const char *name, bool status,
                                    kube_mutate_fn mutate, void *ud, json_t **out, rerr **err)
{
    _cleanup_json_ json_t *obj = NULL;
    int ret = kube_get(c, r, ns, name, &obj, err);
    if (ret < 0)
        return ret;
    ret = mutate(obj, ud, err);
    if (ret < 0)
        return ret;
    json_t *written = NULL;
    if (ret == 0) {
        ret = status ? kube_update_status(c, r, obj, &written, err)
                     : kube_update(c, r, obj, &written, err);
        if (ret < 0)
            return ret;
    }
    if (out)
        *out = written ? written : json_incref(obj);
    else
        json_decref(written);
    return 0;
}

int kube_modify(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const char *name, bool status, kube_mutate_fn mutate, void *ud, json_t **out,
                rerr **err)
{
    for (int i = 0;; i++) {
        int ret = modify_once(c, r, ns, name, status, mutate, ud, out, err);
        if (ret != -ESTALE || i + 1 >= MODIFY_ATTEMPTS)
            return ret;
        rerr_free(*err);
        *err = NULL;
    }
}
