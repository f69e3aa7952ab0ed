/* Read-only root and masked / read-only paths, in the container's own mount namespace. */
#include "mount_restrict.h"
#include "cleanup.h"
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

static _must_check_ int set_readonly(const char *path, bool recursive, rerr **err)
{
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    unsigned flags = recursive ? AT_RECURSIVE : 0;
    if (mount_setattr(AT_FDCWD, path, flags, &attr, sizeof(attr)) < 0)
        return rerr_set(err, errno, "make %s read-only (root.readonly)", path);
    return 0;
}

int restrict_root_readonly(rerr **err)
{
    int r = set_readonly("/", false, err);
    /* /run is the node's, bound into the overlay namespace: part of the root a workload sees. */
    if (r == 0)
        r = set_readonly("/run", true, err);
    return r;
}

int restrict_mask_paths(char *const *paths, rerr **err)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        struct stat st;
        if (stat(paths[i], &st) < 0) {
            if (errno == ENOENT)
                continue;
            return rerr_set(err, errno, "linux.maskedPaths: stat %s", paths[i]);
        }
        int r = S_ISDIR(st.st_mode)
                    ? mount("tmpfs", paths[i], "tmpfs", MS_RDONLY, "size=0,mode=0555")
                    : mount("/dev/null", paths[i], NULL, MS_BIND, NULL);
        if (r < 0)
            return rerr_set(err, errno, "linux.maskedPaths: mask %s", paths[i]);
    }
    return 0;
}

int restrict_readonly_paths(char *const *paths, rerr **err)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        _cleanup_rerr_ rerr *clone_err = NULL;
        _cleanup_close_ int fd = mount_clone(paths[i], true, true, &clone_err);
        if (fd < 0 && rerr_code(&clone_err) == -ENOENT)
            continue;
        if (fd < 0)
            IGNORE_RESULT(rerr_from(err, -rerr_code(&clone_err), rerr_msg(clone_err)));
        if (fd < 0 || mount_attach_fd(fd, paths[i], err) < 0)
            return rerr_wrap(err, "linux.readonlyPaths");
    }
    return 0;
}
