"""ResizePty, Update and Connect as containerd sends them, on the shim's ttrpc socket."""
import os
import socket

import pytest

from harness.wait import wait_for
from shimutil import call, detached_task, ld, pb_fields, vi

pytestmark = pytest.mark.shim

OK, NOT_FOUND = 0, 5


def connect_to(sock_path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    s.settimeout(10)
    return s


def resize(s, stream, cid, width, height, exec_id=""):
    return call(s, stream, "ResizePty", ld(1, cid.encode()) + ld(2, exec_id.encode()) +
                vi(3, width) + vi(4, height), namespace=None)[0]


def test_resize_pty_changes_the_workloads_window(cri, containerd):
    """The workload (the pty's session leader) gets SIGWINCH and reads the new size."""
    pod = cri.run_pod("rpc-pty", runtime_handler="reaper-v2")
    cid = cri.run_container(pod, "tty", tty=True, stdin=True, command=["/bin/sh", "-c"], args=[
        "trap 'echo size $(stty size)' WINCH; echo ready; while :; do sleep 1 & wait $!; done"])
    cri.wait_log(pod, "tty", 1, timeout=10)
    with connect_to(containerd.shim_socket(cid, "k8s.io")) as s:
        assert resize(s, 1, cid, 123, 45) == OK
        assert wait_for(lambda: [t for _, t in cri.read_log(pod, "tty") if t.startswith("size")],
                        10, "the workload's size line", interval=0.1) == ["size 45 123"]
        assert resize(s, 3, "no-such-task", 80, 24) == NOT_FOUND


def test_resize_pty_without_a_terminal_is_accepted_and_does_nothing(containerd, test_image):
    with detached_task(containerd, test_image, "rpc-notty", "sleep", "1000"):
        with connect_to(containerd.shim_socket("rpc-notty")) as s:
            assert resize(s, 1, "rpc-notty", 100, 30) == OK  # as the runc shim: no pty, no-op


def test_update_is_accepted_for_a_task_and_not_found_otherwise(containerd, test_image):
    """Reaper enforces no resource limits: a known task's update is accepted and ignored."""
    resources = ld(1, b"types.containerd.io/opencontainers/runtime-spec/1/LinuxResources") + \
        ld(2, b'{"memory":{"limit":1048576}}')
    with detached_task(containerd, test_image, "rpc-update", "sleep", "1000") as pid:
        with connect_to(containerd.shim_socket("rpc-update")) as s:
            assert call(s, 1, "Update", ld(1, b"rpc-update") + ld(2, resources)) == (OK, b"")
            assert call(s, 3, "Update", ld(1, b"nope") + ld(2, resources))[0] == NOT_FOUND
        assert os.path.exists(f"/proc/{pid}"), "the update touched the workload"


def test_connect_returns_shim_and_task_pids(containerd, test_image):
    with detached_task(containerd, test_image, "rpc-connect", "sleep", "1000") as pid:
        with connect_to(containerd.shim_socket("rpc-connect")) as s:
            code, payload = call(s, 1, "Connect", ld(1, b"rpc-connect"))
            other_code, other = call(s, 3, "Connect", ld(1, b"nope"))
        shim = containerd.shim_pid_of("rpc-connect")
    fields = pb_fields(payload)
    assert code == OK and fields[1] == shim and fields[2] == pid
    assert fields[3].startswith(b"reaper-")
    assert other_code == OK and pb_fields(other).get(2, 0) == 0  # no such task: no task pid


def test_update_container_resources_through_cri_is_accepted(cri):
    """What kubelet sends for an in-place resize: accepted, and the workload keeps running."""
    pod = cri.run_pod("rpc-cri-update", runtime_handler="reaper-v2")
    cid = cri.run_container(pod, "main", command=["/bin/sleep", "1000"])
    cri.update_resources(cid, memory_limit_in_bytes=64 << 20, cpu_quota=50000)
    assert cri.container_status(cid).state == cri.pb.CONTAINER_RUNNING
