/* reaper-runtime checkpoint: `criu dump` of a running container (runc's flags). */
#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"

#include <string.h>

bool cli_checkpoint_opt(int c, struct checkpoint_opts *o)
{
    switch (c) {
    case 'i':
        o->image_path = optarg;
        return true;
    case 'w':
        o->work_path = optarg;
        return true;
    case 'T':
        o->tcp_established = true;
        return true;
    case 'F':
        o->file_locks = true;
        return true;
    case 'U':
        o->ext_unix_sk = true;
        return true;
    }
    return false;
}

int cmd_checkpoint(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_CHECKPOINT_OPTIONS,
        {"leave-running", no_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    struct checkpoint_opts o = {0};
    int c;
    while ((c = cli_getopt(argc, argv, "", opts)) != -1) {
        if (c == 'L')
            o.leave_running = true;
        else if (!cli_checkpoint_opt(c, &o))
            return 2;
    }
    int r = cli_positionals("checkpoint", argc, argv, 1, 1);
    if (r != 0)
        return r;
    if (o.image_path == NULL)
        return cli_usage("checkpoint", "missing --image-path");
    _cleanup_rerr_ rerr *err = NULL;
    if (container_checkpoint(&cli->cfg, argv[optind], &o, &err) < 0)
        return cli_fail(cli, err);
    return 0;
}
