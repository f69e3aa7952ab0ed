/*
 * Restore: where a container asks to be restored from (restore_source), and container_restore,
 * which runs `criu restore` with the container's overlay as root and the caller's stdio in place
 * of the pipes the workload had, then records the restored init in the state.
 */
#include "checkpoint.h"
#include "checkpoint_meta.h"
#include "ckpt_mounts.h"
#include "cleanup.h"
#include "criu.h"
#include "log.h"
#include "overlay.h"
#include "proc_stat.h"
#include "proc_tree.h"
#include "state.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_RESTORE_FROM "RESTORE_FROM"
#define RESTORE_PIDFILE  "restore.pid"

static void meta_freep(struct checkpoint_meta **m)
{
    checkpoint_meta_free(*m);
}
#define _cleanup_meta_ __attribute__((cleanup(meta_freep)))

int restore_source(char *const *env, const struct kv *annotations, size_t n_annotations, char **dir,
                   rerr **err)
{
    const char *from_env = env_lookup(env, ENV_RESTORE_FROM);
    const char *from_ann = kv_get(annotations, n_annotations, ANN_RESTORE_FROM);
    if (from_env && from_env[0] != '/')
        return rerr_setx(err, EINVAL,
                         "environment " ENV_RESTORE_FROM "=\"%s\": the checkpoint image must be "
                         "an absolute path",
                         from_env);
    if (from_ann && from_ann[0] != '/')
        return rerr_setx(err, EINVAL,
                         "annotation " ANN_RESTORE_FROM ": \"%s\" is not an absolute path",
                         from_ann);
    if (from_env && from_ann && strcmp(from_env, from_ann) != 0)
        return rerr_setx(err, EINVAL,
                         "environment " ENV_RESTORE_FROM "=%s and annotation " ANN_RESTORE_FROM
                         "=%s name different checkpoint images",
                         from_env, from_ann);
    const char *v = from_env ? from_env : from_ann;
    *dir = v ? xstrdup(v) : NULL;
    return 0;
}

/* A container created to be restored and not restored yet. */
static _must_check_ int check_restorable(const struct container_state *st, rerr **err)
{
    if (st->sandbox || st->started || st->pid > 0 || st->has_exit)
        return rerr_setx(err, EBUSY,
                         "container %s is %s: only a created container without a "
                         "process can be restored",
                         st->id,
                         st->sandbox ? "a sandbox" : container_status_name(state_live_status(st)));
    return 0;
}

/* Used as a pid, or as a process group id (a zombie of the group keeps it). */
static bool pid_taken(pid_t pid)
{
    if (kill(pid, 0) == 0 || errno == EPERM)
        return true;
    return kill(-pid, 0) == 0 || errno == EPERM;
}

static int pid_in_use(pid_t pid, rerr **err)
{
    return rerr_setx(err, EBUSY,
                     "pid %d is in use on this node (is the checkpointed workload still running, "
                     "or not reaped yet?): CRIU restores the same pids",
                     (int)pid);
}

/* CRIU restores the tree with its old pids, process groups and session: they must be free (a
 * dumped process is a zombie until its parent reaps it, and so is each of its children). */
static _must_check_ int check_pids_free(const struct checkpoint_meta *m, rerr **err)
{
    for (size_t i = 0; i <= m->n_pids; i++) {
        pid_t pid = i < m->n_pids ? m->pids[i] : m->pid;
        if (pid_taken(pid))
            return pid_in_use(pid, err);
    }
    _cleanup_free_ pid_t *session = NULL;
    size_t n = 0;
    _cleanup_rerr_ rerr *e = NULL;
    if (proc_tree_pids(m->pid, &session, &n, &e) == 0 && n > 0)
        return pid_in_use(m->pid, err);
    return 0;
}

/* Flags: the caller's, else those the dump used (the TCP/lock/socket ones must match). */
static struct checkpoint_opts effective_opts(const struct checkpoint_opts *opts,
                                             const struct checkpoint_meta *m, const char *image)
{
    struct checkpoint_opts o = opts ? *opts : m->opts;
    o.image_path = image;
    o.leave_running = false;
    return o;
}

/* What the workload's stdio was when dumped, and which of the caller's fds replace it. A pipe
 * or socket can only come back as an inherited fd (the old one is gone); files are reopened by
 * path by CRIU. Two stdio fds on one pipe (2>&1) share one inherited fd. */
struct inherit {
    char **links; /* NULL-terminated */
    int fds[3];
    size_t n;
};

static bool needs_inherit(const char *link)
{
    return link && (str_startswith(link, "pipe:") || str_startswith(link, "socket:"));
}

