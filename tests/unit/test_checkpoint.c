#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assert_contains.h"
#include "checkpoint.h"
#include "checkpoint_meta.h"
#include "ckpt_mounts.h"
#include "cleanup.h"
#include "config.h"
#include "criu.h"
#include "state.h"
#include "util.h"

static char *joined(char **v)
{
    char *out = xstrdup("");
    for (size_t i = 0; v[i]; i++) {
        char *prev = out;
        out = xasprintf("%s%s%s", prev, i ? " " : "", v[i]);
        free(prev);
    }
    return out;
}

static void test_dump_argv_defaults(void **state)
{
    struct checkpoint_opts o = {.image_path = "/img"};
    struct criu_dump_params p = {.criu = "/sbin/criu", .pid = 42, .image_dir = "/img", .opts = &o};
    _cleanup_strv_ char **v = criu_dump_argv(&p);
    _cleanup_free_ char *s = joined(v);
    assert_string_equal(s, "/sbin/criu dump -t 42 -D /img -W /img -o dump.log -v4 --external "
                           "mnt[] --manage-cgroups=ignore");
}

static void test_dump_argv_options(void **state)
{
    struct checkpoint_opts o = {.image_path = "/img",
                                .leave_running = true,
                                .tcp_established = true,
                                .file_locks = true,
                                .ext_unix_sk = true};
    struct criu_dump_params p = {
        .criu = "criu", .pid = 7, .image_dir = "/img", .work_dir = "/work", .opts = &o};
    _cleanup_strv_ char **v = criu_dump_argv(&p);
    _cleanup_free_ char *s = joined(v);
    assert_string_equal(s, "criu dump -t 7 -D /img -W /work -o dump.log -v4 --external mnt[] "
                           "--manage-cgroups=ignore --tcp-established --file-locks "
                           "--ext-unix-sk --leave-running");
}

/* Each bind mount is stored keyed by its destination. */
static void test_dump_argv_ext_mounts(void **state)
{
    char *mounts[] = {"/etc/hostname", "/dev/shm", NULL};
    struct criu_dump_params p = {
        .criu = "criu", .pid = 7, .image_dir = "/img", .opts = NULL, .ext_mounts = mounts};
    _cleanup_strv_ char **v = criu_dump_argv(&p);
    _cleanup_free_ char *s = joined(v);
    assert_string_equal(s, "criu dump -t 7 -D /img -W /img -o dump.log -v4 --external mnt[] "
                           "--manage-cgroups=ignore --external mnt[/etc/hostname]:/etc/hostname "
                           "--external mnt[/dev/shm]:/dev/shm");
}

/* ... and bound back from the source given for that key. */
static void test_restore_argv_ext_mounts(void **state)
{
    struct kv mounts[] = {{"/etc/hostname", "/new/pod/hostname"}, {"/dev/shm", "/new/pod/shm"}};
    struct criu_restore_params p = {.criu = "c",
                                    .image_dir = "/i",
                                    .root = "/r",
                                    .pidfile = "/p",
                                    .ext_mounts = mounts,
                                    .n_ext_mounts = 2};
    _cleanup_strv_ char **v = criu_restore_argv(&p);
    _cleanup_free_ char *s = joined(v);
    assert_string_equal(s, "c restore -D /i -W /i -o restore.log -v4 --external mnt[] "
                           "--manage-cgroups=ignore --root /r --pidfile /p --restore-detached "
                           "--restore-sibling --external mnt[/etc/hostname]:/new/pod/hostname "
                           "--external mnt[/dev/shm]:/new/pod/shm");
}

