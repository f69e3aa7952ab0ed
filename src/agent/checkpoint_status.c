/* ReaperCheckpoint, the pure part: which action, where the image goes, which container, and the
 * status the agent writes (docs/checkpoint.md, "ReaperCheckpoint"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cleanup.h"
#include "util.h"

#define CONTAINERD_SCHEME "containerd://"

/* obj.a.b... as a string (NULL when missing). */
static const char *str_at(const json_t *obj, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

enum ckpt_action checkpoint_action(const json_t *obj, const char *node, bool pod_here)
{
    const char *phase = str_at(obj, "status", "phase", NULL);
    const char *owner = str_at(obj, "status", "nodeName", NULL);
    if (str_eq(phase, "Succeeded") || str_eq(phase, "Failed"))
        return CKA_NONE;
    if (owner && *owner) {
        if (!str_eq(owner, node) || !str_eq(phase, "Running"))
            return CKA_NONE;
        bool dumped = str_eq(str_at(obj, "status", "reason", NULL), CKPT_WAITING_FOR_EXIT);
        return dumped ? CKA_RESUME : CKA_ABANDONED;
    }
    return pod_here ? CKA_START : CKA_NONE;
}

int container_id_parse(const char *container_id, char **id, rerr **err)
{
    if (container_id == NULL || *container_id == '\0')
        return rerr_setx(err, EINVAL, "no containerID yet (the container has not started)");
    if (!str_startswith(container_id, CONTAINERD_SCHEME))
        return rerr_setx(err, EINVAL, "containerID %s is not a containerd container", container_id);
    const char *v = container_id + strlen(CONTAINERD_SCHEME);
    if (!is_valid_id(v))
        return rerr_setx(err, EINVAL, "containerID %s: not a valid container id", container_id);
    *id = xstrdup(v);
    return 0;
}

/* Absolute, no empty, "." or ".." component, no trailing slash. */
static bool normalised(const char *path)
{
    if (path[0] != '/' || path[1] == '\0')
        return false;
    for (const char *p = path + 1;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

int checkpoint_destination(const char *root, const json_t *obj, char **out, rerr **err)
{
    const char *dest = str_at(obj, "spec", "destination", NULL);
    if (!normalised(root))
        return rerr_setx(err, EINVAL, "checkpoint root %s is not a normalised absolute path", root);
    _cleanup_free_ char *path =
        dest ? xstrdup(dest)
             : xasprintf("%s/%s/%s", root, str_at(obj, "metadata", "namespace", NULL),
                         str_at(obj, "metadata", "name", NULL));
    if (!normalised(path))
        return rerr_setx(err, EINVAL, "destination %s is not a normalised absolute path", path);
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0 || path[n] != '/')
        return rerr_setx(err, EPERM, "destination %s is not under the checkpoint root %s", path,
                         root);
    *out = steal_ptr(path);
    return 0;
}

void checkpoint_opts_from_spec(const json_t *obj, struct checkpoint_opts *o)
{
    const json_t *opts = json_object_get(json_object_get(obj, "spec"), "options");
    o->leave_running = json_is_true(json_object_get(opts, "leaveRunning"));
    o->tcp_established = json_is_true(json_object_get(opts, "tcpEstablished"));
    o->file_locks = json_is_true(json_object_get(opts, "fileLocks"));
    o->ext_unix_sk = json_is_true(json_object_get(opts, "extUnixSockets"));
}

int pod_container_status(const json_t *pod, const char *name, const json_t **status, rerr **err)
{
    const char *pod_name = str_at(pod, "metadata", "name", NULL);
    const json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
    if (name == NULL) {
        if (json_array_size(containers) != 1)
            return rerr_setx(err, EINVAL, "pod %s has %zu containers: set spec.container", pod_name,
                             json_array_size(containers));
        name = json_string_value(json_object_get(json_array_get(containers, 0), "name"));
    }
    const json_t *st = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    size_t i;
    const json_t *cs;
    json_array_foreach(st, i, cs)
    {
        if (str_eq(json_string_value(json_object_get(cs, "name")), name)) {
            *status = cs;
            return 0;
        }
    }
    return rerr_setx(err, ENOENT, "pod %s has no status for container %s", pod_name,
                     name ? name : "(unnamed)");
}

static bool terminated_as(const json_t *cs, const char *state, const char *container_id)
{
    const json_t *t = json_object_get(json_object_get(cs, state), "terminated");
    return t && str_eq(json_string_value(json_object_get(t, "containerID")), container_id);
}

bool pod_container_exited(const json_t *pod, const char *container_id)
{
    const json_t *st = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    size_t i;
    const json_t *cs;
    json_array_foreach(st, i, cs)
    {
        if (terminated_as(cs, "state", container_id) ||
            terminated_as(cs, "lastState", container_id))
            return true;
    }
    return false;
}

char *pod_log_path(const char *log_root, const json_t *pod, const char *container,
                   long long restart_count)
{
    return xasprintf("%s/%s_%s_%s/%s/%lld.log", log_root,
                     str_at(pod, "metadata", "namespace", NULL),
                     str_at(pod, "metadata", "name", NULL), str_at(pod, "metadata", "uid", NULL),
                     container, restart_count);
}

static void set_str(json_t *st, const char *key, const char *v)
{
    if (v)
        json_object_set_new(st, key, json_string(v));
}

static void set_int(json_t *st, const char *key, long long v)
{
    if (v >= 0)
        json_object_set_new(st, key, json_integer(v));
}

void checkpoint_status_apply(json_t *obj, const struct ckpt_status *s, const char *now)
{
    json_t *st = json_object_get(obj, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(obj, "status", st);
    }
    set_str(st, "phase", s->phase);
    set_str(st, "reason", s->reason);
    if (s->message)
        json_object_set_new(st, "message", json_string(s->message));
    else
        json_object_del(st, "message");
    set_str(st, "nodeName", s->node);
    set_str(st, "containerID", s->container_id);
    set_str(st, "imagePath", s->image_path);
    set_str(st, "logPath", s->log_path);
    set_str(st, "criuVersion", s->criu_version);
    set_int(st, "sizeBytes", s->size_bytes);
    set_int(st, "durationMilliseconds", s->duration_ms);
    set_int(st, "logCopied", s->log_lines);
    if (json_object_get(st, "startTime") == NULL)
        json_object_set_new(st, "startTime", json_string(now));
    if (str_eq(s->phase, "Succeeded") || str_eq(s->phase, "Failed"))
        json_object_set_new(st, "completionTime", json_string(now));
    json_t *gen = json_object_get(json_object_get(obj, "metadata"), "generation");
    if (json_is_integer(gen))
        json_object_set(st, "observedGeneration", gen);
}
