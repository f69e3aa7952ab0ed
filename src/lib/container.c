/* STUB: to be implemented. */
#include "container.h"
#include <errno.h>
int container_create(const struct reaper_config *cfg, const struct container_create_opts *opts,
                     pid_t *pid, int *pidfd, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int container_start(const struct reaper_config *cfg, const char *id, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int container_state(const struct reaper_config *cfg, const char *id, struct container_state **st,
                    enum container_status *status, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int container_kill(const struct reaper_config *cfg, const char *id, int sig, bool all, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int container_delete(const struct reaper_config *cfg, const char *id, bool force, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int container_record_exit(const struct reaper_config *cfg, const char *id, int exit_status,
                          rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int container_exec(const struct reaper_config *cfg, const char *id, const struct oci_process *proc,
                   const struct container_exec_opts *opts, pid_t *pid, int *pidfd, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
