#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "events.h"
#include "events.pb-c.h"
#include "pb.h"
#include "ttrpc_test_server.h"
#include "util.h"

#define MAX_SEEN 64

/* What the fake containerd Events service received. */
struct fake {
    pthread_mutex_t mu;
    pthread_cond_t died;
    struct test_server *srv;
    int die_after; /* 0: never */
    bool dead;
    int n;
    uint32_t pids[MAX_SEEN];
    char topics[MAX_SEEN][32];
};

static void check_envelope(const Reaper__Events__Envelope *env, const struct ttrpc_request *req)
{
    assert_string_equal(req->service, "containerd.services.events.ttrpc.v1.Events");
    assert_string_equal(req->method, "Forward");
    assert_non_null(req->ns);
    assert_string_equal(req->ns, "k8s.io");
    assert_true(req->timeout_nano >= 1000000000ll);
    assert_string_equal(env->namespace_, "k8s.io");
    assert_non_null(env->timestamp);
    assert_true(env->timestamp->seconds > 1600000000);
    assert_non_null(env->event);
    assert_string_equal(env->event->type_url, "containerd.events.TaskStart");
}

static void fake_handler(struct ttrpc_conn *c, const struct ttrpc_request *req, void *user)
{
    struct fake *f = user;
    pthread_mutex_lock(&f->mu);
    bool dead = f->dead;
    pthread_mutex_unlock(&f->mu);
    if (dead)
        return; /* requests read after the "crash" are lost, as with a real crash */
    Reaper__Events__ForwardRequest *fr =
        reaper__events__forward_request__unpack(NULL, req->payload_len, req->payload);
    assert_non_null(fr);
    assert_non_null(fr->envelope);
    check_envelope(fr->envelope, req);
    Reaper__Events__TaskStart *ts = reaper__events__task_start__unpack(
        NULL, fr->envelope->event->value.len, fr->envelope->event->value.data);
    assert_non_null(ts);
    pthread_mutex_lock(&f->mu);
    assert_true(f->n < MAX_SEEN);
    f->pids[f->n] = ts->pid;
    snprintf(f->topics[f->n], sizeof(f->topics[0]), "%s", fr->envelope->topic);
    f->n++;
    reaper__events__task_start__free_unpacked(ts, NULL);
    reaper__events__forward_request__free_unpacked(fr, NULL);
    ttrpc_reply(c, req->stream_id, TTRPC_OK, NULL, NULL, 0);
    if (f->die_after && f->n == f->die_after) {
        f->dead = true;
        test_server_die(f->srv);
        pthread_cond_broadcast(&f->died);
    }
    pthread_mutex_unlock(&f->mu);
}

static void publish_start(struct events *ev, uint32_t pid)
{
    Reaper__Events__TaskStart m = REAPER__EVENTS__TASK_START__INIT;
    m.container_id = (char *)"c1";
    m.pid = pid;
    size_t len;
    _cleanup_free_ uint8_t *buf = pb_pack(&m.base, &len);
    char topic[32];
    snprintf(topic, sizeof(topic), "/tasks/e%02u", pid);
    events_publish(ev, topic, "containerd.events.TaskStart", buf, len);
}

static void assert_in_order(struct fake *f, int n)
{
    pthread_mutex_lock(&f->mu);
    assert_int_equal(f->n, n);
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "/tasks/e%02d", i);
        assert_string_equal(f->topics[i], want);
        assert_int_equal(f->pids[i], (uint32_t)i);
    }
    pthread_mutex_unlock(&f->mu);
}

struct tmp_sock {
    char dir[32];
    char *path;
    char *address;
};

static void tmp_sock_init(struct tmp_sock *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/events-test-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    t->path = xasprintf("%s/ttrpc.sock", t->dir);
    t->address = xasprintf("unix://%s", t->path);
}

static void tmp_sock_free(struct tmp_sock *t)
{
    unlink(t->path);
    rmdir(t->dir);
    free(t->path);
    free(t->address);
}

