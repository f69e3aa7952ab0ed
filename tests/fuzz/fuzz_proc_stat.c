/* libFuzzer target for the /proc/<pid>/stat parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc_stat.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = xstrndup((const char *)data, size);
    struct proc_stat ps;
    if (proc_stat_parse(line, &ps) == 0 && strrchr(line, ')') == NULL)
        __builtin_trap(); /* a parse without the comm terminator is a bug */
    free(line);
    return 0;
}
