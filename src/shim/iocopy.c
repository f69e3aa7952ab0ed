#include "iocopy.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
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
    if (c->fifo_path >= 0)
        close(c->fifo_path);
    c->fifo_path = -1;
    if (c->on_done)
        c->on_done(c, c->data);
}

/* Move interest between the ends. epoll_ctl fails only on a bad fd or out of memory; the copy
 * could never progress then, so it ends (logged) rather than hang the exit report. */
static void want(struct copier *c, uint32_t src_events, uint32_t dst_events)
{
    int r = loop_watch(c->loop, &c->src, src_events);
    if (r == 0)
        r = loop_watch(c->loop, &c->dst, dst_events);
    if (r < 0) {
        log_error("io copy %d -> %d: epoll: %s", c->src.fd, c->dst.fd, strerror(-r));
        finish(c);
    }
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

static bool fifo_empty(int fd)
{
    int unread = 0;
    return ioctl(fd, FIONREAD, &unread) < 0 || unread == 0;
}

/* Reopen the FIFO through its O_PATH handle with flags, replacing our end. The new end is
 * opened before the old one is closed: a FIFO nobody has open drops its unread bytes. */
static int reopen_fifo(struct copier *c, int flags)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", c->fifo_path);
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    loop_unwatch(c->loop, &c->src);
    loop_unwatch(c->loop, &c->dst);
    close(c->dst.fd);
    c->dst.fd = fd;
    return 0;
}

/* Nobody reads the FIFO any more and it still holds bytes. If a reader comes back (containerd
 * restarting re-attaches to tasks it finds), keep a read end of our own so the bytes survive,
 * and finish once the new reader has emptied it (on a one-page pipe EPOLLOUT means empty). */
static void no_reader(struct copier *c)
{
    if (c->reader_returns == NULL || !c->reader_returns(c->data) || reopen_fifo(c, O_RDWR) < 0) {
        finish(c);
        return;
    }
    c->holding = true;
    want(c, 0, EPOLLOUT);
}

/*
 * The source is done but the FIFO may still hold unread bytes. Our read-write fd counts as a
 * reader, so swap it for a write-only one (through the O_PATH handle): then EPOLLERR tells us
 * no other reader is there (or the last one left), and on a one-page pipe EPOLLOUT means
 * "empty".
 */
static void linger(struct copier *c)
{
    if (fifo_empty(c->dst.fd)) { /* the usual case: the reader kept up, no reopen needed */
        finish(c);
        return;
    }
    c->lingering = true;
    if (reopen_fifo(c, O_WRONLY) < 0)
        finish(c);
    else
        want(c, 0, EPOLLOUT);
}

static void source_done(struct copier *c)
{
    if (c->fifo_path >= 0 && !c->dst_broken)
        linger(c);
    else
        finish(c);
}

static void pump(struct copier *c)
{
    for (int round = 0; round < MAX_ROUNDS && !c->done; round++) {
        if (!flush_buf(c)) {
            want(c, 0, EPOLLOUT);
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
            /* Idle and empty: the buffer goes back, so the shim of a quiet pod holds none
             * (malloc_trim cannot return the pages of a block still allocated). */
            free(c->buf);
            c->buf = NULL;
            want(c, EPOLLIN, 0);
            return;
        }
        source_done(c); /* EOF, EIO (pty closed), or nothing left while draining */
        return;
    }
}

static void on_event(struct watch *w, uint32_t events)
{
    struct copier *c = w->data;
    if (!c->lingering)
        pump(c);
    else if (!c->holding && (events & (EPOLLERR | EPOLLHUP)))
        no_reader(c); /* the reader left with bytes unread */
    else if (fifo_empty(c->dst.fd)) {
        if (c->holding)
            log_debug("io copy %d: held output read by a new reader", c->dst.fd);
        finish(c);
    }
}

int copier_start(struct copier *c, struct loop *l, int src, int dst, copier_done_fn on_done,
                 void *data)
{
    *c = (struct copier){.loop = l, .on_done = on_done, .data = data, .fifo_path = -1};
    c->src = (struct watch){.fd = src, .fn = on_event, .data = c};
    c->dst = (struct watch){.fd = dst, .fn = on_event, .data = c};
    int r = loop_watch(l, &c->src, EPOLLIN);
    if (r < 0) { /* never started: close the fds, and on_done will not fire */
        c->on_done = NULL;
        copier_close(c);
    }
    return r;
}

void copier_linger_on_fifo(struct copier *c, bool (*reader_returns)(void *data))
{
    c->reader_returns = reader_returns;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", c->dst.fd);
    /* On a one-slot pipe "writable" means "empty": the event lingering waits for. */
    if (fcntl(c->dst.fd, F_SETPIPE_SZ, 4096) < 0)
        return;
    c->fifo_path = open(path, O_PATH | O_CLOEXEC);
}

void copier_prefill(struct copier *c, char *data, size_t len)
{
    if (c->loop == NULL || c->done || len == 0) {
        free(data);
        return;
    }
    size_t total = len + c->len;
    char *buf =
        xmalloc(total > COPY_BUF ? total : COPY_BUF); /* reads reuse it: COPY_BUF at least */
    memcpy(buf, data, len);
    if (c->len > 0)
        memcpy(buf + len, c->buf + c->off, c->len);
    free(data);
    free(c->buf);
    c->buf = buf;
    c->off = 0;
    c->len = total;
    pump(c);
}

void copier_drain(struct copier *c)
{
    if (c->loop == NULL || c->done || c->lingering) /* lingering: the source is done already */
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
