/* Observation of the node (runtime state, overlays, shim processes) for metrics and GC. */
#ifndef REAPER_AGENT_SCAN_H
#define REAPER_AGENT_SCAN_H

#include "agent.h"
#include "config.h"
#include "err.h"

/* What to look at: a reset needs only the workloads, GC no sizes or shims, metrics all. */
enum scan_what {
    SCAN_WORKLOADS = 1,
    SCAN_OVERLAYS = 2,
    SCAN_SIZES = 4, /* du of each overlay's upper layer (with SCAN_OVERLAYS) */
    SCAN_SHIMS = 8,
    SCAN_ALL = 15,
};
/* proc: "/proc" (NULL) or another procfs mount. */
_must_check_ int node_scan(const struct reaper_config *cfg, const char *proc, unsigned what,
                           struct node_snapshot *out, rerr **err);
/* The overlay_paths key of <ns>[/<name>] under cfg's isolation mode (NULL on a bad name). */
char *overlay_key_for(const struct reaper_config *cfg, const char *ns, const char *name);

#endif
