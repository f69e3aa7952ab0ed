/* The rule table. Order matters: for one field, a rule with a value condition comes before the
 * rule for any value (the first match wins). docs/pod-fields.md shows this table as
 * `reaper-validate --rules` prints it; tests/integration/test_validate.py keeps them equal. */
#include "rules.h"

#include <string.h>

#define E   VERDICT_ENFORCED
#define I   VERDICT_IGNORED
#define R   VERDICT_REFUSED
#define POD SCOPE_POD
#define CTR SCOPE_CONTAINER
#define RPD SCOPE_REAPER

static const char KUBELET[] = "kubelet implements it the same way for every runtime";
static const char SCHEDULER[] = "the scheduler uses it";
static const char NO_CGROUP[] = "no cgroup per pod: nothing limits the process tree";
static const char NODE_HOSTNAME[] = "the process sees the node's hostname";
static const char CONTROLLER[] = "reaper-controller turns it into the Pod it runs";
static const char RUN_AS_GID[] = "the process's gid, also for exec";
static const char RUN_AS_UID[] = "the process's uid, also for exec";
static const char NON_ROOT[] = "kubelet checks the uid";
static const char SECCOMP[] = "RuntimeDefault and Localhost load the filter; Unconfined loads none";
static const char APPARMOR[] = "no AppArmor profile is applied to host processes";
static const char SELINUX[] = "no SELinux label is applied: the process keeps the shim's context";
static const char WINDOWS[] = "Windows only";
static const char CLAIMS[] = "devices of resource claims are not given to host processes";
static const char PULL_ONLY[] = "only for pulling the image, which is never run";
static const char RESOLV_CONF[] =
    "kubelet writes resolv.conf; mounted when the DNS mode is kubernetes (the default)";
static const char PROBE[] = "kubelet; exec probes run in the process's context";
static const char ENV[] = "the process's environment (values resolved by kubelet)";
static const char CAPS[] =
    "the process's capability sets, when the Pod restricts them (docs/pod-fields.md)";

