/* The pod-security decisions: capability rule, refusals, seccomp compilation, kernel floor. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "err.h"
#include "kernel.h"
#include "oci_spec.h"
#include "seccomp_filter.h"
#include "security.h"
#include "util.h"

#define assert_contains(haystack, needle)                                                          \
    do {                                                                                           \
        if (strstr((haystack), (needle)) == NULL)                                                  \
            fail_msg("\"%s\" does not contain \"%s\"", (haystack), (needle));                      \
    } while (0)

#define BIT(c) (UINT64_C(1) << (c))

static struct oci_spec *parse_ok(const char *json)
{
    struct oci_spec *s = NULL;
    rerr *e = NULL;
    int r = oci_spec_parse(json, strlen(json), &s, &e);
    if (r < 0)
        fail_msg("parse: %s", rerr_msg(e));
    return s;
}

/* A spec whose three capability sets (bounding, permitted, effective) are `caps` (a JSON list). */
static struct oci_spec *spec_with_caps(const char *caps)
{
    _cleanup_free_ char *json = xasprintf(
        "{\"process\":{\"args\":[\"true\"],\"capabilities\":{\"bounding\":%s,\"permitted\":%s,"
        "\"effective\":%s}}}",
        caps, caps, caps);
    return parse_ok(json);
}

#define CONTAINERD_DEFAULT                                                                         \
    "\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\","              \
    "\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","               \
    "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\""

