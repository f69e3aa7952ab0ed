/*
 * The OCI verbs: state on disk (state.h) plus the workload process (process.h). Shared by the
 * reaper-runtime CLI and the shim, so nothing here exits, prints or keeps global state.
 */
#include "container.h"
#include "checkpoint.h"
#include "proc_stat.h"
#include "cleanup.h"
#include "console.h"
#include "kernel.h"
#include "log.h"
#include "proc_tree.h"
#include "process.h"
#include "seccomp_filter.h"
#include "security.h"
#include "root_mount.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_FIFO "exec.fifo"
/* The container's compiled linux.seccomp, kept for its execs (containerd's exec spec has no
 * seccomp): an exec loads it without compiling the profile again. */
#define SECCOMP_FILE     "seccomp.bpf"
#define SECCOMP_MAX_SIZE (1024 * 1024)

static _must_check_ int pidfd_of(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* The recorded pid is still our process (not exited-and-reaped, not reused). */
static bool pid_is_ours(const struct container_state *st)
{
    return st->pid > 0 && proc_start_time(st->pid) == st->pid_start_time;
}

static char *state_file(const char *root, const char *id, const char *name)
{
    _cleanup_free_ char *dir = state_dir(root, id);
    return xasprintf("%s/%s", dir, name);
}

static char *fifo_path(const char *root, const char *id)
{
    return state_file(root, id, EXEC_FIFO);
}

static void seccomp_prog_clearp(struct seccomp_prog *p)
{
    seccomp_prog_clear(p);
}
#define _cleanup_seccomp_ __attribute__((cleanup(seccomp_prog_clearp)))

/* Compile the init's filter and keep its source for execs. *prog stays empty without one. */
static _must_check_ int seccomp_for_init(const struct reaper_config *cfg, const char *id,
                                         const struct oci_spec *spec, struct seccomp_prog *prog,
                                         rerr **err)
{
    const char *json = spec->linux_sec.seccomp_json;
    if (json == NULL)
        return 0;
    int r = seccomp_compile(json, strlen(json), prog, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = state_file(cfg->runtime_root, id, SECCOMP_FILE);
    size_t len = 0;
    _cleanup_free_ char *blob = seccomp_prog_serialize(prog, &len);
    return write_file_replace(path, blob, len, 0600, err);
}

/* The filter an exec inherits from its container, if the container has one. */
static _must_check_ int seccomp_for_exec(const struct reaper_config *cfg, const char *id,
                                         struct seccomp_prog *prog, rerr **err)
{
    _cleanup_free_ char *path = state_file(cfg->runtime_root, id, SECCOMP_FILE);
    _cleanup_free_ char *blob = NULL;
    size_t len = 0;
    _cleanup_rerr_ rerr *read_err = NULL;
    int r = read_file(path, SECCOMP_MAX_SIZE, &blob, &len, &read_err);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return rerr_from(err, -r, rerr_msg(read_err));
    if (seccomp_prog_deserialize(blob, len, prog, err) < 0)
        return rerr_wrap(err, "%s", path);
    return 0;
}

static _must_check_ int write_pid_file(const char *path, pid_t pid, rerr **err)
{
    if (path == NULL)
        return 0;
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    return write_file_replace(path, buf, (size_t)n, 0644, err);
}

/* Either the caller's connected socket, or a connection to the path; *owned is ours to close. */
static _must_check_ int console_sock_for(const char *path, int fd, int *sock, int *owned,
                                         rerr **err)
{
    *sock = fd;
    if (fd >= 0 || path == NULL)
        return 0;
    int r = console_connect(path, err);
    if (r < 0)
        return r;
    *sock = *owned = r;
    return 0;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/*
 * The root as a shared mount point, so reaper-agent's Bidirectional mount of it works on nodes
 * whose / is not shared. A runtime without CAP_SYS_ADMIN (EPERM) still works, it only warns.
 */
static _must_check_ int prepare_root(const struct reaper_config *cfg, rerr **err)
{
    /* Once per process and root: the check reads the whole mountinfo, and a shim creates every
     * container of its pod (the hot path). */
    static char *done_for;
    if (!cfg->shared_root || (done_for && strcmp(done_for, cfg->runtime_root) == 0))
        return mkdir_p(cfg->runtime_root, 0711, err);
    _cleanup_rerr_ rerr *e = NULL;
    int r = root_mount_ensure_shared(cfg->runtime_root, &e);
    if (r >= 0) {
        free(done_for);
        done_for = xstrdup(cfg->runtime_root);
    }
    if (r != -EPERM)
        return r < 0 ? rerr_from(err, -r, rerr_msg(e)) : 0;
    log_warn("%s (REAPER_SHARED_ROOT=false turns this off)", rerr_msg(e));
    return mkdir_p(cfg->runtime_root, 0711, err);
}

/* mkdir is the atomic "does it exist" test: two creates of one id cannot both win. */
static _must_check_ int make_state_dir(const struct reaper_config *cfg, const char *id, rerr **err)
{
    int r = prepare_root(cfg, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = state_dir(cfg->runtime_root, id);
    if (mkdir(dir, 0711) < 0) {
        if (errno == EEXIST)
            return rerr_setx(err, EEXIST, "container %s already exists", id);
        return rerr_set(err, errno, "mkdir %s", dir);
    }
    return 0;
}

static _must_check_ int resolve_identity(const struct reaper_config *cfg,
                                         const struct oci_spec *spec,
                                         struct workload_identity *ident, rerr **err)
{
    _cleanup_strv_ char **warnings = NULL;
    int r = workload_identity_resolve(cfg, spec->annotations, spec->n_annotations, ident, &warnings,
                                      err);
    for (size_t i = 0; warnings && warnings[i]; i++)
        log_warn("%s", warnings[i]);
    return r;
}

struct create_ctx {
    const struct reaper_config *cfg;
    const struct container_create_opts *opts;
    const struct oci_spec *spec;
    const struct workload_identity *ident;
    struct container_state st;
};

static _must_check_ int spawn_init(struct create_ctx *c, pid_t *pid, int *pidfd, rerr **err)
{
    _cleanup_free_ char *fifo = fifo_path(c->cfg->runtime_root, c->opts->id);
    /* 0622 despite the umask: a workload that switched user must still open it to write. */
    if (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0)
        return rerr_set(err, errno, "mkfifo %s", fifo);
    _cleanup_close_ int release = open(fifo, O_PATH | O_CLOEXEC);
    if (release < 0)
        return rerr_set(err, errno, "open %s", fifo);
    _cleanup_close_ int owned = -1;
    int sock;
    int r = console_sock_for(c->opts->console_socket, c->opts->console_fd, &sock, &owned, err);
    if (r < 0)
        return r;
    _cleanup_seccomp_ struct seccomp_prog prog = {0};
    if ((r = seccomp_for_init(c->cfg, c->opts->id, c->spec, &prog, err)) < 0)
        return r;
    /* Masked and read-only paths only for a restricted container (security.h). */
    bool restricted = caps_restricted(&c->spec->process.caps);
    struct spawn_request req = {
        .cfg = c->cfg,
        .proc = &c->spec->process,
        .identity = c->ident,
        .mounts = c->spec->mounts,
        .n_mounts = c->spec->n_mounts,
        .readonly_root = c->spec->root_readonly,
        .masked_paths = restricted ? c->spec->linux_sec.masked_paths : NULL,
        .readonly_paths = restricted ? c->spec->linux_sec.readonly_paths : NULL,
        .seccomp = prog.insns ? &prog : NULL,
        .stdio = {c->opts->stdio[0], c->opts->stdio[1], c->opts->stdio[2]},
        .console_sock = sock,
        .release_fd = release,
    };
    return process_spawn(&req, pid, pidfd, err);
}

/* Everything after the state dir exists; the caller removes the dir if this fails. */
static _must_check_ int create_in_dir(struct create_ctx *c, pid_t *pid, int *pidfd, rerr **err)
{
    const char *root = c->cfg->runtime_root;
    int r = state_save(root, &c->st, err);
    /* A sandbox has no process; a restore gets its process from container_restore. */
    if (r < 0 || c->st.sandbox || c->st.restore_from)
        return r;
    pid_t child;
    int cfd = -1;
    if ((r = spawn_init(c, &child, &cfd, err)) < 0)
        return r;
    c->st.pid = child;
    c->st.pid_start_time = proc_start_time(child);
    r = state_save(root, &c->st, err);
    if (r == 0)
        r = write_pid_file(c->opts->pid_file, child, err);
    if (r < 0) {
        kill_and_reap(child);
        if (cfd >= 0)
            close(cfd);
        return r;
    }
    *pid = child;
    *pidfd = cfd;
    return 0;
}

/* The checkpoint image a workload asks to be restored from, checked now: a missing or unusable
 * image fails create instead of silently starting fresh. */
static _must_check_ int restore_image_of(const struct reaper_config *cfg,
                                         const struct oci_spec *spec, const char *given, char **dir,
                                         rerr **err)
{
    *dir = NULL;
    if (oci_spec_is_sandbox(spec))
        return 0;
    _cleanup_free_ char *image = given ? xstrdup(given) : NULL;
    /* REAPER_ANNOTATIONS_ENABLED=false: no reaper.runtime/ annotation is honoured, this one
     * neither (the RESTORE_FROM env still is: it is the workload's own spec). */
    size_t n_ann = cfg->annotations_enabled ? spec->n_annotations : 0;
    int r = given ? 0 : restore_source(spec->process.env, spec->annotations, n_ann, &image, err);
    if (r == 0 && image)
        r = checkpoint_image_validate(image, err);
    if (r == 0)
        *dir = steal_ptr(image);
    return r;
}

static _must_check_ int create_with_spec(const struct reaper_config *cfg,
                                         const struct container_create_opts *opts,
                                         const struct oci_spec *spec, pid_t *pid, int *pidfd,
                                         rerr **err)
{
    _cleanup_free_ char *restore_from = NULL;
    int r = restore_image_of(cfg, spec, opts->restore_from, &restore_from, err);
    if (r < 0)
        return rerr_wrap(err, "create %s", opts->id);
    struct workload_identity ident = {0};
    r = resolve_identity(cfg, spec, &ident, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *bundle = realpath(opts->bundle, NULL);
    _cleanup_free_ char *created = rfc3339_now();
    struct create_ctx c = {.cfg = cfg, .opts = opts, .spec = spec, .ident = &ident};
    c.st = (struct container_state){
        .id = (char *)opts->id,
        .bundle = bundle ? bundle : (char *)opts->bundle,
        .created = created,
        .k8s_namespace = ident.k8s_namespace,
        .overlay_name = ident.overlay_name,
        .dns_mode = ident.dns_mode,
        .terminal = spec->process.terminal,
        .sandbox = oci_spec_is_sandbox(spec),
        .restore_from = restore_from,
        .annotations = spec->annotations,
        .n_annotations = spec->n_annotations,
    };
    if ((r = make_state_dir(cfg, opts->id, err)) == 0) {
        r = create_in_dir(&c, pid, pidfd, err);
        if (r == 0 && opts->restore_pending)
            *opts->restore_pending = steal_ptr(restore_from);
        if (r < 0) {
            _cleanup_free_ char *dir = state_dir(cfg->runtime_root, opts->id);
            _cleanup_rerr_ rerr *rm_err = NULL;
            if (rm_rf(dir, &rm_err) < 0)
                log_warn("clean up %s: %s", dir, rerr_msg(rm_err));
        }
    }
    workload_identity_free(&ident);
    return r;
}

int container_create(const struct reaper_config *cfg, const struct container_create_opts *opts,
                     pid_t *pid, int *pidfd, rerr **err)
{
    if (!is_valid_id(opts->id))
        return rerr_setx(err, EINVAL, "invalid container id \"%s\"", opts->id);
    _cleanup_spec_ struct oci_spec *spec = NULL;
    int r = kernel_check(err);
    if (r < 0)
        return r;
    r = oci_spec_load(opts->bundle, &spec, err);
    if (r < 0)
        return r;
    r = security_check_refused(spec, err);
    if (r == 0)
        r = security_check_user_switch(&spec->process.user, err);
    if (r < 0)
        return r;
    *pid = 0;
    *pidfd = -1;
    r = create_with_spec(cfg, opts, spec, pid, pidfd, err);
    if (r == 0) /* the log says what was done to which container: the operator's trail */
        log_info("created %s (pid %d)", opts->id, (int)*pid);
    return r;
}

/* Wait for whichever comes first: the init's byte on the FIFO, or the init's exit. */
static _must_check_ int wait_release(const char *id, int fifo, int pidfd, rerr **err)
{
    struct pollfd p[2] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
    int n;
    do
        n = poll(p, 2, -1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return rerr_set(err, errno, "poll start of %s", id);
    char byte;
    if ((p[0].revents & (POLLIN | POLLHUP)) && read(fifo, &byte, 1) == 1)
        return 0;
    return rerr_setx(err, ESRCH, "container %s init exited before start", id);
}

static _must_check_ int release_init(const struct reaper_config *cfg, struct container_state *st,
                                     rerr **err)
{
    _cleanup_free_ char *fifo = fifo_path(cfg->runtime_root, st->id);
    _cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "open %s", fifo);
    _cleanup_close_ int pidfd = pid_is_ours(st) ? pidfd_of(st->pid) : -1;
    if (pidfd < 0)
        return rerr_setx(err, ESRCH, "container %s init exited before start", st->id);
    int r = wait_release(st->id, fd, pidfd, err);
    if (r == 0 && unlink(fifo) < 0)
        log_warn("unlink %s: %s", fifo, strerror(errno));
    return r;
}

int container_start(const struct reaper_config *cfg, const char *id, rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    enum container_status status = state_live_status(st);
    if (st->started || (!st->sandbox && status != STATUS_CREATED))
        return rerr_setx(err, EBUSY, "container %s is %s, not created: cannot start it", id,
                         container_status_name(status));
    if (st->restore_from)
        return rerr_setx(err, EBUSY,
                         "container %s was created to be restored from %s: restore it "
                         "(container_restore, `reaper-runtime restore`) instead of starting it",
                         id, st->restore_from);
    if (!st->sandbox && (r = release_init(cfg, st, err)) < 0)
        return r;
    st->started = true;
    r = state_save(cfg->runtime_root, st, err);
    if (r == 0)
        log_info("started %s", id);
    return r;
}

int container_state(const struct reaper_config *cfg, const char *id, struct container_state **st,
                    enum container_status *status, rerr **err)
{
    int r = state_load(cfg->runtime_root, id, st, err);
    if (r < 0)
        return r;
    if (status)
        *status = state_live_status(*st);
    return 0;
}

static _must_check_ int signal_container(const struct container_state *st, int sig, bool all,
                                         rerr **err)
{
    if (st->sandbox || !pid_is_ours(st))
        return 0;
    if (all) {
        int r = proc_tree_kill(st->pid, sig, err);
        return r < 0 ? r : 0;
    }
    if (kill(-st->pid, sig) < 0 && errno != ESRCH)
        return rerr_set(err, errno, "kill process group %d", (int)st->pid);
    return 0;
}

int container_kill(const struct reaper_config *cfg, const char *id, int sig, bool all, rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    r = signal_container(st, sig, all, err);
    return r < 0 ? rerr_wrap(err, "kill %s", id) : 0;
}

/* SIGKILL the whole tree and return once the init has exited (pidfd: no polling loop). */
static _must_check_ int kill_tree_and_wait(const struct container_state *st, rerr **err)
{
    if (st->sandbox || !pid_is_ours(st))
        return 0;
    _cleanup_close_ int pidfd = pidfd_of(st->pid);
    /* The namespace first, while the init still names it: it also holds the execs and their
     * children, which have sessions of their own (left running when the shim was killed). */
    int r = proc_mntns_kill(st->pid, SIGKILL, err);
    if (r >= 0)
        r = proc_tree_kill(st->pid, SIGKILL, err);
    if (r < 0)
        return r;
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    while (pidfd >= 0 && poll(&p, 1, -1) < 0) {
        if (errno != EINTR)
            return rerr_set(err, errno, "wait for pid %d", (int)st->pid);
    }
    return 0;
}

int container_delete(const struct reaper_config *cfg, const char *id, bool force, rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    enum container_status status = state_live_status(st);
    bool busy = status == STATUS_RUNNING || status == STATUS_PAUSED;
    if (busy && !st->sandbox && !force)
        return rerr_setx(err, EBUSY, "container %s is running; use --force", id);
    if (kill_tree_and_wait(st, err) < 0)
        return rerr_wrap(err, "delete %s", id);
    r = state_remove(cfg->runtime_root, id, err);
    if (r == 0)
        log_info("deleted %s", id);
    return r;
}

int container_record_exit(const struct reaper_config *cfg, const char *id, int exit_status,
                          rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    st->has_exit = true;
    st->exit_status = exit_status;
    return state_save(cfg->runtime_root, st, err);
}

int container_exec(const struct reaper_config *cfg, const char *id, const struct oci_process *proc,
                   const struct container_exec_opts *opts, pid_t *pid, int *pidfd, rerr **err)
{
    _cleanup_state_ struct container_state *st = NULL;
    int r = state_load(cfg->runtime_root, id, &st, err);
    if (r < 0)
        return r;
    enum container_status status = state_live_status(st);
    if (st->sandbox || status != STATUS_RUNNING)
        return rerr_setx(err, EBUSY, "container %s is %s: cannot exec in it", id,
                         st->sandbox ? "a sandbox" : container_status_name(status));
    if ((r = security_check_user_switch(&proc->user, err)) < 0)
        return r;
    _cleanup_close_ int owned = -1;
    int sock;
    if ((r = console_sock_for(opts->console_socket, opts->console_fd, &sock, &owned, err)) < 0)
        return r;
    _cleanup_seccomp_ struct seccomp_prog prog = {0};
    if (seccomp_for_exec(cfg, id, &prog, err) < 0)
        return rerr_wrap(err, "exec in %s", id);
    struct spawn_request req = {
        .cfg = cfg,
        .proc = proc,
        .seccomp = prog.insns ? &prog : NULL,
        .join_pid = st->pid,
        .stdio = {opts->stdio[0], opts->stdio[1], opts->stdio[2]},
        .console_sock = sock,
        .release_fd = opts->release_fd,
        .die_with_parent = opts->die_with_parent,
    };
    if (process_spawn(&req, pid, pidfd, err) < 0)
        return rerr_wrap(err, "exec in %s", id);
    if ((r = write_pid_file(opts->pid_file, *pid, err)) < 0) {
        kill_and_reap(*pid);
        if (*pidfd >= 0)
            close(*pidfd);
        return r;
    }
    return 0;
}
