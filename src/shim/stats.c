#include "stats.h"
#include "cleanup.h"
#include "process.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int stats_parse_stat_line(const char *line, long ticks_per_sec, long page_size,
                          struct tree_stats *acc)
{
    const char *p = strrchr(line, ')'); /* comm may contain spaces and parens */
    if (p == NULL || ticks_per_sec <= 0)
        return -EINVAL;
    char state;
    unsigned long long minflt, majflt, utime, stime;
    long long rss;
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss */
    int n = sscanf(p + 1,
                   " %c %*d %*d %*d %*d %*d %*u %llu %*u %llu %*u %llu %llu %*d %*d %*d %*d %*d"
                   " %*d %*u %*u %lld",
                   &state, &minflt, &majflt, &utime, &stime, &rss);
    if (n != 6)
        return -EINVAL;
    uint64_t ns_per_tick = 1000000000ull / (uint64_t)ticks_per_sec;
    acc->user_ns += utime * ns_per_tick;
    acc->kernel_ns += stime * ns_per_tick;
    acc->rss_bytes += rss > 0 ? (uint64_t)rss * (uint64_t)page_size : 0;
    acc->minflt += minflt;
    acc->majflt += majflt;
    acc->pids++;
    return 0;
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
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
        _cleanup_free_ char *line = NULL;
        if (read_file(path, 4096, &line, NULL, NULL) < 0)
            continue; /* exited meanwhile */
        stats_parse_stat_line(line, tps, page, out);
    }
    return 0;
}
