/*
 * reaper-runtime setup-root: make the runtime root a shared mount point of its own now, as
 * `create` does on first use. The node installer runs it in the host's mount namespace so that
 * reaper-agent's Bidirectional mount of the root works before any pod has run.
 */
#include "cli.h"
#include "cleanup.h"
#include "root_mount.h"

#include <stdio.h>

int cmd_setup_root(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    if (cli_getopt(argc, argv, "", opts) != -1)
        return 2;
    int r = cli_positionals("setup-root", argc, argv, 0, 0);
    if (r != 0)
        return r;
    const char *root = cli->cfg.runtime_root;
    if (!cli->cfg.shared_root) {
        printf("%s: left alone (REAPER_SHARED_ROOT=false)\n", root);
        return 0;
    }
    _cleanup_rerr_ rerr *err = NULL;
    r = root_mount_ensure_shared(root, &err);
    if (r < 0)
        return cli_fail(cli, err);
    printf("%s: %s\n", root, r ? "made a shared mount point" : "already a shared mount point");
    return 0;
}