static void test_restore_argv(void **state)
{
    struct checkpoint_opts o = {.file_locks = true, .leave_running = true};
    char *inherit[] = {"pipe:[11]", "socket:[12]", NULL};
    struct criu_restore_params p = {.criu = "criu",
                                    .image_dir = "/img",
                                    .work_dir = "/w",
                                    .root = "/run/reaper/restore/c/root",
                                    .pidfile = "/run/reaper/c/restore.pid",
                                    .opts = &o,
                                    .inherit = inherit};
    _cleanup_strv_ char **v = criu_restore_argv(&p);
    _cleanup_free_ char *s = joined(v);
    /* leave_running is a dump flag: never on restore. */
    assert_string_equal(s, "criu restore -D /img -W /w -o restore.log -v4 --external mnt[] "
                           "--manage-cgroups=ignore --file-locks --root "
                           "/run/reaper/restore/c/root --pidfile /run/reaper/c/restore.pid "
                           "--restore-detached --restore-sibling --inherit-fd fd[3]:pipe:[11] "
                           "--inherit-fd fd[4]:socket:[12]");
}

static void test_restore_argv_no_inherit(void **state)
{
    struct criu_restore_params p = {
        .criu = "c", .image_dir = "/i", .root = "/r", .pidfile = "/p", .opts = NULL};
    _cleanup_strv_ char **v = criu_restore_argv(&p);
    _cleanup_free_ char *s = joined(v);
    assert_string_equal(s, "c restore -D /i -W /i -o restore.log -v4 --external mnt[] "
                           "--manage-cgroups=ignore --root /r --pidfile /p --restore-detached "
                           "--restore-sibling");
}

static void test_log_errors(void **state)
{
    const char *log = "(00.000100) Version: 4.2\n"
                      "(00.100000) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE "
                      "for self: Operation not permitted\n"
                      "(00.200000) Warn  (criu/kerndat.c:1): something\n"
                      "(00.300000) Error (criu/files-reg.c:10): Can't lookup mount=42\n"
                      "(00.400000) Error (criu/util.c:642): exited, status=1\n"
                      "(00.500000) Error (criu/cr-dump.c:2): Dumping FAILED.";
    _cleanup_free_ char *all = criu_log_errors(log, strlen(log), 4);
    assert_string_equal(all, "Can't lookup mount=42; Dumping FAILED.");
    _cleanup_free_ char *last = criu_log_errors(log, strlen(log), 1);
    assert_string_equal(last, "Dumping FAILED.");
}

static void test_log_errors_last_ones(void **state)
{
    _cleanup_free_ char *log = xstrdup("");
    for (int i = 1; i <= 10; i++) {
        char *prev = log;
        log = xasprintf("%sError (x.c:%d): e%d\n", prev, i, i);
        free(prev);
    }
    _cleanup_free_ char *out = criu_log_errors(log, strlen(log), 3);
    assert_string_equal(out, "e8; e9; e10");
}

static void test_log_errors_none(void **state)
{
    const char *log = "(00.1) Warn  (a.c:1): x\nLooks good.\n";
    assert_null(criu_log_errors(log, strlen(log), 4));
    assert_null(criu_log_errors(NULL, 0, 4));
    assert_null(criu_log_errors("", 0, 4));
    /* Only the harmless line: nothing to report. */
    const char *rl = "Error (criu/util.c:1): rlimit: Can't setup RLIMIT_NOFILE for self\n";
    assert_null(criu_log_errors(rl, strlen(rl), 4));
    /* Not NUL-terminated input: only len bytes are read. */
    const char buf[] = {'E', 'r', 'r', 'o', 'r', ':', ' ', 'x', 'E', 'r', 'r', 'o', 'r'};
    _cleanup_free_ char *one = criu_log_errors(buf, 8, 4);
    assert_string_equal(one, "x");
}

static void test_parse_version(void **state)
{
    _cleanup_free_ char *v = criu_parse_version("Version: 4.2\nGitID: v4.2\n");
    assert_string_equal(v, "4.2");
    _cleanup_free_ char *w = criu_parse_version("Version: 3.17.1");
    assert_string_equal(w, "3.17.1");
    assert_null(criu_parse_version("criu: unknown option"));
    assert_null(criu_parse_version(NULL));
}

