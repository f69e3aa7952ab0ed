/* reaper.conf parser: any text either parses or fails with a message; nothing leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR); /* unknown keys warn */
    char *text = xstrndup((const char *)data, size);
    struct reaper_config cfg;
    rerr *err = NULL;
    config_init_defaults(&cfg);
    int r = config_parse_text(&cfg, text, "fuzz.conf", &err);
    if (r < 0 && (err == NULL || err->msg == NULL))
        __builtin_trap();
    /* Whatever was accepted must be usable: derived paths exist, enums are in range. */
    if (r == 0 &&
        (cfg.runtime_root[0] != '/' || cfg.overlay_base == NULL || cfg.filter_dir == NULL))
        __builtin_trap();
    rerr_free(err);
    config_free(&cfg);
    free(text);
    return 0;
}
