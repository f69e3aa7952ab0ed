/* libFuzzer target for the CRI log parser (replay of a restored container's earlier output). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cri_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cri_log_streams s;
    cri_log_split((const char *)data, size, &s);
    /* Every byte replayed comes from the input: the streams together never outgrow it. */
    if (s.out_len + s.err_len > size || s.out[s.out_len] || s.err[s.err_len])
        __builtin_trap();
    cri_log_streams_free(&s);
    struct cri_log_line l;
    const char *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - (const char *)data) : size;
    if (cri_log_parse_line((const char *)data, n, &l) == 0 &&
        (l.content < (const char *)data || l.content + l.len > (const char *)data + n))
        __builtin_trap(); /* the content must lie within the line */
    return 0;
}
