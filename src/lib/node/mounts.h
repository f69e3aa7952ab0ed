/*
 * Per-container mounts. Sources are host paths (kubelet volume dirs, containerd's hosts/resolv
 * files), so they are cloned in the host mount namespace (open_tree) before the process joins
 * the overlay, and attached (move_mount) inside its private per-container mount namespace.
 */
#ifndef REAPER_MOUNTS_H
#define REAPER_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "oci_spec.h"

struct prepared_mount {
    int tree_fd; /* detached mount from open_tree(OPEN_TREE_CLONE) */
    char *destination;
    bool source_is_dir;
};

struct mount_plan {
    struct prepared_mount *items;
    size_t n;
};

/* Pure: does Reaper apply this OCI mount? If not, *why names the reason (for debug logs). */
bool mounts_should_apply(const struct oci_mount *m, enum dns_mode dns, const char **why);
/* Host mount namespace: clone every applicable source. A missing source is an error naming the
 * mount's destination and source. */
_must_check_ int mounts_prepare(const struct oci_mount *mounts, size_t n, enum dns_mode dns,
                                struct mount_plan *plan, rerr **err);
/* Inside the per-container namespace: create mount points and attach in order. */
_must_check_ int mounts_attach(struct mount_plan *plan, rerr **err);
/* Only create the mount points (before the root is made read-only). */
_must_check_ int mounts_make_points(const struct mount_plan *plan, rerr **err);
/* O_PATH fd on dest inside the caller's root, created (a directory, or an empty file) with its
 * parents if missing; symlinks are followed but never out of the root. */
_must_check_ int mount_point_open(const char *dest, bool is_dir, rerr **err);
void mount_plan_free(struct mount_plan *plan);

/* Building blocks (also used by the sensitive-file filter): clone the tree at source as a
 * detached mount (read-only if asked; returns the fd), and attach such a clone at dest. */
_must_check_ int mount_clone(const char *source, bool recursive, bool readonly, rerr **err);
_must_check_ int mount_attach_fd(int tree_fd, const char *dest, rerr **err);

#endif
