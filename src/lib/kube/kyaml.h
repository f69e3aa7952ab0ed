/* YAML → jansson conversion (kubeconfig files are YAML). */
#ifndef REAPER_KYAML_H
#define REAPER_KYAML_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* Convert the first document. Plain true/false/null/integers become JSON scalars; every other
 * scalar (quoted or not) is a string. Anchors/aliases are rejected. */
_must_check_ int kyaml_parse(const char *buf, size_t len, json_t **out, rerr **err);

/* Called once per document of a stream: index from 1, the line it starts on (1-based) and its
 * root (an empty document is JSON null; borrowed for the call). A negative return stops. */
typedef int (*kyaml_doc_fn)(size_t index, size_t line, json_t *doc, void *ud, rerr **err);

/* Convert every document of a multi-document stream (JSON is YAML too). A syntax error names
 * the document and the line: "document 2: YAML line 7: mapping values are not allowed ...". */
int kyaml_parse_stream(const char *buf, size_t len, kyaml_doc_fn fn, void *ud, rerr **err);

#endif
