/* What Reaper does with each Pod field: the one table behind reaper-validate, the generated
 * admission policy (deploy/policy/) and docs/pod-fields.md. */
#ifndef REAPER_VALIDATE_RULES_H
#define REAPER_VALIDATE_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum verdict {
    VERDICT_ENFORCED, /* takes effect (by Reaper, kubelet or the scheduler) */
    VERDICT_IGNORED,  /* accepted, no effect on a host process: a warning */
    VERDICT_REFUSED,  /* the container fails to create: an error */
};

enum scope {
    SCOPE_POD,       /* a pod spec: "hostNetwork", "securityContext.sysctls" */
    SCOPE_CONTAINER, /* one of containers[], initContainers[], ephemeralContainers[] */
    SCOPE_REAPER,    /* the spec of a reaper.io ReaperPod or ReaperDaemonJob */
};

struct vrule {
    enum scope scope;
    const char *field; /* dotted path relative to the scope; covers everything below it */
    const char *value; /* JSON literal the field must equal, or NULL for any value */
    enum verdict verdict;
    bool always_set;    /* the API requires or defaults it: reported, never a warning */
    const char *reason; /* one line, no '|' (it is a Markdown table cell) */
};

extern const struct vrule vrules[];
extern const size_t vrules_len;

/* For fields that no rule names: kept apart so a table lookup never returns it by accident. */
extern const struct vrule vrule_unknown_pod;
extern const struct vrule vrule_unknown_reaper;

const char *verdict_name(enum verdict v); /* "enforced", "ignored", "refused" */
const char *scope_prefix(enum scope s);   /* "spec.", "spec.containers[*].", "spec." */
const char *scope_name(enum scope s);     /* "pod", "container", "reaper.io" */

/* The first rule for this field whose value condition holds (NULL: none). */
const struct vrule *rule_find(enum scope s, const char *field, const json_t *value);
/* Whether some rule names a field below this one (so the walk descends into it). */
bool rule_has_children(enum scope s, const char *field);
/* Whether a rule's value condition holds for value. */
bool rule_value_matches(const struct vrule *r, const json_t *value);

#endif
