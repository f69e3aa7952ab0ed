/* containerd.task.v2.Task (and v3: same messages) over ttrpc: decode, act on the model, reply. */
#include "ckpt_opts.h"
#include "cleanup.h"
#include "log.h"
#include "pb.h"
#include "proc_tree.h"
#include "process.h"
#include "service.h"
#include "stats.h"
#include "timing.h"
#include "util.h"

#include "cgroups_v1.pb-c.h"
#include "cgroups_v2.pb-c.h"
#include "events.pb-c.h"
#include "runc.pb-c.h"
#include "task.pb-c.h"
#include "types.pb-c.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#define GO_ZERO_TIME_SECONDS (-62135596800LL) /* containerd 1.6 encodes "no time" like this */

typedef void (*rpc_fn)(struct shim_service *s, struct ttrpc_conn *c,
                       const struct ttrpc_request *req);

/* ---- encoding helpers ---- */

static void reply_msg(struct ttrpc_conn *c, uint32_t sid, const ProtobufCMessage *m)
{
    size_t n;
    _cleanup_free_ uint8_t *buf = pb_pack(m, &n);
    ttrpc_reply(c, sid, TTRPC_OK, NULL, buf, n);
}

static void reply_empty(struct ttrpc_conn *c, uint32_t sid)
{
    ttrpc_reply(c, sid, TTRPC_OK, NULL, NULL, 0);
}

static void reply_err(struct ttrpc_conn *c, uint32_t sid, int r, rerr *err)
{
    ttrpc_reply(c, sid, ttrpc_code_from_errno(r), rerr_msg(err), NULL, 0);
    rerr_free(err);
}

static void reply_code(struct ttrpc_conn *c, uint32_t sid, enum ttrpc_code code, const char *msg)
{
    ttrpc_reply(c, sid, code, msg, NULL, 0);
}

/* containerd 1.6 always encodes timestamps; "none" is Go's zero time. */
static Reaper__Types__Timestamp timestamp_of(const struct timespec *ts)
{
    if (ts && (ts->tv_sec || ts->tv_nsec))
        return pb_timestamp(ts);
    Reaper__Types__Timestamp t = REAPER__TYPES__TIMESTAMP__INIT;
    t.seconds = GO_ZERO_TIME_SECONDS;
    return t;
}

static void publish(struct shim_service *s, const char *topic, const char *name,
                    const ProtobufCMessage *m)
{
    if (s->events == NULL)
        return;
    size_t n;
    _cleanup_free_ uint8_t *buf = pb_pack(m, &n);
    _cleanup_free_ char *type_url = xasprintf("containerd.events.%s", name);
    events_publish(s->events, topic, type_url, buf, n);
}

