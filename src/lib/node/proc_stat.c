#include "proc_stat.h"
#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The numeric fields we keep, by field number (proc(5)); the rest are skipped. */
#define LAST_FIELD 24

static _must_check_ int next_number(const char **p, int64_t *out)
{
    if (**p != ' ')
        return -EINVAL;
    const char *s = *p + 1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || (*end != ' ' && *end != '\n' && *end != '\0'))
        return -EINVAL;
    *out = v;
    *p = end;
    return 0;
}

int proc_stat_parse(const char *line, struct proc_stat *out)
{
    const char *p = strrchr(line, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
        return -EINVAL;
    int64_t f[LAST_FIELD + 1] = {0};
    p += 3; /* at the space before field 4 */
    for (int i = 4; i <= LAST_FIELD; i++)
        if (next_number(&p, &f[i]) < 0)
            return -EINVAL;
    *out = (struct proc_stat){
        .state = strrchr(line, ')')[2],
        .ppid = (pid_t)f[4],
        .pgrp = (pid_t)f[5],
        .sid = (pid_t)f[6],
        .minflt = (uint64_t)f[10],
        .majflt = (uint64_t)f[12],
        .utime = (uint64_t)f[14],
        .stime = (uint64_t)f[15],
        .start_time = (uint64_t)f[22],
        .rss_pages = f[24],
    };
    return 0;
}

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
    if (pid <= 0)
        return -ESRCH;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *text = NULL;
    if (read_file(path, 4096, &text, NULL, NULL) < 0)
        return -ESRCH;
    return proc_stat_parse(text, out);
}

uint64_t proc_start_time(pid_t pid)
{
    struct proc_stat st;
    return proc_stat_read(pid, &st) == 0 ? st.start_time : 0;
}
