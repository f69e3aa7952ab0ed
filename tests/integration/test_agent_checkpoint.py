"""ReaperCheckpoint executed by reaper-agent (docs/checkpoint.md): a counter started with
reaper-runtime, a Pod and a ReaperCheckpoint in the fake API server. The test plays containerd
and the kubelet: it pumps the counter's stdout pipe into a log file in the kubelet layout the
agent reads (--pod-log-dir; the counter prints CRI-format lines itself) and writes the Pod's
containerStatuses. CRIU runs through the node library."""
import os
import re
import subprocess
import threading
import uuid

import pytest

from criu_env import criu  # noqa: F401 - fixture
from harness import agent as harness_agent
from kubeapi.helpers import wait_for
from runtime_env import reap_all, rt  # noqa: F401 - fixture
from test_agent import AGENT, NODE, agents, ready_condition, ready_node_files, start  # noqa: F401

pytestmark = pytest.mark.agent

NS = "team-a"
CRI_PREFIX = "2026-01-01T00:00:00.000000000Z stdout F "
COUNTER = f'i=0; while :; do echo "{CRI_PREFIX}$i"; i=$((i+1)); sleep 0.05; done'


class LogPump:
    """A pipe for a workload's stdout/stderr, copied into a log file until EOF (containerd's
    part). done() once every writer has gone and all was written."""

    def __init__(self, path):
        self.r, self.w = os.pipe()
        self.path = path
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with open(self.path, "ab", buffering=0) as out:
            while data := os.read(self.r, 65536):
                out.write(data)
        os.close(self.r)

    def handed_over(self):
        """The workload has its copy: drop ours, so EOF comes when it exits."""
        os.close(self.w)

    def done(self, timeout=10):
        self.thread.join(timeout)
        return not self.thread.is_alive()


class Node:
    """The agent's node: checkpoint root, kubelet log dir, pods run with reaper-runtime."""

    def __init__(self, rt, api, tmp, criu=None):
        self.rt, self.st, self.tmp = rt, api.store, tmp
        self.ckpt_root = tmp / "checkpoints"
        self.logs = tmp / "pods"
        self.ckpt_root.mkdir()
        self.logs.mkdir()
        self.conf = rt.conf  # the agent's and the test's own reaper-runtime's
        if criu:
            rt.conf.write_text(rt.conf.read_text() + f"REAPER_CRIU={criu}\n")

    def agent(self, agents, *args, api):
        return start(agents, self.tmp, self.conf, "--checkpoint-root", str(self.ckpt_root),
                     "--pod-log-dir", str(self.logs), *args, api=api)

    def pod(self, name, containers=("counter",), node=NODE):
        return self.st.create("pods", NS, {"metadata": {"name": name}, "spec": {
            "nodeName": node, "containers": [{"name": c, "image": "none"} for c in containers]}})

    def set_statuses(self, pod, statuses):
        pod = self.st.get("pods", NS, pod["metadata"]["name"])
        pod["status"] = {"phase": "Running", "containerStatuses": statuses}
        self.st.update("pods", NS, pod["metadata"]["name"], pod, sub="status")

    def log_path(self, pod, container="counter", restarts=0):
        md = pod["metadata"]
        return self.logs / f"{NS}_{md['name']}_{md['uid']}" / container / f"{restarts}.log"

    def run_counter(self, pod, container="counter"):
        """Start the counter as a Reaper container writing the pod's CRI log; the Pod's status
        names it. Returns (runtime id, pid, bundle)."""
        cid = f"ck{uuid.uuid4().hex[:12]}"
        bundle = self.rt.bundle(["/bin/sh", "-c", COUNTER], namespace=NS)
        log = self.log_path(pod, container)
        log.parent.mkdir(parents=True)
        pump = LogPump(log)
        self.rt.cli("create", cid, "--bundle", bundle, stdout=pump.w, stderr=pump.w,
                    capture_output=False)
        pump.handed_over()
        self.rt.cli("start", cid)
        self.set_statuses(pod, [running(container, cid)])
        wait_for(lambda: counted(log), what="counter output")
        return cid, self.rt.state(cid)["pid"], bundle, pump

    def checkpoint(self, name, pod, **spec):
        return self.st.create("reapercheckpoints", NS, {
            "metadata": {"name": name}, "spec": {"podName": pod, **spec}})

    def status(self, name):
        return self.st.get("reapercheckpoints", NS, name).get("status", {})

    def wait_phase(self, name, *phases, timeout=30):
        return wait_for(lambda: (lambda s: s if s.get("phase") in phases else None)(
            self.status(name)), timeout=timeout,
            what=lambda: f"{name} {phases}: {self.status(name)}")


def running(name, cid):
    return {"name": name, "containerID": f"containerd://{cid}", "restartCount": 0,
            "ready": True, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}


