#include "ckpt_opts.h"
#include "cleanup.h"
#include "util.h"

#include "runc.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The v2 runc shim's options and the v1 runtime's have the same fields and numbers. */
static const char *const option_types[] = {
    "containerd.runc.v1.CheckpointOptions",
    "containerd.linux.runc.CheckpointOptions",
};

/* typeurl writes the bare message name; other encoders prefix "<host>/". */
static bool is_option_type(const char *type_url)
{
    const char *slash = strrchr(type_url, '/');
    const char *name = slash ? slash + 1 : type_url;
    for (size_t i = 0; i < ARRAY_SIZE(option_types); i++)
        if (strcmp(name, option_types[i]) == 0)
            return true;
    return false;
}

/* Reaper does not move workloads into cgroups of their own: any valid mode means "as they are". */
static bool valid_cgroups_mode(const char *mode)
{
    static const char *const modes[] = {"", "soft", "full", "strict", "ignore"};
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
        if (strcmp(mode, modes[i]) == 0)
            return true;
    return false;
}

static _must_check_ int map_options(const Reaper__Runc__CheckpointOptions *o, const char **image,
                                    struct ckpt_request *out, rerr **err)
{
    if (o->n_empty_namespaces > 0)
        return rerr_setx(err, EINVAL,
                         "checkpoint option empty_namespaces (%s): not supported, a Reaper "
                         "workload shares its namespaces with the host or its pod",
                         o->empty_namespaces[0]);
    if (!valid_cgroups_mode(o->cgroups_mode))
        return rerr_setx(err, EINVAL,
                         "checkpoint option cgroups_mode \"%s\": not one of soft, "
                         "full, strict, ignore",
                         o->cgroups_mode);
    if (*o->image_path)
        *image = o->image_path;
    if (*o->work_path && o->work_path[0] != '/')
        return rerr_setx(err, EINVAL, "checkpoint option work_path \"%s\": not an absolute path",
                         o->work_path);
    if (*o->work_path)
        out->work_path = xstrdup(o->work_path);
    out->opts.leave_running = !o->exit;
    out->opts.tcp_established = o->open_tcp;
    out->opts.ext_unix_sk = o->external_unix_sockets;
    out->opts.file_locks = o->file_locks;
    return 0;
}

int ckpt_request_parse(const char *path, const char *type_url, const uint8_t *value, size_t len,
                       struct ckpt_request *out, rerr **err)
{
    struct ckpt_request r = {.opts.leave_running = true}; /* runc's default: keep it running */
    const char *image = path;
    Reaper__Runc__CheckpointOptions *o = NULL;
    int ret = 0;
    if (type_url && *type_url) {
        if (!is_option_type(type_url))
            return rerr_setx(err, EINVAL,
                             "checkpoint options of type %s: not supported "
                             "(expected containerd.runc.v1.CheckpointOptions)",
                             type_url);
        o = reaper__runc__checkpoint_options__unpack(NULL, len, value);
        if (o == NULL)
            return rerr_setx(err, EINVAL, "checkpoint options: cannot decode %s", type_url);
        ret = map_options(o, &image, &r, err);
    }
    if (ret == 0 && (image == NULL || *image == '\0'))
        ret = rerr_setx(err, EINVAL, "checkpoint: no image path (neither path nor image_path)");
    else if (ret == 0 && image[0] != '/')
        ret = rerr_setx(err, EINVAL, "checkpoint image path \"%s\": not an absolute path", image);
    if (ret == 0)
        r.image_path = xstrdup(image);
    if (o)
        reaper__runc__checkpoint_options__free_unpacked(o, NULL);
    if (ret < 0) {
        ckpt_request_free(&r);
        return ret;
    }
    r.opts.image_path = r.image_path;
    r.opts.work_path = r.work_path;
    *out = r;
    return 0;
}

void ckpt_request_free(struct ckpt_request *r)
{
    free(r->image_path);
    free(r->work_path);
    r->image_path = r->work_path = NULL;
}
