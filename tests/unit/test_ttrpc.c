#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_test_server.h"
#include "util.h"

/* ---- helpers: the test plays the client side of a socketpair ---- */

struct parked {
    struct ttrpc_conn *conn;
    uint32_t sid;
    int calls;
};

struct pair {
    int client;
    struct ttrpc_conn *conn;
};

static void pair_open(struct pair *p, ttrpc_handler_fn h, void *user)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    p->client = sv[0];
    p->conn = ttrpc_conn_new(sv[1], h, user);
}

static void pair_close(struct pair *p)
{
    close(p->client);
    ttrpc_conn_close(p->conn);
}

static void send_frame(int fd, uint32_t sid, uint8_t type, const void *body, size_t len)
{
    uint8_t hb[TTRPC_HEADER_LEN];
    struct ttrpc_header h = {.length = (uint32_t)len, .stream_id = sid, .type = type};
    ttrpc_header_encode(&h, hb);
    assert_int_equal(write_all(fd, hb, sizeof(hb)), 0);
    if (len)
        assert_int_equal(write_all(fd, body, len), 0);
}

static void send_request(int fd, uint32_t sid, const char *method, const char *payload)
{
    size_t flen;
    _cleanup_free_ uint8_t *f =
        ttrpc_request_frame(sid, "test.Svc", method, "k8s.io", (const uint8_t *)payload,
                            payload ? strlen(payload) : 0, 0, &flen);
    assert_int_equal(write_all(fd, f, flen), 0);
}

