/* overlay_root_attach: the overlay namespace's root, cloned into the caller's namespace. */
#include "cleanup.h"
#include "console.h"
#include "overlay.h"
#include "sync.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a forked child: join (or create) the overlay namespace, send back a detached clone of /. */
static _Noreturn void clone_helper(const struct reaper_config *cfg,
                                   const struct workload_identity *id, int sock)
{
    rerr *e = NULL;
    if (overlay_enter(cfg, id, &e) < 0) {
        IGNORE_RESULT(sync_send_rerr(sock, e)); /* else the parent sees EOF */
        _exit(1);
    }
    int fd = open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0) {
        IGNORE_RESULT(sync_send_error(sock, errno, "open_tree of the overlay root"));
        _exit(1);
    }
    if (sync_send_ok(sock) < 0 || console_send_fd(sock, fd, "root", &e) < 0)
        _exit(1); /* the parent sees EOF */
    _exit(0);
}

static _must_check_ int receive_root(int sock, int *fd, rerr **err)
{
    int r = sync_recv(sock, "overlay root helper", err);
    if (r == 0 && console_recv_fd(sock, fd, NULL, err) < 0)
        return rerr_wrap(err, "overlay root helper");
    return r;
}

int overlay_root_attach(const struct reaper_config *cfg, const struct workload_identity *id,
                        const char *target, rerr **err)
{
    int r = mkdir_p(target, 0700, err);
    if (r < 0)
        return r;
    int sv[2];
    if ((r = sync_pair(sv, err)) < 0)
        return r;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return rerr_set(err, errno, "fork overlay root helper");
    }
    if (pid == 0) {
        close(sv[0]);
        clone_helper(cfg, id, sv[1]);
    }
    close(sv[1]);
    _cleanup_close_ int sock = sv[0], root = -1;
    r = receive_root(sock, &root, err);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return r;
    if (move_mount(root, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return rerr_set(err, errno, "mount the overlay root on %s", target);
    /* Nothing CRIU does below it may propagate anywhere (the runtime root may be shared). */
    if (mount(NULL, target, NULL, MS_PRIVATE, NULL) < 0) {
        int saved = errno;
        IGNORE_RESULT(umount2(target, MNT_DETACH)); /* best effort; the error says why */
        return rerr_set(err, saved, "make %s private", target);
    }
    return 0;
}
