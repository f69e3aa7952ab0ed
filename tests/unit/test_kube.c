/* Kubernetes client pieces without a server: JSON helpers, kubeconfig, watch lines, store,
 * work queue, backoff, leader decision, events. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "kube_events.h"
#include "json_fixture.h"
#include "kjson.h"
#include "kube_cache.h"
#include "kube_config.h"
#include "kube_watch.h"
#include "leader.h"
#include "util.h"
#include "workqueue.h"

static void test_kjson(void **state)
{
    _cleanup_json_ json_t *o =
        J("{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\",\"annotations\":"
          "{\"a.b/c\":\"v\"}},\"status\":{\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"True\"}],\"n\":3}}");
    assert_string_equal(kj_str(o, "metadata.name"), "n");
    assert_null(kj_str(o, "metadata.missing.deeper"));
    assert_int_equal(kj_int(o, "status.n", 0), 3);
    assert_int_equal(kj_int(o, "status.x", 7), 7);
    assert_string_equal(kj_annotation(o, "a.b/c"), "v");
    assert_string_equal(kj_condition(o, "Ready"), "True");
    char *key = kj_key(o), *ns, *name;
    assert_string_equal(key, "ns/n");
    kj_split_key(key, &ns, &name);
    assert_string_equal(ns, "ns");
    assert_string_equal(name, "n");
    free(key);
    free(ns);
    free(name);
    double t;
    assert_int_equal(kj_parse_time("2026-01-02T03:04:05Z", &t), 0);
    assert_true(t == 1767323045.0);
    assert_int_equal(kj_parse_time("2026-01-02T04:04:05.5+01:00", &t), 0);
    assert_true(t == 1767323045.5);
    assert_int_equal(kj_parse_time("garbage", &t), -EINVAL);
    char *micro = kj_microtime_now();
    assert_int_equal(strlen(micro), strlen("2026-01-02T03:04:05.000000Z"));
    free(micro);
    rerr *e = NULL;
    json_t *bad = NULL;
    assert_int_equal(kj_parse("{\"a\":", 5, &bad, &e), -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "line 1"));
    rerr_free(e);
}

static const char kubeconfig[] = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "current-context: dev\n"
                                 "clusters:\n"
                                 "- name: c1\n"
                                 "  cluster:\n"
                                 "    server: https://10.0.0.1:6443/\n"
                                 "    certificate-authority-data: aGVsbG8=\n"
                                 "- name: c2\n"
                                 "  cluster:\n"
                                 "    server: http://127.0.0.1:8080\n"
                                 "    insecure-skip-tls-verify: true\n"
                                 "    certificate-authority: ca.pem\n"
                                 "contexts:\n"
                                 "- name: dev\n"
                                 "  context: {cluster: c1, user: u1, namespace: team}\n"
                                 "- name: other\n"
                                 "  context: {cluster: c2, user: u2}\n"
                                 "users:\n"
                                 "- name: u1\n"
                                 "  user:\n"
                                 "    client-certificate-data: Y2VydA==\n"
                                 "    client-key-data: a2V5\n"
                                 "- name: u2\n"
                                 "  user:\n"
                                 "    token: \"abc\"\n";

/* The test kubeconfig read with one context (NULL: the current one); it must parse. */
static struct kube_config *kubeconfig_with(const char *context)
{
    struct kube_config *c = NULL;
    rerr *e = NULL;
    if (kube_config_parse(kubeconfig, strlen(kubeconfig), "/etc/k", context, &c, &e) < 0)
        fail_msg("context %s: %s", context ? context : "(current)", rerr_msg(e));
    return c;
}

static void test_kubeconfig(void **state)
{
    struct kube_config *c = kubeconfig_with(NULL);
    assert_string_equal(c->server, "https://10.0.0.1:6443");
    assert_int_equal(c->ca_len, 5);
    assert_memory_equal(c->ca_pem, "hello", 5);
    assert_memory_equal(c->cert_pem, "cert", 4);
    assert_memory_equal(c->key_pem, "key", 3);
    assert_string_equal(c->namespace, "team");
    assert_false(c->insecure);
    kube_config_free(c);
    c = kubeconfig_with("other");
    assert_true(c->insecure);
    assert_string_equal(c->ca_file, "/etc/k/ca.pem");
    assert_string_equal(c->token, "abc");
    kube_config_free(c);
    rerr *e = NULL;
    assert_int_equal(kube_config_parse(kubeconfig, strlen(kubeconfig), NULL, "nope", &c, &e),
                     -EINVAL);
    assert_non_null(strstr(rerr_msg(e), "context nope not found"));
    rerr_free(e);
    e = NULL;
    const char *exec = "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                       "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                       "users: [{name: u, user: {exec: {command: aws}}}]\n";
    assert_int_equal(kube_config_parse(exec, strlen(exec), NULL, NULL, &c, &e), -ENOTSUP);
    rerr_free(e);
}

