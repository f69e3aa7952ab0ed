"""Agent-side cluster faults (docs/faults-cluster.md): the agent killed mid-reset, and the API
server answering 5xx, hanging and closing watches. Each test states the expected outcome."""
import os
import signal
import time

import pytest

from kubeapi.helpers import wait_for
from runtime_env import rt  # noqa: F401 - fixture
from test_agent import Agent, overlay_entry, run_workload
from test_faults_cluster import WINDOW, WRITES, attempts

pytestmark = pytest.mark.agent
NS = "team-fault"
FILES = 20000  # enough that removing the upper layer takes a while to interrupt


def overlay(st, name, **spec):
    st.create("reaperoverlays", NS, {"metadata": {"name": name,
                                                  "finalizers": ["reaper.io/overlay-cleanup"]},
                                     "spec": {"resetPolicy": "Manual", **spec}})


def reset_seen(st, name, gen):
    e = overlay_entry(st, NS, name) or {}
    return e if e.get("observedResetGeneration") == gen else None


def test_agent_killed_mid_reset_redoes_it_on_restart(rt, api, tmp_path, record_property):
    """Expected: SIGKILL while the agent removes an overlay's upper layer leaves the layer whole
    or gone (never half-removed: a workload starting meanwhile sees all or nothing); the next
    agent finishes the reset (deletes the layer moved aside, or redoes it if the kill came
    before): status observedResetGeneration 1 and ready, no upper layer, no leftover
    (.discard-*, pin, lock file, reset mark)."""
    st = api.store
    st.create("namespaces", "", {"metadata": {"name": NS}})
    overlay(st, "big")
    run_workload(rt, "fill", NS, f"mkdir /data && cd /data && seq {FILES} | xargs touch",
                 overlay="big")
    wait_for(lambda: rt.state("fill")["status"] == "stopped", timeout=60, what="files written")
    dirp = rt.base / NS / "big"
    assert len(os.listdir(dirp / "upper/data")) == FILES
    pin, lock = rt.root / f"ns/{NS}_big", rt.root / f"locks/{NS}_big.lock"
    discard = dirp / ".discard-upper"
    assert pin.exists()
    a = Agent(tmp_path, rt.conf, "--resync", "1", api=api)
    try:
        wait_for(lambda: overlay_entry(st, NS, "big"), what="registered")
        st.patch("reaperoverlays", NS, "big", "merge", {"spec": {"resetGeneration": 1}})
        deadline = time.monotonic() + 20
        while not discard.exists():  # the upper layer is being removed: kill now
            assert time.monotonic() < deadline, "the reset never moved the upper layer aside"
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
    finally:
        a.stop()
    assert not reset_seen(st, "big", 1), "the reset finished before the kill: no fault injected"
    upper = dirp / "upper"
    left = len(os.listdir(upper / "data")) if upper.exists() else 0
    assert left in (0, FILES), f"half-removed upper layer: {left} of {FILES} files"
    assert discard.exists(), "killed after the removal: no fault injected"
    b = Agent(tmp_path, rt.conf, "--resync", "1", api=api)
    try:
        e = wait_for(lambda: reset_seen(st, "big", 1), timeout=30, what="reset redone")
        assert e["ready"] is True and "message" not in e
        assert not dirp.exists() and not pin.exists() and not lock.exists()
        # The mark goes once the status has landed: right after it, not before.
        wait_for(lambda: not (rt.base / ".resets").exists(), what="reset mark removed")
        assert "overlay team-fault/big: reset done" in b.text()
        how = "finished" if "already done on this node" in b.text() else "redone"
        record_property("observed", f"killed with the upper layer moved aside ({left} of "
                        f"{FILES} files in place); restart: reset {how}, nothing left")
    finally:
        assert b.stop() == 0, b.text()


