/*
 * The external `criu` program: where it is, running it with chosen inherited fds, what
 * `--version` and `check` say, and the error lines of its logs (what every error names).
 */
#include "criu.h"
#include "cleanup.h"
#include "log.h"
#include "proc_tree.h"
#include "process.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* What criu prints to stdout/stderr is small (check, version, early errors). */
#define CRIU_OUTPUT_MAX (1024 * 1024)
#define CRIU_LOG_MAX    (64 * 1024 * 1024)
/* Where the child parks fds before putting them in place (above any it installs). */
#define CHILD_FD_PARK 64
#define MAX_INHERIT   8
/* PATH searched in REAPER_CRIU_MOUNT_NS when the caller has none. */
#define CRIU_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int criu_resolve(const struct reaper_config *cfg, char **path, rerr **err)
{
    const char *name = cfg->criu && *cfg->criu ? cfg->criu : "criu";
    if (cfg->criu_mount_ns) { /* criu lives in that namespace: the child looks it up there */
        *path = xstrdup(name);
        return 0;
    }
    const char *search = getenv("PATH");
    _cleanup_free_ char *env_path = search ? xasprintf("PATH=%s", search) : NULL;
    char *args[] = {(char *)name, NULL};
    char *env[] = {env_path, NULL};
    struct oci_process proc = {.args = args, .env = env_path ? env : NULL};
    if (process_resolve_executable(&proc, path, err) < 0)
        return rerr_wrap(err, "criu (REAPER_CRIU=%s)", name);
    return 0;
}

static _Noreturn void child_fail(int out, const char *what)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "Error (reaper): %s: %s\n", what, strerror(errno));
    IGNORE_RESULT(write_all(out, buf, n > 0 ? (size_t)n : 0)); /* nothing else to tell */
    _exit(127);
}

static int park(int fd, int out)
{
    int r = fcntl(fd, F_DUPFD_CLOEXEC, CHILD_FD_PARK);
    if (r < 0)
        child_fail(out, "dup");
    return r;
}

/* What the forked child needs, prepared before fork (the child does not allocate). */
struct criu_child {
    char *const *argv;
    const int *inherit;
    size_t n;
    int out;           /* the output pipe's write end */
    int ns;            /* REAPER_CRIU_MOUNT_NS opened, or -1 */
    const char *paths; /* PATH to search when argv[0] has no '/' */
};

/* The raw syscall, not execv(): coverage builds write their counters out before an exec*()
 * call, taking allocator locks that another thread of the parent may have held at fork. */
static void exec_raw(const char *path, char *const *argv)
{
    syscall(SYS_execve, path, argv, environ);
}

/* execv argv[0], or like execvp the first <dir>/argv[0] of PATH that runs (in the namespace the
 * child is in by now, which is why the parent cannot resolve it). */
static void exec_search(const struct criu_child *c)
{
    const char *name = c->argv[0];
    if (strchr(name, '/')) {
        exec_raw(name, c->argv);
        return;
    }
    int first = ENOENT;
    for (const char *p = c->paths; *p;) {
        size_t n = strcspn(p, ":");
        char full[PATH_MAX];
        int len = n ? snprintf(full, sizeof(full), "%.*s/%s", (int)n, p, name)
                    : snprintf(full, sizeof(full), "./%s", name); /* "" is the cwd */
        if (len > 0 && (size_t)len < sizeof(full)) {
            exec_raw(full, c->argv);
            if (errno != ENOENT && errno != ENOTDIR && first == ENOENT)
                first = errno;
        }
        p += n + (p[n] == ':');
    }
    errno = first;
}

/* 0: /dev/null, 1 and 2: the output pipe, 3+i: inherit[i]; everything else closes on exec. */
static _Noreturn void criu_child(const struct criu_child *c)
{
    process_reset_signals();
    if (c->ns >= 0 && setns(c->ns, CLONE_NEWNS) < 0)
        child_fail(c->out, "setns REAPER_CRIU_MOUNT_NS");
    if (c->ns >= 0 && chdir("/") < 0)
        child_fail(c->out, "chdir / in REAPER_CRIU_MOUNT_NS");
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        child_fail(c->out, "open /dev/null");
    int parked_null = park(null, c->out), parked_out = park(c->out, c->out);
    int parked[MAX_INHERIT];
    for (size_t i = 0; i < c->n; i++)
        parked[i] = park(c->inherit[i] >= 0 ? c->inherit[i] : parked_null, c->out);
    if (dup2(parked_null, 0) < 0 || dup2(parked_out, 1) < 0 || dup2(parked_out, 2) < 0)
        child_fail(parked_out, "dup2 stdio");
    for (size_t i = 0; i < c->n; i++)
        if (dup2(parked[i], (int)(3 + i)) < 0)
            child_fail(parked_out, "dup2 inherited fd");
    rerr *e = NULL;
    if (fds_set_cloexec_from((int)(3 + c->n), &e) < 0)
        child_fail(parked_out, "close fds");
    exec_search(c);
    child_fail(parked_out, c->argv[0]);
}

