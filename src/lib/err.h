/* Error convention: see docs/error-convention.md. */
#ifndef REAPER_ERR_H
#define REAPER_ERR_H

typedef struct rerr {
    int code;  /* positive errno value */
    char *msg; /* full message, context first */
} rerr;

/* Store "<fmt>: strerror(errnum)" in *err (errnum 0: no suffix). Returns -errnum (or -EIO). */
int rerr_set(rerr **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Store "<fmt>" in *err with code errnum, no strerror suffix. Returns -errnum (or -EIO). */
int rerr_setx(rerr **err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix "<fmt>: " to the message in *err. Returns -(*err)->code. */
int rerr_wrap(rerr **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Move an error (e.g. received from a child) into *err. */
int rerr_from(rerr **err, int errnum, const char *msg);
const char *rerr_msg(const rerr *err);
void rerr_free(rerr *err);

#endif
