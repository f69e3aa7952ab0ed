/* ReaperCheckpoint on this node: claim it, dump the container with the node library (CRIU),
 * copy its CRI log into the image, report in status (docs/checkpoint.md, "ReaperCheckpoint").
 * A checkpoint runs at most once: a claimed one found mid-dump after a restart is failed,
 * never dumped again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentd.h"
#include "checkpoint.h"
#include "cleanup.h"
#include "kjson.h"
#include "log.h"
#include "state.h"
#include "util.h"

#define CONTAINER_LOG "container.log"

/* What a checkpoint of this pod's container needs, checked before it is claimed. */
struct target {
    const char *container_id; /* "containerd://<id>", borrowed from the pod */
    char *id;
    char *dest;
    char *log_path;
};

static void target_free(struct target *t)
{
    free(t->id);
    free(t->dest);
    free(t->log_path);
}

/* ---- node I/O ---- */

/* Missing or an empty directory; -ENOTEMPTY otherwise. */
static _must_check_ int dir_empty(const char *path, rerr **err)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT ? 0 : rerr_set(err, errno, "destination %s", path);
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            r = rerr_setx(err, ENOTEMPTY, "destination %s is not empty (%s)", path, e->d_name);
    closedir(d);
    return r;
}

/* The nearest existing ancestor of dest resolves (symlinks followed) under root. */
static _must_check_ int dest_inside_root(const char *root, const char *dest, rerr **err)
{
    char real_root[PATH_MAX], real[PATH_MAX];
    if (realpath(root, real_root) == NULL)
        return rerr_set(err, errno, "checkpoint root %s", root);
    _cleanup_free_ char *p = xstrdup(dest);
    while (realpath(p, real) == NULL) {
        if (errno != ENOENT)
            return rerr_set(err, errno, "destination %s", p);
        *strrchr(p, '/') = '\0'; /* dest is absolute and strictly under root */
    }
    size_t n = strlen(real_root);
    if (strncmp(real, real_root, n) != 0 || (real[n] != '/' && real[n] != '\0'))
        return rerr_setx(err, EPERM, "destination %s resolves outside the checkpoint root %s", dest,
                         root);
    return 0;
}

/* Bytes of the regular files in dir (CRIU's image directory is flat). */
static long long dir_size(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    long long total = 0;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL)
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
            total += st.st_size;
    closedir(d);
    return total;
}

/* Copy the first `size` bytes of in to out; *keep: the end of the last complete line. */
static _must_check_ int copy_lines(int in, int out, off_t size, long long *lines, off_t *keep,
                                   rerr **err)
{
    char buf[65536];
    off_t done = 0;
    while (done < size) {
        size_t want = (size_t)(size - done) < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
        ssize_t n = read(in, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* truncated by a rotation meanwhile: what was read is kept */
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n') {
                (*lines)++;
                *keep = done + i + 1;
            }
        if (write_all(out, buf, (size_t)n) < 0)
            return rerr_set(err, errno, "write");
        done += n;
    }
    return 0;
}

/* Copy src's complete CRI log lines (up to its last newline, within its first limit bytes;
 * limit < 0: as it is now) into dst through a temp file. *lines: lines copied. A missing src
 * gives an empty dst. */
static _must_check_ int copy_log(const char *src, off_t limit, const char *dst, long long *lines,
                                 rerr **err)
{
    *lines = 0;
    _cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if ((in < 0 && errno != ENOENT) || (in >= 0 && fstat(in, &st) < 0))
        return rerr_set(err, errno, "container log %s", src);
    _cleanup_free_ char *tmp = xasprintf("%s.tmp", dst);
    _cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        return rerr_set(err, errno, "%s", tmp);
    off_t keep = 0;
    off_t size = in < 0 ? 0 : limit >= 0 && limit < st.st_size ? limit : st.st_size;
    int r = copy_lines(in, out, size, lines, &keep, err);
    if (r == 0 && (ftruncate(out, keep) < 0 || fsync(out) < 0 || rename(tmp, dst) < 0))
        r = rerr_set(err, errno, "%s", dst);
    if (r < 0) {
        unlink(tmp);
        return rerr_wrap(err, "copy %s", src);
    }
    return 0;
}

/* ---- status ---- */

struct status_write {
    json_t *status; /* written as a whole */
    const char *node;
    bool claim; /* only while still unclaimed */
    bool lost;
};

