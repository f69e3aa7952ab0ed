/* Queue key dispatch and the helpers the reconcilers share. */
#include "cleanup.h"
#include "controller.h"
#include "kjson.h"
#include "util.h"

#include <errno.h>
#include <string.h>

void controller_enqueue(struct controller *c, const char *kind, const char *ns, const char *name)
{
    if (name == NULL)
        return;
    _cleanup_free_ char *key = xasprintf("%s/%s/%s", kind, ns ? ns : "", name);
    workqueue_add(c->queue, key);
}

int controller_reconcile(struct controller *c, const char *key, rerr **err)
{
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return rerr_setx(err, EINVAL, "bad queue key %s", key);
    _cleanup_free_ char *kind = xstrndup(key, (size_t)(slash - key));
    _cleanup_free_ char *ns = NULL, *name = NULL;
    kj_split_key(slash + 1, &ns, &name);
    int r;
    if (strcmp(kind, KEY_RPOD) == 0)
        r = reconcile_reaperpod(c, ns, name, err);
    else if (strcmp(kind, KEY_ROVL) == 0)
        r = reconcile_reaperoverlay(c, ns, name, err);
    else if (strcmp(kind, KEY_RDJOB) == 0)
        r = reconcile_reaperdaemonjob(c, ns, name, err);
    else
        return rerr_setx(err, EINVAL, "bad queue key %s", key);
    return r < 0 ? rerr_wrap(err, "%s", key) : 0;
}

int update_status(struct controller *c, const struct kube_resource *r, const json_t *obj,
                  json_t *status, rerr **err)
{
    _cleanup_json_ json_t *st = status;
    if (json_equal(st, kj_get(obj, "status")))
        return 0;
    _cleanup_json_ json_t *next = json_deep_copy(obj);
    json_object_set(next, "status", st);
    int ret = kube_update_status(c->client, r, next, NULL, err);
    if (ret == -ENOENT) { /* deleted meanwhile: nothing left to report on */
        rerr_free(*err);
        *err = NULL;
        return 0;
    }
    return ret;
}

json_t *cache_select(struct kube_informer *inf, const char *ns,
                     bool (*pred)(const json_t *obj, const void *arg), const void *arg)
{
    _cleanup_json_ json_t *all = kube_informer_list(inf);
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const char *ons = kj_str(o, "metadata.namespace");
        if ((ns == NULL || (ons && strcmp(ons, ns) == 0)) && pred(o, arg))
            json_array_append(out, o);
    }
    return out;
}
