/* ReaperDaemonJob reconciler: status first, then create/delete ReaperPods (see docs). */
#include "cleanup.h"
#include "controller.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>

static bool owned_by(const json_t *obj, const void *job)
{
    return is_owned_by(obj, job);
}

static bool any(const json_t *obj, const void *arg)
{
    return true;
}

static _must_check_ int apply_plan(struct controller *c, const json_t *job,
                                   const struct rdjob_plan *p, rerr **err)
{
    const char *ns = kj_str(job, "metadata.namespace");
    size_t i;
    json_t *v;
    json_array_foreach(p->delete, i, v)
    {
        int r = kube_delete(c->client, &REAPER_PODS, ns, json_string_value(v), NULL, err);
        if (r < 0 && r != -ENOENT)
            return rerr_wrap(err, "delete ReaperPod %s", json_string_value(v));
        if (r == -ENOENT) {
            rerr_free(*err);
            *err = NULL;
        }
    }
    json_array_foreach(p->create, i, v)
    {
        int r = kube_create(c->client, &REAPER_PODS, ns, v, NULL, err);
        if (r == -EEXIST) { /* created on an earlier pass the cache has not caught up with */
            rerr_free(*err);
            *err = NULL;
            continue;
        }
        if (r < 0)
            return rerr_wrap(err, "create ReaperPod %s", kj_str(v, "metadata.name"));
        kube_event(c->recorder, job, "Normal", "CreatedReaperPod",
                   "Created ReaperPod %s on node %s", kj_str(v, "metadata.name"),
                   kj_str(v, "spec.nodeName"));
    }
    for (size_t k = 0; k < p->events.n; k++)
        kube_event(c->recorder, job, p->events.v[k].type, p->events.v[k].reason, "%s",
                   p->events.v[k].message);
    return 0;
}

int reconcile_reaperdaemonjob(struct controller *c, const char *ns, const char *name, rerr **err)
{
    _cleanup_json_ json_t *job = kube_informer_get(c->jobs, ns, name);
    if (job == NULL || is_deleting(job))
        return 0;
    _cleanup_json_ json_t *nodes = kube_informer_list(c->nodes);
    _cleanup_json_ json_t *rpods = cache_select(c->rpods, ns, owned_by, job);
    _cleanup_json_ json_t *jobs = cache_select(c->jobs, ns, any, NULL);
    struct rdjob_plan p;
    rdjob_plan(job, nodes, rpods, jobs, &p);
    /* Status before actions: a retry is counted once even if we crash after the delete. */
    int r = update_status(c, &REAPER_DAEMONJOBS, job, json_incref(p.status), err);
    if (r >= 0)
        r = apply_plan(c, job, &p, err);
    rdjob_plan_free(&p);
    return r < 0 ? r : 0;
}
