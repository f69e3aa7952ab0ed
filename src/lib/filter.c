/* STUB: sensitive-file filter (part of the overlay work). */
#include "overlay.h"
char **filter_effective_paths(const struct reaper_config *cfg)
{
    return 0;
}
