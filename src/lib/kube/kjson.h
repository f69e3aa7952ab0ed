/* Small jansson helpers shared by the Kubernetes client, the controller and the agent. */
#ifndef REAPER_KJSON_H
#define REAPER_KJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "err.h"

/* Borrowed value at a dotted path ("metadata.name"); NULL if any step is missing. */
json_t *kj_get(const json_t *o, const char *path);
/* String at path, or NULL when missing or not a string. */
const char *kj_str(const json_t *o, const char *path);
json_int_t kj_int(const json_t *o, const char *path, json_int_t def);
bool kj_bool(const json_t *o, const char *path, bool def);
/* Object member `key` of o, created empty when missing (o must be an object). Borrowed. */
json_t *kj_obj(json_t *o, const char *key);
/* metadata.annotations[key] / metadata.labels[key] (keys contain dots, so no path). */
const char *kj_annotation(const json_t *obj, const char *key);
const char *kj_label(const json_t *obj, const char *key);
/* "namespace/name" (or "name" for cluster-scoped objects). Caller frees. */
char *kj_key(const json_t *obj);
/* Split "ns/name" into its parts (ns "" for "name"). Caller frees both. */
void kj_split_key(const char *key, char **ns, char **name);
/* status.conditions[type == t].status, or NULL. */
const char *kj_condition(const json_t *obj, const char *type);
/* Parse a JSON document; errors carry line and column. */
_must_check_ int kj_parse(const char *buf, size_t len, json_t **out, rerr **err);
/* Compact serialisation with sorted keys; caller frees. */
char *kj_dump(const json_t *j);
/* Kubernetes time formats: Time (seconds) and MicroTime (exactly 6 fraction digits), UTC. */
char *kj_time_now(void);
char *kj_microtime_now(void);
/* Parse an RFC 3339 timestamp ("...Z" or with offset); -EINVAL if malformed. */
_must_check_ int kj_parse_time(const char *s, double *epoch_seconds);

#endif
