/* reaper-runtime: global flags, configuration, logging, then one verb (runc conventions). */
#include "cli.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const struct {
    const char *name;
    int (*fn)(struct cli *cli, int argc, char **argv);
    const char *usage;
} verbs[] = {
    {"create", cmd_create, "create <id> --bundle DIR [--console-socket PATH] [--pid-file FILE]"},
    {"start", cmd_start, "start <id>"},
    {"state", cmd_state, "state <id>"},
    {"kill", cmd_kill, "kill <id> [SIGNAL] [--all]"},
    {"delete", cmd_delete, "delete <id> [--force]"},
    {"exec", cmd_exec,
     "exec <id> --process FILE [--console-socket PATH] [--pid-file FILE] [--detach]"},
    {"run", cmd_run, "run <id> --bundle DIR [--console-socket PATH]"},
    {"list", cmd_list, "list [--format table|json]"},
    {"setup-root", cmd_setup_root, "setup-root"},
    {"checkpoint", cmd_checkpoint,
     "checkpoint <id> --image-path DIR [--work-path DIR] [--leave-running] "
     "[--tcp-established] [--file-locks] [--ext-unix-sk]"},
    {"restore", cmd_restore,
     "restore <id> --image-path DIR [--work-path DIR] [--bundle DIR] [--pid-file FILE] "
     "[--detach] [--tcp-established] [--file-locks] [--ext-unix-sk]"},
};

static void print_help(FILE *f)
{
    fprintf(f, "usage: reaper-runtime [--root DIR] [--log FILE] [--log-format text|json] "
               "[--debug] VERB ...\n\nverbs:\n");
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
        fprintf(f, "  %s\n", verbs[i].usage);
}

int cli_fail(const struct cli *cli, const rerr *err)
{
    fprintf(stderr, "reaper-runtime: %s\n", rerr_msg(err));
    if (cli->logging_to_file)
        log_error("%s", rerr_msg(err));
    return 1;
}

int cli_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "reaper-runtime: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    for (size_t i = 0; verb && i < ARRAY_SIZE(verbs); i++) {
        if (strcmp(verbs[i].name, verb) == 0) {
            fprintf(stderr, "usage: reaper-runtime %s\n", verbs[i].usage);
            return 2;
        }
    }
    print_help(stderr);
    return 2;
}

struct globals {
    const char *root, *log, *log_format;
    bool debug;
};

/* Returns -1 to continue with the verb at argv[optind], else an exit status. */
static int parse_globals(int argc, char **argv, struct globals *g)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"debug", no_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = cli_getopt(argc, argv, "+", opts)) != -1) {
        switch (c) {
        case 'r':
            g->root = optarg;
            break;
        case 'l':
            g->log = optarg;
            break;
        case 'f':
            g->log_format = optarg;
            break;
        case 'd':
            g->debug = true;
            break;
        case 'v':
            printf("reaper-runtime version %s\n", REAPER_VERSION);
            return 0;
        case 'h':
            print_help(stdout);
            return 0;
        default:
            return 2;
        }
    }
    if (g->log_format && strcmp(g->log_format, "text") && strcmp(g->log_format, "json"))
        return cli_usage(NULL, "--log-format must be text or json, not \"%s\"", g->log_format);
    if (optind >= argc)
        return cli_usage(NULL, "missing verb");
    return -1;
}

static _must_check_ int setup(struct cli *cli, const struct globals *g)
{
    _cleanup_rerr_ rerr *err = NULL;
    if (config_load(&cli->cfg, NULL, environ, &err) < 0)
        return cli_fail(cli, err);
    if (g->root) {
        free(cli->cfg.runtime_root);
        cli->cfg.runtime_root = xstrdup(g->root);
    }
    const char *log = g->log ? g->log : cli->cfg.runtime_log;
    bool json = g->log_format && strcmp(g->log_format, "json") == 0;
    if (log_init("reaper-runtime", log, json, g->debug ? LOG_LVL_DEBUG : LOG_LVL_INFO) < 0) {
        rerr_set(&err, errno, "open log %s", log);
        return cli_fail(cli, err);
    }
    cli->logging_to_file = log && *log;
    return 0;
}

int main(int argc, char **argv)
{
    struct globals g = {0};
    int r = parse_globals(argc, argv, &g);
    if (r >= 0)
        return r;
    const char *verb = argv[optind];
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
        if (strcmp(verbs[i].name, verb) != 0)
            continue;
        struct cli cli = {0};
        r = setup(&cli, &g);
        if (r == 0) {
            int vargc = argc - optind;
            char **vargv = argv + optind;
            optind = 0; /* restart getopt for the verb's own flags */
            r = verbs[i].fn(&cli, vargc, vargv);
        }
        config_free(&cli.cfg);
        log_close();
        return r;
    }
    return cli_usage(NULL, "unknown verb \"%s\"", verb);
}