/* Append what the pipe has now; false at end of file (or a read error). */
static bool read_some(int fd, char **buf, size_t *len)
{
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN;
        if (n == 0)
            return false;
        size_t keep = *len + (size_t)n > CRIU_OUTPUT_MAX ? CRIU_OUTPUT_MAX - *len : (size_t)n;
        *buf = xrealloc(*buf, *len + keep + 1);
        memcpy(*buf + *len, chunk, keep);
        *len += keep;
        (*buf)[*len] = '\0';
    }
}

/* Milliseconds left until deadline (ns, 0 = none) for poll: -1 for none, 0 when passed. */
static int remaining_ms(uint64_t deadline)
{
    if (deadline == 0)
        return -1;
    uint64_t now = monotonic_ns();
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Collect output until criu exits (its pidfd; without one, until the pipe closes) or the
 * deadline passes (false). Tasks criu restored may keep the pipe open after it exits, so from
 * then on only what is already buffered is read. */
static bool collect(int out, int pidfd, uint64_t deadline, char **buf, size_t *len)
{
    bool open_pipe = true, exited = false;
    while (!exited && (open_pipe || pidfd >= 0)) {
        struct pollfd p[2] = {{.fd = open_pipe ? out : -1, .events = POLLIN},
                              {.fd = pidfd, .events = POLLIN}};
        int ms = remaining_ms(deadline);
        if (ms == 0)
            return false;
        int n = poll(p, 2, ms);
        if (n < 0 && errno != EINTR) {
            log_warn("criu: poll: %s", strerror(errno));
            return true; /* fall back to waiting for it */
        }
        if (n > 0 && p[0].revents)
            open_pipe = read_some(out, buf, len);
        exited = n > 0 && p[1].revents;
    }
    if (open_pipe)
        IGNORE_RESULT(read_some(out, buf, len));
    return true;
}

/* Past its timeout: criu and every process it forked go (a restore may have forked the
 * restored tasks; their siblings are the caller's to kill), then it is reaped. */
static void kill_criu(pid_t pid)
{
    _cleanup_rerr_ rerr *e = NULL;
    if (proc_tree_kill(pid, SIGKILL, &e) < 0) {
        log_warn("criu %d: %s", (int)pid, rerr_msg(e));
        kill(pid, SIGKILL);
    }
}

static _must_check_ int start_child(struct criu_run *run, int pfd[2], int *pidfd, pid_t *pid,
                                    rerr **err)
{
    const char *paths = getenv("PATH");
    struct criu_child c = {.argv = run->argv,
                           .inherit = run->inherit,
                           .n = run->n_inherit,
                           .out = pfd[1],
                           .ns = -1,
                           .paths = paths ? paths : CRIU_DEFAULT_PATH};
    const char *ns = run->cfg->criu_mount_ns;
    if (ns && (c.ns = open(ns, O_RDONLY | O_CLOEXEC)) < 0)
        return rerr_set(err, errno, "REAPER_CRIU_MOUNT_NS=%s", ns);
    *pid = fork();
    if (*pid == 0)
        criu_child(&c);
    int saved = errno;
    if (c.ns >= 0)
        close(c.ns);
    if (*pid < 0)
        return rerr_set(err, saved, "fork %s", run->argv[0]);
    *pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
    return 0;
}

void criu_run_clear(struct criu_run *run)
{
    free(run->output);
    run->output = NULL;
}

int criu_run(struct criu_run *run, rerr **err)
{
    run->status = 0;
    run->timed_out = false;
    run->output = NULL;
    if (run->n_inherit > MAX_INHERIT)
        return rerr_setx(err, EINVAL, "criu: too many inherited fds (%zu)", run->n_inherit);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return rerr_set(err, errno, "criu: pipe");
    pid_t pid = -1;
    int pidfd = -1;
    int r = start_child(run, pfd, &pidfd, &pid, err);
    close(pfd[1]);
    if (r < 0) {
        close(pfd[0]);
        return r;
    }
    IGNORE_RESULT(fcntl(pfd[0], F_SETFL, O_NONBLOCK)); /* without it, reads just block */
    unsigned timeout = run->cfg->criu_timeout;
    uint64_t deadline = timeout ? monotonic_ns() + (uint64_t)timeout * 1000000000ull : 0;
    size_t len = 0;
    run->timed_out = !collect(pfd[0], pidfd, deadline, &run->output, &len);
    close(pfd[0]);
    if (pidfd >= 0)
        close(pidfd);
    if (run->timed_out)
        kill_criu(pid);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return rerr_set(err, errno, "wait for %s", run->argv[0]);
    }
    run->status = ws;
    if (run->output == NULL)
        run->output = xstrdup("");
    return 0;
}

