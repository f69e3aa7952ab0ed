/*
 * Internal to checkpoint/restore: finding and running the external `criu` program, the argv of
 * its dump and restore (pure, unit-tested), and reading its log. See checkpoint.h.
 */
#ifndef REAPER_CRIU_H
#define REAPER_CRIU_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "annotations.h"
#include "checkpoint.h"
#include "config.h"
#include "err.h"

#define CRIU_DUMP_LOG    "dump.log"
#define CRIU_RESTORE_LOG "restore.log"
/* How many of CRIU's error lines an error message carries (the last ones: the cause). */
#define CRIU_ERROR_LINES 4

/* cfg->criu (default "criu") as an executable path: looked up on PATH unless it has a '/'.
 * With cfg->criu_mount_ns the name is kept as is: criu_run looks it up in that namespace. */
_must_check_ int criu_resolve(const struct reaper_config *cfg, char **path, rerr **err);

/* One run of criu: in, then what criu_run found out. */
struct criu_run {
    const struct reaper_config *cfg; /* REAPER_CRIU_MOUNT_NS, REAPER_CRIU_TIMEOUT */
    char *const *argv;               /* argv[0]: criu_resolve's path */
    const int *inherit;              /* n_inherit fds (-1: /dev/null) that become 3, 4, ... */
    size_t n_inherit;
    int status;     /* its wait status */
    bool timed_out; /* it ran past cfg->criu_timeout: it and what it forked were killed */
    char *output;   /* its stdout and stderr, NUL-terminated; free it */
};

/*
 * Run criu (in cfg->criu_mount_ns when set, looking argv[0] up on PATH there) and wait for it,
 * at most cfg->criu_timeout seconds. Its only fds are 0 (/dev/null), 1 and 2 (captured into
 * run->output) and the inherited ones. Fails only when criu could not be started; a timeout is
 * a success with run->timed_out set (criu_failure says what it was doing).
 */
_must_check_ int criu_run(struct criu_run *run, rerr **err);
/* Free what criu_run left in *run (for the cleanup attribute). */
void criu_run_clear(struct criu_run *run);
#define _cleanup_criu_run_ __attribute__((cleanup(criu_run_clear)))

/* "4.2" from `criu --version` output ("Version: 4.2\n..."), NULL if absent. */
char *criu_parse_version(const char *output);

/*
 * CRIU's error lines from a log (or its stderr): the last max lines that contain "Error", with
 * their "(00.123456) " timestamp stripped, joined by "; ". Known harmless lines (the
 * RLIMIT_NOFILE one every unprivileged-resource run logs) are skipped. NULL when none.
 */
char *criu_log_errors(const char *log, size_t len, size_t max);

/* The last max lines of a log joined by ';' (where a hung criu stopped); NULL when empty. */
char *criu_log_tail(const char *log, size_t len, size_t max);

/* <dir>/<name> (a CRIU log), NUL-terminated; NULL if it cannot be read. */
char *criu_log_read(const char *dir, const char *name, size_t *len);

/* The pids a dump froze, from its log's "Seized task N" lines (in order); *n is 0 if none. */
void criu_log_seized(const char *log, size_t len, pid_t **pids, size_t *n);

/* `criu --version` of path: "4.2", NULL if it does not say. */
char *criu_version(const struct reaper_config *cfg, const char *path);

/* The error of a failed criu run: -EIO "<what>: criu 4.2 (/path) failed (exit status 1): <its
 * error lines> (log: <work_dir>/<log>)", or -ETIMEDOUT naming the timeout and the last lines
 * of its log when it timed out; version and lines come from the log (CRIU writes its version
 * first), else from its output. */
_must_check_ int criu_failure(const char *what, const struct criu_run *run, const char *work_dir,
                              const char *log, rerr **err);

/* "criu 4.2 (/usr/sbin/criu)" for error messages. */
char *criu_describe(const char *path, const char *version);

/* Inputs of the dump command line. */
struct criu_dump_params {
    const char *criu; /* argv[0] */
    pid_t pid;
    const char *image_dir, *work_dir;
    const struct checkpoint_opts *opts; /* the flags */
    /* Destinations of the container's bind mounts: each is stored in the image as external,
     * keyed by its destination (--external mnt[DEST]:DEST), so a restore can bind it from
     * another source. */
    char *const *ext_mounts;
};
/* `criu dump -t PID -D IMG -W WORK -o dump.log -v4 --external mnt[] --manage-cgroups=ignore`
 * plus the option flags and the keyed external mounts. NULL-terminated; strv_free it. */
char **criu_dump_argv(const struct criu_dump_params *p);

struct criu_restore_params {
    const char *criu;
    const char *image_dir, *work_dir;
    const char *root;    /* --root: the overlay the restored process sees as / */
    const char *pidfile; /* --pidfile */
    const struct checkpoint_opts *opts;
    /* The resources (e.g. "pipe:[123]") handed in as fds 3, 4, ... (--inherit-fd). */
    char *const *inherit;
    /* Keyed external mounts of the image: key (the destination) -> host source to bind
     * (--external mnt[KEY]:SOURCE). */
    const struct kv *ext_mounts;
    size_t n_ext_mounts;
};
char **criu_restore_argv(const struct criu_restore_params *p);

#endif
