/* Defines jerr: no analyzer wrapper for it here (json_util.h). */
#define REAPER_JSON_UTIL_DEFINITIONS
#include "json_util.h"
#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int jerr(const struct jctx *c, const char *parent, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    _cleanup_free_ char *path = jpath(parent ? parent : "", key);
    int r = *path ? rerr_setx(c->err, EINVAL, "%s: %s: %s", c->doc, path, msg)
                  : rerr_setx(c->err, EINVAL, "%s: %s", c->doc, msg);
    free(msg);
    return r;
}

/*
 * Integers decode as doubles (JSON_DECODE_INT_AS_REAL) because jansson rejects integers above
 * INT64_MAX outright, and an rlimit of 18446744073709551615 (unlimited) is valid OCI.
 */
int jload(const struct jctx *c, const char *text, size_t len, json_t **out)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &e);
    if (j == NULL)
        return jerr(c, NULL, NULL, "not valid JSON at line %d column %d: %s", e.line, e.column,
                    e.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return jerr(c, NULL, NULL, "expected a JSON object");
    }
    *out = j;
    return 0;
}

static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int jget_object(const struct jctx *c, json_t *obj, const char *parent, const char *key,
                json_t **out)
{
    json_t *v = member(obj, key);
    if (v && !json_is_object(v))
        return jerr(c, parent, key, "expected an object");
    *out = v;
    return 0;
}

int jget_array(const struct jctx *c, json_t *obj, const char *parent, const char *key, json_t **out)
{
    json_t *v = member(obj, key);
    if (v && !json_is_array(v))
        return jerr(c, parent, key, "expected an array");
    *out = v;
    return 0;
}

int jget_string(const struct jctx *c, json_t *obj, const char *parent, const char *key, char **out)
{
    json_t *v = member(obj, key);
    if (v && !json_is_string(v))
        return jerr(c, parent, key, "expected a string");
    free(*out);
    *out = v ? xstrdup(json_string_value(v)) : NULL;
    return 0;
}

int jget_bool(const struct jctx *c, json_t *obj, const char *parent, const char *key, bool *out)
{
    json_t *v = member(obj, key);
    if (v && !json_is_boolean(v))
        return jerr(c, parent, key, "expected true or false");
    if (v)
        *out = json_is_true(v);
    return 0;
}

bool json_to_u64(const json_t *v, uint64_t max, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max)
            return false;
        *out = (uint64_t)i;
        return true;
    }
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    if (!(d >= 0.0))
        return false;
    /* 2^64-1 rounds up to 2^64 as a double: treat anything that large as UINT64_MAX. */
    uint64_t u = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
    if ((u != UINT64_MAX && (double)u != d) || u > max)
        return false;
    *out = u;
    return true;
}

int jget_u64(const struct jctx *c, json_t *obj, const char *parent, const char *key, uint64_t max,
             uint64_t *out, bool *present)
{
    json_t *v = member(obj, key);
    if (present)
        *present = v != NULL;
    if (v == NULL)
        return 0;
    if (!json_to_u64(v, max, out))
        return jerr(c, parent, key, "expected a non-negative integer (at most %llu)",
                    (unsigned long long)max);
    return 0;
}

int jget_strv(const struct jctx *c, json_t *obj, const char *parent, const char *key, char ***out)
{
    json_t *v = member(obj, key);
    strv_free(*out);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return jerr(c, parent, key, "expected an array of strings");
    char **strv = xcalloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            strv_free(strv);
            return jerr(c, parent, key, "expected an array of strings (element %zu is not)", i);
        }
        strv[i] = xstrdup(json_string_value(e));
    }
    *out = strv;
    return 0;
}

int jget_kv(const struct jctx *c, json_t *obj, const char *parent, const char *key, struct kv **out,
            size_t *n)
{
    json_t *v = NULL;
    int r = jget_object(c, obj, parent, key, &v);
    if (r < 0 || v == NULL)
        return r;
    _cleanup_free_ char *path = jpath(parent, key);
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e)
    {
        if (!json_is_string(e))
            return jerr(c, path, k, "expected a string");
    }
    struct kv *kv = xcalloc(json_object_size(v), sizeof(*kv));
    size_t i = 0;
    json_object_foreach(v, k, e)
    {
        kv[i].key = xstrdup(k);
        kv[i++].value = xstrdup(json_string_value(e));
    }
    kv_free(*out, *n);
    *out = kv;
    *n = i;
    return 0;
}

json_t *jkv_object(const struct kv *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

void jset_str(json_t *obj, const char *key, const char *value)
{
    if (value)
        json_object_set_new(obj, key, json_string(value));
}

char *jdump(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (s == NULL)
        abort();
    return s;
}
