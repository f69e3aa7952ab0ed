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

struct spawn_request {
    const struct reaper_config *cfg;
    const struct oci_process *proc;
    /* Init processes: the overlay to join and the per-container mounts to apply. */
    const struct workload_identity *identity;
    const struct oci_mount *mounts;
    size_t n_mounts;
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
int process_spawn(const struct spawn_request *req, pid_t *pid, int *pidfd, rerr **err);

/* Search PATH (from the process env, else a default) for args[0] as execvpe would. */
int process_resolve_executable(const struct oci_process *proc, char **path, rerr **err);

/* Every pid of a workload: the session led by `leader` plus all descendants of it. */
int proc_tree_pids(pid_t leader, pid_t **pids, size_t *n, rerr **err);
/* Send sig to every pid of the tree; ESRCH ignored. Returns the number signalled. */
int proc_tree_kill(pid_t leader, int sig, rerr **err);

/* "KILL", "SIGKILL", "9" -> 9. -EINVAL on anything else. */
int signal_parse(const char *s, int *sig);
/* Wait status -> exit status as containerd reports it (128+N for signal N). */
int exit_status_from_wait(int wstatus);

#endif
