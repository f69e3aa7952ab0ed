/* Parent <-> forked-child error channel: {int32 errno, uint32 len, message} over a socketpair. */
#ifndef REAPER_SYNC_H
#define REAPER_SYNC_H

#include <stdbool.h>

#include "err.h"

/* Longest message carried; longer ones are truncated. */
#define SYNC_MSG_MAX 4096

/* A SOCK_SEQPACKET|SOCK_CLOEXEC socketpair: fds[0] for the parent, fds[1] for the child. */
_must_check_ int sync_pair(int fds[2], rerr **err);
/* In the child: report success, or an error (then the child _exit()s). */
_must_check_ int sync_send_ok(int fd);
_must_check_ int sync_send_error(int fd, int errnum, const char *msg);
_must_check_ int sync_send_rerr(int fd, const rerr *e);
/* In the parent: 0 on "ok", negative with *err filled from the child's message, or
 * "<what> exited before reporting" if the socket closed without a message. */
_must_check_ int sync_recv(int fd, const char *what, rerr **err);
/* As sync_recv; *eof tells whether the child closed the socket without a message. */
_must_check_ int sync_recv_eof(int fd, const char *what, bool *eof, rerr **err);

#endif
