/* Raw syscall wrappers for what glibc 2.36 does not wrap. */
#ifndef REAPER_SYSCALLS_H
#define REAPER_SYSCALLS_H

#include <sys/syscall.h>
#include <unistd.h>

static inline int sys_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

#endif
