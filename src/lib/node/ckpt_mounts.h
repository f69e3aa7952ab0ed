/*
 * The container's bind mounts (config.json mounts Reaper applies) in a checkpoint. The dump names
 * each one by its destination (the key CRIU stores in the image), so a restore binds it from the
 * source the RESTORED container's config.json gives for that destination, not from the source
 * the checkpointed container had (gone once its pod is: the sandbox's hostname, /dev/shm, ...).
 */
#ifndef REAPER_CKPT_MOUNTS_H
#define REAPER_CKPT_MOUNTS_H

#include <stddef.h>

#include "annotations.h"
#include "config.h"
#include "err.h"

/* The destinations of the bind mounts <bundle>/config.json gives the container (in order,
 * each once). */
_must_check_ int ckpt_mounts_destinations(const char *bundle, enum dns_mode dns, char ***dests,
                                          rerr **err);

/* For each destination of a checkpoint: {key = destination, value = the source <bundle>'s
 * config.json mounts there (its last mount on it)}. A destination it has no bind mount on is
 * -ENOENT naming it. */
_must_check_ int ckpt_mounts_map(const char *bundle, enum dns_mode dns, char *const *dests,
                                 struct kv **map, size_t *n, rerr **err);

#endif
