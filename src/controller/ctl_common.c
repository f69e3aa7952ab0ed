#include "cleanup.h"
#include "kjson.h"
#include "reconcile.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *owner_reference(const json_t *owner)
{
    return json_pack("{s:s?,s:s?,s:s?,s:s?,s:b,s:b}", "apiVersion", kj_str(owner, "apiVersion"),
                     "kind", kj_str(owner, "kind"), "name", kj_str(owner, "metadata.name"), "uid",
                     kj_str(owner, "metadata.uid"), "controller", 1, "blockOwnerDeletion", 1);
}

bool is_owned_by(const json_t *obj, const json_t *owner)
{
    const char *uid = kj_str(owner, "metadata.uid");
    size_t i;
    json_t *ref;
    json_array_foreach(kj_get(obj, "metadata.ownerReferences"), i, ref)
    {
        const char *u = kj_str(ref, "uid");
        if (u && uid && strcmp(u, uid) == 0 && kj_bool(ref, "controller", false))
            return true;
    }
    return false;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Keep a prefix of at most max bytes that ends in an alphanumeric character. */
static char *trim_prefix(const char *s, size_t max)
{
    size_t n = strnlen(s, max);
    while (n > 0 && !isalnum((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

char *label_value(const char *s)
{
    if (strlen(s) <= 63)
        return xstrdup(s);
    _cleanup_free_ char *p = trim_prefix(s, 54);
    return xasprintf("%s-%08x", p, fnv1a(s));
}

char *join_name(const char *a, const char *b)
{
    char *full = xasprintf("%s-%s", a, b);
    for (char *p = full; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)*p) && *p != '-')
            *p = '-';
    }
    if (strlen(full) <= 63)
        return full;
    _cleanup_free_ char *key = xasprintf("%s/%s", a, b);
    _cleanup_free_ char *p = trim_prefix(full, 54);
    free(full);
    return xasprintf("%s-%08x", p, fnv1a(key));
}

long long ann_int(const json_t *obj, const char *key, long long def)
{
    const char *v = kj_annotation(obj, key);
    int64_t n;
    if (v == NULL || parse_int64(v, 0, INT64_MAX, &n) < 0)
        return def;
    return n;
}

bool has_finalizer(const json_t *obj, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach(kj_get(obj, "metadata.finalizers"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
            return true;
    }
    return false;
}

bool is_deleting(const json_t *obj)
{
    return kj_str(obj, "metadata.deletionTimestamp") != NULL;
}

void ctl_events_add(struct ctl_events *e, const char *type, const char *reason, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    e->v = xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
    e->v[e->n++] = (struct ctl_event){type, reason, msg};
}

void ctl_events_free(struct ctl_events *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].message);
    free(e->v);
    e->v = NULL;
    e->n = 0;
}