const struct vrule vrules[] = {
    /* pod spec */
    {POD, "runtimeClassName", NULL, E, false, "selects Reaper (reaper-v2)"},
    {POD, "activeDeadlineSeconds", NULL, E, false, KUBELET},
    {POD, "affinity", NULL, E, false, SCHEDULER},
    {POD, "automountServiceAccountToken", NULL, E, false, KUBELET},
    {POD, "dnsConfig", NULL, E, false, RESOLV_CONF},
    {POD, "dnsPolicy", NULL, E, true, RESOLV_CONF},
    {POD, "enableServiceLinks", NULL, E, true, KUBELET},
    {POD, "hostAliases", NULL, E, false, "kubelet writes /etc/hosts; mounted per container"},
    {POD, "hostIPC", "true", E, false, "the process always uses the node's IPC namespace"},
    {POD, "hostIPC", NULL, I, false, "the process always uses the node's IPC namespace"},
    {POD, "hostNetwork", "true", E, false, "the process always uses the node's network"},
    {POD, "hostNetwork", NULL, I, false,
     "the process always uses the node's network: the pod IP does not reach it"},
    {POD, "hostPID", "true", E, false, "the process always uses the node's PID namespace"},
    {POD, "hostPID", NULL, I, false, "the process always uses the node's PID namespace"},
    {POD, "hostUsers", "false", R, false,
     "a user namespace for a host process would need one for the whole node"},
    {POD, "hostUsers", NULL, E, false, "the process always uses the node's user namespace"},
    {POD, "hostname", NULL, I, false, NODE_HOSTNAME},
    {POD, "imagePullSecrets", NULL, I, false, PULL_ONLY},
    {POD, "nodeName", NULL, E, false, SCHEDULER},
    {POD, "nodeSelector", NULL, E, false, SCHEDULER},
    {POD, "os", NULL, E, false, "API validation and scheduling (Linux nodes only)"},
    {POD, "overhead", NULL, E, false, "the scheduler counts it (no cgroup enforces it)"},
    {POD, "preemptionPolicy", NULL, E, true, SCHEDULER},
    {POD, "priority", NULL, E, true, SCHEDULER},
    {POD, "priorityClassName", NULL, E, false, SCHEDULER},
    {POD, "readinessGates", NULL, E, false, KUBELET},
    {POD, "resourceClaims", NULL, I, false, CLAIMS},
    {POD, "restartPolicy", NULL, E, true, KUBELET},
    {POD, "schedulerName", NULL, E, true, SCHEDULER},
    {POD, "schedulingGates", NULL, E, false, SCHEDULER},
    {POD, "serviceAccount", NULL, E, false, KUBELET},
    {POD, "serviceAccountName", NULL, E, false, KUBELET},
    {POD, "setHostnameAsFQDN", NULL, I, false, NODE_HOSTNAME},
    {POD, "shareProcessNamespace", NULL, I, false,
     "every process already shares the node's PID namespace"},
    {POD, "subdomain", NULL, I, false, NODE_HOSTNAME},
    {POD, "terminationGracePeriodSeconds", NULL, E, true,
     "kubelet; Stop sends SIGTERM to the process group, then SIGKILL"},
    {POD, "tolerations", NULL, E, false, SCHEDULER},
    {POD, "topologySpreadConstraints", NULL, E, false, SCHEDULER},
    {POD, "volumes", NULL, E, false,
     "kubelet prepares them; Reaper mounts them per container over the overlay"},
    /* pod securityContext */
    {POD, "securityContext.fsGroup", NULL, E, false,
     "kubelet applies it to volumes; an extra group of every process"},
    {POD, "securityContext.fsGroupChangePolicy", NULL, E, false, KUBELET},
    {POD, "securityContext.runAsGroup", NULL, E, false, RUN_AS_GID},
    {POD, "securityContext.runAsNonRoot", NULL, E, false, NON_ROOT},
    {POD, "securityContext.runAsUser", NULL, E, false, RUN_AS_UID},
    {POD, "securityContext.supplementalGroups", NULL, E, false,
     "the process's extra groups, also for exec"},
    {POD, "securityContext.seccompProfile", NULL, E, false, SECCOMP},
    {POD, "securityContext.sysctls", NULL, R, false,
     "a sysctl set for a host process would change the whole node"},
    {POD, "securityContext.appArmorProfile", NULL, I, false, APPARMOR},
    {POD, "securityContext.seLinuxOptions", NULL, I, false, SELINUX},
    {POD, "securityContext.windowsOptions", NULL, I, false, WINDOWS},
    /* containers[], initContainers[], ephemeralContainers[] */
    {CTR, "name", NULL, E, true, KUBELET},
    {CTR, "command", NULL, E, false, "the program runs from the host (or the overlay)"},
    {CTR, "args", NULL, E, false, "passed to the program"},
    {CTR, "env", NULL, E, false, ENV},
    {CTR, "envFrom", NULL, E, false, ENV},
    {CTR, "workingDir", NULL, E, false, "the process's working directory (host or overlay)"},
    {CTR, "image", NULL, I, true,
     "pulled by kubelet, never run: the command is resolved on the host"},
    {CTR, "imagePullPolicy", NULL, I, true, PULL_ONLY},
    {CTR, "lifecycle", NULL, E, false, "kubelet runs exec hooks in the process's context"},
    {CTR, "livenessProbe", NULL, E, false, PROBE},
    {CTR, "readinessProbe", NULL, E, false, PROBE},
    {CTR, "startupProbe", NULL, E, false, PROBE},
    {CTR, "ports", NULL, I, false, "informational: the process binds on the node's network"},
    {CTR, "resizePolicy", NULL, I, false, NO_CGROUP},
    {CTR, "resources.requests", NULL, E, false, SCHEDULER},
    {CTR, "resources.limits", NULL, I, false, NO_CGROUP},
    {CTR, "resources.claims", NULL, I, false, CLAIMS},
    {CTR, "restartPolicy", NULL, E, false, KUBELET},
    {CTR, "stdin", NULL, E, false, "a pipe (or the pty with tty)"},
    {CTR, "stdinOnce", NULL, E, false, KUBELET},
    {CTR, "tty", NULL, E, false, "a pty, resizable"},
    {CTR, "targetContainerName", NULL, E, false,
     "every process shares the node's PID namespace, the target's too"},
    {CTR, "terminationMessagePath", NULL, E, true, "mounted per container"},
    {CTR, "terminationMessagePolicy", NULL, E, true, KUBELET},
    {CTR, "volumeDevices", NULL, I, false, "no device nodes are made: use the host's /dev"},
    {CTR, "volumeMounts", NULL, E, false,
     "mounted per container in a private mount namespace over the overlay"},
    /* container securityContext */
    {CTR, "securityContext.allowPrivilegeEscalation", NULL, E, false,
     "false sets no_new_privs, also for exec"},
    {CTR, "securityContext.capabilities.add", NULL, E, false, CAPS},
    {CTR, "securityContext.capabilities.drop", NULL, E, false, CAPS},
    {CTR, "securityContext.privileged", "true", E, false,
     "a root process already has every capability and the node's devices"},
    {CTR, "securityContext.privileged", NULL, I, false,
     "a root process keeps every capability unless capabilities.drop is set"},
    {CTR, "securityContext.procMount", NULL, I, false,
     "/proc is the node's (masked paths apply only to restricted containers)"},
    {CTR, "securityContext.readOnlyRootFilesystem", NULL, E, false,
     "true makes the overlay read-only (EROFS); volumes keep their mode"},
    {CTR, "securityContext.runAsGroup", NULL, E, false, RUN_AS_GID},
    {CTR, "securityContext.runAsNonRoot", NULL, E, false, NON_ROOT},
    {CTR, "securityContext.runAsUser", NULL, E, false, RUN_AS_UID},
    {CTR, "securityContext.seccompProfile", NULL, E, false, SECCOMP},
    {CTR, "securityContext.appArmorProfile", NULL, I, false, APPARMOR},
    {CTR, "securityContext.seLinuxOptions", NULL, I, false, SELINUX},
    {CTR, "securityContext.windowsOptions", NULL, I, false, WINDOWS},
    /* reaper.io ReaperPod and ReaperDaemonJob: the CRDs declare only what the controller runs */
    {RPD, "command", NULL, E, false, CONTROLLER},
    {RPD, "args", NULL, E, false, CONTROLLER},
    {RPD, "env", NULL, E, false, CONTROLLER},
    {RPD, "workingDir", NULL, E, false, CONTROLLER},
    {RPD, "volumes", NULL, E, false, CONTROLLER},
    {RPD, "runAsUser", NULL, E, false, CONTROLLER},
    {RPD, "runAsGroup", NULL, E, false, CONTROLLER},
    {RPD, "supplementalGroups", NULL, E, false, CONTROLLER},
    {RPD, "dnsMode", NULL, E, false, CONTROLLER},
    {RPD, "overlayName", NULL, E, false, CONTROLLER},
    {RPD, "nodeName", NULL, E, false, CONTROLLER},
    {RPD, "nodeSelector", NULL, E, false, CONTROLLER},
    {RPD, "tolerations", NULL, E, false, CONTROLLER},
    {RPD, "restartPolicy", NULL, E, false, CONTROLLER},
    {RPD, "triggerOn", NULL, E, false, CONTROLLER},
    {RPD, "after", NULL, E, false, CONTROLLER},
    {RPD, "retryLimit", NULL, E, false, CONTROLLER},
    {RPD, "concurrencyPolicy", NULL, E, false, CONTROLLER},
};
const size_t vrules_len = sizeof(vrules) / sizeof(vrules[0]);