static struct checkpoint_meta *sample_meta(void)
{
    struct checkpoint_meta *m = xcalloc(1, sizeof(*m));
    m->id = xstrdup("c1");
    m->pid = 4242;
    m->created = xstrdup("2026-01-01T00:00:00Z");
    m->k8s_namespace = xstrdup("prod");
    m->overlay_name = xstrdup("cache");
    m->dns_mode = DNS_KUBERNETES;
    m->stdio[0] = xstrdup("/dev/null");
    m->stdio[1] = xstrdup("pipe:[123]");
    m->stdio[2] = NULL;
    m->opts.tcp_established = true;
    m->opts.ext_unix_sk = true;
    m->criu_path = xstrdup("/usr/sbin/criu");
    m->criu_version = xstrdup("4.2");
    m->ext_mounts = xcalloc(3, sizeof(char *));
    m->ext_mounts[0] = xstrdup("/etc/hostname");
    m->ext_mounts[1] = xstrdup("/dev/shm");
    return m;
}

static void test_meta_round_trip(void **state)
{
    struct checkpoint_meta *m = sample_meta();
    _cleanup_free_ char *json = checkpoint_meta_to_json(m);
    struct checkpoint_meta *back = NULL;
    rerr *err = NULL;
    assert_int_equal(checkpoint_meta_parse("m.json", json, strlen(json), &back, &err), 0);
    assert_string_equal(back->id, "c1");
    assert_int_equal(back->pid, 4242);
    assert_string_equal(back->created, m->created);
    assert_string_equal(back->k8s_namespace, "prod");
    assert_string_equal(back->overlay_name, "cache");
    assert_int_equal(back->dns_mode, DNS_KUBERNETES);
    assert_false(back->terminal);
    assert_string_equal(back->stdio[0], "/dev/null");
    assert_string_equal(back->stdio[1], "pipe:[123]");
    assert_null(back->stdio[2]);
    assert_true(back->opts.tcp_established);
    assert_false(back->opts.file_locks);
    assert_true(back->opts.ext_unix_sk);
    assert_false(back->opts.leave_running);
    assert_string_equal(back->criu_path, "/usr/sbin/criu");
    assert_string_equal(back->criu_version, "4.2");
    assert_int_equal(strv_len(back->ext_mounts), 2);
    assert_string_equal(back->ext_mounts[0], "/etc/hostname");
    assert_string_equal(back->ext_mounts[1], "/dev/shm");
    _cleanup_free_ char *again = checkpoint_meta_to_json(back);
    assert_string_equal(again, json);
    checkpoint_meta_free(back);
    checkpoint_meta_free(m);
}

static void expect_parse_error(const char *json, const char *part)
{
    struct checkpoint_meta *m = NULL;
    rerr *err = NULL;
    assert_int_equal(checkpoint_meta_parse("m.json", json, strlen(json), &m, &err), -EINVAL);
    assert_null(m);
    assert_contains(rerr_msg(err), "m.json");
    assert_contains(rerr_msg(err), part);
    rerr_free(err);
}

static void test_meta_parse_errors(void **state)
{
    expect_parse_error("{not json", "m.json");
    expect_parse_error("[]", "m.json");
    expect_parse_error("{\"id\":\"c\",\"pid\":1,\"namespace\":\"d\"}", "version: missing");
    expect_parse_error("{\"version\":2,\"id\":\"c\",\"pid\":1,\"namespace\":\"d\"}",
                       "2 is not supported");
    expect_parse_error("{\"version\":1,\"pid\":1,\"namespace\":\"d\"}", "id");
    expect_parse_error("{\"version\":1,\"id\":\"../x\",\"pid\":1,\"namespace\":\"d\"}", "id");
    expect_parse_error("{\"version\":1,\"id\":\"c\",\"namespace\":\"d\"}", "pid");
    expect_parse_error("{\"version\":1,\"id\":\"c\",\"pid\":-3,\"namespace\":\"d\"}", "pid");
    expect_parse_error("{\"version\":1,\"id\":\"c\",\"pid\":1}", "namespace");
    expect_parse_error("{\"version\":1,\"id\":\"c\",\"pid\":1,\"namespace\":\"d\",\"stdio\":[]}",
                       "expected 3 entries");
    expect_parse_error("{\"version\":1,\"id\":\"c\",\"pid\":1,\"namespace\":\"d\","
                       "\"stdio\":[1,2,3]}",
                       "expected a string");
    expect_parse_error("{\"version\":1,\"id\":\"c\",\"pid\":1,\"namespace\":\"d\","
                       "\"options\":{\"file_locks\":\"yes\"}}",
                       "file_locks");
}

