#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    int fd;
    bool json;
    enum log_level level;
    char program[32];
} g_log = {.fd = STDERR_FILENO, .json = false, .level = LOG_LVL_INFO, .program = "reaper"};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int log_init(const char *program, const char *path, bool json, enum log_level level)
{
    snprintf(g_log.program, sizeof(g_log.program), "%s", program);
    g_log.json = json;
    g_log.level = level;
    if (path == NULL || *path == '\0')
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0)
        return -errno;
    log_close();
    g_log.fd = fd;
    return 0;
}

void log_init_stderr(const char *program, enum log_level level)
{
    IGNORE_RESULT(log_init(program, NULL, false, level)); /* no path: nothing to open */
}

void log_set_fd(int fd)
{
    log_close();
    g_log.fd = fd;
}

void log_set_level(enum log_level level)
{
    g_log.level = level;
}

bool log_enabled(enum log_level level)
{
    return level <= g_log.level;
}

static void emit_json(enum log_level level, const char *time, const char *msg)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "time", time, "level", level_names[level], "msg",
                          msg, "program", g_log.program);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) {
        size_t n = strlen(s);
        s[n] = '\n';
        IGNORE_RESULT(write_all(g_log.fd, s, n + 1)); /* nowhere to report it */
        s[n] = '\0';
    }
    free(s);
    json_decref(o);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    int saved = errno;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char *time = rfc3339_now();
    if (g_log.json) {
        emit_json(level, time, msg);
    } else {
        char line[2300];
        int n = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", time, g_log.program,
                         (int)getpid(), level_names[level], msg);
        if (n > (int)sizeof(line) - 1)
            n = sizeof(line) - 1;
        IGNORE_RESULT(write_all(g_log.fd, line, (size_t)n)); /* nowhere to report it */
    }
    free(time);
    errno = saved;
}

void log_close(void)
{
    if (g_log.fd > STDERR_FILENO)
        close(g_log.fd);
    g_log.fd = STDERR_FILENO;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}
