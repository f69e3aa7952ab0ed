/*
 * process_spawn: fork a child that sets itself up completely (overlay or joined namespace,
 * session, stdio or pty, rlimits, cwd, credentials), reports the result over the sync socket,
 * optionally blocks on the release FIFO, then execs. Only the child calls _exit().
 */
#include "process.h"
#include "cleanup.h"
#include "console.h"
#include "mount_restrict.h"
#include "mounts.h"
#include "overlay.h"
#include "security.h"
#include "sync.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the child carries between its setup steps. */
struct child {
    const struct spawn_request *req;
    int sync_fd;
    int ns_fd;    /* exec: the joined mount namespace */
    pid_t parent; /* the caller of process_spawn */
    struct mount_plan plan;
};

static _must_check_ int exec_candidate(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
        return -EACCES;
    return 0;
}

static _must_check_ int resolve_explicit(const char *file, char **path, rerr **err)
{
    int r = exec_candidate(file);
    if (r == -EACCES)
        return rerr_setx(err, EACCES, "exec: \"%s\": permission denied", file);
    if (r < 0)
        return rerr_set(err, -r, "exec: \"%s\": stat %s", file, file);
    *path = xstrdup(file);
    return 0;
}

static const char *env_path(char *const *env)
{
    for (size_t i = 0; env && env[i]; i++)
        if (str_startswith(env[i], "PATH="))
            return env[i] + 5;
    return DEFAULT_PATH;
}

int process_resolve_executable(const struct oci_process *proc, char **path, rerr **err)
{
    if (proc == NULL || proc->args == NULL || proc->args[0] == NULL || !*proc->args[0])
        return rerr_setx(err, EINVAL, "process.args must not be empty");
    const char *file = proc->args[0];
    if (strchr(file, '/'))
        return resolve_explicit(file, path, err);
    _cleanup_strv_ char **dirs = strv_split(env_path(proc->env), ":");
    for (size_t i = 0; dirs[i]; i++) {
        _cleanup_free_ char *cand = xasprintf("%s/%s", dirs[i], file);
        if (exec_candidate(cand) == 0) {
            *path = steal_ptr(cand);
            return 0;
        }
    }
    return rerr_setx(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", file);
}

void process_reset_signals(void)
{
    sigset_t all;
    sigemptyset(&all);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Step 1: work that needs the host mount namespace. */
static _must_check_ int child_host_steps(struct child *c, rerr **err)
{
    const struct spawn_request *req = c->req;
    if (req->identity)
        return mounts_prepare(req->mounts, req->n_mounts, req->identity->dns_mode, &c->plan, err);
    if (req->join_pid > 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)req->join_pid);
        c->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (c->ns_fd < 0)
            return rerr_set(err, errno, "open %s", path);
    }
    return 0;
}

/* Step 3: the overlay plus a private per-container namespace, or the container's namespace. */
static _must_check_ int child_enter_ns(struct child *c, rerr **err)
{
    const struct spawn_request *req = c->req;
    if (c->ns_fd >= 0) {
        if (setns(c->ns_fd, CLONE_NEWNS) < 0)
            return rerr_set(err, errno, "join mount namespace of pid %d", (int)req->join_pid);
        return 0;
    }
    if (req->identity == NULL)
        return 0;
    int r = overlay_enter(req->cfg, req->identity, err);
    if (r < 0)
        return r;
    if (unshare(CLONE_NEWNS) < 0)
        return rerr_set(err, errno, "unshare mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return rerr_set(err, errno, "make / private");
    if (req->readonly_root) {
        /* Mount points first: none can be created once the root is read-only. */
        if ((r = mounts_make_points(&c->plan, err)) < 0 || (r = restrict_root_readonly(err)) < 0)
            return r;
    }
    if ((r = mounts_attach(&c->plan, err)) < 0)
        return r;
    if ((r = restrict_mask_paths(req->masked_paths, err)) < 0)
        return r;
    return restrict_readonly_paths(req->readonly_paths, err);
}

static _must_check_ int install_stdio(const int fds[3], rerr **err)
{
    int tmp[3] = {-1, -1, -1};
    int r = 0;
    /* Move sources above 2 first so any permutation of 0,1,2 works. */
    for (int i = 0; i < 3 && r == 0; i++) {
        if (fds[i] >= 0)
            tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        else
            tmp[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (tmp[i] < 0)
            r = rerr_set(err, errno, "stdio fd %d", i);
    }
    for (int i = 0; i < 3 && r == 0; i++)
        if (dup2(tmp[i], i) < 0)
            r = rerr_set(err, errno, "dup2 stdio %d", i);
    for (int i = 0; i < 3; i++)
        if (tmp[i] >= 0)
            close(tmp[i]);
    return r;
}

static _must_check_ int install_terminal(const struct spawn_request *req, rerr **err)
{
    if (req->console_sock < 0)
        return rerr_setx(err, EINVAL, "process.terminal is set but no console socket was given");
    _cleanup_close_ int master = -1, slave = -1;
    _cleanup_free_ char *name = NULL;
    int r = console_open_pty(&master, &slave, &name, err);
    if (r < 0)
        return r;
    unsigned rows = req->proc->console_height, cols = req->proc->console_width;
    if (rows && cols && (r = console_set_size(slave, rows, cols, err)) < 0)
        return r;
    if ((r = console_send_fd(req->console_sock, master, name, err)) < 0)
        return r;
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return rerr_set(err, errno, "make %s the controlling terminal", name);
    const int fds[3] = {slave, slave, slave};
    return install_stdio(fds, err);
}

static _must_check_ int apply_rlimits(const struct oci_process *p, rerr **err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0)
            return rerr_set(err, errno, "setrlimit resource %d", p->rlimits[i].resource);
    }
    return 0;
}

