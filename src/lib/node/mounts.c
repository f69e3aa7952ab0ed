/* Per-container bind mounts: cloned in the host namespace, attached in the container's. */
#include "mounts.h"
#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool is_bind(const struct oci_mount *m)
{
    if (m->bind || (m->type && strcmp(m->type, "bind") == 0))
        return true;
    return strv_contains(m->options, "bind") || strv_contains(m->options, "rbind");
}

bool mounts_should_apply(const struct oci_mount *m, enum dns_mode dns, const char **why)
{
    const char *reason = NULL;
    if (!is_bind(m))
        reason = "not a bind mount: the workload uses the host's";
    else if (dns == DNS_HOST && m->destination && strcmp(m->destination, "/etc/resolv.conf") == 0)
        reason = "dns mode host: the workload uses the node's resolv.conf";
    else if (m->destination == NULL || m->destination[0] != '/' || m->source == NULL)
        reason = "no absolute destination or no source";
    if (why)
        *why = reason;
    return reason == NULL;
}

static _must_check_ int tree_setattr(int fd, bool recursive, uint64_t set, uint64_t propagation)
{
    struct mount_attr attr = {.attr_set = set, .propagation = propagation};
    unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return mount_setattr(fd, "", flags, &attr, sizeof(attr)) < 0 ? -errno : 0;
}

int mount_clone(const char *source, bool recursive, bool readonly, rerr **err)
{
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    _cleanup_close_ int fd = open_tree(AT_FDCWD, source, flags);
    if (fd < 0)
        return rerr_set(err, errno, "source %s", source);
    if (readonly) {
        int r = tree_setattr(fd, recursive, MOUNT_ATTR_RDONLY, 0);
        if (r < 0)
            return rerr_set(err, -r, "make %s read-only", source);
    }
    return steal_fd(fd);
}

int mount_attach_fd(int tree_fd, const char *dest, rerr **err)
{
    if (move_mount(tree_fd, "", AT_FDCWD, dest, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return rerr_set(err, errno, "attach on %s", dest);
    return 0;
}

static _must_check_ int prepare_one(const struct oci_mount *m, struct prepared_mount *out,
                                    rerr **err)
{
    struct stat st;
    if (stat(m->source, &st) < 0)
        return rerr_set(err, errno, "source %s", m->source);
    int fd = mount_clone(m->source, m->recursive, m->readonly, err);
    if (fd < 0)
        return fd;
    out->tree_fd = fd;
    out->destination = xstrdup(m->destination);
    out->source_is_dir = S_ISDIR(st.st_mode);
    if (m->propagation) {
        /* mount_setattr takes the propagation type alone; MS_REC maps to AT_RECURSIVE. */
        int r =
            tree_setattr(fd, m->propagation & MS_REC, 0, m->propagation & ~(unsigned long)MS_REC);
        if (r < 0)
            return rerr_set(err, -r, "set propagation of %s", m->source);
    }
    return 0;
}

int mounts_prepare(const struct oci_mount *mounts, size_t n, enum dns_mode dns,
                   struct mount_plan *plan, rerr **err)
{
    plan->items = xcalloc(n, sizeof(*plan->items));
    plan->n = 0;
    for (size_t i = 0; i < n; i++) {
        const struct oci_mount *m = &mounts[i];
        if (!mounts_should_apply(m, dns, NULL))
            continue;
        struct prepared_mount *pm = &plan->items[plan->n];
        pm->tree_fd = -1;
        int r = prepare_one(m, pm, err);
        if (pm->tree_fd >= 0)
            plan->n++;
        if (r < 0)
            return rerr_wrap(err, "mount %s", m->destination);
    }
    return 0;
}

static _must_check_ int open_in_root(int root_fd, const char *path)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    return fd < 0 ? -errno : fd;
}

#define MAX_POINT_DEPTH 64

static _must_check_ int point_open(int root_fd, const char *path, bool is_dir, int depth,
                                   rerr **err);

/* The last component exists but does not resolve: a dangling symlink. Create its target
 * (inside the root, as the kernel resolves it there) like runc's securejoin does. */
static _must_check_ int point_follow_dangling(int root_fd, int parent_fd, const char *parent,
                                              const char *name, bool is_dir, int depth, rerr **err)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(parent_fd, name, target, sizeof(target) - 1);
    if (n < 0)
        return rerr_set(err, errno, "resolve %s/%s", parent, name);
    target[n] = '\0';
    _cleanup_free_ char *next =
        target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", parent, target);
    return point_open(root_fd, next, is_dir, depth + 1, err);
}

