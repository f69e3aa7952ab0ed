#define REAPER_ERR_DEFINITIONS /* err.h: the real functions, not the analyzer contract */
#include "err.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _must_check_ int fill(rerr **err, int errnum, char *msg)
{
    if (errnum <= 0)
        errnum = EIO;
    if (err == NULL) {
        free(msg);
        return -errnum;
    }
    rerr_free(*err);
    rerr *e = malloc(sizeof(*e));
    if (e == NULL)
        abort();
    e->code = errnum;
    e->msg = msg;
    *err = e;
    return -errnum;
}

int rerr_set(rerr **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *base = xvasprintf(fmt, ap);
    va_end(ap);
    if (errnum == 0)
        return fill(err, errnum, base);
    char *msg = NULL;
    if (asprintf(&msg, "%s: %s", base, strerror(errnum)) < 0)
        abort();
    free(base);
    return fill(err, errnum, msg);
}

int rerr_setx(rerr **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    return fill(err, errnum, msg);
}

int rerr_wrap(rerr **err, const char *fmt, ...)
{
    if (err == NULL || *err == NULL)
        return -EIO;
    va_list ap;
    va_start(ap, fmt);
    char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (asprintf(&msg, "%s: %s", ctx, (*err)->msg) < 0)
        abort();
    free(ctx);
    free((*err)->msg);
    (*err)->msg = msg;
    return -(*err)->code;
}

int rerr_from(rerr **err, int errnum, const char *msg)
{
    char *copy = strdup(msg ? msg : "unknown error");
    if (copy == NULL)
        abort();
    return fill(err, errnum, copy);
}

const char *rerr_msg(const rerr *err)
{
    return err ? err->msg : "no error";
}

void rerr_free(rerr *err)
{
    if (err == NULL)
        return;
    free(err->msg);
    free(err);
}

int rerr_code(rerr *const *err)
{
    return err && *err && (*err)->code > 0 ? -(*err)->code : -EIO;
}
