#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assert_contains.h"
#include "cleanup.h"
#include "err.h"
#include "proc_stat.h"
#include "state.h"
#include "util.h"

static struct container_state *sample(const char *id)
{
    struct container_state *st = xcalloc(1, sizeof(*st));
    st->id = xstrdup(id);
    st->bundle = xstrdup("/run/containerd/bundle/abc");
    st->pid = 4242;
    st->pid_start_time = 987654321;
    st->created = xstrdup("2024-05-01T10:00:00.123456789Z");
    st->k8s_namespace = xstrdup("prod");
    st->overlay_name = xstrdup("pippo");
    st->dns_mode = DNS_KUBERNETES;
    st->terminal = true;
    st->started = true;
    st->has_exit = true;
    st->exit_status = 137;
    st->n_annotations = 2;
    st->annotations = xcalloc(2, sizeof(struct kv));
    st->annotations[0] =
        (struct kv){xstrdup("io.kubernetes.cri.container-type"), xstrdup("container")};
    st->annotations[1] = (struct kv){xstrdup("reaper.runtime/overlay-name"), xstrdup("pippo")};
    return st;
}

static void assert_state_equal(const struct container_state *a, const struct container_state *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->bundle, b->bundle);
    assert_int_equal(a->pid, b->pid);
    assert_int_equal(a->pid_start_time, b->pid_start_time);
    assert_string_equal(a->created, b->created);
    assert_string_equal(a->k8s_namespace, b->k8s_namespace);
    if (a->overlay_name || b->overlay_name)
        assert_string_equal(a->overlay_name, b->overlay_name);
    assert_int_equal(a->dns_mode, b->dns_mode);
    assert_int_equal(a->terminal, b->terminal);
    assert_int_equal(a->sandbox, b->sandbox);
    assert_int_equal(a->started, b->started);
    assert_int_equal(a->has_exit, b->has_exit);
    assert_int_equal(a->exit_status, b->exit_status);
    assert_int_equal(a->n_annotations, b->n_annotations);
    for (size_t i = 0; i < a->n_annotations; i++) {
        assert_string_equal(a->annotations[i].key, b->annotations[i].key);
        assert_string_equal(a->annotations[i].value, b->annotations[i].value);
    }
}

static void test_json_round_trip(void **state)
{
    struct container_state *st = sample("abc");
    _cleanup_free_ char *json = state_to_json(st);
    assert_contains(json, "\"exit_status\":137");
    struct container_state *back = NULL;
    rerr *e = NULL;
    assert_int_equal(state_from_json(json, strlen(json), &back, &e), 0);
    assert_state_equal(st, back);
    state_free(back);

    /* no exit yet, default overlay, sandbox */
    st->has_exit = false;
    st->exit_status = 0;
    free(st->overlay_name);
    st->overlay_name = NULL;
    st->sandbox = true;
    st->dns_mode = DNS_HOST;
    _cleanup_free_ char *json2 = state_to_json(st);
    assert_null(strstr(json2, "exit_status"));
    assert_null(strstr(json2, "overlay_name"));
    assert_int_equal(state_from_json(json2, strlen(json2), &back, &e), 0);
    assert_state_equal(st, back);
    state_free(back);
    state_free(st);
    state_free(NULL);
}

static void expect_json_error(const char *json, const char *needle)
{
    struct container_state *st = NULL;
    rerr *e = NULL;
    assert_int_equal(state_from_json(json, strlen(json), &st, &e), -EINVAL);
    assert_null(st);
    assert_contains(rerr_msg(e), needle);
    rerr_free(e);
}

