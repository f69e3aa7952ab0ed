/* Kernel floor check, done once per process: a clear error instead of an obscure ENOSYS/EINVAL
 * from the first mount_setattr or openat2 deep inside a container's setup. */
#include "kernel.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/utsname.h>

/* strtoul, not sscanf: this runs in every shim, and scanf's code would stay resident there. */
bool kernel_release_at_least(const char *release, unsigned major, unsigned minor)
{
    char *end;
    unsigned long ma = strtoul(release, &end, 10);
    if (end == release || *end != '.')
        return false;
    const char *m = end + 1;
    unsigned long mi = strtoul(m, &end, 10);
    if (end == m)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

int kernel_check(rerr **err)
{
    static int verdict; /* 0: unknown, 1: ok, -1: too old */
    static struct utsname u;
    if (verdict == 0) {
        if (uname(&u) < 0)
            return rerr_set(err, errno, "uname");
        verdict = kernel_release_at_least(u.release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR) ? 1 : -1;
    }
    if (verdict > 0)
        return 0;
    return rerr_setx(err, ENOSYS, "kernel %s is too old: Reaper needs Linux >= %d.%d", u.release,
                     KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR);
}
