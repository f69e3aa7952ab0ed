/*
 * Which reset of a ReaperOverlay object this node has done, kept from the moment its layers are
 * moved aside until its status entry says so: <overlay_base>/.resets/<ns>_<name> holds
 * "<uid> <resetGeneration> <reset-request>\n". It lives outside the overlay's directory (a reset
 * removes that) and next to the layers (it lasts exactly as long as they would). An agent that
 * restarts, or whose status write failed, finds it and does not reset the overlay a second
 * time: a workload may have written into the fresh overlay meanwhile.
 */
#ifndef REAPER_RESET_MARK_H
#define REAPER_RESET_MARK_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

struct reset_mark {
    char uid[64]; /* metadata.uid: an object recreated under the same name starts afresh */
    int64_t generation;
    int64_t request;
};

/* True when done (a mark read back) already covers the reset wanted. */
bool reset_mark_covers(const struct reset_mark *done, const struct reset_mark *wanted);
/* 1 and *out filled: a mark; 0: none; negative: unreadable or malformed (named in err). */
_must_check_ int reset_mark_read(const struct reaper_config *cfg, const char *ns, const char *name,
                                 struct reset_mark *out, rerr **err);
/* Write m to .resets/.<ns>_<name>.tmp and fsync it, ahead of the reset: committing it then
 * takes one rename, so hardly any time passes between the layers going and the mark saying so. */
_must_check_ int reset_mark_prepare(const struct reaper_config *cfg, const char *ns,
                                    const char *name, const struct reset_mark *m, rerr **err);
/* Rename the prepared mark into place (atomic) and fsync .resets (durable). */
_must_check_ int reset_mark_commit(const struct reaper_config *cfg, const char *ns,
                                   const char *name, rerr **err);
/* Remove the mark and a prepared one, and .resets once empty; none is success. */
_must_check_ int reset_mark_remove(const struct reaper_config *cfg, const char *ns,
                                   const char *name, rerr **err);

#endif
