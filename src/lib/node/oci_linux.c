/*
 * config.json's security fields: process.capabilities as bit sets, and from "linux" what
 * Reaper enforces (seccomp, masked/read-only paths) or refuses (sysctl, user namespaces).
 * linux.seccomp is kept as JSON text: it is compiled when a process is spawned and stored in
 * the container's state for its execs (containerd's exec spec carries no seccomp).
 */
#include "oci_linux.h"
#include "log.h"
#include "security.h"
#include "util.h"

#include <string.h>

static const char *const cap_set_names[] = {"bounding", "effective", "inheritable", "permitted",
                                            "ambient"};

static _must_check_ int parse_cap_set(const struct jctx *c, json_t *obj, const char *path,
                                      const char *key, uint64_t *out)
{
    _cleanup_strv_ char **names = NULL;
    int r = jget_strv(c, obj, path, key, &names);
    if (r < 0)
        return r;
    uint64_t set = 0;
    for (size_t i = 0; names && names[i]; i++) {
        int cap = capability_from_name(names[i]);
        /* A capability newer than Reaper (containerd names what the kernel has for "ALL" and
         * privileged): not granted, as runc does, rather than failing every privileged pod. */
        if (cap < 0)
            log_warn("%s: %s.%s[%zu]: unknown capability \"%s\" ignored", c->doc, path, key, i,
                     names[i]);
        else
            set |= UINT64_C(1) << cap;
    }
    *out = set;
    return 0;
}

int oci_parse_caps(const struct jctx *c, json_t *proc, const char *path, struct oci_caps *caps)
{
    json_t *obj = NULL;
    int r = jget_object(c, proc, path, "capabilities", &obj);
    if (r < 0 || obj == NULL)
        return r;
    _cleanup_free_ char *cpath = jpath(path, "capabilities");
    uint64_t *sets[] = {&caps->bounding, &caps->effective, &caps->inheritable, &caps->permitted,
                        &caps->ambient};
    for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
        if ((r = parse_cap_set(c, obj, cpath, cap_set_names[i], sets[i])) < 0)
            return r;
    caps->present = true;
    return 0;
}

static _must_check_ int parse_namespaces(const struct jctx *c, json_t *lx, struct oci_linux *out)
{
    json_t *a = NULL;
    int r = jget_array(c, lx, "linux", "namespaces", &a);
    if (r < 0 || a == NULL)
        return r;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (type && strcmp(type, "user") == 0)
            out->user_namespace = true;
    }
    return 0;
}

static bool non_empty_array(json_t *lx, const char *key)
{
    json_t *a = json_object_get(lx, key);
    return json_is_array(a) && json_array_size(a) > 0;
}

static _must_check_ int parse_seccomp(const struct jctx *c, json_t *lx, struct oci_linux *out)
{
    json_t *sc = NULL;
    int r = jget_object(c, lx, "linux", "seccomp", &sc);
    if (r == 0 && sc)
        out->seccomp_json = jdump(sc);
    return r;
}

int oci_parse_linux(const struct jctx *c, json_t *root, struct oci_linux *out)
{
    json_t *lx = NULL;
    int r = jget_object(c, root, "", "linux", &lx);
    if (r < 0 || lx == NULL)
        return r;
    if ((r = parse_namespaces(c, lx, out)) < 0)
        return r;
    out->id_mappings = non_empty_array(lx, "uidMappings") || non_empty_array(lx, "gidMappings");
    r = jget_strv(c, lx, "linux", "maskedPaths", &out->masked_paths);
    if (r == 0)
        r = jget_strv(c, lx, "linux", "readonlyPaths", &out->readonly_paths);
    if (r == 0)
        r = jget_kv(c, lx, "linux", "sysctl", &out->sysctl, &out->n_sysctl);
    if (r == 0)
        r = parse_seccomp(c, lx, out);
    return r;
}

void oci_linux_clear(struct oci_linux *l)
{
    free(l->seccomp_json);
    strv_free(l->masked_paths);
    strv_free(l->readonly_paths);
    kv_free(l->sysctl, l->n_sysctl);
    memset(l, 0, sizeof(*l));
}
