/* ttrpc frame and message codec: pure functions shared by the server, the client and the fuzzer. */
#include "ttrpc.h"

#include <errno.h>
#include <string.h>

#include "ttrpc.pb-c.h"
#include "util.h"

#define NS_METADATA_KEY "containerd-namespace-ttrpc"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_LEN])
{
    put_be32(out, h->length);
    put_be32(out + 4, h->stream_id);
    out[8] = h->type;
    out[9] = h->flags;
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *h)
{
    h->length = get_be32(in);
    h->stream_id = get_be32(in + 4);
    h->type = in[8];
    h->flags = in[9];
}

enum ttrpc_code ttrpc_code_from_errno(int neg_errno)
{
    switch (-neg_errno) {
    case 0:
        return TTRPC_OK;
    case ENOENT:
        return TTRPC_NOT_FOUND;
    case EEXIST:
        return TTRPC_ALREADY_EXISTS;
    case EINVAL:
        return TTRPC_INVALID_ARGUMENT;
    case ENOTSUP:
    case ENOSYS:
        return TTRPC_UNIMPLEMENTED;
    case EBUSY:
    case ESRCH:
        return TTRPC_FAILED_PRECONDITION;
    default:
        return TTRPC_UNKNOWN;
    }
}

/* Skip what remains of an oversized frame; true when it is all gone. */
static bool skip_discard(size_t avail, size_t *pos, uint64_t *discard)
{
    size_t n = *discard < avail ? (size_t)*discard : avail;
    *pos += n;
    *discard -= n;
    return *discard == 0;
}

long ttrpc_parse_frames(const uint8_t *buf, size_t len, uint64_t *discard, ttrpc_frame_fn fn,
                        void *user)
{
    size_t pos = 0;
    for (;;) {
        if (*discard && !skip_discard(len - pos, &pos, discard))
            break;
        if (len - pos < TTRPC_HEADER_LEN)
            break;
        struct ttrpc_header h;
        ttrpc_header_decode(buf + pos, &h);
        if (h.length > TTRPC_MAX_DATA) {
            pos += TTRPC_HEADER_LEN;
            *discard = h.length;
            int r = fn(&h, NULL, user);
            if (r < 0)
                return r;
            continue;
        }
        if (len - pos - TTRPC_HEADER_LEN < h.length)
            break;
        int r = fn(&h, buf + pos + TTRPC_HEADER_LEN, user);
        if (r < 0)
            return r;
        pos += TTRPC_HEADER_LEN + h.length;
    }
    return (long)pos;
}

void *ttrpc_request_decode(uint32_t stream_id, const uint8_t *data, size_t len,
                           struct ttrpc_request *req)
{
    Reaper__Ttrpc__Request *m = reaper__ttrpc__request__unpack(NULL, len, data);
    if (!m)
        return NULL;
    *req = (struct ttrpc_request){
        .stream_id = stream_id,
        .service = m->service,
        .method = m->method,
        .payload = m->payload.data,
        .payload_len = m->payload.len,
        .timeout_nano = m->timeout_nano,
    };
    for (size_t i = 0; i < m->n_metadata; i++)
        if (strcmp(m->metadata[i]->key, NS_METADATA_KEY) == 0)
            req->ns = m->metadata[i]->value;
    return m;
}

void ttrpc_request_free(void *msg)
{
    if (msg)
        reaper__ttrpc__request__free_unpacked(msg, NULL);
}

/* Header + packed message in one malloc'd buffer. */
static uint8_t *frame_message(uint32_t stream_id, uint8_t type, const ProtobufCMessage *m,
                              size_t *frame_len)
{
    size_t body = protobuf_c_message_get_packed_size(m);
    uint8_t *out = xmalloc(TTRPC_HEADER_LEN + body);
    struct ttrpc_header h = {.length = (uint32_t)body, .stream_id = stream_id, .type = type};
    ttrpc_header_encode(&h, out);
    protobuf_c_message_pack(m, out + TTRPC_HEADER_LEN);
    *frame_len = TTRPC_HEADER_LEN + body;
    return out;
}

uint8_t *ttrpc_response_frame(uint32_t stream_id, enum ttrpc_code code, const char *msg,
                              const uint8_t *payload, size_t len, size_t *frame_len)
{
    Reaper__Ttrpc__Response resp = REAPER__TTRPC__RESPONSE__INIT;
    Reaper__Ttrpc__Status status = REAPER__TTRPC__STATUS__INIT;
    if (code != TTRPC_OK) {
        status.code = code;
        status.message = (char *)(msg ? msg : "");
        resp.status = &status;
    } else {
        resp.payload.data = (uint8_t *)payload;
        resp.payload.len = payload ? len : 0;
    }
    return frame_message(stream_id, TTRPC_TYPE_RESPONSE, &resp.base, frame_len);
}

uint8_t *ttrpc_request_frame(uint32_t stream_id, const char *service, const char *method,
                             const char *ns, const uint8_t *payload, size_t len,
                             int64_t timeout_nano, size_t *frame_len)
{
    Reaper__Ttrpc__Request req = REAPER__TTRPC__REQUEST__INIT;
    Reaper__Ttrpc__KeyValue kv = REAPER__TTRPC__KEY_VALUE__INIT;
    Reaper__Ttrpc__KeyValue *md[1] = {&kv};
    req.service = (char *)service;
    req.method = (char *)method;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = payload ? len : 0;
    req.timeout_nano = timeout_nano;
    if (ns) {
        kv.key = (char *)NS_METADATA_KEY;
        kv.value = (char *)ns;
        req.metadata = md;
        req.n_metadata = 1;
    }
    return frame_message(stream_id, TTRPC_TYPE_REQUEST, &req.base, frame_len);
}
