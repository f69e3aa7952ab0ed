/* Work queue of string keys, like client-go's rate-limited queue:
 * - a key queued twice is processed once (dedup);
 * - a key is never handed to two workers at once: re-adding it while it is processed marks it
 *   dirty and it is queued again when the worker calls workqueue_done();
 * - add_rate_limited() delays a key by base·2^failures (capped); forget() resets the count. */
#ifndef REAPER_WORKQUEUE_H
#define REAPER_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct workqueue;

struct workqueue *workqueue_new(uint64_t base_delay_ms, uint64_t max_delay_ms);
void workqueue_free(struct workqueue *q);
void workqueue_add(struct workqueue *q, const char *key);
void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ms);
/* Returns the delay used. */
uint64_t workqueue_add_rate_limited(struct workqueue *q, const char *key);
void workqueue_forget(struct workqueue *q, const char *key);
unsigned workqueue_failures(struct workqueue *q, const char *key);
/* Block until a key is ready (caller frees it and calls workqueue_done), up to timeout_ms
 * (UINT64_MAX: forever). NULL on timeout or after shutdown. */
char *workqueue_get(struct workqueue *q, uint64_t timeout_ms);
void workqueue_done(struct workqueue *q, const char *key);
/* After a worker handled key with result r (error e, consumed): on failure requeue it rate-limited
 * and log why, else forget its failures; then workqueue_done. Returns r. */
_must_check_ int workqueue_settle(struct workqueue *q, const char *key, int r, rerr *e);
/* Wake every waiter; get() returns NULL from now on. */
void workqueue_shutdown(struct workqueue *q);
bool workqueue_is_shutdown(struct workqueue *q);
size_t workqueue_len(struct workqueue *q); /* ready keys */

#endif
