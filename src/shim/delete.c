/*
 * `containerd-shim-reaper-v2 delete`: containerd runs it after every teardown and after a shim
 * died. It must be idempotent and must never touch a live pod shim: it only kills the workload
 * recorded in this container's state (if any is left) and removes that state.
 */
#include "cleanup.h"
#include "container.h"
#include "pb.h"
#include "shim.h"
#include "util.h"

#include "task.pb-c.h"
#include "types.pb-c.h"

#include <errno.h>
#include <stdio.h>

int shim_delete(const struct shim_opts *o, const struct reaper_config *cfg, rerr **err)
{
    if (o->id == NULL)
        return rerr_setx(err, EINVAL, "delete: -id is required");
    struct container_state *st = NULL;
    enum container_status status;
    uint32_t pid = 0, exit_status = 137; /* what the runc shim reports: killed */
    if (container_state(cfg, o->id, &st, &status, NULL) == 0) {
        pid = (uint32_t)st->pid;
        if (st->has_exit)
            exit_status = (uint32_t)st->exit_status;
        state_free(st);
    }
    rerr *derr = NULL;
    int r = container_delete(cfg, o->id, true, &derr);
    if (r < 0 && r != -ENOENT)
        fprintf(stderr, "delete %s: %s\n", o->id, rerr_msg(derr)); /* warnings: stderr */
    rerr_free(derr);
    shim_socket_remove_stale(o->bundle ? o->bundle : ".");

    Reaper__Types__Timestamp at = pb_timestamp_now();
    Reaper__Task__DeleteResponse resp = REAPER__TASK__DELETE_RESPONSE__INIT;
    resp.pid = pid, resp.exit_status = exit_status, resp.exited_at = &at;
    size_t n;
    _cleanup_free_ uint8_t *buf = pb_pack(&resp.base, &n);
    if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) != 0)
        return rerr_set(err, errno, "write DeleteResponse");
    return 0;
}
