/* The shim daemon: accept containerd's connections, reap children, dispatch Task RPCs. */
#include "cleanup.h"
#include "log.h"
#include "service.h"
#include "shim.h"
#include "timing.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

struct conn_watch {
    struct watch w;
    struct ttrpc_conn *conn;
    struct shim_service *svc;
    struct conn_watch *prev, *next; /* svc->conns: what is still open when the loop quits */
};

static void conn_free(void *p)
{
    struct conn_watch *cw = p;
    cw->svc->clients--;
    ttrpc_conn_close(cw->conn); /* drops the loop's reference; parked requests keep theirs */
    free(cw);
}

static void conn_drop(struct conn_watch *cw)
{
    if (cw->prev)
        cw->prev->next = cw->next;
    else
        cw->svc->conns = cw->next;
    if (cw->next)
        cw->next->prev = cw->prev;
    loop_unwatch(cw->svc->loop, &cw->w);
    loop_defer_free(cw->svc->loop, conn_free, cw);
}

static void on_conn(struct watch *w, uint32_t events)
{
    struct conn_watch *cw = w->data;
    int r = 0;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        r = ttrpc_conn_on_readable(cw->conn);
    if (r == 0 && (events & EPOLLOUT))
        r = ttrpc_conn_on_writable(cw->conn);
    if (r < 0) {
        conn_drop(cw);
        return;
    }
    uint32_t want = EPOLLIN | (ttrpc_conn_wants_write(cw->conn) ? EPOLLOUT : 0);
    r = loop_watch(cw->svc->loop, &cw->w, want);
    if (r < 0) {
        log_error("connection %d: epoll: %s", cw->w.fd, strerror(-r));
        conn_drop(cw);
    }
}

/* Out of fds, a pending connection cannot be accepted and the listener stays readable: the
 * loop would spin. Give up the spare fd to accept it and close it at once (the client sees
 * EOF and retries), then take the spare again. */
static void refuse_one(struct shim_service *svc, int listen_fd)
{
    if (svc->spare_fd >= 0)
        close(svc->spare_fd);
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    svc->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_warn("out of file descriptors: refused a connection");
}

static void on_accept(struct watch *w, uint32_t events)
{
    struct shim_service *svc = w->data;
    int fd;
    while ((fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        _cleanup_rerr_ rerr *e = NULL;
        if (ttrpc_check_peer(fd, &e) < 0) { /* only containerd's user may talk to us */
            log_warn("rejected a connection: %s", rerr_msg(e));
            close(fd);
            continue;
        }
        struct conn_watch *cw = xcalloc(1, sizeof(*cw));
        cw->svc = svc;
        cw->next = svc->conns;
        if (svc->conns)
            svc->conns->prev = cw;
        svc->conns = cw;
        cw->conn = ttrpc_conn_new(fd, task_rpc_dispatch, svc);
        cw->w = (struct watch){.fd = fd, .fn = on_conn, .data = cw};
        svc->clients++;
        int r = loop_watch(svc->loop, &cw->w, EPOLLIN);
        if (r < 0) {
            log_error("connection %d: epoll: %s", fd, strerror(-r));
            conn_drop(cw);
        }
    }
    if (errno == EMFILE || errno == ENFILE)
        refuse_one(svc, w->fd);
}

static void on_signal(struct watch *w, uint32_t events)
{
    struct shim_service *svc = w->data;
    struct signalfd_siginfo si;
    bool reap = false;
    struct timing_mark t0 = timing_start();
    while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            reap = true;
        } else if (tasks_empty(&svc->tasks)) {
            svc->shutdown_requested = true; /* nothing to protect: leave */
        } else {
            /* Workloads outlive their shim's signals; containerd ends us with Shutdown. */
            log_info("signal %u ignored while tasks run", si.ssi_signo);
        }
    }
    if (reap)
        tasks_reap(&svc->tasks);
    if (reap)
        timing_done(t0, "SIGCHLD");
    service_maybe_quit(svc);
}

void service_maybe_quit(struct shim_service *s)
{
    if (s->shutdown_requested && tasks_empty(&s->tasks))
        loop_quit(s->loop);
}

static _must_check_ int open_signals(rerr **err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return rerr_set(err, errno, "sigprocmask");
    signal(SIGPIPE, SIG_IGN); /* a vanished FIFO reader must not kill the shim */
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? rerr_set(err, errno, "signalfd") : fd;
}

/* containerd's own ttrpc socket refuses connections: it is down (or restarting). */
static bool containerd_down(void)
{
    const char *addr = getenv("TTRPC_ADDRESS");
    if (addr == NULL || *addr == '\0')
        return false; /* not started by containerd (tests): nobody to wait for */
    if (strncmp(addr, "unix://", 7) == 0)
        addr += 7;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(addr) >= sizeof(sa.sun_path))
        return false;
    strcpy(sa.sun_path, addr);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    /* A unix connect answers at once: refused or missing means no listener. */
    return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
           (errno == ECONNREFUSED || errno == ENOENT);
}

