#include "cmdline.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_HELP = 1, OPT_VERSION = 2, OPT_FIRST = 256 };

static size_t count(const struct cmdline_opt *opts)
{
    size_t n = 0;
    while (opts[n].name)
        n++;
    return n;
}

static struct option *long_options(const struct cmdline_opt *opts, size_t n)
{
    struct option *lo = xcalloc(n + 3, sizeof(*lo));
    for (size_t i = 0; i < n; i++) {
        int has_arg = opts[i].kind == CL_FLAG   ? no_argument
                      : opts[i].kind == CL_BOOL ? optional_argument
                                                : required_argument;
        lo[i] = (struct option){opts[i].name, has_arg, NULL, OPT_FIRST + (int)i};
    }
    lo[n] = (struct option){"help", no_argument, NULL, OPT_HELP};
    lo[n + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    return lo;
}

static _must_check_ int bad_value(const struct cmdline *cl, const struct cmdline_opt *o,
                                  const char *v, const char *want)
{
    fprintf(stderr, "%s: --%s %s: want %s\n", cl->program, o->name, v, want);
    return -EINVAL;
}

static _must_check_ int bad_choice(const struct cmdline *cl, const struct cmdline_opt *o,
                                   const char *v)
{
    _cleanup_free_ char *want = xstrdup(o->choices[0]);
    for (size_t i = 1; o->choices[i]; i++) {
        char *more = xasprintf("%s%s%s", want, o->choices[i + 1] ? ", " : " or ", o->choices[i]);
        free(want);
        want = more;
    }
    return bad_value(cl, o, v, want);
}

static _must_check_ int set_value(const struct cmdline *cl, const struct cmdline_opt *o,
                                  const char *v)
{
    int64_t n;
    switch (o->kind) {
    case CL_STRING:
        *(const char **)o->target = v;
        return 0;
    case CL_STRING_EMPTY:
        *(const char **)o->target = *v ? v : NULL;
        return 0;
    case CL_FLAG:
        *(bool *)o->target = true;
        return 0;
    case CL_BOOL:
        if (v != NULL)
            return parse_bool(v, o->target) ? 0 : bad_value(cl, o, v, "true or false");
        *(bool *)o->target = true;
        return 0;
    case CL_SECONDS:
        if (parse_int64(v, o->min, o->max, &n) < 0) {
            _cleanup_free_ char *want = xasprintf("seconds (%u..%u)", o->min, o->max);
            return bad_value(cl, o, v, want);
        }
        *(unsigned *)o->target = (unsigned)n;
        return 0;
    case CL_CHOICE:
        for (unsigned i = 0; o->choices[i]; i++)
            if (strcmp(v, o->choices[i]) == 0) {
                *(unsigned *)o->target = i;
                return 0;
            }
        return bad_choice(cl, o, v);
    case CL_LOG_LEVEL:
        return log_level_parse(v, o->target) == 0
                   ? 0
                   : bad_value(cl, o, v, "error, warn, info or debug");
    }
    return -EINVAL;
}

int cmdline_parse(const struct cmdline *cl, int argc, char **argv)
{
    size_t n = count(cl->opts);
    _cleanup_free_ struct option *lo = long_options(cl->opts, n);
    int ch, r = 0;
    opterr = 1;
    while (r == 0 && (ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (ch == OPT_HELP || ch == OPT_VERSION) {
            if (ch == OPT_HELP)
                fputs(cl->usage, stdout);
            else
                printf("%s %s\n", cl->program, REAPER_VERSION);
            return 1;
        }
        if (ch < OPT_FIRST || (size_t)(ch - OPT_FIRST) >= n)
            r = -EINVAL; /* getopt printed the unknown or incomplete option */
        else
            r = set_value(cl, &cl->opts[ch - OPT_FIRST], optarg);
    }
    if (r == 0 && !cl->positionals && optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", cl->program, argv[optind]);
        r = -EINVAL;
    }
    if (r < 0)
        fputs(cl->usage, stderr);
    return r;
}
