/* Small helpers for building protobuf-c messages (proto/types.proto) in the shim. */
#ifndef REAPER_PB_H
#define REAPER_PB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "types.pb-c.h"

/* A google.protobuf.Timestamp value for t (exited_at fields, event envelopes). */
Reaper__Types__Timestamp pb_timestamp(const struct timespec *t);
/* The current CLOCK_REALTIME as a Timestamp. */
Reaper__Types__Timestamp pb_timestamp_now(void);
/* An Any that borrows type_url and value: keep them alive until the message is packed. */
Reaper__Types__Any pb_any(const char *type_url, const uint8_t *value, size_t len);
/* Serialize any message into a malloc'd buffer (never NULL, even when *len is 0). */
uint8_t *pb_pack(const ProtobufCMessage *m, size_t *len);

#endif
