/* The child's setup result travels as one datagram: {int32 errno, uint32 len, message}. */
#include "sync.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

struct sync_hdr {
    int32_t errnum;
    uint32_t len;
};

int sync_pair(int fds[2], rerr **err)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
        return rerr_set(err, errno, "socketpair");
    return 0;
}

static _must_check_ int send_msg(int fd, int errnum, const char *msg)
{
    size_t len = msg ? strnlen(msg, SYNC_MSG_MAX) : 0;
    struct sync_hdr hdr = {.errnum = errnum, .len = (uint32_t)len};
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)msg, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t r;
    do
        r = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int sync_send_ok(int fd)
{
    return send_msg(fd, 0, NULL);
}

int sync_send_error(int fd, int errnum, const char *msg)
{
    return send_msg(fd, errnum > 0 ? errnum : EIO, msg ? msg : "unknown error");
}

int sync_send_rerr(int fd, const rerr *e)
{
    return sync_send_error(fd, e ? e->code : EIO, rerr_msg(e));
}

int sync_recv_eof(int fd, const char *what, bool *eof, rerr **err)
{
    char buf[sizeof(struct sync_hdr) + SYNC_MSG_MAX + 1];
    ssize_t n;
    *eof = false;
    do
        n = recv(fd, buf, sizeof(buf) - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return rerr_set(err, errno, "read status of %s", what);
    if (n == 0) {
        *eof = true;
        return rerr_setx(err, EPIPE, "%s exited before reporting", what);
    }
    struct sync_hdr hdr;
    if ((size_t)n < sizeof(hdr))
        return rerr_setx(err, EPROTO, "%s sent a short status (%zd bytes)", what, n);
    memcpy(&hdr, buf, sizeof(hdr));
    if (hdr.errnum == 0)
        return 0;
    size_t len = (size_t)n - sizeof(hdr);
    if (hdr.len < len)
        len = hdr.len;
    buf[sizeof(hdr) + len] = '\0';
    return rerr_from(err, hdr.errnum > 0 ? hdr.errnum : EIO, buf + sizeof(hdr));
}

int sync_recv(int fd, const char *what, rerr **err)
{
    bool eof;
    return sync_recv_eof(fd, what, &eof, err);
}