#define UNPACK(var, type, fn)                                                                      \
    type *var = fn##__unpack(NULL, req->payload_len, req->payload);                                \
    if (var == NULL) {                                                                             \
        reply_code(c, req->stream_id, TTRPC_INVALID_ARGUMENT, "cannot decode " #type);             \
        return;                                                                                    \
    }

static _must_check_ int find(struct shim_service *s, const char *id, const char *exec_id,
                             struct proc **p, rerr **err)
{
    return tasks_find_proc(&s->tasks, id, exec_id, p, err);
}

/* ---- events for process milestones ---- */

static void publish_exit(struct shim_service *s, const struct proc *p)
{
    Reaper__Events__TaskExit ev = REAPER__EVENTS__TASK_EXIT__INIT;
    Reaper__Types__Timestamp at = timestamp_of(&p->exited_at);
    ev.container_id = p->task->id;
    ev.id = p->exec_id ? p->exec_id : p->task->id;
    ev.pid = (uint32_t)proc_pid(p);
    ev.exit_status = (uint32_t)p->exit_status;
    ev.exited_at = &at;
    publish(s, "/tasks/exit", "TaskExit", &ev.base);
}

static void publish_delete(struct shim_service *s, const struct proc *p)
{
    Reaper__Events__TaskDelete ev = REAPER__EVENTS__TASK_DELETE__INIT;
    Reaper__Types__Timestamp at = timestamp_of(&p->exited_at);
    ev.container_id = p->task->id;
    ev.id = p->task->id;
    ev.pid = (uint32_t)proc_pid(p);
    ev.exit_status = (uint32_t)p->exit_status;
    ev.exited_at = &at;
    publish(s, "/tasks/delete", "TaskDelete", &ev.base);
}

static void reply_delete(struct ttrpc_conn *c, uint32_t sid, const struct proc *p)
{
    Reaper__Task__DeleteResponse resp = REAPER__TASK__DELETE_RESPONSE__INIT;
    Reaper__Types__Timestamp at = timestamp_of(&p->exited_at);
    resp.pid = (uint32_t)proc_pid(p);
    resp.exit_status = (uint32_t)p->exit_status;
    resp.exited_at = &at;
    reply_msg(c, sid, &resp.base);
}

static void reply_wait(struct ttrpc_conn *c, uint32_t sid, const struct proc *p)
{
    Reaper__Task__WaitResponse resp = REAPER__TASK__WAIT_RESPONSE__INIT;
    Reaper__Types__Timestamp at = timestamp_of(&p->exited_at);
    resp.exit_status = (uint32_t)p->exit_status;
    resp.exited_at = &at;
    reply_msg(c, sid, &resp.base);
}

/* Delete a finished process: answer, announce, forget. */
static void finish_delete(struct shim_service *s, struct ttrpc_conn *c, uint32_t sid,
                          struct proc *p)
{
    reply_delete(c, sid, p);
    if (p->exec_id == NULL)
        publish_delete(s, p);
    rerr *err = NULL;
    if (proc_remove(&s->tasks, p, &err) < 0)
        log_warn("delete: %s", rerr_msg(err));
    rerr_free(err);
    service_maybe_quit(s);
}

/* Wait callers are answered first, then TaskExit is queued (as the runc shim does: the exit is
 * set, which releases Wait, before the event is sent), then a parked Delete removes p. */
void task_rpc_proc_finished(struct proc *p, void *user)
{
    struct shim_service *s = user;
    struct parked *list = p->parked, *del = NULL;
    p->parked = NULL;
    while (list) {
        struct parked *x = list;
        list = x->next;
        if (x->kind == PARKED_WAIT)
            reply_wait(x->conn, x->stream_id, p);
        if (x->kind == PARKED_DELETE && del == NULL) {
            del = x; /* answered last: it removes p */
            continue;
        }
        ttrpc_conn_unref(x->conn);
        free(x);
    }
    publish_exit(s, p);
    if (del) {
        finish_delete(s, del->conn, del->stream_id, p);
        ttrpc_conn_unref(del->conn);
        free(del);
    }
}

static void park(struct proc *p, struct ttrpc_conn *c, uint32_t sid, enum parked_kind kind)
{
    struct parked *x = xcalloc(1, sizeof(*x));
    x->conn = ttrpc_conn_ref(c);
    x->stream_id = sid;
    x->kind = kind;
    x->next = p->parked;
    p->parked = x;
}

/* ---- the RPCs ---- */

static void rpc_create(struct shim_service *s, struct ttrpc_conn *c,
                       const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__CreateTaskRequest, reaper__task__create_task_request);
    struct proc_stdio io = {m->stdin, m->stdout, m->stderr, m->terminal};
    struct task *t = NULL;
    rerr *err = NULL;
    /* containerd 1.6 hands a checkpoint over as a directory (it unpacks a checkpoint image). */
    const char *restore_from = m->checkpoint && *m->checkpoint ? m->checkpoint : NULL;
    int r = task_create(&s->tasks, m->id, m->bundle, &io, restore_from, &t, &err);
    if (r < 0) {
        reply_err(c, req->stream_id, r, err);
        goto out;
    }
    Reaper__Task__CreateTaskResponse resp = REAPER__TASK__CREATE_TASK_RESPONSE__INIT;
    resp.pid = (uint32_t)proc_pid(&t->init);
    reply_msg(c, req->stream_id, &resp.base);
    Reaper__Events__TaskIO tio = REAPER__EVENTS__TASK_IO__INIT;
    tio.stdin = m->stdin, tio.stdout = m->stdout, tio.stderr = m->stderr;
    tio.terminal = m->terminal;
    Reaper__Events__TaskCreate ev = REAPER__EVENTS__TASK_CREATE__INIT;
    ev.container_id = m->id, ev.bundle = m->bundle, ev.io = &tio, ev.pid = resp.pid;
    ev.n_rootfs = m->n_rootfs, ev.rootfs = m->rootfs;
    ev.checkpoint = m->checkpoint;
    publish(s, "/tasks/create", "TaskCreate", &ev.base);
out:
    reaper__task__create_task_request__free_unpacked(m, NULL);
}