/* Create path's last component in its (resolved, created) parent, then open it. */
static _must_check_ int point_create(int root_fd, const char *path, bool is_dir, int depth,
                                     rerr **err)
{
    _cleanup_free_ char *parent = xstrdup(path);
    char *slash = strrchr(parent, '/');
    _cleanup_free_ char *name = xstrdup(slash + 1);
    slash[slash == parent ? 1 : 0] = '\0';
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return rerr_setx(err, EINVAL, "mount point %s has no last name", path);
    _cleanup_close_ int pfd = point_open(root_fd, parent, true, depth + 1, err);
    if (pfd < 0)
        return pfd;
    int r = is_dir ? mkdirat(pfd, name, 0755)
                   : openat(pfd, name,
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
    if (r < 0 && errno != EEXIST)
        return rerr_set(err, errno, "create %s", path);
    if (r > 0)
        close(r);
    int fd = open_in_root(root_fd, path);
    if (fd == -ENOENT)
        return point_follow_dangling(root_fd, pfd, parent, name, is_dir, depth, err);
    return fd < 0 ? rerr_set(err, -fd, "resolve %s", path) : fd;
}

/*
 * An O_PATH fd on the mount point, created (with its parents) if missing. Symlinks on the way,
 * the last component included, are followed inside the container's root and can never lead
 * out of it (openat2 RESOLVE_IN_ROOT: "/" and ".." stop at the root), as runc does.
 */
static _must_check_ int point_open(int root_fd, const char *path, bool is_dir, int depth,
                                   rerr **err)
{
    if (depth > MAX_POINT_DEPTH)
        return rerr_setx(err, ELOOP, "mount point %s: too many levels of symbolic links", path);
    int fd = open_in_root(root_fd, path);
    if (fd >= 0)
        return fd;
    if (fd != -ENOENT)
        return rerr_set(err, -fd, "resolve %s", path);
    return point_create(root_fd, path, is_dir, depth, err);
}

int mount_point_open(const char *dest, bool is_dir, rerr **err)
{
    _cleanup_close_ int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return rerr_set(err, errno, "open /");
    _cleanup_free_ char *path = xstrdup(dest);
    for (size_t n = strlen(path); n > 1 && path[n - 1] == '/'; n--)
        path[n - 1] = '\0';
    return point_open(root_fd, path, is_dir, 0, err);
}

int mounts_make_points(const struct mount_plan *plan, rerr **err)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct prepared_mount *pm = &plan->items[i];
        _cleanup_close_ int fd = mount_point_open(pm->destination, pm->source_is_dir, err);
        if (fd < 0)
            return rerr_wrap(err, "mount %s", pm->destination);
    }
    return 0;
}

int mounts_attach(struct mount_plan *plan, rerr **err)
{
    for (size_t i = 0; i < plan->n; i++) {
        struct prepared_mount *pm = &plan->items[i];
        _cleanup_close_ int fd = mount_point_open(pm->destination, pm->source_is_dir, err);
        int r = fd;
        if (fd >= 0 && move_mount(pm->tree_fd, "", fd, "",
                                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            r = rerr_set(err, errno, "attach on %s", pm->destination);
        if (r < 0)
            return rerr_wrap(err, "mount %s", pm->destination);
    }
    return 0;
}

void mount_plan_free(struct mount_plan *plan)
{
    for (size_t i = 0; plan && i < plan->n; i++) {
        cleanup_closep(&plan->items[i].tree_fd);
        free(plan->items[i].destination);
    }
    if (plan) {
        free(plan->items);
        plan->items = NULL;
        plan->n = 0;
    }
}