/* A scratch directory per test, removed at the end. */
static int dir_setup(void **state)
{
    char tmpl[] = "/tmp/reaper-test-ckpt-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    *state = xstrdup(tmpl);
    return 0;
}

static int dir_teardown(void **state)
{
    rerr *err = NULL;
    assert_int_equal(rm_rf(*state, &err), 0);
    free(*state);
    return 0;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    rerr *err = NULL;
    assert_int_equal(write_file_atomic(path, text, strlen(text), 0600, &err), 0);
}

static void expect_invalid(const char *dir, int code, const char *part)
{
    rerr *err = NULL;
    assert_int_equal(checkpoint_image_validate(dir, &err), code);
    assert_contains(rerr_msg(err), part);
    rerr_free(err);
}

static void test_validate(void **state)
{
    const char *dir = *state;
    _cleanup_free_ char *missing = xasprintf("%s/missing", dir);
    expect_invalid(missing, -ENOENT, missing);
    expect_invalid("relative/dir", -EINVAL, "not an absolute path");
    expect_invalid("", -EINVAL, "not an absolute path");
    expect_invalid(dir, -ENOENT, "no reaper-checkpoint.json");
    write_text(dir, "plain", "x");
    _cleanup_free_ char *file = xasprintf("%s/plain", dir);
    expect_invalid(file, -ENOTDIR, "not a directory");
    write_text(dir, CHECKPOINT_META_FILE, "{bad json");
    expect_invalid(dir, -EINVAL, CHECKPOINT_META_FILE);
    write_text(dir, CHECKPOINT_META_FILE,
               "{\"version\":9,\"id\":\"c\",\"pid\":1,\"namespace\":\"d\"}");
    expect_invalid(dir, -EINVAL, "9 is not supported");
    struct checkpoint_meta *m = sample_meta();
    rerr *err = NULL;
    assert_int_equal(checkpoint_meta_write(dir, m, &err), 0);
    checkpoint_meta_free(m);
    expect_invalid(dir, -ENOENT, "no CRIU images");
    write_text(dir, "inventory.img", "criu");
    assert_int_equal(checkpoint_image_validate(dir, &err), 0);
    struct checkpoint_meta *back = NULL;
    assert_int_equal(checkpoint_meta_read(dir, &back, &err), 0);
    assert_string_equal(back->id, "c1");
    checkpoint_meta_free(back);
}

static void expect_source(char **env, const struct kv *ann, size_t n, const char *want)
{
    char *dir = (char *)"unset";
    rerr *err = NULL;
    assert_int_equal(restore_source(env, ann, n, &dir, &err), 0);
    if (want == NULL)
        assert_null(dir);
    else
        assert_string_equal(dir, want);
    free(dir);
}

static void expect_source_error(char **env, const struct kv *ann, size_t n, const char *part)
{
    char *dir = (char *)"unset";
    rerr *err = NULL;
    assert_int_equal(restore_source(env, ann, n, &dir, &err), -EINVAL);
    assert_string_equal(dir, "unset"); /* untouched on failure */
    assert_contains(rerr_msg(err), part);
    rerr_free(err);
}

