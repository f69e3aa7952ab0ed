/* state.json parser: accepted input must survive a serialise/parse round trip unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct container_state *st = NULL;
    rerr *err = NULL;
    if (state_from_json((const char *)data, size, &st, &err) == 0) {
        char *once = state_to_json(st);
        struct container_state *again = NULL;
        if (state_from_json(once, strlen(once), &again, &err) < 0)
            __builtin_trap();
        char *twice = state_to_json(again);
        if (strcmp(once, twice) != 0)
            __builtin_trap();
        free(state_oci_json(st, STATUS_RUNNING));
        free(once);
        free(twice);
        state_free(again);
        state_free(st);
    }
    rerr_free(err);
    return 0;
}
