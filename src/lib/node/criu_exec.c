/*
 * The external `criu` program: where it is, running it with chosen inherited fds, what
 * `--version` and `check` say, and the error lines of its logs (what every error names).
 */
#include "criu.h"
#include "cleanup.h"
#include "log.h"
#include "process.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What criu prints to stdout/stderr is small (check, version, early errors). */
#define CRIU_OUTPUT_MAX (1024 * 1024)
#define CRIU_LOG_MAX    (64 * 1024 * 1024)
/* Where the child parks fds before putting them in place (above any it installs). */
#define CHILD_FD_PARK 64
#define MAX_INHERIT   8

int criu_resolve(const struct reaper_config *cfg, char **path, rerr **err)
{
    const char *name = cfg->criu && *cfg->criu ? cfg->criu : "criu";
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

/* 0: /dev/null, 1 and 2: the output pipe, 3+i: inherit[i]; everything else closes on exec. */
static _Noreturn void criu_child(char *const *argv, const int *inherit, size_t n, int out)
{
    process_reset_signals();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0)
        child_fail(out, "open /dev/null");
    int parked_null = park(null, out), parked_out = park(out, out);
    int parked[MAX_INHERIT];
    for (size_t i = 0; i < n; i++)
        parked[i] = park(inherit[i] >= 0 ? inherit[i] : parked_null, out);
    if (dup2(parked_null, 0) < 0 || dup2(parked_out, 1) < 0 || dup2(parked_out, 2) < 0)
        child_fail(parked_out, "dup2 stdio");
    for (size_t i = 0; i < n; i++)
        if (dup2(parked[i], (int)(3 + i)) < 0)
            child_fail(parked_out, "dup2 inherited fd");
    rerr *e = NULL;
    if (fds_set_cloexec_from((int)(3 + n), &e) < 0)
        child_fail(parked_out, "close fds");
    execv(argv[0], argv);
    child_fail(parked_out, argv[0]);
}

int criu_run(char *const *argv, const int *inherit, size_t n_inherit, int *status, char **output,
             rerr **err)
{
    if (n_inherit > MAX_INHERIT)
        return rerr_setx(err, EINVAL, "criu: too many inherited fds (%zu)", n_inherit);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return rerr_set(err, errno, "criu: pipe");
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return rerr_set(err, errno, "fork %s", argv[0]);
    }
    if (pid == 0)
        criu_child(argv, inherit, n_inherit, pfd[1]);
    close(pfd[1]);
    _cleanup_free_ char *out = NULL;
    _cleanup_rerr_ rerr *read_err = NULL;
    size_t len = 0;
    if (read_fd_all(pfd[0], CRIU_OUTPUT_MAX, &out, &len, &read_err) < 0)
        log_warn("%s: output: %s", argv[0], rerr_msg(read_err));
    close(pfd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR)
            return rerr_set(err, errno, "wait for %s", argv[0]);
    }
    *status = ws;
    if (output)
        *output = out ? steal_ptr(out) : xstrdup("");
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

/* <dir>/<name>, NULL if it cannot be read. */
static char *read_log(const char *dir, const char *name, size_t *len)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    char *text = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    if (read_file(path, CRIU_LOG_MAX, &text, len, &e) < 0)
        return NULL;
    return text;
}

void criu_log_file_seized(const char *dir, const char *name, pid_t **pids, size_t *n)
{
    size_t len = 0;
    _cleanup_free_ char *text = read_log(dir, name, &len);
    criu_log_seized(text, text ? len : 0, pids, n);
}

char *criu_log_file_errors(const char *dir, const char *name, size_t max)
{
    size_t len = 0;
    _cleanup_free_ char *text = read_log(dir, name, &len);
    return text ? criu_log_errors(text, len, max) : NULL;
}

char *criu_describe(const char *path, const char *version)
{
    return xasprintf("criu %s (%s)", version ? version : "(unknown version)",
                     path ? path : "not found");
}

/* `criu --version` for the metadata and messages (NULL if it does not say). */
char *criu_version(const char *path)
{
    char *argv[] = {(char *)path, "--version", NULL};
    _cleanup_free_ char *out = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    int status;
    if (criu_run(argv, NULL, 0, &status, &out, &e) < 0)
        return NULL;
    return criu_parse_version(out);
}

/* The error of a failed criu run: who, how it ended, its error lines and where its log is. */
int criu_failure(const char *what, const char *criu, const char *version, int status,
                 const char *output, const char *work_dir, const char *log, rerr **err)
{
    char desc[64];
    process_describe_wait(status, desc, sizeof(desc));
    _cleanup_free_ char *who = criu_describe(criu, version);
    _cleanup_free_ char *lines = criu_log_file_errors(work_dir, log, CRIU_ERROR_LINES);
    if (lines == NULL && output)
        lines = criu_log_errors(output, strlen(output), CRIU_ERROR_LINES);
    return rerr_setx(err, EIO, "%s: %s failed (%s): %s (log: %s/%s)", what, who, desc,
                     lines ? lines : "no error lines in its log", work_dir, log);
}

/* Run `criu <verb>` and keep its output; false if it could not run or failed. */
static bool criu_ask(const char *path, const char *verb, char **output, int *status)
{
    char *argv[] = {(char *)path, (char *)verb, NULL};
    _cleanup_rerr_ rerr *e = NULL;
    *status = -1;
    if (criu_run(argv, NULL, 0, status, output, &e) < 0) {
        *output = xstrdup(rerr_msg(e));
        return false;
    }
    return WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

static char *check_failure(const char *output, int status)
{
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
    out->version = criu_version(out->path);
    out->works = criu_ask(out->path, "check", &check_out, &status);
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
