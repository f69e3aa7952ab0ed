#include "kube_watch.h"
#include "internal/kube_http.h"
#include "cleanup.h"
#include "kjson.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_LINE_MAX (16u << 20)

struct watch_ctx {
    CURL *h;
    kube_watch_fn fn;
    void *ud;
    const char *what;
    const atomic_bool *stop;
    uint64_t header_deadline_ns; /* no response headers by then: a hung server */
    long timeout_s;
    long http;
    char *buf; /* partial line, or the error body when http != 200 */
    size_t len;
    int result;
    rerr *err;
};

int kube_watch_dispatch_line(const char *line, size_t len, kube_watch_fn fn, void *ud, rerr **err)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return 0;
    _cleanup_json_ json_t *ev = NULL;
    int r = kj_parse(line, len, &ev, err);
    if (r < 0)
        return rerr_wrap(err, "watch event");
    const char *type = kj_str(ev, "type");
    json_t *obj = json_object_get(ev, "object");
    if (type == NULL || !json_is_object(obj))
        return rerr_setx(err, EINVAL, "watch event without type/object");
    if (strcmp(type, "ERROR") == 0) {
        json_int_t code = kj_int(obj, "code", 0);
        const char *msg = kj_str(obj, "message");
        return rerr_setx(err, code == 410 ? EKEYEXPIRED : EIO, "watch: %s (code %lld)",
                         msg ? msg : "error", (long long)code);
    }
    fn(ud, type, obj);
    return 0;
}

/* Dispatch every complete line in the buffer; keep the tail. */
static _must_check_ int drain_lines(struct watch_ctx *w)
{
    size_t start = 0;
    for (size_t i = 0; i < w->len; i++) {
        if (w->buf[i] != '\n')
            continue;
        int r = kube_watch_dispatch_line(w->buf + start, i - start, w->fn, w->ud, &w->err);
        if (r == -EINVAL) { /* one bad event must not stop the stream: it would come again */
            log_error("%s: skipped an event of %zu bytes: %s", w->what, i - start,
                      rerr_msg(w->err));
            rerr_free(steal_ptr(w->err));
        } else if (r < 0) {
            return r;
        }
        start = i + 1;
    }
    memmove(w->buf, w->buf + start, w->len - start);
    w->len -= start;
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct watch_ctx *w = ud;
    size_t n = size * nmemb;
    if (w->http == 0)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http);
    if (w->len + n > WATCH_LINE_MAX) {
        w->result = rerr_setx(&w->err, EFBIG, "watch: line longer than %u bytes", WATCH_LINE_MAX);
        return 0;
    }
    w->buf = xrealloc(w->buf, w->len + n + 1);
    memcpy(w->buf + w->len, ptr, n);
    w->len += n;
    w->buf[w->len] = '\0';
    if (w->http != 200)
        return n; /* collect the Status body */
    int r = drain_lines(w);
    if (r < 0) {
        w->result = r;
        return 0;
    }
    return n;
}

/* A watch stream may be idle for minutes, but its response headers come at once: a server
 * that sends none within the request timeout is hung (the whole-transfer cap is far longer). */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct watch_ctx *w = ud;
    if (w->stop && atomic_load(w->stop))
        return 1;
    if (w->http == 0)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http);
    if (w->http == 0 && monotonic_ns() >= w->header_deadline_ns) {
        w->result = rerr_setx(&w->err, ETIMEDOUT, "watch: no response within %ld s", w->timeout_s);
        return 1;
    }
    return 0;
}

char *kube_selector_query(const char *label_selector, const char *field_selector)
{
    _cleanup_free_ char *l = label_selector ? kube_query_escape(label_selector) : NULL;
    _cleanup_free_ char *f = field_selector ? kube_query_escape(field_selector) : NULL;
    if (l == NULL && f == NULL)
        return NULL;
    return xasprintf("%s%s%s%s%s", l ? "labelSelector=" : "", l ? l : "", l && f ? "&" : "",
                     f ? "fieldSelector=" : "", f ? f : "");
}

static char *watch_query(const struct kube_watch_opts *o)
{
    _cleanup_free_ char *sel = kube_selector_query(o->label_selector, o->field_selector);
    _cleanup_free_ char *rv = o->resource_version ? kube_query_escape(o->resource_version) : NULL;
    return xasprintf("watch=1&allowWatchBookmarks=true&timeoutSeconds=%d%s%s%s%s",
                     o->timeout_seconds > 0 ? o->timeout_seconds : 300,
                     rv ? "&resourceVersion=" : "", rv ? rv : "", sel ? "&" : "", sel ? sel : "");
}

static _must_check_ int finish(struct watch_ctx *w, CURLcode cc, const char *what, rerr **err)
{
    if (w->result < 0) {
        *err = steal_ptr(w->err);
        return w->result;
    }
    if (w->stop && atomic_load(w->stop))
        return rerr_setx(err, ECANCELED, "%s: stopped", what);
    if (w->http == 0)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http);
    if (w->http != 0 && w->http != 200) {
        _cleanup_json_ json_t *body = NULL;
        _cleanup_rerr_ rerr *ignored = NULL;
        if (w->len) /* a non-JSON body still maps by its HTTP status */
            IGNORE_RESULT(kj_parse(w->buf, w->len, &body, &ignored));
        return kube_status_error(w->http, body, what, err);
    }
    if (cc != CURLE_OK && cc != CURLE_OPERATION_TIMEDOUT)
        return rerr_setx(err, cc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO, "%s: %s", what,
                         curl_easy_strerror(cc));
    return 0;
}

int kube_watch(struct kube_client *c, const struct kube_resource *r,
               const struct kube_watch_opts *o, kube_watch_fn fn, void *ud, rerr **err)
{
    _cleanup_free_ char *q = watch_query(o);
    _cleanup_free_ char *path = kube_path(r, o->namespace, NULL, NULL, q);
    _cleanup_free_ char *what = xasprintf("watch %s", path);
    struct watch_ctx w = {.fn = fn, .ud = ud, .what = what, .stop = o->stop};
    w.timeout_s = kube_client_request_timeout(c);
    w.header_deadline_ns = monotonic_ns() + (uint64_t)w.timeout_s * 1000000000ull;
    w.h = curl_easy_init();
    if (w.h == NULL)
        return rerr_setx(err, ENOMEM, "%s: curl_easy_init", what);
    struct curl_slist *headers = NULL;
    kube_curl_prepare(c, w.h, path, &headers);
    curl_easy_setopt(w.h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(w.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(w.h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(w.h, CURLOPT_XFERINFODATA, &w);
    /* Hard cap a little past the server-side timeout: a silently dead connection ends too. */
    curl_easy_setopt(w.h, CURLOPT_TIMEOUT,
                     (long)(o->timeout_seconds > 0 ? o->timeout_seconds : 300) + 30L);
    CURLcode cc = curl_easy_perform(w.h);
    int ret = finish(&w, cc, what, err);
    curl_slist_free_all(headers);
    curl_easy_cleanup(w.h);
    free(w.buf);
    rerr_free(w.err);
    return ret;
}
