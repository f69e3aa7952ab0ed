/*
 * Blocking ttrpc client for unary calls (events Forward). Deadlines are enforced with poll() on
 * the socket; after a timeout or I/O error the client is unusable and the caller reconnects.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"
#include "util.h"

struct ttrpc_client {
    int fd;
    uint32_t next_stream;
    bool broken;
};

int ttrpc_client_connect(const char *path, struct ttrpc_client **out, rerr **err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return rerr_setx(err, ENAMETOOLONG, "connect %s: socket path too long", path);
    strcpy(sa.sun_path, path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rerr_set(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return rerr_set(err, errno, "connect %s", path);
    struct ttrpc_client *cl = xcalloc(1, sizeof(*cl));
    cl->fd = steal_fd(fd);
    cl->next_stream = 1;
    *out = cl;
    return 0;
}

void ttrpc_client_close(struct ttrpc_client *cl)
{
    if (!cl)
        return;
    close(cl->fd);
    free(cl);
}

/* Wait for events on fd until deadline (monotonic ns, 0 = none). 0, -ETIMEDOUT or -errno. */
static _must_check_ int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline) {
            uint64_t now = monotonic_ns();
            if (now >= deadline)
                return -ETIMEDOUT;
            ms = (int)((deadline - now + 999999) / 1000000);
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static _must_check_ int send_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline)
{
    while (len > 0) {
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

/* Read exactly len bytes (buf NULL: discard them). */
static _must_check_ int recv_all(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
    uint8_t sink[4096];
    while (len > 0) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r < 0)
            return r;
        size_t want = buf ? len : (len < sizeof(sink) ? len : sizeof(sink));
        ssize_t n = recv(fd, buf ? buf : sink, want, MSG_DONTWAIT);
        if (n == 0)
            return -ECONNRESET;
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return -errno;
        if (n > 0) {
            if (buf)
                buf += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

/* Read frames until the Response for stream sid; *body is malloc'd. */
static _must_check_ int read_response(struct ttrpc_client *cl, uint32_t sid, uint64_t deadline,
                                      uint8_t **body, size_t *len)
{
    for (;;) {
        uint8_t hb[TTRPC_HEADER_LEN];
        struct ttrpc_header h;
        int r = recv_all(cl->fd, hb, sizeof(hb), deadline);
        if (r < 0)
            return r;
        ttrpc_header_decode(hb, &h);
        bool mine = h.stream_id == sid && h.type == TTRPC_TYPE_RESPONSE;
        if (!mine || h.length > TTRPC_MAX_DATA) {
            r = recv_all(cl->fd, NULL, h.length, deadline); /* a late reply: skip it */
            if (r < 0 || mine)
                return r < 0 ? r : -EMSGSIZE;
            continue;
        }
        *body = xmalloc(h.length ? h.length : 1);
        *len = h.length;
        return recv_all(cl->fd, *body, h.length, deadline);
    }
}

/* Turn a Response into the call's result. */
static _must_check_ int decode_response(const uint8_t *body, size_t len, const char *what,
                                        uint8_t **resp, size_t *resp_len, enum ttrpc_code *code,
                                        rerr **err)
{
    Reaper__Ttrpc__Response *m = reaper__ttrpc__response__unpack(NULL, len, body);
    if (!m)
        return rerr_setx(err, EBADMSG, "%s: undecodable response", what);
    int r = 0;
    *code = m->status ? (enum ttrpc_code)m->status->code : TTRPC_OK;
    if (*code != TTRPC_OK) {
        r = rerr_setx(err, EPROTO, "%s: %s", what, m->status->message);
    } else if (m->payload.len) {
        *resp = xmalloc(m->payload.len);
        memcpy(*resp, m->payload.data, m->payload.len);
        *resp_len = m->payload.len;
    }
    reaper__ttrpc__response__free_unpacked(m, NULL);
    return r;
}

static _must_check_ int call_error(struct ttrpc_client *cl, int r, const char *what,
                                   enum ttrpc_code *code, rerr **err)
{
    cl->broken = true;
    *code = r == -ETIMEDOUT ? TTRPC_DEADLINE_EXCEEDED : TTRPC_UNAVAILABLE;
    return rerr_set(err, -r, "%s", what);
}

int ttrpc_client_call(struct ttrpc_client *cl, const char *service, const char *method,
                      const char *ns, const uint8_t *payload, size_t len, int timeout_ms,
                      uint8_t **resp, size_t *resp_len, enum ttrpc_code *code, rerr **err)
{
    _cleanup_free_ char *what = xasprintf("%s/%s", service, method);
    *resp = NULL;
    *resp_len = 0;
    if (cl->broken)
        return call_error(cl, -ENOTCONN, what, code, err);
    uint64_t deadline = timeout_ms > 0 ? monotonic_ns() + (uint64_t)timeout_ms * 1000000 : 0;
    uint32_t sid = cl->next_stream;
    cl->next_stream += 2;
    size_t flen;
    _cleanup_free_ uint8_t *frame = ttrpc_request_frame(sid, service, method, ns, payload, len,
                                                        (int64_t)timeout_ms * 1000000, &flen);
    int r = send_all(cl->fd, frame, flen, deadline);
    if (r < 0)
        return call_error(cl, r, what, code, err);
    _cleanup_free_ uint8_t *body = NULL;
    size_t blen = 0;
    r = read_response(cl, sid, deadline, &body, &blen);
    if (r < 0)
        return call_error(cl, r, what, code, err);
    return decode_response(body, blen, what, resp, resp_len, code, err);
}
