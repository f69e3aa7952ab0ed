/* Fuzz reaper-validate's input path: a multi-document YAML/JSON stream, each document judged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "kyaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int judge(size_t index, size_t line, json_t *doc, void *ud, rerr **err)
{
    struct object_report rep;
    check_object(doc, "reaper-v2", &rep);
    object_report_clear(&rep);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rerr *e = NULL;
    kyaml_parse_stream((const char *)data, size, judge, NULL, &e);
    rerr_free(e);
    return 0;
}
