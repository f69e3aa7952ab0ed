/* STUB: implemented by the parsers work. */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void config_init_defaults(struct reaper_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->runtime_root = xstrdup(REAPER_DEFAULT_ROOT);
}
int config_load(struct reaper_config *cfg, const char *path, char *const *envp, rerr **err)
{
    config_init_defaults(cfg);
    return 0;
}
int config_parse_text(struct reaper_config *cfg, const char *text, const char *origin, rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
int config_set(struct reaper_config *cfg, const char *key, const char *value, const char *origin,
               rerr **err)
{
    return rerr_setx(err, ENOSYS, "not implemented");
}
void config_free(struct reaper_config *cfg)
{
    free(cfg->runtime_root);
}
const char *dns_mode_name(enum dns_mode m)
{
    return m == DNS_HOST ? "host" : "kubernetes";
}
int dns_mode_parse(const char *s, enum dns_mode *out)
{
    return -EINVAL;
}
