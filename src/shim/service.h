/* The daemon's state: loop, tasks, events publisher, and the Task RPC dispatcher. */
#ifndef REAPER_SHIM_SERVICE_H
#define REAPER_SHIM_SERVICE_H

#include <stdbool.h>

#include "events.h"
#include "loop.h"
#include "shim.h"
#include "task.h"
#include "ttrpc.h"

struct shim_service {
    const struct shim_opts *opts;
    struct loop *loop;
    struct shim_tasks tasks;
    struct events *events;    /* NULL when TTRPC_ADDRESS is unset (tests) */
    struct conn_watch *conns; /* open connections (serve.c) */
    bool shutdown_requested;
    unsigned clients;     /* open ttrpc connections: containerd holds one while it runs */
    int spare_fd;         /* given up to refuse a connection when out of fds (serve.c) */
    struct watch release; /* one-shot timerfd: memory goes back once the shim is quiet */
};

/* Handle one Task request (task_rpc.c). */
void task_rpc_dispatch(struct ttrpc_conn *c, const struct ttrpc_request *req, void *user);
/* Hook: a process finished (answer parked Wait/Delete, publish TaskExit). */
void task_rpc_proc_finished(struct proc *p, void *user);
/* Give freed heap pages and the dead stack back to the kernel, now. */
void shim_release_memory(void);
/* The same, once no RPC has come for a short while (after the RPCs that parse specs). */
void shim_release_memory_later(struct shim_service *s);
/* Quit once no task is left and containerd asked us to shut down. */
void service_maybe_quit(struct shim_service *s);

#endif
