/* Waiting for a workload we are the parent of, forwarding our signals to it (run, exec). */
#include "cli.h"
#include "proc_tree.h"
#include "process.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

int cli_signals_block(rerr **err)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        sigaddset(&set, forwarded[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return rerr_set(err, errno, "block signals");
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "signalfd");
    return fd;
}

static _must_check_ int forward_one(int sigfd, pid_t pid, int pidfd, rerr **err)
{
    struct signalfd_siginfo si;
    ssize_t n = read(sigfd, &si, sizeof(si));
    if (n != (ssize_t)sizeof(si))
        return n < 0 && errno == EINTR ? 0 : rerr_set(err, errno, "read signalfd");
    /* pidfd_send_signal cannot hit a recycled pid. */
    if (syscall(SYS_pidfd_send_signal, pidfd, si.ssi_signo, NULL, 0) < 0 && errno != ESRCH)
        return rerr_set(err, errno, "forward signal %u to %d", si.ssi_signo, (int)pid);
    return 0;
}

int cli_wait(pid_t pid, int pidfd, int sigfd, int *status, rerr **err)
{
    if (pidfd < 0)
        return rerr_setx(err, ENOSYS, "pidfd_open is not available");
    struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return rerr_set(err, errno, "poll");
        }
        if (p[0].revents)
            break;
        int r = p[1].revents ? forward_one(sigfd, pid, pidfd, err) : 0;
        if (r < 0)
            return r;
    }
    int ws;
    pid_t w;
    do
        w = waitpid(pid, &ws, 0);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return rerr_set(err, errno, "wait for pid %d", (int)pid);
    *status = exit_status_from_wait(ws);
    return 0;
}
