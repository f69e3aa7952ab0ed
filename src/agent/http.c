/* The agent's HTTP port: GET /healthz, /readyz and /metrics, nothing else (no endpoint runs
 * anything on the host). libmicrohttpd serves it from its own thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "cleanup.h"
#include "log.h"
#include "scan.h"
#include "util.h"

#define TEXT "text/plain; charset=utf-8"
#define PROM "text/plain; version=0.0.4; charset=utf-8"

struct http_server {
    struct MHD_Daemon *d;
    struct agent *a;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                             bool allow_header)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    if (allow_header)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static char *metrics(struct agent *a)
{
    struct node_snapshot s;
    rerr *e = NULL;
    if (node_scan(&a->cfg, a->o.proc, SCAN_ALL, &s, &e) < 0) {
        log_warn("metrics: %s", rerr_msg(e));
        rerr_free(e);
        agent_counters_error(&a->counters, COMP_SCAN);
        s = (struct node_snapshot){0};
    }
    pthread_mutex_lock(&a->counters.mu);
    char *text = metrics_render(&s, &a->counters, REAPER_VERSION);
    pthread_mutex_unlock(&a->counters.mu);
    node_snapshot_free(&s);
    return text;
}

static bool ready(struct agent *a)
{
    pthread_mutex_lock(&a->counters.mu);
    bool r = a->counters.synced;
    pthread_mutex_unlock(&a->counters.mu);
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version, (void)upload, (void)state;
    struct http_server *h = cls;
    *upload_size = 0; /* bodies are never read */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, TEXT, xstrdup("method not allowed\n"), true);
    if (strcmp(url, "/healthz") == 0)
        return reply(c, 200, TEXT, xstrdup("ok\n"), false);
    if (strcmp(url, "/readyz") == 0)
        return ready(h->a)
                   ? reply(c, 200, TEXT, xstrdup("ok\n"), false)
                   : reply(c, 503, TEXT, xstrdup("not synced with the API server yet\n"), false);
    if (strcmp(url, "/metrics") == 0) {
        char *m = metrics(h->a);
        return m ? reply(c, 200, PROM, m, false)
                 : reply(c, 500, TEXT, xstrdup("metrics rendering failed\n"), false);
    }
    return reply(c, 404, TEXT, xstrdup("not found: /healthz, /readyz, /metrics\n"), false);
}

/* "ADDR:PORT" or ":PORT" (all IPv4 addresses). */
static _must_check_ int parse_listen(const char *s, struct sockaddr_in *sa, rerr **err)
{
    const char *colon = strrchr(s, ':');
    int64_t port;
    if (colon == NULL || parse_int64(colon + 1, 1, 65535, &port) < 0)
        return rerr_setx(err, EINVAL, "--listen %s: want ADDR:PORT", s);
    *sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    _cleanup_free_ char *addr = xstrndup(s, (size_t)(colon - s));
    if (*addr && inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
        return rerr_setx(err, EINVAL, "--listen %s: %s is not an IPv4 address", s, addr);
    return 0;
}

struct http_server *http_start(struct agent *a, const char *listen, rerr **err)
{
    struct sockaddr_in sa;
    if (parse_listen(listen, &sa, err) < 0)
        return NULL;
    struct http_server *h = xcalloc(1, sizeof(*h));
    h->a = a;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle,
                            h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (h->d == NULL) {
        free(h);
        rerr_setx(err, EADDRINUSE, "cannot serve HTTP on %s (address in use or not local?)",
                  listen);
        return NULL;
    }
    return h;
}

void http_stop(struct http_server *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
