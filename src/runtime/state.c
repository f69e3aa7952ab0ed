/* reaper-runtime state: the OCI state object on stdout. */
#include "cli.h"
#include "cleanup.h"
#include "container.h"

#include <stdio.h>

int cmd_state(struct cli *cli, int argc, char **argv)
{
    int r = cli_flag_args("state", argc, argv, NULL, NULL, 1, 1);
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