static void rpc_start(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__StartRequest, reaper__task__start_request);
    struct proc *p;
    rerr *err = NULL;
    int r = find(s, m->id, m->exec_id, &p, &err);
    if (r == 0)
        r = proc_start(&s->tasks, p, &err);
    if (r < 0) {
        reply_err(c, req->stream_id, r, err);
    } else {
        /* Queued before any exit of this process can be seen: the loop reaps after we return. */
        if (p->exec_id) {
            Reaper__Events__TaskExecStarted ev = REAPER__EVENTS__TASK_EXEC_STARTED__INIT;
            ev.container_id = m->id, ev.exec_id = m->exec_id, ev.pid = (uint32_t)r;
            publish(s, "/tasks/exec-started", "TaskExecStarted", &ev.base);
        } else {
            Reaper__Events__TaskStart ev = REAPER__EVENTS__TASK_START__INIT;
            ev.container_id = m->id, ev.pid = (uint32_t)r;
            publish(s, "/tasks/start", "TaskStart", &ev.base);
        }
        Reaper__Task__StartResponse resp = REAPER__TASK__START_RESPONSE__INIT;
        resp.pid = (uint32_t)r;
        reply_msg(c, req->stream_id, &resp.base);
    }
    reaper__task__start_request__free_unpacked(m, NULL);
}

static void rpc_delete(struct shim_service *s, struct ttrpc_conn *c,
                       const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__DeleteRequest, reaper__task__delete_request);
    struct proc *p;
    rerr *err = NULL;
    int r = find(s, m->id, m->exec_id, &p, &err);
    if (r < 0) {
        reply_err(c, req->stream_id, r, err);
    } else if (p->finished) {
        finish_delete(s, c, req->stream_id, p);
    } else if (p->exec_id && p->pid == 0) { /* an exec that never started */
        finish_delete(s, c, req->stream_id, p);
    } else {
        /* Still alive: kill it and answer once it is gone. Exited, its output held for a
         * reader: the client deleting it will not read it. */
        park(p, c, req->stream_id, PARKED_DELETE);
        _cleanup_rerr_ rerr *e = NULL;
        if (p->exited)
            proc_abandon_output(p);
        else if (proc_kill(&s->tasks, p, SIGKILL, true, &e) < 0)
            log_warn("delete: %s", rerr_msg(e));
    }
    reaper__task__delete_request__free_unpacked(m, NULL);
}

static void rpc_state(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__StateRequest, reaper__task__state_request);
    struct proc *p;
    rerr *err = NULL;
    int r = find(s, m->id, m->exec_id, &p, &err);
    if (r < 0) {
        reply_err(c, req->stream_id, r, err);
    } else {
        Reaper__Task__StateResponse resp = REAPER__TASK__STATE_RESPONSE__INIT;
        Reaper__Types__Timestamp at = timestamp_of(p->exited ? &p->exited_at : NULL);
        resp.id = p->task->id, resp.bundle = p->task->bundle;
        resp.pid = (uint32_t)proc_pid(p);
        resp.status = (Reaper__Types__Status)p->status;
        resp.stdin = p->io.stdin_path, resp.stdout = p->io.stdout_path;
        resp.stderr = p->io.stderr_path, resp.terminal = p->io.terminal;
        resp.exit_status = (uint32_t)p->exit_status;
        resp.exited_at = &at;
        resp.exec_id = p->exec_id ? p->exec_id : "";
        reply_msg(c, req->stream_id, &resp.base);
    }
    reaper__task__state_request__free_unpacked(m, NULL);
}

/* The common shape of the control RPCs: find the process, act on it, answer Empty or the
 * error. Returns the action's result so callers can follow up (events). */
typedef int (*proc_action)(struct shim_service *s, struct proc *p, const void *msg, rerr **err);

/* Find the process, act on it and reply: the reply is how a failure is handled. True when the
 * action succeeded, for callers with more to do then. */
