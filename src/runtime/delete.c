/* reaper-runtime delete: remove a stopped container (--force: kill it first; missing is ok). */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

#include <errno.h>

int cmd_delete(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    bool force = false;
    int c;
    while ((c = cli_getopt(argc, argv, "f", opts)) != -1) {
        if (c != 'f')
            return 2;
        force = true;
    }
    int r = cli_positionals("delete", argc, argv, 1, 1);
    if (r != 0)
        return r;
    _cleanup_rerr_ rerr *err = NULL;
    r = container_delete(&cli->cfg, argv[optind], force, &err);
    if (r == -ENOENT && force)
        return 0;
    return r < 0 ? cli_fail(cli, err) : 0;
}
