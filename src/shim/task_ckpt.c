/* Checkpoint of a task's init, and a task created from a checkpoint: restored at Start with the
 * stdio the shim prepared at Create, after replaying the output it had before the checkpoint. */
#include "checkpoint.h"
#include "cleanup.h"
#include "container.h"
#include "cri_log.h"
#include "log.h"
#include "proc_tree.h"
#include "procio.h"
#include "task.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The image's record of the container's output before the checkpoint (a CRI log file). */
#define REPLAY_LOG "container.log"
#define REPLAY_MAX (64u << 20)

static const char *proc_name(const struct proc *p)
{
    return p->exec_id ? p->exec_id : p->task->id;
}

int task_checkpoint(struct shim_tasks *ts, struct task *t, const struct checkpoint_opts *o,
                    rerr **err)
{
    struct proc *p = &t->init;
    if (t->sandbox)
        return rerr_setx(err, EINVAL, "task %s is a pod sandbox: it has no process to checkpoint",
                         t->id);
    if (p->io.terminal)
        return rerr_setx(err, ENOTSUP,
                         "task %s has a terminal: checkpoint of a pty container is not supported",
                         t->id);
    if (p->pid <= 0 || p->exited || p->status == PROC_CREATED)
        return rerr_setx(err, EBUSY, "task %s is not running: cannot checkpoint it", t->id);
    /* containerd pauses a task (SIGSTOP here) before its checkpoint; CRIU would record the
     * processes as stopped and restore them stopped. Dump them running, paused again after. */
    bool paused = p->status == PROC_PAUSED;
    int r = paused ? proc_tree_kill(p->pid, SIGCONT, err) : 0;
    if (r >= 0)
        r = container_checkpoint(ts->cfg, t->id, o, err);
    if (paused && (r < 0 || o->leave_running)) {
        _cleanup_rerr_ rerr *e = NULL;
        if (proc_tree_kill(p->pid, SIGSTOP, &e) < 0)
            log_warn("pause %s again after its checkpoint: %s", t->id, rerr_msg(e));
    }
    return r < 0 ? r : 0;
}

int task_await_restore(struct task *t, const char *image_dir, struct child_io *cio, rerr **err)
{
    if (t->init.io.terminal)
        return rerr_setx(err, ENOTSUP, "task %s: restore into a terminal (pty) is not supported",
                         t->id);
    t->init.pending_io = xmalloc(sizeof(*cio));
    *t->init.pending_io = *cio;
    t->restore_dir = image_dir ? xstrdup(image_dir) : NULL;
    t->restore = true;
    return 0;
}

void proc_discard_pending_io(struct proc *p)
{
    if (p->pending_io == NULL)
        return;
    procio_discard(p->pending_io);
    free(p->pending_io);
    p->pending_io = NULL;
}

/* Put the output the container had before its checkpoint (<image>/container.log) ahead of what
 * the restored process writes: its log then reads as one run. Best effort: the restore stands
 * without it. */
static void replay_output(struct proc *p, const char *image_dir)
{
    if (image_dir == NULL)
        return;
    _cleanup_free_ char *path = xasprintf("%s/" REPLAY_LOG, image_dir);
    _cleanup_free_ char *text = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    size_t len;
    if (access(path, F_OK) < 0)
        return;
    if (read_file(path, REPLAY_MAX, &text, &len, &e) < 0) {
        log_warn("task %s: earlier output not replayed: %s", p->task->id, rerr_msg(e));
        return;
    }
    struct cri_log_streams s;
    cri_log_split(text, len, &s);
    if (s.bad_lines)
        log_warn("%s: %zu lines are not CRI log entries: skipped", path, s.bad_lines);
    log_info("task %s: replaying %zu bytes of stdout, %zu of stderr from %s", p->task->id,
             s.out_len, s.err_len, path);
    copier_prefill(&p->out, steal_ptr(s.out), s.out_len);
    copier_prefill(&p->err, steal_ptr(s.err), s.err_len);
    cri_log_streams_free(&s);
}

int proc_restore(struct shim_tasks *ts, struct proc *p, rerr **err)
{
    struct task *t = p->task;
    if (p->pending_io == NULL)
        return rerr_setx(err, EBUSY, "task %s: its restore failed already", t->id);
    _cleanup_free_ struct child_io *cio = steal_ptr(p->pending_io);
    struct container_restore_io rio = {.console_sock = -1};
    memcpy(rio.stdio, cio->stdio, sizeof(rio.stdio));
    pid_t pid = 0;
    int pidfd = -1;
    int r = container_restore(ts->cfg, t->id, NULL, &rio, &pid, &pidfd, err);
    if (pidfd >= 0)
        close(pidfd); /* exits come from SIGCHLD */
    if (r < 0) {
        procio_discard(cio);
        return r;
    }
    p->pid = pid;
    r = procio_attach(p, ts->loop, cio, proc_output_done, err);
    if (r < 0) {
        _cleanup_rerr_ rerr *e = NULL;
        if (proc_tree_kill(pid, SIGKILL, &e) < 0) /* reaped and reported by tasks_reap */
            log_warn("kill %s after its IO failed: %s", proc_name(p), rerr_msg(e));
        return r;
    }
    replay_output(p, t->restore_dir);
    log_info("task %s restored from %s: pid %d", t->id, t->restore_dir ? t->restore_dir : "?",
             (int)pid);
    return 0;
}
