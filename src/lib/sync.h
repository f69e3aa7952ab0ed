/* Parent <-> forked-child error channel: {int32 errno, uint32 len, message} over a socketpair. */
#ifndef REAPER_SYNC_H
#define REAPER_SYNC_H

#include "err.h"

/* In the child: report success, or an error (then the child _exit()s). */
int sync_send_ok(int fd);
int sync_send_error(int fd, int errnum, const char *msg);
int sync_send_rerr(int fd, const rerr *e);
/* In the parent: 0 on "ok", negative with *err filled from the child's message, or
 * "<what> exited before reporting" if the socket closed without a message. */
int sync_recv(int fd, const char *what, rerr **err);

#endif
