/* The bind mounts of a checkpoint, by destination: listed at dump, mapped to new sources at
 * restore. */
#include "ckpt_mounts.h"
#include "cleanup.h"
#include "mounts.h"
#include "oci_spec.h"
#include "util.h"

#include <errno.h>
#include <string.h>

static _must_check_ int load(const char *bundle, struct oci_spec **spec, rerr **err)
{
    if (bundle == NULL)
        return rerr_setx(err, EINVAL,
                         "the container has no bundle recorded: its mounts are unknown");
    return oci_spec_load(bundle, spec, err);
}

int ckpt_mounts_destinations(const char *bundle, enum dns_mode dns, char ***dests, rerr **err)
{
    _cleanup_spec_ struct oci_spec *spec = NULL;
    int r = load(bundle, &spec, err);
    if (r < 0)
        return r;
    char **v = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct oci_mount *m = &spec->mounts[i];
        if (mounts_should_apply(m, dns, NULL) && !strv_contains(v, m->destination))
            strv_push(&v, m->destination);
    }
    *dests = v;
    return 0;
}

static const char *source_for(const struct oci_spec *spec, enum dns_mode dns, const char *dest)
{
    const char *found = NULL;
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct oci_mount *m = &spec->mounts[i];
        if (mounts_should_apply(m, dns, NULL) && strcmp(m->destination, dest) == 0)
            found = m->source; /* a later mount on it is the one the workload sees */
    }
    return found;
}

int ckpt_mounts_map(const char *bundle, enum dns_mode dns, char *const *dests, struct kv **map,
                    size_t *n, rerr **err)
{
    *map = NULL;
    *n = 0;
    size_t count = 0;
    while (dests && dests[count])
        count++;
    if (count == 0)
        return 0;
    _cleanup_spec_ struct oci_spec *spec = NULL;
    int r = load(bundle, &spec, err);
    if (r < 0)
        return r;
    struct kv *out = xcalloc(count, sizeof(*out));
    for (size_t i = 0; i < count; i++) {
        const char *src = source_for(spec, dns, dests[i]);
        if (src == NULL) {
            kv_free(out, i);
            return rerr_setx(err, ENOENT,
                             "the checkpointed container had a bind mount on %s; the "
                             "container's config.json (%s) has none there: add that mount",
                             dests[i], bundle);
        }
        out[i].key = xstrdup(dests[i]);
        out[i].value = xstrdup(src);
    }
    *map = out;
    *n = count;
    return 0;
}
