/* JSON paths as messages name them ("spec.containers[0].securityContext"): used by the OCI
 * spec parser's errors and by reaper-validate's field reports. */
#ifndef REAPER_JPATH_H
#define REAPER_JPATH_H

#include <stddef.h>

/* "parent.key", or "key" at the top level (caller frees). */
char *jpath(const char *parent, const char *key);
/* "parent[i]" (caller frees). */
char *jpath_index(const char *parent, size_t i);

#endif
