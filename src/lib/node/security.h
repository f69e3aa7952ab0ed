/*
 * What Reaper enforces of a container's security settings (docs/pod-fields.md, "Security"):
 * the decisions are pure functions of the OCI spec; the apply functions run in the forked child.
 *
 * Rule: a container is "restricted" when its spec's capabilities leave out one of the
 * capabilities containerd's CRI grants every non-privileged container. Then the capability sets
 * are applied exactly as the spec says, and so are its masked and read-only paths. Otherwise
 * (containerd's default set, a superset of it such as privileged or add-only, or no
 * capabilities object at all) the process keeps what its uid has on the host.
 */
#ifndef REAPER_SECURITY_H
#define REAPER_SECURITY_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "oci_spec.h"

/* CAP_* number for "CAP_CHOWN" etc., or -1 if the name is unknown. */
int capability_from_name(const char *name);
/* The 14 capabilities containerd's default Linux spec grants (oci.WithDefaultSpec). */
uint64_t caps_containerd_default(void);
/* The rule above. */
bool caps_restricted(const struct oci_caps *caps);
/* Refuse what would change the node for everyone (sysctls, a user namespace): -EINVAL naming
 * the field. */
_must_check_ int security_check_refused(const struct oci_spec *spec, rerr **err);
/* Refuse, before anything is created, a process.user the caller cannot switch to (a runtime
 * without CAP_SETUID / CAP_SETGID, e.g. not run as root): -EPERM naming the ids. */
_must_check_ int security_check_user_switch(const struct oci_user *u, rerr **err);

/* Child, still root: drop every capability not in the bounding set. */
_must_check_ int caps_apply_bounding(const struct oci_caps *caps, rerr **err);
/* Child, around the uid change: keep the permitted set across setuid (call before it). */
_must_check_ int caps_keep_across_setuid(bool keep, rerr **err);
/* Child, after the uid change: set permitted, effective, inheritable and ambient sets. */
_must_check_ int caps_apply_sets(const struct oci_caps *caps, rerr **err);

#endif
