#include "task.h"
#include "cleanup.h"
#include "console.h"
#include "container.h"
#include "log.h"
#include "proc_tree.h"
#include "process.h"
#include "procio.h"
#include "ttrpc.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void proc_init(struct proc *p, struct task *t, const char *exec_id,
                      const struct proc_stdio *io)
{
    memset(p, 0, sizeof(*p));
    p->task = t;
    p->exec_id = exec_id ? xstrdup(exec_id) : NULL;
    p->status = PROC_CREATED;
    p->console = -1;
    p->io.stdin_path = xstrdup(io->stdin_path);
    p->io.stdout_path = xstrdup(io->stdout_path);
    p->io.stderr_path = xstrdup(io->stderr_path);
    p->io.terminal = io->terminal;
}

static void drop_parked(struct proc *p)
{
    while (p->parked) {
        struct parked *x = p->parked;
        p->parked = x->next;
        ttrpc_conn_unref(x->conn);
        free(x);
    }
}

static void proc_release(struct proc *p)
{
    drop_parked(p);
    proc_discard_pending_io(p);
    copier_close(&p->out);
    copier_close(&p->err);
    copier_close(&p->in);
    if (p->console >= 0)
        close(p->console);
    free(p->exec_id);
    free(p->io.stdin_path);
    free(p->io.stdout_path);
    free(p->io.stderr_path);
    oci_process_free(p->spec);
}

