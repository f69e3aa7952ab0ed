/* reaper-checkpoint.json: write, parse, and the validation of an image directory. */
#include "checkpoint_meta.h"
#include "cleanup.h"
#include "json_util.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_MAX_SIZE (1024 * 1024)
/* Written by every successful `criu dump`; restore cannot start without it. */
#define CRIU_INVENTORY "inventory.img"

static json_t *opts_json(const struct checkpoint_opts *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "leave_running", json_boolean(o->leave_running));
    json_object_set_new(j, "tcp_established", json_boolean(o->tcp_established));
    json_object_set_new(j, "file_locks", json_boolean(o->file_locks));
    json_object_set_new(j, "ext_unix_sk", json_boolean(o->ext_unix_sk));
    return j;
}

char *checkpoint_meta_to_json(const struct checkpoint_meta *m)
{
    _cleanup_json_ json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(CHECKPOINT_META_VERSION));
    jset_str(o, "id", m->id);
    json_object_set_new(o, "pid", json_integer(m->pid));
    json_t *pids = json_array();
    for (size_t i = 0; i < m->n_pids; i++)
        json_array_append_new(pids, json_integer(m->pids[i]));
    json_object_set_new(o, "pids", pids);
    jset_str(o, "created", m->created);
    jset_str(o, "namespace", m->k8s_namespace);
    jset_str(o, "overlay_name", m->overlay_name);
    jset_str(o, "dns_mode", dns_mode_name(m->dns_mode));
    json_object_set_new(o, "terminal", json_boolean(m->terminal));
    json_t *stdio = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(stdio, m->stdio[i] ? json_string(m->stdio[i]) : json_null());
    json_object_set_new(o, "stdio", stdio);
    json_object_set_new(o, "options", opts_json(&m->opts));
    json_t *criu = json_object();
    jset_str(criu, "path", m->criu_path);
    jset_str(criu, "version", m->criu_version);
    json_object_set_new(o, "criu", criu);
    if (m->ext_mounts) {
        json_t *mounts = json_array();
        for (size_t i = 0; m->ext_mounts[i]; i++)
            json_array_append_new(mounts, json_string(m->ext_mounts[i]));
        json_object_set_new(o, "external_mounts", mounts);
    }
    return jdump(o);
}

static _must_check_ int parse_version(const struct jctx *c, json_t *o)
{
    uint64_t version = 0;
    bool present = false;
    int r = jget_u64(c, o, "", "version", UINT32_MAX, &version, &present);
    if (r < 0)
        return r;
    if (!present)
        return jerr(c, "", "version", "missing");
    if (version != CHECKPOINT_META_VERSION)
        return jerr(c, "", "version", "%llu is not supported (this Reaper reads version %d)",
                    (unsigned long long)version, CHECKPOINT_META_VERSION);
    return 0;
}

static _must_check_ int parse_identity(const struct jctx *c, json_t *o, struct checkpoint_meta *m)
{
    uint64_t pid = 0;
    _cleanup_free_ char *dns = NULL;
    int r = jget_string(c, o, "", "id", &m->id);
    if (r == 0 && (m->id == NULL || !is_valid_id(m->id)))
        return jerr(c, "", "id", "missing or not a valid container id");
    if (r == 0)
        r = jget_u64(c, o, "", "pid", INT_MAX, &pid, NULL);
    if (r == 0 && pid == 0)
        return jerr(c, "", "pid", "missing");
    m->pid = (pid_t)pid;
    if (r == 0)
        r = jget_string(c, o, "", "created", &m->created);
    if (r == 0)
        r = jget_string(c, o, "", "namespace", &m->k8s_namespace);
    if (r == 0 && m->k8s_namespace == NULL)
        return jerr(c, "", "namespace", "missing");
    if (r == 0)
        r = jget_string(c, o, "", "overlay_name", &m->overlay_name);
    if (r == 0)
        r = jget_string(c, o, "", "dns_mode", &dns);
    if (r == 0 && dns && dns_mode_parse(dns, &m->dns_mode) < 0)
        return jerr(c, "", "dns_mode", "unknown mode \"%s\"", dns);
    if (r == 0)
        r = jget_bool(c, o, "", "terminal", &m->terminal);
    return r;
}

static _must_check_ int parse_pids(const struct jctx *c, json_t *o, struct checkpoint_meta *m)
{
    json_t *a = NULL;
    int r = jget_array(c, o, "", "pids", &a);
    if (r < 0 || a == NULL)
        return r;
    m->pids = xcalloc(json_array_size(a) + 1, sizeof(pid_t));
    for (size_t i = 0; i < json_array_size(a); i++) {
        uint64_t v;
        if (!json_to_u64(json_array_get(a, i), INT_MAX, &v) || v == 0)
            return jerr(c, "pids", NULL, "entry %zu: expected a pid", i);
        m->pids[m->n_pids++] = (pid_t)v;
    }
    return 0;
}

