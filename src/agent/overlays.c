/* ReaperOverlay on this node: register, reset, delete, and this node's status.nodes[] entry
 * (docs/controller.md, "the controller ↔ agent contract"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "cleanup.h"
#include "log.h"
#include "overlay.h"
#include "scan.h"
#include "util.h"

struct entry_write {
    const char *node;
    enum overlay_action action;
    const struct reset_mark *applied;
    enum op_result result;
    const char *message;
};

/* kube_modify callback: recompute the entry against the object as read now (its observed
 * values stay those the action was decided on). */
static _must_check_ int write_entry(json_t *obj, void *ud, rerr **err)
{
    (void)err;
    struct entry_write *w = ud;
    _cleanup_free_ char *now = rfc3339_now();
    json_t *entry = overlay_entry(obj, w->node, w->action, w->applied, w->result, w->message, now);
    int r = overlay_upsert_entry(obj, entry);
    json_decref(entry);
    return r;
}

struct mark_write {
    const struct reaper_config *cfg;
    const char *ns, *name; /* the ReaperOverlay */
};

/* overlay_destroy callback: the layers are aside, so the reset is done (see reset_mark.h). */
static _must_check_ int write_mark(void *ud, rerr **err)
{
    const struct mark_write *w = ud;
    return reset_mark_commit(w->cfg, w->ns, w->name, err);
}

static void forget_mark(struct agent *a, const char *ns, const char *name)
{
    rerr *e = NULL;
    if (reset_mark_remove(&a->cfg, ns, name, &e) < 0) {
        log_warn("overlay %s/%s: %s", ns, name, rerr_msg(e));
        rerr_free(e);
    }
}

/* Tear down the overlay (name NULL: the namespace's own) unless a live workload uses it;
 * *message explains a refusal. done (NULL for a delete) records a reset once it happened. */
static enum op_result destroy(struct agent *a, const char *ns, const char *name,
                              struct mark_write *done, char **message)
{
    _cleanup_free_ char *key = overlay_key_for(&a->cfg, ns, name);
    if (key == NULL) {
        *message = xasprintf("overlay name %s is not a DNS label", name ? name : ns);
        return RES_ERROR;
    }
    struct node_snapshot s;
    rerr *e = NULL;
    if (node_scan(&a->cfg, a->o.proc, SCAN_WORKLOADS, &s, &e) < 0) {
        *message = xasprintf("scan: %s", rerr_msg(e));
        rerr_free(e);
        return RES_ERROR;
    }
    _cleanup_strv_ char **ids = xcalloc(1, sizeof(char *));
    size_t users = overlay_users(&s, key, &ids);
    node_snapshot_free(&s);
    if (users > 0) {
        _cleanup_free_ char *first = xstrdup(ids[0]);
        *message = xasprintf("waiting: %zu running workload%s use%s this overlay (%.12s%s)", users,
                             users == 1 ? "" : "s", users == 1 ? "s" : "", first,
                             users > 1 ? ", ..." : "");
        return RES_REFUSED;
    }
    struct workload_identity id = {.k8s_namespace = (char *)ns, .overlay_name = (char *)name};
    if (overlay_destroy(&a->cfg, &id, done ? write_mark : NULL, done, &e) < 0) {
        *message = xstrdup(rerr_msg(e));
        rerr_free(e);
        return RES_ERROR;
    }
    return RES_OK;
}

/* Reset the overlay (target NULL: the namespace's own) for the ReaperOverlay ns/name, unless
 * this node's mark says that reset is done already: an agent restarted, or whose status write
 * failed, must not wipe what workloads wrote into the fresh overlay since. Then only what a
 * killed destroy left is deleted. */
static enum op_result reset(struct agent *a, const char *ns, const char *name, const char *target,
                            const struct reset_mark *want, char **message)
{
    struct reset_mark done;
    rerr *e = NULL;
    int r = reset_mark_read(&a->cfg, ns, name, &done, &e);
    if (r < 0) {
        log_warn("overlay %s/%s: %s: resetting as if unmarked", ns, name, rerr_msg(e));
        rerr_free(e);
    }
    if (r <= 0 || !reset_mark_covers(&done, want)) {
        if (reset_mark_prepare(&a->cfg, ns, name, want, &e) < 0) { /* fail before, not after */
            *message = xstrdup(rerr_msg(e));
            rerr_free(e);
            return RES_ERROR;
        }
        struct mark_write w = {&a->cfg, ns, name};
        return destroy(a, ns, target, &w, message);
    }
    struct workload_identity id = {.k8s_namespace = (char *)ns, .overlay_name = (char *)target};
    if (overlay_sweep(&a->cfg, &id, &e) < 0) {
        *message = xstrdup(rerr_msg(e));
        rerr_free(e);
        return RES_ERROR;
    }
    *message = xasprintf("resetGeneration %lld, reset-request %lld already done on this node",
                         (long long)done.generation, (long long)done.request);
    return RES_OK;
}

