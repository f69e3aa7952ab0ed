/* A workload's processes (its session plus descendants), signal names and exit statuses. */
#include "proc_tree.h"
#include "proc_stat.h"
#include "cleanup.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>

struct proc_entry {
    pid_t pid, ppid, sid;
};

static _must_check_ int read_stat(pid_t pid, struct proc_entry *e)
{
    struct proc_stat st;
    int r = proc_stat_read(pid, &st);
    if (r < 0)
        return r;
    *e = (struct proc_entry){.pid = pid, .ppid = st.ppid, .sid = st.sid};
    return 0;
}

static _must_check_ int scan_proc(struct proc_entry **out, size_t *n, rerr **err)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return rerr_set(err, errno, "open /proc");
    size_t cap = 256, len = 0;
    struct proc_entry *v = xmalloc(cap * sizeof(*v));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t pid;
        if (parse_int64(de->d_name, 1, INT32_MAX, &pid) < 0)
            continue;
        if (len == cap)
            v = xrealloc(v, (cap *= 2) * sizeof(*v));
        if (read_stat((pid_t)pid, &v[len]) == 0)
            len++;
    }
    closedir(d);
    *out = v;
    *n = len;
    return 0;
}

int proc_tree_pids(pid_t leader, pid_t **pids, size_t *n, rerr **err)
{
    _cleanup_free_ struct proc_entry *all = NULL;
    size_t total = 0;
    int r = scan_proc(&all, &total, err);
    if (r < 0)
        return r;
    _cleanup_free_ bool *in = xcalloc(total, sizeof(bool));
    pid_t *out = xmalloc((total + 1) * sizeof(pid_t));
    size_t count = 0;
    for (size_t i = 0; i < total; i++) {
        if (all[i].pid == leader || all[i].sid == leader) {
            in[i] = true;
            out[count++] = all[i].pid;
        }
    }
    /* Descendants that left the session (setsid) still belong to the workload. */
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < total; i++) {
            if (in[i])
                continue;
            for (size_t j = 0; j < total && !in[i]; j++)
                in[i] = in[j] && all[j].pid == all[i].ppid;
            if (in[i]) {
                out[count++] = all[i].pid;
                grew = true;
            }
        }
    }
    *pids = out;
    *n = count;
    return 0;
}

static bool pid_in(const pid_t *v, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == pid)
            return true;
    return false;
}

/* Rescan until a pass finds nobody new: catches children forked while we were signalling. */
int proc_tree_kill(pid_t leader, int sig, rerr **err)
{
    _cleanup_free_ pid_t *done = NULL;
    size_t n_done = 0;
    for (int pass = 0; pass < 16; pass++) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = proc_tree_pids(leader, &pids, &n, err);
        if (r < 0)
            return r;
        size_t before = n_done;
        for (size_t i = 0; i < n; i++) {
            if (pid_in(done, n_done, pids[i]))
                continue;
            if (kill(pids[i], sig) < 0 && errno != ESRCH)
                return rerr_set(err, errno, "kill %d", (int)pids[i]);
            done = xrealloc(done, (n_done + 1) * sizeof(pid_t));
            done[n_done++] = pids[i];
        }
        if (n_done == before)
            break;
    }
    return (int)n_done;
}

static bool mntns_of(pid_t pid, struct stat *ns)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/ns/mnt");
    return stat(path, ns) == 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* One pass over /proc: signal the members not signalled yet (appended to *done). */
static _must_check_ int signal_mntns_pass(const struct stat *ns, int sig, pid_t **done,
                                          size_t *n_done, rerr **err)
{
    _cleanup_free_ struct proc_entry *all = NULL;
    size_t total = 0;
    int r = scan_proc(&all, &total, err);
    if (r < 0)
        return r;
    int added = 0;
    for (size_t i = 0; i < total; i++) {
        struct stat st;
        if (pid_in(*done, *n_done, all[i].pid) || !mntns_of(all[i].pid, &st) || !same_file(&st, ns))
            continue;
        if (kill(all[i].pid, sig) < 0 && errno != ESRCH)
            return rerr_set(err, errno, "kill %d", (int)all[i].pid);
        *done = xrealloc(*done, (*n_done + 1) * sizeof(pid_t));
        (*done)[(*n_done)++] = all[i].pid;
        added++;
    }
    return added;
}

int proc_mntns_kill(pid_t member, int sig, rerr **err)
{
    struct stat ns, self, init;
    if (!mntns_of(member, &ns))
        return 0; /* gone */
    if (!mntns_of(0, &self) || same_file(&ns, &self) ||
        (mntns_of(1, &init) && same_file(&ns, &init)))
        return 0;
    _cleanup_free_ pid_t *done = NULL;
    size_t n_done = 0;
    for (int pass = 0; pass < 16; pass++) {
        int r = signal_mntns_pass(&ns, sig, &done, &n_done, err);
        if (r <= 0)
            return r < 0 ? r : (int)n_done;
    }
    return (int)n_done;
}

static const struct {
    const char *name;
    int sig;
} signal_names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

/* "RTMIN", "RTMIN+3", "RTMAX-2". */
static _must_check_ int parse_rt(const char *s, int *sig)
{
    bool min = strncasecmp(s, "RTMIN", 5) == 0;
    if (!min && strncasecmp(s, "RTMAX", 5) != 0)
        return -EINVAL;
    int base = min ? SIGRTMIN : SIGRTMAX;
    s += 5;
    int64_t off = 0;
    if (*s != '\0') {
        if ((min && *s != '+') || (!min && *s != '-'))
            return -EINVAL;
        if (parse_int64(s + 1, 0, SIGRTMAX - SIGRTMIN, &off) < 0)
            return -EINVAL;
    }
    *sig = min ? base + (int)off : base - (int)off;
    return 0;
}

int signal_parse(const char *s, int *sig)
{
    int64_t n;
    if (s == NULL || *s == '\0')
        return -EINVAL;
    if (parse_int64(s, 1, SIGRTMAX, &n) == 0) {
        *sig = (int)n;
        return 0;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < ARRAY_SIZE(signal_names); i++) {
        if (strcasecmp(s, signal_names[i].name) == 0) {
            *sig = signal_names[i].sig;
            return 0;
        }
    }
    return parse_rt(s, sig);
}

int exit_status_from_wait(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 255;
}