static void test_json_errors(void **state)
{
    expect_json_error("{", "state.json: not valid JSON at line 1");
    expect_json_error("\"x\"", "state.json: not valid JSON"); /* jansson wants a container */
    expect_json_error("{\"bundle\":\"/b\"}", "state.json: id: missing");
    expect_json_error("{\"id\":\"../x\",\"bundle\":\"/b\"}",
                      "state.json: id: \"../x\" is not a valid container id");
    expect_json_error("{\"id\":\"a\"}", "state.json: bundle: missing");
    expect_json_error("{\"id\":\"a\",\"bundle\":\"/b\",\"pid\":-1}",
                      "state.json: pid: expected a non-negative integer");
    expect_json_error("{\"id\":\"a\",\"bundle\":\"/b\",\"pid\":4294967296}", "state.json: pid:");
    expect_json_error("{\"id\":\"a\",\"bundle\":\"/b\",\"started\":\"yes\"}",
                      "state.json: started: expected true or false");
    expect_json_error("{\"id\":\"a\",\"bundle\":\"/b\",\"dns_mode\":\"x\"}",
                      "state.json: dns_mode: unknown mode \"x\"");
    expect_json_error("{\"id\":\"a\",\"bundle\":\"/b\",\"annotations\":{\"k\":[]}}",
                      "state.json: annotations.k: expected a string");
    /* minimal: everything else defaults */
    const char *min = "{\"id\":\"a\",\"bundle\":\"/b\",\"future\":{}}";
    struct container_state *st = NULL;
    rerr *e = NULL;
    assert_int_equal(state_from_json(min, strlen(min), &st, &e), 0);
    assert_int_equal(st->pid, 0);
    assert_false(st->has_exit);
    assert_int_equal(st->n_annotations, 0);
    state_free(st);
}

static char *temp_root(void)
{
    char tmpl[] = "/tmp/reaper-test-state-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xasprintf("%s/nested/root", tmpl); /* state_save creates missing parents */
}

static void test_save_load_list_remove(void **state)
{
    _cleanup_free_ char *root = temp_root();
    rerr *e = NULL;
    _cleanup_strv_ char **ids = NULL;
    assert_int_equal(state_list(root, &ids, &e), 0); /* missing root: empty */
    assert_int_equal(strv_len(ids), 0);

    const char *names[] = {"zeta", "alpha", "m.1"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct container_state *st = sample(names[i]);
        assert_int_equal(state_save(root, st, &e), 0);
        state_free(st);
    }
    _cleanup_free_ char *dir = state_dir(root, "alpha");
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    _cleanup_free_ char *file = xasprintf("%s/state.json", dir);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    /* a directory without state.json and a stray file are not containers */
    _cleanup_free_ char *empty = state_dir(root, "empty");
    assert_int_equal(mkdir(empty, 0700), 0);
    _cleanup_free_ char *stray = xasprintf("%s/stray", root);
    assert_int_equal(write_file_atomic(stray, "x", 1, 0600, &e), 0);

    strv_free(ids);
    ids = NULL;
    assert_int_equal(state_list(root, &ids, &e), 3);
    assert_string_equal(ids[0], "alpha");
    assert_string_equal(ids[1], "m.1");
    assert_string_equal(ids[2], "zeta");

    struct container_state *st = NULL, *want = sample("alpha");
    assert_int_equal(state_load(root, "alpha", &st, &e), 0);
    assert_state_equal(want, st);
    /* save over an existing state replaces it */
    st->started = false;
    assert_int_equal(state_save(root, st, &e), 0);
    state_free(st);
    assert_int_equal(state_load(root, "alpha", &st, &e), 0);
    assert_false(st->started);
    state_free(st);
    state_free(want);

    assert_int_equal(state_remove(root, "alpha", &e), 0);
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(state_remove(root, "alpha", &e), 0); /* missing is fine */
    assert_int_equal(state_load(root, "alpha", &st, &e), -ENOENT);
    assert_string_equal(rerr_msg(e), "container alpha does not exist");
    rerr_free(e);
    e = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        assert_int_equal(state_remove(root, names[i], &e), 0);
    assert_int_equal(state_remove(root, "empty", &e), 0);
    unlink(stray);
}

static void test_invalid_ids(void **state)
{
    _cleanup_free_ char *root = temp_root();
    rerr *e = NULL;
    struct container_state *st = NULL;
    assert_int_equal(state_load(root, "../etc", &st, &e), -EINVAL);
    assert_contains(rerr_msg(e), "\"../etc\"");
    assert_int_equal(state_remove(root, "a/b", &e), -EINVAL);
    assert_contains(rerr_msg(e), "\"a/b\"");
    st = sample("ok");
    free(st->id);
    st->id = xstrdup("..");
    assert_int_equal(state_save(root, st, &e), -EINVAL);
    assert_contains(rerr_msg(e), "invalid container id \"..\"");
    state_free(st);
    rerr_free(e);
}

