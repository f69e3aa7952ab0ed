/* Exponential backoff with jitter, and a stoppable timed wait (condvar, never sleep()). */
#ifndef REAPER_BACKOFF_H
#define REAPER_BACKOFF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct backoff {
    uint64_t min_ms, max_ms, cur_ms;
};

void backoff_init(struct backoff *b, uint64_t min_ms, uint64_t max_ms);
/* The next delay (min, 2·min, 4·min … capped at max), with up to +20 % jitter. */
uint64_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);

/* A flag plus condition variable on CLOCK_MONOTONIC: threads wait on it with a timeout and are
 * woken at once by stopper_stop(). */
struct stopper {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopped;
};

void stopper_init(struct stopper *s);
void stopper_destroy(struct stopper *s);
void stopper_stop(struct stopper *s);
bool stopper_stopped(struct stopper *s);
/* Wait up to ms; returns true if stopped. */
bool stopper_wait(struct stopper *s, uint64_t ms);
/* Initialise a condition variable that waits on CLOCK_MONOTONIC (immune to clock steps). */
void cond_init_monotonic(pthread_cond_t *c);
/* Absolute CLOCK_MONOTONIC deadline ms from now, for pthread_cond_timedwait. */
struct timespec deadline_after_ms(uint64_t ms);

#endif
