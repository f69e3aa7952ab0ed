/* Which overlay and DNS mode a workload gets, from its OCI annotations and the node config. */
#ifndef REAPER_ANNOTATIONS_H
#define REAPER_ANNOTATIONS_H

#include <stddef.h>

#include "config.h"
#include "err.h"

#define ANN_SANDBOX_NAMESPACE "io.kubernetes.cri.sandbox-namespace"
#define ANN_POD_NAMESPACE     "io.kubernetes.pod.namespace"
#define ANN_CONTAINER_TYPE    "io.kubernetes.cri.container-type"
#define ANN_SANDBOX_ID        "io.kubernetes.cri.sandbox-id"
#define ANN_REAPER_PREFIX     "reaper.runtime/"
#define ANN_DNS_MODE          "reaper.runtime/dns-mode"
#define ANN_OVERLAY_NAME      "reaper.runtime/overlay-name"
/* Restore the container from this checkpoint image directory (checkpoint.h). */
#define ANN_RESTORE_FROM "reaper.runtime/restore-from"

struct kv {
    char *key;
    char *value;
};

struct workload_identity {
    char *k8s_namespace; /* from sandbox-namespace, else pod.namespace, else "default" */
    char *overlay_name;  /* NULL: the namespace's default overlay */
    enum dns_mode dns_mode;
};

/*
 * Resolve identity from annotations + config. Unknown reaper.runtime/ keys are ignored; invalid
 * values (bad DNS label, unknown dns mode) are ignored with a message appended to *warnings
 * (a strv the caller logs). With cfg->annotations_enabled false, reaper.runtime/ keys are
 * ignored. A namespace that is not a DNS label is an error (it names the annotation).
 */
_must_check_ int workload_identity_resolve(const struct reaper_config *cfg, const struct kv *ann,
                                           size_t n_ann, struct workload_identity *out,
                                           char ***warnings, rerr **err);
void workload_identity_free(struct workload_identity *id);

/* Lookup helper; NULL if absent (the last entry wins if a key repeats). */
const char *kv_get(const struct kv *kv, size_t n, const char *key);
/* Deep copy / free of a kv array of n entries (kv_free accepts NULL). */
struct kv *kv_dup(const struct kv *kv, size_t n);
void kv_free(struct kv *kv, size_t n);

#endif
