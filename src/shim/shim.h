/* containerd-shim-reaper-v2: command line, and the entry points of its three modes. */
#ifndef REAPER_SHIM_H
#define REAPER_SHIM_H

#include <stdbool.h>

#include "config.h"
#include "err.h"

struct shim_opts {
    char *ns;             /* -namespace */
    char *address;        /* -address: containerd's gRPC socket */
    char *publish_binary; /* -publish-binary */
    char *id;             /* -id */
    char *bundle;         /* -bundle (default: the working directory) */
    char *socket;         /* -socket (start, delete: ignored, we choose our own; serve: ours) */
    bool debug;           /* -debug */
    bool version;         /* -v / -version */
    char *action;         /* "start", "delete", "serve" (the daemon), or NULL */
};

_must_check_ int shim_opts_parse(int argc, char **argv, struct shim_opts *o, rerr **err);
void shim_opts_free(struct shim_opts *o);

/* `start`: print the address of the pod's shim, starting it if needed. */
_must_check_ int shim_start(const struct shim_opts *o, const struct reaper_config *cfg, rerr **err);
/* `delete`: clean up after a dead shim; prints a DeleteResponse. */
_must_check_ int shim_delete(const struct shim_opts *o, const struct reaper_config *cfg,
                             rerr **err);
/* `serve`, started by `start` with the listening socket on DAEMON_LISTEN_FD and its path in
 * -socket: the daemon, until the last task is gone; then its socket file goes. */
#define DAEMON_LISTEN_FD 3
_must_check_ int shim_serve_daemon(const struct shim_opts *o, const struct reaper_config *cfg,
                                   rerr **err);
/* The daemon: serve the Task service on listen_fd until the last task is gone. */
_must_check_ int shim_serve(const struct shim_opts *o, const struct reaper_config *cfg,
                            int listen_fd, rerr **err);

/* <runtime_root>/s/<hash of address, namespace and group> */
char *shim_socket_path(const struct reaper_config *cfg, const char *address, const char *ns,
                       const char *group);
/* `delete` after a shim was killed: remove the socket named in <bundle>/address if no shim
 * answers on it (a live shim of the pod keeps it; a clean one removes it itself). */
void shim_socket_remove_stale(const char *bundle);

#endif