def counted(path):
    """The counter values in a CRI log (complete lines only)."""
    text = path.read_text() if path.exists() else ""
    lines = text.split("\n")[:-1]
    for ln in lines:
        assert ln.startswith(CRI_PREFIX), ln
    return [int(ln[len(CRI_PREFIX):]) for ln in lines]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_checkpoint_then_restore_continues_the_counter(rt, api, agents, tmp_path, criu):
    node = Node(rt, api, tmp_path, criu)
    pod = node.pod("counter")
    cid, pid, bundle, pump = node.run_counter(pod)
    a = node.agent(agents, api=api)
    dest = node.ckpt_root / "counter-1"
    node.checkpoint("counter-1", "counter", destination=str(dest))

    # The dump stops the workload (Kybernate's semantics); the log waits for the kubelet.
    s = wait_for(lambda: (lambda s: s if s.get("reason") == "WaitingForExit" else None)(
        node.status("counter-1")), timeout=30, what=lambda: f"dump: {node.status('counter-1')}")
    assert s["phase"] == "Running" and s["nodeName"] == NODE, s
    assert s["imagePath"] == str(dest) and s["containerID"] == f"containerd://{cid}"
    assert s["sizeBytes"] > 10_000 and s["durationMilliseconds"] > 0
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", s["criuVersion"]), s
    assert (dest / "reaper-checkpoint.json").exists()
    assert rt.wait_exit(pid) != 0, "the dump did not stop the workload"
    assert pump.done(), "output pipe still open after the workload's exit"
    log = node.log_path(pod)
    before = counted(log)
    node.set_statuses(pod, [{**running("counter", cid), "state": {"terminated": {
        "exitCode": 137, "containerID": f"containerd://{cid}"}}}])
    s = node.wait_phase("counter-1", "Succeeded", "Failed")
    assert s["phase"] == "Succeeded" and s["reason"] == "Checkpointed", s
    assert s["logCopied"] == len(before) and s["completionTime"] and "message" not in s
    copied = counted(dest / "container.log")
    assert copied == before == list(range(len(before))), "log copy incomplete"
    assert s["sizeBytes"] >= sum(f.stat().st_size for f in dest.iterdir()) - 1

    # Restore from the image (as the shim does for RESTORE_FROM), output to the same log. The
    # dumped tree's PIDs must be free: reap its other process (sleep), orphaned to us; the
    # pipe's EOF said it has exited.
    reap_all()
    rt.cli("delete", "--force", cid)
    restored = f"{cid}r"
    pump = LogPump(log)
    rt.cli("restore", restored, "--detach", "--image-path", dest, "--bundle", bundle, stdout=pump.w,
           stderr=pump.w, capture_output=False)
    pump.handed_over()
    wait_for(lambda: len(counted(log)) > len(before) + 5, timeout=15, what="restored counter")
    rpid = rt.state(restored)["pid"]
    rt.cli("kill", restored, "KILL")
    rt.wait_exit(rpid)
    assert pump.done()
    after = counted(log)
    assert after == list(range(len(after))), "gap or repeat across the checkpoint"

    assert a.metric('reaper_checkpoints_total{result="succeeded"}') == 1
    assert a.metric("reaper_criu_works") == 1
    text = a.get("/metrics")[1]
    assert f'reaper_criu_info{{version="{s["criuVersion"]}",path="{criu}"}} 1' in text, text
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # Done is done: a new agent leaves the finished object alone.
    rv = api.store.get("reapercheckpoints", NS, "counter-1")["metadata"]["resourceVersion"]
    a.stop()
    agents.remove(a)
    node.agent(agents, api=api)
    late = node.pod("late")
    node.set_statuses(late, [running("counter", "notareapercontainer")])
    node.checkpoint("late", "late")  # queued after counter-1, which the new agent listed first
    node.wait_phase("late", "Failed")
    assert api.store.get("reapercheckpoints", NS, "counter-1")["metadata"][
        "resourceVersion"] == rv


def test_leave_running_copies_the_log_up_to_the_dump(rt, api, agents, tmp_path, criu):
    node = Node(rt, api, tmp_path, criu)
    pod = node.pod("counter")
    cid, pid, _, _ = node.run_counter(pod)
    node.agent(agents, api=api)
    dest = node.ckpt_root / "live"
    node.checkpoint("live", "counter", destination=str(dest), options={"leaveRunning": True})
    s = node.wait_phase("live", "Succeeded", "Failed")
    assert s["phase"] == "Succeeded", s
    copied = counted(dest / "container.log")
    assert copied == list(range(len(copied))) and s["logCopied"] == len(copied) > 0
    assert rt.state(cid)["status"] == "running" and alive(pid)
    wait_for(lambda: len(counted(node.log_path(pod))) > len(copied) + 2, what="still counting")
    rt.cli("kill", cid, "KILL")
    rt.wait_exit(pid)


