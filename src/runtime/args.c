/* Option parsing shared by the verbs: getopt with our own messages, positional counts. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static bool known_option(int c, const char *shortopts, const struct option *longopts)
{
    if (strchr(shortopts, c))
        return true;
    for (size_t i = 0; longopts && longopts[i].name; i++)
        if (longopts[i].val == c)
            return true;
    return false;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    opterr = 0;
    optopt = 0;
    int c = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (c != '?')
        return c;
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    if (optopt == 0)
        cli_usage(argv[0], "unknown option %s", arg);
    else if (known_option(optopt, shortopts, longopts))
        cli_usage(argv[0], "option %s needs an argument", arg);
    else
        cli_usage(argv[0], "unknown option -%c", optopt);
    return '?';
}

int cli_positionals(const char *verb, int argc, char **argv, int min, int max)
{
    int n = argc - optind;
    if (n < min)
        return cli_usage(verb, n == 0 ? "missing container id" : "missing argument");
    if (n > max)
        return cli_usage(verb, "unexpected argument \"%s\"", argv[optind + max]);
    return 0;
}

int cli_flag_args(const char *verb, int argc, char **argv, const char *flag, bool *set, int min,
                  int max)
{
    const struct option opts[] = {
        {flag, no_argument, NULL, flag ? flag[0] : 0},
        {NULL, 0, NULL, 0},
    };
    const char shortopts[2] = {flag ? flag[0] : '\0', '\0'};
    int c;
    while ((c = cli_getopt(argc, argv, shortopts, flag ? opts : opts + 1)) != -1) {
        if (c == '?')
            return 2;
        *set = true;
    }
    return cli_positionals(verb, argc, argv, min, max);
}
