/* Signals and flags common to the cluster daemons (reaper-controller, reaper-agent). */
#include <pthread.h>
#include <signal.h>

#include "daemon.h"
#include "util.h"

static void shutdown_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

void daemon_block_signals(void)
{
    sigset_t set;
    shutdown_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void *signal_thread(void *arg)
{
    sigset_t set;
    shutdown_signals(&set);
    int sig;
    if (sigwait(&set, &sig) == 0)
        log_info("signal %d: shutting down", sig);
    workqueue_shutdown(arg);
    return NULL;
}

void daemon_shutdown_on_signal(struct workqueue *q)
{
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, q) == 0)
        pthread_detach(t);
}
