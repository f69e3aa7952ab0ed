/* Observation of the node (runtime state, overlays, shim processes) for metrics and GC. */
#ifndef REAPER_AGENT_SCAN_H
#define REAPER_AGENT_SCAN_H

#include "agent.h"
#include "config.h"
#include "err.h"

/* proc: "/proc" (NULL) or another procfs mount. */
int node_scan(const struct reaper_config *cfg, const char *proc, struct node_snapshot *out,
              rerr **err);
/* The overlay_paths key of <ns>[/<name>] under cfg's isolation mode (NULL on a bad name). */
char *overlay_key_for(const struct reaper_config *cfg, const char *ns, const char *name);

#endif
