/*
 * container_checkpoint: `criu dump` of a running container's process tree plus
 * reaper-checkpoint.json (written last: its presence means the dump completed).
 */
#include "checkpoint.h"
#include "checkpoint_meta.h"
#include "ckpt_mounts.h"
#include "cleanup.h"
#include "criu.h"
#include "log.h"
#include "proc_tree.h"
#include "process.h"
#include "state.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _must_check_ int check_checkpointable(const struct container_state *st, rerr **err)
{
    if (st->sandbox)
        return rerr_setx(err, EBUSY,
                         "container %s is a sandbox (pause container): nothing to "
                         "checkpoint",
                         st->id);
    enum container_status status = state_live_status(st);
    if (status != STATUS_RUNNING)
        return rerr_setx(err, EBUSY, "container %s is %s, not running: cannot checkpoint it",
                         st->id, container_status_name(status));
    if (st->terminal)
        return rerr_setx(err, ENOTSUP,
                         "container %s has a terminal (process.terminal): checkpoint of "
                         "containers with a pty is not supported",
                         st->id);
    return 0;
}

/* The names in dir now: what the dump adds is what a failed dump removes again. */
static _must_check_ int list_names(const char *dir, char ***names, rerr **err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return rerr_set(err, errno, "open %s", dir);
    char **v = xcalloc(1, sizeof(char *));
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            strv_push(&v, de->d_name);
    closedir(d);
    *names = v;
    return 0;
}

/* Created if missing; one holding a checkpoint (metadata or CRIU images) is refused. */
static _must_check_ int prepare_image_dir(const char *dir, char ***before, rerr **err)
{
    if (dir == NULL || dir[0] != '/')
        return rerr_setx(err, EINVAL, "checkpoint image path \"%s\" is not an absolute path",
                         dir ? dir : "");
    int r = mkdir_p(dir, 0700, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *meta = xasprintf("%s/" CHECKPOINT_META_FILE, dir);
    if (access(meta, F_OK) == 0 || checkpoint_has_images(dir))
        return rerr_setx(err, EEXIST, "%s already holds a checkpoint: use an empty directory", dir);
    return list_names(dir, before, err);
}

/* After a failed dump: the files it left in the image dir go, its log stays. */
static void remove_partial(const char *dir, char *const *before)
{
    _cleanup_strv_ char **now = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    if (list_names(dir, &now, &e) < 0) {
        log_warn("%s", rerr_msg(e));
        return;
    }
    for (size_t i = 0; now[i]; i++) {
        if (strv_contains(before, now[i]) || strcmp(now[i], CRIU_DUMP_LOG) == 0)
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, now[i]);
        if (unlink(path) < 0 && errno != ENOENT)
            log_warn("remove %s: %s", path, strerror(errno));
    }
}

/* readlink /proc/PID/fd/N: "pipe:[123]", "/dev/null", ... (NULL if closed). */
static char *fd_link(pid_t pid, int fd)
{
    char path[64], buf[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
    ssize_t n = readlink(path, buf, sizeof(buf) - 1);
    if (n < 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

static void meta_from_state(const struct container_state *st, const struct checkpoint_opts *opts,
                            struct checkpoint_meta *m)
{
    m->id = st->id;
    m->pid = st->pid;
    m->k8s_namespace = st->k8s_namespace;
    m->overlay_name = st->overlay_name;
    m->dns_mode = st->dns_mode;
    m->terminal = st->terminal;
    m->opts = *opts;
    m->opts.image_path = m->opts.work_path = NULL;
    for (int i = 0; i < 3; i++)
        m->stdio[i] = fd_link(st->pid, i);
    /* Restore checks these pids are free (CRIU needs the same ones); replaced by the exact
     * list from CRIU's log after the dump. */
    _cleanup_rerr_ rerr *e = NULL;
    if (proc_tree_pids(st->pid, &m->pids, &m->n_pids, &e) < 0)
        log_warn("checkpoint %s: list its processes: %s", st->id, rerr_msg(e));
}

static void meta_clear_listed(struct checkpoint_meta *m)
{
    for (int i = 0; i < 3; i++)
        free(m->stdio[i]);
    free(m->pids);
}

static _must_check_ int run_dump(const struct reaper_config *cfg, const char *criu,
                                 const struct container_state *st,
                                 const struct checkpoint_opts *opts, const char *work,
                                 char *const *ext_mounts, rerr **err)
{
    struct criu_dump_params p = {.criu = criu,
                                 .pid = st->pid,
                                 .image_dir = opts->image_path,
                                 .work_dir = work,
                                 .opts = opts,
                                 .ext_mounts = ext_mounts};
    _cleanup_strv_ char **argv = criu_dump_argv(&p);
    _cleanup_criu_run_ struct criu_run run = {.cfg = cfg, .argv = argv};
    int r = criu_run(&run, err);
    if (r < 0)
        return r;
    if (!run.timed_out && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0)
        return 0;
    _cleanup_free_ char *what = xasprintf("checkpoint %s (pid %d)", st->id, (int)st->pid);
    return criu_failure(what, &run, work, CRIU_DUMP_LOG, err);
}

/* From the dump's log: CRIU's version and the exact pids it froze (the tree may have changed
 * since meta_from_state listed it). */
static void meta_from_log(const char *work, struct checkpoint_meta *m)
{
    size_t len = 0;
    _cleanup_free_ char *log = criu_log_read(work, CRIU_DUMP_LOG, &len);
    if (log == NULL)
        return;
    m->criu_version = criu_parse_version(log);
    pid_t *seized = NULL;
    size_t n = 0;
    criu_log_seized(log, len, &seized, &n);
    if (n == 0)
        return;
    free(m->pids);
    m->pids = seized;
    m->n_pids = n;
}

static _must_check_ int dump_and_record(const struct reaper_config *cfg, const char *criu,
                                        const struct container_state *st,
                                        const struct checkpoint_opts *opts, rerr **err)
{
    const char *work = opts->work_path ? opts->work_path : opts->image_path;
    int r = mkdir_p(work, 0700, err);
    if (r < 0)
        return r;
    _cleanup_strv_ char **mounts = NULL;
    if (ckpt_mounts_destinations(st->bundle, st->dns_mode, &mounts, err) < 0)
        return rerr_wrap(err, "checkpoint %s: its bind mounts", st->id);
    struct checkpoint_meta m = {.ext_mounts = mounts};
    meta_from_state(st, opts, &m); /* before the dump: it may kill the workload */
    _cleanup_free_ char *created = rfc3339_now();
    m.created = created;
    m.criu_path = (char *)criu;
    r = run_dump(cfg, criu, st, opts, work, mounts, err);
    if (r == 0) {
        meta_from_log(work, &m);
        r = checkpoint_meta_write(opts->image_path, &m, err);
    }
    meta_clear_listed(&m);
    free(m.criu_version);
    return r;
}

int container_checkpoint(const struct reaper_config *cfg, const char *id,
                         const struct checkpoint_opts *opts, rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    if ((r = check_checkpointable(st, err)) < 0)
        return r;
    _cleanup_free_ char *criu = NULL;
    if (criu_resolve(cfg, &criu, err) < 0)
        return rerr_wrap(err, "checkpoint %s", id);
    _cleanup_strv_ char **before = NULL;
    if (prepare_image_dir(opts->image_path, &before, err) < 0)
        return rerr_wrap(err, "checkpoint %s", id);
    r = dump_and_record(cfg, criu, st, opts, err);
    if (r < 0)
        remove_partial(opts->image_path, before);
    return r;
}
