/*
 * ttrpc server connection driven by a single-threaded epoll loop: non-blocking reads into a
 * buffer, every complete frame dispatched at once, replies written now or queued for EPOLLOUT.
 * Handlers may answer later (Wait), so replies go out in any order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "ttrpc.h"
#include "util.h"

/* Most requests and replies are well under a page; a bigger frame grows the buffer to fit. */
#define READ_CHUNK 4096u

struct bytes {
    uint8_t *data;
    size_t len, cap;
};

struct ttrpc_conn {
    int fd;
    int refs;
    bool closed;
    int broken; /* errno of a failed send: the loop drops the connection at its next event */
    ttrpc_handler_fn handler;
    void *user;
    uint32_t last_stream;
    struct bytes in;
    uint64_t discard; /* bytes of an oversized frame still to skip */
    struct bytes out;
    size_t out_off; /* bytes of out already written */
};

/* An idle connection holds no buffer: a pod's shim keeps one connection per container open
 * for its whole life, and their buffers would be resident memory of every pod. */
static void bytes_release(struct bytes *b)
{
    free(b->data);
    *b = (struct bytes){0};
}

static void bytes_reserve(struct bytes *b, size_t need)
{
    if (b->cap >= need)
        return;
    size_t cap = b->cap ? b->cap : READ_CHUNK;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

int ttrpc_check_peer(int fd, rerr **err)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return rerr_set(err, errno, "SO_PEERCRED");
    if (cred.uid != geteuid() || cred.gid != getegid())
        return rerr_setx(err, EPERM, "ttrpc peer pid %d uid %u gid %u is not our user", cred.pid,
                         cred.uid, cred.gid);
    return 0;
}

struct ttrpc_conn *ttrpc_conn_new(int fd, ttrpc_handler_fn handler, void *user)
{
    struct ttrpc_conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->refs = 1;
    c->handler = handler;
    c->user = user;
    return c;
}

int ttrpc_conn_fd(const struct ttrpc_conn *c)
{
    return c->fd;
}

bool ttrpc_conn_closed(const struct ttrpc_conn *c)
{
    return c->closed;
}

bool ttrpc_conn_wants_write(const struct ttrpc_conn *c)
{
    return !c->closed && c->out_off < c->out.len;
}

struct ttrpc_conn *ttrpc_conn_ref(struct ttrpc_conn *c)
{
    c->refs++;
    return c;
}

void ttrpc_conn_unref(struct ttrpc_conn *c)
{
    if (!c || --c->refs > 0)
        return;
    if (!c->closed)
        close(c->fd);
    free(c->in.data);
    free(c->out.data);
    free(c);
}

void ttrpc_conn_close(struct ttrpc_conn *c)
{
    if (!c->closed) {
        c->closed = true;
        close(c->fd);
        c->fd = -1;
    }
    ttrpc_conn_unref(c);
}

/* Write queued bytes until done or the socket is full. <0: the connection is broken. */
static _must_check_ int flush_out(struct ttrpc_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = 0;
    bytes_release(&c->out);
    return 0;
}

int ttrpc_conn_on_writable(struct ttrpc_conn *c)
{
    if (c->closed)
        return -EPIPE;
    if (c->broken)
        return -c->broken;
    return flush_out(c);
}

void ttrpc_reply(struct ttrpc_conn *c, uint32_t stream_id, enum ttrpc_code code, const char *msg,
                 const uint8_t *payload, size_t len)
{
    if (c->closed || c->broken)
        return;
    size_t flen;
    uint8_t *frame = ttrpc_response_frame(stream_id, code, msg, payload, len, &flen);
    if (c->out_off > 0 && c->out_off == c->out.len)
        c->out_off = c->out.len = 0;
    bytes_reserve(&c->out, c->out.len + flen);
    memcpy(c->out.data + c->out.len, frame, flen);
    c->out.len += flen;
    free(frame);
    int r = flush_out(c);
    if (r < 0) {
        log_debug("ttrpc: reply on stream %u: %s", stream_id, strerror(-r));
        c->broken = -r;
    }
}

/* Stream ids must be odd and rising (ttrpc server.go); a bad one gets INVALID_ARGUMENT. */
static const char *check_stream(struct ttrpc_conn *c, uint32_t sid)
{
    if (sid % 2 != 1)
        return "StreamID must be odd for client initiated streams";
    if (sid <= c->last_stream)
        return "StreamID cannot be re-used and must increment";
    c->last_stream = sid;
    return NULL;
}

static void dispatch_request(struct ttrpc_conn *c, const struct ttrpc_header *h,
                             const uint8_t *data)
{
    struct ttrpc_request req;
    void *msg = ttrpc_request_decode(h->stream_id, data, h->length, &req);
    if (!msg) {
        ttrpc_reply(c, h->stream_id, TTRPC_INVALID_ARGUMENT, "invalid request payload", NULL, 0);
        return;
    }
    c->handler(c, &req, c->user);
    ttrpc_request_free(msg);
}

static _must_check_ int on_frame(const struct ttrpc_header *h, const uint8_t *data, void *user)
{
    struct ttrpc_conn *c = user;
    if (c->closed)
        return -EPIPE; /* the handler closed us: stop parsing */
    if (!data) {
        check_stream(c, h->stream_id);
        ttrpc_reply(c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED, "message length exceeds maximum",
                    NULL, 0);
        return 0;
    }
    const char *bad = check_stream(c, h->stream_id);
    if (!bad && h->type != TTRPC_TYPE_REQUEST)
        bad = "only unary Request frames are supported";
    if (bad) {
        ttrpc_reply(c, h->stream_id, TTRPC_INVALID_ARGUMENT, bad, NULL, 0);
        return 0;
    }
    dispatch_request(c, h, data);
    return 0;
}

/* Parse what is buffered and keep the incomplete tail. */
static _must_check_ int consume_input(struct ttrpc_conn *c)
{
    long used = ttrpc_parse_frames(c->in.data, c->in.len, &c->discard, on_frame, c);
    if (used < 0)
        return (int)used;
    memmove(c->in.data, c->in.data + used, c->in.len - (size_t)used);
    c->in.len -= (size_t)used;
    if (c->in.len >= TTRPC_HEADER_LEN) { /* make room for the whole pending frame */
        struct ttrpc_header h;
        ttrpc_header_decode(c->in.data, &h);
        bytes_reserve(&c->in, TTRPC_HEADER_LEN + (size_t)h.length);
    }
    return 0;
}

static _must_check_ int read_available(struct ttrpc_conn *c)
{
    for (;;) {
        bytes_reserve(&c->in, c->in.len + 1);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
        if (n == 0)
            return -EPIPE;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->in.len == 0)
                bytes_release(&c->in);
            return 0;
        }
        if (n < 0)
            return -errno;
        c->in.len += (size_t)n;
        int r = consume_input(c);
        if (r < 0 || c->closed)
            return r < 0 ? r : -EPIPE;
    }
}

int ttrpc_conn_on_readable(struct ttrpc_conn *c)
{
    if (c->closed)
        return -EPIPE;
    if (c->broken)
        return -c->broken;
    ttrpc_conn_ref(c); /* a handler may close the connection under us */
    int r = read_available(c);
    ttrpc_conn_unref(c);
    return r;
}
