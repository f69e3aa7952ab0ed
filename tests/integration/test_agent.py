"""reaper-agent against real runtime state and overlays made by reaper-runtime, with the fake API
server for ReaperOverlay/Node/Namespace/ConfigMap watches and writes."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, REPO
from harness import agent as harness_agent
from kubeapi.helpers import wait_for
from runtime_env import rt  # noqa: F401 - fixture

pytestmark = pytest.mark.agent

AGENT = BUILD / "src/agent/reaper-agent"
NODE = "node-a"
LABEL = "reaper.io/runtime"


class Agent(harness_agent.Agent):
    def __init__(self, tmp, runtime_conf, *args, api=None):
        if api is None:
            args = (*args, "--standalone")
        else:
            args = (*args, "--kubeconfig", api.kubeconfig(tmp / "kubeconfig"), "--node-name", NODE)
        super().__init__(AGENT, tmp, runtime_conf, *args)


@pytest.fixture
def agents():
    started = []
    yield started
    for a in started:
        rc = a.stop()
        assert rc == 0, a.text()


def start(agents, *args, **kw):
    a = Agent(*args, **kw)
    agents.append(a)
    return a


def run_workload(rt, cid, ns, script, overlay=None):
    ann = {"reaper.runtime/overlay-name": overlay} if overlay else {}
    b = rt.bundle(["/bin/sh", "-c", script], namespace=ns, annotations=ann)
    rt.create(cid, b)
    rt.cli("start", cid)
    return rt.state(cid)["pid"]


def finish(rt, cid, pid):
    rt.cli("kill", cid, "KILL")
    rt.wait_exit(pid)


def test_metrics_endpoints_and_promtool(rt, agents, tmp_path):
    pid = run_workload(rt, "w1", "team-a", "echo data > /etc/agent-test; exec sleep 100")
    run_workload(rt, "w2", "team-a", "true", overlay="grp")
    wait_for(lambda: (rt.base / "team-a/upper/etc/agent-test").exists(), what="write")
    a = start(agents, tmp_path, rt.conf)
    status, text = a.get("/metrics")
    assert status == 200
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert a.metric('reaper_workloads{namespace="team-a",state="running"}') == 1
    assert wait_for(lambda: a.metric('reaper_workloads{namespace="team-a",state="stopped"}'),
                    what="w2 exited") == 1
    assert a.metric('reaper_overlay_upper_bytes{namespace="team-a",overlay=""}') > 0
    assert a.metric('reaper_overlay_pinned{namespace="team-a",overlay=""}') == 1
    assert a.metric('reaper_overlay_pinned{namespace="team-a",overlay="grp"}') == 1
    assert a.metric('reaper_build_info{version="0.1.0"}') == 1
    assert a.get("/healthz") == (200, "ok\n") and a.get("/readyz")[0] == 200
    assert a.get("/metrics", method="POST")[0] == 405
    assert a.get("/run?cmd=id")[0] == 404
    finish(rt, "w1", pid)


@pytest.mark.shim
def test_shim_processes_and_memory(cri, containerd, agents, tmp_path):
    pod = cri.run_pod("agent-shim", runtime_handler="reaper-v2")
    cri.run_container(pod, "s", command=["sleep", "30"])
    a = start(agents, tmp_path, containerd.reaper_config)
    assert a.metric("reaper_shim_processes") >= 1
    rss = [float(line.rsplit(" ", 1)[1]) for line in a.get("/metrics")[1].splitlines()
           if line.startswith("reaper_shim_resident_memory_bytes{")]
    assert rss and all(r > 100_000 for r in rss), rss
    assert a.metric('reaper_workloads{namespace="default",state="running"}') >= 1
    sandboxes = [ln for ln in a.get("/metrics")[1].splitlines() if "sandboxes{" in ln]
    assert 'reaper_pod_sandboxes{namespace="default"} 1' in sandboxes, sandboxes


def overlay_entry(st, ns, name):
    o = st.get("reaperoverlays", ns, name)
    return next((e for e in o.get("status", {}).get("nodes", []) if e["nodeName"] == NODE), None)


def test_overlay_reset_waits_for_workloads_then_delete(rt, api, agents, tmp_path):
    st = api.store
    # As on a real cluster, the overlay's namespace exists: else namespace GC (every --resync)
    # rightly removes the idle overlay as an orphan, racing the "overlay recreated" check.
    st.create("namespaces", "", {"metadata": {"name": "team-a"}})
    st.create("reaperoverlays", "team-a", {"metadata": {"name": "grp",
                                                        "finalizers": ["reaper.io/overlay-cleanup"]},
                                           "spec": {"resetPolicy": "Manual"}})
    pid = run_workload(rt, "busy", "team-a", "echo x > /opt-agent; exec sleep 100", overlay="grp")
    upper = rt.base / "team-a/grp/upper"
    wait_for(lambda: (upper / "opt-agent").exists(), what="overlay write")
    a = start(agents, tmp_path, rt.conf, "--resync", "1", api=api)
    e = wait_for(lambda: overlay_entry(st, "team-a", "grp"), what="registered")
    assert e["ready"] is True and e["observedResetGeneration"] == 0

    st.patch("reaperoverlays", "team-a", "grp", "merge", {"spec": {"resetGeneration": 1}})
    e = wait_for(lambda: (overlay_entry(st, "team-a", "grp") or {}).get("message"),
                 what="refusal reported")
    assert e.startswith("waiting: 1 running workload uses this overlay (busy")
    assert (upper / "opt-agent").exists(), "reset while a workload ran"
    finish(rt, "busy", pid)
    e = wait_for(lambda: (lambda x: x if x.get("observedResetGeneration") == 1 else None)(
        overlay_entry(st, "team-a", "grp")), timeout=20, what="reset done")
    assert e["ready"] is True and "message" not in e and e["lastResetTime"]
    assert not upper.exists() and not (rt.root / "ns/team-a_grp").exists()
    assert a.metric('reaper_overlay_operations_total{operation="reset",result="refused"}') >= 1
    assert a.metric('reaper_overlay_operations_total{operation="reset",result="ok"}') == 1

    run_workload(rt, "again", "team-a", "echo y > /opt-agent2", overlay="grp")
    wait_for(lambda: rt.state("again")["status"] == "stopped", what="again exited")
    assert (upper / "opt-agent2").read_text() == "y\n", "overlay not recreated"
    st.delete("reaperoverlays", "team-a", "grp")  # finalizer holds it: deletionTimestamp
    e = wait_for(lambda: (overlay_entry(st, "team-a", "grp") or {}).get("removed"),
                 what="removed")
    assert not (rt.base / "team-a/grp").exists()
    assert st.get("reaperoverlays", "team-a", "grp")["metadata"]["finalizers"] == [
        "reaper.io/overlay-cleanup"], "the agent never touches finalizers"
    assert a.text().count("overlay team-a/grp: reset done") == 1, "one reset generation, one reset"


def gc_pass(a, st, ns):
    """Wait for a complete GC pass after what the test has seen: delete namespace ns (its watch
    event queues a pass) and wait for the pass counter, read before, to move."""
    runs = a.metric("reaper_gc_runs_total")
    st.delete("namespaces", "", ns)
    wait_for(lambda: a.metric("reaper_gc_runs_total") > runs, what="a GC pass")


def test_namespace_overlay_reset_and_delete(rt, api, agents, tmp_path):
    """spec.target Namespace: the overlay of pods without overlayName; named ones untouched."""
    st = api.store
    st.create("namespaces", "", {"metadata": {"name": "team-n"}})  # GC leaves it alone
    st.create("reaperoverlays", "team-n", {"metadata": {"name": "ns-overlay",
                                                        "finalizers": ["reaper.io/overlay-cleanup"]},
                                           "spec": {"target": "Namespace"}})
    pid = run_workload(rt, "plain", "team-n", "echo x > /ns-file; exec sleep 100")
    run_workload(rt, "named", "team-n", "echo y > /named-file", overlay="ns-overlay")
    upper, named = rt.base / "team-n/upper", rt.base / "team-n/ns-overlay/upper"
    wait_for(lambda: (upper / "ns-file").exists() and (named / "named-file").exists(),
             what="overlay writes")
    start(agents, tmp_path, rt.conf, "--resync", "1", api=api)
    wait_for(lambda: overlay_entry(st, "team-n", "ns-overlay"), what="registered")
    st.patch("reaperoverlays", "team-n", "ns-overlay", "merge", {"spec": {"resetGeneration": 1}})
    msg = wait_for(lambda: (overlay_entry(st, "team-n", "ns-overlay") or {}).get("message"),
                   what="refusal reported")
    assert msg.startswith("waiting: 1 running workload uses this overlay (plain"), msg
    finish(rt, "plain", pid)
    wait_for(lambda: (overlay_entry(st, "team-n", "ns-overlay") or {})
             .get("observedResetGeneration") == 1, timeout=20, what="reset done")
    assert not (upper / "ns-file").exists() and not (rt.root / "ns/team-n").exists()
    assert (named / "named-file").exists(), "the named overlay of the same name was reset"
    assert (rt.root / "ns/team-n_ns-overlay").exists()
    # The next plain workload starts from an empty namespace overlay.
    run_workload(rt, "again", "team-n", "test -e /ns-file && echo stale > /seen || echo fresh > /seen")
    wait_for(lambda: (upper / "seen").exists(), what="recreated")
    assert (upper / "seen").read_text() == "fresh\n"
    st.delete("reaperoverlays", "team-n", "ns-overlay")
    wait_for(lambda: (overlay_entry(st, "team-n", "ns-overlay") or {}).get("removed"),
             what="removed")
    assert not upper.exists() and (named / "named-file").exists()


def test_namespace_gc_spares_live_namespaces_and_busy_overlays(rt, api, agents, tmp_path):
    st = api.store
    for ns in ("team-live", "team-c", "sync-1", "sync-2"):
        st.create("namespaces", "", {"metadata": {"name": ns}})
    run_workload(rt, "l", "team-live", "echo > /etc/gc-a")
    run_workload(rt, "g", "team-gone", "echo > /etc/gc-b")
    pid = run_workload(rt, "b", "team-busy", "exec sleep 100")  # namespace gone, still running
    # Namespace gone: its idle namespace overlay goes, its busy named overlay stays.
    run_workload(rt, "m1", "team-mixed", "echo > /etc/gc-m")
    pid_m = run_workload(rt, "m2", "team-mixed", "exec sleep 100", overlay="busy")
    run_workload(rt, "c", "team-c", "echo > /etc/gc-c")
    for cid in ("l", "g", "c", "m1"):
        wait_for(lambda cid=cid: rt.state(cid)["status"] == "stopped", what=f"{cid} exit")
    a = start(agents, tmp_path, rt.conf, api=api)
    wait_for(lambda: not (rt.base / "team-gone").exists(), what="orphan removed")
    wait_for(lambda: not (rt.base / "team-mixed/upper").exists(), what="idle overlay removed")
    assert (rt.base / "team-mixed/busy/upper").is_dir(), "a busy named overlay was removed"
    assert not (rt.root / "ns/team-gone").exists()
    gc_pass(a, st, "sync-1")
    assert (rt.base / "team-live/upper").exists() and (rt.base / "team-c/upper").exists()
    assert (rt.base / "team-busy/upper").exists(), "overlay of a running workload removed"
    st.delete("namespaces", "", "team-c")  # the watch event triggers GC at once
    wait_for(lambda: not (rt.base / "team-c").exists(), what="deleted namespace GC")
    gc_pass(a, st, "sync-2")
    assert (rt.base / "team-live/upper").exists() and (rt.base / "team-busy/upper").exists()
    assert a.metric('reaper_gc_removed_total{kind="overlay"}') == 3
    finish(rt, "b", pid)
    finish(rt, "m2", pid_m)


def test_stale_state_gc(rt, agents, tmp_path):
    old = time.time() - 3600
    pid = run_workload(rt, "crashed", "default", "exec sleep 100")
    finish(rt, "crashed", pid)  # process gone, state left behind (as after a shim crash)
    shutil.rmtree(rt.root.parent / "bundle-1")  # containerd removed the bundle
    pid2 = run_workload(rt, "live", "default", "exec sleep 100")
    shutil.rmtree(rt.root.parent / "bundle-2")  # bundle gone but the process lives
    pid3 = run_workload(rt, "known", "default", "exec sleep 100")
    finish(rt, "known", pid3)  # stopped, but containerd still has its bundle
    for cid in ("crashed", "live", "known"):
        os.utime(rt.root / cid, (old, old))
    a = start(agents, tmp_path, rt.conf, "--gc-grace", "60")
    wait_for(lambda: not (rt.root / "crashed").exists(), what="stale state removed")
    # The first pass removed it: once counted, that pass has decided about the others too.
    wait_for(lambda: a.metric("reaper_gc_runs_total"), what="first GC pass done")
    assert (rt.root / "live/state.json").exists() and (rt.root / "known/state.json").exists()
    assert a.metric('reaper_gc_removed_total{kind="state"}') == 1
    finish(rt, "live", pid2)


def ready_condition(st):
    node = st.get("nodes", "", NODE)
    return next((c for c in node.get("status", {}).get("conditions", [])
                 if c["type"] == "ReaperReady"), None)


def node_labels(st):
    return st.get("nodes", "", NODE)["metadata"].get("labels", {})


def ready_node_files(tmp_path):
    """Stand-in binaries that run and a containerd config registering the runtime."""
    bins = tmp_path / "bin"
    bins.mkdir()
    for name in ("reaper-runtime", "containerd-shim-reaper-v2"):
        (bins / name).write_text("#!/bin/sh\necho 0.1.0\n")
        (bins / name).chmod(0o755)
    cfg = tmp_path / "config.toml"
    subprocess.run(["sh", str(REPO / "scripts/configure-containerd.sh"), "--config", str(cfg),
                    "--layout", "2"], check=True, capture_output=True)
    return bins, cfg


def test_node_condition_follows_the_checks(rt, api, agents, tmp_path):
    st = api.store
    node = st.create("nodes", "", {"metadata": {"name": NODE,
                                                "labels": {"kubernetes.io/os": "linux"}}})
    node["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}  # kubelet's
    st.update("nodes", "", NODE, node, sub="status")
    bins, cfg = ready_node_files(tmp_path)
    a = start(agents, tmp_path, rt.conf, "--bin-dir", str(bins), "--containerd-config", str(cfg),
              "--resync", "1", api=api)
    c = wait_for(lambda: ready_condition(st), what="condition")
    assert c["status"] == "True" and c["reason"] == "Ready", c
    assert st.get("nodes", "", NODE)["status"]["conditions"][0]["type"] == "Ready"
    # The RuntimeClass's nodeSelector label follows the condition; other labels stay.
    wait_for(lambda: node_labels(st).get(LABEL) == "ready", what="label set")
    assert node_labels(st)["kubernetes.io/os"] == "linux"
    configure = ["sh", str(REPO / "scripts/configure-containerd.sh"), "--config", str(cfg)]
    subprocess.run([*configure, "--undo"], check=True, capture_output=True)
    c = wait_for(lambda: (lambda c: c if c["status"] == "False" else None)(ready_condition(st)),
                 what="condition False")
    assert c["reason"] == "RuntimeNotRegistered" and "reaper-v2" in c["message"]
    assert a.metric("reaper_node_ready") == 0
    wait_for(lambda: LABEL not in node_labels(st), what="label removed")
    assert node_labels(st) == {"kubernetes.io/os": "linux"}
    subprocess.run([*configure, "--layout", "2"], check=True, capture_output=True)
    wait_for(lambda: node_labels(st).get(LABEL) == "ready", what="label set again")
    assert "node label reaper.io/runtime=ready removed" in a.text()


def test_node_label_is_configurable(rt, api, agents, tmp_path):
    st = api.store
    st.create("nodes", "", {"metadata": {"name": NODE, "labels": {LABEL: "ready"}}})
    bins, cfg = ready_node_files(tmp_path)
    start(agents, tmp_path, rt.conf, "--bin-dir", str(bins), "--containerd-config", str(cfg),
          "--node-label", "example.com/reaper=yes", api=api)
    wait_for(lambda: node_labels(st).get("example.com/reaper") == "yes", what="custom label")
    assert node_labels(st)[LABEL] == "ready"
    # No label: a failing check leaves the labels alone.
    b = start(agents, tmp_path, rt.conf, "--bin-dir", str(tmp_path / "none"), "--node-label", "",
              api=api)
    wait_for(lambda: "ReaperReady=False" in b.text(), what="check failed")
    assert node_labels(st) == {LABEL: "ready", "example.com/reaper": "yes"}


def test_config_sync_validates_and_writes_atomically(rt, api, agents, tmp_path):
    st = api.store
    target = tmp_path / "etc-reaper/reaper.conf"
    target.parent.mkdir()
    target.write_text("REAPER_DNS_MODE=host\n")
    st.create("configmaps", "reaper-system", {"metadata": {"name": "reaper-config"},
                                              "data": {"reaper.conf": "REAPER_DNS_MODE=k8s\n"}})
    a = start(agents, tmp_path, rt.conf, "--config-path", str(target), api=api)
    wait_for(lambda: target.read_text() == "REAPER_DNS_MODE=k8s\n", what="synced")
    inode = target.stat().st_ino
    st.patch("configmaps", "reaper-system", "reaper-config", "merge",
             {"data": {"reaper.conf": "REAPER_DNS_MODE=bogus\n"}})
    wait_for(lambda: a.metric('reaper_last_error_timestamp_seconds{component="config"}'),
             what="invalid config reported")
    assert target.read_text() == "REAPER_DNS_MODE=k8s\n", "an invalid config was written"
    st.patch("configmaps", "reaper-system", "reaper-config", "merge",
             {"data": {"reaper.conf": "REAPER_DNS_MODE=host\nREAPER_FILTER_MODE=append\n"}})
    wait_for(lambda: "FILTER_MODE" in target.read_text(), what="resynced")
    assert target.stat().st_ino != inode, "rewritten in place instead of renamed"
    assert [p.name for p in target.parent.iterdir()] == ["reaper.conf"]
    assert a.metric("reaper_config_syncs_total") == 2


def test_once_writes_condition_and_label_and_exits(rt, api, tmp_path):
    """--once, the node installer's last step: one check, its condition and label, exit 0
    whatever the check found; 1 only when it could not write them."""
    st = api.store
    st.create("nodes", "", {"metadata": {"name": NODE}})
    bins, cfg = ready_node_files(tmp_path)
    kc = api.kubeconfig(tmp_path / "kubeconfig")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("REAPER_")},
           "REAPER_CONFIG": str(rt.conf)}

    def once(*args, kubeconfig=kc):
        return subprocess.run([str(AGENT), "--once", "--kubeconfig", str(kubeconfig),
                               "--node-name", NODE, "--containerd-config", str(cfg), *args],
                              env=env, capture_output=True, text=True, timeout=30)
    r = once("--bin-dir", str(bins))
    assert r.returncode == 0, r.stderr
    assert node_labels(st) == {LABEL: "ready"} and ready_condition(st)["status"] == "True"
    assert f"node {NODE}: ReaperReady=True" in r.stderr
    r = once("--bin-dir", str(tmp_path / "none"))
    assert r.returncode == 0, r.stderr
    assert node_labels(st) == {} and ready_condition(st)["reason"] == "BinariesMissing"
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(kc.read_text().replace(api.url, "http://127.0.0.1:1"))
    r = once("--bin-dir", str(bins), kubeconfig=bad)
    assert r.returncode == 1 and "ReaperReady" in r.stderr, r.stderr
    assert node_labels(st) == {}


def test_remove_label_removes_only_the_label_and_exits(api, tmp_path):
    """--remove-label, the node uninstaller's last step: the scheduling label goes, the node's
    other labels and its status stay; absent already is success too."""
    st = api.store
    st.create("nodes", "", {"metadata": {"name": NODE, "labels": {LABEL: "ready", "zone": "a"}}})
    status = st.get("nodes", "", NODE).get("status")
    kc = api.kubeconfig(tmp_path / "kubeconfig")
    # no reaper.conf: the uninstaller's container has none (the default path, absent, is fine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REAPER_")}

    def remove_label(kubeconfig=kc):
        return subprocess.run([str(AGENT), "--remove-label", "--kubeconfig", str(kubeconfig),
                               "--node-name", NODE], env=env, capture_output=True, text=True,
                              timeout=30)
    r = remove_label()
    assert r.returncode == 0, r.stderr
    assert node_labels(st) == {"zone": "a"}
    assert f"node label {LABEL}=ready removed" in r.stderr
    assert st.get("nodes", "", NODE).get("status") == status
    assert remove_label().returncode == 0 and node_labels(st) == {"zone": "a"}
    bad = tmp_path / "bad-kubeconfig"
    bad.write_text(kc.read_text().replace(api.url, "http://127.0.0.1:1"))
    r = remove_label(bad)
    assert r.returncode == 1 and LABEL in r.stderr, r.stderr


def test_cli_errors():
    r = subprocess.run([str(AGENT)], capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "NODE_NAME"})
    assert r.returncode == 2 and "--node-name (or NODE_NAME) is required" in r.stderr
    r = subprocess.run([str(AGENT), "--standalone", "--resync", "0"], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "--resync 0: want seconds" in r.stderr
    r = subprocess.run([str(AGENT), "--standalone", "--node-label", "novalue"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--node-label novalue: want KEY=VALUE" in r.stderr
    for flags in (["--standalone", "--once"], ["--once", "--remove-label"],
                  ["--standalone", "--remove-label"]):
        r = subprocess.run([str(AGENT), "--node-name", NODE, *flags], capture_output=True,
                           text=True)
        assert r.returncode == 2 and "exclude each other" in r.stderr, flags
    r = subprocess.run([str(AGENT), "--standalone", "--listen", "nope"], capture_output=True,
                       text=True)
    assert r.returncode == 1 and "--listen nope: want ADDR:PORT" in r.stderr
