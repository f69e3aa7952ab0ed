/* CPU and memory of a workload's process tree, from /proc (Reaper has no cgroup of its own). */
#ifndef REAPER_SHIM_STATS_H
#define REAPER_SHIM_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct tree_stats {
    uint64_t user_ns, kernel_ns; /* CPU time */
    uint64_t rss_bytes;
    uint64_t minflt, majflt;
    uint64_t pids;
};

int stats_collect(pid_t leader, struct tree_stats *out, rerr **err);
/* One /proc/<pid>/stat line -> contribution (pure; unit-tested). */
int stats_parse_stat_line(const char *line, long ticks_per_sec, long page_size,
                          struct tree_stats *acc);

#endif
