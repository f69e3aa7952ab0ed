/* STUB: to be implemented. */
#include "process.h"
#include <errno.h>
int process_spawn(const struct spawn_request *req, pid_t *pid, int *pidfd, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int process_resolve_executable(const struct oci_process *proc, char **path, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int proc_tree_pids(pid_t leader, pid_t **pids, size_t *n, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int proc_tree_kill(pid_t leader, int sig, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int signal_parse(const char *s, int *sig)
{
    return -EINVAL;
}
int exit_status_from_wait(int wstatus)
{
    return 0;
}
