/*
 * Workload identity: the Kubernetes namespace (which overlay a pod shares) and the per-pod
 * reaper.runtime/ overrides. A bad override never fails the pod: it falls back to the node
 * setting and says so, because the pod spec author may not be the node administrator.
 */
#include "annotations.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *kv_get(const struct kv *kv, size_t n, const char *key)
{
    const char *found = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            found = kv[i].value;
    return found;
}

struct kv *kv_dup(const struct kv *kv, size_t n)
{
    struct kv *out = xcalloc(n, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i].key = xstrdup(kv[i].key);
        out[i].value = xstrdup(kv[i].value);
    }
    return out;
}

void kv_free(struct kv *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void warn(char ***warnings, char *msg)
{
    if (warnings)
        strv_push(warnings, msg);
    else
        log_warn("%s", msg);
    free(msg);
}

/* <base>/<ns>/{upper,work} sit next to <base>/<ns>/<name>/: those names would collide. */
static bool overlay_name_reserved(const char *name)
{
    return strcmp(name, "upper") == 0 || strcmp(name, "work") == 0;
}

static void resolve_overlay_name(const char *v, struct workload_identity *out, char ***warnings)
{
    if (!is_dns_label(v))
        warn(warnings, xasprintf("annotation %s: \"%s\" is not a DNS label; using the namespace "
                                 "overlay",
                                 ANN_OVERLAY_NAME, v));
    else if (overlay_name_reserved(v))
        warn(warnings, xasprintf("annotation %s: \"%s\" is reserved; using the namespace overlay",
                                 ANN_OVERLAY_NAME, v));
    else
        out->overlay_name = xstrdup(v);
}

static void resolve_dns_mode(const char *v, struct workload_identity *out, char ***warnings)
{
    if (dns_mode_parse(v, &out->dns_mode) < 0)
        warn(warnings, xasprintf("annotation %s: \"%s\" is not host, kubernetes or k8s; using "
                                 "the node setting (%s)",
                                 ANN_DNS_MODE, v, dns_mode_name(out->dns_mode)));
}

static void apply_reaper_annotations(const struct kv *ann, size_t n, struct workload_identity *out,
                                     char ***warnings)
{
    const char *v = kv_get(ann, n, ANN_OVERLAY_NAME);
    if (v)
        resolve_overlay_name(v, out, warnings);
    v = kv_get(ann, n, ANN_DNS_MODE);
    if (v)
        resolve_dns_mode(v, out, warnings);
    for (size_t i = 0; i < n; i++) {
        const char *k = ann[i].key;
        if (str_startswith(k, ANN_REAPER_PREFIX) && strcmp(k, ANN_OVERLAY_NAME) != 0 &&
            strcmp(k, ANN_DNS_MODE) != 0 && strcmp(k, ANN_RESTORE_FROM) != 0)
            warn(warnings, xasprintf("annotation %s is not supported; ignored", k));
    }
}

int workload_identity_resolve(const struct reaper_config *cfg, const struct kv *ann, size_t n_ann,
                              struct workload_identity *out, char ***warnings, rerr **err)
{
    memset(out, 0, sizeof(*out));
    const char *source = ANN_SANDBOX_NAMESPACE;
    const char *ns = kv_get(ann, n_ann, source);
    if (ns == NULL || *ns == '\0') {
        source = ANN_POD_NAMESPACE;
        ns = kv_get(ann, n_ann, source);
    }
    if (ns == NULL || *ns == '\0')
        ns = "default";
    else if (!is_dns_label(ns))
        return rerr_setx(err, EINVAL,
                         "annotation %s: \"%s\" is not a valid namespace name (DNS label)", source,
                         ns);
    out->k8s_namespace = xstrdup(ns);
    out->dns_mode = cfg->dns_mode;
    if (cfg->annotations_enabled)
        apply_reaper_annotations(ann, n_ann, out, warnings);
    return 0;
}

void workload_identity_free(struct workload_identity *id)
{
    if (id == NULL)
        return;
    free(id->k8s_namespace);
    free(id->overlay_name);
    memset(id, 0, sizeof(*id));
}
