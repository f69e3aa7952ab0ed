/* reaper-runtime: shared state of one invocation and the helpers every verb uses. */
#ifndef REAPER_RUNTIME_CLI_H
#define REAPER_RUNTIME_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"

struct cli {
    struct reaper_config cfg;
    bool logging_to_file; /* errors go to the log as well as stderr */
};

/* Print "reaper-runtime: <message>" to stderr (and the log); returns exit status 1. */
int cli_fail(const struct cli *cli, const rerr *err);
/* Print the problem and the verb's usage line; returns exit status 2. */
int cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * getopt_long over a verb's argv (argv[0] is the verb). Returns the option character, -1 at the
 * end, or '?' after printing a usage error for an unknown option or missing argument.
 */
_must_check_ int cli_getopt(int argc, char **argv, const char *shortopts,
                            const struct option *longopts);
/* Check that between min and max positional arguments remain; returns 0 or exit status 2. */
_must_check_ int cli_positionals(const char *verb, int argc, char **argv, int min, int max);
/*
 * The whole argv of a verb with at most one option, a flag (NULL: none) whose short form is its
 * first letter (--force, -f), sets *set; then between min and max positionals, from optind.
 * Returns 0 or exit status 2 after a usage error.
 */
_must_check_ int cli_flag_args(const char *verb, int argc, char **argv, const char *flag, bool *set,
                               int min, int max);

/* Block the signals `run`/`exec` forward and return a signalfd for them. */
_must_check_ int cli_signals_block(rerr **err);
/* Forward signals from sigfd to the process until it exits; *status is its exit status. */
_must_check_ int cli_wait(pid_t pid, int pidfd, int sigfd, int *status, rerr **err);

/* The options `checkpoint` and `restore` share (runc's names), for their option tables. */
/* clang-format off */
#define CLI_CHECKPOINT_OPTIONS                            \
    {"image-path", required_argument, NULL, 'i'},         \
    {"work-path", required_argument, NULL, 'w'},          \
    {"tcp-established", no_argument, NULL, 'T'},          \
    {"file-locks", no_argument, NULL, 'F'},               \
    {"ext-unix-sk", no_argument, NULL, 'U'}
/* clang-format on */
struct checkpoint_opts;
/* Apply one of CLI_CHECKPOINT_OPTIONS (getopt's c and optarg); false if c is not one. */
bool cli_checkpoint_opt(int c, struct checkpoint_opts *o);

int cmd_create(struct cli *cli, int argc, char **argv);
int cmd_start(struct cli *cli, int argc, char **argv);
int cmd_state(struct cli *cli, int argc, char **argv);
int cmd_kill(struct cli *cli, int argc, char **argv);
int cmd_delete(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_setup_root(struct cli *cli, int argc, char **argv);
int cmd_checkpoint(struct cli *cli, int argc, char **argv);
int cmd_restore(struct cli *cli, int argc, char **argv);

#endif
