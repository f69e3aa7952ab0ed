/* reaper-runtime state: the OCI state object on stdout. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

#include <stdio.h>

int cmd_state(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{NULL, 0, NULL, 0}};
    if (cli_getopt(argc, argv, "", opts) != -1)
        return 2;
    int r = cli_positionals("state", argc, argv, 1, 1);
    if (r != 0)
        return r;
    _cleanup_rerr_ rerr *err = NULL;
    struct container_state *st = NULL;
    enum container_status status;
    if (container_state(&cli->cfg, argv[optind], &st, &status, &err) < 0)
        return cli_fail(cli, err);
    _cleanup_free_ char *json = state_oci_json(st, status);
    state_free(st);
    printf("%s\n", json);
    return 0;
}