static void test_in_cluster(void **state)
{
    char dir[] = "/tmp/kube-sa-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    rerr *e = NULL;
    snprintf(path, sizeof(path), "%s/namespace", dir);
    assert_int_equal(write_file_atomic(path, "reaper-system\n", 14, 0644, &e), 0);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    struct kube_config *c = NULL;
    assert_int_equal(kube_config_in_cluster(dir, &c, &e), 0);
    assert_string_equal(c->server, "https://[fd00::1]:443");
    assert_string_equal(c->namespace, "reaper-system");
    assert_non_null(strstr(c->token_file, "/token"));
    kube_config_free(c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(kube_config_in_cluster(dir, &c, &e), -ENOENT);
    rerr_free(e);
    assert_int_equal(rm_rf(dir, NULL), 0);
}

static void test_paths(void **state)
{
    char *p = kube_path(&KUBE_PODS, "ns", "p", "status", NULL);
    assert_string_equal(p, "/api/v1/namespaces/ns/pods/p/status");
    free(p);
    p = kube_path(&REAPER_OVERLAYS, NULL, NULL, NULL, "watch=1");
    assert_string_equal(p, "/apis/reaper.io/v1alpha1/reaperoverlays?watch=1");
    free(p);
    p = kube_path(&KUBE_NODES, "ignored", "n1", NULL, NULL);
    assert_string_equal(p, "/api/v1/nodes/n1");
    free(p);
    p = kube_query_escape("a=b,c in (d)");
    assert_string_equal(p, "a%3Db%2Cc%20in%20%28d%29");
    free(p);
    p = kube_path(&REAPER_CHECKPOINTS, "ns", "c", "status", NULL);
    assert_string_equal(p, "/apis/reaper.io/v1alpha1/namespaces/ns/reapercheckpoints/c/status");
    free(p);
    assert_null(kube_selector_query(NULL, NULL));
    p = kube_selector_query("app=x", NULL);
    assert_string_equal(p, "labelSelector=app%3Dx");
    free(p);
    p = kube_selector_query(NULL, "spec.nodeName=n1");
    assert_string_equal(p, "fieldSelector=spec.nodeName%3Dn1");
    free(p);
    p = kube_selector_query("a", "spec.nodeName=n1");
    assert_string_equal(p, "labelSelector=a&fieldSelector=spec.nodeName%3Dn1");
    free(p);
}

struct seen {
    int adds, updates, deletes;
    char last[64];
};

static void on_add(void *ud, const json_t *o)
{
    struct seen *s = ud;
    s->adds++;
    snprintf(s->last, sizeof(s->last), "%s", kj_str(o, "metadata.name"));
}

static void on_update(void *ud, const json_t *a, const json_t *b)
{
    ((struct seen *)ud)->updates++;
}

static void on_delete(void *ud, const json_t *o)
{
    struct seen *s = ud;
    s->deletes++;
    snprintf(s->last, sizeof(s->last), "%s", kj_str(o, "metadata.name"));
}

static void watch_cb(void *ud, const char *type, json_t *obj)
{
    kube_store_apply(((void **)ud)[0], type, obj, ((void **)ud)[1]);
}

static void test_store_and_watch_lines(void **state)
{
    struct seen s = {0};
    struct kube_handlers h = {on_add, on_update, on_delete, &s};
    struct kube_store *st = kube_store_new();
    void *ud[2] = {st, &h};
    rerr *e = NULL;
    const char *add = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":"
                      "\"ns\",\"resourceVersion\":\"1\"}}}\r";
    assert_int_equal(kube_watch_dispatch_line(add, strlen(add), watch_cb, ud, &e), 0);
    const char *mod =
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":"
        "\"ns\",\"resourceVersion\":\"2\"}}}";
    assert_int_equal(kube_watch_dispatch_line(mod, strlen(mod), watch_cb, ud, &e), 0);
    assert_int_equal(s.adds, 1);
    assert_int_equal(s.updates, 1);
    json_t *got = kube_store_get(st, "ns/a");
    assert_string_equal(kj_str(got, "metadata.resourceVersion"), "2");
    json_decref(got);
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                       "\"message\":\"too old resource version\"}}";
    assert_int_equal(kube_watch_dispatch_line(gone, strlen(gone), watch_cb, ud, &e), -EKEYEXPIRED);
    rerr_free(e);
    e = NULL;
    assert_int_equal(kube_watch_dispatch_line("{x", 2, watch_cb, ud, &e), -EINVAL);
    rerr_free(e);
    e = NULL;
    assert_int_equal(kube_watch_dispatch_line("", 0, watch_cb, ud, &e), 0);
    /* relist: a vanished, b appeared, c unchanged-by-rv is not re-notified */
    _cleanup_json_ json_t *items = J("[{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\","
                                     "\"resourceVersion\":\"5\"}}]");
    kube_store_replace(st, items, &h);
    assert_int_equal(s.adds, 2);
    assert_int_equal(s.deletes, 1);
    assert_string_equal(s.last, "a");
    kube_store_replace(st, items, &h);
    assert_int_equal(s.adds + s.updates + s.deletes, 2 + 1 + 1);
    assert_int_equal(kube_store_len(st), 1);
    kube_store_free(st);
}

static void test_workqueue_dedup_and_processing(void **state)
{
    struct workqueue *q = workqueue_new(10, 1000);
    workqueue_add(q, "a");
    workqueue_add(q, "a");
    workqueue_add(q, "b");
    assert_int_equal(workqueue_len(q), 2);
    char *k = workqueue_get(q, 0);
    assert_string_equal(k, "a");
    workqueue_add(q, "a"); /* while processing: dirty, not handed out twice */
    char *k2 = workqueue_get(q, 0);
    assert_string_equal(k2, "b");
    assert_null(workqueue_get(q, 20));
    workqueue_done(q, "a");
    char *k3 = workqueue_get(q, 0);
    assert_string_equal(k3, "a");
    free(k);
    free(k2);
    free(k3);
    workqueue_shutdown(q);
    assert_null(workqueue_get(q, UINT64_MAX));
    workqueue_free(q);
}

static void test_workqueue_rate_limit(void **state)
{
    struct workqueue *q = workqueue_new(20, 70);
    assert_int_equal(workqueue_add_rate_limited(q, "k"), 20);
    uint64_t t0 = monotonic_ns();
    char *k = workqueue_get(q, 1000);
    uint64_t waited = (monotonic_ns() - t0) / 1000000;
    assert_string_equal(k, "k");
    assert_true(waited >= 15 && waited < 500);
    workqueue_done(q, k);
    free(k);
    assert_int_equal(workqueue_add_rate_limited(q, "k"), 40);
    assert_int_equal(workqueue_add_rate_limited(q, "k"), 70); /* capped */
    assert_int_equal(workqueue_failures(q, "k"), 3);
    workqueue_forget(q, "k");
    assert_int_equal(workqueue_failures(q, "k"), 0);
    assert_int_equal(workqueue_add_rate_limited(q, "k"), 20);
    workqueue_add_after(q, "later", 10000);
    k = workqueue_get(q, 1000); /* "k" (deduplicated delayed entries), not "later" */
    assert_string_equal(k, "k");
    free(k);
    workqueue_free(q);
}

static void test_backoff_and_stopper(void **state)
{
    struct backoff b;
    backoff_init(&b, 100, 1000);
    uint64_t d1 = backoff_next(&b), d2 = backoff_next(&b);
    assert_true(d1 >= 100 && d1 <= 120);
    assert_true(d2 >= 200 && d2 <= 240);
    for (int i = 0; i < 10; i++)
        backoff_next(&b);
    assert_true(backoff_next(&b) <= 1200);
    backoff_reset(&b);
    assert_true(backoff_next(&b) <= 120);
    struct stopper s;
    stopper_init(&s);
    uint64_t t0 = monotonic_ns();
    assert_false(stopper_wait(&s, 30));
    assert_true((monotonic_ns() - t0) / 1000000 >= 25);
    stopper_stop(&s);
    t0 = monotonic_ns();
    assert_true(stopper_wait(&s, 10000));
    assert_true((monotonic_ns() - t0) / 1000000 < 100);
    stopper_destroy(&s);
}

static void test_leader_decision(void **state)
{
    struct leader_observation obs = {0};
    const uint64_t s = 1000000000ull;
    assert_int_equal(leader_decide(&obs, NULL, "me", 15, 0), LEADER_ACQUIRE);
    _cleanup_json_ json_t *other = J("{\"spec\":{\"holderIdentity\":\"them\",\"renewTime\":\"t1\","
                                     "\"leaseDurationSeconds\":10}}");
    assert_int_equal(leader_decide(&obs, other, "me", 15, 100 * s), LEADER_WAIT);
    assert_int_equal(leader_decide(&obs, other, "me", 15, 109 * s), LEADER_WAIT);
    assert_int_equal(leader_decide(&obs, other, "me", 15, 110 * s), LEADER_ACQUIRE);
    _cleanup_json_ json_t *renewed =
        J("{\"spec\":{\"holderIdentity\":\"them\",\"renewTime\":\"t2\","
          "\"leaseDurationSeconds\":10}}");
    assert_int_equal(leader_decide(&obs, renewed, "me", 15, 111 * s), LEADER_WAIT);
    _cleanup_json_ json_t *mine = J("{\"spec\":{\"holderIdentity\":\"me\"}}");
    assert_int_equal(leader_decide(&obs, mine, "me", 15, 112 * s), LEADER_RENEW);
    _cleanup_json_ json_t *released = J("{\"spec\":{\"holderIdentity\":\"\"}}");
    assert_int_equal(leader_decide(&obs, released, "me", 15, 113 * s), LEADER_ACQUIRE);
    free(obs.record);
    struct leader_config cfg = {
        .namespace = "ns", .name = "l", .identity = "me", .lease_duration_s = 15};
    _cleanup_json_ json_t *l = leader_lease_object(other, &cfg, LEADER_ACQUIRE);
    assert_string_equal(kj_str(l, "spec.holderIdentity"), "me");
    assert_int_equal(kj_int(l, "spec.leaseTransitions", -1), 1);
    assert_int_equal(kj_int(l, "spec.leaseDurationSeconds", -1), 15);
    assert_non_null(kj_str(l, "spec.acquireTime"));
    _cleanup_json_ json_t *fresh = leader_lease_object(NULL, &cfg, LEADER_ACQUIRE);
    assert_string_equal(kj_str(fresh, "metadata.namespace"), "ns");
    assert_int_equal(kj_int(fresh, "spec.leaseTransitions", -1), 0);
}

static void test_event_object(void **state)
{
    _cleanup_json_ json_t *obj =
        J("{\"apiVersion\":\"reaper.io/v1alpha1\",\"kind\":\"ReaperPod\","
          "\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u\"}}");
    _cleanup_json_ json_t *ev = kube_event_object(obj, "Warning", "Failed", "boom", "ctl", "i1");
    assert_string_equal(kj_str(ev, "involvedObject.kind"), "ReaperPod");
    assert_string_equal(kj_str(ev, "involvedObject.uid"), "u");
    assert_string_equal(kj_str(ev, "metadata.namespace"), "ns");
    assert_true(str_startswith(kj_str(ev, "metadata.name"), "p."));
    assert_string_equal(kj_str(ev, "type"), "Warning");
    assert_string_equal(kj_str(ev, "reason"), "Failed");
    assert_string_equal(kj_str(ev, "message"), "boom");
    assert_string_equal(kj_str(ev, "source.component"), "ctl");
    assert_int_equal(kj_int(ev, "count", 0), 1);
    assert_string_equal(kj_str(ev, "action"), "Failed");
    assert_string_equal(kj_str(ev, "reportingInstance"), "i1");
    assert_null(kj_get(ev, "eventTime"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kjson),
        cmocka_unit_test(test_kubeconfig),
        cmocka_unit_test(test_in_cluster),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_store_and_watch_lines),
        cmocka_unit_test(test_workqueue_dedup_and_processing),
        cmocka_unit_test(test_workqueue_rate_limit),
        cmocka_unit_test(test_backoff_and_stopper),
        cmocka_unit_test(test_leader_decision),
        cmocka_unit_test(test_event_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