static void test_restore_source(void **state)
{
    char *none[] = {"PATH=/bin", "RESTORE_FROMX=/no", NULL};
    char *env[] = {"PATH=/bin", "RESTORE_FROM=/ckpt/a", NULL};
    char *rel[] = {"RESTORE_FROM=ckpt", NULL};
    char *empty[] = {"RESTORE_FROM=", NULL};
    const struct kv ann[] = {{"reaper.runtime/restore-from", "/ckpt/a"}};
    const struct kv other[] = {{"reaper.runtime/restore-from", "/ckpt/b"}};
    const struct kv bad[] = {{"reaper.runtime/restore-from", ""}};
    expect_source(none, NULL, 0, NULL);
    expect_source(NULL, NULL, 0, NULL);
    expect_source(env, NULL, 0, "/ckpt/a");
    expect_source(none, ann, 1, "/ckpt/a");
    expect_source(env, ann, 1, "/ckpt/a");
    expect_source_error(rel, NULL, 0, "RESTORE_FROM=\"ckpt\"");
    expect_source_error(empty, NULL, 0, "RESTORE_FROM");
    expect_source_error(none, bad, 1, "annotation reaper.runtime/restore-from");
    expect_source_error(env, other, 1, "different checkpoint images");
}

static void test_state_restore_from(void **state)
{
    struct container_state st = {.id = "c1", .bundle = "/b", .restore_from = "/ckpt/a"};
    _cleanup_free_ char *json = state_to_json(&st);
    struct container_state *back = NULL;
    rerr *err = NULL;
    assert_int_equal(state_from_json(json, strlen(json), &back, &err), 0);
    assert_string_equal(back->restore_from, "/ckpt/a");
    /* Created from a checkpoint, no process yet: created, not stopped. */
    assert_int_equal(state_live_status(back), STATUS_CREATED);
    state_free(back);
}

static void test_config_criu(void **state)
{
    struct reaper_config cfg;
    config_init_defaults(&cfg);
    assert_string_equal(cfg.criu, "criu");
    rerr *err = NULL;
    assert_int_equal(config_set(&cfg, "REAPER_CRIU", "/opt/criu/criu", "t", &err), 0);
    assert_string_equal(cfg.criu, "/opt/criu/criu");
    assert_int_equal(config_set(&cfg, "REAPER_CRIU", "criu-4", "t", &err), 0);
    assert_string_equal(cfg.criu, "criu-4");
    assert_int_equal(config_set(&cfg, "REAPER_CRIU", "bin/criu", "t", &err), -EINVAL);
    assert_contains(rerr_msg(err), "REAPER_CRIU");
    rerr_free(err);
    err = NULL;
    assert_int_equal(config_set(&cfg, "REAPER_CRIU", "", "t", &err), -EINVAL);
    rerr_free(err);
    config_free(&cfg);
}

static void test_config_criu_ns_timeout(void **state)
{
    struct reaper_config cfg;
    config_init_defaults(&cfg);
    assert_null(cfg.criu_mount_ns);
    assert_int_equal(cfg.criu_timeout, 600);
    rerr *err = NULL;
    assert_int_equal(config_set(&cfg, "REAPER_CRIU_MOUNT_NS", "/proc/1/ns/mnt", "t", &err), 0);
    assert_string_equal(cfg.criu_mount_ns, "/proc/1/ns/mnt");
    assert_int_equal(config_set(&cfg, "REAPER_CRIU_MOUNT_NS", "", "t", &err), 0);
    assert_null(cfg.criu_mount_ns);
    assert_int_equal(config_set(&cfg, "REAPER_CRIU_MOUNT_NS", "proc/1/ns/mnt", "t", &err), -EINVAL);
    rerr_free(err);
    err = NULL;
    assert_int_equal(config_set(&cfg, "REAPER_CRIU_TIMEOUT", "0", "t", &err), 0);
    assert_int_equal(cfg.criu_timeout, 0);
    assert_int_equal(config_set(&cfg, "REAPER_CRIU_TIMEOUT", "30", "t", &err), 0);
    assert_int_equal(cfg.criu_timeout, 30);
    const char *bad[] = {"-1", "1s", "", "99999999999"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_int_equal(config_set(&cfg, "REAPER_CRIU_TIMEOUT", bad[i], "t", &err), -EINVAL);
        assert_contains(rerr_msg(err), "REAPER_CRIU_TIMEOUT");
        rerr_free(err);
        err = NULL;
    }
    assert_int_equal(cfg.criu_timeout, 30);
    config_free(&cfg);
}

