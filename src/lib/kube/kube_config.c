#include "kube_config.h"
#include "cleanup.h"
#include "kjson.h"
#include "kyaml.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KUBECONFIG_MAX (4u << 20)

void kube_config_free(struct kube_config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->server);
    free(cfg->ca_pem);
    free(cfg->ca_file);
    free(cfg->cert_pem);
    free(cfg->key_pem);
    free(cfg->cert_file);
    free(cfg->key_file);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->namespace);
    free(cfg);
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64; whitespace ignored, padding optional. */
static _must_check_ int b64_decode(const char *in, char **out, size_t *out_len)
{
    size_t n = strlen(in);
    char *buf = xmalloc(n / 4 * 3 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t')
            continue;
        int v = b64_value(c);
        if (v < 0) {
            free(buf);
            return -EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *out_len = o;
    return 0;
}

/* The entry named `name` in a kubeconfig list ("clusters", "users", "contexts"). */
static json_t *named_entry(const json_t *root, const char *list, const char *name,
                           const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, list), i, e)
    {
        const char *n = kj_str(e, "name");
        if (n && name && strcmp(n, name) == 0)
            return json_object_get(e, field);
    }
    return NULL;
}

static char *resolve_path(const char *base_dir, const char *p)
{
    if (p == NULL)
        return NULL;
    if (p[0] == '/' || base_dir == NULL)
        return xstrdup(p);
    return xasprintf("%s/%s", base_dir, p);
}

static _must_check_ int decode_field(const json_t *o, const char *key, char **out, size_t *len,
                                     rerr **err)
{
    const char *v = kj_str(o, key);
    if (v == NULL)
        return 0;
    if (b64_decode(v, out, len) < 0)
        return rerr_setx(err, EINVAL, "kubeconfig %s: invalid base64", key);
    return 0;
}

static _must_check_ int fill_cluster(struct kube_config *c, const json_t *cl, const char *base,
                                     rerr **err)
{
    const char *server = kj_str(cl, "server");
    if (server == NULL || *server == '\0')
        return rerr_setx(err, EINVAL, "kubeconfig: cluster has no server");
    c->server = xstrdup(server);
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
    json_t *insecure = json_object_get(cl, "insecure-skip-tls-verify");
    c->insecure = json_is_true(insecure) ||
                  (json_is_string(insecure) && strcmp(json_string_value(insecure), "true") == 0);
    c->ca_file = resolve_path(base, kj_str(cl, "certificate-authority"));
    return decode_field(cl, "certificate-authority-data", &c->ca_pem, &c->ca_len, err);
}

static _must_check_ int fill_user(struct kube_config *c, const json_t *u, const char *base,
                                  rerr **err)
{
    if (u == NULL)
        return 0;
    if (json_object_get(u, "exec") || json_object_get(u, "auth-provider"))
        return rerr_setx(err, ENOTSUP,
                         "kubeconfig: exec/auth-provider credentials are not "
                         "supported; use a token or client certificate");
    int r = decode_field(u, "client-certificate-data", &c->cert_pem, &c->cert_len, err);
    if (r < 0)
        return r;
    r = decode_field(u, "client-key-data", &c->key_pem, &c->key_len, err);
    if (r < 0)
        return r;
    c->cert_file = resolve_path(base, kj_str(u, "client-certificate"));
    c->key_file = resolve_path(base, kj_str(u, "client-key"));
    const char *tok = kj_str(u, "token");
    c->token = tok ? xstrdup(tok) : NULL;
    c->token_file = resolve_path(base, kj_str(u, "tokenFile"));
    return 0;
}

static _must_check_ int config_from_tree(const json_t *root, const char *base, const char *context,
                                         struct kube_config *c, rerr **err)
{
    if (!json_is_object(root))
        return rerr_setx(err, EINVAL, "kubeconfig: not a mapping");
    const char *ctx_name = context ? context : kj_str(root, "current-context");
    if (ctx_name == NULL)
        return rerr_setx(err, EINVAL, "kubeconfig: no current-context");
    json_t *ctx = named_entry(root, "contexts", ctx_name, "context");
    if (!json_is_object(ctx))
        return rerr_setx(err, EINVAL, "kubeconfig: context %s not found", ctx_name);
    const char *cl_name = kj_str(ctx, "cluster");
    json_t *cl = named_entry(root, "clusters", cl_name, "cluster");
    if (!json_is_object(cl))
        return rerr_setx(err, EINVAL, "kubeconfig: cluster %s not found", cl_name ? cl_name : "");
    int r = fill_cluster(c, cl, base, err);
    if (r < 0)
        return r;
    const char *ns = kj_str(ctx, "namespace");
    c->namespace = ns ? xstrdup(ns) : NULL;
    return fill_user(c, named_entry(root, "users", kj_str(ctx, "user"), "user"), base, err);
}

int kube_config_parse(const char *text, size_t len, const char *base_dir, const char *context,
                      struct kube_config **out, rerr **err)
{
    _cleanup_json_ json_t *root = NULL;
    int r = kyaml_parse(text, len, &root, err);
    if (r < 0)
        return rerr_wrap(err, "kubeconfig");
    struct kube_config *c = xcalloc(1, sizeof(*c));
    r = config_from_tree(root, base_dir, context, c, err);
    if (r < 0) {
        kube_config_free(c);
        return r;
    }
    *out = c;
    return 0;
}

int kube_config_load_file(const char *path, const char *context, struct kube_config **out,
                          rerr **err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = read_file(path, KUBECONFIG_MAX, &text, &len, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    r = kube_config_parse(text, len, slash ? dir : ".", context, out, err);
    return r < 0 ? rerr_wrap(err, "%s", path) : 0;
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, rerr **err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (host == NULL || port == NULL || *host == '\0')
        return rerr_setx(err, ENOENT, "not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
    const char *dir = sa_dir ? sa_dir : KUBE_SA_DIR;
    struct kube_config *c = xcalloc(1, sizeof(*c));
    /* IPv6 service addresses need brackets in a URL. */
    c->server = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port)
                                  : xasprintf("https://%s:%s", host, port);
    c->token_file = xasprintf("%s/token", dir);
    c->ca_file = xasprintf("%s/ca.crt", dir);
    _cleanup_free_ char *nsfile = xasprintf("%s/namespace", dir);
    char *ns = NULL;
    size_t len;
    _cleanup_rerr_ rerr *ignored = NULL;
    if (read_file(nsfile, 4096, &ns, &len, &ignored) == 0) {
        ns[strcspn(ns, "\r\n")] = '\0';
        c->namespace = ns;
    }
    *out = c;
    return 0;
}

int kube_config_load(const char *kubeconfig, struct kube_config **out, rerr **err)
{
    if (kubeconfig && *kubeconfig)
        return kube_config_load_file(kubeconfig, NULL, out, err);
    if (getenv("KUBERNETES_SERVICE_HOST"))
        return kube_config_in_cluster(NULL, out, err);
    const char *env = getenv("KUBECONFIG");
    if (env && *env) {
        _cleanup_strv_ char **parts = strv_split(env, ":");
        if (parts && parts[0])
            return kube_config_load_file(parts[0], NULL, out, err);
    }
    const char *home = getenv("HOME");
    _cleanup_free_ char *def = xasprintf("%s/.kube/config", home ? home : "/root");
    return kube_config_load_file(def, NULL, out, err);
}