static _must_check_ int write_status(json_t *obj, void *ud, rerr **err)
{
    (void)err;
    struct status_write *w = ud;
    if (w->claim && checkpoint_action(obj, w->node, true) != CKA_START) {
        w->lost = true;
        return 1;
    }
    json_object_set(obj, "status", w->status);
    return 0;
}

/* Write status as obj's whole status. One that fails after the claim is kept (by uid) and
 * written before anything else is done with the object. *lost: claim is set and the object is
 * no longer unclaimed. */
static _must_check_ int write_whole(struct agent *a, const json_t *obj, json_t *status, bool claim,
                                    bool *lost, rerr **err)
{
    struct status_write w = {status, a->o.node_name, claim, false};
    const char *ns = kj_str(obj, "metadata.namespace"), *name = kj_str(obj, "metadata.name");
    const char *uid = kj_str(obj, "metadata.uid");
    int r =
        kube_modify(a->client, &REAPER_CHECKPOINTS, ns, name, true, write_status, &w, NULL, err);
    if (lost)
        *lost = w.lost || r == -ENOENT; /* deleted meanwhile: nothing to do either */
    if (uid && r < 0 && r != -ENOENT && !claim)
        json_object_set(a->ckpt_unwritten, uid, status);
    else if (uid)
        json_object_del(a->ckpt_unwritten, uid);
    return r == -ENOENT ? 0 : r;
}

/* Write obj's status changed by s. */
static _must_check_ int put_status(struct agent *a, const json_t *obj, const struct ckpt_status *s,
                                   bool claim, bool *lost, rerr **err)
{
    _cleanup_json_ json_t *copy = json_deep_copy(obj);
    _cleanup_free_ char *now = kj_time_now();
    checkpoint_status_apply(copy, s, now);
    return write_whole(a, obj, json_object_get(copy, "status"), claim, lost, err);
}

/* The final status; counted and logged. */
static _must_check_ int finish(struct agent *a, const json_t *obj, struct ckpt_status *s,
                               rerr **err)
{
    bool ok = strcmp(s->phase, "Succeeded") == 0;
    agent_counters_inc(&a->counters, &a->counters.checkpoints[ok ? CKR_SUCCEEDED : CKR_FAILED]);
    if (!ok)
        agent_counters_error(&a->counters, COMP_CHECKPOINT);
    log_info("checkpoint %s/%s: %s %s%s%s", kj_str(obj, "metadata.namespace"),
             kj_str(obj, "metadata.name"), s->phase, s->reason, s->message ? ": " : "",
             s->message ? s->message : "");
    return put_status(a, obj, s, false, NULL, err);
}

static _must_check_ int fail(struct agent *a, const json_t *obj, const char *reason,
                             const char *message, rerr **err)
{
    struct ckpt_status s = {.phase = "Failed",
                            .reason = reason,
                            .message = message,
                            .node = a->o.node_name,
                            .size_bytes = -1,
                            .duration_ms = -1,
                            .log_lines = -1};
    return finish(a, obj, &s, err);
}

/* ---- the steps ---- */

static _must_check_ int check_container(struct agent *a, const json_t *obj, const json_t *pod,
                                        struct target *t, const char **reason, rerr **err)
{
    const json_t *cs;
    *reason = "ContainerNotFound";
    int r = pod_container_status(pod, kj_str(obj, "spec.container"), &cs, err);
    if (r < 0)
        return r;
    t->container_id = kj_str(cs, "containerID");
    if ((r = container_id_parse(t->container_id, &t->id, err)) < 0)
        return r;
    *reason = "NotReaperContainer";
    struct container_state *st = NULL;
    if (state_load(a->cfg.runtime_root, t->id, &st, err) < 0)
        return rerr_wrap(err, "not a Reaper container on node %s (runtime root %s)", a->o.node_name,
                         a->cfg.runtime_root);
    enum container_status live = state_live_status(st);
    bool sandbox = st->sandbox;
    state_free(st);
    *reason = "ContainerNotRunning";
    if (sandbox || live != STATUS_RUNNING)
        return rerr_setx(err, EINVAL, "container %.12s is %s, not running", t->id,
                         sandbox ? "a pod sandbox" : container_status_name(live));
    t->log_path = pod_log_path(a->o.pod_log_dir, pod, kj_str(cs, "name"),
                               (long long)kj_int(cs, "restartCount", 0));
    return 0;
}