def test_refusals_and_other_nodes(rt, api, agents, tmp_path):
    node = Node(rt, api, tmp_path)
    st = api.store
    elsewhere = node.pod("elsewhere", node="node-b")
    node.set_statuses(elsewhere, [running("counter", "onanothernode")])
    node.checkpoint("foreign", "elsewhere")
    pod = node.pod("counter")
    cid, pid, _, _ = node.run_counter(pod)
    other = node.pod("notreaper")
    node.set_statuses(other, [running("counter", "notareapercontainer")])
    two = node.pod("two", containers=("a", "b"))
    node.set_statuses(two, [running("a", cid), running("b", cid)])
    full = node.ckpt_root / "full"
    full.mkdir()
    (full / "keep").write_text("x")
    # As if an agent had died during a dump: claimed here, still dumping.
    st.create("reapercheckpoints", NS, {"metadata": {"name": "interrupted"},
                                        "spec": {"podName": "counter"}})
    obj = st.get("reapercheckpoints", NS, "interrupted")
    obj["status"] = {"phase": "Running", "reason": "Dumping", "nodeName": NODE,
                     "imagePath": str(node.ckpt_root / "i")}
    st.update("reapercheckpoints", NS, "interrupted", obj, sub="status")

    a = node.agent(agents, api=api)
    cases = {  # name: (spec, reason, words in the message)
        "not-reaper": ({"podName": "notreaper"}, "NotReaperContainer", "notareapercontainer"),
        "nonempty": ({"podName": "counter", "destination": str(full)}, "DestinationNotEmpty",
                     "not empty"),
        "outside": ({"podName": "counter", "destination": "/etc/reaper-test-ckpt"},
                    "InvalidDestination", "not under the checkpoint root"),
        "which": ({"podName": "two"}, "ContainerNotFound", "set spec.container"),
        "no-such": ({"podName": "counter", "container": "nope"}, "ContainerNotFound", "nope"),
    }
    for name, (spec, _, _) in cases.items():
        st.create("reapercheckpoints", NS, {"metadata": {"name": name}, "spec": spec})
    for name, (_, reason, words) in cases.items():
        s = node.wait_phase(name, "Failed")
        assert s["reason"] == reason and words in s["message"], (name, s)
        assert s["nodeName"] == NODE and s["completionTime"], s
    s = node.wait_phase("interrupted", "Failed")
    assert s["reason"] == "AgentRestarted" and "never run twice" in s["message"], s
    assert st.get("reapercheckpoints", NS, "foreign").get("status") == {}, "another node's pod"
    assert sorted(p.name for p in full.iterdir()) == ["keep"]
    assert not os.path.exists("/etc/reaper-test-ckpt")
    assert rt.state(cid)["status"] == "running" and alive(pid), "a refusal touched the workload"
    assert a.metric('reaper_checkpoints_total{result="failed"}') == len(cases) + 1
    rt.cli("kill", cid, "KILL")
    rt.wait_exit(pid)


def test_broken_criu_fails_the_checkpoint_not_the_node(rt, api, agents, tmp_path):
    node = Node(rt, api, tmp_path, criu="/bin/false")
    api.store.create("nodes", "", {"metadata": {"name": NODE}})
    bins, cfg = ready_node_files(tmp_path)
    pod = node.pod("counter")
    cid, pid, _, _ = node.run_counter(pod)
    a = node.agent(agents, "--bin-dir", str(bins), "--containerd-config", str(cfg), api=api)
    dest = node.ckpt_root / "broken"
    node.checkpoint("broken", "counter", destination=str(dest))
    s = node.wait_phase("broken", "Failed")
    assert s["reason"] == "CheckpointFailed" and s["message"], s
    assert rt.state(cid)["status"] == "running" and alive(pid), "a failed dump stops nothing"
    c = wait_for(lambda: ready_condition(api.store), what="condition")
    assert c["status"] == "True", c
    assert "checkpoint/restore: " in c["message"], c
    assert a.metric("reaper_criu_works") == 0
    rt.cli("kill", cid, "KILL")
    rt.wait_exit(pid)


