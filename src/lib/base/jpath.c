#include "jpath.h"
#include "util.h"

char *jpath(const char *parent, const char *key)
{
    if (key == NULL || *key == '\0')
        return xstrdup(parent);
    return *parent ? xasprintf("%s.%s", parent, key) : xstrdup(key);
}

char *jpath_index(const char *parent, size_t i)
{
    return xasprintf("%s[%zu]", parent, i);
}