static void test_log_tail(void **state)
{
    const char *log = "(0.1) one\n(0.2) two\n(0.3) three\n\n";
    _cleanup_free_ char *two = criu_log_tail(log, strlen(log), 2);
    assert_string_equal(two, "(0.2) two;(0.3) three");
    _cleanup_free_ char *all = criu_log_tail(log, strlen(log), 9);
    assert_string_equal(all, "(0.1) one;(0.2) two;(0.3) three");
    _cleanup_free_ char *one = criu_log_tail("only", 4, 4);
    assert_string_equal(one, "only");
    assert_null(criu_log_tail("\n\n", 2, 4));
    assert_null(criu_log_tail(NULL, 0, 4));
}

/* A stand-in criu: a script answering --version and check like CRIU does. */
static char *fake_criu(const char *dir, const char *check_body)
{
    char *path = xasprintf("%s/criu", dir);
    _cleanup_free_ char *script = xasprintf("#!/bin/sh\n"
                                            "case \"$1\" in\n"
                                            "--version) echo 'Version: 9.1'; echo 'GitID: x';;\n"
                                            "check) %s;;\n"
                                            "esac\n",
                                            check_body);
    rerr *err = NULL;
    assert_int_equal(write_file_atomic(path, script, strlen(script), 0755, &err), 0);
    return path;
}

static void test_probe_works(void **state)
{
    _cleanup_free_ char *path = fake_criu(*state, "echo 'Looks good.'");
    struct reaper_config cfg = {.criu = path};
    struct criu_info info;
    criu_probe(&cfg, &info);
    assert_true(info.works);
    assert_string_equal(info.path, path);
    assert_string_equal(info.version, "9.1");
    _cleanup_free_ char *want = xasprintf("criu 9.1 (%s): check ok", path);
    assert_string_equal(info.message, want);
    criu_info_free(&info);
}

static void test_probe_check_fails(void **state)
{
    _cleanup_free_ char *path =
        fake_criu(*state, "echo 'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds' "
                          ">&2; exit 1");
    struct reaper_config cfg = {.criu = path};
    struct criu_info info;
    criu_probe(&cfg, &info);
    assert_false(info.works);
    assert_string_equal(info.version, "9.1");
    assert_contains(info.message, "criu 9.1 (");
    assert_contains(info.message, "`criu check` failed: vdso: Unexpected rt vDSO area bounds");
    criu_info_free(&info);
}

static void test_probe_missing(void **state)
{
    _cleanup_free_ char *path = xasprintf("%s/no-criu", (char *)*state);
    struct reaper_config cfg = {.criu = path};
    struct criu_info info;
    criu_probe(&cfg, &info);
    assert_false(info.works);
    assert_null(info.path);
    assert_null(info.version);
    assert_contains(info.message, "REAPER_CRIU");
    assert_contains(info.message, path);
    criu_info_free(&info);
    struct reaper_config by_name = {.criu = "reaper-no-such-criu"};
    criu_probe(&by_name, &info);
    assert_false(info.works);
    assert_contains(info.message, "not found in $PATH");
    criu_info_free(&info);
}

static void write_bundle(const char *dir, const char *mounts)
{
    _cleanup_free_ char *json = xasprintf("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":"
                                          "[\"sh\"],\"cwd\":\"/\"},\"mounts\":[%s]}",
                                          mounts);
    write_text(dir, "config.json", json);
}

#define BIND(dest, src) "{\"destination\":\"" dest "\",\"type\":\"bind\",\"source\":\"" src "\"}"

/* Only the bind mounts Reaper applies, each destination once; a restore maps each to the
 * source the (new) bundle gives, the last mount on it winning. */