static bool act_on_proc(struct shim_service *s, struct ttrpc_conn *c, uint32_t sid, const char *id,
                        const char *exec_id, proc_action act, const void *msg)
{
    struct proc *p;
    rerr *err = NULL;
    int r = find(s, id, exec_id, &p, &err);
    if (r == 0)
        r = act(s, p, msg, &err);
    if (r < 0)
        reply_err(c, sid, r, err);
    else
        reply_empty(c, sid);
    return r == 0;
}

static _must_check_ int kill_action(struct shim_service *s, struct proc *p, const void *msg,
                                    rerr **err)
{
    const Reaper__Task__KillRequest *m = msg;
    return proc_kill(&s->tasks, p, (int)m->signal, m->all, err);
}

static void rpc_kill(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__KillRequest, reaper__task__kill_request);
    act_on_proc(s, c, req->stream_id, m->id, m->exec_id, kill_action, m);
    reaper__task__kill_request__free_unpacked(m, NULL);
}

static _must_check_ int resize_action(struct shim_service *s, struct proc *p, const void *msg,
                                      rerr **err)
{
    const Reaper__Task__ResizePtyRequest *m = msg;
    return proc_resize(p, m->width, m->height, err);
}

static void rpc_resize(struct shim_service *s, struct ttrpc_conn *c,
                       const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__ResizePtyRequest, reaper__task__resize_pty_request);
    act_on_proc(s, c, req->stream_id, m->id, m->exec_id, resize_action, m);
    reaper__task__resize_pty_request__free_unpacked(m, NULL);
}

static _must_check_ int close_io_action(struct shim_service *s, struct proc *p, const void *msg,
                                        rerr **err)
{
    const Reaper__Task__CloseIORequest *m = msg;
    return m->stdin ? proc_close_stdin(p) : 0;
}

static void rpc_close_io(struct shim_service *s, struct ttrpc_conn *c,
                         const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__CloseIORequest, reaper__task__close_iorequest);
    act_on_proc(s, c, req->stream_id, m->id, m->exec_id, close_io_action, m);
    reaper__task__close_iorequest__free_unpacked(m, NULL);
}

static void rpc_exec(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__ExecProcessRequest, reaper__task__exec_process_request);
    struct task *t = tasks_find(&s->tasks, m->id);
    rerr *err = NULL;
    struct oci_process *spec = NULL;
    int r = t ? 0 : rerr_setx(&err, ENOENT, "task %s not found", m->id);
    if (r == 0 && (m->spec == NULL || !str_endswith(m->spec->type_url, "/Process")))
        r = rerr_setx(&err, EINVAL, "exec %s: spec is not an OCI Process", m->exec_id);
    if (r == 0)
        r = oci_process_parse((const char *)m->spec->value.data, m->spec->value.len, &spec, &err);
    struct proc_stdio io = {m->stdin, m->stdout, m->stderr, m->terminal};
    if (r == 0 && (r = task_add_exec(&s->tasks, t, m->exec_id, spec, &io, &err)) < 0)
        oci_process_free(spec);
    if (r < 0) {
        reply_err(c, req->stream_id, r, err);
    } else {
        reply_empty(c, req->stream_id);
        Reaper__Events__TaskExecAdded ev = REAPER__EVENTS__TASK_EXEC_ADDED__INIT;
        ev.container_id = m->id, ev.exec_id = m->exec_id;
        publish(s, "/tasks/exec-added", "TaskExecAdded", &ev.base);
    }
    reaper__task__exec_process_request__free_unpacked(m, NULL);
}

static void rpc_wait(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__WaitRequest, reaper__task__wait_request);
    struct proc *p;
    rerr *err = NULL;
    int r = find(s, m->id, m->exec_id, &p, &err);
    if (r < 0)
        reply_err(c, req->stream_id, r, err);
    else if (p->finished)
        reply_wait(c, req->stream_id, p);
    else
        park(p, c, req->stream_id, PARKED_WAIT);
    reaper__task__wait_request__free_unpacked(m, NULL);
}

