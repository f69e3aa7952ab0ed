/*
 * REAPER_SHIM_TIMING (set in the shim's environment): one log line per RPC, per exit handled and
 * per start/delete command with the time the shim spent on it ("timing Create 312 us cpu 120 us"),
 * so a benchmark can add up the shim's own share of a pod's lifecycle. Off, it costs one branch.
 */
#ifndef REAPER_SHIM_TIMING_H
#define REAPER_SHIM_TIMING_H

#include <stdbool.h>
#include <stdint.h>

/* Read the environment once. */
void timing_init(void);
bool timing_on(void);
/* Start of a measured step: wall clock and this thread's CPU time (zero when timing is off). */
struct timing_mark {
    uint64_t wall_ns, cpu_ns;
};
struct timing_mark timing_start(void);
/* Log "timing <what> <wall> us cpu <cpu> us" since t0 (nothing when timing is off). The CPU
 * time is what the shim itself burnt; the wall time also counts waits (children it starts)
 * and, on a loaded machine, time spent runnable but not running. */
void timing_done(struct timing_mark t0, const char *what);

#endif
