/* containerd-shim-reaper-v2: `start`, `delete`, or (forked by start) the daemon. */
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "shim.h"
#include "timing.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static _must_check_ int run(const struct shim_opts *o, const struct reaper_config *cfg, rerr **err)
{
    if (o->action && strcmp(o->action, "start") == 0)
        return shim_start(o, cfg, err);
    if (o->action && strcmp(o->action, "delete") == 0)
        return shim_delete(o, cfg, err);
    if (o->action && strcmp(o->action, "serve") == 0)
        return shim_serve_daemon(o, cfg, err);
    return rerr_setx(err, 22, "unknown action %s (want start or delete)",
                     o->action ? o->action : "(none)");
}

/* Timing lines of the start/delete commands go to the shim log: their stderr is containerd's. */
static void timing_log_to_file(const struct reaper_config *cfg)
{
    if (timing_on() && cfg->shim_log)
        IGNORE_RESULT(log_init("reaper-shim", cfg->shim_log, false, LOG_LVL_INFO));
}

int main(int argc, char **argv)
{
    struct shim_opts o;
    struct reaper_config cfg;
    _cleanup_rerr_ rerr *err = NULL;
    /* containerd 1.6 reads start's stdout+stderr together: errors go to stderr only on exit. */
    log_init_stderr("reaper-shim", LOG_LVL_WARN);
    if (shim_opts_parse(argc, argv, &o, &err) < 0) {
        fprintf(stderr, "containerd-shim-reaper-v2: %s\n", rerr_msg(err));
        return 2;
    }
    if (o.version) {
        printf("containerd-shim-reaper-v2:\n  Version: %s\n  Runtime: reaper\n", REAPER_VERSION);
        shim_opts_free(&o);
        return 0;
    }
    timing_init();
    struct timing_mark t0 = timing_start();
    int r = config_load(&cfg, NULL, environ, &err);
    if (r == 0) {
        timing_log_to_file(&cfg);
        r = run(&o, &cfg, &err);
    }
    if (r == 0 && o.action && strcmp(o.action, "serve") != 0)
        timing_done(t0, o.action);
    if (r < 0)
        fprintf(stderr, "containerd-shim-reaper-v2: %s\n", rerr_msg(err));
    config_free(&cfg);
    shim_opts_free(&o);
    return r < 0 ? 1 : 0;
}
