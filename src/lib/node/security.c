/*
 * Capabilities and refusals: see security.h for the rule. The apply functions follow runc's
 * order: bounding set while still root, the uid change with the permitted set kept, then the
 * other sets (so a non-root process can keep what the spec grants it, through ambient).
 */
#include "security.h"
#include "util.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
_Static_assert(ARRAY_SIZE(cap_names) == CAP_LAST_CAP + 1, "one name per capability");

int capability_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
        if (strcmp(cap_names[i], name) == 0)
            return (int)i;
    return -1;
}

#define BIT(c) (UINT64_C(1) << (c))

uint64_t caps_containerd_default(void)
{
    return BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FSETID) | BIT(CAP_FOWNER) |
           BIT(CAP_MKNOD) | BIT(CAP_NET_RAW) | BIT(CAP_SETGID) | BIT(CAP_SETUID) |
           BIT(CAP_SETFCAP) | BIT(CAP_SETPCAP) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SYS_CHROOT) |
           BIT(CAP_KILL) | BIT(CAP_AUDIT_WRITE);
}

bool caps_restricted(const struct oci_caps *caps)
{
    if (caps == NULL || !caps->present)
        return false;
    uint64_t def = caps_containerd_default();
    uint64_t granted = caps->bounding & caps->permitted & caps->effective;
    return (granted & def) != def;
}

/* containerd adds these two, with these values, to every pod network namespace's sandbox spec
 * (enable_unprivileged_ports / _icmp): they concern a namespace no Reaper process is in. */
static bool sysctl_is_containerd_default(const struct kv *kv)
{
    return (strcmp(kv->key, "net.ipv4.ip_unprivileged_port_start") == 0 &&
            strcmp(kv->value, "0") == 0) ||
           (strcmp(kv->key, "net.ipv4.ping_group_range") == 0 &&
            strcmp(kv->value, "0 2147483647") == 0);
}

int security_check_refused(const struct oci_spec *spec, rerr **err)
{
    const struct oci_linux *l = &spec->linux_sec;
    for (size_t i = 0; i < l->n_sysctl; i++)
        if (!sysctl_is_containerd_default(&l->sysctl[i]))
            return rerr_setx(err, EINVAL,
                             "linux.sysctl (pod securityContext.sysctls) \"%s\" is refused by "
                             "Reaper: its processes run in the node's namespaces, so it would "
                             "change the node",
                             l->sysctl[i].key);
    if (l->user_namespace || l->id_mappings)
        return rerr_setx(err, EINVAL,
                         "linux.namespaces user / uidMappings (pod hostUsers: false) is refused "
                         "by Reaper: its processes run in the node's user namespace");
    return 0;
}

static bool has_effective_cap(unsigned cap)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capget, &hdr, data) < 0)
        return false;
    return data[cap / 32].effective & (UINT32_C(1) << (cap % 32));
}

int security_check_user_switch(const struct oci_user *u, rerr **err)
{
    bool uid_change = u->uid != geteuid() && !has_effective_cap(CAP_SETUID);
    bool gid_change =
        (u->gid != getegid() || u->n_additional_gids > 0) && !has_effective_cap(CAP_SETGID);
    if (!uid_change && !gid_change)
        return 0;
    return rerr_setx(err, EPERM,
                     "process.user uid %u gid %u (pod securityContext runAsUser/runAsGroup/"
                     "supplementalGroups) needs a user switch, but reaper-runtime runs as uid %u "
                     "gid %u without %s: run it as root",
                     (unsigned)u->uid, (unsigned)u->gid, (unsigned)geteuid(), (unsigned)getegid(),
                     uid_change ? "CAP_SETUID" : "CAP_SETGID");
}

static unsigned last_cap(void)
{
    unsigned v = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (f) {
        if (fscanf(f, "%u", &v) != 1 || v > CAP_LAST_CAP)
            v = CAP_LAST_CAP;
        fclose(f);
    }
    return v;
}

int caps_apply_bounding(const struct oci_caps *caps, rerr **err)
{
    unsigned last = last_cap();
    for (unsigned c = 0; c <= last; c++) {
        if (caps->bounding & BIT(c))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return rerr_set(err, errno, "drop %s from the bounding set", cap_names[c]);
    }
    return 0;
}

int caps_keep_across_setuid(bool keep, rerr **err)
{
    if (prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) < 0)
        return rerr_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
    return 0;
}

int caps_apply_sets(const struct oci_caps *caps, rerr **err)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2] = {{0}};
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(caps->effective >> (32 * i));
        data[i].permitted = (uint32_t)(caps->permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(caps->inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        return rerr_set(err, errno, "capset (process.capabilities)");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return rerr_set(err, errno, "clear the ambient set");
    for (unsigned c = 0; c <= CAP_LAST_CAP; c++)
        if ((caps->ambient & BIT(c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            return rerr_set(err, errno, "raise %s in the ambient set", cap_names[c]);
    return 0;
}
