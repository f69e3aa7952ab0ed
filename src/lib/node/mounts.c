/* Per-container bind mounts: cloned in the host namespace, attached in the container's. */
#include "mounts.h"
#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

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

/* Create the mount point (and its parents): a directory, or an empty file for file sources. */
static _must_check_ int make_mount_point(const char *dest, bool is_dir, rerr **err)
{
    if (is_dir)
        return mkdir_p(dest, 0755, err);
    _cleanup_free_ char *parent = xstrdup(dest);
    int r = mkdir_p(dirname(parent), 0755, err);
    if (r < 0)
        return r;
    _cleanup_close_ int fd = open(dest, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0 && errno != EISDIR)
        return rerr_set(err, errno, "create %s", dest);
    return 0;
}

int mounts_attach(struct mount_plan *plan, rerr **err)
{
    for (size_t i = 0; i < plan->n; i++) {
        struct prepared_mount *pm = &plan->items[i];
        int r = make_mount_point(pm->destination, pm->source_is_dir, err);
        if (r == 0)
            r = mount_attach_fd(pm->tree_fd, pm->destination, err);
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
