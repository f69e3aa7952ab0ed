#include "kjson.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *kj_get(const json_t *o, const char *path)
{
    const json_t *cur = o;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, n);
        p += n + (dot ? 1 : 0);
    }
    return (json_t *)cur;
}

const char *kj_str(const json_t *o, const char *path)
{
    return json_string_value(kj_get(o, path));
}

json_int_t kj_int(const json_t *o, const char *path, json_int_t def)
{
    json_t *v = kj_get(o, path);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

bool kj_bool(const json_t *o, const char *path, bool def)
{
    json_t *v = kj_get(o, path);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *kj_obj(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, key, v);
    }
    return v;
}

const char *kj_annotation(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(kj_get(obj, "metadata.annotations"), key));
}

const char *kj_label(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(kj_get(obj, "metadata.labels"), key));
}

char *kj_key(const json_t *obj)
{
    const char *ns = kj_str(obj, "metadata.namespace");
    const char *name = kj_str(obj, "metadata.name");
    if (ns && *ns)
        return xasprintf("%s/%s", ns, name ? name : "");
    return xstrdup(name ? name : "");
}

void kj_split_key(const char *key, char **ns, char **name)
{
    const char *slash = strchr(key, '/');
    *ns = slash ? xstrndup(key, (size_t)(slash - key)) : xstrdup("");
    *name = xstrdup(slash ? slash + 1 : key);
}

const char *kj_condition(const json_t *obj, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(kj_get(obj, "status.conditions"), i, c)
    {
        const char *t = kj_str(c, "type");
        if (t && strcmp(t, type) == 0)
            return kj_str(c, "status");
    }
    return NULL;
}

int kj_parse(const char *buf, size_t len, json_t **out, rerr **err)
{
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY, &je);
    if (j == NULL)
        return rerr_setx(err, EINVAL, "invalid JSON at line %d column %d: %s", je.line, je.column,
                         je.text);
    *out = j;
    return 0;
}

char *kj_dump(const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s == NULL)
        abort();
    return s;
}

/* rfc3339_now() has nanoseconds: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; keep `digits` of them. */
static char *now_with_fraction(size_t digits)
{
    char *t = rfc3339_now();
    char *dot = strchr(t, '.');
    if (dot)
        strcpy(digits ? dot + 1 + digits : dot, "Z");
    return t;
}

char *kj_time_now(void)
{
    return now_with_fraction(0);
}

char *kj_microtime_now(void)
{
    return now_with_fraction(6);
}

int kj_parse_time(const char *s, double *epoch_seconds)
{
    struct tm tm = {0};
    if (s == NULL)
        return -EINVAL;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return -EINVAL;
    double frac = 0;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    long off = 0;
    if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return -EINVAL;
        off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' || p[1] != '\0') {
        return -EINVAL;
    }
    *epoch_seconds = (double)(timegm(&tm) - off) + frac;
    return 0;
}
