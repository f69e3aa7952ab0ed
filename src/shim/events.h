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

/* address: containerd's ttrpc socket path (unix:// prefix accepted); ns: containerd namespace. */
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
