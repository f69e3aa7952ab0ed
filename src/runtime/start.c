/* reaper-runtime start: release a created container's init to exec. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

int cmd_start(struct cli *cli, int argc, char **argv)
{
    int r = cli_flag_args("start", argc, argv, NULL, NULL, 1, 1);
    if (r != 0)
        return r;
    _cleanup_rerr_ rerr *err = NULL;
    if (container_start(&cli->cfg, argv[optind], &err) < 0)
        return cli_fail(cli, err);
    return 0;
}
