/* AF_UNIX stream sockets named by a path (console sockets, ttrpc, the shim's own socket). */
#ifndef REAPER_UNIX_SOCKET_H
#define REAPER_UNIX_SOCKET_H

#include <sys/un.h>

#include "err.h"

/* Fill *sa for path; -ENAMETOOLONG when it does not fit. what names the socket in errors. */
_must_check_ int unix_addr(const char *what, const char *path, struct sockaddr_un *sa, rerr **err);
/* A connected, close-on-exec stream socket, or negative errno ("connect <what> <path>: ..."). */
_must_check_ int unix_connect(const char *what, const char *path, rerr **err);

#endif
