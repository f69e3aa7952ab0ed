/* Internal to oci_spec.c: the security parts of config.json (process.capabilities, linux.*). */
#ifndef REAPER_OCI_LINUX_H
#define REAPER_OCI_LINUX_H

#include "json_util.h"
#include "oci_spec.h"

/* proc is the process object at JSON path `path`. Unknown capability names are ignored (logged). */
_must_check_ int oci_parse_caps(const struct jctx *c, json_t *proc, const char *path,
                                struct oci_caps *caps);
/* The top-level "linux" object, if any. */
_must_check_ int oci_parse_linux(const struct jctx *c, json_t *root, struct oci_linux *out);
void oci_linux_clear(struct oci_linux *l);

#endif
