/*
 * Spawning a workload process: fork, set it up completely (overlay, mounts, stdio or terminal,
 * rlimits, cwd, user), report setup errors back to the parent, then optionally block until
 * released, then exec. The parent learns the pid and a pidfd; it never sleeps or polls.
 */
#ifndef REAPER_PROCESS_H
#define REAPER_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "annotations.h"
#include "config.h"
#include "err.h"
#include "oci_spec.h"
#include "seccomp_filter.h"

struct spawn_request {
    const struct reaper_config *cfg;
    const struct oci_process *proc;
    /* Init processes: the overlay to join and the per-container mounts to apply. */
    const struct workload_identity *identity;
    const struct oci_mount *mounts;
    size_t n_mounts;
    /* Init processes: restrictions of its private mount namespace (mount_restrict.h). */
    bool readonly_root;
    char *const *masked_paths; /* NULL: none */
    char *const *readonly_paths;
    /* Both: the container's compiled linux.seccomp, or NULL for none. */
    const struct seccomp_prog *seccomp;
    /* Exec processes: join the mount namespace of this (running) pid instead. 0 for init. */
    pid_t join_pid;
    /* fds to install as 0,1,2 in the child; -1 means /dev/null. Ignored when terminal. */
    int stdio[3];
    /* proc->terminal: connected unix socket that receives the pty master, or -1 to error. */
    int console_sock;
    /* O_PATH fd of a FIFO: the child opens it for writing (blocking until a reader opens it),
     * writes one byte, then execs. -1: exec at once. */
    int release_fd;
};

/* On success *pid and *pidfd (O_CLOEXEC; -1 if pidfd_open is unavailable) are set. */
_must_check_ int process_spawn(const struct spawn_request *req, pid_t *pid, int *pidfd, rerr **err);

/* In a forked child: undo whatever the caller (the shim's signalfd setup) did to signals. */
void process_reset_signals(void);

/* A wait status as words: "exit status 1", "killed by signal 9". */
void process_describe_wait(int ws, char *buf, size_t len);

/* Search PATH (from the process env, else a default) for args[0] as execvpe would. */
_must_check_ int process_resolve_executable(const struct oci_process *proc, char **path,
                                            rerr **err);

#endif
