#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert_contains.h"
#include "cleanup.h"
#include "err.h"
#include "oci_spec.h"
#include "util.h"

/* Parse a document the test expects to be valid. */
static struct oci_spec *parse_ok(const char *json)
{
    struct oci_spec *s = NULL;
    rerr *e = NULL;
    int r = oci_spec_parse(json, strlen(json), &s, &e);
    if (r < 0)
        fail_msg("%s: %s", json, rerr_msg(e));
    return s;
}

static const char full_spec[] =
    "{\"ociVersion\":\"1.0.2\",\n"
    " \"process\":{\"terminal\":true,\"consoleSize\":{\"height\":24,\"width\":80},\n"
    "  \"user\":{\"uid\":1000,\"gid\":100,\"additionalGids\":[4,27],\"umask\":18},\n"
    "  \"args\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"A=b\"],\n"
    "  \"cwd\":\"/work\",\"noNewPrivileges\":true,\"apparmorProfile\":\"x\",\n"
    "  \"capabilities\":{\"bounding\":[\"CAP_KILL\"]},\n"
    "  \"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096},\n"
    "   {\"type\":\"RLIMIT_CORE\",\"soft\":18446744073709551615,\"hard\":18446744073709551615}]},\n"
    " \"root\":{\"path\":\"rootfs\",\"readonly\":true},\n"
    " \"hostname\":\"ignored\",\n"
    " \"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},\n"
    "  {\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/data\",\n"
    "   \"options\":[\"rbind\",\"ro\",\"rslave\",\"nosuid\"]}],\n"
    " \"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\",\"a\":\"b\"},\n"
    " \"linux\":{\"namespaces\":[{\"type\":\"pid\"}]}}";

static void test_full_spec(void **state)
{
    struct oci_spec *s = parse_ok(full_spec);
    struct oci_process *p = &s->process;
    assert_true(p->terminal);
    assert_int_equal(p->console_height, 24);
    assert_int_equal(p->console_width, 80);
    assert_int_equal(p->user.uid, 1000);
    assert_int_equal(p->user.gid, 100);
    assert_int_equal(p->user.n_additional_gids, 2);
    assert_int_equal(p->user.additional_gids[1], 27);
    assert_true(p->user.has_umask);
    assert_int_equal(p->user.umask, 022);
    assert_int_equal(strv_len(p->args), 3);
    assert_string_equal(p->args[2], "echo hi");
    assert_int_equal(strv_len(p->env), 2);
    assert_string_equal(p->cwd, "/work");
    assert_true(p->no_new_privileges);
    assert_int_equal(p->n_rlimits, 2);
    assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(p->rlimits[0].soft, 1024);
    assert_int_equal(p->rlimits[0].hard, 4096);
    assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
    assert_true(p->rlimits[1].soft == UINT64_MAX);
    assert_true(p->rlimits[1].hard == RLIM_INFINITY);
    assert_string_equal(s->root_path, "rootfs");
    assert_int_equal(s->n_mounts, 2);
    assert_string_equal(s->mounts[0].destination, "/proc");
    assert_string_equal(s->mounts[0].type, "proc");
    assert_false(s->mounts[0].bind);
    assert_int_equal(strv_len(s->mounts[0].options), 0);
    struct oci_mount *m = &s->mounts[1];
    assert_string_equal(m->source, "/srv/data");
    assert_true(m->bind);
    assert_true(m->recursive);
    assert_true(m->readonly);
    assert_int_equal(m->propagation, MS_SLAVE | MS_REC);
    assert_int_equal(strv_len(m->options), 4);
    assert_int_equal(s->n_annotations, 2);
    assert_string_equal(kv_get(s->annotations, s->n_annotations, "a"), "b");
    assert_true(oci_spec_is_sandbox(s));
    oci_spec_free(s);
}

static void test_minimal_defaults(void **state)
{
    struct oci_spec *s = parse_ok("{\"process\":{\"args\":[\"true\"]}}");
    assert_string_equal(s->process.cwd, "/");
    assert_non_null(s->process.env);
    assert_int_equal(strv_len(s->process.env), 0);
    assert_false(s->process.terminal);
    assert_int_equal(s->process.user.uid, 0);
    assert_false(s->process.user.has_umask);
    assert_int_equal(s->process.n_rlimits, 0);
    assert_null(s->root_path);
    assert_int_equal(s->n_mounts, 0);
    assert_int_equal(s->n_annotations, 0);
    assert_false(oci_spec_is_sandbox(s));
    oci_spec_free(s);
    /* null reads as absent, as in Go */
    oci_spec_free(
        parse_ok("{\"process\":{\"args\":[\"true\"],\"env\":null,\"user\":null},\"mounts\":null}"));
    oci_spec_free(NULL);
    oci_process_free(NULL);
}

