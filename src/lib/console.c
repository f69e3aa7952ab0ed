/* STUB: to be implemented. */
#include "console.h"
#include <errno.h>
int console_open_pty(int *master, int *slave, char **name, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int console_connect(const char *path, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int console_send_fd(int sock, int fd, const char *name, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int console_recv_fd(int sock, int *fd, char **name, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int console_set_size(int fd, unsigned rows, unsigned cols, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
