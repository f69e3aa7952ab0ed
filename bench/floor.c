/* What this machine's kernel charges for the steps a pod's lifecycle cannot avoid, measured in
 * the same run as the benchmark so its rows can be read against them:
 *   fork     fork + _exit + waitpid of a small static process (ms, median)
 *   exec     the same with an exec of argv[1] (the shim binary: its `--version`)
 *   exit     a child's exit -> its parent wakes on a pidfd -> the parent answers a waiting
 *            client over a unix socket -> the client wakes: the chain every exit -> Wait
 *            notification goes through, with nothing else in it
 * Prints one JSON object. Built static by bench/run.py. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 101

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, N, sizeof(*v), cmp);
    return v[N / 2];
}

static double fork_ms(const char *exe)
{
    double v[N];
    for (int i = 0; i < N; i++) {
        long long t0 = now_ns();
        pid_t p = fork();
        if (p == 0) {
            if (exe && dup2(open("/dev/null", O_WRONLY | O_CLOEXEC), 1) == 1)
                execl(exe, exe, "--version", (char *)NULL);
            _exit(0);
        }
        waitpid(p, NULL, 0);
        v[i] = (double)(now_ns() - t0) / 1e6;
    }
    return median(v);
}

/* One exit -> waiter -> client chain; returns ms from the child's last act to the client's
 * wake-up. stamp is shared memory the child writes its exit time to. */
static double exit_chain_once(volatile long long *stamp)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        exit(1);
    pid_t client = fork();
    if (client == 0) { /* waits for the answer like a Wait caller, then reports when it woke */
        char b;
        if (read(sv[1], &b, 1) != 1)
            _exit(1);
        long long woke = now_ns();
        _exit(write(sv[1], &woke, sizeof(woke)) == sizeof(woke) ? 0 : 1);
    }
    pid_t child = fork();
    if (child == 0) {
        usleep(20000); /* the waiter is parked long before the exit, as a shim is */
        *stamp = now_ns();
        _exit(0);
    }
    int pfd = (int)syscall(SYS_pidfd_open, child, 0);
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    poll(&p, 1, -1);
    waitpid(child, NULL, 0);
    close(pfd);
    long long woke = 0;
    if (write(sv[0], "x", 1) != 1 || read(sv[0], &woke, sizeof(woke)) != sizeof(woke))
        exit(1);
    waitpid(client, NULL, 0);
    close(sv[0]);
    close(sv[1]);
    return (double)(woke - *stamp) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: floor EXECUTABLE\n");
        return 2;
    }
    volatile long long *stamp =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stamp == MAP_FAILED)
        return 1;
    double chain[N];
    for (int i = 0; i < N; i++)
        chain[i] = exit_chain_once(stamp);
    printf("{\"fork_ms\": %.3f, \"exec_ms\": %.3f, \"exit_chain_ms\": %.3f}\n", fork_ms(NULL),
           fork_ms(argv[1]), median(chain));
    return 0;
}
