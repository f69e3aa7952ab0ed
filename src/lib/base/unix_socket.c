#include "unix_socket.h"
#include "cleanup.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int unix_addr(const char *what, const char *path, struct sockaddr_un *sa, rerr **err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path))
        return rerr_setx(err, ENAMETOOLONG, "%s path %s is too long", what, path);
    strcpy(sa->sun_path, path);
    return 0;
}

int unix_connect(const char *what, const char *path, rerr **err)
{
    struct sockaddr_un sa;
    int r = unix_addr(what, path, &sa, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return rerr_set(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return rerr_set(err, errno, "connect %s %s", what, path);
    return steal_fd(fd);
}
