/* YAML → jansson conversion (kubeconfig files are YAML). */
#ifndef REAPER_KYAML_H
#define REAPER_KYAML_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* Convert the first document. Plain true/false/null/integers become JSON scalars; every other
 * scalar (quoted or not) is a string. Anchors/aliases are rejected. */
_must_check_ int kyaml_parse(const char *buf, size_t len, json_t **out, rerr **err);

#endif
