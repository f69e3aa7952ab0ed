/* A workload's processes (its session plus descendants), signal names and exit statuses. */
#ifndef REAPER_PROC_TREE_H
#define REAPER_PROC_TREE_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* Every pid of a workload: the session led by `leader` plus all descendants of it. */
_must_check_ int proc_tree_pids(pid_t leader, pid_t **pids, size_t *n, rerr **err);
/* Send sig to every pid of the tree; ESRCH ignored. Returns the number signalled. */
_must_check_ int proc_tree_kill(pid_t leader, int sig, rerr **err);
/* Send sig to every process in the mount namespace of `member` when that namespace is a private
 * one (not the caller's, not init's): a container's init, its execs and all their children,
 * wherever they were reparented. Returns the number signalled (0: not a private namespace). */
_must_check_ int proc_mntns_kill(pid_t member, int sig, rerr **err);

/* "KILL", "SIGKILL", "9" -> 9. -EINVAL on anything else. */
_must_check_ int signal_parse(const char *s, int *sig);
/* Wait status -> exit status as containerd reports it (128+N for signal N). */
int exit_status_from_wait(int wstatus);

#endif
