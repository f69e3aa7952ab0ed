#include "workqueue.h"
#include "backoff.h"
#include "log.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct delayed {
    char *key;
    uint64_t when_ns;
};

struct workqueue {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    json_t *ready_order; /* FIFO of keys (array) */
    json_t *queued;      /* keys in ready_order (set) */
    json_t *processing;  /* keys handed out (set) */
    json_t *dirty;       /* keys re-added while processing (set) */
    json_t *failures;    /* key → count */
    struct delayed *delayed;
    size_t ndelayed;
    uint64_t base_ms, max_ms;
    bool shutdown;
};

struct workqueue *workqueue_new(uint64_t base_delay_ms, uint64_t max_delay_ms)
{
    struct workqueue *q = xcalloc(1, sizeof(*q));
    pthread_mutex_init(&q->mu, NULL);
    cond_init_monotonic(&q->cond);
    q->ready_order = json_array();
    q->queued = json_object();
    q->processing = json_object();
    q->dirty = json_object();
    q->failures = json_object();
    q->base_ms = base_delay_ms ? base_delay_ms : 5;
    q->max_ms = max_delay_ms ? max_delay_ms : 300000;
    return q;
}

void workqueue_free(struct workqueue *q)
{
    if (q == NULL)
        return;
    for (size_t i = 0; i < q->ndelayed; i++)
        free(q->delayed[i].key);
    free(q->delayed);
    json_decref(q->ready_order);
    json_decref(q->queued);
    json_decref(q->processing);
    json_decref(q->dirty);
    json_decref(q->failures);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* Called with the lock held. */
static void add_locked(struct workqueue *q, const char *key)
{
    if (q->shutdown)
        return;
    if (json_object_get(q->processing, key)) {
        json_object_set_new(q->dirty, key, json_true());
        return;
    }
    if (json_object_get(q->queued, key))
        return;
    json_object_set_new(q->queued, key, json_true());
    json_array_append_new(q->ready_order, json_string(key));
    pthread_cond_signal(&q->cond);
}

void workqueue_add(struct workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    add_locked(q, key);
    pthread_mutex_unlock(&q->mu);
}

void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms)
{
    if (delay_ms == 0) {
        workqueue_add(q, key);
        return;
    }
    uint64_t when = monotonic_ns() + delay_ms * 1000000ull;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < q->ndelayed; i++) {
        if (strcmp(q->delayed[i].key, key) == 0) {
            if (when < q->delayed[i].when_ns)
                q->delayed[i].when_ns = when; /* keep the earliest */
            pthread_mutex_unlock(&q->mu);
            return;
        }
    }
    q->delayed = xrealloc(q->delayed, (q->ndelayed + 1) * sizeof(*q->delayed));
    q->delayed[q->ndelayed++] = (struct delayed){xstrdup(key), when};
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

uint64_t workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    json_int_t n = json_integer_value(json_object_get(q->failures, key));
    json_object_set_new(q->failures, key, json_integer(n + 1));
    pthread_mutex_unlock(&q->mu);
    uint64_t delay = q->base_ms;
    for (json_int_t i = 0; i < n && delay < q->max_ms; i++)
        delay *= 2;
    if (delay > q->max_ms)
        delay = q->max_ms;
    workqueue_add_after(q, key, delay);
    return delay;
}

void workqueue_forget(struct workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    json_object_del(q->failures, key);
    pthread_mutex_unlock(&q->mu);
}

unsigned workqueue_failures(struct workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    unsigned n = (unsigned)json_integer_value(json_object_get(q->failures, key));
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Move due delayed keys to the ready queue; return the earliest pending deadline (0: none). */
static uint64_t promote_due(struct workqueue *q)
{
    uint64_t now = monotonic_ns(), next = 0;
    for (size_t i = 0; i < q->ndelayed;) {
        if (q->delayed[i].when_ns <= now) {
            add_locked(q, q->delayed[i].key);
            free(q->delayed[i].key);
            q->delayed[i] = q->delayed[--q->ndelayed];
            continue;
        }
        if (next == 0 || q->delayed[i].when_ns < next)
            next = q->delayed[i].when_ns;
        i++;
    }
    return next;
}

static bool wait_locked(struct workqueue *q, uint64_t next_ns, uint64_t end_ns)
{
    uint64_t until = next_ns;
    if (end_ns != UINT64_MAX && (until == 0 || end_ns < until))
        until = end_ns;
    if (until == 0) {
        pthread_cond_wait(&q->cond, &q->mu);
        return true;
    }
    uint64_t now = monotonic_ns();
    if (until <= now)
        return end_ns == UINT64_MAX || now < end_ns;
    struct timespec dl = deadline_after_ms((until - now + 999999) / 1000000);
    pthread_cond_timedwait(&q->cond, &q->mu, &dl);
    return end_ns == UINT64_MAX || monotonic_ns() < end_ns;
}

char *workqueue_get(struct workqueue *q, uint64_t timeout_ms)
{
    uint64_t end = timeout_ms == UINT64_MAX ? UINT64_MAX : monotonic_ns() + timeout_ms * 1000000ull;
    char *key = NULL;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->shutdown)
            break;
        uint64_t next = promote_due(q);
        if (json_array_size(q->ready_order) > 0) {
            key = xstrdup(json_string_value(json_array_get(q->ready_order, 0)));
            json_array_remove(q->ready_order, 0);
            json_object_del(q->queued, key);
            json_object_set_new(q->processing, key, json_true());
            break;
        }
        if (!wait_locked(q, next, end)) {
            promote_due(q);
            if (json_array_size(q->ready_order) == 0)
                break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return key;
}

void workqueue_done(struct workqueue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    json_object_del(q->processing, key);
    if (json_object_get(q->dirty, key)) {
        json_object_del(q->dirty, key);
        add_locked(q, key);
    }
    pthread_mutex_unlock(&q->mu);
}

void workqueue_shutdown(struct workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutdown = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->mu);
}

bool workqueue_is_shutdown(struct workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    bool v = q->shutdown;
    pthread_mutex_unlock(&q->mu);
    return v;
}

size_t workqueue_len(struct workqueue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = json_array_size(q->ready_order);
    pthread_mutex_unlock(&q->mu);
    return n;
}

int workqueue_settle(struct workqueue *q, const char *key, int r, rerr *e)
{
    if (r < 0) {
        uint64_t d = workqueue_add_rate_limited(q, key);
        log_warn("%s (retry in %llu ms)", rerr_msg(e), (unsigned long long)d);
    } else {
        workqueue_forget(q, key);
    }
    rerr_free(e);
    workqueue_done(q, key);
    return r;
}
