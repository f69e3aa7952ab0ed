/*
 * config.json (OCI runtime-spec 1.0.x): only the fields Reaper honours are read; anything else
 * is ignored, as runc ignores fields of other platforms. Type errors name the JSON path.
 */
#include "oci_spec.h"
#include "cleanup.h"
#include "json_util.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#define OCI_SPEC_MAX_SIZE (16 * 1024 * 1024)

static const struct {
    const char *name;
    int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static int rlimit_resource(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
        if (strcmp(rlimit_names[i].name, name) == 0)
            return rlimit_names[i].resource;
    return -1;
}

static _must_check_ int parse_console_size(const struct jctx *c, json_t *proc, const char *path,
                                           struct oci_process *p)
{
    json_t *cs = NULL;
    int r = jget_object(c, proc, path, "consoleSize", &cs);
    if (r < 0 || cs == NULL)
        return r;
    _cleanup_free_ char *cpath = jpath(path, "consoleSize");
    uint64_t h = 0, w = 0;
    r = jget_u64(c, cs, cpath, "height", UINT16_MAX, &h, NULL);
    if (r == 0)
        r = jget_u64(c, cs, cpath, "width", UINT16_MAX, &w, NULL);
    p->console_height = (unsigned)h;
    p->console_width = (unsigned)w;
    return r;
}

static _must_check_ int parse_gids(const struct jctx *c, json_t *user, const char *path,
                                   struct oci_user *u)
{
    json_t *a = NULL;
    int r = jget_array(c, user, path, "additionalGids", &a);
    if (r < 0 || a == NULL)
        return r;
    u->additional_gids = xcalloc(json_array_size(a), sizeof(gid_t));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        uint64_t g;
        if (!json_to_u64(e, UINT32_MAX - 1, &g)) {
            _cleanup_free_ char *gpath = jpath(path, "additionalGids");
            _cleanup_free_ char *epath = jpath_index(gpath, i);
            return jerr(c, epath, NULL, "expected a non-negative integer");
        }
        u->additional_gids[u->n_additional_gids++] = (gid_t)g;
    }
    return 0;
}

static _must_check_ int parse_user(const struct jctx *c, json_t *proc, const char *path,
                                   struct oci_user *u)
{
    json_t *user = NULL;
    int r = jget_object(c, proc, path, "user", &user);
    if (r < 0 || user == NULL)
        return r;
    _cleanup_free_ char *upath = jpath(path, "user");
    uint64_t uid = 0, gid = 0, mask = 0;
    /* (uid_t)-1 means "no change" to the kernel: never a valid id. */
    r = jget_u64(c, user, upath, "uid", UINT32_MAX - 1, &uid, NULL);
    if (r == 0)
        r = jget_u64(c, user, upath, "gid", UINT32_MAX - 1, &gid, NULL);
    if (r == 0)
        r = jget_u64(c, user, upath, "umask", 0777, &mask, &u->has_umask);
    if (r == 0)
        r = parse_gids(c, user, upath, u);
    u->uid = (uid_t)uid;
    u->gid = (gid_t)gid;
    u->umask = (mode_t)mask;
    return r;
}

static _must_check_ int parse_rlimit(const struct jctx *c, json_t *e, const char *path,
                                     struct oci_rlimit *rl)
{
    if (!json_is_object(e))
        return jerr(c, path, NULL, "expected an object");
    _cleanup_free_ char *type = NULL;
    int r = jget_string(c, e, path, "type", &type);
    if (r < 0)
        return r;
    if (type == NULL)
        return jerr(c, path, "type", "missing");
    rl->resource = rlimit_resource(type);
    if (rl->resource < 0)
        return jerr(c, path, "type", "unknown rlimit \"%s\"", type);
    bool has_soft = false, has_hard = false;
    r = jget_u64(c, e, path, "soft", UINT64_MAX, &rl->soft, &has_soft);
    if (r == 0)
        r = jget_u64(c, e, path, "hard", UINT64_MAX, &rl->hard, &has_hard);
    if (r == 0 && (!has_soft || !has_hard))
        return jerr(c, path, has_soft ? "hard" : "soft", "missing");
    return r;
}

