/*
 * The runtime root (/run/reaper) as a shared mount point of its own. reaper-agent mounts it
 * with Bidirectional propagation, which kubelet refuses unless the host path is on a shared
 * mount; systemd makes / shared, other inits do not. A self-bind made shared works on any node.
 */
#ifndef REAPER_ROOT_MOUNT_H
#define REAPER_ROOT_MOUNT_H

#include <stdbool.h>

#include "err.h"

/* Pure: does this mountinfo text have dir (a canonical path) as a mount point, and is the top
 * mount there shared? */
void root_mount_inspect(const char *mountinfo, const char *dir, bool *is_mount, bool *shared);

/*
 * Create dir if missing; bind it onto itself unless it is already a mount point, and make that
 * mount shared unless it already is. Nothing changes when it is already a shared mount point.
 * Serialized by a lock on the directory itself. Returns 1 if it changed something, 0 if not.
 */
_must_check_ int root_mount_ensure_shared(const char *dir, rerr **err);

#endif
