/*
 * reaper-checkpoint.json, Reaper's part of a checkpoint image directory (next to CRIU's images):
 *   {"version":1,
 *    "id":"c1", "pid":1234,                     the checkpointed container and its init
 *    "pids":[1234,1240],                        its process tree when dumped (restored as is)
 *    "created":"2026-01-01T00:00:00.000000000Z",
 *    "namespace":"default", "overlay_name":"x", its overlay (overlay_name absent: the default)
 *    "dns_mode":"host", "terminal":false,
 *    "stdio":["/dev/null","pipe:[123]","pipe:[123]"],   readlink of /proc/PID/fd/0..2
 *    "options":{"leave_running":false,"tcp_established":false,"file_locks":false,
 *               "ext_unix_sk":false},
 *    "criu":{"path":"/usr/sbin/criu","version":"4.2"},
 *    "external_mounts":["/etc/hostname","/dev/shm"]}  the container's bind mounts, stored in
 *                                               CRIU's images keyed by destination (absent in
 *                                               older images: CRIU binds the old sources)
 */
#ifndef REAPER_CHECKPOINT_META_H
#define REAPER_CHECKPOINT_META_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "checkpoint.h"
#include "config.h"
#include "err.h"

#define CHECKPOINT_META_FILE    "reaper-checkpoint.json"
#define CHECKPOINT_META_VERSION 1

struct checkpoint_meta {
    char *id;
    pid_t pid;
    pid_t *pids; /* the tree's pids when dumped (n_pids 0: only pid is known) */
    size_t n_pids;
    char *created;
    char *k8s_namespace;
    char *overlay_name; /* NULL: the namespace's default overlay */
    enum dns_mode dns_mode;
    bool terminal;
    char *stdio[3]; /* NULL when unknown */
    /* The flags of the dump; image_path/work_path are not recorded (the image can move). */
    struct checkpoint_opts opts;
    char *criu_path, *criu_version;
    char **ext_mounts; /* destinations (= CRIU keys) of its bind mounts; NULL in older images */
};

char *checkpoint_meta_to_json(const struct checkpoint_meta *m);
/* doc names the file in errors. Unknown members are ignored; a wrong version is -EINVAL. */
_must_check_ int checkpoint_meta_parse(const char *doc, const char *json, size_t len,
                                       struct checkpoint_meta **out, rerr **err);
_must_check_ int checkpoint_meta_write(const char *image_dir, const struct checkpoint_meta *m,
                                       rerr **err);
/* -ENOENT naming the file when the directory has no metadata. */
_must_check_ int checkpoint_meta_read(const char *image_dir, struct checkpoint_meta **out,
                                      rerr **err);
void checkpoint_meta_free(struct checkpoint_meta *m);

/* True if the directory holds CRIU images of a dump (inventory.img). */
bool checkpoint_has_images(const char *image_dir);

#endif
