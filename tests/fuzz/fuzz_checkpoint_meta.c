/* reaper-checkpoint.json and CRIU's log: accepted metadata survives a serialise/parse round
 * trip unchanged; the log readers take any bytes (not NUL-terminated). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_meta.h"
#include "criu.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void meta_round_trip(const char *text, size_t size)
{
    struct checkpoint_meta *m = NULL;
    rerr *err = NULL;
    if (checkpoint_meta_parse("fuzz", text, size, &m, &err) == 0) {
        char *once = checkpoint_meta_to_json(m);
        struct checkpoint_meta *again = NULL;
        if (checkpoint_meta_parse("fuzz", once, strlen(once), &again, &err) < 0)
            __builtin_trap();
        char *twice = checkpoint_meta_to_json(again);
        if (strcmp(once, twice) != 0)
            __builtin_trap();
        free(once);
        free(twice);
        checkpoint_meta_free(again);
        checkpoint_meta_free(m);
    }
    rerr_free(err);
}

static void log_lines(const char *text, size_t size)
{
    for (size_t max = 1; max <= 4; max++) {
        char *lines = criu_log_errors(text, size, max);
        if (lines && (strstr(lines, "\n") || strlen(lines) > size * 2 + 8))
            __builtin_trap(); /* one line per error, joined: never longer than the input */
        free(lines);
    }
    pid_t *pids = NULL;
    size_t n = 0;
    criu_log_seized(text, size, &pids, &n);
    for (size_t i = 0; i < n; i++)
        if (pids[i] <= 0)
            __builtin_trap();
    free(pids);
    char *copy = xstrndup(text, size);
    free(criu_parse_version(copy));
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    meta_round_trip((const char *)data, size);
    log_lines((const char *)data, size);
    return 0;
}
