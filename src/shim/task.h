/*
 * The shim's model of its tasks: one task per container of the pod (the sandbox included), each
 * with an init process and exec processes. Exits arrive from SIGCHLD (the shim is the parent of
 * every workload process, and a subreaper); a process is "finished" once its exit is known AND
 * its output is drained, and only then are Wait callers answered and TaskExit published.
 */
#ifndef REAPER_SHIM_TASK_H
#define REAPER_SHIM_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "iocopy.h"
#include "loop.h"
#include "oci_spec.h"

/* Values of containerd's task Status enum. */
enum proc_status { PROC_CREATED = 1, PROC_RUNNING = 2, PROC_STOPPED = 3, PROC_PAUSED = 4 };

struct task;
struct proc;
struct ttrpc_conn;
struct child_io;
struct checkpoint_opts;

/* A request answered when its process finishes (Wait, or Delete of a live process). */
enum parked_kind { PARKED_WAIT, PARKED_DELETE };
struct parked {
    struct ttrpc_conn *conn; /* referenced */
    uint32_t stream_id;
    enum parked_kind kind;
    struct parked *next;
};

struct proc_stdio {
    char *stdin_path, *stdout_path, *stderr_path;
    bool terminal;
};

struct proc {
    struct task *task;
    char *exec_id; /* NULL for the init process */
    pid_t pid;
    enum proc_status status;
    bool exited;   /* reaped: exit_status and exited_at are valid */
    bool finished; /* exited, output drained, waiters answered */
    int exit_status;
    struct timespec exited_at;
    struct proc_stdio io;
    struct copier out, err, in;
    int console;              /* pty master (ResizePty), or -1 */
    struct oci_process *spec; /* exec: the process to start */
    struct parked *parked;
    struct child_io *pending_io; /* init to restore: its stdio, kept from Create to Start */
    struct proc *next;           /* in task->execs */
};

struct task {
    struct shim_tasks *owner;
    char *id;
    char *bundle;
    bool sandbox;      /* CRI pause container: no process; pid is the shim's */
    bool restore;      /* created from a checkpoint image: Start restores it (CRIU) */
    char *restore_dir; /* that image directory */
    struct proc init;
    struct proc *execs;
    struct task *next;
};

/* What the RPC layer does when a process finishes (answer parked requests, publish TaskExit). */
struct shim_hooks {
    void (*proc_finished)(struct proc *p, void *data);
    /* True while containerd is gone (restarting): output with no reader is then held. */
    bool (*containerd_away)(void *data);
    void *data;
};

struct shim_tasks {
    struct loop *loop;
    const struct reaper_config *cfg;
    struct shim_hooks hooks;
    struct task *list;
};

struct task *tasks_find(struct shim_tasks *ts, const char *id);
/* Find id/exec_id; NULL exec_id or "" means the init process. -ENOENT with a message. */
_must_check_ int tasks_find_proc(struct shim_tasks *ts, const char *id, const char *exec_id,
                                 struct proc **out, rerr **err);
bool tasks_empty(const struct shim_tasks *ts);

/* restore_from: containerd's checkpoint directory, or NULL (the config may still ask for a
 * restore: RESTORE_FROM, annotation). A restore spawns nothing here: Start restores. */
_must_check_ int task_create(struct shim_tasks *ts, const char *id, const char *bundle,
                             const struct proc_stdio *io, const char *restore_from,
                             struct task **out, rerr **err);
/* Start init (restore it, for a task created from a checkpoint) or an exec; returns the pid. */
_must_check_ int proc_start(struct shim_tasks *ts, struct proc *p, rerr **err);
_must_check_ int task_add_exec(struct shim_tasks *ts, struct task *t, const char *exec_id,
                               struct oci_process *spec, const struct proc_stdio *io, rerr **err);
/* -ENOENT "process already finished" once it has exited (containerd expects NotFound). */
_must_check_ int proc_kill(struct shim_tasks *ts, struct proc *p, int sig, bool all, rerr **err);
_must_check_ int proc_pause(struct shim_tasks *ts, struct proc *p, bool pause, rerr **err);
_must_check_ int proc_resize(struct proc *p, unsigned width, unsigned height, rerr **err);
_must_check_ int proc_close_stdin(struct proc *p);
/* A client deletes a process that exited but whose output is still held for a reader that did
 * not come back: drop what is left and finish it now. */
void proc_abandon_output(struct proc *p);
/* Remove a finished process (init: the whole task, its state dir included). */
_must_check_ int proc_remove(struct shim_tasks *ts, struct proc *p, rerr **err);
/* Dump the running init's tree into o->image_path; without leave_running the dump ends it and
 * its exit is reported as any other. Terminal tasks are refused (-ENOTSUP). */
_must_check_ int task_checkpoint(struct shim_tasks *ts, struct task *t,
                                 const struct checkpoint_opts *o, rerr **err);
/* SIGCHLD: reap every exited child and advance the processes they belong to. */
void tasks_reap(struct shim_tasks *ts);
pid_t proc_pid(const struct proc *p);

/* Between task.c and task_ckpt.c: a task created from a checkpoint (kept in *cio until Start),
 * its restore at Start, and the copier callback every started process's output uses. */
_must_check_ int task_await_restore(struct task *t, const char *image_dir, struct child_io *cio,
                                    rerr **err);
_must_check_ int proc_restore(struct shim_tasks *ts, struct proc *p, rerr **err);
void proc_discard_pending_io(struct proc *p);
void proc_output_done(struct copier *c, void *data);

#endif
