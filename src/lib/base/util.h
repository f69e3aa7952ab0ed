/* Small helpers shared by every program: allocation, strings, integers, files. */
#ifndef REAPER_UTIL_H
#define REAPER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocators that abort on OOM (see docs/error-convention.md). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* NULL-terminated string vectors. */
size_t strv_len(char *const *v);
void strv_push(char ***v, const char *s); /* copies s */
bool strv_contains(char *const *v, const char *s);
void strv_free(char **v);
/* Split on any of the bytes in sep, dropping empty fields. */
char **strv_split(const char *s, const char *sep);

/* The value of key in a "KEY=VALUE" list (environ, process.env), NULL if absent. */
const char *env_lookup(char *const *env, const char *key);

bool str_startswith(const char *s, const char *prefix);
bool str_endswith(const char *s, const char *suffix);

/* Strict integer parsing: whole string, base 10, range-checked. Return 0 or -EINVAL/-ERANGE. */
_must_check_ int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);
_must_check_ int parse_uint32(const char *s, uint32_t *out);
bool parse_bool(const char *s, bool *out); /* true/false/1/0/yes/no/on/off */

/* Files. read_file NUL-terminates; max caps the size (error EFBIG past it). */
_must_check_ int read_file(const char *path, size_t max, char **out, size_t *len, rerr **err);
_must_check_ int read_fd_all(int fd, size_t max, char **out, size_t *len, rerr **err);
/* Write via a temp file in the same directory + fsync + rename: readers never see half a file. */
_must_check_ int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                                   rerr **err);
/* The same without the fsync, for runtime state that describes live processes: no reader ever
 * sees half a file, but after a power loss the file may be old or empty (as the processes it
 * describes are gone then, its readers treat it as stale anyway). fsync costs 1-5 ms. */
_must_check_ int write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
                                    rerr **err);
_must_check_ int write_all(int fd, const void *buf, size_t len);
_must_check_ int mkdir_p(const char *path, mode_t mode, rerr **err);
/* Give back to the kernel up to depth bytes of the calling thread's stack below the caller's
 * frame: a long-lived thread that once ran deep (a create, a log line) keeps those pages
 * resident otherwise. They come back as zero pages if the stack grows again. */
void release_dead_stack(size_t depth);
/* Mark every fd >= low close-on-exec: close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11), else
 * (an older kernel, or a seccomp filter denying it) each fd listed in /proc/self/fd. */
_must_check_ int fds_set_cloexec_from(int low, rerr **err);
/* Remove a directory tree without following symlinks or crossing mount points. */
_must_check_ int rm_rf(const char *path, rerr **err);

/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes. */
bool is_dns_label(const char *s);
/* Container/exec ids: [A-Za-z0-9][A-Za-z0-9_.-]{0,1023}, no "/" and not "." or "..". */
bool is_valid_id(const char *s);

/* Current time as RFC 3339 with nanoseconds, UTC. */
char *rfc3339_now(void);
uint64_t monotonic_ns(void);

#endif
