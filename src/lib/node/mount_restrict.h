/*
 * Restrictions applied inside a container's private mount namespace (never the shared overlay
 * namespace): a read-only root (root.readonly) and linux.maskedPaths / readonlyPaths. Execs join
 * that namespace, so they see the same. See docs/pod-fields.md for when each applies.
 */
#ifndef REAPER_MOUNT_RESTRICT_H
#define REAPER_MOUNT_RESTRICT_H

#include "err.h"

/* The overlay root and the node's /run (with its submounts) read-only; /proc, /sys, /dev and
 * mounts attached afterwards (volumes) keep their modes. */
_must_check_ int restrict_root_readonly(rerr **err);
/* Directories: an empty read-only tmpfs on top; files: /dev/null. Missing paths are skipped. */
_must_check_ int restrict_mask_paths(char *const *paths, rerr **err);
/* A read-only recursive bind of each path on itself. Missing paths are skipped. */
_must_check_ int restrict_readonly_paths(char *const *paths, rerr **err);

#endif
