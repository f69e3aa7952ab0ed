"""reaper-controller against the in-process fake API server (marker `controller`)."""
import os
import signal
import subprocess
import time

import pytest

from conftest import BUILD
from harness.daemon import Daemon
from kubeapi.fake_apiserver import ApiError
from kubeapi.helpers import wait_for

pytestmark = pytest.mark.controller
NS = "default"


class Ctl(Daemon):
    def __init__(self, api, tmp_path, name="ctl", *args):
        """name is also its bearer token: the API server's request log tells them apart."""
        kc = api.kubeconfig(tmp_path / f"{name}.kubeconfig", user=f"    token: {name}\n")
        binary = BUILD / "src/controller/reaper-controller"
        assert binary.exists(), f"{binary} not built"
        super().__init__([binary, "--kubeconfig", kc, "--log-level", "debug", *args],
                         tmp_path / f"{name}.log")


@pytest.fixture
def ctl(api, tmp_path):
    c = Ctl(api, tmp_path, "ctl", "--leader-elect=false")
    yield c
    rc = c.stop()
    assert rc == 0, c.text()


def make_node(st, name, ready=True, labels=None, taints=None):
    st.create("nodes", "", {"metadata": {"name": name, "labels": labels or {}},
                            "spec": {"taints": taints or []}})
    set_node_ready(st, name, ready)