static void add_process(Reaper__Task__PidsResponse *resp, pid_t pid, const char *exec_id)
{
    Reaper__Types__ProcessInfo *pi = xmalloc(sizeof(*pi));
    reaper__types__process_info__init(pi);
    pi->pid = (uint32_t)pid;
    if (exec_id) { /* as the runc shim does: execs carry their id */
        Reaper__Runc__ProcessDetails d = REAPER__RUNC__PROCESS_DETAILS__INIT;
        d.exec_id = (char *)exec_id;
        pi->info = xmalloc(sizeof(*pi->info));
        reaper__types__any__init(pi->info);
        pi->info->type_url = "containerd.runc.v1.ProcessDetails";
        pi->info->value.len = reaper__runc__process_details__get_packed_size(&d);
        pi->info->value.data = xmalloc(pi->info->value.len + 1);
        reaper__runc__process_details__pack(&d, pi->info->value.data);
    }
    resp->processes = xrealloc(resp->processes, (resp->n_processes + 1) * sizeof(pi));
    resp->processes[resp->n_processes++] = pi;
}

static void free_processes(Reaper__Task__PidsResponse *resp)
{
    for (size_t i = 0; i < resp->n_processes; i++) {
        if (resp->processes[i]->info)
            free(resp->processes[i]->info->value.data);
        free(resp->processes[i]->info);
        free(resp->processes[i]);
    }
    free(resp->processes);
}

static void reply_pids(struct ttrpc_conn *c, uint32_t sid, const struct task *t)
{
    Reaper__Task__PidsResponse resp = REAPER__TASK__PIDS_RESPONSE__INIT;
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    if (t->sandbox)
        add_process(&resp, getpid(), NULL);
    else if (!t->init.exited && proc_tree_pids(t->init.pid, &pids, &n, NULL) == 0)
        for (size_t i = 0; i < n; i++)
            add_process(&resp, pids[i], NULL);
    for (const struct proc *e = t->execs; e; e = e->next)
        if (e->pid > 0 && !e->exited)
            add_process(&resp, e->pid, e->exec_id);
    reply_msg(c, sid, &resp.base);
    free_processes(&resp);
}

static void rpc_pids(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__PidsRequest, reaper__task__pids_request);
    struct task *t = tasks_find(&s->tasks, m->id);
    if (t == NULL)
        reply_code(c, req->stream_id, TTRPC_NOT_FOUND, "task not found");
    else
        reply_pids(c, req->stream_id, t);
    reaper__task__pids_request__free_unpacked(m, NULL);
}

static _must_check_ int pause_action(struct shim_service *s, struct proc *p, const void *msg,
                                     rerr **err)
{
    return proc_pause(&s->tasks, p, *(const bool *)msg, err);
}

static void pause_or_resume(struct shim_service *s, struct ttrpc_conn *c,
                            const struct ttrpc_request *req, bool pause)
{
    /* PauseRequest and ResumeRequest are both {id=1}. */
    UNPACK(m, Reaper__Task__PauseRequest, reaper__task__pause_request);
    if (act_on_proc(s, c, req->stream_id, m->id, NULL, pause_action, &pause)) {
        Reaper__Events__TaskPaused ev = REAPER__EVENTS__TASK_PAUSED__INIT;
        ev.container_id = m->id; /* TaskResumed has the same shape */
        publish(s, pause ? "/tasks/paused" : "/tasks/resumed", pause ? "TaskPaused" : "TaskResumed",
                &ev.base);
    }
    reaper__task__pause_request__free_unpacked(m, NULL);
}

static void rpc_pause(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    pause_or_resume(s, c, req, true);
}

static void rpc_resume(struct shim_service *s, struct ttrpc_conn *c,
                       const struct ttrpc_request *req)
{
    pause_or_resume(s, c, req, false);
}

static _must_check_ int checkpoint_task(struct shim_service *s,
                                        const Reaper__Task__CheckpointTaskRequest *m,
                                        char **image_path, rerr **err)
{
    struct task *t = tasks_find(&s->tasks, m->id);
    if (t == NULL)
        return rerr_setx(err, ENOENT, "task %s not found", m->id);
    const Reaper__Types__Any *o = m->options;
    struct ckpt_request cr;
    int r = ckpt_request_parse(m->path, o ? o->type_url : NULL, o ? o->value.data : NULL,
                               o ? o->value.len : 0, &cr, err);
    if (r < 0)
        return r;
    r = task_checkpoint(&s->tasks, t, &cr.opts, err);
    if (r == 0)
        *image_path = steal_ptr(cr.image_path);
    ckpt_request_free(&cr);
    return r;
}

