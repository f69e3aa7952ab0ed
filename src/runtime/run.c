/* reaper-runtime run: create + start + wait in the foreground, then clean up. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"
#include "log.h"

#include <unistd.h>

static _must_check_ int parse(int argc, char **argv, struct container_create_opts *o)
{
    static const struct option opts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"console-socket", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_getopt(argc, argv, "b:", opts)) != -1) {
        if (c == 'b')
            o->bundle = optarg;
        else if (c == 'c')
            o->console_socket = optarg;
        else
            return 2;
    }
    int r = cli_positionals("run", argc, argv, 1, 1);
    if (r == 0 && o->bundle == NULL)
        r = cli_usage("run", "missing --bundle");
    return r;
}

/* Returns the workload's exit status, or a negative error. */
static _must_check_ int run_container(struct cli *cli, const struct container_create_opts *o,
                                      rerr **err)
{
    _cleanup_close_ int sigfd = cli_signals_block(err);
    if (sigfd < 0)
        return sigfd;
    pid_t pid;
    _cleanup_close_ int pidfd = -1;
    int r = container_create(&cli->cfg, o, &pid, &pidfd, err);
    if (r < 0)
        return r;
    int status = 0;
    r = container_start(&cli->cfg, o->id, err);
    if (r == 0 && pid > 0)
        r = cli_wait(pid, pidfd, sigfd, &status, err);
    if (r == 0)
        r = container_record_exit(&cli->cfg, o->id, status, err);
    /* On error the workload may still be alive: force removes it too. */
    _cleanup_rerr_ rerr *del_err = NULL;
    if (container_delete(&cli->cfg, o->id, r < 0, &del_err) < 0)
        log_warn("%s", rerr_msg(del_err));
    return r < 0 ? r : status;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
    struct container_create_opts o = {.console_fd = -1, .stdio = {0, 1, 2}};
    int r = parse(argc, argv, &o);
    if (r != 0)
        return r;
    o.id = argv[optind];
    _cleanup_rerr_ rerr *err = NULL;
    r = run_container(cli, &o, &err);
    return r < 0 ? cli_fail(cli, err) : r;
}
