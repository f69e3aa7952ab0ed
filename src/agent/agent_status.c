/* Pure JSON decisions: this node's ReaperOverlay status entry, the ReaperReady node condition,
 * and reading reaper.conf out of the ConfigMap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "util.h"

#define RESET_REQUEST  "reaper.io/reset-request"
#define CONDITION_TYPE "ReaperReady"

/* obj.status.<key> as an array, creating status and the array if missing. */
static json_t *status_array(json_t *obj, const char *key)
{
    json_t *status = json_object_get(obj, "status");
    if (!json_is_object(status)) {
        status = json_object();
        json_object_set_new(obj, "status", status);
    }
    json_t *arr = json_object_get(status, key);
    if (!json_is_array(arr)) {
        arr = json_array();
        json_object_set_new(status, key, arr);
    }
    return arr;
}

static json_int_t reset_generation(const json_t *obj)
{
    return json_integer_value(json_object_get(json_object_get(obj, "spec"), "resetGeneration"));
}

/* The reset-request annotation: a decimal counter, missing or malformed = 0. */
static json_int_t reset_request(const json_t *obj)
{
    const char *v = json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "metadata"), "annotations"), RESET_REQUEST));
    int64_t n = 0;
    if (v == NULL || parse_int64(v, 0, INT64_MAX, &n) < 0)
        return 0;
    return (json_int_t)n;
}

static json_t *find_entry(const json_t *obj, const char *node, size_t *index)
{
    json_t *nodes = json_object_get(json_object_get(obj, "status"), "nodes");
    size_t i;
    json_t *e;
    json_array_foreach(nodes, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "nodeName"));
        if (n && strcmp(n, node) == 0) {
            if (index)
                *index = i;
            return e;
        }
    }
    return NULL;
}

static bool deleting(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
}

enum overlay_action overlay_action(const json_t *obj, const char *node)
{
    json_t *e = find_entry(obj, node, NULL);
    if (deleting(obj))
        return e && json_is_true(json_object_get(e, "removed")) ? OVA_NONE : OVA_DELETE;
    if (e == NULL)
        return OVA_REGISTER;
    if (json_integer_value(json_object_get(e, "observedResetGeneration")) < reset_generation(obj) ||
        json_integer_value(json_object_get(e, "observedResetRequest")) < reset_request(obj))
        return OVA_RESET;
    return OVA_NONE;
}

void overlay_reset_wanted(const json_t *obj, struct reset_mark *out)
{
    const char *uid = json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
    memset(out, 0, sizeof(*out));
    snprintf(out->uid, sizeof(out->uid), "%s", uid ? uid : "");
    out->generation = reset_generation(obj);
    out->request = reset_request(obj);
}

/* applied: what the node acted on, which the object may have moved past since (a reset asked
 * for meanwhile is still to do); NULL: the object's values. */
static void set_observed(json_t *e, const json_t *obj, const struct reset_mark *applied)
{
    struct reset_mark now;
    if (applied == NULL) {
        overlay_reset_wanted(obj, &now);
        applied = &now;
    }
    json_object_set_new(e, "observedResetGeneration", json_integer(applied->generation));
    json_object_set_new(e, "observedResetRequest", json_integer(applied->request));
}

static void set_outcome(json_t *e, enum op_result result, const char *message)
{
    json_object_del(e, "error");
    json_object_del(e, "message");
    if (result == RES_ERROR)
        json_object_set_new(e, "error", json_string(message ? message : "failed"));
    else if (result == RES_REFUSED && message)
        json_object_set_new(e, "message", json_string(message));
}

