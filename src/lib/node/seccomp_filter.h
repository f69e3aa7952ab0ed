/*
 * linux.seccomp (RuntimeDefault and Localhost profiles reach the runtime as this object):
 * compiled with libseccomp into a BPF program in the parent, so errors are reported before the
 * fork and the child only installs it. No linux.seccomp: no filter (Unconfined).
 */
#ifndef REAPER_SECCOMP_FILTER_H
#define REAPER_SECCOMP_FILTER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct seccomp_prog {
    struct sock_filter *insns;
    unsigned short len;
    unsigned flags; /* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags */
};

/* OCI action name (+ errnoRet, or -1 for the default EPERM) to a libseccomp action. -EINVAL
 * for an unknown action, -ENOTSUP for SCMP_ACT_NOTIFY (needs a listener Reaper has not). */
_must_check_ int seccomp_action_from_name(const char *name, int errno_ret, uint32_t *action);
/* OCI operator name ("SCMP_CMP_EQ", ...) to libseccomp's enum value; -EINVAL if unknown. */
_must_check_ int seccomp_op_from_name(const char *name, int *op);

/* json: the linux.seccomp object as text. Errors name the field ("linux.seccomp.syscalls[2]
 * .action: unknown action ..."). On success *out owns the program. */
_must_check_ int seccomp_compile(const char *json, size_t len, struct seccomp_prog *out,
                                 rerr **err);
void seccomp_prog_clear(struct seccomp_prog *p);
/* Bytes to store a program in a container's state (flags, then the instructions); caller
 * frees. deserialize checks the size and fills *out only on success. */
char *seccomp_prog_serialize(const struct seccomp_prog *p, size_t *len);
_must_check_ int seccomp_prog_deserialize(const char *buf, size_t len, struct seccomp_prog *out,
                                          rerr **err);
/* Child: install the program (needs no_new_privs or CAP_SYS_ADMIN). */
_must_check_ int seccomp_prog_install(const struct seccomp_prog *p, rerr **err);

#endif
