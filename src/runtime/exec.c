/* reaper-runtime exec: run another process inside a running container's overlay and mounts. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"
#include "util.h"

#include <unistd.h>

struct exec_args {
    const char *process;
    bool detach;
    struct container_exec_opts o;
};

static _must_check_ int parse(int argc, char **argv, struct exec_args *a)
{
    static const struct option opts[] = {
        {"process", required_argument, NULL, 'p'},
        {"console-socket", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'P'},
        {"detach", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_getopt(argc, argv, "p:d", opts)) != -1) {
        switch (c) {
        case 'p':
            a->process = optarg;
            break;
        case 'c':
            a->o.console_socket = optarg;
            break;
        case 'P':
            a->o.pid_file = optarg;
            break;
        case 'd':
            a->detach = true;
            break;
        default:
            return 2;
        }
    }
    int r = cli_positionals("exec", argc, argv, 1, 1);
    if (r == 0 && a->process == NULL)
        r = cli_usage("exec", "missing --process");
    return r;
}

static _must_check_ int load_process(const char *path, struct oci_process **proc, rerr **err)
{
    _cleanup_free_ char *json = NULL;
    size_t len;
    int r = read_file(path, 4 << 20, &json, &len, err);
    if (r < 0)
        return r;
    r = oci_process_parse(json, len, proc, err);
    return r < 0 ? rerr_wrap(err, "%s", path) : 0;
}

static _must_check_ int run_exec(struct cli *cli, const char *id, struct exec_args *a, rerr **err)
{
    struct oci_process *proc = NULL;
    int r = load_process(a->process, &proc, err);
    if (r < 0)
        return r;
    _cleanup_close_ int sigfd = -1;
    pid_t pid = 0;
    _cleanup_close_ int pidfd = -1;
    if (!a->detach && (sigfd = cli_signals_block(err)) < 0)
        r = sigfd;
    else
        r = container_exec(&cli->cfg, id, proc, &a->o, &pid, &pidfd, err);
    oci_process_free(proc);
    if (r < 0 || a->detach)
        return r;
    int status = 0;
    r = cli_wait(pid, pidfd, sigfd, &status, err);
    return r < 0 ? r : status;
}

int cmd_exec(struct cli *cli, int argc, char **argv)
{
    struct exec_args a = {.o = {.console_fd = -1, .stdio = {0, 1, 2}, .release_fd = -1}};
    int r = parse(argc, argv, &a);
    if (r != 0)
        return r;
    _cleanup_rerr_ rerr *err = NULL;
    r = run_exec(cli, argv[optind], &a, &err);
    return r < 0 ? cli_fail(cli, err) : r;
}
