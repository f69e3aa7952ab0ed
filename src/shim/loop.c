#include "loop.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct deferred {
    void (*fn)(void *);
    void *ptr;
};

struct loop {
    int epfd;
    bool quit;
    struct deferred *defer;
    size_t n_defer, cap_defer;
};

static void run_deferred(struct loop *l)
{
    /* fns may defer more; index-based walk picks those up too */
    for (size_t i = 0; i < l->n_defer; i++)
        l->defer[i].fn(l->defer[i].ptr);
    l->n_defer = 0;
}

int loop_new(struct loop **out, rerr **err)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "epoll_create1");
    struct loop *l = xcalloc(1, sizeof(*l));
    l->epfd = fd;
    *out = l;
    return 0;
}

void loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    run_deferred(l);
    close(l->epfd);
    free(l->defer);
    free(l);
}

int loop_watch(struct loop *l, struct watch *w, uint32_t events)
{
    if (events == w->events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op = w->events == 0 ? EPOLL_CTL_ADD : (events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    if (epoll_ctl(l->epfd, op, w->fd, &ev) < 0)
        return -errno;
    w->events = events;
    return 0;
}

void loop_unwatch(struct loop *l, struct watch *w)
{
    if (w->events != 0 && w->fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->events = 0;
}

void loop_defer_free(struct loop *l, void (*fn)(void *), void *ptr)
{
    if (l->n_defer == l->cap_defer) {
        l->cap_defer = l->cap_defer ? l->cap_defer * 2 : 16;
        l->defer = xrealloc(l->defer, l->cap_defer * sizeof(*l->defer));
    }
    l->defer[l->n_defer++] = (struct deferred){fn, ptr};
}

int loop_run(struct loop *l, rerr **err)
{
    struct epoll_event evs[32];
    while (!l->quit) {
        int n = epoll_wait(l->epfd, evs, (int)ARRAY_SIZE(evs), -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rerr_set(err, errno, "epoll_wait");
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            if (w->events != 0)
                w->fn(w, evs[i].events);
        }
        run_deferred(l);
    }
    return 0;
}

void loop_quit(struct loop *l)
{
    l->quit = true;
}