static void test_capability_names(void **state)
{
    assert_int_equal(capability_from_name("CAP_CHOWN"), CAP_CHOWN);
    assert_int_equal(capability_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
    assert_int_equal(capability_from_name("CAP_CHECKPOINT_RESTORE"), CAP_CHECKPOINT_RESTORE);
    assert_int_equal(capability_from_name("CAP_NOPE"), -1);
    assert_int_equal(capability_from_name("SYS_ADMIN"), -1); /* CRI's spelling never reaches us */
}

static void test_parse_caps_into_sets(void **state)
{
    struct oci_spec *s = parse_ok("{\"process\":{\"args\":[\"x\"],\"capabilities\":{"
                                  "\"bounding\":[\"CAP_KILL\",\"CAP_SYS_ADMIN\"],"
                                  "\"effective\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]}}}");
    const struct oci_caps *c = &s->process.caps;
    assert_true(c->present);
    assert_int_equal(c->bounding, BIT(CAP_KILL) | BIT(CAP_SYS_ADMIN));
    assert_int_equal(c->effective, BIT(CAP_KILL));
    assert_int_equal(c->permitted, 0);
    assert_int_equal(c->inheritable, 0);
    assert_int_equal(c->ambient, BIT(CAP_KILL));
    oci_spec_free(s);

    s = parse_ok("{\"process\":{\"args\":[\"x\"]}}");
    assert_false(s->process.caps.present);
    assert_false(caps_restricted(&s->process.caps));
    oci_spec_free(s);
}

static void test_parse_unknown_capability_is_not_granted(void **state)
{
    struct oci_spec *s = parse_ok("{\"process\":{\"args\":[\"x\"],\"capabilities\":{"
                                  "\"bounding\":[\"CAP_KILL\",\"CAP_FLY\"]}}}");
    assert_int_equal(s->process.caps.bounding, BIT(CAP_KILL));
    oci_spec_free(s);
    struct oci_spec *bad = NULL;
    _cleanup_rerr_ rerr *e = NULL;
    const char *json = "{\"process\":{\"args\":[\"x\"],\"capabilities\":{\"bounding\":[7]}}}";
    assert_int_equal(oci_spec_parse(json, strlen(json), &bad, &e), -EINVAL);
    assert_contains(rerr_msg(e), "process.capabilities.bounding");
}

static void test_containerd_default_is_not_restricted(void **state)
{
    struct oci_spec *s = spec_with_caps("[" CONTAINERD_DEFAULT "]");
    assert_int_equal(s->process.caps.bounding, caps_containerd_default());
    assert_false(caps_restricted(&s->process.caps));
    oci_spec_free(s);
}

static void test_superset_is_not_restricted(void **state)
{
    /* add: [NET_ADMIN], and privileged (every capability) */
    struct oci_spec *s = spec_with_caps("[" CONTAINERD_DEFAULT ",\"CAP_NET_ADMIN\"]");
    assert_false(caps_restricted(&s->process.caps));
    oci_spec_free(s);
    struct oci_caps all = {.present = true,
                           .bounding = ~UINT64_C(0),
                           .permitted = ~UINT64_C(0),
                           .effective = ~UINT64_C(0)};
    assert_false(caps_restricted(&all));
}

static void test_any_default_missing_is_restricted(void **state)
{
    struct oci_spec *s = spec_with_caps("[]"); /* drop: [ALL] */
    assert_true(caps_restricted(&s->process.caps));
    oci_spec_free(s);
    /* drop: [NET_RAW] add: [SYS_ADMIN] */
    s = spec_with_caps(
        "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\","
        "\"CAP_MKNOD\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","
        "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","
        "\"CAP_AUDIT_WRITE\",\"CAP_SYS_ADMIN\"]");
    assert_true(caps_restricted(&s->process.caps));
    oci_spec_free(s);
    /* One set alone missing a default capability is enough. */
    struct oci_caps c = {.present = true,
                         .bounding = caps_containerd_default(),
                         .permitted = caps_containerd_default(),
                         .effective = caps_containerd_default() & ~BIT(CAP_KILL)};
    assert_true(caps_restricted(&c));
}

static int refused(const char *linux_json, char **msg)
{
    _cleanup_free_ char *json =
        xasprintf("{\"process\":{\"args\":[\"x\"]},\"linux\":%s}", linux_json);
    struct oci_spec *s = parse_ok(json);
    rerr *e = NULL;
    int r = security_check_refused(s, &e);
    *msg = e ? xstrdup(rerr_msg(e)) : NULL;
    rerr_free(e);
    oci_spec_free(s);
    return r;
}

static void test_refusals(void **state)
{
    char *msg = NULL;
    /* containerd's own sysctls for a pod network namespace are not the user's */
    assert_int_equal(refused("{\"sysctl\":{\"net.ipv4.ip_unprivileged_port_start\":\"0\","
                             "\"net.ipv4.ping_group_range\":\"0 2147483647\"}}",
                             &msg),
                     0);
    assert_int_equal(
        refused("{\"sysctl\":{\"net.ipv4.ip_unprivileged_port_start\":\"1024\"}}", &msg), -EINVAL);
    assert_contains(msg, "net.ipv4.ip_unprivileged_port_start");
    free(msg);
    assert_int_equal(refused("{\"sysctl\":{\"kernel.shm_rmid_forced\":\"1\"}}", &msg), -EINVAL);
    assert_contains(msg, "\"kernel.shm_rmid_forced\"");
    assert_contains(msg, "sysctls");
    free(msg);
    assert_int_equal(refused("{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"user\"}]}", &msg),
                     -EINVAL);
    assert_contains(msg, "hostUsers: false");
    free(msg);
    assert_int_equal(
        refused("{\"gidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":1}]}", &msg),
        -EINVAL);
    assert_contains(msg, "hostUsers: false");
    free(msg);
    assert_int_equal(refused("{\"namespaces\":[{\"type\":\"network\",\"path\":\"/x\"}],"
                             "\"uidMappings\":[],\"maskedPaths\":[\"/proc/kcore\"]}",
                             &msg),
                     0);
    assert_null(msg);
}

