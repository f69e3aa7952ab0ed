#include "timing.h"
#include "log.h"

#include <stdlib.h>
#include <time.h>

static bool g_on;

void timing_init(void)
{
    const char *v = getenv("REAPER_SHIM_TIMING");
    g_on = v != NULL && *v != '\0' && *v != '0';
}

bool timing_on(void)
{
    return g_on;
}

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct timing_mark timing_start(void)
{
    if (!g_on)
        return (struct timing_mark){0, 0};
    return (struct timing_mark){now_ns(CLOCK_MONOTONIC), now_ns(CLOCK_THREAD_CPUTIME_ID)};
}

void timing_done(struct timing_mark t0, const char *what)
{
    if (t0.wall_ns == 0)
        return;
    uint64_t wall = now_ns(CLOCK_MONOTONIC) - t0.wall_ns;
    uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - t0.cpu_ns;
    /* info: the shim logs at info unless containerd asked for debug */
    log_info("timing %s %llu us cpu %llu us", what, (unsigned long long)(wall / 1000),
             (unsigned long long)(cpu / 1000));
}
