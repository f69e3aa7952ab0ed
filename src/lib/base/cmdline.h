/* Long-option parsing from a table, shared by reaper-controller and reaper-agent: each option
 * names its target and kind, so a program's main holds data, not a switch. --help and
 * --version are always there. */
#ifndef REAPER_CMDLINE_H
#define REAPER_CMDLINE_H

#include <stdbool.h>

#include "err.h"

enum cmdline_kind {
    CL_STRING,       /* const char **: the argument */
    CL_STRING_EMPTY, /* const char **: the argument, NULL when empty */
    CL_FLAG,         /* bool *: set, no argument */
    CL_BOOL,         /* bool *: "--x" or "--x=true|false" (and the other parse_bool words) */
    CL_SECONDS,      /* unsigned *: an integer in [min, max] */
    CL_LOG_LEVEL,    /* enum log_level *: error, warn, info, debug */
    CL_CHOICE,       /* unsigned *: the index of the argument in choices */
};

struct cmdline_opt {
    const char *name; /* without the leading "--" */
    enum cmdline_kind kind;
    void *target;
    unsigned min, max;          /* CL_SECONDS */
    const char *const *choices; /* CL_CHOICE: NULL-terminated */
};

struct cmdline {
    const char *program; /* "reaper-agent": prefixes messages and --version */
    const char *usage;   /* the usage text printed for --help and after a usage error */
    const struct cmdline_opt *opts;
    bool positionals; /* operands allowed: they start at optind when cmdline_parse returns 0 */
};

/* Parse argv. Returns 0 to run, 1 after --help or --version
 * (printed to stdout), or -EINVAL on a usage error (message naming the option and the usage
 * printed to stderr). */
_must_check_ int cmdline_parse(const struct cmdline *cl, int argc, char **argv);

#endif
