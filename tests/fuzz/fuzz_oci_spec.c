/*
 * config.json parser, the standalone process parser, and workload identity resolution on the
 * parsed annotations (the path every container create takes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "annotations.h"
#include "config.h"
#include "log.h"
#include "oci_spec.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void resolve(const struct oci_spec *spec)
{
    struct reaper_config cfg;
    config_init_defaults(&cfg);
    struct workload_identity id;
    char **warnings = NULL;
    rerr *err = NULL;
    if (workload_identity_resolve(&cfg, spec->annotations, spec->n_annotations, &id, &warnings,
                                  &err) == 0) {
        if (!is_dns_label(id.k8s_namespace) || (id.overlay_name && !is_dns_label(id.overlay_name)))
            __builtin_trap();
        workload_identity_free(&id);
    }
    (void)oci_spec_is_sandbox(spec);
    strv_free(warnings);
    rerr_free(err);
    config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    const char *json = (const char *)data;
    struct oci_spec *spec = NULL;
    rerr *err = NULL;
    if (oci_spec_parse(json, size, &spec, &err) == 0) {
        if (spec->process.args == NULL || spec->process.args[0] == NULL ||
            spec->process.cwd[0] != '/')
            __builtin_trap();
        resolve(spec);
        oci_spec_free(spec);
    }
    rerr_free(err);
    err = NULL;
    struct oci_process *p = NULL;
    if (oci_process_parse(json, size, &p, &err) == 0)
        oci_process_free(p);
    rerr_free(err);
    return 0;
}