static _must_check_ int parse_rlimits(const struct jctx *c, json_t *proc, const char *path,
                                      struct oci_process *p)
{
    json_t *a = NULL;
    int r = jget_array(c, proc, path, "rlimits", &a);
    if (r < 0 || a == NULL)
        return r;
    _cleanup_free_ char *apath = jpath(path, "rlimits");
    p->rlimits = xcalloc(json_array_size(a), sizeof(*p->rlimits));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        _cleanup_free_ char *epath = jpath_index(apath, i);
        r = parse_rlimit(c, e, epath, &p->rlimits[i]);
        if (r < 0)
            return r;
        p->n_rlimits = i + 1;
    }
    return 0;
}

static _must_check_ int parse_args_env_cwd(const struct jctx *c, json_t *proc, const char *path,
                                           struct oci_process *p)
{
    int r = jget_strv(c, proc, path, "args", &p->args);
    if (r < 0)
        return r;
    if (p->args == NULL || p->args[0] == NULL)
        return jerr(c, path, "args", "missing or empty");
    r = jget_strv(c, proc, path, "env", &p->env);
    if (r < 0)
        return r;
    if (p->env == NULL)
        p->env = xcalloc(1, sizeof(char *));
    r = jget_string(c, proc, path, "cwd", &p->cwd);
    if (r < 0)
        return r;
    if (p->cwd == NULL)
        p->cwd = xstrdup("/");
    if (p->cwd[0] != '/')
        return jerr(c, path, "cwd", "\"%s\" is not an absolute path", p->cwd);
    return 0;
}

/* proc is the process object; path its JSON path ("process", or "" when standalone). */
static _must_check_ int parse_process(const struct jctx *c, json_t *proc, const char *path,
                                      struct oci_process *p)
{
    int r = jget_bool(c, proc, path, "terminal", &p->terminal);
    if (r == 0)
        r = parse_console_size(c, proc, path, p);
    if (r == 0)
        r = parse_user(c, proc, path, &p->user);
    if (r == 0)
        r = parse_args_env_cwd(c, proc, path, p);
    if (r == 0)
        r = parse_rlimits(c, proc, path, p);
    if (r == 0)
        r = jget_bool(c, proc, path, "noNewPrivileges", &p->no_new_privileges);
    return r;
}

static void oci_process_clear(struct oci_process *p)
{
    free(p->user.additional_gids);
    strv_free(p->args);
    strv_free(p->env);
    free(p->cwd);
    free(p->rlimits);
    memset(p, 0, sizeof(*p));
}

void oci_process_free(struct oci_process *p)
{
    if (p == NULL)
        return;
    oci_process_clear(p);
    free(p);
}

int oci_process_parse(const char *json, size_t len, struct oci_process **out, rerr **err)
{
    const struct jctx c = {.doc = "process spec", .err = err};
    _cleanup_json_ json_t *root = NULL;
    int r = jload(&c, json, len, &root);
    if (r < 0)
        return r;
    struct oci_process *p = xcalloc(1, sizeof(*p));
    r = parse_process(&c, root, "", p);
    if (r < 0) {
        oci_process_free(p);
        return r;
    }
    *out = p;
    return 0;
}

