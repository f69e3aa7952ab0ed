/* One WATCH request: streams newline-delimited watch events to a callback. */
#ifndef REAPER_KUBE_WATCH_H
#define REAPER_KUBE_WATCH_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "err.h"
#include "kube_client.h"

/* type: ADDED, MODIFIED, DELETED, BOOKMARK. obj is borrowed. */
typedef void (*kube_watch_fn)(void *ud, const char *type, json_t *obj);

struct kube_watch_opts {
    const char *namespace;      /* NULL: all namespaces */
    const char *label_selector; /* NULL: everything */
    const char *field_selector; /* NULL: everything ("spec.nodeName=n1") */
    const char *resource_version;
    int timeout_seconds;     /* server-side timeout; the stream ends normally after it */
    const atomic_bool *stop; /* aborts the transfer within ~1 s when set */
};

/* Returns 0 when the server ends the stream, -EKEYEXPIRED on 410 Gone (HTTP or ERROR event:
 * the caller must relist), -ECANCELED when stopped, another negative errno otherwise. */
_must_check_ int kube_watch(struct kube_client *c, const struct kube_resource *r,
                            const struct kube_watch_opts *o, kube_watch_fn fn, void *ud,
                            rerr **err);

/* "labelSelector=...&fieldSelector=..." (escaped; either may be NULL), or NULL for none. */
char *kube_selector_query(const char *label_selector, const char *field_selector);

/* Feed one line of a watch stream (exposed for the fuzzer and unit tests). Returns 0, or
 * -EKEYEXPIRED / -EIO for an ERROR event, -EINVAL for a malformed line. */
_must_check_ int kube_watch_dispatch_line(const char *line, size_t len, kube_watch_fn fn, void *ud,
                                          rerr **err);

#endif