def test_restart_after_the_dump_only_copies_the_log(rt, api, agents, tmp_path):
    """An agent that finds its own checkpoint dumped but waiting for the exit (it restarted in
    between) resumes: no second dump, the log is copied once the kubelet reports the exit."""
    node = Node(rt, api, tmp_path)
    st = api.store
    pod = node.pod("done")
    log = node.log_path(pod)
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"{CRI_PREFIX}{i}\n" for i in range(3)) + CRI_PREFIX + "partial")
    image = node.ckpt_root / "dumped"
    image.mkdir()
    (image / "pages-1.img").write_bytes(b"x" * 4096)
    cid = "containerd://dumpedalready"
    node.set_statuses(pod, [running("counter", "dumpedalready")])
    st.create("reapercheckpoints", NS, {"metadata": {"name": "dumped"},
                                        "spec": {"podName": "done"}})
    obj = st.get("reapercheckpoints", NS, "dumped")
    obj["status"] = {"phase": "Running", "reason": "WaitingForExit", "nodeName": NODE,
                     "containerID": cid, "imagePath": str(image), "logPath": str(log),
                     "sizeBytes": 4096, "durationMilliseconds": 300, "criuVersion": "4.2"}
    st.update("reapercheckpoints", NS, "dumped", obj, sub="status")
    a = node.agent(agents, api=api)
    wait_for(lambda: a.get("/readyz")[0] == 200, what="agent synced")
    assert node.status("dumped")["phase"] == "Running", "copied before the exit was reported"
    node.set_statuses(pod, [{**running("counter", "dumpedalready"),
                             "state": {"terminated": {"exitCode": 137, "containerID": cid}}}])
    s = node.wait_phase("dumped", "Succeeded", "Failed")
    assert s["phase"] == "Succeeded" and s["logCopied"] == 3, s
    assert counted(image / "container.log") == [0, 1, 2], "partial last line copied"
    assert s["durationMilliseconds"] == 300 and s["criuVersion"] == "4.2"
    assert s["sizeBytes"] == 4096 + (image / "container.log").stat().st_size
    assert a.metric('reaper_checkpoints_total{result="succeeded"}') == 1


class AgentInOwnMountNs(harness_agent.Agent):
    """The agent as the DaemonSet runs it: in a mount namespace of its own (here a private copy
    of ours) where the node's criu is not visible (a tmpfs over its directory). criu_ns, when
    given, is REAPER_CRIU_MOUNT_NS in its environment (as deploy/agent/daemonset.yaml sets)."""

    def __init__(self, node, api, criu, criu_ns=None):
        wrapper = node.tmp / "agent-in-own-mntns"
        ns_env = f"export REAPER_CRIU_MOUNT_NS={criu_ns}\n" if criu_ns else ""
        wrapper.write_text(
            "#!/bin/sh\nset -e\n"
            'if [ -z "$IN_OWN_MNTNS" ]; then\n'
            '  IN_OWN_MNTNS=1 exec unshare -m --propagation private "$0" "$@"\n'
            "fi\n"
            f"mount -t tmpfs -o size=64k reaper-hide-criu '{os.path.dirname(criu)}'\n"
            f"test ! -e '{criu}'\n{ns_env}"
            f'exec \'{AGENT}\' "$@"\n')
        wrapper.chmod(0o755)
        super().__init__(wrapper, node.tmp, node.conf, "--checkpoint-root", str(node.ckpt_root),
                         "--pod-log-dir", str(node.logs), "--kubeconfig",
                         api.kubeconfig(node.tmp / "kubeconfig"), "--node-name", NODE)


@pytest.mark.parametrize("criu_ns", [True, False], ids=["criu-mount-ns", "no-criu-mount-ns"])
def test_agent_without_criu_uses_the_nodes(rt, api, agents, tmp_path, criu, criu_ns):
    """REAPER_CRIU_MOUNT_NS=<the node's mount namespace>: the agent's own namespace has no criu,
    the dump still runs (criu is looked up and run in the node's namespace, at the same paths).
    Without it the checkpoint fails: criu is not there."""
    node = Node(rt, api, tmp_path, criu)
    pod = node.pod("counter")
    cid, pid, _, _ = node.run_counter(pod)
    host_ns = f"/proc/{os.getpid()}/ns/mnt"
    agents.append(AgentInOwnMountNs(node, api, criu, host_ns if criu_ns else None))
    dest = node.ckpt_root / "from-node"
    node.checkpoint("from-node", "counter", destination=str(dest), options={"leaveRunning": True})
    s = node.wait_phase("from-node", "Succeeded", "Failed")
    if criu_ns:
        assert s["phase"] == "Succeeded", s
        assert re.fullmatch(r"\d+\.\d+(\.\d+)?", s["criuVersion"]), s
        assert (dest / "reaper-checkpoint.json").exists() and (dest / "inventory.img").exists()
    else:
        assert s["phase"] == "Failed" and s["reason"] == "CheckpointFailed", s
        assert criu in s["message"] and "REAPER_CRIU" in s["message"], s
        assert not dest.exists() or not (dest / "reaper-checkpoint.json").exists()
    assert rt.state(cid)["status"] == "running" and alive(pid)
    rt.cli("kill", cid, "KILL")
    rt.wait_exit(pid)
