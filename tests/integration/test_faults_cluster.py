"""Cluster-side faults (docs/faults-cluster.md): the controller losing its Lease mid-reconcile,
and the API server answering 5xx, hanging and closing watches, injected by the fake API server.
Each test states the expected outcome it asserts."""
import json
import math
import time

import pytest

from kubeapi.fake_apiserver import ApiError
from kubeapi.helpers import wait_for
from test_controller import NS, Ctl, lease_holder, rpod, status

pytestmark = pytest.mark.controller
LEASE_ARGS = ["--lease-namespace", NS, "--lease-duration", "3", "--renew-deadline", "2",
              "--retry-period", "1"]
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def attempts(window_s, first_delay_s):
    """Most tries an exponential backoff starting at first_delay_s (doubling, +20 % jitter
    ignored: it only lowers the count) allows in window_s, counting the first, immediate one."""
    return math.floor(math.log2(window_s / first_delay_s + 1)) + 1


@pytest.fixture
def leader_and_standby(api, tmp_path):
    """Controller a holding the Lease, b waiting for it."""
    a = Ctl(api, tmp_path, "a", *LEASE_ARGS, "--identity", "ctl-a")
    b = None
    try:
        wait_for(lambda: lease_holder(api.store) == "ctl-a", what="a leads")
        b = Ctl(api, tmp_path, "b", *LEASE_ARGS, "--identity", "ctl-b")
        yield a, b
        assert b.stop() == 0, b.text()
    finally:
        api.store.clear_faults()
        a.stop()
        if b:
            b.stop()


def exit_status(ctl, timeout=10):
    return wait_for(lambda: ctl.proc.poll() is not None and [ctl.proc.returncode],
                    timeout=timeout, what="the controller exits")[0]


def created_pods(st, token, since):
    return [x for x in st.requests_between(token, since, writes_only=True)
            if x[1:3] == ("POST", "pods")]


def test_lease_taken_mid_reconcile_stops_writes_and_standby_takes_over(api, leader_and_standby,
                                                                      record_property):
    """Expected: the leader whose Lease is taken while a reconcile is in flight sends no write
    after the takeover, exits 1 ("leader election lost"), and the standby acquires the Lease once
    it has been unrenewed for leaseDurationSeconds and reconciles what was left half-done."""
    st, (a, b) = api.store, leader_and_standby
    held = st.inject("stall", methods=["POST"], plurals=["pods"], token="a")
    rpod(st, "held")
    wait_for(lambda: held.served == 1, what="a's Pod create in flight")
    # Another holder renews the Lease (as a controller that was partitioned away would).
    st.patch("leases", NS, "reaper-controller", "merge", {"spec": {
        "holderIdentity": "intruder", "renewTime": "2026-01-01T00:00:00.000000Z"}})
    taken = time.monotonic()
    wait_for(lambda: "lost lease" in a.text(), what="a notices the loss")
    st.clear_faults()  # the Pod is created; a's reconcile goes on: its next writes are fenced
    assert exit_status(a) == 1
    assert "leader election lost: exiting" in a.text()
    assert st.requests_between("a", taken, writes_only=True) == [], "a wrote after the loss"
    assert "not sent: ctl-a does not hold lease" in a.text(), "the fence was not exercised"
    wait_for(lambda: lease_holder(st) == "ctl-b", timeout=15, what="b takes over")
    wait_for(lambda: status(st, "reaperpods", "held").get("podName") == "held",
             what="b finishes the held reconcile")
    rpod(st, "after")
    wait_for(lambda: st.get("pods", NS, "after"), what="b reconciles new objects")
    assert len(created_pods(st, "b", taken)) == 1
    record_property("observed", "a: exit 1, 0 writes after the takeover, {} fenced; b: Lease "
                    "after {:.1f} s, finished the held ReaperPod".format(
                        a.text().count("not sent:"), time.monotonic() - taken))


def test_lease_renewals_failing_stop_writes_before_the_standby_starts(api, leader_and_standby,
                                                                     record_property):
    """Expected: when the leader's Lease requests fail (5xx), it stops writing within
    --renew-deadline and exits 1; the standby starts only after --lease-duration: the two
    never write at the same time."""
    st, (a, b) = api.store, leader_and_standby
    rpod(st, "one")
    wait_for(lambda: st.get("pods", NS, "one"), what="pod by a")
    st.inject("status", code=503, plurals=["leases"], token="a")
    assert exit_status(a) == 1
    rpod(st, "two")
    wait_for(lambda: st.get("pods", NS, "two"), timeout=15, what="pod by b")
    a_writes = [x[0] for x in st.requests_between("a", 0, writes_only=True) if x[2] != "leases"]
    b_writes = [x[0] for x in st.requests_between("b", 0, writes_only=True) if x[2] != "leases"]
    assert a_writes and b_writes and max(a_writes) < min(b_writes), "both acted at once"
    assert created_pods(st, "b", 0), "b never acted"
    record_property("observed", f"a: exit 1; its last write {min(b_writes) - max(a_writes):.1f} s "
                    "before b's first")


@pytest.fixture
def flaky_ctl(api, tmp_path):
    c = Ctl(api, tmp_path, "ctl", "--leader-elect=false", "--request-timeout", "2")
    yield c
    api.store.clear_faults()
    assert c.proc.poll() is None, "the controller died during the faults:\n" + c.text()
    assert c.stop() == 0, c.text()


def count(st, token, start, writes_only=False):
    return len(st.requests_between(token, start, writes_only=writes_only))


