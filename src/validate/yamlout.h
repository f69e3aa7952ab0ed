/* Block-style YAML for generated manifests (what kubectl and the repo's manifests look like). */
#ifndef REAPER_VALIDATE_YAMLOUT_H
#define REAPER_VALIDATE_YAMLOUT_H

#include <jansson.h>
#include <stdio.h>

/* One YAML document per element of docs, separated by "---". Strings that YAML could read as
 * something else are written JSON-quoted (a JSON string is a YAML double-quoted scalar). */
void yaml_write_docs(FILE *f, const json_t *docs);

#endif