def test_agent_killed_before_reset_status_does_not_reset_again(rt, api, tmp_path,
                                                               record_property):
    """Expected: an agent that reset an overlay but died before its status write landed (the
    API server refused it) does not reset it again on restart: a file a workload wrote into
    the fresh overlay meanwhile survives, the status reaches observedResetGeneration 1 and
    ready, and no reset mark or moved-aside layer is left."""
    st = api.store
    st.create("namespaces", "", {"metadata": {"name": NS}})
    overlay(st, "keep")
    run_workload(rt, "before", NS, "echo old > /old", overlay="keep")
    wait_for(lambda: rt.state("before")["status"] == "stopped", what="old file written")
    dirp = rt.base / NS / "keep"
    assert (dirp / "upper/old").read_text() == "old\n"
    token = "fake-token"
    a = Agent(tmp_path, rt.conf, "--resync", "1", api=api)
    try:
        wait_for(lambda: overlay_entry(st, NS, "keep"), what="registered")
        fault = st.inject("status", code=503, methods=["PUT"], plurals=["reaperoverlays"],
                          token=token)
        st.patch("reaperoverlays", NS, "keep", "merge", {"spec": {"resetGeneration": 1}})
        # The status write comes after the reset: refused once, the layers are gone.
        wait_for(lambda: fault.served >= 1, timeout=20, what="status write refused")
        assert not (dirp / "upper").exists(), "the reset did not remove the upper layer"
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
    finally:
        a.stop()
    assert not reset_seen(st, "keep", 1), "the status write landed: no fault injected"
    run_workload(rt, "after", NS, "echo new > /new", overlay="keep")
    wait_for(lambda: rt.state("after")["status"] == "stopped", what="new file written")
    assert (dirp / "upper/new").read_text() == "new\n"
    st.clear_faults()
    b = Agent(tmp_path, rt.conf, "--resync", "1", api=api)
    try:
        e = wait_for(lambda: reset_seen(st, "keep", 1), timeout=30, what="reset reported")
        assert e["ready"] is True and "message" not in e and "error" not in e
        assert (dirp / "upper/new").exists(), "the reset was done again: the new file is gone"
        assert (dirp / "upper/new").read_text() == "new\n"
        assert not (dirp / "upper/old").exists()
        assert "reset done: resetGeneration 1, reset-request 0 already done" in b.text()
        wait_for(lambda: not (rt.base / ".resets").exists(), what="reset mark removed")
        assert not list(dirp.glob(".discard-*"))
        record_property("observed", "status write refused, agent killed; a file written into "
                        "the fresh overlay survived the restart; status ready, no reset mark")
    finally:
        assert b.stop() == 0, b.text()


AGENT_INFORMERS = 3  # reaperoverlays, namespaces, configmaps
AGENT_KEYS = 3       # the overlay, the node condition, GC


def test_agent_rides_out_5xx_hangs_and_closed_watches(rt, api, tmp_path, record_property):
    """Expected: for each fault the agent retries with backoff (requests in the window within
    what the backoff allows), keeps serving /healthz, and once the fault ends the reset asked
    for during it is done and reported."""
    st = api.store
    st.create("namespaces", "", {"metadata": {"name": NS}})
    overlay(st, "flaky")
    a = Agent(tmp_path, rt.conf, "--resync", "1", "--request-timeout", "2", api=api)
    token = "fake-token"
    try:
        wait_for(lambda: overlay_entry(st, NS, "flaky"), what="registered")
        # 1. Writes answered 503: per-key backoff (200 ms doubling).
        fault = st.inject("status", code=503, methods=WRITES, token=token)
        start = time.monotonic()
        st.patch("reaperoverlays", NS, "flaky", "merge", {"spec": {"resetGeneration": 1}})
        wait_for(lambda: fault.served >= 2, what="status writes refused")
        time.sleep(WINDOW)  # the measured window: the fault lasts this long
        n = len(st.requests_between(token, start, writes_only=True))
        assert n <= AGENT_KEYS * attempts(WINDOW + 0.5, 0.2), n
        seen = [f"503 on writes: {n} writes in {WINDOW:.0f} s"]
        assert a.get("/healthz")[0] == 200
        st.clear_faults()
        wait_for(lambda: reset_seen(st, "flaky", 1), timeout=40, what="reset 1 reported")

        # 2. Every request 503, watches closed: informers back off and resume.
        fault = st.inject("status", code=503, token=token)
        st.drop_watches()
        start = time.monotonic()
        st.patch("reaperoverlays", NS, "flaky", "merge", {"spec": {"resetGeneration": 2}})
        wait_for(lambda: fault.served >= AGENT_INFORMERS, what="re-watches refused")
        time.sleep(WINDOW)
        n = len(st.requests_between(token, start))
        assert n <= (AGENT_INFORMERS + 2 * AGENT_KEYS) * attempts(WINDOW + 0.5, 0.2), n
        seen.append(f"all 503 + watches closed: {n} requests in {WINDOW:.0f} s")
        assert a.get("/healthz")[0] == 200
        st.clear_faults()
        wait_for(lambda: reset_seen(st, "flaky", 2), timeout=40, what="reset 2 reported")

        # 3. Every request hangs: each times out after --request-timeout, then backs off.
        fault = st.inject("hang", token=token)
        st.drop_watches()
        start = time.monotonic()
        st.patch("reaperoverlays", NS, "flaky", "merge", {"spec": {"resetGeneration": 3}})
        wait_for(lambda: "no response within 2 s" in a.text(), timeout=10,
                 what="a hung watch timed out")
        n, elapsed = len(st.requests_between(token, start)), time.monotonic() - start
        assert n <= (AGENT_INFORMERS + AGENT_KEYS) * (elapsed / 2 + 2), (n, elapsed)
        seen.append(f"all hung: {n} requests in {elapsed:.1f} s")
        assert a.get("/healthz")[0] == 200
        st.clear_faults()
        wait_for(lambda: reset_seen(st, "flaky", 3), timeout=40, what="reset 3 reported")
        assert a.proc.poll() is None, "the agent died"
        wait_for(lambda: not (rt.base / ".resets").exists(), what="reset mark removed")
        record_property("observed", "; ".join(seen) + "; every reset reported")
    finally:
        st.clear_faults()
        assert a.stop() == 0, a.text()