def set_node_ready(st, name, ready):
    st.update("nodes", "", name, {"status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}, sub="status")


def kubelet(st, name, phase, exit_code=None):
    """Set a Pod's status the way the kubelet reports it."""
    status = {"phase": phase, "startTime": "2026-01-01T00:00:00Z"}
    if exit_code is not None:
        status["containerStatuses"] = [{"name": "main", "state": {"terminated": {
            "exitCode": exit_code, "finishedAt": "2026-01-01T00:00:05Z",
            "reason": "Completed" if exit_code == 0 else "Error"}}}]
    st.update("pods", NS, name, {"status": status}, sub="status")


def rpod(st, name, **spec):
    spec.setdefault("command", ["/bin/sh", "-c", "true"])
    return st.create("reaperpods", NS, {"metadata": {"name": name}, "spec": spec})


def status(st, plural, name):
    return st.get(plural, NS, name).get("status", {})


def test_reaperpod_pod_and_status(api, ctl):
    st = api.store
    rpod(st, "task", args=["echo hi"], workingDir="/tmp", nodeSelector={"role": "compute"},
         env=[{"name": "A", "value": "1"},
              {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}],
         volumes=[{"name": "cfg", "mountPath": "/cfg", "configMap": "app", "readOnly": True},
                  {"name": "scratch", "mountPath": "/w", "emptyDir": True}],
         runAsUser=1000, runAsGroup=1000, supplementalGroups=[10], dnsMode="host",
         tolerations=[{"key": "k", "operator": "Exists"}])
    pod = wait_for(lambda: st.get("pods", NS, "task"), what="pod")
    owner = st.get("reaperpods", NS, "task")
    spec, c = pod["spec"], pod["spec"]["containers"][0]
    assert spec["runtimeClassName"] == "reaper-v2" and spec["restartPolicy"] == "Never"
    assert c["image"] == "busybox" and c["command"] == ["/bin/sh", "-c", "true"]
    assert c["args"] == ["echo hi"] and c["workingDir"] == "/tmp"
    assert c["env"][1]["valueFrom"]["secretKeyRef"] == {"name": "sec", "key": "k"}
    assert spec["volumes"] == [{"name": "cfg", "configMap": {"name": "app"}},
                               {"name": "scratch", "emptyDir": {}}]
    assert c["volumeMounts"][0] == {"name": "cfg", "mountPath": "/cfg", "readOnly": True}
    assert spec["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000,
                                       "supplementalGroups": [10]}
    assert spec["nodeSelector"] == {"role": "compute"} and spec["tolerations"][0]["key"] == "k"
    assert pod["metadata"]["annotations"]["reaper.runtime/dns-mode"] == "host"
    assert pod["metadata"]["labels"]["reaper.io/reaperpod"] == "task"
    ref = pod["metadata"]["ownerReferences"][0]
    assert ref["uid"] == owner["metadata"]["uid"] and ref["controller"] is True
    kubelet(st, "task", "Running")
    wait_for(lambda: status(st, "reaperpods", "task").get("phase") == "Running", what="Running")
    st.patch("pods", NS, "task", "merge", {"spec": {"nodeName": "node-a"}})
    kubelet(st, "task", "Failed", exit_code=3)
    s = wait_for(lambda: (x := status(st, "reaperpods", "task")).get("phase") == "Failed" and x,
                 what="Failed")
    assert s["exitCode"] == 3 and s["podName"] == "task"
    assert s["completionTime"] == "2026-01-01T00:00:05Z" and s["startTime"]
    events, _ = st.list("events", NS)
    reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "task"}
    assert {"CreatedPod", "Failed"} <= reasons
    st.delete("reaperpods", NS, "task")  # ownerReference GC takes the Pod along
    with pytest.raises(ApiError):
        st.get("pods", NS, "task")


def fake_agent(st, node, name, **fields):
    """The agent's write: its own status.nodes[] entry via PUT /status, retrying on 409."""
    for _ in range(50):
        o = st.get("reaperoverlays", NS, name)
        nodes = [e for e in o.get("status", {}).get("nodes", []) if e["nodeName"] != node]
        nodes.append({"nodeName": node, **fields})
        o.setdefault("status", {})["nodes"] = nodes
        try:
            return st.update("reaperoverlays", NS, name, o, sub="status")
        except ApiError as e:
            assert e.code == 409
    raise AssertionError("agent could not write status")


def test_overlay_gating_reset_and_deletion(api, ctl):
    st = api.store
    make_node(st, "node-a")
    make_node(st, "node-b")  # reports later; known to the controller long before (entries of
    # unknown nodes are dropped, and a new node does not bring the overlay back)
    rpod(st, "user", overlayName="ovl")
    s = wait_for(lambda: status(st, "reaperpods", "user").get("reason"), what="gated")
    assert s == "OverlayNotFound"
    st.inject_conflicts["reaperoverlays"] = 2  # the finalizer write retries on 409
    st.create("reaperoverlays", NS, {"metadata": {"name": "ovl"},
                                     "spec": {"resetPolicy": "OnFailure"}})
    wait_for(lambda: "reaper.io/overlay-cleanup" in
             (st.get("reaperoverlays", NS, "ovl")["metadata"].get("finalizers") or []),
             what="finalizer")
    assert st.conflicts_served == 2
    wait_for(lambda: status(st, "reaperpods", "user").get("reason") == "OverlayNotReady",
             what="not ready")
    with pytest.raises(ApiError):
        st.get("pods", NS, "user")
    fake_agent(st, "node-a", "ovl", ready=True, observedResetGeneration=0, observedResetRequest=0)
    wait_for(lambda: status(st, "reaperoverlays", "ovl").get("phase") == "Ready", what="Ready")
    pod = wait_for(lambda: st.get("pods", NS, "user"), what="gated pod")
    assert pod["metadata"]["annotations"]["reaper.runtime/overlay-name"] == "ovl"
    # Manual reset: Resetting until the node reports the generation.
    st.patch("reaperoverlays", NS, "ovl", "merge", {"spec": {"resetGeneration": 1}})
    wait_for(lambda: status(st, "reaperoverlays", "ovl").get("phase") == "Resetting",
             what="Resetting")
    fake_agent(st, "node-a", "ovl", ready=True, observedResetGeneration=1, observedResetRequest=0)
    wait_for(lambda: status(st, "reaperoverlays", "ovl").get("observedResetGeneration") == 1,
             what="observedResetGeneration")
    # OnFailure: a failed user of the overlay requests one reset.
    kubelet(st, "user", "Failed", exit_code=1)
    wait_for(lambda: st.get("reaperoverlays", NS, "ovl")["metadata"].get("annotations", {})
             .get("reaper.io/reset-request") == "1", what="reset request")
    wait_for(lambda: st.get("reaperpods", NS, "user")["metadata"].get("annotations", {})
             .get("reaper.io/overlay-reset-requested") == "true", what="marked")
    wait_for(lambda: status(st, "reaperoverlays", "ovl").get("phase") == "Resetting",
             what="auto reset")
    fake_agent(st, "node-a", "ovl", ready=True, observedResetGeneration=1, observedResetRequest=1)
    wait_for(lambda: status(st, "reaperoverlays", "ovl").get("phase") == "Ready", what="Ready 2")
    # One failure, one reset. Sync point: a second node reporting makes the controller decide
    # again, and a pass writes the status only when it requests no reset.
    fake_agent(st, "node-b", "ovl", ready=True, observedResetGeneration=1, observedResetRequest=1)
    wait_for(lambda: overlay_message(st) == "Ready on 2 node(s)", what="node-b counted")
    assert st.get("reaperoverlays", NS, "ovl")["metadata"]["annotations"][
        "reaper.io/reset-request"] == "1", "one failure, one reset"
    # Deletion waits for every node to remove its data: the status says what it waits for.
    st.delete("reaperoverlays", NS, "ovl")
    deleting = "deleting: waiting for {} node(s) to remove overlay data"
    wait_for(lambda: overlay_message(st) == deleting.format(2), what="deletion waits for both")
    fake_agent(st, "node-a", "ovl", ready=False, removed=True)
    wait_for(lambda: overlay_message(st) == deleting.format(1), what="deletion waits for node-b")
    assert st.get("reaperoverlays", NS, "ovl")["metadata"]["finalizers"] == [
        "reaper.io/overlay-cleanup"], "finalizer dropped while node-b still has data"
    fake_agent(st, "node-b", "ovl", ready=False, removed=True)
    wait_for(lambda: not st.objects["reaperoverlays"].get((NS, "ovl")), what="overlay gone")


def overlay_message(st):
    return status(st, "reaperoverlays", "ovl").get("message")


def reset_request(st, name):
    return st.get("reaperoverlays", NS, name)["metadata"].get("annotations", {}).get(
        "reaper.io/reset-request")


def test_namespace_target_follows_pods_without_overlay_name(api, ctl):
    """spec.target Namespace: OnFailure counts the ReaperPods that use the namespace overlay
    (no overlayName); a Named object of the same policy counts only its own."""
    st = api.store
    make_node(st, "node-a")
    for name, target in (("nsovl", "Namespace"), ("named", "Named")):
        st.create("reaperoverlays", NS, {"metadata": {"name": name},
                                         "spec": {"target": target, "resetPolicy": "OnFailure"}})
        wait_for(lambda name=name: st.get("reaperoverlays", NS, name)["metadata"]
                 .get("finalizers"), what=f"{name} finalizer")
        fake_agent(st, "node-a", name, ready=True, observedResetGeneration=0,
                   observedResetRequest=0)
    rpod(st, "plain")
    pod = wait_for(lambda: st.get("pods", NS, "plain"), what="ungated pod")
    assert "reaper.runtime/overlay-name" not in pod["metadata"].get("annotations", {})
    kubelet(st, "plain", "Failed", exit_code=1)
    wait_for(lambda: reset_request(st, "nsovl") == "1", what="namespace overlay reset request")
    wait_for(lambda: st.get("reaperpods", NS, "plain")["metadata"].get("annotations", {})
             .get("reaper.io/overlay-reset-requested") == "true", what="marked")
    rpod(st, "user", overlayName="named")
    wait_for(lambda: st.get("pods", NS, "user"), what="named pod")
    kubelet(st, "user", "Failed", exit_code=1)
    wait_for(lambda: reset_request(st, "named") == "1", what="named overlay reset request")
    time.sleep(0.5)
    assert reset_request(st, "nsovl") == "1", "a named overlay's failure reset the namespace's"
    # The Namespace object's name is not an overlay name: a ReaperPod naming it waits.
    rpod(st, "confused", overlayName="nsovl")
    s = wait_for(lambda: status(st, "reaperpods", "confused").get("reason"), what="gated")
    assert s == "OverlayNotFound"


def finish_rpod(st, name, code):
    wait_for(lambda: st.get("pods", NS, name), what=f"pod {name}")
    kubelet(st, name, "Succeeded" if code == 0 else "Failed", exit_code=code)


def test_daemonjob_nodes_retries_and_after(api, ctl):
    st = api.store
    make_node(st, "node-a")
    make_node(st, "node-b")
    make_node(st, "node-c", ready=False)
    make_node(st, "tainted", taints=[{"key": "gpu", "effect": "NoSchedule"}])
    st.create("reaperdaemonjobs", NS, {"metadata": {"name": "second"},
                                       "spec": {"command": ["true"], "after": ["first"]}})
    st.create("reaperdaemonjobs", NS, {"metadata": {"name": "third"},
                                       "spec": {"command": ["true"], "after": ["nope"]}})
    st.create("reaperdaemonjobs", NS, {"metadata": {"name": "first"},
                                       "spec": {"command": ["true"], "retryLimit": 1}})
    wait_for(lambda: st.get("reaperpods", NS, "first-node-a"), what="rpod a")
    wait_for(lambda: st.get("reaperpods", NS, "first-node-b"), what="rpod b")
    assert st.get("reaperpods", NS, "first-node-a")["spec"]["nodeName"] == "node-a"
    # Status is written before the ReaperPods are created: it is the decision, seen positively.
    s = wait_for(lambda: (x := status(st, "reaperdaemonjobs", "first")).get("totalNodes") == 2
                 and x, what="first's nodes")
    assert sorted(n["nodeName"] for n in s["nodeStatuses"]) == ["node-a", "node-b"], s
    assert not st.objects["reaperpods"].get((NS, "first-node-c"))
    assert not st.objects["reaperpods"].get((NS, "first-tainted"))
    wait_for(lambda: "waiting for first" in status(st, "reaperdaemonjobs", "second")
             .get("message", ""), what="second waits")
    wait_for(lambda: status(st, "reaperdaemonjobs", "third").get("message") ==
             "dependency nope not found", what="missing dependency message")
    finish_rpod(st, "first-node-a", 0)
    old_uid = st.get("reaperpods", NS, "first-node-b")["metadata"]["uid"]
    finish_rpod(st, "first-node-b", 7)
    # retry: the ReaperPod is recreated with retry 1
    wait_for(lambda: st.get("reaperpods", NS, "first-node-b")["metadata"]["uid"] != old_uid,
             what="retry")
    assert st.get("reaperpods", NS, "first-node-b")["metadata"]["annotations"][
        "reaper.io/retry"] == "1"
    finish_rpod(st, "first-node-b", 7)
    s = wait_for(lambda: (x := status(st, "reaperdaemonjobs", "first")).get("phase") ==
                 "PartiallyFailed" and x, what="PartiallyFailed")
    nb = [n for n in s["nodeStatuses"] if n["nodeName"] == "node-b"][0]
    assert nb["retryCount"] == 1 and nb["exitCode"] == 7 and nb["phase"] == "Failed"
    assert s["totalNodes"] == 2 and s["readyNodes"] == 1
    # node-c becomes Ready later: it gets its run (triggerOn NodeReady).
    set_node_ready(st, "node-c", True)
    finish_rpod(st, "first-node-c", 0)
    wait_for(lambda: status(st, "reaperdaemonjobs", "first").get("totalNodes") == 3, what="3")
    # second has been reconciled against first's current state (its message names that phase).
    wait_for(lambda: status(st, "reaperdaemonjobs", "second").get("message") ==
             f"waiting for first ({status(st, 'reaperdaemonjobs', 'first')['phase']})",
             what="second sees first's phase")
    assert not st.objects["reaperpods"].get((NS, "second-node-a"))
    # A spec change re-runs every node; with node-b succeeding, first completes.
    st.patch("reaperdaemonjobs", NS, "first", "merge", {"spec": {"args": ["v2"]}})
    for n in ("node-a", "node-b", "node-c"):
        wait_for(lambda: st.get("reaperpods", NS, f"first-{n}")["spec"].get("args") == ["v2"],
                 what=f"v2 on {n}")
        finish_rpod(st, f"first-{n}", 0)
    wait_for(lambda: status(st, "reaperdaemonjobs", "first").get("phase") == "Completed",
             what="Completed")
    wait_for(lambda: st.get("reaperpods", NS, "second-node-a"), what="after ordering")


def test_daemonjob_copies_the_pod_fields_and_reports_per_node(api, ctl):
    """Every field a ReaperDaemonJob passes on reaches its ReaperPods (and their Pods);
    nodeStatuses[] names each node's ReaperPod; observedGeneration follows the spec."""
    st = api.store
    make_node(st, "node-a")
    st.create("reaperoverlays", NS, {"metadata": {"name": "tools"}, "spec": {}})
    wait_for(lambda: st.get("reaperoverlays", NS, "tools")["metadata"].get("finalizers"),
             what="overlay finalizer")
    fake_agent(st, "node-a", "tools", ready=True, observedResetGeneration=0,
               observedResetRequest=0)
    fields = {
        "command": ["/bin/sh", "-c"], "args": ["cat /cfg/x > /out/y"],
        "env": [{"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}],
        "workingDir": "/srv", "overlayName": "tools", "dnsMode": "kubernetes",
        "runAsUser": 1000, "runAsGroup": 1001, "supplementalGroups": [27],
        "volumes": [{"name": "cfg", "mountPath": "/cfg", "configMap": "cm", "readOnly": True},
                    {"name": "out", "mountPath": "/out", "hostPath": "/var/tmp/out"},
                    {"name": "scratch", "mountPath": "/scratch", "emptyDir": True}]}
    job = st.create("reaperdaemonjobs", NS, {"metadata": {"name": "copy"}, "spec": fields})
    rp = wait_for(lambda: st.get("reaperpods", NS, "copy-node-a"), what="rpod")
    for k, v in fields.items():
        assert rp["spec"][k] == v, k
    assert rp["spec"]["nodeName"] == "node-a" and rp["spec"]["restartPolicy"] == "Never"
    pod = wait_for(lambda: st.get("pods", NS, "copy-node-a"), what="pod (overlay Ready)")
    ann = pod["metadata"]["annotations"]
    assert ann["reaper.runtime/overlay-name"] == "tools"
    assert ann["reaper.runtime/dns-mode"] == "kubernetes"
    spec, main = pod["spec"], pod["spec"]["containers"][0]
    assert spec["securityContext"]["runAsUser"] == 1000
    assert spec["securityContext"]["runAsGroup"] == 1001
    assert spec["securityContext"]["supplementalGroups"] == [27]
    assert main["workingDir"] == "/srv" and main["args"] == ["cat /cfg/x > /out/y"]
    assert {e["name"]: e for e in main["env"]}["B"]["valueFrom"] == \
        {"configMapKeyRef": {"name": "cm", "key": "k"}}
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["cfg"]["configMap"]["name"] == "cm" and vols["out"]["hostPath"]["path"] == \
        "/var/tmp/out" and "emptyDir" in vols["scratch"]
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    assert mounts["cfg"]["mountPath"] == "/cfg" and mounts["cfg"].get("readOnly") is True
    s = wait_for(lambda: (x := status(st, "reaperdaemonjobs", "copy")).get("nodeStatuses") and x,
                 what="node statuses")
    assert s["nodeStatuses"][0]["reaperPodName"] == "copy-node-a"
    assert s["nodeStatuses"][0]["nodeName"] == "node-a"
    assert s["observedGeneration"] == job["metadata"]["generation"] == 1
    finish_rpod(st, "copy-node-a", 0)
    wait_for(lambda: status(st, "reaperdaemonjobs", "copy").get("phase") == "Completed",
             what="Completed")
    # A spec change: observedGeneration follows, the ReaperPod is replaced with the new field.
    st.patch("reaperdaemonjobs", NS, "copy", "merge", {"spec": {"workingDir": "/opt"}})
    wait_for(lambda: status(st, "reaperdaemonjobs", "copy").get("observedGeneration") == 2,
             what="observedGeneration 2")
    rp = wait_for(lambda: (r := st.get("reaperpods", NS, "copy-node-a"))["spec"]
                  .get("workingDir") == "/opt" and r, what="new ReaperPod")
    assert rp["metadata"]["annotations"]["reaper.io/job-generation"] == "2"


def test_watch_reconnect_and_relist_after_410(api, ctl):
    st = api.store
    rpod(st, "one")
    wait_for(lambda: st.get("pods", NS, "one"), what="pod one")
    st.drop_watches()
    rpod(st, "two")
    wait_for(lambda: st.get("pods", NS, "two"), what="pod two after reconnect")
    lists = st.lists["reaperpods"]
    st.expire_and_drop()
    rpod(st, "three")
    wait_for(lambda: st.get("pods", NS, "three"), what="pod three after 410")
    wait_for(lambda: st.lists["reaperpods"] > lists, what="relist")
    assert "relisting" in ctl.text()


def lease_holder(st):
    try:
        return st.get("leases", NS, "reaper-controller")["spec"].get("holderIdentity")
    except ApiError:
        return None


def lease_reads(st, token):
    return sum(1 for m, plural, _, name, _, t in list(st.requests)
               if (m, plural, name, t) == ("GET", "leases", "reaper-controller", token))


def test_leader_election_failover(api, tmp_path):
    st = api.store
    args = ["--lease-namespace", NS, "--lease-duration", "3", "--renew-deadline", "2",
            "--retry-period", "1"]
    a = Ctl(api, tmp_path, "a", *args, "--identity", "ctl-a")
    wait_for(lambda: lease_holder(st) == "ctl-a", what="a leads")
    b = Ctl(api, tmp_path, "b", *args, "--identity", "ctl-b")
    try:
        rpod(st, "led")
        wait_for(lambda: st.get("pods", NS, "led"), what="pod by leader")
        # b has read the lease twice (every --retry-period): its first decision is made.
        wait_for(lambda: lease_reads(st, "b") >= 2, what="b tried for the lease")
        assert "running" in a.text() and "acquired" not in b.text(), b.text()
        assert lease_holder(st) == "ctl-a"
        a.stop(signal.SIGKILL)  # no release: b must wait for the lease to expire
        killed = time.monotonic()
        wait_for(lambda: lease_holder(st) == "ctl-b", timeout=15, what="b takes over")
        assert time.monotonic() - killed >= 2.0
        rpod(st, "after-failover")
        wait_for(lambda: st.get("pods", NS, "after-failover"), what="pod by new leader")
        assert b.stop() == 0
        assert lease_holder(st) == "", "SIGTERM releases the lease"
    finally:
        a.stop()
        b.stop()


def test_fake_server_enforces_the_crd_schemas(api):
    with pytest.raises(ApiError, match="not declared"):
        rpod(api.store, "typo", comand=["x"])
    with pytest.raises(ApiError, match="is not one of"):
        rpod(api.store, "enum", dnsMode="none")


def test_cli_flags_and_config_errors(tmp_path):
    binary = str(BUILD / "src/controller/reaper-controller")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("reaper-controller ")
    bad = subprocess.run([binary, "--leader-elect=maybe"], capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 2 and "usage" in bad.stderr
    missing = tmp_path / "nope.yaml"
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    r = subprocess.run([binary, "--kubeconfig", str(missing)], capture_output=True, text=True,
                       timeout=10, env=env)
    assert r.returncode == 1 and str(missing) in r.stderr
    execcfg = tmp_path / "exec.yaml"
    execcfg.write_text("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                       "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
                       "users: [{name: u, user: {exec: {command: aws}}}]\n")
    r = subprocess.run([binary, "--kubeconfig", str(execcfg)], capture_output=True, text=True,
                       timeout=10, env=env)
    assert r.returncode == 1 and "exec/auth-provider credentials are not supported" in r.stderr
