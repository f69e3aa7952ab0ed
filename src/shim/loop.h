/* The shim's single-threaded epoll loop: every fd (listener, connections, signalfd, IO) is a
 * watch with a callback; nothing blocks and nothing polls on a timer. */
#ifndef REAPER_SHIM_LOOP_H
#define REAPER_SHIM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct loop;
struct watch;
typedef void (*watch_fn)(struct watch *w, uint32_t events);

struct watch {
    int fd;
    uint32_t events; /* current EPOLL* interest, 0 when not registered */
    watch_fn fn;
    void *data;
};

_must_check_ int loop_new(struct loop **out, rerr **err);
void loop_free(struct loop *l);
/* Set the interest set of w (0 removes it from epoll). */
_must_check_ int loop_watch(struct loop *l, struct watch *w, uint32_t events);
void loop_unwatch(struct loop *l, struct watch *w);
/* Run until loop_quit. Returns 0, or <0 on an epoll failure. */
_must_check_ int loop_run(struct loop *l, rerr **err);
void loop_quit(struct loop *l);
/* Free ptr with fn after the current batch of events: a callback may tear down other watches
 * whose events are still pending in the batch (those are skipped: their interest is 0). */
void loop_defer_free(struct loop *l, void (*fn)(void *), void *ptr);

#endif
