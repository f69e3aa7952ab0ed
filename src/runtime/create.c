/* reaper-runtime create: record the container and leave its init blocked before exec. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

int cmd_create(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"console-socket", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    struct container_create_opts o = {.console_fd = -1, .stdio = {0, 1, 2}};
    int c;
    while ((c = cli_getopt(argc, argv, "b:", opts)) != -1) {
        switch (c) {
        case 'b':
            o.bundle = optarg;
            break;
        case 'c':
            o.console_socket = optarg;
            break;
        case 'p':
            o.pid_file = optarg;
            break;
        default:
            return 2;
        }
    }
    int r = cli_positionals("create", argc, argv, 1, 1);
    if (r != 0)
        return r;
    if (o.bundle == NULL)
        return cli_usage("create", "missing --bundle");
    o.id = argv[optind];
    _cleanup_rerr_ rerr *err = NULL;
    pid_t pid;
    int pidfd;
    if (container_create(&cli->cfg, &o, &pid, &pidfd, &err) < 0)
        return cli_fail(cli, err);
    if (pidfd >= 0)
        close(pidfd);
    return 0;
}
