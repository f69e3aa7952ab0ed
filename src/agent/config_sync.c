/* The chart's ConfigMap → the node's reaper.conf: validated first, written atomically (temp file,
 * fsync, rename) and only when the content differs. */
#include <stdlib.h>
#include <string.h>

#include "agentd.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static bool same_content(const char *path, const char *want)
{
    _cleanup_free_ char *have = NULL;
    size_t len;
    rerr *e = NULL;
    int r = read_file(path, 1 << 20, &have, &len, &e);
    rerr_free(e);
    return r >= 0 && len == strlen(want) && memcmp(have, want, len) == 0;
}

int agent_config_sync(struct agent *a, rerr **err)
{
    if (a->configmaps == NULL)
        return 0;
    json_t *cm = kube_informer_get(a->configmaps, a->o.config_namespace, a->o.config_map);
    if (cm == NULL)
        return 0; /* no ConfigMap: keep the node's file */
    const char *text = config_map_reaper_conf(cm);
    int r = 0;
    if (text == NULL) {
        r = rerr_setx(err, EINVAL, "configmap %s/%s has no key reaper.conf", a->o.config_namespace,
                      a->o.config_map);
    } else if (!same_content(a->o.config_path, text)) {
        struct reaper_config probe;
        config_init_defaults(&probe);
        r = config_parse_text(&probe, text, "configmap reaper.conf", err);
        config_free(&probe);
        if (r == 0)
            r = write_file_atomic(a->o.config_path, text, strlen(text), 0644, err);
        if (r == 0) {
            log_info("wrote %s from configmap %s/%s", a->o.config_path, a->o.config_namespace,
                     a->o.config_map);
            agent_counters_inc(&a->counters, &a->counters.config_syncs);
        }
    }
    json_decref(cm);
    if (r < 0)
        agent_counters_error(&a->counters, COMP_CONFIG);
    return r;
}
