/* Terminals: pty allocation and passing the master over a unix socket (runc --console-socket). */
#ifndef REAPER_CONSOLE_H
#define REAPER_CONSOLE_H

#include "err.h"

_must_check_ int console_open_pty(int *master, int *slave, char **name, rerr **err);
/* Connect to a --console-socket path (SOCK_STREAM, SOCK_CLOEXEC). */
_must_check_ int console_connect(const char *path, rerr **err);
/* Send fd with SCM_RIGHTS; the data bytes are the pty name (as runc does). */
_must_check_ int console_send_fd(int sock, int fd, const char *name, rerr **err);
_must_check_ int console_recv_fd(int sock, int *fd, char **name, rerr **err);
_must_check_ int console_set_size(int fd, unsigned rows, unsigned cols, rerr **err);

#endif