#define PROC(x) "{\"process\":{\"args\":[\"a\"]," x "}}"

/* Each document is rejected with a message naming the field. */
static const struct {
    const char *json, *message;
} bad_specs[] = {
    {"{\n\"process\":\n  {\"args\" [", "config.json: not valid JSON at line 3 column"},
    {"[1]", "config.json: expected a JSON object"},
    {"{}", "config.json: process: missing"},
    {"{\"process\":[]}", "config.json: process: expected an object"},
    {"{\"process\":{}}", "config.json: process.args: missing or empty"},
    {"{\"process\":{\"args\":[]}}", "config.json: process.args: missing or empty"},
    {"{\"process\":{\"args\":[\"a\",1]}}",
     "config.json: process.args: expected an array of strings"},
    {PROC("\"user\":{\"uid\":-1}"),
     "config.json: process.user.uid: expected a non-negative integer"},
    {PROC("\"user\":{\"uid\":\"0\"}"), "process.user.uid: expected a non-negative"},
    {PROC("\"user\":{\"gid\":1.5}"), "process.user.gid: expected a non-negative"},
    {PROC("\"user\":{\"gid\":4294967295}"), "process.user.gid: expected"},
    {PROC("\"user\":{\"additionalGids\":[1,-2]}"),
     "process.user.additionalGids[1]: expected a non-negative integer"},
    {PROC("\"user\":{\"umask\":4096}"), "process.user.umask: expected"},
    {PROC("\"user\":7"), "process.user: expected an object"},
    {PROC("\"terminal\":\"yes\""), "process.terminal: expected true or false"},
    {PROC("\"consoleSize\":{\"height\":-1}"), "process.consoleSize.height: expected"},
    {PROC("\"cwd\":\"work\""), "process.cwd: \"work\" is not an absolute path"},
    {PROC("\"cwd\":5"), "process.cwd: expected a string"},
    {PROC("\"env\":\"A=b\""), "process.env: expected an array of strings"},
    {PROC("\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]"),
     "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\""},
    {PROC("\"rlimits\":[{\"soft\":1,\"hard\":1}]"), "process.rlimits[0].type: missing"},
    {PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1}]"),
     "process.rlimits[0].soft: missing"},
    {PROC("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":-1}]"),
     "process.rlimits[0].hard: expected a non-negative integer"},
    {PROC("\"rlimits\":[1]"), "process.rlimits[0]: expected an object"},
    {PROC("\"noNewPrivileges\":1"), "process.noNewPrivileges: expected true or false"},
    {"{\"process\":{\"args\":[\"a\"]},\"root\":{\"path\":1}}",
     "config.json: root.path: expected a string"},
    {"{\"process\":{\"args\":[\"a\"]},\"mounts\":[{\"destination\":\"/a\"},{}]}",
     "config.json: mounts[1].destination: missing"},
    {"{\"process\":{\"args\":[\"a\"]},\"mounts\":[{\"destination\":\"a\"}]}",
     "mounts[0].destination: \"a\" is not an absolute path"},
    {"{\"process\":{\"args\":[\"a\"]},\"mounts\":[{\"destination\":\"/a\","
     "\"options\":\"ro\"}]}",
     "mounts[0].options: expected an array of strings"},
    {"{\"process\":{\"args\":[\"a\"]},\"mounts\":{}}", "mounts: expected an array"},
    {"{\"process\":{\"args\":[\"a\"]},\"annotations\":{\"k\":1}}",
     "config.json: annotations.k: expected a string"},
    {"{\"process\":{\"args\":[\"a\"]},\"annotations\":[]}", "annotations: expected an object"},
    {"{\"process\":{\"args\":[\"a\\u0000b\"]}}", "not valid JSON"}, /* embedded NUL */
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(bad_specs); i++) {
        struct oci_spec *s = NULL;
        rerr *e = NULL;
        assert_int_equal(oci_spec_parse(bad_specs[i].json, strlen(bad_specs[i].json), &s, &e),
                         -EINVAL);
        assert_null(s);
        assert_contains(rerr_msg(e), bad_specs[i].message);
        rerr_free(e);
    }
}

