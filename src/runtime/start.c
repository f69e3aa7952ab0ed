/* reaper-runtime start: release a created container's init to exec. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

int cmd_start(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    if (cli_getopt(argc, argv, "", opts) != -1)
        return 2;
    int r = cli_positionals("start", argc, argv, 1, 1);
    if (r != 0)
        return r;
    _cleanup_rerr_ rerr *err = NULL;
    if (container_start(&cli->cfg, argv[optind], &err) < 0)
        return cli_fail(cli, err);
    return 0;
}
