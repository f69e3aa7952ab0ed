/* STUB: to be implemented. */
#include "mounts.h"
#include <errno.h>
bool mounts_should_apply(const struct oci_mount *m, enum dns_mode dns, const char **why)
{
    return false;
}
int mounts_prepare(const struct oci_mount *mounts, size_t n, enum dns_mode dns,
                   struct mount_plan *plan, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int mounts_attach(struct mount_plan *plan, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
void mount_plan_free(struct mount_plan *plan)
{
}
