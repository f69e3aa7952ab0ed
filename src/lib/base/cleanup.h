/* Scope-bound cleanup helpers (see docs/error-convention.md, "Resources"). */
#ifndef REAPER_CLEANUP_H
#define REAPER_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <jansson.h>

#include "err.h"

static inline void cleanup_freep(void *p)
{
    free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}
static inline void cleanup_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}
static inline void cleanup_rerrp(rerr **e)
{
    rerr_free(*e);
}
static inline void cleanup_jsonp(json_t **j)
{
    json_decref(*j);
}
void strv_free(char **v);
static inline void cleanup_strvp(char ***v)
{
    strv_free(*v);
}

#define _cleanup_free_   __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_  __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_rerr_   __attribute__((cleanup(cleanup_rerrp)))
#define _cleanup_strv_   __attribute__((cleanup(cleanup_strvp)))
#define _cleanup_json_   __attribute__((cleanup(cleanup_jsonp)))

/* Hand ownership out of a cleanup-scoped variable. */
#define steal_ptr(p)                                                                               \
    ({                                                                                             \
        __typeof__(p) _tmp = (p);                                                                  \
        (p) = NULL;                                                                                \
        _tmp;                                                                                      \
    })
#define steal_fd(fd)                                                                               \
    ({                                                                                             \
        int _tmp = (fd);                                                                           \
        (fd) = -1;                                                                                 \
        _tmp;                                                                                      \
    })

#endif