static void rpc_checkpoint(struct shim_service *s, struct ttrpc_conn *c,
                           const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__CheckpointTaskRequest, reaper__task__checkpoint_task_request);
    rerr *err = NULL;
    _cleanup_free_ char *image = NULL;
    int r = checkpoint_task(s, m, &image, &err);
    if (r < 0) {
        reply_err(c, req->stream_id, r, err);
    } else {
        reply_empty(c, req->stream_id);
        Reaper__Events__TaskCheckpointed ev = REAPER__EVENTS__TASK_CHECKPOINTED__INIT;
        ev.container_id = m->id, ev.checkpoint = image;
        publish(s, "/tasks/checkpointed", "TaskCheckpointed", &ev.base);
    }
    reaper__task__checkpoint_task_request__free_unpacked(m, NULL);
}

static void rpc_update(struct shim_service *s, struct ttrpc_conn *c,
                       const struct ttrpc_request *req)
{
    /* Reaper enforces no resource limits (docs/pod-fields.md): a known task's update is
     * accepted and ignored; an unknown one is NOT_FOUND, as for every other per-task call. */
    UNPACK(m, Reaper__Task__UpdateTaskRequest, reaper__task__update_task_request);
    if (tasks_find(&s->tasks, m->id) == NULL)
        reply_code(c, req->stream_id, TTRPC_NOT_FOUND, "task not found");
    else
        reply_empty(c, req->stream_id);
    reaper__task__update_task_request__free_unpacked(m, NULL);
}

static bool host_is_cgroup2(void)
{
    struct statfs st;
    return statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == 0x63677270; /* CGROUP2 */
}

static size_t pack_metrics(const struct tree_stats *ts, uint8_t **out, const char **type_url)
{
    if (host_is_cgroup2()) {
        Reaper__Cgroups__V2__Metrics m = REAPER__CGROUPS__V2__METRICS__INIT;
        Reaper__Cgroups__V2__CPUStat cpu = REAPER__CGROUPS__V2__CPUSTAT__INIT;
        Reaper__Cgroups__V2__MemoryStat mem = REAPER__CGROUPS__V2__MEMORY_STAT__INIT;
        Reaper__Cgroups__V2__PidsStat pids = REAPER__CGROUPS__V2__PIDS_STAT__INIT;
        cpu.usage_usec = (ts->user_ns + ts->kernel_ns) / 1000;
        cpu.user_usec = ts->user_ns / 1000, cpu.system_usec = ts->kernel_ns / 1000;
        mem.usage = mem.anon = ts->rss_bytes;
        mem.pgfault = ts->minflt, mem.pgmajfault = ts->majflt;
        pids.current = ts->pids;
        m.cpu = &cpu, m.memory = &mem, m.pids = &pids;
        *type_url = "io.containerd.cgroups.v2.Metrics";
        *out = xmalloc(reaper__cgroups__v2__metrics__get_packed_size(&m) + 1);
        return reaper__cgroups__v2__metrics__pack(&m, *out);
    }
    Reaper__Cgroups__V1__Metrics m = REAPER__CGROUPS__V1__METRICS__INIT;
    Reaper__Cgroups__V1__CPUStat cpu = REAPER__CGROUPS__V1__CPUSTAT__INIT;
    Reaper__Cgroups__V1__CPUUsage usage = REAPER__CGROUPS__V1__CPUUSAGE__INIT;
    Reaper__Cgroups__V1__MemoryStat mem = REAPER__CGROUPS__V1__MEMORY_STAT__INIT;
    Reaper__Cgroups__V1__MemoryEntry mem_usage = REAPER__CGROUPS__V1__MEMORY_ENTRY__INIT;
    Reaper__Cgroups__V1__PidsStat pids = REAPER__CGROUPS__V1__PIDS_STAT__INIT;
    usage.total = ts->user_ns + ts->kernel_ns, usage.user = ts->user_ns;
    usage.kernel = ts->kernel_ns;
    cpu.usage = &usage;
    mem_usage.usage = ts->rss_bytes;
    mem.usage = &mem_usage;
    mem.rss = mem.total_rss = ts->rss_bytes;
    mem.total_pg_fault = ts->minflt, mem.total_pg_maj_fault = ts->majflt;
    pids.current = ts->pids;
    m.cpu = &cpu, m.memory = &mem, m.pids = &pids;
    *type_url = "io.containerd.cgroups.v1.Metrics";
    *out = xmalloc(reaper__cgroups__v1__metrics__get_packed_size(&m) + 1);
    return reaper__cgroups__v1__metrics__pack(&m, *out);
}

