"""reaper-runtime lifecycle: run/create/start/kill/delete/state/list against real processes."""
import json
import os
import signal
import subprocess

import pytest

from harness.mounts import mounts_under
from runtime_env import RUNTIME, rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.runtime


@pytest.mark.parametrize("script,status", [("exit 0", 0), ("exit 42", 42), ("kill -9 $$", 137)])
def test_run_exit_status(rt, script, status):
    b = rt.bundle(["sh", "-c", script])
    p = rt.cli("run", "c1", "--bundle", b, check=False)
    assert p.returncode == status, p.stderr
    assert not (rt.root / "c1").exists()


def test_run_env_cwd_args(rt):
    b = rt.bundle(["sh", "-c", 'echo "$FOO|$(pwd)|$0|$1"', "zero", "one two"],
                  env=["PATH=/usr/bin:/bin", "FOO=bar baz"], cwd="/usr/share")
    p = rt.cli("run", "c1", "--bundle", b)
    assert p.stdout == "bar baz|/usr/share|zero|one two\n"


def test_create_blocks_until_start(rt):
    marker = rt.host / "ran"
    b = rt.bundle(["sh", "-c", f"touch {marker}; echo started"])
    rt.create("c1", b)
    st = rt.state("c1")
    assert st["status"] == "created"
    assert st["pid"] > 0
    assert st["id"] == "c1"
    assert os.path.exists(f"/proc/{st['pid']}")
    in_upper = rt.upper() / str(marker).lstrip("/")  # workload writes land in the overlay
    assert not in_upper.exists()
    assert rt.output("c1") == ""
    assert (rt.root / "c1" / "exec.fifo").exists()
    rt.cli("start", "c1")
    assert rt.wait_exit(st["pid"]) == 0
    assert in_upper.exists()
    assert not marker.exists()
    assert rt.output("c1") == "started\n"
    assert not (rt.root / "c1" / "exec.fifo").exists()
    assert rt.state("c1")["status"] == "stopped"
    # Starting twice is a clear error.
    p = rt.cli("start", "c1", check=False)
    assert p.returncode == 1
    assert "reaper-runtime: container c1 is stopped" in p.stderr
    rt.cli("delete", "c1")
    assert not (rt.root / "c1").exists()


def test_start_after_init_died(rt):
    b = rt.bundle(["sleep", "100"])
    rt.create("c1", b)
    pid = rt.state("c1")["pid"]
    os.kill(pid, signal.SIGKILL)
    rt.wait_exit(pid)
    p = rt.cli("start", "c1", check=False)
    assert p.returncode == 1
    assert "c1" in p.stderr


def start_with_child(rt, cid, extra=""):
    """A workload whose child also runs; returns (init pid, child pid). The child's pid comes
    through a FIFO: opening it blocks until the workload writes, no polling."""
    fifo = rt.shared / f"{cid}.child"
    os.mkfifo(fifo)
    b = rt.bundle(["sh", "-c", f"{extra} sleep 1000 & echo $! > {fifo}; wait"])
    rt.create(cid, b)
    pid = rt.state(cid)["pid"]
    rt.cli("start", cid)
    with open(fifo) as f:
        return pid, int(f.read())


def test_kill_signals_process_group(rt):
    pid, child = start_with_child(rt, "c1")
    assert rt.state("c1")["status"] == "running"
    rt.cli("kill", "c1", "KILL")
    assert rt.wait_exit(pid) == 137
    assert rt.wait_exit(child) == 137  # reparented to us (subreaper) once sh died
    # kill on an exited process succeeds.
    rt.cli("kill", "c1", "TERM")
    rt.cli("kill", "c1", "9", "--all")
    assert rt.state("c1")["status"] == "stopped"


def test_kill_all_reaches_setsid_child(rt):
    pid, child = start_with_child(rt, "c1", extra="setsid")
    rt.cli("kill", "--all", "c1", "SIGKILL")
    assert rt.wait_exit(pid) == 137
    assert rt.wait_exit(child) == 137


def test_delete_running_needs_force_and_cleans_up(rt):
    mine = (rt.tmp, rt.host, rt.shared)  # the runtime's root and overlay base are in rt.tmp
    before = set(mounts_under(*mine))
    pid, child = start_with_child(rt, "c1")
    p = rt.cli("delete", "c1", check=False)
    assert p.returncode == 1
    assert "container c1 is running; use --force" in p.stderr
    rt.cli("delete", "c1", "--force")
    assert not (rt.root / "c1").exists()
    # delete returned after the init exited: it is a zombie waiting for us (the subreaper).
    assert os.waitpid(pid, os.WNOHANG)[0] == pid
    assert rt.wait_exit(child) == 137
    new = set(mounts_under(*mine)) - before
    # Left: the root's own shared mount and the overlay's pin (both by design).
    assert all(m == str(rt.root) or m.startswith(str(rt.root / "ns")) for m in new), new
    # Missing containers: an error without --force, success with it.
    assert rt.cli("delete", "c1", check=False).returncode == 1
    rt.cli("delete", "c1", "--force")


def test_state_and_list_json(rt):
    b = rt.bundle(["sleep", "1000"], annotations={"x.example/k": "v"})
    rt.create("c1", b)
    rt.create("c2", rt.bundle(["true"]))
    st = rt.state("c1")
    assert st["ociVersion"]
    assert st["bundle"] == str(b)
    assert st["annotations"]["x.example/k"] == "v"
    lst = json.loads(rt.cli("list", "--format", "json").stdout)
    assert sorted(e["id"] for e in lst) == ["c1", "c2"]
    assert {e["status"] for e in lst} == {"created"}
    assert all(e["pid"] > 0 and e["bundle"] for e in lst)
    table = rt.cli("list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
    assert len(table) == 3
    assert rt.cli("state", "nope", check=False).returncode == 1


def test_run_forwards_sigterm(rt):
    b = rt.bundle(["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; "
                   "while :; do sleep 0.05; done"])
    p = subprocess.Popen([str(RUNTIME), "run", "c1", "--bundle", str(b)], env=rt.env, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    assert out == "got-term\n"
    assert p.returncode == 7
    assert not (rt.root / "c1").exists()


def test_usage_errors(rt):
    assert rt.cli("create", "c1", check=False).returncode == 2
    assert rt.cli("frobnicate", check=False).returncode == 2
    p = rt.cli("kill", "c1", "NOPE", check=False)
    assert p.returncode == 2 and "NOPE" in p.stderr
    p = rt.cli("delete", "--bogus", "c1", check=False)
    assert p.returncode == 2 and "--bogus" in p.stderr
