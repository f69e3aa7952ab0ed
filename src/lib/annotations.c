/* STUB: to be implemented. */
#include "annotations.h"
#include <errno.h>
int workload_identity_resolve(const struct reaper_config *cfg, const struct kv *ann, size_t n_ann,
                              struct workload_identity *out, char ***warnings, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
void workload_identity_free(struct workload_identity *id)
{
}
const char *kv_get(const struct kv *kv, size_t n, const char *key)
{
    return 0;
}