static void reply_stats(struct ttrpc_conn *c, uint32_t sid, const struct task *t)
{
    struct tree_stats st = {0};
    _cleanup_rerr_ rerr *e = NULL;
    if (!t->sandbox && !t->init.exited && stats_collect(t->init.pid, &st, &e) < 0)
        log_debug("stats %s: %s", t->id, rerr_msg(e)); /* zero numbers, as for a gone process */
    _cleanup_free_ uint8_t *buf = NULL;
    Reaper__Types__Any any = REAPER__TYPES__ANY__INIT;
    const char *type_url;
    any.value.len = pack_metrics(&st, &buf, &type_url);
    any.value.data = buf;
    any.type_url = (char *)type_url;
    Reaper__Task__StatsResponse resp = REAPER__TASK__STATS_RESPONSE__INIT;
    resp.stats = &any; /* never absent: containerd dereferences it */
    reply_msg(c, sid, &resp.base);
}

static void rpc_stats(struct shim_service *s, struct ttrpc_conn *c, const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__StatsRequest, reaper__task__stats_request);
    struct task *t = tasks_find(&s->tasks, m->id);
    if (t == NULL)
        reply_code(c, req->stream_id, TTRPC_NOT_FOUND, "task not found");
    else
        reply_stats(c, req->stream_id, t);
    reaper__task__stats_request__free_unpacked(m, NULL);
}

static void rpc_connect(struct shim_service *s, struct ttrpc_conn *c,
                        const struct ttrpc_request *req)
{
    UNPACK(m, Reaper__Task__ConnectRequest, reaper__task__connect_request);
    struct task *t = tasks_find(&s->tasks, m->id);
    Reaper__Task__ConnectResponse resp = REAPER__TASK__CONNECT_RESPONSE__INIT;
    resp.shim_pid = (uint32_t)getpid();
    resp.task_pid = t ? (uint32_t)proc_pid(&t->init) : 0;
    resp.version = "reaper-" REAPER_VERSION;
    reply_msg(c, req->stream_id, &resp.base);
    reaper__task__connect_request__free_unpacked(m, NULL);
}

static void rpc_shutdown(struct shim_service *s, struct ttrpc_conn *c,
                         const struct ttrpc_request *req)
{
    /* A pod's shim serves every container: it leaves only when no task is left. */
    s->shutdown_requested = true;
    reply_empty(c, req->stream_id);
    service_maybe_quit(s);
}

static const struct {
    const char *method;
    rpc_fn fn;
    bool trim; /* allocates and frees much (parses a spec, starts a process): trim after */
} methods[] = {
    {"Create", rpc_create, true},      {"Start", rpc_start, true},
    {"Delete", rpc_delete, true},      {"State", rpc_state, false},
    {"Pids", rpc_pids, false},         {"Pause", rpc_pause, false},
    {"Resume", rpc_resume, false},     {"Checkpoint", rpc_checkpoint, false},
    {"Kill", rpc_kill, false},         {"Exec", rpc_exec, false},
    {"ResizePty", rpc_resize, false},  {"CloseIO", rpc_close_io, false},
    {"Update", rpc_update, false},     {"Wait", rpc_wait, false},
    {"Stats", rpc_stats, false},       {"Connect", rpc_connect, false},
    {"Shutdown", rpc_shutdown, false},
};

void task_rpc_dispatch(struct ttrpc_conn *c, const struct ttrpc_request *req, void *user)
{
    if (strcmp(req->service, "containerd.task.v2.Task") != 0 &&
        strcmp(req->service, "containerd.task.v3.Task") != 0) {
        _cleanup_free_ char *msg = xasprintf("service %s", req->service);
        reply_code(c, req->stream_id, TTRPC_UNIMPLEMENTED, msg);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
        if (strcmp(methods[i].method, req->method) == 0) {
            log_debug("rpc %s", req->method);
            struct timing_mark t0 = timing_start();
            methods[i].fn(user, c, req);
            if (methods[i].trim)
                shim_release_memory_later(user);
            timing_done(t0, req->method);
            return;
        }
    _cleanup_free_ char *msg = xasprintf("method %s", req->method);
    reply_code(c, req->stream_id, TTRPC_UNIMPLEMENTED, msg);
}
