/* The runtime root made a shared mount point of its own (see root_mount.h). */
#include "root_mount.h"

#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *out = s;
    for (char *in = s; *in; out++) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
            in[3] >= '0' && in[3] <= '7') {
            *out = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
            in += 4;
        } else {
            *out = *in++;
        }
    }
    *out = '\0';
}

/* One line: "id parent maj:min root mountpoint options [optional...] - fstype source super". */
static bool line_matches(char *line, const char *dir, bool *shared)
{
    char *save = NULL;
    char *field = strtok_r(line, " ", &save);
    for (int i = 0; field && i < 4; i++)
        field = strtok_r(NULL, " ", &save);
    if (field == NULL)
        return false;
    unescape_octal(field);
    if (strcmp(field, dir) != 0)
        return false;
    *shared = false;
    strtok_r(NULL, " ", &save); /* mount options */
    while ((field = strtok_r(NULL, " ", &save)) && strcmp(field, "-") != 0)
        if (str_startswith(field, "shared:"))
            *shared = true;
    return true;
}

void root_mount_inspect(const char *mountinfo, const char *dir, bool *is_mount, bool *shared)
{
    _cleanup_free_ char *copy = xstrdup(mountinfo);
    char *save = NULL;
    *is_mount = *shared = false;
    /* The last entry for a mount point is the one on top. */
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        _cleanup_free_ char *l = xstrdup(line);
        bool s;
        if (line_matches(l, dir, &s)) {
            *is_mount = true;
            *shared = s;
        }
    }
}

static _must_check_ int inspect_now(const char *dir, bool *is_mount, bool *shared, rerr **err)
{
    _cleanup_free_ char *info = NULL;
    int r = read_file("/proc/self/mountinfo", 16 << 20, &info, NULL, err);
    if (r < 0)
        return r;
    root_mount_inspect(info, dir, is_mount, shared);
    return 0;
}

int root_mount_ensure_shared(const char *dir, rerr **err)
{
    int r = mkdir_p(dir, 0711, err);
    if (r < 0)
        return r;
    char canon[PATH_MAX];
    if (realpath(dir, canon) == NULL)
        return rerr_set(err, errno, "resolve %s", dir);
    bool is_mount, shared;
    r = inspect_now(canon, &is_mount, &shared, err);
    if (r < 0 || (is_mount && shared))
        return r < 0 ? r : 0; /* the hot path: no lock */
    _cleanup_close_ int fd = open(canon, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rerr_set(err, errno, "open %s", canon);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return rerr_set(err, errno, "lock %s", canon);
    r = inspect_now(canon, &is_mount, &shared, err); /* another process may have done it */
    if (r < 0)
        return r;
    if (!is_mount && mount(canon, canon, NULL, MS_BIND, NULL) < 0)
        return rerr_set(err, errno, "bind %s onto itself", canon);
    if (!shared && mount(NULL, canon, NULL, MS_SHARED, NULL) < 0)
        return rerr_set(err, errno, "make %s a shared mount", canon);
    return is_mount && shared ? 0 : 1;
}
