/* Find the pod spec of a manifest object and judge each field it sets with the rule table. */
#ifndef REAPER_VALIDATE_CHECK_H
#define REAPER_VALIDATE_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

enum severity {
    SEV_NONE,    /* enforced, or ignored but set on every Pod by the API */
    SEV_WARNING, /* ignored */
    SEV_ERROR,   /* refused */
};

struct finding {
    char *path; /* the real JSON path: spec.template.spec.containers[0].image */
    const struct vrule *rule;
};

struct object_report {
    const char *kind, *namespace, *name; /* borrowed from the object; "" when absent */
    char *skipped;                       /* why no pod spec was checked, or NULL */
    struct finding *findings;
    size_t n_findings;
};

enum severity finding_severity(const struct finding *f);

/* Judge one object. A Pod-like spec counts only when its runtimeClassName is runtime_class;
 * ReaperPod and ReaperDaemonJob always count. Never fails: what cannot be checked is skipped. */
void check_object(const json_t *obj, const char *runtime_class, struct object_report *out);
void object_report_clear(struct object_report *r);

#endif