static void count_op(struct agent *a, enum overlay_action act, enum op_result res)
{
    if (act != OVA_RESET && act != OVA_DELETE)
        return;
    agent_counters_inc(&a->counters,
                       &a->counters.overlay_ops[act == OVA_RESET ? OVL_RESET : OVL_DELETE][res]);
    if (res == RES_ERROR)
        agent_counters_error(&a->counters, COMP_OVERLAY);
}

static void log_outcome(const char *ns, const char *name, enum overlay_action act,
                        enum op_result res, const char *message)
{
    log_info("overlay %s/%s: %s %s%s%s", ns, name,
             act == OVA_REGISTER ? "registered"
             : act == OVA_RESET  ? "reset"
                                 : "delete",
             res == RES_OK        ? "done"
             : res == RES_REFUSED ? "refused"
                                  : "failed",
             message ? ": " : "", message ? message : "");
}

/* The action for this node on the object as the API server has it now. The informer's copy
 * can predate this agent's own last write (its watch event still on the way): acting on it
 * would redo a reset or delete just done, wiping what a workload has written since. */
static _must_check_ int current_action(struct agent *a, const char *ns, const char *name,
                                       enum overlay_action *act, struct reset_mark *want,
                                       rerr **err)
{
    _cleanup_json_ json_t *obj = NULL;
    int r = kube_get(a->client, &REAPER_OVERLAYS, ns, name, &obj, err);
    if (r < 0)
        return r;
    *act = overlay_action(obj, a->o.node_name);
    overlay_reset_wanted(obj, want);
    return 0;
}

int agent_overlay_reconcile(struct agent *a, const char *ns, const char *name, rerr **err)
{
    json_t *obj = kube_informer_get(a->overlays, ns, name);
    if (obj == NULL) {
        forget_mark(a, ns, name); /* normally none: a delete removes it */
        return 0;                 /* gone: deletion was handled while the finalizer held it */
    }
    enum overlay_action act = overlay_action(obj, a->o.node_name);
    const char *t = reaper_overlay_target(obj);
    _cleanup_free_ char *target = t ? xstrdup(t) : NULL; /* NULL: the namespace overlay */
    json_decref(obj);
    if (act == OVA_NONE)
        return 0; /* the cache only lags: a newer object comes with an event that requeues */
    struct reset_mark want;
    int r = current_action(a, ns, name, &act, &want, err);
    if (r == -ENOENT) {
        forget_mark(a, ns, name);
        return 0;
    }
    if (r < 0)
        return r;
    if (act == OVA_NONE)
        return 0;
    _cleanup_free_ char *message = NULL;
    enum op_result res = RES_OK;
    if (act != OVA_REGISTER) {
        res = act == OVA_RESET ? reset(a, ns, name, target, &want, &message)
                               : destroy(a, ns, target, NULL, &message);
        log_outcome(ns, name, act, res, message); /* what the node did, before the status says so */
    }
    if (act == OVA_DELETE && res == RES_OK)
        forget_mark(a, ns, name); /* the object goes once the status says removed */
    count_op(a, act, res);
    struct entry_write w = {a->o.node_name, act, &want, res, message};
    r = kube_modify(a->client, &REAPER_OVERLAYS, ns, name, true, write_entry, &w, NULL, err);
    if (r == -ENOENT) {
        forget_mark(a, ns, name);
        return 0;
    }
    if (r < 0)
        return r;
    if (act == OVA_REGISTER)
        log_outcome(ns, name, act, res, message);
    if (act == OVA_RESET && res == RES_OK)
        forget_mark(a, ns, name); /* the status says it now */
    if (res != RES_OK)
        return rerr_setx(err, res == RES_REFUSED ? EBUSY : EIO, "overlay %s/%s: %s", ns, name,
                         message);
    return 0;
}
