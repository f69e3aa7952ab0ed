/* Process plumbing shared by reaper-controller and reaper-agent. */
#ifndef REAPER_DAEMON_H
#define REAPER_DAEMON_H

#include "log.h"
#include "workqueue.h"

/* Block SIGTERM/SIGINT in this thread (and every thread started later) and ignore SIGPIPE.
 * Call first thing in main. */
void daemon_block_signals(void);
/* A detached thread waits in sigwait for SIGTERM/SIGINT and shuts q down: signals are handled
 * only there, so no work runs in a signal handler. */
void daemon_shutdown_on_signal(struct workqueue *q);

#endif
