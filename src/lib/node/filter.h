/*
 * Sensitive-file filter internals (the public list function is in overlay.h). Masks for paths on
 * the root filesystem are written into the overlay's upper layer before it is mounted; paths on
 * other filesystems get a read-only bind of an empty placeholder inside the new namespace.
 */
#ifndef REAPER_FILTER_H
#define REAPER_FILTER_H

#include <stdbool.h>

#include "config.h"
#include "err.h"

static inline const char *cfg_runtime_root(const struct reaper_config *cfg)
{
    return cfg->runtime_root ? cfg->runtime_root : REAPER_DEFAULT_ROOT;
}

/* Pure: shadow/gshadow text with every password field (2nd field) replaced by "!". */
char *filter_shadow_mask(const char *text);

/*
 * Host view, before the overlay is mounted: write a mask into upper for every path on the root
 * filesystem that upper has no entry for yet. Paths on other filesystems are returned in
 * *elsewhere (a strv). Individual failures are logged; error only if no mask could be written.
 */
_must_check_ int filter_mask_upper(char *const *paths, const char *upper, char ***elsewhere,
                                   rerr **err);

/* Before pivot_root: clone read-only empty placeholders (made in cfg->filter_dir) for paths.
 * Returns strv_len(paths) fds aligned with paths (-1 where skipped; failures are logged). */
int *filter_clone_placeholders(const struct reaper_config *cfg, char *const *paths);
/* After pivot_root: attach each clone over its path if attach (failures are logged); closes and
 * frees fds either way. */
void filter_attach_placeholders(char *const *paths, int *fds, bool attach);

#endif