json_t *overlay_entry(const json_t *obj, const char *node, enum overlay_action a,
                      const struct reset_mark *applied, enum op_result result, const char *message,
                      const char *now)
{
    json_t *old = find_entry(obj, node, NULL);
    json_t *e = old ? json_deep_copy(old) : json_object();
    json_object_set_new(e, "nodeName", json_string(node));
    set_outcome(e, result, message);
    switch (a) {
    case OVA_REGISTER:
        json_object_set_new(e, "ready", json_true());
        set_observed(e, obj, applied);
        break;
    case OVA_RESET:
        /* Refused: the old overlay is still there and usable; the entry stays behind. */
        json_object_set_new(e, "ready", json_boolean(result != RES_ERROR));
        if (result == RES_OK) {
            set_observed(e, obj, applied);
            json_object_set_new(e, "lastResetTime", json_string(now));
        }
        break;
    case OVA_DELETE:
        json_object_set_new(e, "ready", json_false());
        json_object_set_new(e, "removed", json_boolean(result == RES_OK));
        break;
    case OVA_NONE:
        break;
    }
    return e;
}

int overlay_upsert_entry(json_t *obj, const json_t *entry)
{
    const char *node = json_string_value(json_object_get(entry, "nodeName"));
    size_t idx;
    json_t *old = find_entry(obj, node, &idx);
    if (old && json_equal(old, entry))
        return 1;
    json_t *nodes = status_array(obj, "nodes");
    if (old)
        json_array_set(nodes, idx, (json_t *)entry);
    else
        json_array_append(nodes, (json_t *)entry);
    return 0;
}

/* ---- node condition ---- */

static const char *first_reason(const struct node_checks *c)
{
    if (c->binaries_error)
        return "BinariesMissing";
    if (c->runtime_error)
        return "RuntimeNotRegistered";
    if (c->state_error)
        return "StateDirNotWritable";
    return "Ready";
}

static char *condition_message(const struct node_checks *c)
{
    const char *parts[] = {c->binaries_error, c->runtime_error, c->state_error};
    char *msg = NULL;
    for (size_t i = 0; i < 3; i++) {
        if (parts[i] == NULL)
            continue;
        char *next = msg ? xasprintf("%s; %s", msg, parts[i]) : xstrdup(parts[i]);
        free(msg);
        msg = next;
    }
    if (msg == NULL)
        msg = xstrdup("Reaper binaries run, containerd has the runtime registered, state "
                      "directory writable");
    if (c->criu == NULL)
        return msg;
    char *with_criu = xasprintf("%s; checkpoint/restore: %s", msg, c->criu);
    free(msg);
    return with_criu;
}

json_t *node_condition(const struct node_checks *c, const json_t *prev, const char *now)
{
    bool ok = !c->binaries_error && !c->runtime_error && !c->state_error;
    const char *status = ok ? "True" : "False";
    const char *prev_status = json_string_value(json_object_get(prev, "status"));
    const char *prev_change = json_string_value(json_object_get(prev, "lastTransitionTime"));
    bool same = prev_status && strcmp(prev_status, status) == 0 && prev_change;
    char *msg = condition_message(c);
    json_t *cond = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", CONDITION_TYPE, "status",
                             status, "reason", first_reason(c), "message", msg, "lastHeartbeatTime",
                             now, "lastTransitionTime", same ? prev_change : now);
    free(msg);
    return cond;
}

static bool same_condition(const json_t *a, const json_t *b)
{
    const char *keys[] = {"status", "reason", "message"};
    for (size_t i = 0; i < 3; i++)
        if (!json_equal(json_object_get(a, keys[i]), json_object_get(b, keys[i])))
            return false;
    return true;
}

int node_upsert_condition(json_t *node, const json_t *cond)
{
    json_t *conds = status_array(node, "conditions");
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, CONDITION_TYPE) == 0) {
            int unchanged = same_condition(c, cond);
            json_array_set(conds, i, (json_t *)cond);
            return unchanged;
        }
    }
    json_array_append(conds, (json_t *)cond);
    return 0;
}

const char *config_map_reaper_conf(const json_t *cm)
{
    return json_string_value(json_object_get(json_object_get(cm, "data"), "reaper.conf"));
}
