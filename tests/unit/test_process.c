/* process_spawn without overlay (identity NULL): setup steps, error reporting, release FIFO;
 * plus the sync channel, pty passing, proc tree and signal helpers. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "console.h"
#include "proc_stat.h"
#include "proc_tree.h"
#include "process.h"
#include "sync.h"
#include "util.h"

static void test_signal_parse(void **state)
{
    const struct {
        const char *in;
        int r, sig;
    } cases[] = {
        {"KILL", 0, SIGKILL},
        {"SIGTERM", 0, SIGTERM},
        {"sigint", 0, SIGINT},
        {"9", 0, 9},
        {"SIGRTMIN+1", 0, SIGRTMIN + 1},
        {"RTMAX-2", 0, SIGRTMAX - 2},
        {"NOPE", -EINVAL, -1},
        {"0", -EINVAL, -1},
        {"65", -EINVAL, -1},
        {"", -EINVAL, -1},
        {"RTMIN-1", -EINVAL, -1},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int sig = -1;
        assert_int_equal(signal_parse(cases[i].in, &sig), cases[i].r);
        assert_int_equal(sig, cases[i].sig); /* a rejected name leaves sig alone */
    }
}

static void test_exit_status(void **state)
{
    assert_int_equal(exit_status_from_wait(42 << 8), 42);
    assert_int_equal(exit_status_from_wait(SIGKILL), 137);
    assert_int_equal(exit_status_from_wait(SIGTERM), 143);
}

static void test_sync_roundtrip(void **state)
{
    int fds[2];
    assert_int_equal(sync_pair(fds, NULL), 0);
    rerr *e = NULL;
    assert_int_equal(sync_send_ok(fds[1]), 0);
    assert_int_equal(sync_recv(fds[0], "child", &e), 0);
    assert_int_equal(sync_send_error(fds[1], ENOENT, "mount /data: missing"), 0);
    assert_int_equal(sync_recv(fds[0], "child", &e), -ENOENT);
    assert_string_equal(rerr_msg(e), "mount /data: missing");
    close(fds[1]);
    bool eof = false;
    assert_true(sync_recv_eof(fds[0], "child", &eof, &e) < 0);
    assert_true(eof);
    assert_string_equal(rerr_msg(e), "child exited before reporting");
    rerr_free(e);
    close(fds[0]);
}

