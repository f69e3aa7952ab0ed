/* STUB: to be implemented. */
#include "state.h"
#include <errno.h>
char *state_dir(const char *root, const char *id)
{
    return 0;
}
int state_save(const char *root, const struct container_state *st, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int state_load(const char *root, const char *id, struct container_state **out, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int state_remove(const char *root, const char *id, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int state_list(const char *root, char ***ids, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
void state_free(struct container_state *st)
{
}
char *state_to_json(const struct container_state *st)
{
    return 0;
}
int state_from_json(const char *json, size_t len, struct container_state **out, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
enum container_status state_live_status(const struct container_state *st)
{
    return STATUS_STOPPED;
}
const char *container_status_name(enum container_status s)
{
    return "unknown";
}
char *state_oci_json(const struct container_state *st, enum container_status status)
{
    return 0;
}
uint64_t proc_start_time(pid_t pid)
{
    return 0;
}