static void test_ckpt_mounts(void **state)
{
    const char *dir = *state;
    write_bundle(
        dir,
        "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}," BIND(
            "/etc/hostname",
            "/old/hostname") "," BIND("/etc/resolv.conf",
                                      "/old/resolv") "," BIND("/data",
                                                              "/old/data1") "," BIND("/data",
                                                                                     "/old/data2"));
    rerr *err = NULL;
    _cleanup_strv_ char **dests = NULL;
    assert_int_equal(ckpt_mounts_destinations(dir, DNS_KUBERNETES, &dests, &err), 0);
    _cleanup_free_ char *all = joined(dests);
    assert_string_equal(all, "/etc/hostname /etc/resolv.conf /data");
    _cleanup_strv_ char **host_dns = NULL;
    assert_int_equal(ckpt_mounts_destinations(dir, DNS_HOST, &host_dns, &err), 0);
    _cleanup_free_ char *no_resolv = joined(host_dns);
    assert_string_equal(no_resolv, "/etc/hostname /data");

    write_bundle(dir,
                 BIND("/data", "/new/data") "," BIND("/etc/resolv.conf", "/new/resolv") "," BIND(
                     "/etc/hostname", "/new/hostname") "," BIND("/extra", "/new/extra"));
    struct kv *map = NULL;
    size_t n = 0;
    assert_int_equal(ckpt_mounts_map(dir, DNS_KUBERNETES, dests, &map, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(map[0].key, "/etc/hostname");
    assert_string_equal(map[0].value, "/new/hostname");
    assert_string_equal(map[1].value, "/new/resolv");
    assert_string_equal(map[2].key, "/data");
    assert_string_equal(map[2].value, "/new/data");
    kv_free(map, n);

    /* The new container lacks one: the error names it; nothing is returned. */
    write_bundle(dir, BIND("/etc/hostname", "/new/hostname"));
    assert_int_equal(ckpt_mounts_map(dir, DNS_KUBERNETES, dests, &map, &n, &err), -ENOENT);
    assert_null(map);
    assert_int_equal(n, 0);
    assert_contains(rerr_msg(err), "/etc/resolv.conf");
    assert_contains(rerr_msg(err), dir);
    rerr_free(err);
    err = NULL;

    /* An image without recorded mounts (older dumps) needs no bundle at all. */
    assert_int_equal(ckpt_mounts_map(NULL, DNS_KUBERNETES, NULL, &map, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ckpt_mounts_destinations(NULL, DNS_KUBERNETES, &dests, &err), -EINVAL);
    rerr_free(err);
}

/* criu_run hands fds in at 3, 4, ... and captures stdout and stderr. */
static void test_run_inherit(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    char *argv[] = {"/bin/sh", "-c", "echo to-inherited >&3; echo out; echo err >&2; exit 3", NULL};
    struct reaper_config cfg = {.criu_timeout = 10};
    struct criu_run run = {.cfg = &cfg, .argv = argv, .inherit = (int[]){p[1]}, .n_inherit = 1};
    rerr *err = NULL;
    assert_int_equal(criu_run(&run, &err), 0);
    close(p[1]);
    assert_false(run.timed_out);
    assert_true(WIFEXITED(run.status));
    assert_int_equal(WEXITSTATUS(run.status), 3);
    char *out = run.output;
    assert_string_equal(out, "out\nerr\n");
    char buf[64] = {0};
    assert_int_equal(read(p[0], buf, sizeof(buf) - 1), 13);
    assert_string_equal(buf, "to-inherited\n");
    close(p[0]);
    free(out);
}

/* Whether pid is gone (or a zombie nobody of ours waits for). */
/* SIGKILL is delivered asynchronously: wait (up to 10 s) for the exit the kernel reports. */
static bool gone(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 10000);
    close(fd);
    return n == 1;
}

/* A criu that hangs past REAPER_CRIU_TIMEOUT is killed with what it forked. */
static void test_run_timeout(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    char *argv[] = {"/bin/sh", "-c", "echo started; sleep 1000 & echo $! >&3; wait", NULL};
    struct reaper_config cfg = {.criu_timeout = 1};
    struct criu_run run = {.cfg = &cfg, .argv = argv, .inherit = (int[]){p[1]}, .n_inherit = 1};
    rerr *err = NULL;
    uint64_t start = monotonic_ns();
    assert_int_equal(criu_run(&run, &err), 0);
    uint64_t took = monotonic_ns() - start;
    close(p[1]);
    assert_true(run.timed_out);
    assert_true(took >= 900000000ull && took < 10000000000ull);
    assert_true(WIFSIGNALED(run.status));
    assert_int_equal(WTERMSIG(run.status), SIGKILL);
    assert_string_equal(run.output, "started\n");
    char buf[32] = {0};
    assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
    close(p[0]);
    assert_true(gone((pid_t)atoi(buf)));
    _cleanup_free_ char *work = xstrdup("/nonexistent-reaper-work");
    assert_int_equal(criu_failure("restore x", &run, work, "restore.log", &err), -ETIMEDOUT);
    assert_contains(rerr_msg(err), "did not finish within 1s (REAPER_CRIU_TIMEOUT)");
    assert_contains(rerr_msg(err), "last log lines: started");
    rerr_free(err);
    free(run.output);
}

/* With REAPER_CRIU_MOUNT_NS criu is looked up on PATH inside that namespace, by the child. */
static void test_run_in_mount_ns(void **state)
{
    /* Made in the test's dir, found there through PATH only. */
    free(fake_criu(*state, "echo 'Looks good.'"));
    _cleanup_free_ char *old_path = xstrdup(getenv("PATH"));
    _cleanup_free_ char *search = xasprintf("/nonexistent-reaper:%s", (char *)*state);
    setenv("PATH", search, 1);
    struct reaper_config cfg = {.criu = "criu", .criu_mount_ns = "/proc/self/ns/mnt"};
    struct criu_info info;
    criu_probe(&cfg, &info);
    assert_true(info.works);
    assert_string_equal(info.path, "criu");
    assert_string_equal(info.version, "9.1");
    criu_info_free(&info);
    struct reaper_config missing = {.criu = "reaper-no-such-criu",
                                    .criu_mount_ns = "/proc/self/ns/mnt"};
    char *resolved = NULL;
    rerr *err = NULL;
    assert_int_equal(criu_resolve(&missing, &resolved, &err), 0);
    assert_string_equal(resolved, "reaper-no-such-criu");
    free(resolved);
    criu_probe(&missing, &info);
    assert_false(info.works);
    assert_contains(info.message, "reaper-no-such-criu: No such file or directory");
    criu_info_free(&info);
    struct reaper_config bad_ns = {.criu = "criu", .criu_mount_ns = "/nonexistent-reaper-ns"};
    criu_probe(&bad_ns, &info);
    assert_false(info.works);
    assert_contains(info.message, "REAPER_CRIU_MOUNT_NS=/nonexistent-reaper-ns");
    criu_info_free(&info);
    setenv("PATH", old_path, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_argv_defaults),
        cmocka_unit_test(test_dump_argv_options),
        cmocka_unit_test(test_dump_argv_ext_mounts),
        cmocka_unit_test(test_restore_argv_ext_mounts),
        cmocka_unit_test(test_restore_argv),
        cmocka_unit_test(test_restore_argv_no_inherit),
        cmocka_unit_test(test_log_errors),
        cmocka_unit_test(test_log_errors_last_ones),
        cmocka_unit_test(test_log_errors_none),
        cmocka_unit_test(test_parse_version),
        cmocka_unit_test(test_meta_round_trip),
        cmocka_unit_test(test_meta_parse_errors),
        cmocka_unit_test_setup_teardown(test_validate, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_mounts, dir_setup, dir_teardown),
        cmocka_unit_test(test_restore_source),
        cmocka_unit_test(test_state_restore_from),
        cmocka_unit_test(test_config_criu),
        cmocka_unit_test(test_config_criu_ns_timeout),
        cmocka_unit_test(test_log_tail),
        cmocka_unit_test(test_run_timeout),
        cmocka_unit_test_setup_teardown(test_run_in_mount_ns, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_probe_works, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_probe_check_fails, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_probe_missing, dir_setup, dir_teardown),
        cmocka_unit_test(test_run_inherit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
