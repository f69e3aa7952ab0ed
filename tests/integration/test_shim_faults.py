"""Faults: a shim killed mid-run, containerd restarting, hostile bytes on the shim socket."""
import os
import pathlib
import signal
import socket
import uuid

import pytest

from harness.procs import Watched
from harness.wait import wait_for
from shimutil import (ctr_run_detached, detached_task, frame, read_frame, remove_task, request,
                      status_code, task_status)

pytestmark = pytest.mark.shim


def test_shim_killed_mid_run_is_cleaned_up(containerd, test_image):
    workload = Watched(ctr_run_detached(containerd, test_image, "victim", "sleep", "1000"))
    shim = containerd.shim_pid_of("victim")
    os.kill(shim, signal.SIGKILL)
    # containerd notices the dead connection and runs `containerd-shim-reaper-v2 delete`,
    # which kills the orphaned workload and removes its state.
    wait_for(workload.exited, what="workload killed by delete")
    root = containerd.dirs["reaper_root"]
    wait_for(lambda: not (root / "victim").exists(), what="state removed")
    wait_for(lambda: task_status(containerd, "victim") in (None, "STOPPED", "UNKNOWN"),
             what="task no longer running")
    remove_task(containerd, "victim")
    assert containerd.ctr("container", "ls", "-q").stdout.split().count("victim") == 0


def test_containerd_restart_keeps_workloads(containerd, test_image):
    workload = Watched(ctr_run_detached(containerd, test_image, "survivor", "sleep", "1000"))
    containerd.restart()
    # containerd reconnects through the bundle's address file; the workload kept running.
    assert task_status(containerd, "survivor") == "RUNNING"
    assert not workload.exited()
    r = containerd.ctr("task", "exec", "--exec-id", "after", "survivor", "echo", "still-here")
    assert (r.returncode, r.stdout) == (0, "still-here\n"), r.stderr
    containerd.ctr("task", "kill", "-s", "SIGKILL", "survivor", check=True)
    wait_for(lambda: task_status(containerd, "survivor") == "STOPPED", what="exit reported")
    remove_task(containerd, "survivor")


def _pids_with_arg(text):
    """Processes whose command line holds text (unique to the calling test)."""
    found = []
    for d in pathlib.Path("/proc").iterdir():
        try:
            if d.name.isdigit() and text.encode() in (d / "cmdline").read_bytes():
                found.append(int(d.name))
        except OSError:
            pass
    return found


def test_output_written_while_containerd_is_down_is_kept(cri, containerd, tmp_path):
    """A pod that writes and exits while containerd is down: containerd 1.6 re-attaches IO only
    to tasks it finds; the shim holds the unread output (and the exit) until it is back."""
    trigger = tmp_path / f"trigger-{uuid.uuid4().hex}"
    os.mkfifo(trigger)
    pod = cri.run_pod("while-down", runtime_handler="reaper-v2")
    cid = cri.run_container(
        pod, "main", mounts=[{"container_path": "/trigger", "host_path": str(tmp_path)}],
        command=["/bin/sh", "-c",
                 f"read x < /trigger/{trigger.name}; echo line-one; echo line-two >&2; exit 3"])
    assert cri.container_status(cid).state == cri.pb.CONTAINER_RUNNING
    # Started means released: the exec follows at once (later under a coverage build).
    pids = wait_for(lambda: _pids_with_arg(trigger.name), what="workload exec'd")
    assert len(pids) == 1, pids
    workload = Watched(pids[0])

    def release_and_wait():
        with open(trigger, "w") as f:  # the workload is blocked reading it
            f.write("go\n")
        wait_for(workload.exited, what="workload exit while containerd is down")

    containerd.restart(while_down=release_and_wait)
    st = cri.wait_exited(cid, timeout=20)
    assert st.exit_code == 3
    entries = cri.wait_log(pod, "main", 2)
    assert ("stdout", "line-one") in entries and ("stderr", "line-two") in entries, entries
    cri.stop_pod(pod)
    cri.remove_pod(pod)


def test_hostile_bytes_never_crash_the_shim(containerd, test_image):
    with detached_task(containerd, test_image, "target", "sleep", "1000"):
        sock_path = containerd.shim_socket("target")
        shim = Watched(containerd.shim_pid_of("target"))
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            s.settimeout(5)
            # Oversized frame: RESOURCE_EXHAUSTED (8), and the connection still works after it.
            s.sendall(frame(5 << 20, 1) + b"x" * (5 << 20))
            sid, _, body = read_frame(s)
            assert (sid, status_code(body)) == (1, 8)
            # Garbage payload: INVALID_ARGUMENT (3).
            s.sendall(frame(4, 3) + b"\xff\xff\xff\xff")
            assert status_code(read_frame(s)[2]) == 3
            # Unknown service and method: UNIMPLEMENTED (12).
            body = request("nope.Service", "X")
            s.sendall(frame(len(body), 5) + body)
            assert status_code(read_frame(s)[2]) == 12
            body = request("containerd.task.v2.Task", "Frobnicate")
            s.sendall(frame(len(body), 7) + body)
            assert status_code(read_frame(s)[2]) == 12
            # A real request with a payload that is not a valid message: INVALID_ARGUMENT.
            body = request("containerd.task.v2.Task", "State", b"\xff\xff")
            s.sendall(frame(len(body), 9) + body)
            assert status_code(read_frame(s)[2]) == 3
        with socket.socket(socket.AF_UNIX) as s:  # a truncated frame, then hang up
            s.connect(sock_path)
            s.sendall(frame(100, 1) + b"short")
        assert not shim.exited()
        assert task_status(containerd, "target") == "RUNNING"
