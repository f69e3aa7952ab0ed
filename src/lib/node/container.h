/* The OCI verbs over state + process + overlay: what reaper-runtime and the shim call. */
#ifndef REAPER_CONTAINER_H
#define REAPER_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"
#include "oci_spec.h"
#include "state.h"

struct container_create_opts {
    const char *id;
    const char *bundle;
    const char *console_socket; /* path (CLI), or NULL */
    int console_fd;             /* connected socket (shim), or -1 */
    const char *pid_file;       /* or NULL */
    int stdio[3];               /* fds for the workload's 0,1,2; -1 = /dev/null */
    /* Checkpoint image to restore from (`restore`, the shim's checkpoint path), or NULL: the
     * spec's RESTORE_FROM / reaper.runtime/restore-from if any (checkpoint.h). */
    const char *restore_from;
    /* Out, optional: the image a created-but-not-spawned container waits to be restored from
     * (the caller frees it), NULL for a sandbox or a spawned one. Saves reading state back. */
    char **restore_pending;
};

/* Parse <bundle>/config.json, record state, spawn the process blocked before exec.
 * The process is a child of the caller. Sandbox (pause) specs get no process (pid 0), nor does
 * a container with a restore source: it is validated and recorded, container_restore gives it
 * its process. */
_must_check_ int container_create(const struct reaper_config *cfg,
                                  const struct container_create_opts *opts, pid_t *pid, int *pidfd,
                                  rerr **err);
/* Release a created container: returns once the process has been released to exec, or with an
 * error if it died first. */
_must_check_ int container_start(const struct reaper_config *cfg, const char *id, rerr **err);
_must_check_ int container_state(const struct reaper_config *cfg, const char *id,
                                 struct container_state **st, enum container_status *status,
                                 rerr **err);
/* Signal the process group (all: every process of the tree). ESRCH is success. */
_must_check_ int container_kill(const struct reaper_config *cfg, const char *id, int sig, bool all,
                                rerr **err);
/* Remove a stopped container's state; force kills a live one first. Idempotent on missing. */
_must_check_ int container_delete(const struct reaper_config *cfg, const char *id, bool force,
                                  rerr **err);
/* Record the exit status learned by whoever reaped the process (shim, `run`). */
_must_check_ int container_record_exit(const struct reaper_config *cfg, const char *id,
                                       int exit_status, rerr **err);

struct container_exec_opts {
    const char *console_socket;
    int console_fd;
    const char *pid_file;
    int stdio[3];
    int release_fd;       /* -1: run at once */
    bool die_with_parent; /* the shim: its execs die with it (process.h) */
};
/* Spawn a process in the running container's mount namespace (its overlay + mounts). */
_must_check_ int container_exec(const struct reaper_config *cfg, const char *id,
                                const struct oci_process *proc,
                                const struct container_exec_opts *opts, pid_t *pid, int *pidfd,
                                rerr **err);

#endif
