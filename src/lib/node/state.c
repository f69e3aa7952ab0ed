/*
 * Container state: <root>/<id>/state.json (dir 0700, file 0600, replaced atomically).
 *
 * Format (one compact JSON object; unknown members are ignored on read):
 *   {"version":1,                      format version
 *    "id":"abc",                       required, a valid container id
 *    "bundle":"/path/to/bundle",       required
 *    "pid":1234,                       0 when there is no process (sandbox)
 *    "pid_start_time":5678,            /proc/<pid>/stat field 22 at create
 *    "created":"2024-01-01T00:00:00.000000000Z",
 *    "namespace":"default",            Kubernetes namespace (overlay)
 *    "overlay_name":"pippo",           absent for the namespace's default overlay
 *    "dns_mode":"host"|"kubernetes",
 *    "terminal":false, "sandbox":false, "started":true,
 *    "exit_status":137,                present only once the exit status is known
 *    "restore_from":"/ckpt/dir",       present while created from a checkpoint image
 *    "annotations":{"k":"v",...}}
 */
#include "state.h"
#include "proc_stat.h"
#include "cleanup.h"
#include "json_util.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_FILE     "state.json"
#define STATE_MAX_SIZE (4 * 1024 * 1024)
#define STATE_VERSION  1

char *state_dir(const char *root, const char *id)
{
    return xasprintf("%s/%s", root, id);
}

static _must_check_ int check_id(const char *id, rerr **err)
{
    if (!is_valid_id(id))
        return rerr_setx(err, EINVAL, "invalid container id \"%s\"", id);
    return 0;
}

char *state_to_json(const struct container_state *st)
{
    _cleanup_json_ json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(STATE_VERSION));
    jset_str(o, "id", st->id);
    jset_str(o, "bundle", st->bundle);
    json_object_set_new(o, "pid", json_integer(st->pid));
    json_object_set_new(o, "pid_start_time", json_integer((json_int_t)st->pid_start_time));
    jset_str(o, "created", st->created);
    jset_str(o, "namespace", st->k8s_namespace);
    jset_str(o, "overlay_name", st->overlay_name);
    jset_str(o, "dns_mode", dns_mode_name(st->dns_mode));
    json_object_set_new(o, "terminal", json_boolean(st->terminal));
    json_object_set_new(o, "sandbox", json_boolean(st->sandbox));
    json_object_set_new(o, "started", json_boolean(st->started));
    if (st->has_exit)
        json_object_set_new(o, "exit_status", json_integer(st->exit_status));
    jset_str(o, "restore_from", st->restore_from);
    json_object_set_new(o, "annotations", jkv_object(st->annotations, st->n_annotations));
    return jdump(o);
}

static _must_check_ int parse_required(const struct jctx *c, json_t *o, struct container_state *st)
{
    int r = jget_string(c, o, "", "id", &st->id);
    if (r == 0 && st->id == NULL)
        return jerr(c, "id", NULL, "missing");
    if (r == 0 && !is_valid_id(st->id))
        return jerr(c, "id", NULL, "\"%s\" is not a valid container id", st->id);
    if (r == 0)
        r = jget_string(c, o, "", "bundle", &st->bundle);
    if (r == 0 && st->bundle == NULL)
        return jerr(c, "bundle", NULL, "missing");
    return r;
}

static _must_check_ int parse_process_fields(const struct jctx *c, json_t *o,
                                             struct container_state *st)
{
    uint64_t pid = 0, start = 0, status = 0;
    int r = jget_u64(c, o, "", "pid", INT_MAX, &pid, NULL);
    if (r == 0)
        r = jget_u64(c, o, "", "pid_start_time", INT64_MAX, &start, NULL);
    if (r == 0)
        r = jget_u64(c, o, "", "exit_status", INT_MAX, &status, &st->has_exit);
    st->pid = (pid_t)pid;
    st->pid_start_time = start;
    st->exit_status = (int)status;
    if (r == 0)
        r = jget_bool(c, o, "", "terminal", &st->terminal);
    if (r == 0)
        r = jget_bool(c, o, "", "sandbox", &st->sandbox);
    if (r == 0)
        r = jget_bool(c, o, "", "started", &st->started);
    return r;
}

static _must_check_ int parse_identity(const struct jctx *c, json_t *o, struct container_state *st)
{
    _cleanup_free_ char *dns = NULL;
    int r = jget_string(c, o, "", "created", &st->created);
    if (r == 0)
        r = jget_string(c, o, "", "namespace", &st->k8s_namespace);
    if (r == 0)
        r = jget_string(c, o, "", "overlay_name", &st->overlay_name);
    if (r == 0)
        r = jget_string(c, o, "", "dns_mode", &dns);
    if (r == 0 && dns && dns_mode_parse(dns, &st->dns_mode) < 0)
        return jerr(c, "dns_mode", NULL, "unknown mode \"%s\"", dns);
    if (r == 0)
        r = jget_string(c, o, "", "restore_from", &st->restore_from);
    if (r == 0)
        r = jget_kv(c, o, "", "annotations", &st->annotations, &st->n_annotations);
    return r;
}

