/*
 * reaper-runtime restore: create the container from its bundle with the checkpoint image as its
 * restore source, then restore its process with this command's stdin/stdout/stderr in place of
 * the pipes it had (as `create`/`run` give theirs). Without --detach it waits like `run`.
 */
#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <unistd.h>

struct restore_args {
    struct container_create_opts create;
    struct checkpoint_opts ckpt;
    bool detach;
};

static _must_check_ int parse(int argc, char **argv, struct restore_args *a)
{
    static const struct option opts[] = {
        CLI_CHECKPOINT_OPTIONS,
        {"bundle", required_argument, NULL, 'b'},
        {"pid-file", required_argument, NULL, 'p'},
        {"detach", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_getopt(argc, argv, "b:d", opts)) != -1) {
        if (c == 'b')
            a->create.bundle = optarg;
        else if (c == 'p')
            a->create.pid_file = optarg;
        else if (c == 'd')
            a->detach = true;
        else if (!cli_checkpoint_opt(c, &a->ckpt))
            return 2;
    }
    int r = cli_positionals("restore", argc, argv, 1, 1);
    if (r == 0 && a->ckpt.image_path == NULL)
        r = cli_usage("restore", "missing --image-path");
    return r;
}

static _must_check_ int write_pid(const char *path, pid_t pid, rerr **err)
{
    if (path == NULL)
        return 0;
    _cleanup_free_ char *text = xasprintf("%d", (int)pid);
    return write_file_atomic(path, text, strlen(text), 0644, err);
}

/* Create + restore; on failure the container is deleted again (nothing left behind). */
static _must_check_ int create_and_restore(struct cli *cli, struct restore_args *a, pid_t *pid,
                                           int *pidfd, rerr **err)
{
    pid_t none;
    int nofd;
    int r = container_create(&cli->cfg, &a->create, &none, &nofd, err);
    if (r < 0)
        return r;
    const struct container_restore_io io = {.stdio = {0, 1, 2}, .console_sock = -1};
    r = container_restore(&cli->cfg, a->create.id, &a->ckpt, &io, pid, pidfd, err);
    if (r == 0)
        r = write_pid(a->create.pid_file, *pid, err);
    if (r < 0) {
        _cleanup_rerr_ rerr *del_err = NULL;
        if (container_delete(&cli->cfg, a->create.id, true, &del_err) < 0)
            log_warn("%s", rerr_msg(del_err));
    }
    return r;
}

/* Returns the workload's exit status (or 0 with --detach), or a negative error. */
static _must_check_ int restore_container(struct cli *cli, struct restore_args *a, rerr **err)
{
    _cleanup_close_ int sigfd = a->detach ? -1 : cli_signals_block(err);
    if (!a->detach && sigfd < 0)
        return sigfd;
    pid_t pid;
    _cleanup_close_ int pidfd = -1;
    int r = create_and_restore(cli, a, &pid, &pidfd, err);
    if (r < 0 || a->detach)
        return r;
    int status = 0;
    r = cli_wait(pid, pidfd, sigfd, &status, err);
    if (r == 0)
        r = container_record_exit(&cli->cfg, a->create.id, status, err);
    _cleanup_rerr_ rerr *del_err = NULL;
    if (container_delete(&cli->cfg, a->create.id, r < 0, &del_err) < 0)
        log_warn("%s", rerr_msg(del_err));
    return r < 0 ? r : status;
}

int cmd_restore(struct cli *cli, int argc, char **argv)
{
    struct restore_args a = {
        .create = {.bundle = ".", .console_fd = -1, .stdio = {0, 1, 2}},
    };
    int r = parse(argc, argv, &a);
    if (r != 0)
        return r;
    a.create.id = argv[optind];
    a.create.restore_from = a.ckpt.image_path;
    _cleanup_rerr_ rerr *err = NULL;
    r = restore_container(cli, &a, &err);
    return r < 0 ? cli_fail(cli, err) : r;
}
