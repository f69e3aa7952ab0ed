/* Go-style flags as containerd passes them: -flag value, -flag=value, --flag value. */
#include "shim.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct flag {
    const char *name;
    size_t offset; /* of the char * field; bool flags use is_bool */
    bool is_bool;
};

#define STR_FLAG(n, f)                                                                             \
    {                                                                                              \
        n, offsetof(struct shim_opts, f), false                                                    \
    }
#define BOOL_FLAG(n, f)                                                                            \
    {                                                                                              \
        n, offsetof(struct shim_opts, f), true                                                     \
    }

static const struct flag flags[] = {
    STR_FLAG("namespace", ns),
    STR_FLAG("address", address),
    STR_FLAG("publish-binary", publish_binary),
    STR_FLAG("id", id),
    STR_FLAG("bundle", bundle),
    STR_FLAG("socket", socket),
    BOOL_FLAG("debug", debug),
    BOOL_FLAG("v", version),
    BOOL_FLAG("version", version),
    BOOL_FLAG("info", version), /* 2.x: -info prints runtime info; version is close enough */
};

static const struct flag *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

static _must_check_ int set_flag(struct shim_opts *o, const struct flag *f, const char *value,
                                 rerr **err)
{
    char *base = (char *)o + f->offset;
    if (f->is_bool) {
        bool b = true;
        if (value && !parse_bool(value, &b))
            return rerr_setx(err, EINVAL, "-%s: invalid boolean %s", f->name, value);
        *(bool *)base = b;
        return 0;
    }
    char **field = (char **)base;
    free(*field);
    *field = xstrdup(value);
    return 0;
}

int shim_opts_parse(int argc, char **argv, struct shim_opts *o, rerr **err)
{
    memset(o, 0, sizeof(*o));
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag *f = find_flag(name, len);
        if (f == NULL)
            return rerr_setx(err, EINVAL, "unknown flag %s", argv[i]);
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL && !f->is_bool) {
            if (i + 1 >= argc)
                return rerr_setx(err, EINVAL, "flag -%s needs a value", f->name);
            value = argv[++i];
        }
        int r = set_flag(o, f, value, err);
        if (r < 0)
            return r;
    }
    if (i < argc)
        o->action = xstrdup(argv[i++]);
    if (i < argc)
        return rerr_setx(err, EINVAL, "unexpected argument %s", argv[i]);
    if (o->ns == NULL)
        o->ns = xstrdup("default");
    return 0;
}

void shim_opts_free(struct shim_opts *o)
{
    free(o->ns);
    free(o->address);
    free(o->publish_binary);
    free(o->id);
    free(o->bundle);
    free(o->socket);
    free(o->action);
}