/* doc names the file in errors. */
static _must_check_ int state_parse_doc(const char *doc, const char *json, size_t len,
                                        struct container_state **out, rerr **err)
{
    const struct jctx c = {.doc = doc, .err = err};
    _cleanup_json_ json_t *o = NULL;
    int r = jload(&c, json, len, &o);
    if (r < 0)
        return r;
    struct container_state *st = xcalloc(1, sizeof(*st));
    r = parse_required(&c, o, st);
    if (r == 0)
        r = parse_process_fields(&c, o, st);
    if (r == 0)
        r = parse_identity(&c, o, st);
    if (r < 0) {
        state_free(st);
        return r;
    }
    *out = st;
    return 0;
}

int state_from_json(const char *json, size_t len, struct container_state **out, rerr **err)
{
    return state_parse_doc(STATE_FILE, json, len, out, err);
}

int state_save(const char *root, const struct container_state *st, rerr **err)
{
    int r = check_id(st->id, err);
    if (r < 0)
        return r;
    /* The root stays traversable: overlay directories live below it too. */
    r = mkdir_p(root, 0711, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = state_dir(root, st->id);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return rerr_set(err, errno, "mkdir %s", dir);
    _cleanup_free_ char *path = xasprintf("%s/" STATE_FILE, dir);
    _cleanup_free_ char *json = state_to_json(st);
    return write_file_replace(path, json, strlen(json), 0600, err); /* runtime state */
}

int state_load(const char *root, const char *id, struct container_state **out, rerr **err)
{
    int r = check_id(id, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *path = xasprintf("%s/%s/" STATE_FILE, root, id);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    r = read_file(path, STATE_MAX_SIZE, &text, &len, err);
    if (r == -ENOENT)
        return rerr_setx(err, ENOENT, "container %s does not exist", id);
    if (r < 0)
        return r;
    struct container_state *st = NULL;
    r = state_parse_doc(path, text, len, &st, err);
    if (r < 0)
        return r;
    if (strcmp(st->id, id) != 0) {
        r = rerr_setx(err, EINVAL, "%s: id: \"%s\" does not match the directory", path, st->id);
        state_free(st);
        return r;
    }
    *out = st;
    return 0;
}

int state_remove(const char *root, const char *id, rerr **err)
{
    int r = check_id(id, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = state_dir(root, id);
    return rm_rf(dir, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_state_file(int dfd, const char *name)
{
    _cleanup_free_ char *rel = xasprintf("%s/" STATE_FILE, name);
    struct stat st;
    return fstatat(dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

int state_list(const char *root, char ***ids, rerr **err)
{
    _cleanup_strv_ char **out = xcalloc(1, sizeof(char *));
    DIR *d = opendir(root);
    if (d == NULL && errno != ENOENT)
        return rerr_set(err, errno, "open %s", root);
    struct dirent *de;
    while (d && (errno = 0, de = readdir(d)) != NULL) {
        if (is_valid_id(de->d_name) && has_state_file(dirfd(d), de->d_name))
            strv_push(&out, de->d_name);
    }
    int saved = errno;
    if (d)
        closedir(d);
    if (d && saved != 0)
        return rerr_set(err, saved, "read %s", root);
    size_t n = strv_len(out);
    qsort(out, n, sizeof(char *), cmp_str);
    *ids = steal_ptr(out);
    return (int)n;
}

void state_free(struct container_state *st)
{
    if (st == NULL)
        return;
    free(st->id);
    free(st->bundle);
    free(st->created);
    free(st->k8s_namespace);
    free(st->overlay_name);
    free(st->restore_from);
    kv_free(st->annotations, st->n_annotations);
    free(st);
}

enum container_status state_live_status(const struct container_state *st)
{
    if (st->has_exit)
        return STATUS_STOPPED;
    if (st->pid <= 0) /* sandbox: no process of its own */
        return st->started ? STATUS_RUNNING : STATUS_CREATED;
    struct proc_stat ps;
    if (proc_stat_read(st->pid, &ps) < 0 || ps.start_time == 0 ||
        ps.start_time != st->pid_start_time)
        return STATUS_STOPPED; /* gone, or the pid was reused */
    if (ps.state == 'Z' || ps.state == 'X')
        return STATUS_STOPPED;
    if (ps.state == 'T' || ps.state == 't')
        return STATUS_PAUSED;
    return st->started ? STATUS_RUNNING : STATUS_CREATED;
}

const char *container_status_name(enum container_status s)
{
    switch (s) {
    case STATUS_CREATED:
        return "created";
    case STATUS_RUNNING:
        return "running";
    case STATUS_STOPPED:
        return "stopped";
    case STATUS_PAUSED:
        return "paused";
    }
    return "unknown";
}

char *state_oci_json(const struct container_state *st, enum container_status status)
{
    _cleanup_json_ json_t *o = json_object();
    jset_str(o, "ociVersion", "1.0.2");
    jset_str(o, "id", st->id);
    jset_str(o, "status", container_status_name(status));
    json_object_set_new(o, "pid", json_integer(status == STATUS_STOPPED ? 0 : st->pid));
    jset_str(o, "bundle", st->bundle);
    json_object_set_new(o, "annotations", jkv_object(st->annotations, st->n_annotations));
    return jdump(o);
}
