/* Protobuf-c helpers: Timestamp, Any, packing. */
#include "pb.h"

#include "util.h"

Reaper__Types__Timestamp pb_timestamp(const struct timespec *t)
{
    Reaper__Types__Timestamp ts = REAPER__TYPES__TIMESTAMP__INIT;
    ts.seconds = t->tv_sec;
    ts.nanos = (int32_t)t->tv_nsec;
    return ts;
}

Reaper__Types__Timestamp pb_timestamp_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return pb_timestamp(&t);
}

Reaper__Types__Any pb_any(const char *type_url, const uint8_t *value, size_t len)
{
    Reaper__Types__Any any = REAPER__TYPES__ANY__INIT;
    any.type_url = (char *)type_url;
    any.value.data = (uint8_t *)value;
    any.value.len = value ? len : 0;
    return any;
}

uint8_t *pb_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = xmalloc(*len ? *len : 1);
    protobuf_c_message_pack(m, buf);
    return buf;
}