static void read_exact(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

/* Read one Response frame; returns the decoded message (caller frees). */
static Reaper__Ttrpc__Response *read_response(int fd, uint32_t *sid)
{
    uint8_t hb[TTRPC_HEADER_LEN];
    struct ttrpc_header h;
    read_exact(fd, hb, sizeof(hb));
    ttrpc_header_decode(hb, &h);
    assert_int_equal(h.type, TTRPC_TYPE_RESPONSE);
    assert_int_equal(h.flags, 0);
    _cleanup_free_ uint8_t *body = xmalloc(h.length + 1);
    read_exact(fd, body, h.length);
    *sid = h.stream_id;
    Reaper__Ttrpc__Response *m = reaper__ttrpc__response__unpack(NULL, h.length, body);
    assert_non_null(m);
    return m;
}

static void expect_status(int fd, uint32_t want_sid, enum ttrpc_code want)
{
    uint32_t sid;
    Reaper__Ttrpc__Response *m = read_response(fd, &sid);
    assert_int_equal(sid, want_sid);
    assert_non_null(m->status);
    assert_int_equal(m->status->code, want);
    assert_true(strlen(m->status->message) > 0);
    reaper__ttrpc__response__free_unpacked(m, NULL);
}

static void expect_ok(int fd, uint32_t want_sid, const char *want_payload)
{
    uint32_t sid;
    Reaper__Ttrpc__Response *m = read_response(fd, &sid);
    assert_int_equal(sid, want_sid);
    assert_null(m->status); /* OK leaves the status out */
    assert_int_equal(m->payload.len, strlen(want_payload));
    assert_memory_equal(m->payload.data, want_payload, m->payload.len);
    reaper__ttrpc__response__free_unpacked(m, NULL);
}

/* Parks "Wait" requests, echoes everything else at once. */
static void park_handler(struct ttrpc_conn *c, const struct ttrpc_request *req, void *user)
{
    struct parked *pk = user;
    pk->calls++;
    assert_string_equal(req->service, "test.Svc");
    assert_string_equal(req->ns, "k8s.io");
    if (strcmp(req->method, "Wait") == 0) {
        pk->conn = ttrpc_conn_ref(c);
        pk->sid = req->stream_id;
        return;
    }
    ttrpc_reply(c, req->stream_id, TTRPC_OK, NULL, req->payload, req->payload_len);
}

/* ---- tests ---- */

static void test_header_codec(void **state)
{
    struct ttrpc_header h = {.length = 0x01020304, .stream_id = 0xa0b0c0d1, .type = 2, .flags = 4};
    uint8_t b[TTRPC_HEADER_LEN];
    ttrpc_header_encode(&h, b);
    const uint8_t want[] = {1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd1, 2, 4};
    assert_memory_equal(b, want, sizeof(want));
    struct ttrpc_header d;
    ttrpc_header_decode(b, &d);
    assert_int_equal(d.length, h.length);
    assert_int_equal(d.stream_id, h.stream_id);
    assert_int_equal(d.type, 2);
    assert_int_equal(d.flags, 4);
}

static void test_empty_ok_response_is_bare_header(void **state)
{
    size_t flen;
    _cleanup_free_ uint8_t *f = ttrpc_response_frame(7, TTRPC_OK, NULL, NULL, 0, &flen);
    const uint8_t want[] = {0, 0, 0, 0, 0, 0, 0, 7, TTRPC_TYPE_RESPONSE, 0};
    assert_int_equal(flen, TTRPC_HEADER_LEN); /* as Go: no status, no payload */
    assert_memory_equal(f, want, sizeof(want));
}

static void test_code_from_errno(void **state)
{
    assert_int_equal(ttrpc_code_from_errno(0), TTRPC_OK);
    assert_int_equal(ttrpc_code_from_errno(-ENOENT), TTRPC_NOT_FOUND);
    assert_int_equal(ttrpc_code_from_errno(-EEXIST), TTRPC_ALREADY_EXISTS);
    assert_int_equal(ttrpc_code_from_errno(-EINVAL), TTRPC_INVALID_ARGUMENT);
    assert_int_equal(ttrpc_code_from_errno(-ENOTSUP), TTRPC_UNIMPLEMENTED);
    assert_int_equal(ttrpc_code_from_errno(-ENOSYS), TTRPC_UNIMPLEMENTED);
    assert_int_equal(ttrpc_code_from_errno(-EBUSY), TTRPC_FAILED_PRECONDITION);
    assert_int_equal(ttrpc_code_from_errno(-ESRCH), TTRPC_FAILED_PRECONDITION);
    assert_int_equal(ttrpc_code_from_errno(-EIO), TTRPC_UNKNOWN);
}

static void test_out_of_order_replies(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    send_request(p.client, 1, "Wait", NULL);
    send_request(p.client, 3, "Echo", "three");
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    assert_int_equal(pk.calls, 2);
    assert_int_equal(pk.sid, 1);
    expect_ok(p.client, 3, "three");
    ttrpc_reply(pk.conn, 1, TTRPC_OK, NULL, (const uint8_t *)"one", 3);
    expect_ok(p.client, 1, "one");
    ttrpc_conn_unref(pk.conn);
    pair_close(&p);
}

/* Write the whole buffer while letting the server drain it (the socket buffer is small). */
static void pump(struct pair *p, const uint8_t *buf, size_t len)
{
    assert_int_equal(fcntl(p->client, F_SETFL, O_NONBLOCK), 0);
    while (len) {
        ssize_t n = write(p->client, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        }
        assert_int_equal(ttrpc_conn_on_readable(p->conn), 0);
    }
    assert_int_equal(fcntl(p->client, F_SETFL, 0), 0);
}

static void test_oversized_frame(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    size_t body = TTRPC_MAX_DATA + 1;
    _cleanup_free_ uint8_t *big = xcalloc(1, TTRPC_HEADER_LEN + body);
    struct ttrpc_header h = {.length = (uint32_t)body, .stream_id = 1, .type = 1};
    ttrpc_header_encode(&h, big);
    pump(&p, big, TTRPC_HEADER_LEN + body);
    assert_int_equal(pk.calls, 0);
    expect_status(p.client, 1, TTRPC_RESOURCE_EXHAUSTED);
    send_request(p.client, 3, "Echo", "after");
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    expect_ok(p.client, 3, "after");
    pair_close(&p);
}

static void test_bad_stream_ids(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    send_request(p.client, 2, "Echo", "even");
    send_request(p.client, 5, "Echo", "five");
    send_request(p.client, 3, "Echo", "reused");
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    expect_status(p.client, 2, TTRPC_INVALID_ARGUMENT);
    expect_ok(p.client, 5, "five");
    expect_status(p.client, 3, TTRPC_INVALID_ARGUMENT);
    assert_int_equal(pk.calls, 1);
    pair_close(&p);
}

static void test_garbage_and_wrong_type(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    send_frame(p.client, 1, TTRPC_TYPE_REQUEST, junk, sizeof(junk));
    send_frame(p.client, 3, TTRPC_TYPE_DATA, "x", 1);
    send_request(p.client, 5, "Echo", "ok");
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    expect_status(p.client, 1, TTRPC_INVALID_ARGUMENT);
    expect_status(p.client, 3, TTRPC_INVALID_ARGUMENT);
    expect_ok(p.client, 5, "ok");
    assert_int_equal(pk.calls, 1);
    pair_close(&p);
}

static void test_split_frame_and_peer_close(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    size_t flen;
    _cleanup_free_ uint8_t *f =
        ttrpc_request_frame(1, "test.Svc", "Echo", "k8s.io", (const uint8_t *)"hi", 2, 0, &flen);
    assert_int_equal(write_all(p.client, f, 4), 0); /* half a header */
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    assert_int_equal(pk.calls, 0);
    assert_int_equal(write_all(p.client, f + 4, flen - 4), 0);
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    expect_ok(p.client, 1, "hi");
    close(p.client);
    assert_true(ttrpc_conn_on_readable(p.conn) < 0);
    ttrpc_conn_close(p.conn);
}

static void test_check_peer(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    rerr *err = NULL;
    assert_int_equal(ttrpc_check_peer(ttrpc_conn_fd(p.conn), &err), 0);
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    assert_true(ttrpc_check_peer(pipefd[0], &err) < 0); /* not a socket */
    assert_non_null(strstr(rerr_msg(err), "SO_PEERCRED"));
    rerr_free(err);
    close(pipefd[0]);
    close(pipefd[1]);
    pair_close(&p);
}

static void test_reply_after_close(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    send_request(p.client, 1, "Wait", NULL);
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    assert_non_null(pk.conn);
    pair_close(&p); /* the loop drops its reference; the parked request keeps the object */
    assert_true(ttrpc_conn_closed(pk.conn));
    assert_false(ttrpc_conn_wants_write(pk.conn));
    ttrpc_reply(pk.conn, 1, TTRPC_OK, NULL, NULL, 0); /* a no-op on a closed connection */
    ttrpc_conn_unref(pk.conn);
}

/* A reply whose send fails (the peer is gone) marks the connection broken: the loop's next
 * readable/writable call reports it, so the connection is dropped in one place. */
static void test_reply_to_gone_peer_breaks_connection(void **state)
{
    struct parked pk = {0};
    struct pair p;
    pair_open(&p, park_handler, &pk);
    send_request(p.client, 1, "Wait", NULL);
    assert_int_equal(ttrpc_conn_on_readable(p.conn), 0);
    close(p.client);
    p.client = -1;
    ttrpc_reply(pk.conn, 1, TTRPC_OK, NULL, NULL, 0);
    assert_int_equal(ttrpc_conn_on_writable(p.conn), -EPIPE);
    assert_int_equal(ttrpc_conn_on_readable(p.conn), -EPIPE);
    ttrpc_conn_unref(pk.conn);
    pair_close(&p);
}

/* ---- client against a server thread ---- */

static void client_handler(struct ttrpc_conn *c, const struct ttrpc_request *req, void *user)
{
    if (strcmp(req->method, "Echo") == 0)
        ttrpc_reply(c, req->stream_id, TTRPC_OK, NULL, req->payload, req->payload_len);
    else if (strcmp(req->method, "Fail") == 0)
        ttrpc_reply(c, req->stream_id, TTRPC_NOT_FOUND, "process already finished: not found", NULL,
                    0);
    /* "Hang": never answered */
}

static void test_client_call(void **state)
{
    char dir[] = "/tmp/ttrpc-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *path = xasprintf("%s/s.sock", dir);
    struct test_server *srv = test_server_start(path, client_handler, NULL);
    struct ttrpc_client *cl = NULL;
    rerr *err = NULL;
    assert_int_equal(ttrpc_client_connect(path, &cl, &err), 0);

    uint8_t *resp = NULL;
    size_t len = 0;
    enum ttrpc_code code = TTRPC_UNKNOWN;
    assert_int_equal(ttrpc_client_call(cl, "test.Svc", "Echo", "ns", (const uint8_t *)"abc", 3,
                                       1000, &resp, &len, &code, &err),
                     0);
    assert_int_equal(code, TTRPC_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(resp, "abc", 3);
    free(resp);

    assert_int_equal(
        ttrpc_client_call(cl, "test.Svc", "Fail", NULL, NULL, 0, 1000, &resp, &len, &code, &err),
        -EPROTO);
    assert_int_equal(code, TTRPC_NOT_FOUND);
    assert_non_null(strstr(rerr_msg(err), "process already finished: not found"));
    rerr_free(err);
    err = NULL;

    uint64_t t0 = monotonic_ns();
    assert_int_equal(
        ttrpc_client_call(cl, "test.Svc", "Hang", NULL, NULL, 0, 150, &resp, &len, &code, &err),
        -ETIMEDOUT);
    uint64_t took_ms = (monotonic_ns() - t0) / 1000000;
    assert_true(took_ms >= 140 && took_ms < 2000);
    assert_int_equal(code, TTRPC_DEADLINE_EXCEEDED);
    rerr_free(err);

    ttrpc_client_close(cl);
    test_server_stop(srv);
    unlink(path);
    rmdir(dir);
}

static void test_client_connect_error(void **state)
{
    struct ttrpc_client *cl = NULL;
    rerr *err = NULL;
    assert_int_equal(ttrpc_client_connect("/nonexistent/ttrpc.sock", &cl, &err), -ENOENT);
    assert_non_null(strstr(rerr_msg(err), "/nonexistent/ttrpc.sock"));
    rerr_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_codec),
        cmocka_unit_test(test_empty_ok_response_is_bare_header),
        cmocka_unit_test(test_code_from_errno),
        cmocka_unit_test(test_out_of_order_replies),
        cmocka_unit_test(test_reply_to_gone_peer_breaks_connection),
        cmocka_unit_test(test_oversized_frame),
        cmocka_unit_test(test_bad_stream_ids),
        cmocka_unit_test(test_garbage_and_wrong_type),
        cmocka_unit_test(test_split_frame_and_peer_close),
        cmocka_unit_test(test_check_peer),
        cmocka_unit_test(test_reply_after_close),
        cmocka_unit_test(test_client_call),
        cmocka_unit_test(test_client_connect_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