static struct oci_mount *parse_mount(const char *json, struct oci_spec **s)
{
    _cleanup_free_ char *doc = xasprintf("{\"process\":{\"args\":[\"a\"]},\"mounts\":[%s]}", json);
    *s = parse_ok(doc);
    return &(*s)->mounts[0];
}

static void test_mount_options(void **state)
{
    struct oci_spec *s = NULL;
    struct oci_mount *m = parse_mount("{\"destination\":\"/a\",\"options\":[\"bind\",\"ro\","
                                      "\"rw\",\"private\"]}",
                                      &s);
    assert_true(m->bind);
    assert_false(m->recursive);
    assert_false(m->readonly); /* rw after ro */
    assert_int_equal(m->propagation, MS_PRIVATE);
    assert_null(m->type);
    assert_null(m->source);
    oci_spec_free(s);
    m = parse_mount("{\"destination\":\"/a\",\"type\":\"bind\",\"options\":[\"rshared\"]}", &s);
    assert_true(m->bind);
    assert_int_equal(m->propagation, MS_SHARED | MS_REC);
    oci_spec_free(s);
    m = parse_mount("{\"destination\":\"/a\",\"options\":[\"rprivate\",\"slave\"]}", &s);
    assert_false(m->bind);
    assert_int_equal(m->propagation, MS_SLAVE);
    oci_spec_free(s);
    m = parse_mount("{\"destination\":\"/a\",\"type\":\"tmpfs\",\"options\":[\"shared\","
                    "\"rslave\",\"rprivate\",\"ro\"]}",
                    &s);
    assert_int_equal(m->propagation, MS_PRIVATE | MS_REC);
    assert_true(m->readonly);
    oci_spec_free(s);
}

static void test_process_parse(void **state)
{
    const char *j = "{\"args\":[\"/bin/ls\",\"-l\"],\"cwd\":\"/tmp\",\"terminal\":true,"
                    "\"user\":{\"uid\":5,\"gid\":6},\"env\":[\"X=1\"]}";
    struct oci_process *p = NULL;
    rerr *e = NULL;
    assert_int_equal(oci_process_parse(j, strlen(j), &p, &e), 0);
    assert_string_equal(p->args[0], "/bin/ls");
    assert_string_equal(p->cwd, "/tmp");
    assert_true(p->terminal);
    assert_int_equal(p->user.uid, 5);
    assert_int_equal(p->user.gid, 6);
    assert_string_equal(p->env[0], "X=1");
    oci_process_free(p);
    p = NULL;
    j = "{\"cwd\":\"/\"}";
    assert_int_equal(oci_process_parse(j, strlen(j), &p, &e), -EINVAL);
    assert_null(p);
    assert_string_equal(rerr_msg(e), "process spec: args: missing or empty");
    rerr_free(e);
    e = NULL;
    j = "{\"args\":[\"a\"],\"user\":{\"uid\":-3}}";
    assert_int_equal(oci_process_parse(j, strlen(j), &p, &e), -EINVAL);
    assert_contains(rerr_msg(e), "process spec: user.uid: expected a non-negative integer");
    rerr_free(e);
    e = NULL;
    assert_int_equal(oci_process_parse("nope", 4, &p, &e), -EINVAL);
    assert_contains(rerr_msg(e), "process spec: not valid JSON at line 1");
    rerr_free(e);
}

static void test_load(void **state)
{
    char dir[] = "/tmp/reaper-test-bundle-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct oci_spec *s = NULL;
    rerr *e = NULL;
    assert_int_equal(oci_spec_load(dir, &s, &e), -ENOENT);
    _cleanup_free_ char *path = xasprintf("%s/config.json", dir);
    assert_contains(rerr_msg(e), path);
    rerr_free(e);
    e = NULL;
    const char *j = "{\"process\":{\"args\":[\"x\"],\"cwd\":\"rel\"}}";
    assert_int_equal(write_file_atomic(path, j, strlen(j), 0644, &e), 0);
    assert_int_equal(oci_spec_load(dir, &s, &e), -EINVAL);
    _cleanup_free_ char *want = xasprintf("%s: process.cwd:", path);
    assert_contains(rerr_msg(e), want);
    rerr_free(e);
    e = NULL;
    assert_int_equal(write_file_atomic(path, full_spec, strlen(full_spec), 0644, &e), 0);
    assert_int_equal(oci_spec_load(dir, &s, &e), 0);
    assert_int_equal(s->n_mounts, 2);
    oci_spec_free(s);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),     cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_mount_options),
        cmocka_unit_test(test_process_parse), cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
