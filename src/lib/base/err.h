/* Error convention: see docs/error-convention.md. */
#ifndef REAPER_ERR_H
#define REAPER_ERR_H

/* On every function that returns a negative errno value: a caller must look at the result.
 * Where ignoring it is right, say so with IGNORE_RESULT() and a comment giving the reason
 * (gcc does not accept a plain (void) cast for this attribute). */
#define _must_check_     __attribute__((warn_unused_result))
#define IGNORE_RESULT(x) ((void)!(x))

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
/* The negative code stored in *err (-EIO if none): for callees that return a pointer and fill
 * err on failure, so the caller passes their code on instead of a generic one. */
int rerr_code(rerr *const *err);
const char *rerr_msg(const rerr *err);
void rerr_free(rerr *err);

#if defined(__clang_analyzer__) && !defined(REAPER_ERR_DEFINITIONS)
/* scan-build sees one file at a time: it cannot know that the setters above always return a
 * negative value, and follows "error stored, result >= 0" paths that cannot happen. State the
 * contract for it in the call itself (a function would not be inlined deep in a call chain).
 * The build never sees this. */
#define RERR_NEGATIVE_(call)                                                                       \
    ({                                                                                             \
        int rerr_r_ = (call);                                                                      \
        rerr_r_ < 0 ? rerr_r_ : -5;                                                                \
    })
#define rerr_set(...)  RERR_NEGATIVE_(rerr_set(__VA_ARGS__))
#define rerr_setx(...) RERR_NEGATIVE_(rerr_setx(__VA_ARGS__))
#define rerr_wrap(...) RERR_NEGATIVE_(rerr_wrap(__VA_ARGS__))
#define rerr_from(...) RERR_NEGATIVE_(rerr_from(__VA_ARGS__))
#define rerr_code(...) RERR_NEGATIVE_(rerr_code(__VA_ARGS__))
#endif

#endif