static void test_linux_section_parsed(void **state)
{
    struct oci_spec *s =
        parse_ok("{\"process\":{\"args\":[\"x\"]},\"root\":{\"path\":\"r\",\"readonly\":true},"
                 "\"hostname\":\"pod-a\",\"linux\":{\"maskedPaths\":[\"/proc/kcore\"],"
                 "\"readonlyPaths\":[\"/proc/sys\",\"/proc/bus\"],"
                 "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\"}}}");
    assert_true(s->root_readonly);
    assert_int_equal(strv_len(s->linux_sec.masked_paths), 1);
    assert_int_equal(strv_len(s->linux_sec.readonly_paths), 2);
    assert_string_equal(s->linux_sec.seccomp_json, "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}");
    oci_spec_free(s);
    s = parse_ok("{\"process\":{\"args\":[\"x\"]}}");
    assert_false(s->root_readonly);
    assert_null(s->linux_sec.seccomp_json);
    oci_spec_free(s);
}

static void test_seccomp_names(void **state)
{
    uint32_t a = 0;
    int op = -1;
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_ALLOW", -1, &a), 0);
    assert_int_equal(a, 0x7fff0000U);
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_ERRNO", -1, &a), 0);
    assert_int_equal(a, 0x00050000U | EPERM); /* errnoRet absent: EPERM, as runc */
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_ERRNO", ENOSYS, &a), 0);
    assert_int_equal(a, 0x00050000U | ENOSYS);
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_KILL", -1, &a), 0);
    assert_int_equal(a, 0U); /* KILL_THREAD */
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_KILL_PROCESS", -1, &a), 0);
    assert_int_equal(a, 0x80000000U);
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_NOTIFY", -1, &a), -ENOTSUP);
    assert_int_equal(seccomp_action_from_name("SCMP_ACT_MAYBE", -1, &a), -EINVAL);
    assert_int_equal(seccomp_op_from_name("SCMP_CMP_MASKED_EQ", &op), 0);
    assert_int_equal(seccomp_op_from_name("SCMP_CMP_EQ", &op), 0);
    assert_int_equal(seccomp_op_from_name("SCMP_CMP_LIKE", &op), -EINVAL);
}

static int compile(const char *json, struct seccomp_prog *p, char **msg)
{
    rerr *e = NULL;
    int r = seccomp_compile(json, strlen(json), p, &e);
    *msg = e ? xstrdup(rerr_msg(e)) : NULL;
    rerr_free(e);
    return r;
}

static void test_seccomp_compile_errors_name_the_field(void **state)
{
    struct seccomp_prog p = {0};
    char *msg = NULL;
    assert_int_equal(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
                             "\"read\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"mkdir\"],"
                             "\"action\":\"SCMP_ACT_PAUSE\"}]}",
                             &p, &msg),
                     -EINVAL);
    assert_contains(msg, "linux.seccomp.syscalls[1].action");
    assert_contains(msg, "SCMP_ACT_PAUSE");
    free(msg);
    assert_int_equal(compile("{\"syscalls\":[]}", &p, &msg), -EINVAL);
    assert_contains(msg, "linux.seccomp.defaultAction: missing");
    free(msg);
    assert_int_equal(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
                             "[\"SCMP_ARCH_VAX\"]}",
                             &p, &msg),
                     -EINVAL);
    assert_contains(msg, "SCMP_ARCH_VAX");
    free(msg);
    assert_int_equal(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
                             "\"read\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
                             &p, &msg),
                     -ENOTSUP);
    assert_contains(msg, "SCMP_ACT_NOTIFY is not supported");
    free(msg);
    assert_int_equal(compile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
                             "\"read\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":1,"
                             "\"value\":1,\"op\":\"SCMP_CMP_SOMETIMES\"}]}]}",
                             &p, &msg),
                     -EINVAL);
    assert_contains(msg, "linux.seccomp.syscalls[0].args[0].op");
    free(msg);
    assert_null(p.insns);
}

/* A profile like containerd's: several arches, unknown syscall names, conditional rules with a
 * repeated index (personality), MASKED_EQ (clone). */