static void inherit_build(const struct checkpoint_meta *m, const struct container_restore_io *io,
                          struct inherit *in)
{
    in->links = xcalloc(1, sizeof(char *));
    in->n = 0;
    for (int i = 0; i < 3; i++) {
        if (!needs_inherit(m->stdio[i]) || strv_contains(in->links, m->stdio[i]))
            continue;
        strv_push(&in->links, m->stdio[i]);
        in->fds[in->n++] = io ? io->stdio[i] : -1;
    }
}

struct restore_job {
    const struct reaper_config *cfg;
    const struct container_state *st;
    const struct checkpoint_meta *meta;
    struct checkpoint_opts opts;
    const char *criu;
    char *root;        /* <runtime_root>/restore/<id>/root */
    char *pidfile;     /* <state dir>/restore.pid */
    struct kv *mounts; /* the image's bind mounts: destination -> this container's source */
    size_t n_mounts;
};

static _must_check_ int read_pidfile(const char *path, pid_t *pid, rerr **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = read_file(path, 64, &text, &len, err);
    if (r < 0)
        return r;
    int64_t v = 0;
    text[strcspn(text, "\n")] = '\0';
    if (parse_int64(text, 1, INT32_MAX, &v) < 0)
        return rerr_setx(err, EINVAL, "%s: \"%s\" is not a pid", path, text);
    *pid = (pid_t)v;
    return 0;
}