static void test_console_pass_fd(void **state)
{
    int m = -1, s = -1, sv[2];
    char *name = NULL, *got_name = NULL;
    assert_int_equal(console_open_pty(&m, &s, &name, NULL), 0);
    assert_true(str_startswith(name, "/dev/pts/"));
    assert_int_equal(console_set_size(s, 24, 80, NULL), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(console_send_fd(sv[0], m, name, NULL), 0);
    int got = -1;
    assert_int_equal(console_recv_fd(sv[1], &got, &got_name, NULL), 0);
    assert_string_equal(got_name, name);
    assert_int_equal(write(s, "hi\n", 3), 3);
    char buf[16] = {0};
    assert_true(read(got, buf, sizeof(buf) - 1) > 0);
    assert_non_null(strstr(buf, "hi"));
    assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    close(got), close(m), close(s), close(sv[0]), close(sv[1]);
    free(name), free(got_name);
}

static void test_resolve(void **state)
{
    char *args[] = {"sh", NULL};
    char *env[] = {"PATH=/nonexistent:/bin", NULL};
    struct oci_process p = {.args = args, .env = env};
    char *path = NULL;
    assert_int_equal(process_resolve_executable(&p, &path, NULL), 0);
    assert_string_equal(path, "/bin/sh");
    free(path);
    args[0] = "no-such-tool";
    rerr *e = NULL;
    assert_int_equal(process_resolve_executable(&p, &path, &e), -ENOENT);
    assert_string_equal(rerr_msg(e), "exec: \"no-such-tool\": executable file not found in $PATH");
    args[0] = "/no/such";
    assert_int_equal(process_resolve_executable(&p, &path, &e), -ENOENT);
    assert_non_null(strstr(rerr_msg(e), "/no/such"));
    rerr_free(e);
}

/* Spawn `sh -c script` with stdout into a pipe; returns the exit status and the output. */
static int spawn_sh(const char *script, struct oci_process *p, int release_fd, char **out, rerr **e)
{
    char *args[] = {"sh", "-c", (char *)script, NULL};
    char *env[] = {"PATH=/usr/bin:/bin", "FOO=bar", NULL};
    struct oci_process def = {.args = args, .env = env, .cwd = "/"};
    if (p == NULL)
        p = &def;
    if (p->args == NULL)
        p->args = args;
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    struct spawn_request req = {.proc = p,
                                .stdio = {-1, pipefd[1], pipefd[1]},
                                .console_sock = -1,
                                .release_fd = release_fd};
    pid_t pid;
    int pidfd;
    int r = process_spawn(&req, &pid, &pidfd, e);
    close(pipefd[1]);
    if (r < 0) {
        close(pipefd[0]);
        return r;
    }
    assert_true(pidfd >= 0);
    if (release_fd >= 0) {
        *out = NULL;
        close(pipefd[0]);
        close(pidfd);
        return pid; /* caller releases and reaps */
    }
    assert_int_equal(read_fd_all(pipefd[0], 1 << 20, out, NULL, NULL), 0);
    close(pipefd[0]);
    close(pidfd);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    return exit_status_from_wait(ws);
}

static void test_spawn_basics(void **state)
{
    char *out = NULL;
    assert_int_equal(spawn_sh("echo $FOO; pwd; exit 42", NULL, -1, &out, NULL), 42);
    assert_string_equal(out, "bar\n/\n");
    free(out);
    /* Only 0,1,2 survive exec (ls opens one more for the directory). */
    assert_int_equal(spawn_sh("ls /proc/self/fd | wc -l", NULL, -1, &out, NULL), 0);
    assert_int_equal(atoi(out), 4);
    free(out);
    assert_int_equal(spawn_sh("kill -9 $$", NULL, -1, &out, NULL), 137);
    free(out);
    /* Own session and process group. */
    assert_int_equal(spawn_sh("ps -o sid=,pgid=,pid= -p $$", NULL, -1, &out, NULL), 0);
    int sid, pgid, pid;
    assert_int_equal(sscanf(out, "%d %d %d", &sid, &pgid, &pid), 3);
    assert_int_equal(sid, pid);
    assert_int_equal(pgid, pid);
    free(out);
}

static void test_spawn_errors(void **state)
{
    char *args[] = {"definitely-missing", NULL};
    struct oci_process p = {.args = args, .cwd = "/"};
    rerr *e = NULL;
    char *out = NULL;
    assert_int_equal(spawn_sh(NULL, &p, -1, &out, &e), -ENOENT);
    assert_string_equal(rerr_msg(e),
                        "exec: \"definitely-missing\": executable file not found in $PATH");
    struct oci_process q = {.cwd = "/does/not/exist"};
    assert_int_equal(spawn_sh("true", &q, -1, &out, &e), -ENOENT);
    assert_non_null(strstr(rerr_msg(e), "/does/not/exist"));
    struct oci_process t = {.terminal = true, .cwd = "/"};
    assert_int_equal(spawn_sh("true", &t, -1, &out, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "console socket"));
    rerr_free(e);
}

static void test_spawn_user(void **state)
{
    gid_t extra[] = {44, 55};
    struct oci_process p = {.cwd = "/tmp",
                            .user = {.uid = 1234,
                                     .gid = 2345,
                                     .additional_gids = extra,
                                     .n_additional_gids = 2,
                                     .has_umask = true,
                                     .umask = 077}};
    char *out = NULL;
    assert_int_equal(spawn_sh("echo $(id -u) $(id -g) $(id -G); umask", &p, -1, &out, NULL), 0);
    assert_string_equal(out, "1234 2345 2345 44 55\n0077\n");
    free(out);
}

static void test_spawn_release_fifo(void **state)
{
    char dir[] = "/tmp/reaper-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
    _cleanup_free_ char *marker = xasprintf("%s/ran", dir);
    _cleanup_free_ char *script = xasprintf("touch %s", marker);
    assert_int_equal(mkfifo(fifo, 0622), 0);
    int release = open(fifo, O_PATH | O_CLOEXEC);
    char *out;
    pid_t pid = spawn_sh(script, NULL, release, &out, NULL);
    assert_true(pid > 0);
    close(release);
    assert_int_equal(access(marker, F_OK), -1); /* blocked before exec */
    int rd = open(fifo, O_RDONLY | O_CLOEXEC);
    char b;
    assert_int_equal(read(rd, &b, 1), 1);
    close(rd);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_int_equal(exit_status_from_wait(ws), 0);
    assert_int_equal(access(marker, F_OK), 0);
    assert_int_equal(rm_rf(dir, NULL), 0);
}

static void test_proc_stat_parse(void **state)
{
    /* comm with spaces and parens; tpgid -1; rsslim past INT64_MAX (field 25, not read) */
    const char *line = "42 (my (odd) comm) S 1 42 43 0 -1 4194304 7 0 3 0 150 50 0 0 20 0 1 0 "
                       "12345 1000000 100 18446744073709551615\n";
    struct proc_stat ps;
    assert_int_equal(proc_stat_parse(line, &ps), 0);
    assert_int_equal(ps.state, 'S');
    assert_int_equal(ps.ppid, 1);
    assert_int_equal(ps.pgrp, 42);
    assert_int_equal(ps.sid, 43);
    assert_int_equal(ps.minflt, 7);
    assert_int_equal(ps.majflt, 3);
    assert_int_equal(ps.utime, 150);
    assert_int_equal(ps.stime, 50);
    assert_int_equal(ps.start_time, 12345);
    assert_int_equal(ps.rss_pages, 100);
    const char *bad[] = {
        "garbage",  "1 (x)",
        "1 (x) S",  "1 (x) S 1 2 3",
        "1 (x)S 1", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 2x 21"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(proc_stat_parse(bad[i], &ps), -EINVAL);
    assert_int_equal(proc_stat_read(getpid(), &ps), 0);
    assert_int_equal(ps.ppid, getppid());
    assert_int_equal(proc_stat_read(0, &ps), -ESRCH);
}

static void test_proc_tree(void **state)
{
    /* A workload with a child that left the session: both belong to the tree. */
    char *args[] = {"sh", "-c", "setsid sleep 100 & sleep 100 & echo ready; wait", NULL};
    struct oci_process p = {.args = args, .cwd = "/"};
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    struct spawn_request req = {
        .proc = &p, .stdio = {-1, pipefd[1], -1}, .console_sock = -1, .release_fd = -1};
    pid_t pid;
    int pidfd;
    assert_int_equal(process_spawn(&req, &pid, &pidfd, NULL), 0);
    close(pipefd[1]);
    char buf[16] = {0};
    assert_int_equal(read(pipefd[0], buf, sizeof(buf)), 6); /* both children forked by now */
    pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(proc_tree_pids(pid, &pids, &n, NULL), 0);
    assert_int_equal(n, 3);
    free(pids);
    assert_int_equal(proc_tree_kill(pid, SIGKILL, NULL), 3);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_int_equal(exit_status_from_wait(ws), 137);
    /* The pipe's write end was held by the sleeps: EOF proves they died too. */
    assert_int_equal(read(pipefd[0], buf, sizeof(buf)), 0);
    close(pipefd[0]);
    close(pidfd);
}

/* The middle process spawns a workload (as another user: a uid change clears the setting)
 * and is killed: the workload dies with it. EOF on the pipe it held proves it. */
static void test_spawn_dies_with_parent(void **state)
{
    int out[2], ready[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    pid_t middle = fork();
    assert_true(middle >= 0);
    if (middle == 0) {
        char *args[] = {"sleep", "100", NULL};
        struct oci_process p = {.args = args, .cwd = "/", .user = {.uid = 1234, .gid = 1234}};
        struct spawn_request req = {.proc = &p,
                                    .stdio = {-1, out[1], -1},
                                    .console_sock = -1,
                                    .release_fd = -1,
                                    .die_with_parent = true};
        pid_t pid;
        int pidfd;
        if (process_spawn(&req, &pid, &pidfd, NULL) < 0 || write(ready[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(out[1]);
    close(ready[1]);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    kill(middle, SIGKILL);
    assert_int_equal(waitpid(middle, NULL, 0), middle);
    struct pollfd pfd = {.fd = out[0], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    assert_int_equal(read(out[0], &b, 1), 0);
    close(out[0]);
    close(ready[0]);
}

/* A private mount namespace with a member in a session of its own (like an exec's child):
 * both are signalled; the caller's own namespace never is. */
static void test_mntns_kill(void **state)
{
    assert_int_equal(proc_mntns_kill(getpid(), 0, NULL), 0);
    int ready[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    pid_t member = fork();
    assert_true(member >= 0);
    if (member == 0) {
        if (unshare(CLONE_NEWNS) < 0)
            _exit(1);
        if (fork() == 0) {
            setsid();
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            pause();
        }
        pause();
        _exit(0);
    }
    close(ready[1]);
    char b;
    assert_int_equal(read(ready[0], &b, 1), 1);
    assert_int_equal(proc_mntns_kill(member, SIGKILL, NULL), 2);
    int ws;
    assert_int_equal(waitpid(member, &ws, 0), member);
    assert_true(WIFSIGNALED(ws));
    assert_int_equal(read(ready[0], &b, 1), 0); /* the grandchild held the write end */
    close(ready[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_parse),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_sync_roundtrip),
        cmocka_unit_test(test_console_pass_fd),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_spawn_basics),
        cmocka_unit_test(test_spawn_errors),
        cmocka_unit_test(test_spawn_user),
        cmocka_unit_test(test_spawn_release_fifo),
        cmocka_unit_test(test_spawn_dies_with_parent),
        cmocka_unit_test(test_mntns_kill),
        cmocka_unit_test(test_proc_stat_parse),
        cmocka_unit_test(test_proc_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
