/*
 * The shared overlay mount namespace of a Kubernetes namespace (or of the whole node), and the
 * sensitive-file filter applied inside it. Layout (key = k8s namespace, or "_node" in node mode;
 * underscores cannot occur in namespace names, so keys never collide):
 *   <overlay_base>/<key>[/<name>]/{upper,work}
 *   <runtime_root>/merged/<key>[_<name>]      pivot_root target while creating
 *   <runtime_root>/ns/<key>[_<name>]          nsfs bind mount pinning the namespace
 *   <runtime_root>/locks/<key>[_<name>].lock  serialises creation
 */
#ifndef REAPER_OVERLAY_H
#define REAPER_OVERLAY_H

#include "annotations.h"
#include "config.h"
#include "err.h"

struct overlay_paths {
    char *key; /* "<key>[_<name>]" */
    char *dir; /* <overlay_base>/<key>[/<name>] */
    char *upper;
    char *work;
    char *merged;
    char *pin;
    char *lock;
};

_must_check_ int overlay_paths_resolve(const struct reaper_config *cfg,
                                       const struct workload_identity *id,
                                       struct overlay_paths *out, rerr **err);
void overlay_paths_free(struct overlay_paths *p);

/*
 * In a forked process still in the host mount namespace: join the overlay namespace, creating
 * it (serialised by the lock) if it is not pinned yet. On success the caller's root is the
 * overlay. On failure the caller must not run the workload.
 */
_must_check_ int overlay_enter(const struct reaper_config *cfg, const struct workload_identity *id,
                               rerr **err);
/* True if the namespace is pinned (a live nsfs mount at the pin path). */
bool overlay_exists(const struct reaper_config *cfg, const struct workload_identity *id);
/* cfg->overlay_base, or its default <runtime_root>/overlay (then allocated into *owned). */
const char *overlay_base(const struct reaper_config *cfg, char **owned);

/* Called by overlay_destroy right after the layers are moved aside (the upper one, which
 * holds the data, last), before the lock is released: no workload can have recreated the
 * overlay yet, so a record of the destroy made here can never cover a newer layer. An error ends
 * the destroy with it (the layers stay gone). */
typedef int (*overlay_destroyed_fn)(void *ud, rerr **err);
/* Unpin the namespace and delete upper/work (agent reset/delete, GC, tests); destroyed may be
 * NULL. */
_must_check_ int overlay_destroy(const struct reaper_config *cfg,
                                 const struct workload_identity *id, overlay_destroyed_fn destroyed,
                                 void *ud, rerr **err);
/* Delete what a destroy killed midway left (moved-aside layers, empty directories, the lock
 * file of an unpinned overlay); an overlay recreated since is left alone. */
_must_check_ int overlay_sweep(const struct reaper_config *cfg, const struct workload_identity *id,
                               rerr **err);

/*
 * restore_root.c: mount a clone of the overlay namespace's root (the overlay mount alone, no
 * submounts) on target in the caller's namespace, creating the namespace if it is not pinned.
 * CRIU restores a workload with it as --root, so the restored process sees the same upper
 * layer. Undo with umount2(target, MNT_DETACH).
 */
_must_check_ int overlay_root_attach(const struct reaper_config *cfg,
                                     const struct workload_identity *id, const char *target,
                                     rerr **err);

/* Effective sensitive-path list: defaults (+/replaced by) REAPER_FILTER_PATHS, minus allowlist. */
char **filter_effective_paths(const struct reaper_config *cfg);

#endif