static void kill_and_reap(pid_t pid)
{
    _cleanup_rerr_ rerr *e = NULL;
    if (proc_tree_kill(pid, SIGKILL, &e) < 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static bool is_our_child(pid_t pid)
{
    struct proc_stat ps;
    return proc_stat_read(pid, &ps) == 0 && ps.ppid == getpid();
}

/* A failed criu restore kills what it restored; whatever is left of ours goes too: the init it
 * wrote to the pidfile, or (when it was killed before writing it) the restored tasks it made our
 * children (--restore-sibling), which have the checkpoint's pids. */
static void remove_leftover(const char *pidfile, const struct checkpoint_meta *meta)
{
    pid_t pid;
    _cleanup_rerr_ rerr *e = NULL;
    if (read_pidfile(pidfile, &pid, &e) == 0 && is_our_child(pid))
        kill_and_reap(pid);
    for (size_t i = 0; i < meta->n_pids; i++)
        if (is_our_child(meta->pids[i]))
            kill_and_reap(meta->pids[i]);
    if (meta->n_pids == 0 && is_our_child(meta->pid))
        kill_and_reap(meta->pid);
    if (unlink(pidfile) < 0 && errno != ENOENT)
        log_warn("unlink %s: %s", pidfile, strerror(errno));
}

static _must_check_ int run_restore(struct restore_job *j, const struct container_restore_io *io,
                                    rerr **err)
{
    struct inherit in = {0};
    inherit_build(j->meta, io, &in);
    const char *work = j->opts.work_path ? j->opts.work_path : j->opts.image_path;
    struct criu_restore_params p = {.criu = j->criu,
                                    .image_dir = j->opts.image_path,
                                    .work_dir = work,
                                    .root = j->root,
                                    .pidfile = j->pidfile,
                                    .opts = &j->opts,
                                    .inherit = in.links,
                                    .ext_mounts = j->mounts,
                                    .n_ext_mounts = j->n_mounts};
    _cleanup_strv_ char **argv = criu_restore_argv(&p);
    strv_free(in.links);
    _cleanup_criu_run_ struct criu_run run = {
        .cfg = j->cfg, .argv = argv, .inherit = in.fds, .n_inherit = in.n};
    int r = mkdir_p(work, 0700, err);
    if (r == 0)
        r = criu_run(&run, err);
    if (r < 0 || (!run.timed_out && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0))
        return r;
    remove_leftover(j->pidfile, j->meta);
    _cleanup_free_ char *what = xasprintf("restore %s from %s", j->st->id, j->opts.image_path);
    return criu_failure(what, &run, work, CRIU_RESTORE_LOG, err);
}

/* The overlay mounted for CRIU goes whatever happened (the restored tree holds its own). */
static void detach_root(const char *root)
{
    if (umount2(root, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("unmount %s: %s", root, strerror(errno));
    _cleanup_free_ char *dir = xstrdup(root);
    for (int i = 0; i < 3; i++) { /* root, restore/<id>, restore (if empty) */
        if (rmdir(dir) < 0)
            break;
        *strrchr(dir, '/') = '\0';
    }
}

static _must_check_ int restore_in_root(struct restore_job *j,
                                        const struct container_restore_io *io, rerr **err)
{
    struct workload_identity ident = {.k8s_namespace = j->st->k8s_namespace,
                                      .overlay_name = j->st->overlay_name,
                                      .dns_mode = j->st->dns_mode};
    int r = overlay_root_attach(j->cfg, &ident, j->root, err);
    if (r == 0)
        r = run_restore(j, io, err);
    detach_root(j->root);
    return r;
}

/* Record the restored init; on any failure it is killed, so no process is left behind. */
static _must_check_ int adopt(struct restore_job *j, struct container_state *st, pid_t *pid,
                              int *pidfd, rerr **err)
{
    pid_t child;
    int r = read_pidfile(j->pidfile, &child, err);
    if (r < 0)
        return rerr_wrap(err, "restore %s", st->id);
    if (unlink(j->pidfile) < 0)
        log_warn("unlink %s: %s", j->pidfile, strerror(errno));
    if (!is_our_child(child)) {
        kill(child, SIGKILL); /* not ours to wait for: criu did not restore it as our child */
        return rerr_setx(err, ECHILD, "restore %s: restored pid %d is not a child of pid %d",
                         st->id, (int)child, (int)getpid());
    }
    int fd = (int)syscall(SYS_pidfd_open, child, 0);
    st->pid = child;
    st->pid_start_time = proc_start_time(child);
    st->started = true;
    r = state_save(j->cfg->runtime_root, st, err);
    if (r < 0) {
        kill_and_reap(child);
        if (fd >= 0)
            close(fd);
        return r;
    }
    *pid = child;
    *pidfd = fd;
    return 0;
}

static _must_check_ int restore_state(const struct reaper_config *cfg, struct container_state *st,
                                      const struct checkpoint_opts *opts,
                                      const struct container_restore_io *io, pid_t *pid, int *pidfd,
                                      rerr **err)
{
    const char *image = opts && opts->image_path ? opts->image_path : st->restore_from;
    if (image == NULL)
        return rerr_setx(err, EINVAL, "restore %s: no checkpoint image given or recorded at create",
                         st->id);
    _cleanup_meta_ struct checkpoint_meta *meta = NULL;
    if (checkpoint_image_validate(image, err) < 0 || checkpoint_meta_read(image, &meta, err) < 0)
        return rerr_wrap(err, "restore %s", st->id);
    if (meta == NULL) /* for the analyzer: a successful read always sets it */
        return rerr_setx(err, EIO, "restore %s: %s: no metadata read", st->id, image);
    if (meta->terminal)
        return rerr_setx(err, ENOTSUP,
                         "restore %s: %s is a checkpoint of a container with a "
                         "terminal, which cannot be restored",
                         st->id, image);
    if (check_pids_free(meta, err) < 0)
        return rerr_wrap(err, "restore %s from %s", st->id, image);
    _cleanup_free_ char *criu = NULL;
    if (criu_resolve(cfg, &criu, err) < 0)
        return rerr_wrap(err, "restore %s", st->id);
    _cleanup_free_ char *sdir = state_dir(cfg->runtime_root, st->id);
    struct restore_job j = {.cfg = cfg,
                            .st = st,
                            .meta = meta,
                            .opts = effective_opts(opts, meta, image),
                            .criu = criu,
                            .root = xasprintf("%s/restore/%s/root", cfg->runtime_root, st->id),
                            .pidfile = xasprintf("%s/" RESTORE_PIDFILE, sdir)};
    int r =
        ckpt_mounts_map(st->bundle, st->dns_mode, meta->ext_mounts, &j.mounts, &j.n_mounts, err);
    if (r < 0)
        r = rerr_wrap(err, "restore %s from %s", st->id, image);
    if (r == 0)
        r = restore_in_root(&j, io, err);
    if (r == 0)
        r = adopt(&j, st, pid, pidfd, err);
    kv_free(j.mounts, j.n_mounts);
    free(j.root);
    free(j.pidfile);
    return r;
}

int container_restore(const struct reaper_config *cfg, const char *id,
                      const struct checkpoint_opts *opts, const struct container_restore_io *io,
                      pid_t *pid, int *pidfd, rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    if ((r = check_restorable(st, err)) < 0)
        return r;
    if (st->terminal)
        return rerr_setx(err, ENOTSUP,
                         "restore %s: containers with a terminal (process.terminal) cannot be "
                         "restored",
                         id);
    return restore_state(cfg, st, opts, io, pid, pidfd, err);
}