char *criu_parse_version(const char *output)
{
    const char *v = output ? strstr(output, "Version: ") : NULL;
    if (v == NULL)
        return NULL;
    v += strlen("Version: ");
    size_t n = strcspn(v, " \t\r\n");
    return n ? xstrndup(v, n) : NULL;
}

/* Lines that say nothing about the cause: CRIU logs the first on every run without
 * CAP_SYS_RESOURCE, the second for each helper it ran that failed (its own lines follow). */
static bool harmless(const char *line, size_t n)
{
    static const char *const noise[] = {"Can't setup RLIMIT_NOFILE", "exited, status="};
    for (size_t i = 0; i < ARRAY_SIZE(noise); i++)
        if (memmem(line, n, noise[i], strlen(noise[i])))
            return true;
    return false;
}

/* "(00.123456) Error (criu/x.c:12): text" -> "text". */
static void error_text(const char *line, size_t n, const char **text, size_t *tn)
{
    const char *e = memmem(line, n, "Error", 5);
    const char *p = e + 5;
    const char *end = line + n;
    if (p < end && *p == ' ' && p + 1 < end && p[1] == '(') {
        const char *close = memmem(p, (size_t)(end - p), "): ", 3);
        if (close)
            p = close + 3;
    } else if (p < end && *p == ':') {
        p++;
    }
    while (p < end && *p == ' ')
        p++;
    *text = p;
    *tn = (size_t)(end - p);
}

char *criu_log_errors(const char *log, size_t len, size_t max)
{
    if (log == NULL || max == 0)
        return NULL;
    const char **starts = xcalloc(max, sizeof(char *));
    size_t *lens = xcalloc(max, sizeof(size_t));
    size_t found = 0;
    for (const char *p = log, *end = log + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (memmem(p, n, "Error", 5) && !harmless(p, n)) {
            error_text(p, n, &starts[found % max], &lens[found % max]);
            found++;
        }
        p += n + 1;
    }
    char *out = NULL;
    size_t first = found > max ? found - max : 0;
    for (size_t i = first; i < found; i++) {
        char *prev = out;
        out = xasprintf("%s%s%.*s", prev ? prev : "", prev ? "; " : "", (int)lens[i % max],
                        starts[i % max]);
        free(prev);
    }
    free(starts);
    free(lens);
    return out;
}

char *criu_log_tail(const char *log, size_t len, size_t max)
{
    while (log && len > 0 && (log[len - 1] == '\n' || log[len - 1] == '\r'))
        len--;
    if (log == NULL || len == 0 || max == 0)
        return NULL;
    size_t start = len;
    for (size_t lines = 0; start > 0; start--) {
        if (log[start - 1] == '\n' && ++lines == max)
            break;
    }
    char *out = xstrndup(log + start, len - start);
    for (char *p = out; (p = strchr(p, '\n'));)
        *p = ';'; /* one line in an error message */
    return out;
}

void criu_log_seized(const char *log, size_t len, pid_t **pids, size_t *n)
{
    static const char tag[] = "Seized task ";
    *pids = NULL;
    *n = 0;
    size_t cap = 0;
    for (const char *p = log, *end = log + len; p && p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1);
        if (hit == NULL)
            break;
        p = hit + sizeof(tag) - 1;
        long v = 0;
        while (p < end && *p >= '0' && *p <= '9' && v < INT32_MAX)
            v = v * 10 + (*p++ - '0');
        if (v <= 0 || v >= INT32_MAX)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *pids = xrealloc(*pids, cap * sizeof(pid_t));
        }
        (*pids)[(*n)++] = (pid_t)v;
    }
}

