/* Test helper: fail with both strings when a message lacks the part the test expects. */
#ifndef REAPER_TEST_ASSERT_CONTAINS_H
#define REAPER_TEST_ASSERT_CONTAINS_H

#include <string.h>

#define assert_contains(haystack, needle)                                                          \
    do {                                                                                           \
        if (strstr((haystack), (needle)) == NULL)                                                  \
            fail_msg("\"%s\" does not contain \"%s\"", (haystack), (needle));                      \
    } while (0)

#endif
