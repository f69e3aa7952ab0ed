/* STUB: to be implemented. */
#include "oci_spec.h"
#include <errno.h>
int oci_spec_parse(const char *json, size_t len, struct oci_spec **out, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int oci_spec_load(const char *bundle_dir, struct oci_spec **out, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int oci_process_parse(const char *json, size_t len, struct oci_process **out, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
void oci_process_free(struct oci_process *p)
{
}
void oci_spec_free(struct oci_spec *spec)
{
}
bool oci_spec_is_sandbox(const struct oci_spec *spec)
{
    return false;
}
