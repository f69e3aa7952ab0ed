/* STUB: to be implemented. */
#include "overlay.h"
#include <errno.h>
int overlay_paths_resolve(const struct reaper_config *cfg, const struct workload_identity *id,
                          struct overlay_paths *out, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
void overlay_paths_free(struct overlay_paths *p)
{
}
int overlay_enter(const struct reaper_config *cfg, const struct workload_identity *id, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
bool overlay_exists(const struct reaper_config *cfg, const struct workload_identity *id)
{
    return false;
}
int overlay_destroy(const struct reaper_config *cfg, const struct workload_identity *id, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
