/* Where and how to reach the API server: kubeconfig files and in-cluster service accounts. */
#ifndef REAPER_KUBE_CONFIG_H
#define REAPER_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
    char *server; /* "https://host:port" without trailing slash */
    char *ca_pem; /* CA bundle contents (PEM), or NULL */
    size_t ca_len;
    char *ca_file;  /* or a CA file path */
    char *cert_pem; /* client certificate + key (PEM data or files) */
    size_t cert_len;
    char *key_pem;
    size_t key_len;
    char *cert_file;
    char *key_file;
    char *token;      /* bearer token, or */
    char *token_file; /* a file re-read when it rotates (bound service account tokens) */
    bool insecure;    /* insecure-skip-tls-verify */
    char *namespace;  /* context namespace / the pod's namespace; may be NULL */
};

/* Parse kubeconfig text (YAML or JSON) using its current-context (or `context` if non-NULL).
 * Relative file paths resolve against base_dir. */
_must_check_ int kube_config_parse(const char *text, size_t len, const char *base_dir,
                                   const char *context, struct kube_config **out, rerr **err);
_must_check_ int kube_config_load_file(const char *path, const char *context,
                                       struct kube_config **out, rerr **err);
/* Service account token + CA in sa_dir (NULL: KUBE_SA_DIR) and KUBERNETES_SERVICE_HOST/PORT. */
_must_check_ int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, rerr **err);
/* kubeconfig path if given, else in-cluster, else $KUBECONFIG, else ~/.kube/config. */
_must_check_ int kube_config_load(const char *kubeconfig, struct kube_config **out, rerr **err);
void kube_config_free(struct kube_config *cfg);

#endif