static _must_check_ int check_destination(struct agent *a, const json_t *obj, struct target *t,
                                          const char **reason, rerr **err)
{
    *reason = "InvalidDestination";
    int r = checkpoint_destination(a->o.checkpoint_root, obj, &t->dest, err);
    if (r == 0)
        r = dest_inside_root(a->o.checkpoint_root, t->dest, err);
    if (r < 0)
        return r;
    *reason = "DestinationNotEmpty";
    return dir_empty(t->dest, err);
}

static char *criu_version(struct agent *a)
{
    pthread_mutex_lock(&a->counters.mu);
    char *v = a->counters.criu_version ? xstrdup(a->counters.criu_version) : NULL;
    pthread_mutex_unlock(&a->counters.mu);
    if (v == NULL) {
        struct criu_info info = {0};
        criu_probe(&a->cfg, &info);
        agent_counters_set_criu(&a->counters, &info);
        v = info.version ? xstrdup(info.version) : NULL;
        criu_info_free(&info);
    }
    return v;
}

/* The log copy that ends a checkpoint (limit: see copy_log). */
static _must_check_ int copy_and_succeed(struct agent *a, const json_t *obj, off_t limit,
                                         const char *note, rerr **err)
{
    const char *image = kj_str(obj, "status.imagePath");
    const char *log = kj_str(obj, "status.logPath") ? kj_str(obj, "status.logPath") : "";
    _cleanup_free_ char *dst = xasprintf("%s/" CONTAINER_LOG, image);
    long long lines = 0;
    rerr *e = NULL;
    if (copy_log(log, limit, dst, &lines, &e) < 0) {
        _cleanup_rerr_ rerr *ce = e;
        return fail(a, obj, "LogCopyFailed", rerr_msg(ce), err);
    }
    _cleanup_free_ char *msg = access(log, F_OK) == 0
                                   ? (note ? xstrdup(note) : NULL)
                                   : xasprintf("no CRI log at %s: container.log is empty%s%s", log,
                                               note ? "; " : "", note ? note : "");
    struct ckpt_status s = {.phase = "Succeeded",
                            .reason = CKPT_DONE,
                            .message = msg,
                            .size_bytes = dir_size(image),
                            .duration_ms = -1,
                            .log_lines = lines};
    return finish(a, obj, &s, err);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* CRIU dump, then: leaveRunning copies the log up to where it was when the dump ended;
 * otherwise the workload was stopped and its log is copied once the kubelet reports the exit
 * (containerd has then drained its output into the log). */
static _must_check_ int dump(struct agent *a, json_t *obj, const struct target *t, rerr **err)
{
    struct checkpoint_opts o = {.image_path = t->dest};
    checkpoint_opts_from_spec(obj, &o);
    rerr *e = NULL;
    uint64_t t0 = monotonic_ns();
    int r = container_checkpoint(&a->cfg, t->id, &o, &e);
    off_t log_end = file_size(t->log_path);
    long long ms = (long long)((monotonic_ns() - t0) / 1000000);
    if (r < 0) {
        _cleanup_rerr_ rerr *ce = e;
        return fail(a, obj, "CheckpointFailed", rerr_msg(ce), err);
    }
    _cleanup_free_ char *version = criu_version(a);
    struct ckpt_status s = {.phase = "Running",
                            .reason = CKPT_WAITING_FOR_EXIT,
                            .message = "dumped; the log is copied once the container's exit is "
                                       "reported",
                            .criu_version = version,
                            .size_bytes = dir_size(t->dest),
                            .duration_ms = ms,
                            .log_lines = -1};
    _cleanup_free_ char *now = kj_time_now();
    checkpoint_status_apply(obj, &s, now);
    if (o.leave_running)
        return copy_and_succeed(a, obj, log_end, NULL, err);
    log_info("checkpoint %s/%s: dumped %.12s in %lld ms; waiting for its exit",
             kj_str(obj, "metadata.namespace"), kj_str(obj, "metadata.name"), t->id, ms);
    return write_whole(a, obj, json_object_get(obj, "status"), false, NULL, err);
}

static _must_check_ int start(struct agent *a, const json_t *obj, const json_t *pod, rerr **err)
{
    struct target t = {0};
    const char *reason = NULL;
    rerr *e = NULL;
    int r = check_container(a, obj, pod, &t, &reason, &e);
    if (r == 0)
        r = check_destination(a, obj, &t, &reason, &e);
    if (r < 0) {
        _cleanup_rerr_ rerr *ce = e;
        target_free(&t);
        return fail(a, obj, reason, rerr_msg(ce), err);
    }
    struct ckpt_status s = {.phase = "Running",
                            .reason = CKPT_DUMPING,
                            .node = a->o.node_name,
                            .container_id = t.container_id,
                            .image_path = t.dest,
                            .log_path = t.log_path,
                            .size_bytes = -1,
                            .duration_ms = -1,
                            .log_lines = -1};
    bool lost = false;
    _cleanup_json_ json_t *claimed = json_deep_copy(obj);
    r = put_status(a, obj, &s, true, &lost, err);
    if (r == 0 && !lost) {
        _cleanup_free_ char *now = kj_time_now();
        checkpoint_status_apply(claimed, &s, now);
        r = dump(a, claimed, &t, err);
    }
    target_free(&t);
    return r;
}

static _must_check_ int resume(struct agent *a, const json_t *obj, const json_t *pod, rerr **err)
{
    if (pod && !pod_container_exited(pod, kj_str(obj, "status.containerID")))
        return 0; /* the kubelet's status update requeues it */
    return copy_and_succeed(a, obj, -1,
                            pod ? NULL
                                : "the pod was deleted before its container's exit was "
                                  "reported: the log is copied as found",
                            err);
}

/* Claimed here and still marked dumping, with no dump running: this agent restarted during
 * it (or could not write what followed, kept in ckpt_unwritten). */
static _must_check_ int abandoned(struct agent *a, const json_t *obj, rerr **err)
{
    json_t *saved = json_object_get(a->ckpt_unwritten, kj_str(obj, "metadata.uid"));
    if (saved) {
        _cleanup_json_ json_t *status = json_incref(saved);
        return write_whole(a, obj, status, false, NULL, err);
    }
    _cleanup_free_ char *msg = xasprintf(
        "reaper-agent restarted while CRIU was dumping: the image in %s may be incomplete and "
        "the workload may have been stopped; a checkpoint is never run twice (create a new "
        "ReaperCheckpoint with an empty destination)",
        kj_str(obj, "status.imagePath") ? kj_str(obj, "status.imagePath") : "(unknown)");
    return fail(a, obj, "AgentRestarted", msg, err);
}

int agent_checkpoint_reconcile(struct agent *a, const char *ns, const char *name, rerr **err)
{
    _cleanup_json_ json_t *cached = kube_informer_get(a->checkpoints, ns, name);
    if (cached == NULL)
        return 0;
    const char *pod_name = kj_str(cached, "spec.podName");
    _cleanup_json_ json_t *pod = pod_name ? kube_informer_get(a->pods, ns, pod_name) : NULL;
    const char *pod_node = kj_str(pod, "spec.nodeName");
    bool here = pod_node && strcmp(pod_node, a->o.node_name) == 0;
    if (checkpoint_action(cached, a->o.node_name, here) == CKA_NONE)
        return 0; /* the cache lags at most: a newer object comes with an event */
    if (!kube_informer_wait_synced(a->pods, 0))
        return 0; /* "no pod" means nothing yet; the pods' ADDED events requeue it */
    /* Decide on the object as it is now: the cache can lack this agent's own last write. */
    _cleanup_json_ json_t *obj = NULL;
    int r = kube_get(a->client, &REAPER_CHECKPOINTS, ns, name, &obj, err);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    switch (checkpoint_action(obj, a->o.node_name, here)) {
    case CKA_START:
        return start(a, obj, pod, err);
    case CKA_RESUME:
        return resume(a, obj, here ? pod : NULL, err);
    case CKA_ABANDONED:
        return abandoned(a, obj, err);
    case CKA_NONE:
        break;
    }
    return 0;
}

void agent_checkpoints_for_pod(struct agent *a, const json_t *pod)
{
    const char *ns = kj_str(pod, "metadata.namespace"), *name = kj_str(pod, "metadata.name");
    _cleanup_json_ json_t *all = kube_informer_list(a->checkpoints);
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c)
    {
        const char *cns = kj_str(c, "metadata.namespace"), *cpod = kj_str(c, "spec.podName");
        if (!ns || !name || !cns || !cpod || strcmp(cns, ns) != 0 || strcmp(cpod, name) != 0 ||
            checkpoint_action(c, a->o.node_name, true) == CKA_NONE)
            continue;
        _cleanup_free_ char *key =
            xasprintf(KEY_CHECKPOINT "%s/%s", ns, kj_str(c, "metadata.name"));
        workqueue_add(a->queue, key);
    }
}
