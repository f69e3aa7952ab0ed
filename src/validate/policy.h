/* The admission policy generated from the rule table (deploy/policy/, docs/admission.md). */
#ifndef REAPER_VALIDATE_POLICY_H
#define REAPER_VALIDATE_POLICY_H

#include <jansson.h>

#include "rules.h"

/* The label a namespace needs (value "true") to run pods of the Reaper runtime class. */
#define POLICY_NAMESPACE_LABEL "reaper.io/allow-host-processes"

/* CEL that is true when the Pod (`object`) sets the field as the rule names it and no earlier
 * rule for the same field applies; NULL for reaper.io rules (no Pod field). Caller frees. */
char *policy_rule_cel(const struct vrule *r);

/* The policies and bindings, in order, for api_version "v1" or "v1beta1" (NULL: unknown). */
json_t *policy_objects(const char *api_version, const char *runtime_class);

#endif
