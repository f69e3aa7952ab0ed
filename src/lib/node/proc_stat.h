/* The one parser of /proc/<pid>/stat (proc(5)): used for process trees, start times (pid reuse
 * detection) and CPU/memory statistics. */
#ifndef REAPER_PROC_STAT_H
#define REAPER_PROC_STAT_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct proc_stat {
    char state;              /* field 3 */
    pid_t ppid, pgrp, sid;   /* fields 4, 5, 6 */
    uint64_t minflt, majflt; /* fields 10, 12 */
    uint64_t utime, stime;   /* fields 14, 15 (clock ticks) */
    uint64_t start_time;     /* field 22 (clock ticks after boot) */
    int64_t rss_pages;       /* field 24 */
};

/* Parse one stat line. The comm field (2) may hold spaces and ')': fields start after the last
 * ')'. -EINVAL if malformed; *out is untouched then. */
_must_check_ int proc_stat_parse(const char *line, struct proc_stat *out);
/* Read and parse /proc/<pid>/stat: -ESRCH when the process is gone (or pid <= 0). */
_must_check_ int proc_stat_read(pid_t pid, struct proc_stat *out);
/* Field 22 of a live process, 0 when it is gone: with the pid, identifies one process. */
uint64_t proc_start_time(pid_t pid);

#endif
