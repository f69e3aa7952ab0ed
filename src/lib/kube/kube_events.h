/* Event recorder: core/v1 Events about an object (involvedObject), best effort. A repeat of the
 * same (object, reason, message) bumps count/lastTimestamp of the earlier Event instead of
 * creating a new one, like client-go's correlator. */
#ifndef REAPER_KUBE_EVENTS_H
#define REAPER_KUBE_EVENTS_H

#include <jansson.h>

#include "kube_client.h"

struct kube_recorder;

struct kube_recorder *kube_recorder_new(struct kube_client *c, const char *component,
                                        const char *instance);
void kube_recorder_free(struct kube_recorder *r);
/* type: "Normal" or "Warning". Failures are logged, never returned. */
void kube_event(struct kube_recorder *r, const json_t *obj, const char *type, const char *reason,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The Event object that would be created (new reference; exposed for unit tests). */
json_t *kube_event_object(const json_t *obj, const char *type, const char *reason,
                          const char *message, const char *component, const char *instance);

#endif
