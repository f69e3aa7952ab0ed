/* reaper-runtime kill: signal the workload's process group (--all: its whole process tree). */
#include "cli.h"
#include "cleanup.h"
#include "container.h"
#include "proc_tree.h"
#include "process.h"

#include <signal.h>

int cmd_kill(struct cli *cli, int argc, char **argv)
{
    bool all = false;
    int r = cli_flag_args("kill", argc, argv, "all", &all, 1, 2);
    if (r != 0)
        return r;
    int sig = SIGTERM;
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (name && signal_parse(name, &sig) < 0)
        return cli_usage("kill", "unknown signal \"%s\"", name);
    _cleanup_rerr_ rerr *err = NULL;
    if (container_kill(&cli->cfg, argv[optind], sig, all, &err) < 0)
        return cli_fail(cli, err);
    return 0;
}
