#include "iocopy.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define COPY_BUF   (32 * 1024)
#define MAX_ROUNDS 16 /* per wakeup, so one busy stream cannot starve the loop */

static void finish(struct copier *c)
{
    if (c->done)
        return;
    c->done = true;
    loop_unwatch(c->loop, &c->src);
    loop_unwatch(c->loop, &c->dst);
    free(c->buf);
    c->buf = NULL;
    if (c->on_done)
        c->on_done(c, c->data);
}

/* Write what is buffered. Returns false when the destination is full. */
static bool flush_buf(struct copier *c)
{
    while (c->len > 0) {
        ssize_t w = write(c->dst.fd, c->buf + c->off, c->len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return false;
        if (w < 0) { /* reader gone for good: discard, keep draining the source */
            c->dst_broken = true;
            c->len = 0;
            break;
        }
        c->off += (size_t)w;
        c->len -= (size_t)w;
    }
    c->off = 0;
    return true;
}

static void pump(struct copier *c)
{
    for (int round = 0; round < MAX_ROUNDS && !c->done; round++) {
        if (!flush_buf(c)) {
            loop_watch(c->loop, &c->src, 0);
            loop_watch(c->loop, &c->dst, EPOLLOUT);
            return;
        }
        if (c->buf == NULL)
            c->buf = xmalloc(COPY_BUF);
        ssize_t r = read(c->src.fd, c->buf, COPY_BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            c->len = (size_t)r;
            continue;
        }
        if (r < 0 && errno == EAGAIN && !c->draining) {
            loop_watch(c->loop, &c->dst, 0);
            loop_watch(c->loop, &c->src, EPOLLIN);
            return;
        }
        finish(c); /* EOF, EIO (pty closed), or nothing left while draining */
        return;
    }
}

static void on_event(struct watch *w, uint32_t events)
{
    pump(w->data);
}

void copier_start(struct copier *c, struct loop *l, int src, int dst, copier_done_fn on_done,
                  void *data)
{
    *c = (struct copier){.loop = l, .on_done = on_done, .data = data};
    c->src = (struct watch){.fd = src, .fn = on_event, .data = c};
    c->dst = (struct watch){.fd = dst, .fn = on_event, .data = c};
    loop_watch(l, &c->src, EPOLLIN);
}

void copier_drain(struct copier *c)
{
    if (c->loop == NULL || c->done)
        return;
    c->draining = true;
    pump(c);
}

void copier_close(struct copier *c)
{
    if (c->loop == NULL)
        return;
    c->on_done = NULL;
    finish(c);
    if (c->src.fd >= 0)
        close(c->src.fd);
    if (c->dst.fd >= 0 && c->dst.fd != c->src.fd)
        close(c->dst.fd);
    c->src.fd = c->dst.fd = -1;
}

bool copier_active(const struct copier *c)
{
    return c->loop != NULL && !c->done;
}
