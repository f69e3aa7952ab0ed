#include "stats.h"
#include "cleanup.h"
#include "proc_tree.h"
#include "proc_stat.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void stats_add(const struct proc_stat *ps, long ticks_per_sec, long page_size,
               struct tree_stats *acc)
{
    uint64_t ns_per_tick = 1000000000ull / (uint64_t)ticks_per_sec;
    acc->user_ns += ps->utime * ns_per_tick;
    acc->kernel_ns += ps->stime * ns_per_tick;
    acc->rss_bytes += ps->rss_pages > 0 ? (uint64_t)ps->rss_pages * (uint64_t)page_size : 0;
    acc->minflt += ps->minflt;
    acc->majflt += ps->majflt;
    acc->pids++;
}

int stats_collect(pid_t leader, struct tree_stats *out, rerr **err)
{
    memset(out, 0, sizeof(*out));
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    int r = proc_tree_pids(leader, &pids, &n, err);
    if (r < 0)
        return r;
    long tps = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n; i++) {
        struct proc_stat ps;
        if (proc_stat_read(pids[i], &ps) == 0) /* else it exited meanwhile */
            stats_add(&ps, tps, page, out);
    }
    return 0;
}
