/* CPU and memory of a workload's process tree, from /proc (Reaper has no cgroup of its own). */
#ifndef REAPER_SHIM_STATS_H
#define REAPER_SHIM_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "proc_stat.h"

struct tree_stats {
    uint64_t user_ns, kernel_ns; /* CPU time */
    uint64_t rss_bytes;
    uint64_t minflt, majflt;
    uint64_t pids;
};

_must_check_ int stats_collect(pid_t leader, struct tree_stats *out, rerr **err);
/* Add one process's CPU time, RSS and faults (pure; unit-tested). */
void stats_add(const struct proc_stat *ps, long ticks_per_sec, long page_size,
               struct tree_stats *acc);

#endif