struct task *tasks_find(struct shim_tasks *ts, const char *id)
{
    for (struct task *t = ts->list; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

int tasks_find_proc(struct shim_tasks *ts, const char *id, const char *exec_id, struct proc **out,
                    rerr **err)
{
    struct task *t = tasks_find(ts, id);
    if (t == NULL)
        return rerr_setx(err, ENOENT, "task %s not found", id);
    if (exec_id == NULL || *exec_id == '\0') {
        *out = &t->init;
        return 0;
    }
    for (struct proc *p = t->execs; p; p = p->next)
        if (strcmp(p->exec_id, exec_id) == 0) {
            *out = p;
            return 0;
        }
    return rerr_setx(err, ENOENT, "exec %s of task %s not found", exec_id, id);
}

bool tasks_empty(const struct shim_tasks *ts)
{
    return ts->list == NULL;
}

pid_t proc_pid(const struct proc *p)
{
    return p->task->sandbox && p->exec_id == NULL ? getpid() : p->pid;
}

static bool execs_finished(const struct task *t)
{
    for (const struct proc *e = t->execs; e; e = e->next)
        if (e->pid > 0 && !e->finished)
            return false;
    return true;
}

/* Persist the exit in state.json for `delete`/`state` after a shim restart. Done after Wait is
 * answered and TaskExit queued: the write is not on the exit-notification path, and this
 * single-threaded loop handles containerd's next request (Delete) only afterwards. */
static void record_exit(struct task *t, int exit_status)
{
    rerr *err = NULL;
    if (container_record_exit(t->owner->cfg, t->id, exit_status, &err) < 0)
        log_warn("record exit of %s: %s", t->id, rerr_msg(err));
    rerr_free(err);
}

/* Exit known + output drained (+ for init: every exec finished) => report it. */
static void maybe_finish(struct proc *p)
{
    if (p->finished || !p->exited || copier_active(&p->out) || copier_active(&p->err))
        return;
    struct task *t = p->task;
    bool is_exec = p->exec_id != NULL;
    if (!is_exec && !execs_finished(t))
        return;
    p->finished = true;
    copier_close(&p->out);
    copier_close(&p->err);
    copier_close(&p->in);
    struct shim_tasks *ts = t->owner;
    if (ts->hooks.proc_finished)
        ts->hooks.proc_finished(p, ts->hooks.data); /* may schedule p's removal (deferred) */
    if (!is_exec && !t->sandbox)
        record_exit(t, p->exit_status);
    if (is_exec && t->init.exited)
        maybe_finish(&t->init);
}

void proc_abandon_output(struct proc *p)
{
    if (!p->exited || p->finished)
        return;
    if (copier_active(&p->out) || copier_active(&p->err))
        log_warn("%s %s deleted with output nobody read: dropped", p->exec_id ? "exec" : "task",
                 p->exec_id ? p->exec_id : p->task->id);
    copier_close(&p->out);
    copier_close(&p->err);
    maybe_finish(p);
}

void proc_output_done(struct copier *c, void *data)
{
    maybe_finish(data);
}

static void mark_exited(struct proc *p, int exit_status)
{
    p->exited = true;
    p->status = PROC_STOPPED;
    p->exit_status = exit_status;
    clock_gettime(CLOCK_REALTIME, &p->exited_at);
}

/* The process is gone: finish reading what it wrote, then report. */
static void proc_exited(struct proc *p, int exit_status)
{
    mark_exited(p, exit_status);
    struct task *t = p->task;
    if (p->exec_id == NULL && !t->sandbox) {
        /* Like a pid namespace dying: execs do not outlive their container. */
        for (struct proc *e = t->execs; e; e = e->next)
            if (e->pid > 0 && !e->exited && proc_tree_kill(e->pid, SIGKILL, NULL) < 0)
                log_warn("kill exec %s of %s: cannot read /proc", e->exec_id, t->id);
    }
    copier_drain(&p->out);
    copier_drain(&p->err);
    maybe_finish(p);
}

static struct proc *find_by_pid(struct shim_tasks *ts, pid_t pid)
{
    for (struct task *t = ts->list; t; t = t->next) {
        if (!t->sandbox && t->init.pid == pid && !t->init.exited)
            return &t->init;
        for (struct proc *e = t->execs; e; e = e->next)
            if (e->pid == pid && !e->exited)
                return e;
    }
    return NULL;
}

/* The next exited child, not reaped yet (its zombie keeps the pid and the process group), or 0. */
static pid_t next_exited(void)
{
    siginfo_t si = {0};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return 0;
    return si.si_pid;
}

void tasks_reap(struct shim_tasks *ts)
{
    int status;
    pid_t pid;
    while ((pid = next_exited()) > 0) {
        struct proc *p = find_by_pid(ts, pid);
        /* Like a pid namespace dying: what the container's init leaves in its process group
         * (a `daemon &` it did not wait for) does not outlive it. The zombie still holds the
         * group, so the id cannot name anybody else's yet. */
        if (p && p->exec_id == NULL && kill(-pid, SIGKILL) < 0 && errno != ESRCH)
            log_warn("kill the rest of %s: %s", p->task->id, strerror(errno));
        if (waitpid(pid, &status, WNOHANG) != pid)
            return;
        if (p == NULL)
            continue; /* an orphan re-parented to us (we are a subreaper) */
        proc_exited(p, exit_status_from_wait(status)); /* answers Wait: logged after */
        log_debug("pid %d of %s exited: status %d", pid, p->task->id,
                  exit_status_from_wait(status));
    }
}

/* container_create spawned nothing: a pod sandbox, or (restore_from set) a restore waiting
 * for Start. */
static _must_check_ int spawnless_task(struct task *t, const char *restore_from,
                                       struct child_io *cio, rerr **err)
{
    int r = 0;
    if (restore_from)
        r = task_await_restore(t, restore_from, cio, err);
    else
        t->sandbox = true;
    if (!t->restore)
        procio_discard(cio);
    return r;
}

static void task_release(struct task *t)
{
    proc_release(&t->init);
    free(t->id);
    free(t->bundle);
    free(t->restore_dir);
    free(t);
}

int task_create(struct shim_tasks *ts, const char *id, const char *bundle,
                const struct proc_stdio *io, const char *restore_from, struct task **out,
                rerr **err)
{
    if (tasks_find(ts, id))
        return rerr_setx(err, EEXIST, "task %s already exists", id);
    struct task *t = xcalloc(1, sizeof(*t));
    t->owner = ts;
    t->id = xstrdup(id);
    t->bundle = xstrdup(bundle);
    proc_init(&t->init, t, NULL, io);
    struct child_io cio;
    int r = procio_prepare(io, &cio, err);
    pid_t pid = 0;
    int pidfd = -1;
    _cleanup_free_ char *restore_pending = NULL;
    if (r == 0) {
        struct container_create_opts opts = {.id = id,
                                             .bundle = bundle,
                                             .console_fd = cio.console_sock,
                                             .restore_from = restore_from,
                                             .restore_pending = &restore_pending};
        memcpy(opts.stdio, cio.stdio, sizeof(opts.stdio));
        r = container_create(ts->cfg, &opts, &pid, &pidfd, err);
    }
    if (pidfd >= 0)
        close(pidfd); /* exits come from SIGCHLD */
    if (r == 0 && pid == 0) {
        r = spawnless_task(t, restore_pending, &cio, err);
    } else if (r == 0) {
        t->init.pid = pid;
        r = procio_attach(&t->init, ts->loop, &cio, proc_output_done, err);
    } else {
        procio_discard(&cio);
    }
    if (r < 0) {
        if (pid > 0)
            kill(pid, SIGKILL); /* reaped by tasks_reap; nothing maps to it any more */
        _cleanup_rerr_ rerr *del = NULL;
        if (container_delete(ts->cfg, id, true, &del) < 0)
            log_warn("clean up failed create: %s", rerr_msg(del));
        task_release(t);
        return r;
    }
    t->next = ts->list;
    ts->list = t;
    *out = t;
    return 0;
}

int task_add_exec(struct shim_tasks *ts, struct task *t, const char *exec_id,
                  struct oci_process *spec, const struct proc_stdio *io, rerr **err)
{
    struct proc *found;
    if (tasks_find_proc(ts, t->id, exec_id, &found, NULL) == 0)
        return rerr_setx(err, EEXIST, "exec %s already exists in %s", exec_id, t->id);
    if (t->init.exited || t->sandbox)
        return rerr_setx(err, EBUSY, "task %s is not running", t->id);
    struct proc *p = xcalloc(1, sizeof(*p));
    proc_init(p, t, exec_id, io);
    p->spec = spec;
    p->next = t->execs;
    t->execs = p;
    return 0;
}

static _must_check_ int start_exec(struct shim_tasks *ts, struct proc *p, rerr **err)
{
    struct child_io cio;
    p->spec->terminal = p->io.terminal;
    int r = procio_prepare(&p->io, &cio, err);
    if (r < 0)
        return r;
    /* An init outlives a killed shim until containerd's `delete`, which finds every process of
     * the container through the init's mount namespace; an exec whose init has exited is
     * found by no one, so it dies with the shim. */
    struct container_exec_opts opts = {
        .console_fd = cio.console_sock, .release_fd = -1, .die_with_parent = true};
    memcpy(opts.stdio, cio.stdio, sizeof(opts.stdio));
    int pidfd = -1;
    r = container_exec(ts->cfg, p->task->id, p->spec, &opts, &p->pid, &pidfd, err);
    if (pidfd >= 0)
        close(pidfd);
    if (r < 0) {
        procio_discard(&cio);
        return r;
    }
    return procio_attach(p, ts->loop, &cio, proc_output_done, err);
}

int proc_start(struct shim_tasks *ts, struct proc *p, rerr **err)
{
    if (p->status != PROC_CREATED)
        return rerr_setx(err, EBUSY, "%s %s is not in created state", p->exec_id ? "exec" : "task",
                         p->exec_id ? p->exec_id : p->task->id);
    int r = 0;
    if (p->exec_id)
        r = start_exec(ts, p, err);
    else if (p->task->restore)
        r = proc_restore(ts, p, err);
    else if (!p->task->sandbox)
        r = container_start(ts->cfg, p->task->id, err);
    if (r < 0)
        return r;
    if (!p->exited)
        p->status = PROC_RUNNING;
    return proc_pid(p);
}

int proc_kill(struct shim_tasks *ts, struct proc *p, int sig, bool all, rerr **err)
{
    if (p->exited)
        return rerr_setx(err, ENOENT, "process already finished: %s %s: not found",
                         p->exec_id ? "exec" : "task", p->exec_id ? p->exec_id : p->task->id);
    /* The pause container, or a restore not (successfully) done: no process, so it "dies" of
     * any signal. */
    if (p->exec_id == NULL && (p->task->sandbox || (p->task->restore && p->pid == 0))) {
        proc_exited(p, 128 + sig);
        return 0;
    }
    if (p->pid <= 0)
        return rerr_setx(err, EBUSY, "process %s is not started", p->exec_id ? p->exec_id : "init");
    if (all || sig == SIGKILL) {
        int r = proc_tree_kill(p->pid, sig, err);
        return r < 0 ? r : 0;
    }
    if (kill(-p->pid, sig) < 0 && errno != ESRCH) /* the workload's process group */
        return rerr_set(err, errno, "kill %d", p->pid);
    return 0;
}

int proc_pause(struct shim_tasks *ts, struct proc *p, bool pause, rerr **err)
{
    if (p->exited || (p->task->sandbox && p->exec_id == NULL)) {
        p->status = pause && !p->exited ? PROC_PAUSED : p->status;
        return 0;
    }
    int r = proc_tree_kill(p->pid, pause ? SIGSTOP : SIGCONT, err);
    if (r < 0)
        return r;
    p->status = pause ? PROC_PAUSED : PROC_RUNNING;
    return 0;
}

int proc_resize(struct proc *p, unsigned width, unsigned height, rerr **err)
{
    if (p->console < 0)
        return 0; /* not a terminal: nothing to resize (runc shim does the same) */
    return console_set_size(p->console, height, width, err);
}

int proc_close_stdin(struct proc *p)
{
    copier_drain(&p->in); /* deliver what was written, then EOF */
    return 0;
}

static void unlink_exec(struct task *t, struct proc *p)
{
    for (struct proc **pp = &t->execs; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void unlink_task(struct shim_tasks *ts, struct task *t)
{
    for (struct task **pp = &ts->list; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

static void free_exec(void *ptr)
{
    proc_release(ptr);
    free(ptr);
}

static void free_task(void *ptr)
{
    struct task *t = ptr;
    while (t->execs) {
        struct proc *e = t->execs;
        t->execs = e->next;
        free_exec(e);
    }
    task_release(t);
}

/* Unlinked now, freed after the current loop batch: callers may be deep inside a callback of
 * this very process (a copier finishing), and its watches may still have events pending. */
int proc_remove(struct shim_tasks *ts, struct proc *p, rerr **err)
{
    struct task *t = p->task;
    if (p->exec_id) {
        unlink_exec(t, p);
        loop_defer_free(ts->loop, free_exec, p);
        return 0;
    }
    int r = container_delete(ts->cfg, t->id, true, err);
    unlink_task(ts, t);
    loop_defer_free(ts->loop, free_task, t);
    return r;
}
