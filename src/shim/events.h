/*
 * Forwarding task events to containerd (Events/Forward on TTRPC_ADDRESS), from one publisher
 * thread fed by a FIFO queue: events leave in the order they were queued (TaskStart before
 * TaskExit), transient failures are retried with reconnects, and the event loop never blocks.
 */
#ifndef REAPER_EVENTS_H
#define REAPER_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct events;

struct events_config {
    const char *address; /* containerd's ttrpc socket path (unix:// prefix accepted) */
    const char *ns;      /* containerd namespace */
    /* Retry schedule of one event: attempts in all (the first try included, at most
     * EVENTS_MAX_ATTEMPTS) and the first backoff, doubled after each failure. 0 takes the
     * default, the Go shim's: 6 attempts, 50 ms (1.55 s of backoff before an event is dropped). */
    unsigned attempts;
    unsigned backoff_first_ms;
};

#define EVENTS_MAX_ATTEMPTS 16

_must_check_ int events_start_config(const struct events_config *cfg, struct events **out,
                                     rerr **err);
/* events_start_config with the default retry schedule. */
_must_check_ int events_start(const char *address, const char *ns, struct events **out, rerr **err);
/*
 * Queue one event. topic e.g. "/tasks/exit"; type_url e.g. "containerd.events.TaskExit"; value
 * is the serialized event message (copied). Never blocks on the network.
 */
void events_publish(struct events *ev, const char *topic, const char *type_url,
                    const uint8_t *value, size_t len);
/* Wait until the queue has been sent (or given up on), then stop the thread. */
void events_stop(struct events *ev);

#endif
