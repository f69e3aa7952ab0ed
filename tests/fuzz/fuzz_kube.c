/* Fuzz the Kubernetes client's parsers: kubeconfig (YAML) and watch event lines (JSON). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube_config.h"
#include "kube_watch.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ignore(void *ud, const char *type, json_t *obj)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xstrndup((const char *)data, size);
    struct kube_config *cfg = NULL;
    rerr *e = NULL;
    if (kube_config_parse(text, strlen(text), "/base", NULL, &cfg, &e) == 0)
        kube_config_free(cfg);
    rerr_free(e);
    e = NULL;
    IGNORE_RESULT(kube_watch_dispatch_line(text, strlen(text), ignore, NULL, &e)); /* any outcome */
    rerr_free(e);
    free(text);
    return 0;
}
