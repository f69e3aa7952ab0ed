/*
 * Events publisher: the event loop enqueues, one thread forwards each event to containerd's
 * Events/Forward in queue order, reconnecting and retrying with a short backoff.
 */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "events.pb-c.h"
#include "log.h"
#include "pb.h"
#include "ttrpc.h"
#include "util.h"

#define EVENTS_SERVICE        "containerd.services.events.ttrpc.v1.Events"
#define FORWARD_TIMEOUT       5000 /* ms, as the Go shim */
#define FORWARD_ATTEMPTS      6    /* the first try and 5 retries */
#define BACKOFF_FIRST_MS      50
#define PUBLISHER_STACK_DEPTH (64u << 10)

struct event_item {
    struct event_item *next;
    char *topic;
    char *type_url;
    uint8_t *value;
    size_t len;
    struct timespec when;
};

struct events {
    char *path;
    char *ns;
    unsigned attempts;
    unsigned backoff_first_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue changed or stop requested */
    struct event_item *head, *tail;
    bool stopping;
    pthread_t thread;
    struct ttrpc_client *cl; /* publisher thread only */
};

static void item_free(struct event_item *it)
{
    free(it->topic);
    free(it->type_url);
    free(it->value);
    free(it);
}

/* The ForwardRequest for one event, packed. */
static uint8_t *forward_payload(const struct events *ev, const struct event_item *it, size_t *len)
{
    Reaper__Types__Timestamp ts = pb_timestamp(&it->when);
    Reaper__Types__Any any = pb_any(it->type_url, it->value, it->len);
    Reaper__Events__Envelope env = REAPER__EVENTS__ENVELOPE__INIT;
    env.timestamp = &ts;
    env.namespace_ = ev->ns;
    env.topic = it->topic;
    env.event = &any;
    Reaper__Events__ForwardRequest req = REAPER__EVENTS__FORWARD_REQUEST__INIT;
    req.envelope = &env;
    return pb_pack(&req.base, len);
}

static _must_check_ int forward_once(struct events *ev, const uint8_t *payload, size_t len,
                                     rerr **err)
{
    if (!ev->cl) {
        int r = ttrpc_client_connect(ev->path, &ev->cl, err);
        if (r < 0)
            return r;
    }
    _cleanup_free_ uint8_t *resp = NULL;
    size_t resp_len;
    enum ttrpc_code code;
    int r = ttrpc_client_call(ev->cl, EVENTS_SERVICE, "Forward", ev->ns, payload, len,
                              FORWARD_TIMEOUT, &resp, &resp_len, &code, err);
    if (r < 0) { /* start over on a fresh connection */
        ttrpc_client_close(ev->cl);
        ev->cl = NULL;
    }
    return r;
}

/* Sleep on the condvar (not sleep()) so the wait stays interruptible and clock-correct. */
static void backoff(struct events *ev, int attempt)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t ns = (uint64_t)ev->backoff_first_ms * 1000000u << attempt;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec += (long)(ns % 1000000000u);
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&ev->mu);
    while (pthread_cond_timedwait(&ev->cv, &ev->mu, &until) != ETIMEDOUT)
        ; /* woken by a publish: keep waiting out the backoff */
    pthread_mutex_unlock(&ev->mu);
}

static void forward(struct events *ev, const struct event_item *it)
{
    size_t len;
    _cleanup_free_ uint8_t *payload = forward_payload(ev, it, &len);
    for (int attempt = 0;; attempt++) {
        _cleanup_rerr_ rerr *err = NULL;
        if (forward_once(ev, payload, len, &err) == 0)
            return;
        if ((unsigned)attempt + 1 >= ev->attempts) {
            log_error("publish %s: %s (dropped after %u attempts)", it->topic, rerr_msg(err),
                      ev->attempts);
            return;
        }
        log_debug("publish %s: %s (retrying)", it->topic, rerr_msg(err));
        backoff(ev, attempt);
    }
}

/* Next event to send, or NULL once stopping with an empty queue. */
static struct event_item *next_item(struct events *ev)
{
    pthread_mutex_lock(&ev->mu);
    while (!ev->head && !ev->stopping)
        pthread_cond_wait(&ev->cv, &ev->mu);
    struct event_item *it = ev->head;
    if (it) {
        ev->head = it->next;
        if (!ev->head)
            ev->tail = NULL;
    }
    pthread_mutex_unlock(&ev->mu);
    return it;
}

static void *publisher_main(void *arg)
{
    struct events *ev = arg;
    struct event_item *it;
    while ((it = next_item(ev))) {
        forward(ev, it);
        item_free(it);
        release_dead_stack(PUBLISHER_STACK_DEPTH); /* it sleeps in next_item most of its life */
    }
    ttrpc_client_close(ev->cl);
    ev->cl = NULL;
    return NULL;
}

static void events_free(struct events *ev)
{
    pthread_cond_destroy(&ev->cv);
    pthread_mutex_destroy(&ev->mu);
    free(ev->path);
    free(ev->ns);
    free(ev);
}

int events_start_config(const struct events_config *cfg, struct events **out, rerr **err)
{
    const char *path = str_startswith(cfg->address, "unix://") ? cfg->address + 7 : cfg->address;
    if (*path == '\0')
        return rerr_setx(err, EINVAL, "events: empty ttrpc address");
    if (cfg->attempts > EVENTS_MAX_ATTEMPTS) /* the doubled backoff would overflow */
        return rerr_setx(err, EINVAL, "events: %u attempts, at most %d", cfg->attempts,
                         EVENTS_MAX_ATTEMPTS);
    struct events *ev = xcalloc(1, sizeof(*ev));
    ev->path = xstrdup(path);
    ev->ns = xstrdup(cfg->ns ? cfg->ns : "");
    ev->attempts = cfg->attempts ? cfg->attempts : FORWARD_ATTEMPTS;
    ev->backoff_first_ms = cfg->backoff_first_ms ? cfg->backoff_first_ms : BACKOFF_FIRST_MS;
    pthread_mutex_init(&ev->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->cv, &ca);
    pthread_condattr_destroy(&ca);
    int r = pthread_create(&ev->thread, NULL, publisher_main, ev);
    if (r != 0) {
        events_free(ev);
        return rerr_set(err, r, "events: start publisher thread");
    }
    *out = ev;
    return 0;
}

int events_start(const char *address, const char *ns, struct events **out, rerr **err)
{
    struct events_config cfg = {.address = address, .ns = ns};
    return events_start_config(&cfg, out, err);
}

void events_publish(struct events *ev, const char *topic, const char *type_url,
                    const uint8_t *value, size_t len)
{
    struct event_item *it = xcalloc(1, sizeof(*it));
    it->topic = xstrdup(topic);
    it->type_url = xstrdup(type_url);
    it->value = xmalloc(len ? len : 1);
    if (len)
        memcpy(it->value, value, len);
    it->len = len;
    clock_gettime(CLOCK_REALTIME, &it->when);
    pthread_mutex_lock(&ev->mu);
    if (ev->tail)
        ev->tail->next = it;
    else
        ev->head = it;
    ev->tail = it;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
}

void events_stop(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->mu);
    ev->stopping = true;
    pthread_cond_signal(&ev->cv);
    pthread_mutex_unlock(&ev->mu);
    pthread_join(ev->thread, NULL);
    events_free(ev);
}