static _must_check_ int parse_stdio(const struct jctx *c, json_t *o, struct checkpoint_meta *m)
{
    json_t *a = NULL;
    int r = jget_array(c, o, "", "stdio", &a);
    if (r < 0 || a == NULL)
        return r;
    if (json_array_size(a) != 3)
        return jerr(c, "", "stdio", "expected 3 entries, not %zu", json_array_size(a));
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_array_get(a, i);
        if (json_is_null(v))
            continue;
        if (!json_is_string(v))
            return jerr(c, "stdio", NULL, "entry %zu: expected a string", i);
        m->stdio[i] = xstrdup(json_string_value(v));
    }
    return 0;
}

static _must_check_ int parse_options(const struct jctx *c, json_t *o, struct checkpoint_meta *m)
{
    json_t *opts = NULL, *criu = NULL;
    int r = jget_object(c, o, "", "options", &opts);
    if (r == 0 && opts) {
        struct checkpoint_opts *d = &m->opts;
        r = jget_bool(c, opts, "options", "leave_running", &d->leave_running);
        if (r == 0)
            r = jget_bool(c, opts, "options", "tcp_established", &d->tcp_established);
        if (r == 0)
            r = jget_bool(c, opts, "options", "file_locks", &d->file_locks);
        if (r == 0)
            r = jget_bool(c, opts, "options", "ext_unix_sk", &d->ext_unix_sk);
    }
    if (r == 0)
        r = jget_object(c, o, "", "criu", &criu);
    if (r == 0 && criu)
        r = jget_string(c, criu, "criu", "path", &m->criu_path);
    if (r == 0 && criu)
        r = jget_string(c, criu, "criu", "version", &m->criu_version);
    if (r == 0)
        r = jget_strv(c, o, "", "external_mounts", &m->ext_mounts);
    return r;
}

int checkpoint_meta_parse(const char *doc, const char *json, size_t len,
                          struct checkpoint_meta **out, rerr **err)
{
    const struct jctx c = {.doc = doc, .err = err};
    _cleanup_json_ json_t *o = NULL;
    int r = jload(&c, json, len, &o);
    if (r < 0)
        return r;
    struct checkpoint_meta *m = xcalloc(1, sizeof(*m));
    r = parse_version(&c, o);
    if (r == 0)
        r = parse_identity(&c, o, m);
    if (r == 0)
        r = parse_pids(&c, o, m);
    if (r == 0)
        r = parse_stdio(&c, o, m);
    if (r == 0)
        r = parse_options(&c, o, m);
    if (r < 0) {
        checkpoint_meta_free(m);
        return r;
    }
    *out = m;
    return 0;
}

int checkpoint_meta_write(const char *image_dir, const struct checkpoint_meta *m, rerr **err)
{
    _cleanup_free_ char *path = xasprintf("%s/" CHECKPOINT_META_FILE, image_dir);
    _cleanup_free_ char *json = checkpoint_meta_to_json(m);
    return write_file_atomic(path, json, strlen(json), 0600, err);
}

int checkpoint_meta_read(const char *image_dir, struct checkpoint_meta **out, rerr **err)
{
    _cleanup_free_ char *path = xasprintf("%s/" CHECKPOINT_META_FILE, image_dir);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = read_file(path, META_MAX_SIZE, &text, &len, err);
    if (r == -ENOENT)
        return rerr_setx(err, ENOENT,
                         "%s: no " CHECKPOINT_META_FILE " (not a checkpoint made by Reaper)",
                         image_dir);
    if (r < 0)
        return r;
    return checkpoint_meta_parse(path, text, len, out, err);
}

void checkpoint_meta_free(struct checkpoint_meta *m)
{
    if (m == NULL)
        return;
    free(m->id);
    free(m->pids);
    free(m->created);
    free(m->k8s_namespace);
    free(m->overlay_name);
    for (int i = 0; i < 3; i++)
        free(m->stdio[i]);
    free(m->criu_path);
    free(m->criu_version);
    strv_free(m->ext_mounts);
    free(m);
}

bool checkpoint_has_images(const char *image_dir)
{
    _cleanup_free_ char *path = xasprintf("%s/" CRIU_INVENTORY, image_dir);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int checkpoint_image_validate(const char *image_path, rerr **err)
{
    if (image_path == NULL || image_path[0] != '/')
        return rerr_setx(err, EINVAL, "checkpoint image \"%s\": not an absolute path",
                         image_path ? image_path : "");
    struct stat st;
    if (stat(image_path, &st) < 0)
        return rerr_set(err, errno, "checkpoint image %s", image_path);
    if (!S_ISDIR(st.st_mode))
        return rerr_setx(err, ENOTDIR, "checkpoint image %s: not a directory", image_path);
    struct checkpoint_meta *m = NULL;
    int r = checkpoint_meta_read(image_path, &m, err);
    if (r < 0)
        return rerr_wrap(err, "checkpoint image");
    checkpoint_meta_free(m);
    if (!checkpoint_has_images(image_path))
        return rerr_setx(err, ENOENT,
                         "checkpoint image %s: no CRIU images (" CRIU_INVENTORY
                         " missing: the dump did not complete)",
                         image_path);
    return 0;
}
