/* STUB: to be implemented. */
#include "sync.h"
#include <errno.h>
int sync_send_ok(int fd)
{
    return -ENOSYS;
}
int sync_send_error(int fd, int errnum, const char *msg)
{
    return -ENOSYS;
}
int sync_send_rerr(int fd, const rerr *e)
{
    return -ENOSYS;
}
int sync_recv(int fd, const char *what, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
