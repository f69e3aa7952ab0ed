#include "kube_client.h"
#include "internal/kube_http.h"
#include "cleanup.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KUBE_BODY_MAX   (64u << 20)
#define TOKEN_REREAD_NS (60ull * 1000000000ull)

struct kube_client {
    struct kube_config *cfg;
    long timeout_s;         /* whole-request limit of every non-watch request */
    kube_write_fence fence; /* consulted before every write; NULL: none */
    void *fence_ud;
    pthread_mutex_t mu; /* guards the token cache */
    char *token;
    uint64_t token_read_ns;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kube_client_new(struct kube_config *cfg, struct kube_client **out, rerr **err)
{
    pthread_once(&curl_once, curl_init_once);
    if (cfg == NULL || cfg->server == NULL)
        return rerr_setx(err, EINVAL, "kube client: no server configured");
    struct kube_client *c = xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    c->timeout_s = KUBE_REQUEST_TIMEOUT_DEFAULT_S;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void kube_client_free(struct kube_client *c)
{
    if (c == NULL)
        return;
    kube_config_free(c->cfg);
    free(c->token);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
    return c->cfg;
}

void kube_client_set_request_timeout(struct kube_client *c, unsigned seconds)
{
    c->timeout_s = seconds ? (long)seconds : KUBE_REQUEST_TIMEOUT_DEFAULT_S;
}

long kube_client_request_timeout(const struct kube_client *c)
{
    return c->timeout_s;
}

void kube_client_set_write_fence(struct kube_client *c, kube_write_fence fence, void *ud)
{
    c->fence = fence;
    c->fence_ud = ud;
}

char *kube_query_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = xmalloc(strlen(s) * 3 + 1), *p = o;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-_.~", ch)) {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return o;
}

char *kube_path(const struct kube_resource *r, const char *ns, const char *name, const char *sub,
                const char *query)
{
    bool core = strchr(r->api_version, '/') == NULL;
    _cleanup_free_ char *nspart =
        (r->namespaced && ns && *ns) ? xasprintf("/namespaces/%s", ns) : xstrdup("");
    _cleanup_free_ char *namepart = name ? xasprintf("/%s", name) : xstrdup("");
    _cleanup_free_ char *subpart = sub ? xasprintf("/%s", sub) : xstrdup("");
    return xasprintf("/%s/%s%s/%s%s%s%s%s", core ? "api" : "apis", r->api_version, nspart,
                     r->plural, namepart, subpart, query ? "?" : "", query ? query : "");
}

/* The bearer token, re-read from token_file at most once a minute (tokens rotate). */
static char *current_token(struct kube_client *c)
{
    if (c->cfg->token)
        return xstrdup(c->cfg->token);
    if (c->cfg->token_file == NULL)
        return NULL;
    pthread_mutex_lock(&c->mu);
    uint64_t now = monotonic_ns();
    if (c->token == NULL || now - c->token_read_ns > TOKEN_REREAD_NS) {
        char *t = NULL;
        size_t len;
        rerr *e = NULL;
        if (read_file(c->cfg->token_file, 1u << 20, &t, &len, &e) == 0) {
            t[strcspn(t, "\r\n")] = '\0';
            free(c->token);
            c->token = t;
            c->token_read_ns = now;
        } else {
            log_warn("service account token: %s", rerr_msg(e));
            rerr_free(e);
        }
    }
    char *tok = c->token ? xstrdup(c->token) : NULL;
    pthread_mutex_unlock(&c->mu);
    return tok;
}

static void set_blob(CURL *h, CURLoption opt, const char *data, size_t len)
{
    struct curl_blob blob = {.data = (void *)data, .len = len, .flags = CURL_BLOB_COPY};
    curl_easy_setopt(h, opt, &blob);
}

static void setup_tls(const struct kube_config *cfg, CURL *h)
{
    if (cfg->ca_pem)
        set_blob(h, CURLOPT_CAINFO_BLOB, cfg->ca_pem, cfg->ca_len);
    else if (cfg->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->cert_pem)
        set_blob(h, CURLOPT_SSLCERT_BLOB, cfg->cert_pem, cfg->cert_len);
    else if (cfg->cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
    if (cfg->key_pem)
        set_blob(h, CURLOPT_SSLKEY_BLOB, cfg->key_pem, cfg->key_len);
    else if (cfg->key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
    if (cfg->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

void kube_curl_prepare(struct kube_client *c, CURL *h, const char *path,
                       struct curl_slist **headers)
{
    _cleanup_free_ char *url = xasprintf("%s%s", c->cfg->server, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "reaper/" REAPER_VERSION);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    setup_tls(c->cfg, h);
    *headers = curl_slist_append(*headers, "Accept: application/json");
    _cleanup_free_ char *tok = current_token(c);
    if (tok) {
        _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", tok);
        *headers = curl_slist_append(*headers, auth);
    }
}

int kube_status_error(long http, const json_t *body, const char *what, rerr **err)
{
    const char *msg = kj_str(body, "message");
    const char *reason = kj_str(body, "reason");
    int code;
    switch (http) {
    case 404:
        code = ENOENT;
        break;
    case 409:
        code = (reason && strcmp(reason, "AlreadyExists") == 0) ? EEXIST : ESTALE;
        break;
    case 410:
        code = EKEYEXPIRED;
        break;
    case 400:
    case 422:
        code = EINVAL;
        break;
    case 401:
        code = EACCES;
        break;
    case 403:
        code = EPERM;
        break;
    default:
        code = (http == 429 || http >= 500) ? EAGAIN : EIO;
        break;
    }
    return rerr_setx(err, code, "%s: HTTP %ld%s%s", what, http, msg ? ": " : "", msg ? msg : "");
}

struct membuf {
    char *data;
    size_t len;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct membuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > KUBE_BODY_MAX)
        return 0; /* aborts the transfer */
    b->data = xrealloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static _must_check_ int perform(CURL *h, const char *what, struct membuf *resp, long *http,
                                rerr **err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK)
        return rerr_setx(err, cc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO, "%s: %s", what,
                         *errbuf ? errbuf : curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
    return 0;
}

int kube_request(struct kube_client *c, const char *method, const char *path,
                 const char *content_type, const json_t *body, json_t **out, rerr **err)
{
    _cleanup_free_ char *what = xasprintf("%s %s", method, path);
    if (c->fence && strcmp(method, "GET") != 0) {
        int fr = c->fence(c->fence_ud, what, err);
        if (fr < 0)
            return fr;
    }
    CURL *h = curl_easy_init();
    if (h == NULL)
        return rerr_setx(err, ENOMEM, "%s: curl_easy_init", what);
    struct curl_slist *headers = NULL;
    _cleanup_free_ char *payload = body ? kj_dump(body) : NULL;
    kube_curl_prepare(c, h, path, &headers);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    if (payload) {
        _cleanup_free_ char *ct =
            xasprintf("Content-Type: %s", content_type ? content_type : "application/json");
        headers = curl_slist_append(headers, ct);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    struct membuf resp = {0};
    long http = 0;
    int r = perform(h, what, &resp, &http, err);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    _cleanup_free_ char *data = resp.data;
    if (r < 0)
        return r;
    _cleanup_json_ json_t *j = NULL;
    _cleanup_rerr_ rerr *perr = NULL;
    if (resp.len > 0 && kj_parse(data, resp.len, &j, &perr) < 0 && http / 100 == 2)
        return rerr_setx(err, EIO, "%s: %s", what, rerr_msg(perr));
    if (http / 100 != 2)
        return kube_status_error(http, j, what, err);
    if (out)
        *out = steal_ptr(j);
    return (int)http;
}

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
             json_t **out, rerr **err)
{
    _cleanup_free_ char *p = kube_path(r, ns, name, NULL, NULL);
    return kube_request(c, "GET", p, NULL, NULL, out, err);
}

int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns,
              const char *query, json_t **out, rerr **err)
{
    _cleanup_free_ char *p = kube_path(r, ns, NULL, NULL, query);
    return kube_request(c, "GET", p, NULL, NULL, out, err);
}

int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const json_t *obj, json_t **out, rerr **err)
{
    _cleanup_free_ char *p = kube_path(r, ns, NULL, NULL, NULL);
    return kube_request(c, "POST", p, NULL, obj, out, err);
}

static _must_check_ int put(struct kube_client *c, const struct kube_resource *r, const json_t *obj,
                            const char *sub, json_t **out, rerr **err)
{
    const char *name = kj_str(obj, "metadata.name");
    if (name == NULL)
        return rerr_setx(err, EINVAL, "update %s: object has no metadata.name", r->kind);
    _cleanup_free_ char *p = kube_path(r, kj_str(obj, "metadata.namespace"), name, sub, NULL);
    return kube_request(c, "PUT", p, NULL, obj, out, err);
}

int kube_update(struct kube_client *c, const struct kube_resource *r, const json_t *obj,
                json_t **out, rerr **err)
{
    return put(c, r, obj, NULL, out, err);
}

int kube_update_status(struct kube_client *c, const struct kube_resource *r, const json_t *obj,
                       json_t **out, rerr **err)
{
    return put(c, r, obj, "status", out, err);
}

int kube_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
               const char *name, const char *sub, enum kube_patch_type type, const json_t *patch,
               json_t **out, rerr **err)
{
    _cleanup_free_ char *p = kube_path(r, ns, name, sub, NULL);
    const char *ct =
        type == KUBE_PATCH_MERGE ? "application/merge-patch+json" : "application/json-patch+json";
    return kube_request(c, "PATCH", p, ct, patch, out, err);
}

int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const char *name, const char *uid, rerr **err)
{
    _cleanup_free_ char *p = kube_path(r, ns, name, NULL, NULL);
    _cleanup_json_ json_t *opts = json_pack("{s:s,s:s,s:s}", "apiVersion", "v1", "kind",
                                            "DeleteOptions", "propagationPolicy", "Background");
    if (uid)
        json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid));
    return kube_request(c, "DELETE", p, NULL, opts, NULL, err);
}
