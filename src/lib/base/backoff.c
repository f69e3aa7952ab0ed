#include "backoff.h"
#include "util.h"

#include <stdlib.h>
#include <time.h>

void backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms)
{
    b->min_ms = min_ms ? min_ms : 1;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->cur_ms = 0;
}

uint64_t backoff_next(struct backoff *b)
{
    b->cur_ms = b->cur_ms == 0 ? b->min_ms : b->cur_ms * 2;
    if (b->cur_ms > b->max_ms)
        b->cur_ms = b->max_ms;
    uint64_t jitter = b->cur_ms / 5 ? (uint64_t)random() % (b->cur_ms / 5 + 1) : 0;
    return b->cur_ms + jitter;
}

void backoff_reset(struct backoff *b)
{
    b->cur_ms = 0;
}

void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

void stopper_init(struct stopper *s)
{
    cond_init_monotonic(&s->cond);
    pthread_mutex_init(&s->mu, NULL);
    s->stopped = false;
}

void stopper_destroy(struct stopper *s)
{
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
}

void stopper_stop(struct stopper *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopped = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

bool stopper_stopped(struct stopper *s)
{
    pthread_mutex_lock(&s->mu);
    bool v = s->stopped;
    pthread_mutex_unlock(&s->mu);
    return v;
}

struct timespec deadline_after_ms(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

bool stopper_wait(struct stopper *s, uint64_t ms)
{
    struct timespec dl = deadline_after_ms(ms);
    pthread_mutex_lock(&s->mu);
    while (!s->stopped) {
        if (pthread_cond_timedwait(&s->cond, &s->mu, &dl) != 0)
            break; /* ETIMEDOUT */
    }
    bool v = s->stopped;
    pthread_mutex_unlock(&s->mu);
    return v;
}