/* containerd keeps a connection to each of its shims while it runs; with none left, or its
 * socket refusing, it is away and will re-attach to our tasks' IO when it is back. */
static bool containerd_away(void *data)
{
    const struct shim_service *svc = data;
    if (getenv("TTRPC_ADDRESS") == NULL)
        return false;
    return svc->clients == 0 || containerd_down();
}

static void setup_logging(const struct shim_opts *o, const struct reaper_config *cfg)
{
    enum log_level lvl = o->debug ? LOG_LVL_DEBUG : LOG_LVL_INFO;
    if (cfg->shim_log && log_init("reaper-shim", cfg->shim_log, false, lvl) == 0)
        return;
    log_init_stderr("reaper-shim", lvl); /* replaced by the bundle's log FIFO below */
    /* containerd copies the bundle's log FIFO into its own log */
    int fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
        log_set_fd(fd);
}

static void start_events(struct shim_service *svc, const struct shim_opts *o)
{
    const char *addr = getenv("TTRPC_ADDRESS");
    if (addr == NULL || *addr == '\0')
        return;
    rerr *err = NULL;
    if (events_start(addr, o->ns, &svc->events, &err) < 0)
        log_error("events: %s", rerr_msg(err));
    rerr_free(err);
}

/* A pod's shim sleeps most of its life, and a node runs hundreds: its private memory is what a
 * pod costs. One malloc arena (the publisher thread allocates little; its own arena is 8 KiB
 * resident per shim), and what `start` or a create used and freed handed back: free heap
 * pages, and the stack below the loop (a create runs 10-20 KiB deep). */
#define DEAD_STACK_MAX (128u << 10)
void shim_release_memory(void)
{
    malloc_trim(0);
    release_dead_stack(DEAD_STACK_MAX);
}

/* Released this long after the last RPC that allocates much. A pod's RPCs come in a burst
 * (Create, then Start right away; Wait, Delete): trimming between them put the trim, and the
 * page faults that follow it, on containerd's path. */
#define RELEASE_IDLE_NS 300000000L

static void on_release_timer(struct watch *w, uint32_t events)
{
    uint64_t expirations;
    IGNORE_RESULT(read(w->fd, &expirations, sizeof(expirations)));
    shim_release_memory();
}

void shim_release_memory_later(struct shim_service *s)
{
    struct itimerspec at = {.it_value = {.tv_nsec = RELEASE_IDLE_NS}};
    if (s->release.fd < 0 || timerfd_settime(s->release.fd, 0, &at, NULL) < 0)
        shim_release_memory(); /* no timer: release now rather than never */
}

static void watch_release_timer(struct shim_service *s)
{
    s->release = (struct watch){.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK),
                                .fn = on_release_timer};
    if (s->release.fd >= 0 && loop_watch(s->loop, &s->release, EPOLLIN) < 0) {
        close(s->release.fd);
        s->release.fd = -1;
    }
}

int shim_serve(const struct shim_opts *o, const struct reaper_config *cfg, int listen_fd,
               rerr **err)
{
    mallopt(M_ARENA_MAX, 1);
    shim_release_memory();
    setup_logging(o, cfg);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return rerr_set(err, errno, "PR_SET_CHILD_SUBREAPER");
    struct shim_service svc = {.opts = o, .spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)};
    int r = loop_new(&svc.loop, err);
    if (r < 0)
        return r;
    svc.tasks = (struct shim_tasks){.loop = svc.loop,
                                    .cfg = cfg,
                                    .hooks = {.proc_finished = task_rpc_proc_finished,
                                              .containerd_away = containerd_away,
                                              .data = &svc}};
    _cleanup_close_ int sigfd = open_signals(err);
    if (sigfd < 0)
        return sigfd;
    struct watch lw = {.fd = listen_fd, .fn = on_accept, .data = &svc};
    struct watch sw = {.fd = sigfd, .fn = on_signal, .data = &svc};
    r = loop_watch(svc.loop, &lw, EPOLLIN);
    if (r == 0)
        r = loop_watch(svc.loop, &sw, EPOLLIN);
    if (r < 0) {
        loop_free(svc.loop);
        return rerr_set(err, -r, "watch the listener and signals");
    }
    watch_release_timer(&svc);
    start_events(&svc, o);
    log_info("serving (pid %d)", (int)getpid());
    r = loop_run(svc.loop, err);
    if (svc.events)
        events_stop(svc.events);
    while (svc.conns) /* containerd may still be connected: close, and free on loop_free */
        conn_drop(svc.conns);
    loop_free(svc.loop);
    if (svc.spare_fd >= 0)
        close(svc.spare_fd);
    if (svc.release.fd >= 0)
        close(svc.release.fd);
    log_info("exiting");
    return r;
}
