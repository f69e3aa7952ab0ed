/*
 * A Task Checkpoint request as containerd sends it, mapped to the library's checkpoint_opts.
 * containerd 1.6's ctr sends options only for runc runtimes (none for Reaper: the image goes to
 * the request's path, a temp dir containerd then stores as a checkpoint image); its Go client
 * (container.Checkpoint), CRI in 1.7+ and ctr 2.x send containerd.runc.v1.CheckpointOptions,
 * whose image_path (when set) replaces the path as the image directory.
 */
#ifndef REAPER_SHIM_CKPT_OPTS_H
#define REAPER_SHIM_CKPT_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "err.h"

struct ckpt_request {
    struct checkpoint_opts opts; /* its strings point into the fields below */
    char *image_path, *work_path;
};

/*
 * path: CheckpointTaskRequest.path; type_url/value/len: its options Any (type_url NULL or ""
 * when absent). Unknown option types, namespaces CRIU would have to leave empty, an invalid
 * cgroups mode and a relative path are refused (-EINVAL, naming the field).
 */
_must_check_ int ckpt_request_parse(const char *path, const char *type_url, const uint8_t *value,
                                    size_t len, struct ckpt_request *out, rerr **err);
void ckpt_request_free(struct ckpt_request *r);

#endif
