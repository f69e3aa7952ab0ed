/*
 * Checkpoint and restore of a container's process tree with CRIU, an external program (node
 * config key REAPER_CRIU, default "criu" on PATH). The image directory holds CRIU's images plus
 * reaper-checkpoint.json (what Reaper needs to restore: original id, stdio, overlay identity,
 * terminal, options, CRIU version). Shared by the shim, reaper-runtime and reaper-agent.
 */
#ifndef REAPER_CHECKPOINT_H
#define REAPER_CHECKPOINT_H

#include <stdbool.h>
#include <sys/types.h>

#include "annotations.h"
#include "config.h"
#include "err.h"

/* The runc-style options (runc checkpoint/restore flags, containerd's CheckpointOptions). */
struct checkpoint_opts {
    const char *image_path; /* required: created if missing, must be empty of a checkpoint */
    const char *work_path;  /* CRIU logs and work files; NULL = image_path */
    bool leave_running;     /* dump only: keep the workload running (default: it is killed) */
    bool tcp_established;   /* dump and restore */
    bool file_locks;        /* dump and restore */
    bool ext_unix_sk;       /* dump and restore */
};

/* What `criu --version` and `criu check` said, for errors, metrics and the node condition. */
struct criu_info {
    char *path;    /* resolved executable, NULL if not found */
    char *version; /* "4.2", NULL if unknown */
    bool works;    /* `criu check` succeeded */
    char *message; /* one line: "criu 4.2: check ok" or why it does not work */
};
/* Never fails: a missing or broken CRIU is described in *out. */
void criu_probe(const struct reaper_config *cfg, struct criu_info *out);
void criu_info_free(struct criu_info *info);

/*
 * Dump the running container's process tree into opts->image_path and write the metadata file.
 * On failure the workload keeps running and the error carries CRIU's error lines.
 * Without leave_running the workload is killed by the dump; whoever is its parent reaps it.
 */
_must_check_ int container_checkpoint(const struct reaper_config *cfg, const char *id,
                                      const struct checkpoint_opts *opts, rerr **err);

/* The image a container config asks to be restored from: env RESTORE_FROM=<dir> (Kybernate's
 * contract) or annotation reaper.runtime/restore-from. *dir is NULL when it asks for none. */
_must_check_ int restore_source(char *const *env, const struct kv *annotations,
                                size_t n_annotations, char **dir, rerr **err);

/* Check an image directory before anything is created: exists, has reaper-checkpoint.json
 * that parses and CRIU images; the error names what is missing or wrong. */
_must_check_ int checkpoint_image_validate(const char *image_path, rerr **err);

struct container_restore_io {
    int stdio[3];     /* new fds for the workload's 0,1,2 (inherited in place of the old ones) */
    int console_sock; /* terminal containers are refused: -1 */
};
/*
 * Restore a container created with a restore source (container_create recorded it in the
 * state: status created, no process): join/create its overlay, run `criu restore` with the
 * overlay as root and the given stdio, and record the restored init. The restored init is a
 * child of the caller (--restore-sibling), *pidfd as for container_create. opts may be NULL: the
 * image recorded at create (state restore_from) with the flags the dump used. On failure nothing
 * of the restore is left (no process, no mount) and the error carries CRIU's error lines.
 */
_must_check_ int container_restore(const struct reaper_config *cfg, const char *id,
                                   const struct checkpoint_opts *opts,
                                   const struct container_restore_io *io, pid_t *pid, int *pidfd,
                                   rerr **err);

#endif
