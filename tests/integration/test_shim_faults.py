"""Faults: a shim killed mid-run, containerd restarting, hostile bytes on the shim socket."""
import os
import pathlib
import signal
import socket

import pytest

from shimutil import (ctr_run_detached, frame, proc_state, read_frame, remove_task, request,
                      status_code, task_status, wait_for)

pytestmark = pytest.mark.shim


def bundle_dir(containerd, cid, ns="default"):
    return containerd.dirs["state"] / "io.containerd.runtime.v2.task" / ns / cid


def shim_socket(containerd, cid, ns="default"):
    addr = (bundle_dir(containerd, cid, ns) / "address").read_text().strip()
    assert addr.startswith("unix://")
    return addr[len("unix://"):]


def shim_pid_of(containerd, cid):
    out = containerd.ctr("task", "ls").stdout  # Connect reports the shim pid only to containerd:
    sock = shim_socket(containerd, cid)        # find the process listening on the socket instead
    for pid in containerd.shim_pids():
        if b"reaper" in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():
            fds = pathlib.Path(f"/proc/{pid}/fd")
            inodes = {os.readlink(fds / f) for f in os.listdir(fds)}
            with open("/proc/net/unix") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 8 and parts[7] == sock and f"socket:[{parts[6]}]" in inodes:
                        return pid
    raise AssertionError(f"no shim serves {sock}:\n{out}")


def test_shim_killed_mid_run_is_cleaned_up(containerd, test_image):
    pid = ctr_run_detached(containerd, test_image, "victim", "sleep", "1000")
    shim = shim_pid_of(containerd, "victim")
    os.kill(shim, signal.SIGKILL)
    # containerd notices the dead connection and runs `containerd-shim-reaper-v2 delete`,
    # which kills the orphaned workload and removes its state.
    wait_for(lambda: proc_state(pid) in (None, "Z"), what="workload killed by delete")
    root = containerd.dirs["reaper_root"]
    wait_for(lambda: not (root / "victim").exists(), what="state removed")
    wait_for(lambda: task_status(containerd, "victim") in (None, "STOPPED", "UNKNOWN"),
             what="task no longer running")
    remove_task(containerd, "victim")
    assert containerd.ctr("container", "ls", "-q").stdout.split().count("victim") == 0


def test_containerd_restart_keeps_workloads(containerd, test_image):
    pid = ctr_run_detached(containerd, test_image, "survivor", "sleep", "1000")
    containerd.restart()
    # containerd reconnects through the bundle's address file; the workload kept running.
    assert task_status(containerd, "survivor") == "RUNNING"
    assert proc_state(pid) in ("S", "R")
    r = containerd.ctr("task", "exec", "--exec-id", "after", "survivor", "echo", "still-here")
    assert (r.returncode, r.stdout) == (0, "still-here\n"), r.stderr
    containerd.ctr("task", "kill", "-s", "SIGKILL", "survivor", check=True)
    wait_for(lambda: task_status(containerd, "survivor") == "STOPPED", what="exit reported")
    remove_task(containerd, "survivor")


def test_hostile_bytes_never_crash_the_shim(containerd, test_image):
    ctr_run_detached(containerd, test_image, "target", "sleep", "1000")
    sock_path = shim_socket(containerd, "target")
    shim = shim_pid_of(containerd, "target")
    try:
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
        assert proc_state(shim) in ("S", "R")
        assert task_status(containerd, "target") == "RUNNING"
    finally:
        remove_task(containerd, "target")
