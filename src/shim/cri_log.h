/*
 * CRI container log files (what containerd's CRI writes for `kubectl logs`): one entry per
 * line, "<RFC 3339 time> <stdout|stderr> <P|F>[:tags] <content>". P marks a partial line (the
 * content continues in the next entry of that stream), F a full one (its newline was dropped).
 * Used to replay a checkpointed container's earlier output into its restored successor.
 */
#ifndef REAPER_SHIM_CRI_LOG_H
#define REAPER_SHIM_CRI_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum cri_stream { CRI_STDOUT = 1, CRI_STDERR = 2 };

struct cri_log_line {
    enum cri_stream stream;
    bool partial;
    const char *content; /* into the parsed line, not NUL-terminated */
    size_t len;
};

/* One entry without its trailing newline. 0, or -EINVAL when it is not a CRI log entry. */
int cri_log_parse_line(const char *line, size_t len, struct cri_log_line *out);

/* The bytes each stream carried: contents in order, F entries closed by '\n'. */
struct cri_log_streams {
    char *out, *err; /* malloc'd, NUL-terminated */
    size_t out_len, err_len;
    size_t bad_lines; /* lines that were not CRI entries (skipped) */
};
void cri_log_split(const char *text, size_t len, struct cri_log_streams *s);
void cri_log_streams_free(struct cri_log_streams *s);

#endif