const struct vrule vrule_unknown_pod = {
    POD, "*", NULL, I, false, "not in Reaper's rule table (a newer Kubernetes field?)"};
const struct vrule vrule_unknown_reaper = {
    RPD, "*", NULL, I, false, "not in the CRD schema: the API server drops it"};

const char *verdict_name(enum verdict v)
{
    static const char *const names[] = {"enforced", "ignored", "refused"};
    return names[v];
}

const char *scope_prefix(enum scope s)
{
    static const char *const prefixes[] = {"spec.", "spec.containers[*].", "spec."};
    return prefixes[s];
}

const char *scope_name(enum scope s)
{
    static const char *const names[] = {"pod", "container", "reaper.io"};
    return names[s];
}

bool rule_value_matches(const struct vrule *r, const json_t *value)
{
    if (!r->value)
        return true;
    json_t *want = json_loads(r->value, JSON_DECODE_ANY, NULL);
    bool eq = want && json_equal(want, value);
    json_decref(want);
    return eq;
}

const struct vrule *rule_find(enum scope s, const char *field, const json_t *value)
{
    for (size_t i = 0; i < vrules_len; i++) {
        const struct vrule *r = &vrules[i];
        if (r->scope == s && strcmp(r->field, field) == 0 && rule_value_matches(r, value))
            return r;
    }
    return NULL;
}

bool rule_has_children(enum scope s, const char *field)
{
    size_t n = strlen(field);
    for (size_t i = 0; i < vrules_len; i++) {
        const struct vrule *r = &vrules[i];
        if (r->scope == s && strncmp(r->field, field, n) == 0 && r->field[n] == '.')
            return true;
    }
    return false;
}
