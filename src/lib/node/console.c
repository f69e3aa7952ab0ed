/* Terminals: a pty pair per workload, the master handed to whoever holds the console socket. */
#include "console.h"
#include "cleanup.h"
#include "unix_socket.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

int console_open_pty(int *master, int *slave, char **name, rerr **err)
{
    _cleanup_close_ int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return rerr_set(err, errno, "open /dev/ptmx");
    if (unlockpt(m) < 0)
        return rerr_set(err, errno, "unlockpt");
    char path[128];
    int r = ptsname_r(m, path, sizeof(path));
    if (r != 0)
        return rerr_set(err, r, "ptsname");
    int s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0)
        return rerr_set(err, errno, "open %s", path);
    *slave = s;
    *master = steal_fd(m);
    if (name)
        *name = xstrdup(path);
    return 0;
}

int console_connect(const char *path, rerr **err)
{
    return unix_connect("console socket", path, err);
}

int console_send_fd(int sock, int fd, const char *name, rerr **err)
{
    const char *data = name && *name ? name : "/dev/ptmx";
    struct iovec iov = {.iov_base = (void *)data, .iov_len = strlen(data)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ssize_t r;
    do
        r = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return rerr_set(err, errno, "send pty master over the console socket");
    return 0;
}

int console_recv_fd(int sock, int *fd, char **name, rerr **err)
{
    char data[4096];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data) - 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t r;
    do
        r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return rerr_set(err, errno, "receive pty master");
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)))
        return rerr_setx(err, EPROTO, "console socket message carries no file descriptor");
    memcpy(fd, CMSG_DATA(c), sizeof(int));
    data[r] = '\0';
    if (name)
        *name = xstrdup(data);
    return 0;
}

int console_set_size(int fd, unsigned rows, unsigned cols, rerr **err)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
        return rerr_set(err, errno, "set terminal size %ux%u", cols, rows);
    return 0;
}
