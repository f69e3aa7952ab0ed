/* reaper-runtime delete: remove a stopped container (--force: kill it first; missing is ok). */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

#include <errno.h>

int cmd_delete(struct cli *cli, int argc, char **argv)
{
    bool force = false;
    int r = cli_flag_args("delete", argc, argv, "force", &force, 1, 1);
    if (r != 0)
        return r;
    _cleanup_rerr_ rerr *err = NULL;
    r = container_delete(&cli->cfg, argv[optind], force, &err);
    if (r == -ENOENT && force)
        return 0;
    return r < 0 ? cli_fail(cli, err) : 0;
}