static void test_events_in_order(void **state)
{
    struct tmp_sock t;
    tmp_sock_init(&t);
    struct fake f = {.mu = PTHREAD_MUTEX_INITIALIZER, .died = PTHREAD_COND_INITIALIZER};
    f.srv = test_server_start(t.path, fake_handler, &f);
    struct events *ev = NULL;
    rerr *err = NULL;
    assert_int_equal(events_start(t.address, "k8s.io", &ev, &err), 0);
    for (uint32_t i = 0; i < 20; i++)
        publish_start(ev, i);
    events_stop(ev); /* drains */
    assert_in_order(&f, 20);
    test_server_stop(f.srv);
    tmp_sock_free(&t);
}

static void test_events_survive_server_restart(void **state)
{
    struct tmp_sock t;
    tmp_sock_init(&t);
    struct fake f = {
        .mu = PTHREAD_MUTEX_INITIALIZER, .died = PTHREAD_COND_INITIALIZER, .die_after = 3};
    f.srv = test_server_start(t.path, fake_handler, &f);
    struct events *ev = NULL;
    rerr *err = NULL;
    /* 1 ms doubling over 11 attempts: a 1 s budget for the restart, spent only while down */
    struct events_config cfg = {
        .address = t.address, .ns = "k8s.io", .attempts = 11, .backoff_first_ms = 1};
    assert_int_equal(events_start_config(&cfg, &ev, &err), 0);
    for (uint32_t i = 0; i < 10; i++)
        publish_start(ev, i);
    pthread_mutex_lock(&f.mu);
    while (!f.dead) /* the server "crashes" after 3 events, the rest stay queued */
        pthread_cond_wait(&f.died, &f.mu);
    pthread_mutex_unlock(&f.mu);
    test_server_stop(f.srv);
    pthread_mutex_lock(&f.mu);
    assert_int_equal(f.n, 3);
    f.dead = false;
    f.die_after = 0;
    pthread_mutex_unlock(&f.mu);
    f.srv = test_server_start(t.path, fake_handler, &f);
    events_stop(ev);
    assert_in_order(&f, 10);
    test_server_stop(f.srv);
    tmp_sock_free(&t);
}

static void test_events_dropped_without_server(void **state)
{
    struct events *ev = NULL;
    rerr *err = NULL;
    /* 6 attempts, 2 ms doubling: 2+4+8+16+32 = 62 ms of backoff before the event is dropped */
    struct events_config cfg = {.address = "unix:///nonexistent/ttrpc.sock",
                                .ns = "default",
                                .attempts = 6,
                                .backoff_first_ms = 2};
    uint64_t t0 = monotonic_ns();
    assert_int_equal(events_start_config(&cfg, &ev, &err), 0);
    publish_start(ev, 0);
    events_stop(ev); /* gives up after the retries instead of hanging */
    uint64_t took_ms = (monotonic_ns() - t0) / 1000000;
    /* below the default schedule's 1550 ms: the injected one is what ran */
    assert_true(took_ms >= 62 && took_ms < 1500);
}

static void test_events_too_many_attempts(void **state)
{
    struct events *ev = NULL;
    rerr *err = NULL;
    struct events_config cfg = {
        .address = "unix:///x.sock", .attempts = EVENTS_MAX_ATTEMPTS + 1, .backoff_first_ms = 1};
    assert_int_equal(events_start_config(&cfg, &ev, &err), -EINVAL);
    assert_null(ev);
    assert_non_null(strstr(rerr_msg(err), "17 attempts, at most 16"));
    rerr_free(err);
}

static void test_events_bad_address(void **state)
{
    struct events *ev = NULL;
    rerr *err = NULL;
    assert_int_equal(events_start("unix://", "default", &ev, &err), -EINVAL);
    assert_null(ev);
    rerr_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_in_order),
        cmocka_unit_test(test_events_survive_server_restart),
        cmocka_unit_test(test_events_dropped_without_server),
        cmocka_unit_test(test_events_bad_address),
        cmocka_unit_test(test_events_too_many_attempts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
