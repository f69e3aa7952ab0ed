/* Logging for every program: to a file (or stderr), plain text or JSON lines. */
#ifndef REAPER_LOG_H
#define REAPER_LOG_H

#include <stdbool.h>

#include "err.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Log to stderr (cannot fail). */
void log_init_stderr(const char *program, enum log_level level);
/* path NULL: stderr. json: one JSON object per line ({"time","level","msg"}, like runc). */
_must_check_ int log_init(const char *program, const char *path, bool json, enum log_level level);
/* Log to an already-open fd (the shim's bundle log FIFO); the fd is taken over. */
void log_set_fd(int fd);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_close(void);
/* "error", "warn", "info", "debug" → level; -EINVAL otherwise. */
_must_check_ int log_level_parse(const char *s, enum log_level *out);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LVL_DEBUG))                                                            \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

#endif
