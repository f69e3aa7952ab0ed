/* Test helper: parse a JSON literal or fail the test. */
#ifndef REAPER_TEST_JSON_FIXTURE_H
#define REAPER_TEST_JSON_FIXTURE_H

#include <jansson.h>

static inline json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (j == NULL)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

#endif
