/* The oldest Linux Reaper runs on (docs/install.md): mount_setattr needs 5.12. */
#ifndef REAPER_KERNEL_H
#define REAPER_KERNEL_H

#include <stdbool.h>

#include "err.h"

#define KERNEL_MIN_MAJOR 5
#define KERNEL_MIN_MINOR 12

/* Pure: is "release" (uname -r, e.g. "6.1.0-18-amd64") at least major.minor? false if unparsable.
 */
bool kernel_release_at_least(const char *release, unsigned major, unsigned minor);
/* -ENOSYS naming the running kernel and the floor if it is older; the answer is cached. */
_must_check_ int kernel_check(rerr **err);

#endif