static _must_check_ int apply_user(const struct oci_process *p, rerr **err)
{
    const struct oci_user *u = &p->user;
    if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
        return rerr_set(err, errno, "setgroups");
    if (setgid(u->gid) < 0)
        return rerr_set(err, errno, "setgid %u", (unsigned)u->gid);
    if (setuid(u->uid) < 0)
        return rerr_set(err, errno, "setuid %u", (unsigned)u->uid);
    /* A uid change makes us non-dumpable, which hands /proc/self to root: we could no longer
     * reopen the release FIFO through /proc/self/fd. execve() recomputes dumpability anyway. */
    if (u->uid != 0 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return rerr_set(err, errno, "prctl(PR_SET_DUMPABLE)");
    umask(u->has_umask ? u->umask : 0022);
    return 0;
}

/* Without no_new_privs a filter can only be loaded with CAP_SYS_ADMIN: then load it now, while
 * root, as runc does (the filter must allow the remaining setup, as runc's must too). With
 * no_new_privs it is loaded last, just before execve (seccomp_late). */
static bool seccomp_early(const struct spawn_request *req)
{
    return req->seccomp && !req->proc->no_new_privileges;
}

static bool seccomp_late(const struct spawn_request *req)
{
    return req->seccomp && req->proc->no_new_privileges;
}

/* Capabilities (if restricted: security.h), seccomp, user, no_new_privs, in runc's order. */
static _must_check_ int apply_security_and_user(const struct spawn_request *req, rerr **err)
{
    const struct oci_process *p = req->proc;
    bool restricted = caps_restricted(&p->caps);
    int r = 0;
    if (restricted && (r = caps_apply_bounding(&p->caps, err)) < 0)
        return r;
    if (seccomp_early(req) && (r = seccomp_prog_install(req->seccomp, err)) < 0)
        return r;
    if (restricted && (r = caps_keep_across_setuid(true, err)) < 0)
        return r;
    if ((r = apply_user(p, err)) < 0)
        return r;
    if (restricted &&
        ((r = caps_keep_across_setuid(false, err)) < 0 || (r = caps_apply_sets(&p->caps, err)) < 0))
        return r;
    if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return rerr_set(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
    return 0;
}

/* After the credentials are final (a uid change clears the setting); a parent that died before
 * the prctl is seen through getppid. */
static _must_check_ int die_with_parent(const struct child *c, rerr **err)
{
    if (!c->req->die_with_parent)
        return 0;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return rerr_set(err, errno, "prctl(PR_SET_PDEATHSIG)");
    if (getppid() != c->parent)
        return rerr_setx(err, ESRCH, "the spawning process %d is gone", (int)c->parent);
    return 0;
}

/* Sum the strings of a NULL-terminated list (each with its NUL); fails on one longer than
 * the kernel takes (MAX_ARG_STRLEN: 32 pages). */
static _must_check_ int exec_strings(char *const *v, const char *field, size_t *n, uint64_t *bytes,
                                     rerr **err)
{
    uint64_t strmax = 32 * (uint64_t)sysconf(_SC_PAGESIZE);
    for (*n = 0; v && v[*n]; (*n)++) {
        uint64_t len = strlen(v[*n]) + 1;
        if (len > strmax)
            return rerr_setx(err, E2BIG,
                             "%s[%zu]: %llu bytes, more than the %llu exec takes "
                             "in one string",
                             field, *n, (unsigned long long)len, (unsigned long long)strmax);
        *bytes += len;
    }
    return 0;
}

/* execve's E2BIG, found while the error can still fail create: the strings of args and env
 * plus one pointer each must fit in a quarter of the stack limit (at least 128 KiB, at most
 * 6 MiB: fs/exec.c). Past the release, an exec error only reaches the workload's stderr. */
static _must_check_ int exec_fits(const struct oci_process *p, const char *path, rerr **err)
{
    struct rlimit rl;
    uint64_t limit = 6ull << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 4 < limit)
        limit = rl.rlim_cur / 4;
    if (limit < 128ull << 10)
        limit = 128ull << 10;
    size_t nargs = 0, nenv = 0;
    uint64_t bytes = strlen(path) + 1;
    int r = exec_strings(p->args, "process.args", &nargs, &bytes, err);
    if (r == 0)
        r = exec_strings(p->env, "process.env", &nenv, &bytes, err);
    if (r < 0)
        return r;
    uint64_t need = bytes + (nargs + nenv) * sizeof(char *);
    if (need > limit)
        return rerr_setx(err, E2BIG,
                         "process.args and process.env: %zu + %zu strings take %llu bytes, more "
                         "than the %llu exec allows (a quarter of the stack limit)",
                         nargs, nenv, (unsigned long long)need, (unsigned long long)limit);
    return 0;
}

/* Steps 1-6; on success *path is the resolved executable. */
static _must_check_ int child_setup(struct child *c, char **path, rerr **err)
{
    const struct oci_process *p = c->req->proc;
    int r = child_host_steps(c, err);
    if (r < 0)
        return r;
    if (setsid() < 0)
        return rerr_set(err, errno, "setsid");
    if ((r = child_enter_ns(c, err)) < 0)
        return r;
    r = p->terminal ? install_terminal(c->req, err) : install_stdio(c->req->stdio, err);
    if (r < 0)
        return r;
    if ((r = apply_rlimits(p, err)) < 0)
        return r;
    const char *cwd = p->cwd && *p->cwd ? p->cwd : "/";
    if (chdir(cwd) < 0)
        return rerr_set(err, errno, "chdir to cwd %s", cwd);
    if ((r = process_resolve_executable(p, path, err)) < 0)
        return r;
    if ((r = exec_fits(p, *path, err)) < 0)
        return r;
    if ((r = apply_security_and_user(c->req, err)) < 0 || (r = die_with_parent(c, err)) < 0)
        return r;
    /* Nothing of ours may reach the workload, on kernels without close_range too. */
    return fds_set_cloexec_from(3, err);
}

static void child_fail_stderr(const char *what, const char *detail)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "reaper: %s: %s\n", what, detail);
    if (n > 0)
        IGNORE_RESULT(
            write_all(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf)));
}