char *criu_log_read(const char *dir, const char *name, size_t *len)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    char *text = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    if (read_file(path, CRIU_LOG_MAX, &text, len, &e) < 0)
        return NULL;
    return text;
}

char *criu_describe(const char *path, const char *version)
{
    return xasprintf("criu %s (%s)", version ? version : "(unknown version)",
                     path ? path : "not found");
}

char *criu_version(const struct reaper_config *cfg, const char *path)
{
    char *argv[] = {(char *)path, "--version", NULL};
    struct criu_run run = {.cfg = cfg, .argv = argv};
    _cleanup_rerr_ rerr *e = NULL;
    if (criu_run(&run, &e) < 0)
        return NULL;
    char *v = run.timed_out ? NULL : criu_parse_version(run.output);
    free(run.output);
    return v;
}

/* The error of a failed criu run: who, how it ended, its error lines (the last lines of its
 * log when it hung) and where its log is. */
int criu_failure(const char *what, const struct criu_run *run, const char *work_dir,
                 const char *log, rerr **err)
{
    size_t len = 0;
    _cleanup_free_ char *text = criu_log_read(work_dir, log, &len);
    const char *output = run->output ? run->output : "";
    const char *src = text ? text : output;
    size_t src_len = text ? len : strlen(src);
    _cleanup_free_ char *version = criu_parse_version(src);
    _cleanup_free_ char *who = criu_describe(run->argv[0], version);
    if (run->timed_out) {
        _cleanup_free_ char *tail = criu_log_tail(src, src_len, CRIU_ERROR_LINES);
        return rerr_setx(err, ETIMEDOUT,
                         "%s: %s did not finish within %us (REAPER_CRIU_TIMEOUT) and was "
                         "killed; its last log lines: %s (log: %s/%s)",
                         what, who, run->cfg->criu_timeout, tail ? tail : "(none)", work_dir, log);
    }
    char desc[64];
    process_describe_wait(run->status, desc, sizeof(desc));
    _cleanup_free_ char *lines = criu_log_errors(src, src_len, CRIU_ERROR_LINES);
    return rerr_setx(err, EIO, "%s: %s failed (%s): %s (log: %s/%s)", what, who, desc,
                     lines ? lines : "no error lines in its log", work_dir, log);
}

/* Run `criu <verb>` and keep its output; false if it could not run or failed. */
static bool criu_ask(const struct reaper_config *cfg, const char *path, const char *verb,
                     char **output, int *status)
{
    char *argv[] = {(char *)path, (char *)verb, NULL};
    struct criu_run run = {.cfg = cfg, .argv = argv};
    _cleanup_rerr_ rerr *e = NULL;
    *status = -1;
    if (criu_run(&run, &e) < 0) {
        *output = xstrdup(rerr_msg(e));
        return false;
    }
    *output = run.output;
    *status = run.status;
    if (run.timed_out) {
        *output = xasprintf("%stimed out after %us", run.output, cfg->criu_timeout);
        free(run.output);
        *status = -1; /* the message says it all */
        return false;
    }
    return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

static char *check_failure(const char *output, int status)
{
    if (status == -1) /* it did not run: output is why */
        return xstrdup(output);
    char *lines = criu_log_errors(output, strlen(output), CRIU_ERROR_LINES);
    if (lines)
        return lines;
    char desc[64];
    process_describe_wait(status, desc, sizeof(desc));
    return xstrdup(desc);
}

void criu_probe(const struct reaper_config *cfg, struct criu_info *out)
{
    memset(out, 0, sizeof(*out));
    _cleanup_rerr_ rerr *e = NULL;
    if (criu_resolve(cfg, &out->path, &e) < 0) {
        out->message = xstrdup(rerr_msg(e));
        return;
    }
    _cleanup_free_ char *check_out = NULL;
    int status;
    out->version = criu_version(cfg, out->path);
    out->works = criu_ask(cfg, out->path, "check", &check_out, &status);
    _cleanup_free_ char *who = criu_describe(out->path, out->version);
    if (out->works) {
        out->message = xasprintf("%s: check ok", who);
        return;
    }
    _cleanup_free_ char *why = check_failure(check_out, status);
    out->message = xasprintf("%s: `criu check` failed: %s", who, why);
}

void criu_info_free(struct criu_info *info)
{
    if (info == NULL)
        return;
    free(info->path);
    free(info->version);
    free(info->message);
    memset(info, 0, sizeof(*info));
}
