/*
 * ttrpc (containerd's RPC over unix sockets): frame codec, a server connection driven by the
 * shim's epoll loop, and a small blocking client (for events). Wire format:
 * ../shared/notes/containerd-shim-protocol.md §1 (10-byte header, 4 MiB limit, odd stream ids).
 */
#ifndef REAPER_TTRPC_H
#define REAPER_TTRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TTRPC_HEADER_LEN    10
#define TTRPC_MAX_DATA      (4u << 20)
#define TTRPC_TYPE_REQUEST  1
#define TTRPC_TYPE_RESPONSE 2
#define TTRPC_TYPE_DATA     3

/* gRPC status codes used by containerd's errdefs mapping. */
enum ttrpc_code {
    TTRPC_OK = 0,
    TTRPC_UNKNOWN = 2,
    TTRPC_INVALID_ARGUMENT = 3,
    TTRPC_DEADLINE_EXCEEDED = 4,
    TTRPC_NOT_FOUND = 5,
    TTRPC_ALREADY_EXISTS = 6,
    TTRPC_RESOURCE_EXHAUSTED = 8,
    TTRPC_FAILED_PRECONDITION = 9,
    TTRPC_UNIMPLEMENTED = 12,
    TTRPC_INTERNAL = 13,
    TTRPC_UNAVAILABLE = 14,
};

struct ttrpc_header {
    uint32_t length;
    uint32_t stream_id;
    uint8_t type;
    uint8_t flags;
};

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_LEN]);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *h);
/* Map a negative errno from the library (docs/error-convention.md) to a status code. */
enum ttrpc_code ttrpc_code_from_errno(int neg_errno);

/*
 * Pure frame splitter, no I/O (the connection and the fuzzer share it). Calls fn for each
 * complete frame in buf[0..len). A frame longer than TTRPC_MAX_DATA is reported once with data
 * NULL, and its body is skipped through *discard (bytes still to skip, kept across calls) so it
 * is never buffered. Returns the bytes consumed, or the first negative value fn returned.
 */
typedef int (*ttrpc_frame_fn)(const struct ttrpc_header *h, const uint8_t *data, void *user);
long ttrpc_parse_frames(const uint8_t *buf, size_t len, uint64_t *discard, ttrpc_frame_fn fn,
                        void *user);

/* A decoded request, valid only during the handler call (copy what must outlive it). */
struct ttrpc_request {
    uint32_t stream_id;
    const char *service;
    const char *method;
    const uint8_t *payload;
    size_t payload_len;
    int64_t timeout_nano;
    const char *ns; /* metadata containerd-namespace-ttrpc, or NULL */
};

/*
 * Decode a Request frame body into *req (strings point into the returned message). Returns NULL
 * if it is not a valid Request. Free with ttrpc_request_free once the handler has returned.
 */
void *ttrpc_request_decode(uint32_t stream_id, const uint8_t *data, size_t len,
                           struct ttrpc_request *req);
void ttrpc_request_free(void *msg);
/* A whole Response frame (header included), malloc'd; OK leaves the status out, as Go does. */
uint8_t *ttrpc_response_frame(uint32_t stream_id, enum ttrpc_code code, const char *msg,
                              const uint8_t *payload, size_t len, size_t *frame_len);
/* A whole Request frame; ns non-NULL adds the containerd-namespace-ttrpc metadata. */
uint8_t *ttrpc_request_frame(uint32_t stream_id, const char *service, const char *method,
                             const char *ns, const uint8_t *payload, size_t len,
                             int64_t timeout_nano, size_t *frame_len);

struct ttrpc_conn;
/* Called for each request. The handler answers with ttrpc_reply(), now or later (Wait). */
typedef void (*ttrpc_handler_fn)(struct ttrpc_conn *c, const struct ttrpc_request *req, void *user);

/* Accept only peers with our own euid/egid (SO_PEERCRED), as containerd's shims do. */
_must_check_ int ttrpc_check_peer(int fd, rerr **err);
/* Wrap an accepted, non-blocking, CLOEXEC socket. The connection owns fd. */
struct ttrpc_conn *ttrpc_conn_new(int fd, ttrpc_handler_fn handler, void *user);
int ttrpc_conn_fd(const struct ttrpc_conn *c);
/* Drive from the event loop. Return 0 to keep going, <0 when the connection is finished (peer
 * closed, or a protocol error that requires dropping it); the loop then calls ttrpc_conn_close. */
_must_check_ int ttrpc_conn_on_readable(struct ttrpc_conn *c);
_must_check_ int ttrpc_conn_on_writable(struct ttrpc_conn *c);
/* True while replies are queued because the socket was full (watch EPOLLOUT). */
bool ttrpc_conn_wants_write(const struct ttrpc_conn *c);
/*
 * Send a Response for stream_id: code TTRPC_OK with payload, or an error code with message.
 * Safe after the peer went away (parked Wait answered late): it is then a no-op. A send that
 * fails marks the connection broken: its next readable/writable call returns the error, and the
 * loop drops it there (one place), so callers have nothing to check.
 */
void ttrpc_reply(struct ttrpc_conn *c, uint32_t stream_id, enum ttrpc_code code, const char *msg,
                 const uint8_t *payload, size_t len);
/* Reference counting lets a parked request outlive the connection's close. */
struct ttrpc_conn *ttrpc_conn_ref(struct ttrpc_conn *c);
void ttrpc_conn_unref(struct ttrpc_conn *c);
/* Close the socket (further replies are no-ops) and drop the loop's reference. */
void ttrpc_conn_close(struct ttrpc_conn *c);
bool ttrpc_conn_closed(const struct ttrpc_conn *c);

/* Blocking client over a unix socket path (events Forward). */
struct ttrpc_client;
_must_check_ int ttrpc_client_connect(const char *path, struct ttrpc_client **out, rerr **err);
/* One unary call. On a status other than OK, returns -EPROTO with the code and message in err
 * and *code set. *resp is malloc'd (may be NULL for an empty payload). timeout_ms 0 = none. */
_must_check_ int ttrpc_client_call(struct ttrpc_client *cl, const char *service, const char *method,
                                   const char *ns, const uint8_t *payload, size_t len,
                                   int timeout_ms, uint8_t **resp, size_t *resp_len,
                                   enum ttrpc_code *code, rerr **err);
void ttrpc_client_close(struct ttrpc_client *cl);

#endif