/* Step 7b: block until `start` opens the FIFO for reading, then tell it we are going. */
static void child_wait_release(int release_fd)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", release_fd);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write_all(fd, "0", 1) < 0) {
        child_fail_stderr("wait for start", strerror(errno));
        _exit(127);
    }
}

__attribute__((noreturn)) static void child_main(const struct spawn_request *req, int sync_fd,
                                                 pid_t parent)
{
    struct child c = {.req = req, .sync_fd = sync_fd, .ns_fd = -1, .parent = parent};
    rerr *err = NULL;
    char *path = NULL;
    process_reset_signals();
    if (child_setup(&c, &path, &err) < 0) {
        IGNORE_RESULT(sync_send_rerr(sync_fd, err)); /* else the parent sees EOF */
        _exit(1);
    }
    if (sync_send_ok(sync_fd) < 0)
        _exit(1);
    close(sync_fd);
    if (req->release_fd >= 0)
        child_wait_release(req->release_fd);
    if (seccomp_late(req) && seccomp_prog_install(req->seccomp, &err) < 0) {
        child_fail_stderr("seccomp", rerr_msg(err));
        _exit(127);
    }
    execve(path, req->proc->args, req->proc->env ? req->proc->env : (char *[]){NULL});
    char what[PATH_MAX + 8];
    snprintf(what, sizeof(what), "exec %s", path);
    child_fail_stderr(what, strerror(errno));
    _exit(127);
}

void process_describe_wait(int ws, char *buf, size_t len)
{
    if (WIFEXITED(ws))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(ws));
    else if (WIFSIGNALED(ws))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(ws));
    else
        snprintf(buf, len, "wait status %#x", ws);
}

/* The child failed (it reported, or died): reap it so nothing is left behind. */
static _must_check_ int reap_failed(pid_t child, const char *what, bool eof, int r, rerr **err)
{
    int ws;
    pid_t w;
    do
        w = waitpid(child, &ws, 0);
    while (w < 0 && errno == EINTR);
    if (eof && w == child) {
        char desc[64];
        process_describe_wait(ws, desc, sizeof(desc));
        return rerr_setx(err, EPIPE, "%s exited before reporting (%s)", what, desc);
    }
    return r;
}

int process_spawn(const struct spawn_request *req, pid_t *pid, int *pidfd, rerr **err)
{
    const char *what = req->join_pid > 0 ? "exec process" : "container init";
    int fds[2];
    int r = sync_pair(fds, err);
    if (r < 0)
        return r;
    _cleanup_close_ int parent_fd = fds[0];
    pid_t self = getpid();
    pid_t child = fork();
    if (child < 0) {
        close(fds[1]);
        return rerr_set(err, errno, "fork %s", what);
    }
    if (child == 0) {
        close(parent_fd);
        child_main(req, fds[1], self);
    }
    close(fds[1]);
    /* The child cannot be reaped before we wait for it, so the pid is still ours here. */
    int pfd = (int)syscall(SYS_pidfd_open, child, 0);
    bool eof;
    r = sync_recv_eof(parent_fd, what, &eof, err);
    if (r < 0) {
        if (pfd >= 0)
            close(pfd);
        return reap_failed(child, what, eof, r, err);
    }
    *pid = child;
    *pidfd = pfd;
    return 0;
}