static void test_load_rejects_mismatched_id(void **state)
{
    _cleanup_free_ char *root = temp_root();
    rerr *e = NULL;
    struct container_state *st = sample("one");
    assert_int_equal(state_save(root, st, &e), 0);
    state_free(st);
    _cleanup_free_ char *from = state_dir(root, "one");
    _cleanup_free_ char *to = state_dir(root, "two");
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(state_load(root, "two", &st, &e), -EINVAL);
    assert_contains(rerr_msg(e), "does not match");
    rerr_free(e);
    e = NULL;
    assert_int_equal(state_remove(root, "two", &e), 0);
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static void test_proc_start_time(void **state)
{
    uint64_t me = proc_start_time(getpid());
    assert_true(me > 0);
    assert_int_equal(proc_start_time(getpid()), me);
    assert_true(proc_start_time(1) <= me); /* init started first */
    assert_int_equal(proc_start_time(dead_pid()), 0);
    assert_int_equal(proc_start_time(0), 0);
    assert_int_equal(proc_start_time(-5), 0);
}

static enum container_status status_of(pid_t pid, uint64_t start, bool started)
{
    struct container_state st = {.pid = pid, .pid_start_time = start, .started = started};
    return state_live_status(&st);
}

static void test_live_status(void **state)
{
    uint64_t me = proc_start_time(getpid());
    assert_int_equal(status_of(getpid(), me, true), STATUS_RUNNING);
    assert_int_equal(status_of(getpid(), me, false), STATUS_CREATED);
    assert_int_equal(status_of(getpid(), me + 1, true), STATUS_STOPPED); /* pid reused */
    assert_int_equal(status_of(getpid(), 0, true), STATUS_STOPPED);
    assert_int_equal(status_of(dead_pid(), me, true), STATUS_STOPPED);
    struct container_state exited = {.pid = getpid(), .pid_start_time = me, .has_exit = true};
    assert_int_equal(state_live_status(&exited), STATUS_STOPPED);
    struct container_state sandbox = {.sandbox = true};
    assert_int_equal(state_live_status(&sandbox), STATUS_CREATED);
    sandbox.started = true;
    assert_int_equal(state_live_status(&sandbox), STATUS_RUNNING);
    sandbox.has_exit = true;
    assert_int_equal(state_live_status(&sandbox), STATUS_STOPPED);
}

/* A child named like "a) b (c" (comm may hold ')' and spaces), paused until killed. */
static pid_t odd_child(void)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* never outlive a failed test */
        prctl(PR_SET_NAME, "a) b (c) 1 2", 0, 0, 0);
        (void)write(p[1], "x", 1);
        for (;;)
            pause();
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

static void test_live_status_child_states(void **state)
{
    pid_t pid = odd_child();
    uint64_t start = proc_start_time(pid);
    assert_true(start >= proc_start_time(getpid()));
    assert_int_equal(status_of(pid, start, true), STATUS_RUNNING);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    int ws;
    assert_int_equal(waitpid(pid, &ws, WUNTRACED), pid);
    assert_int_equal(status_of(pid, start, true), STATUS_PAUSED);
    assert_int_equal(kill(pid, SIGKILL), 0);
    /* not reaped yet: a zombie is stopped */
    siginfo_t si;
    assert_int_equal(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(status_of(pid, start, true), STATUS_STOPPED);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(status_of(pid, start, true), STATUS_STOPPED);
}

static void test_status_names_and_oci_json(void **state)
{
    assert_string_equal(container_status_name(STATUS_CREATED), "created");
    assert_string_equal(container_status_name(STATUS_RUNNING), "running");
    assert_string_equal(container_status_name(STATUS_STOPPED), "stopped");
    assert_string_equal(container_status_name(STATUS_PAUSED), "paused");
    struct container_state *st = sample("abc");
    _cleanup_free_ char *running = state_oci_json(st, STATUS_RUNNING);
    assert_string_equal(running,
                        "{\"ociVersion\":\"1.0.2\",\"id\":\"abc\",\"status\":\"running\","
                        "\"pid\":4242,\"bundle\":\"/run/containerd/bundle/abc\","
                        "\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
                        "\"reaper.runtime/overlay-name\":\"pippo\"}}");
    _cleanup_free_ char *stopped = state_oci_json(st, STATUS_STOPPED);
    assert_contains(stopped, "\"status\":\"stopped\",\"pid\":0,");
    state_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_save_load_list_remove),
        cmocka_unit_test(test_invalid_ids),
        cmocka_unit_test(test_load_rejects_mismatched_id),
        cmocka_unit_test(test_proc_start_time),
        cmocka_unit_test(test_live_status),
        cmocka_unit_test(test_live_status_child_states),
        cmocka_unit_test(test_status_names_and_oci_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