static const char profile[] =
    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
    "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
    "\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],"
    "\"syscalls\":[{\"names\":[\"read\",\"write\",\"exit_group\",\"no_such_syscall_42\"],"
    "\"action\":\"SCMP_ACT_ALLOW\"},"
    "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
    "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
    "{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
    "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
    "{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
    "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}";

static void test_seccomp_compiles_a_containerd_like_profile(void **state)
{
    struct seccomp_prog p = {0};
    char *msg = NULL;
    assert_int_equal(compile(profile, &p, &msg), 0);
    assert_null(msg);
    assert_non_null(p.insns);
    assert_true(p.len > 10);
    assert_int_equal(p.flags, 0);
    /* What an exec reads back from the container's state is the same program. */
    size_t len = 0;
    _cleanup_free_ char *blob = seccomp_prog_serialize(&p, &len);
    struct seccomp_prog back = {0};
    rerr *e = NULL;
    assert_int_equal(seccomp_prog_deserialize(blob, len, &back, &e), 0);
    assert_int_equal(back.len, p.len);
    assert_memory_equal(back.insns, p.insns, p.len * sizeof(*p.insns));
    seccomp_prog_clear(&back);
    assert_int_equal(seccomp_prog_deserialize(blob, len - 3, &back, &e), -EINVAL);
    assert_contains(rerr_msg(e), "not a seccomp program");
    rerr_free(e);
    assert_null(back.insns);
    seccomp_prog_clear(&p);
    assert_null(p.insns);
}

/* The filter really acts: in a child (no_new_privs, so no privilege needed), mkdir is denied
 * with the profile's errno while everything else is allowed. */
static void test_seccomp_filter_takes_effect(void **state)
{
    const char *json = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":["
                       "\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}";
    struct seccomp_prog p = {0};
    char *msg = NULL;
    assert_int_equal(compile(json, &p, &msg), 0);
    char dir[] = "/tmp/reaper-seccomp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *sub = xasprintf("%s/sub", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rerr *e = NULL;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_prog_install(&p, &e) < 0)
            _exit(2);
        _exit(mkdir(sub, 0700) < 0 && errno == EACCES ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    struct stat st;
    assert_int_equal(stat(sub, &st), -1);  /* nothing was created */
    assert_int_equal(mkdir(sub, 0700), 0); /* and the parent is not filtered */
    rmdir(sub);
    rmdir(dir);
    seccomp_prog_clear(&p);
}

static void test_kernel_floor(void **state)
{
    assert_true(kernel_release_at_least("5.12.0", 5, 12));
    assert_true(kernel_release_at_least("6.1.0-18-amd64", 5, 12));
    assert_true(kernel_release_at_least("5.15.0-91-generic", 5, 12));
    assert_false(kernel_release_at_least("5.11.22", 5, 12));
    assert_false(kernel_release_at_least("5.4.0-150-generic", 5, 12));
    assert_false(kernel_release_at_least("4.19.0", 5, 12));
    assert_false(kernel_release_at_least("garbage", 5, 12));
    rerr *e = NULL;
    assert_int_equal(kernel_check(&e), 0); /* the tests run on a supported kernel */
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capability_names),
        cmocka_unit_test(test_parse_caps_into_sets),
        cmocka_unit_test(test_parse_unknown_capability_is_not_granted),
        cmocka_unit_test(test_containerd_default_is_not_restricted),
        cmocka_unit_test(test_superset_is_not_restricted),
        cmocka_unit_test(test_any_default_missing_is_restricted),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_linux_section_parsed),
        cmocka_unit_test(test_seccomp_names),
        cmocka_unit_test(test_seccomp_compile_errors_name_the_field),
        cmocka_unit_test(test_seccomp_compiles_a_containerd_like_profile),
        cmocka_unit_test(test_seccomp_filter_takes_effect),
        cmocka_unit_test(test_kernel_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