INFORMERS = 5  # nodes, overlays, daemonjobs, reaperpods, pods
WINDOW = 3.0   # seconds each fault lasts: the requests in it are counted


def test_controller_rides_out_5xx_hangs_and_closed_watches(api, flaky_ctl, record_property):
    """Expected: for each fault the controller retries with backoff (requests in the window no
    more than the backoff allows), keeps running, and once the fault ends every object created
    during it is reconciled (no event lost; a closed watch resumes from its resourceVersion,
    410 Gone relists once)."""
    st = api.store
    rpod(st, "base")
    wait_for(lambda: st.get("pods", NS, "base"), what="baseline")

    # 1. Writes answered 503: the work queue's per-key backoff (5 ms doubling).
    fault = st.inject("status", code=503, methods=WRITES, token="ctl")
    start = time.monotonic()
    for i in range(3):
        rpod(st, f"w{i}")
    wait_for(lambda: fault.served >= 3, what="writes refused")
    time.sleep(WINDOW)  # the measured window: the fault lasts this long
    writes = count(st, "ctl", start, writes_only=True)
    assert 3 <= writes <= 3 * 2 * attempts(WINDOW + 0.5, 0.005), writes
    seen = [f"503 on writes: {writes} writes in {WINDOW:.0f} s"]
    st.clear_faults()
    for i in range(3):
        wait_for(lambda i=i: st.get("pods", NS, f"w{i}"), what=f"w{i} after 503s")

    # 2. Every request 503 and the watches closed: the informers back off (200 ms doubling)
    # and resume from their resourceVersion, without relisting.
    lists = dict(st.lists)
    fault = st.inject("status", code=503, token="ctl")
    st.drop_watches()
    start = time.monotonic()
    rpod(st, "x0")
    wait_for(lambda: fault.served >= INFORMERS, what="re-watches refused")
    time.sleep(WINDOW)
    n = count(st, "ctl", start)
    assert INFORMERS <= n <= INFORMERS * attempts(WINDOW + 0.5, 0.2), n
    seen.append(f"all 503 + watches closed: {n} requests in {WINDOW:.0f} s, no relist")
    st.clear_faults()
    wait_for(lambda: st.get("pods", NS, "x0"), what="x0 after closed watches")
    assert st.lists == lists, "a closed watch relisted instead of resuming"

    # 3. Every request hangs: each times out after --request-timeout (2 s), then backs off.
    fault = st.inject("hang", token="ctl")
    st.drop_watches()
    start = time.monotonic()
    rpod(st, "h0")
    wait_for(lambda: fault.served >= INFORMERS, what="re-watches hung")
    wait_for(lambda: "no response within 2 s" in flaky_ctl.text(), timeout=10,
             what="a hung watch timed out")
    n = count(st, "ctl", start)
    elapsed = time.monotonic() - start
    assert n <= INFORMERS * (elapsed / 2 + 2), (n, elapsed)
    seen.append(f"all hung: {n} requests in {elapsed:.1f} s")
    st.clear_faults()
    wait_for(lambda: st.get("pods", NS, "h0"), timeout=20, what="h0 after hangs")

    # 4. Watches closed unanswered (connection reset), then history compacted: 410 → relist.
    fault = st.inject("close", token="ctl", watch=True)
    st.drop_watches()
    wait_for(lambda: fault.served >= INFORMERS, what="re-watches closed")
    st.clear_faults()
    lists = st.lists["reaperpods"]
    st.expire_and_drop()
    rpod(st, "e0")
    wait_for(lambda: st.get("pods", NS, "e0"), what="e0 after 410")
    assert 1 <= st.lists["reaperpods"] - lists <= 2, "410 did not relist once"
    for name in ("base", "w0", "w1", "w2", "x0", "h0", "e0"):
        st.get("pods", NS, name)  # nothing lost
    with pytest.raises(ApiError):
        st.get("pods", NS, "never-created")
    record_property("observed", "; ".join(seen) + "; 410: one relist; every Pod created")


def deep_reaperpod_event(name, depth):
    """A watch event whose ReaperPod nests depth levels (no real CRD schema lets it through)."""
    head = json.dumps({"type": "ADDED", "object": {
        "apiVersion": "reaper.io/v1alpha1", "kind": "ReaperPod",
        "metadata": {"name": name, "namespace": NS, "resourceVersion": "1"},
        "spec": {"command": ["true"], "extra": "@"}}})
    return head.replace('"@"', '{"a":' * depth + "1" + "}" * depth)


def test_deeply_nested_object_in_a_watch_is_skipped(api, flaky_ctl, record_property):
    """Expected: an event nested 10,000 levels deep (past the JSON parser's depth limit) is
    skipped with an error naming the problem; the watch goes on (no re-watch loop into the same
    event), later objects are reconciled, nothing crashes."""
    st = api.store
    rpod(st, "before")
    wait_for(lambda: st.get("pods", NS, "before"), what="before")
    watches = st.watches["reaperpods"]
    st.emit_raw("reaperpods", deep_reaperpod_event("deep", 10000))
    rpod(st, "after")
    wait_for(lambda: st.get("pods", NS, "after"), what="after the deep event")
    log = flaky_ctl.text()
    assert "skipped an event of" in log and "maximum parsing depth reached" in log, log[-2000:]
    assert st.watches["reaperpods"] == watches, "the watch was torn down by one bad event"
    with pytest.raises(ApiError):
        st.get("pods", NS, "deep")
    line = next(ln for ln in log.splitlines() if "skipped an event" in ln)
    record_property("observed", "skipped an event" + line.split("skipped an event", 1)[1])
