/* Node condition ReaperReady: binaries runnable, runtime registered in containerd, state dir
 * writable (CRIU's state is reported in its message only). Written when it changes and as a
 * heartbeat every resync period. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentd.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* Run `<bin> --version` with no stdio; true if it exits 0. */
static bool runs(const char *bin)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd < 3; fd++)
        posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd ? O_WRONLY : O_RDONLY, 0);
    char *argv[] = {(char *)bin, "--version", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (r != 0 || waitpid(pid, &status, 0) < 0)
        return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static char *check_binaries(const struct agent *a)
{
    const char *names[] = {"reaper-runtime", "containerd-shim-reaper-v2"};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", a->o.bin_dir, names[i]);
        if (access(p, X_OK) < 0)
            return xasprintf("%s: %s", p, strerror(errno));
        if (i == 0 && !runs(p))
            return xasprintf("%s --version failed", p);
    }
    return NULL;
}

/* A table header `[...runtimes.<name>]` (bare or quoted name) at the start of a line. */
static bool has_runtime_table(const char *text, const char *name)
{
    _cleanup_free_ char *bare = xasprintf("runtimes.%s]", name);
    _cleanup_free_ char *quoted = xasprintf("runtimes.\"%s\"]", name);
    _cleanup_free_ char *single = xasprintf("runtimes.'%s']", name);
    _cleanup_strv_ char **lines = strv_split(text, "\n");
    for (char **l = lines; l && *l; l++) {
        char *line = *l + strspn(*l, " \t");
        char *end = line + strlen(line);
        while (end > line && strchr(" \t\r", end[-1]))
            *--end = '\0';
        if (*line == '[' &&
            (str_endswith(line, bare) || str_endswith(line, quoted) || str_endswith(line, single)))
            return true;
    }
    return false;
}

static char *check_runtime(const struct agent *a)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    rerr *e = NULL;
    if (read_file(a->o.containerd_config, 1 << 20, &text, &len, &e) < 0) {
        char *m = xstrdup(rerr_msg(e));
        rerr_free(e);
        return m;
    }
    if (!has_runtime_table(text, a->o.runtime_name))
        return xasprintf("%s does not register runtime %s", a->o.containerd_config,
                         a->o.runtime_name);
    return NULL;
}

/* The runtime creates its root on first use; a fresh node counts as writable if we can. */
static char *check_state_dir(const struct agent *a)
{
    rerr *e = NULL;
    if (mkdir_p(a->cfg.runtime_root, 0711, &e) < 0) {
        char *m = xasprintf("state dir %s", rerr_msg(e));
        rerr_free(e);
        return m;
    }
    _cleanup_free_ char *probe =
        xasprintf("%s/.agent-probe-%d", a->cfg.runtime_root, (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return xasprintf("state dir %s: %s", a->cfg.runtime_root, strerror(errno));
    close(fd);
    unlink(probe);
    return NULL;
}

struct condition_write {
    json_t *cond;
    bool heartbeat_due;
};

static _must_check_ int write_condition(json_t *node, void *ud, rerr **err)
{
    (void)err;
    struct condition_write *w = ud;
    int unchanged = node_upsert_condition(node, w->cond);
    return unchanged && !w->heartbeat_due ? 1 : 0;
}

static const char *label_of(const json_t *node, const char *key)
{
    json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
    return json_string_value(json_object_get(labels, key));
}

/* Set the node label to want, or remove it (NULL: a merge patch's null). */
static _must_check_ int patch_label(struct agent *a, const char *want, rerr **err)
{
    const char *key = a->o.node_label_key;
    json_t *patch = json_pack("{s:{s:{s:o}}}", "metadata", "labels", key,
                              want ? json_string(want) : json_null());
    int r = kube_patch(a->client, &KUBE_NODES, NULL, a->o.node_name, NULL, KUBE_PATCH_MERGE, patch,
                       NULL, err);
    json_decref(patch);
    if (r < 0)
        return rerr_wrap(err, "node %s label %s", a->o.node_name, key);
    log_info("node label %s=%s %s", key, a->o.node_label_value, want ? "set" : "removed");
    return 0;
}

/* The scheduling label follows the condition: present while ready, absent otherwise, so the
 * RuntimeClass's nodeSelector keeps new Reaper pods off a broken node. */
static _must_check_ int sync_label(struct agent *a, const json_t *node, bool ready, rerr **err)
{
    if (a->o.node_label_key == NULL)
        return 0;
    const char *want = ready ? a->o.node_label_value : NULL;
    const char *cur = label_of(node, a->o.node_label_key);
    if (want ? cur && strcmp(cur, want) == 0 : cur == NULL)
        return 0;
    return patch_label(a, want, err);
}

int agent_remove_label(struct agent *a, rerr **err)
{
    return a->o.node_label_key ? patch_label(a, NULL, err) : 0;
}

int agent_condition(struct agent *a, rerr **err)
{
    _cleanup_free_ char *bins = check_binaries(a);
    _cleanup_free_ char *rt = check_runtime(a);
    _cleanup_free_ char *state = check_state_dir(a);
    struct criu_info criu = {0};
    criu_probe(&a->cfg, &criu); /* informational: checkpoints need it, pods do not */
    agent_counters_set_criu(&a->counters, &criu);
    struct node_checks c = {bins, rt, state, criu.message};
    _cleanup_free_ char *now = rfc3339_now();
    json_t *cond = node_condition(&c, a->last_condition, now);
    criu_info_free(&criu);
    bool ok = !bins && !rt && !state;
    pthread_mutex_lock(&a->counters.mu);
    a->counters.node_ready = ok;
    pthread_mutex_unlock(&a->counters.mu);
    uint64_t t = monotonic_ns();
    struct condition_write w = {cond, t - a->last_heartbeat_ns >=
                                          (uint64_t)a->o.resync_s * 1000000000ull};
    int r = 0;
    json_t *node = NULL;
    if (a->client) {
        r = kube_modify(a->client, &KUBE_NODES, NULL, a->o.node_name, true, write_condition, &w,
                        &node, err);
        if (r < 0)
            r = rerr_wrap(err, "node %s condition ReaperReady", a->o.node_name);
        else
            r = sync_label(a, node, ok, err);
        json_decref(node);
    }
    if (r < 0) {
        json_decref(cond);
        return r;
    }
    if (w.heartbeat_due)
        a->last_heartbeat_ns = t;
    if (!ok)
        log_warn("ReaperReady=False: %s", json_string_value(json_object_get(cond, "message")));
    json_decref(a->last_condition);
    a->last_condition = cond;
    return 0;
}
