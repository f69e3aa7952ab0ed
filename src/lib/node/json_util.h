/*
 * Internal to the parsers (oci_spec.c, state.c): typed member access on jansson objects with
 * errors that name the document and the JSON path ("config.json: process.user.uid: expected a
 * non-negative integer"). Absent members and JSON null both read as "not set".
 */
#ifndef REAPER_JSON_UTIL_H
#define REAPER_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "annotations.h"
#include "cleanup.h"
#include "err.h"
#include "jpath.h"

struct jctx {
    const char *doc; /* "config.json", "state.json", ... */
    rerr **err;
};

/* "<doc>: <parent>.<key>: <message>" (parent or key may be empty / NULL). Returns -EINVAL. */
int jerr(const struct jctx *c, const char *parent, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#if defined(__clang_analyzer__) && !defined(REAPER_JSON_UTIL_DEFINITIONS)
/* For scan-build, as for rerr_set in err.h: jerr always returns a negative value. */
#define jerr(...) RERR_NEGATIVE_(jerr(__VA_ARGS__))
#endif

/* Parse text that must be one JSON object; numbers decode as doubles (see json_util.c). */
_must_check_ int jload(const struct jctx *c, const char *text, size_t len, json_t **out);

/* Each leaves *out untouched (or NULL for pointers) when the member is absent or null. */
_must_check_ int jget_object(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                             json_t **out);
_must_check_ int jget_array(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                            json_t **out);
_must_check_ int jget_string(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                             char **out);
_must_check_ int jget_bool(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                           bool *out);
/* Integral number in [0, max]; *present tells whether it was there (may be NULL). */
_must_check_ int jget_u64(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                          uint64_t max, uint64_t *out, bool *present);
_must_check_ int jget_strv(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                           char ***out);
/* Object of strings into a kv array (*n entries). */
_must_check_ int jget_kv(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                         struct kv **out, size_t *n);
/* Array element as uint64 in [0, max]. */
bool json_to_u64(const json_t *v, uint64_t max, uint64_t *out);

json_t *jkv_object(const struct kv *kv, size_t n);
/* Set obj[key] = value (a string), skipping NULL values. */
void jset_str(json_t *obj, const char *key, const char *value);
/* Compact serialisation (caller frees). */
char *jdump(json_t *obj);

#endif