static const struct {
    const char *name;
    unsigned long flags;
} propagations[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

/* Later options override earlier ones, as with mount(8). */
static void mount_apply_option(struct oci_mount *m, const char *o)
{
    if (strcmp(o, "bind") == 0) {
        m->bind = true;
    } else if (strcmp(o, "rbind") == 0) {
        m->bind = m->recursive = true;
    } else if (strcmp(o, "ro") == 0) {
        m->readonly = true;
    } else if (strcmp(o, "rw") == 0) {
        m->readonly = false;
    } else {
        for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
            if (strcmp(o, propagations[i].name) == 0)
                m->propagation = propagations[i].flags;
    }
}

static _must_check_ int parse_mount(const struct jctx *c, json_t *e, const char *path,
                                    struct oci_mount *m)
{
    if (!json_is_object(e))
        return jerr(c, path, NULL, "expected an object");
    int r = jget_string(c, e, path, "destination", &m->destination);
    if (r < 0)
        return r;
    if (m->destination == NULL)
        return jerr(c, path, "destination", "missing");
    if (m->destination[0] != '/')
        return jerr(c, path, "destination", "\"%s\" is not an absolute path", m->destination);
    r = jget_string(c, e, path, "source", &m->source);
    if (r == 0)
        r = jget_string(c, e, path, "type", &m->type);
    if (r == 0)
        r = jget_strv(c, e, path, "options", &m->options);
    if (r < 0)
        return r;
    if (m->options == NULL)
        m->options = xcalloc(1, sizeof(char *));
    if (m->type && strcmp(m->type, "bind") == 0)
        m->bind = true;
    for (size_t i = 0; m->options[i]; i++)
        mount_apply_option(m, m->options[i]);
    return 0;
}

static _must_check_ int parse_mounts(const struct jctx *c, json_t *root, struct oci_spec *spec)
{
    json_t *a = NULL;
    int r = jget_array(c, root, "", "mounts", &a);
    if (r < 0 || a == NULL)
        return r;
    spec->mounts = xcalloc(json_array_size(a), sizeof(*spec->mounts));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        _cleanup_free_ char *epath = jpath_index("mounts", i);
        spec->n_mounts = i + 1; /* so that a half-parsed entry is freed */
        r = parse_mount(c, e, epath, &spec->mounts[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static _must_check_ int parse_spec(const struct jctx *c, json_t *root, struct oci_spec *spec)
{
    json_t *proc = NULL, *rootfs = NULL;
    int r = jget_object(c, root, "", "process", &proc);
    if (r < 0)
        return r;
    if (proc == NULL)
        return jerr(c, "process", NULL, "missing");
    r = parse_process(c, proc, "process", &spec->process);
    if (r == 0)
        r = jget_object(c, root, "", "root", &rootfs);
    if (r == 0 && rootfs)
        r = jget_string(c, rootfs, "root", "path", &spec->root_path);
    if (r == 0)
        r = parse_mounts(c, root, spec);
    if (r == 0)
        r = jget_kv(c, root, "", "annotations", &spec->annotations, &spec->n_annotations);
    return r;
}

/* doc names the document in errors: "config.json", or its full path when loaded from a bundle. */
static _must_check_ int spec_parse_doc(const char *doc, const char *json, size_t len,
                                       struct oci_spec **out, rerr **err)
{
    const struct jctx c = {.doc = doc, .err = err};
    _cleanup_json_ json_t *root = NULL;
    int r = jload(&c, json, len, &root);
    if (r < 0)
        return r;
    struct oci_spec *spec = xcalloc(1, sizeof(*spec));
    r = parse_spec(&c, root, spec);
    if (r < 0) {
        oci_spec_free(spec);
        return r;
    }
    *out = spec;
    return 0;
}

int oci_spec_parse(const char *json, size_t len, struct oci_spec **out, rerr **err)
{
    return spec_parse_doc("config.json", json, len, out, err);
}

int oci_spec_load(const char *bundle_dir, struct oci_spec **out, rerr **err)
{
    _cleanup_free_ char *path = xasprintf("%s/config.json", bundle_dir);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = read_file(path, OCI_SPEC_MAX_SIZE, &text, &len, err);
    if (r < 0)
        return r;
    return spec_parse_doc(path, text, len, out, err);
}

void oci_spec_free(struct oci_spec *spec)
{
    if (spec == NULL)
        return;
    oci_process_clear(&spec->process);
    free(spec->root_path);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        struct oci_mount *m = &spec->mounts[i];
        free(m->destination);
        free(m->source);
        free(m->type);
        strv_free(m->options);
    }
    free(spec->mounts);
    kv_free(spec->annotations, spec->n_annotations);
    free(spec);
}

bool oci_spec_is_sandbox(const struct oci_spec *spec)
{
    const char *t = kv_get(spec->annotations, spec->n_annotations, ANN_CONTAINER_TYPE);
    return t != NULL && strcmp(t, "sandbox") == 0;
}
