"""Proves the containerd/CRI harness with Debian's runc before the reaper shim exists.

Shim tests use the same fixtures with runtime_handler="reaper-v2".
"""
import pathlib
import uuid

import pytest

from harness.containerd import Containerd
from harness.cri import CriClient
from harness.mounts import mounts_under

pytestmark = [pytest.mark.shim, pytest.mark.runc]
HANDLER = "runc"


def test_exit_code_and_log_lines(cri):
    pod = cri.run_pod("exit3", runtime_handler=HANDLER)
    cid = cri.run_container(pod, "main",
                            command=["/bin/sh", "-c", "echo hello; echo err >&2; exit 3"])
    st = cri.wait_exited(cid)
    assert st.exit_code == 3
    # Both set; no order: CRI stamps started_at after Start returns, finished_at is the shim's
    # exited_at, so a fast exit can "finish" before it "started".
    assert st.started_at > 0 and st.finished_at > 0
    assert st.log_path == str(pod.log_dir / "main/0.log")
    lines = cri.wait_log(pod, "main", 2)
    # stdout and stderr travel through separate FIFOs: order is kept per stream only
    assert sorted(lines) == [("stderr", "err"), ("stdout", "hello")]


def test_pod_is_kubelet_shaped(cri):
    pod = cri.run_pod("shape", namespace="team-a", runtime_handler=HANDLER)
    st = cri.pod_status(pod)
    assert st.state == cri.pb.SANDBOX_READY
    assert st.runtime_handler == HANDLER
    assert st.labels["io.kubernetes.pod.uid"] == pod.uid
    assert pod.log_dir == cri.pods_dir / f"team-a_shape_{pod.uid}"
    assert [p.id for p in cri.list_pods() if p.id == pod.id] == [pod.id]


def test_exec_sync_exit_code_and_stdout(cri):
    pod = cri.run_pod("exec", runtime_handler=HANDLER)
    cid = cri.run_container(pod, "sleeper")  # image default: sleep infinity
    assert cri.container_status(cid).state == cri.pb.CONTAINER_RUNNING
    r = cri.exec_sync(cid, ["sh", "-c", "echo x; exit 5"], timeout=10)
    assert (r.exit_code, r.stdout, r.stderr) == (5, b"x\n", b"")
    stats = cri.container_stats(cid)
    assert stats.attributes.id == cid


def test_stop_running_container(cri):
    pod = cri.run_pod("stop", runtime_handler=HANDLER)
    cid = cri.run_container(pod, "sleeper", command=["/bin/sleep", "1000"])
    cri.stop_container(cid, timeout=1)  # pid 1 ignores SIGTERM: SIGKILL after 1 s
    st = cri.container_status(cid)
    assert st.state == cri.pb.CONTAINER_EXITED
    assert st.exit_code == 137
    cri.remove_container(cid)
    assert [c.id for c in cri.list_containers(pod)] == []


def test_ctr_run_rootfs(containerd, test_image):
    cid = "harness-" + uuid.uuid4().hex[:8]
    # --rootfs is a flag: the rootfs path is the first positional argument
    r = containerd.ctr("run", "--rm", "--runtime", "io.containerd.runc.v2", "--rootfs",
                       test_image.rootfs, cid, "/bin/echo", "hi", timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hi"


def test_teardown_leaves_no_shims(test_image):
    c = Containerd(test_image, pathlib.Path("/nonexistent"))  # runc only: no reaper build needed
    try:
        c.start()
        client = CriClient(c.address, c.pods_dir, test_image.ref)
        pod = client.run_pod("leftover", runtime_handler=HANDLER)
        client.run_container(pod, "sleeper")
        client.close()
        r = c.ctr("run", "-d", "--runtime", "io.containerd.runc.v2", "--rootfs",
                  test_image.rootfs, "detached", "/bin/sleep", "1000")
        assert r.returncode == 0, r.stderr
        assert len(c.shim_pids()) >= 2  # one for the pod, one for the ctr task
    finally:
        c.stop()
    assert c.shim_pids() == []
    assert mounts_under(c.dir) == []
    assert not c.dir.exists()
