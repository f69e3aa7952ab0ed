/* Per-container state under <runtime_root>/<id>/state.json, written atomically. */
#ifndef REAPER_STATE_H
#define REAPER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "annotations.h"
#include "config.h"
#include "err.h"

enum container_status { STATUS_CREATED, STATUS_RUNNING, STATUS_STOPPED, STATUS_PAUSED };

struct container_state {
    char *id;
    char *bundle;
    pid_t pid;
    uint64_t pid_start_time; /* /proc/<pid>/stat field 22: guards against pid reuse */
    char *created;           /* RFC 3339 */
    char *k8s_namespace;
    char *overlay_name; /* NULL for the namespace's default overlay */
    enum dns_mode dns_mode;
    bool terminal;
    bool sandbox;       /* CRI pause container: no real workload */
    bool started;       /* start released the process */
    bool has_exit;      /* exit_status known (recorded by whoever reaped it) */
    int exit_status;    /* 128+N for a signal */
    char *restore_from; /* checkpoint image to restore (container_restore), NULL: none */
    struct kv *annotations;
    size_t n_annotations;
};

/* <root>/<id> (caller frees). */
char *state_dir(const char *root, const char *id);
_must_check_ int state_save(const char *root, const struct container_state *st, rerr **err);
/* -ENOENT with "container <id> does not exist" if missing. */
_must_check_ int state_load(const char *root, const char *id, struct container_state **out,
                            rerr **err);
_must_check_ int state_remove(const char *root, const char *id, rerr **err);
_must_check_ int state_list(const char *root, char ***ids, rerr **err);
void state_free(struct container_state *st);

char *state_to_json(const struct container_state *st);
_must_check_ int state_from_json(const char *json, size_t len, struct container_state **out,
                                 rerr **err);
/* Live status: created (not started), running, paused (stopped by SIGSTOP), or stopped. */
enum container_status state_live_status(const struct container_state *st);
const char *container_status_name(enum container_status s);
/* OCI runtime-spec state object (ociVersion, id, status, pid, bundle, annotations). */
char *state_oci_json(const struct container_state *st, enum container_status status);

#endif
