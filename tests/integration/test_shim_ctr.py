"""containerd-shim-reaper-v2 driven by `ctr` on a private containerd 1.6."""
import hashlib
import random
import signal
import subprocess

import pytest

from harness.procs import Watched, proc_state
from harness.wait import wait_for
from shimutil import (REAPER, ctr_cmd, ctr_run, ctr_run_detached, detached_task, remove_task,
                      task_status)

pytestmark = pytest.mark.shim


def test_run_echo(containerd, test_image):
    r = ctr_run(containerd, test_image, "echo1", "/bin/echo", "hello", "reaper")
    assert (r.returncode, r.stdout) == (0, "hello reaper\n"), r.stderr


def test_exit_codes(containerd, test_image):
    assert ctr_run(containerd, test_image, "exit42", "sh", "-c", "exit 42").returncode == 42
    r = ctr_run(containerd, test_image, "sig9", "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r.stderr


def test_runs_on_host_not_in_image(containerd, test_image):
    # The image is busybox; Reaper runs the host's programs: /etc/debian_version exists here.
    r = ctr_run(containerd, test_image, "hostfs", "cat", "/etc/debian_version")
    assert r.returncode == 0 and r.stdout.strip()[0].isdigit(), (r.stdout, r.stderr)


def test_kill_running_task(containerd, test_image):
    argv = ctr_cmd(containerd, "run", "--rm", "--runtime", REAPER, "--rootfs", test_image.rootfs,
                   "killme", "sleep", "1000")
    p = subprocess.Popen(argv, env=containerd.env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: task_status(containerd, "killme") == "RUNNING", what="task running")
        containerd.ctr("task", "kill", "-s", "SIGTERM", "killme", check=True)
        assert p.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        p.kill()
        remove_task(containerd, "killme")


def test_exec_and_exit_code(containerd, test_image):
    with detached_task(containerd, test_image, "execbox", "sleep", "1000"):
        r = containerd.ctr("task", "exec", "--exec-id", "e1", "execbox", "sh", "-c",
                           "echo from-exec; echo err >&2; exit 7")
        assert (r.returncode, r.stdout, r.stderr.strip()) == (7, "from-exec\n", "err")


def test_exec_tty(containerd, test_image):
    with detached_task(containerd, test_image, "ttybox", "sleep", "1000"):
        inner = " ".join(ctr_cmd(containerd, "task", "exec", "-t", "--exec-id", "t1", "ttybox",
                                 "tty"))
        # ctr -t needs a terminal of its own: script(1) provides one.
        r = subprocess.run(["script", "-qec", inner, "/dev/null"], capture_output=True,
                           text=True, env=containerd.env(), timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "/dev/pts/" in r.stdout


def test_pause_resume_stops_process_tree(containerd, test_image):
    with detached_task(containerd, test_image, "pausebox", "sh", "-c",
                       "sleep 1000 & wait") as pid:
        containerd.ctr("task", "pause", "pausebox", check=True)
        assert task_status(containerd, "pausebox") == "PAUSED"
        assert proc_state(pid) == "T"
        containerd.ctr("task", "resume", "pausebox", check=True)
        assert task_status(containerd, "pausebox") == "RUNNING"
        assert proc_state(pid) in ("S", "R")


def test_pids_lists_the_tree(containerd, test_image):
    with detached_task(containerd, test_image, "psbox", "sh", "-c",
                       "sleep 1000 & sleep 1001 & wait") as pid:
        wait_for(lambda: len(containerd.ctr("task", "ps", "psbox").stdout.split("\n")) >= 5,
                 what="children started")
        out = containerd.ctr("task", "ps", "psbox", check=True).stdout
        pids = {int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()}
        assert pid in pids and len(pids) >= 3, out


def test_fast_true_100_times(containerd, test_image):
    for i in range(100):
        r = ctr_run(containerd, test_image, f"true{i}", "/bin/true", timeout=20)
        assert r.returncode == 0, (i, r.stderr)


def test_large_output_is_byte_exact(containerd, test_image, tmp_path):
    data = random.Random(7).randbytes(50 * 1024 * 1024 + 123)
    src = tmp_path / "big.bin"
    src.write_bytes(data)  # the host root is the overlay's lower layer: the workload sees it
    r = ctr_run(containerd, test_image, "bigout", "cat", src, binary=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == len(data)
    assert hashlib.sha256(r.stdout).digest() == hashlib.sha256(data).digest()


def test_stdin_roundtrip(containerd, test_image):
    argv = ctr_cmd(containerd, "run", "--rm", "--runtime", REAPER, "--rootfs",
                   test_image.rootfs, "stdinbox", "sh", "-c", "tr a-z A-Z")
    r = subprocess.run(argv, input="hello stdin\n", capture_output=True, text=True,
                       env=containerd.env(), timeout=30)
    assert (r.returncode, r.stdout) == (0, "HELLO STDIN\n"), r.stderr


def test_no_shim_left_after_runs(containerd, test_image):
    before = set(containerd.reaper_shim_pids())
    ctr_run_detached(containerd, test_image, "last", "sleep", "1000")
    shims = [Watched(p) for p in set(containerd.reaper_shim_pids()) - before]
    assert len(shims) == 1, shims  # the one this task started
    remove_task(containerd, "last")
    wait_for(lambda: all(s.exited() for s in shims),
             what="the task's shim gone")


def test_events_reach_containerd_in_order(containerd, test_image):
    ev = subprocess.Popen(ctr_cmd(containerd, "events"), stdout=subprocess.PIPE, text=True,
                          env=containerd.env())
    try:
        ctr_run_detached(containerd, test_image, "evbox", "sleep", "1000")
        containerd.ctr("task", "exec", "--exec-id", "ev-exec", "evbox", "true", check=True)
        containerd.ctr("task", "pause", "evbox", check=True)
        containerd.ctr("task", "resume", "evbox", check=True)
        remove_task(containerd, "evbox")
        wait_for(lambda: task_status(containerd, "evbox") is None, what="task removed")
    finally:
        ev.terminate()
    out = ev.communicate(timeout=10)[0]
    # lines: <date> <time> <zone> UTC <namespace> <topic> <json>
    topics = [ln.split()[5] for ln in out.splitlines()
              if "evbox" in ln and len(ln.split()) > 5 and ln.split()[5].startswith("/tasks/")]
    expected = ["/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
                "/tasks/exit", "/tasks/paused", "/tasks/resumed", "/tasks/exit",
                "/tasks/delete"]
    assert topics == expected, out
