"""reaper-runtime checkpoint/restore with CRIU: a counter keeps counting across a checkpoint and a
restore (stdout and a file in the overlay's upper layer, no gap, no repeat), and failures leave
nothing behind. Tests that run CRIU take the `criu` fixture (criu_env.py): without a CRIU that
works on this kernel they skip with CRIU's own reason."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import uuid

import pytest

from criu_env import criu  # noqa: F401  (fixture)
from harness.mounts import mounts_under
from runtime_env import RUNTIME, rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.runtime

# One number per ~50 ms, to stdout and to a file in the overlay; $0 names the file.
COUNTER = 'i=0; while :; do i=$((i+1)); echo $i; echo $i >> /tmp/counter-$0; sleep 0.05; done'


class Lines:
    """Lines read from a pipe by a thread; wait() blocks until a condition on them holds."""

    def __init__(self, fd):
        self.f = os.fdopen(fd, "r")
        self.lines = []
        self.eof = False
        self.cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for line in self.f:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait(self, pred, timeout=30):
        with self.cond:
            ok = self.cond.wait_for(lambda: pred(self), timeout)
            assert ok, f"timed out; last lines {self.lines[-5:]}, eof={self.eof}"

    def ints(self):
        with self.cond:
            return [int(x) for x in self.lines]


class Counter:
    def __init__(self, rt, cid):
        self.marker = uuid.uuid4().hex[:12]
        self.bundle = rt.bundle(["sh", "-c", COUNTER, self.marker])
        r, w = os.pipe()
        try:
            rt.cli("create", cid, "--bundle", self.bundle, stdout=w, stderr=w,
                   capture_output=False)
        finally:
            os.close(w)
        self.pid = rt.state(cid)["pid"]
        rt.cli("start", cid)
        self.out = Lines(r)
        self.out.wait(lambda o: len(o.lines) >= 5)

    def upper_file(self, rt):
        return rt.upper() / "tmp" / f"counter-{self.marker}"

    def pids(self):
        """Processes running this counter's script (its sleep children not counted)."""
        found = set()
        for p in pathlib.Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if self.marker.encode() in (p / "cmdline").read_bytes():
                        found.add(int(p.name))
                except OSError:
                    pass
        return found


def consecutive(xs, first=1):
    assert xs == list(range(first, first + len(xs))), f"not consecutive from {first}: {xs}"


def restore(rt, cid, img, bundle, *extra, check=True):
    """`restore --detach` with a new pipe as the workload's output; returns (result, Lines)."""
    r, w = os.pipe()
    try:
        p = rt.cli("restore", "--image-path", img, "--bundle", bundle, "--detach", *extra, cid,
                   stdout=w, stderr=subprocess.PIPE, capture_output=False, check=check)
    finally:
        os.close(w)
    return p, Lines(r)


def session_children(sid):
    """Our children (zombies orphaned to us, the subreaper) still in session sid."""
    found = []
    for p in pathlib.Path("/proc").iterdir():
        try:
            fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and int(fields[3]) == sid:
            found.append(int(p.name))
    return found


def reap_dumped(rt, img):
    """Wait for every process of the dumped tree and its session to be gone (reaped by us,
    their subreaper): CRIU restores the same pids, groups and session. Returns the init's exit
    status."""
    meta = json.loads((img / "reaper-checkpoint.json").read_text())
    status = rt.wait_exit(meta["pid"])
    for pid in session_children(meta["pid"]):
        os.waitpid(pid, 0)
    return status


def nothing_left(rt, cid):
    assert not (rt.root / cid).exists()
    assert not (rt.root / "restore").exists()
    assert mounts_under(rt.root / "restore") == []


def test_checkpoint_restore_continues(rt, criu):
    rt.env["REAPER_CRIU"] = criu
    c = Counter(rt, "c1")
    img = rt.host / "img"
    rt.cli("checkpoint", "--image-path", img, "c1")
    assert reap_dumped(rt, img) == 137  # the dump killed it
    c.out.wait(lambda o: o.eof)
    meta = json.loads((img / "reaper-checkpoint.json").read_text())
    assert meta["id"] == "c1" and meta["pid"] == c.pid and meta["namespace"] == "default"
    assert meta["stdio"][1].startswith("pipe:[") and meta["stdio"][2] == meta["stdio"][1]
    assert not meta["terminal"] and meta["criu"]["path"] == criu
    rt.cli("delete", "c1")

    p, new = restore(rt, "c2", img, c.bundle)
    assert p.stderr == ""
    st = rt.state("c2")
    assert st["status"] == "running" and st["pid"] == c.pid  # CRIU restores the same pid
    new.wait(lambda o: len(o.lines) >= 10)
    before = c.out.ints()
    consecutive(before + new.ints())
    assert mounts_under(rt.root / "restore") == [] and not (rt.root / "restore").exists()

    rt.cli("kill", "c2", "KILL")
    assert rt.wait_exit(c.pid) == 137
    new.wait(lambda o: o.eof)
    assert rt.state("c2")["status"] == "stopped"
    after = new.ints()
    consecutive(before + after)
    in_file = [int(x) for x in c.upper_file(rt).read_text().split()]
    consecutive(in_file)  # the upper layer the restored process wrote is the same one
    assert len(in_file) >= after[-1] - 1  # it writes the file just after stdout
    rt.cli("delete", "c2")
    nothing_left(rt, "c2")


def test_leave_running_then_restore_in_foreground(rt, criu):
    rt.env["REAPER_CRIU"] = criu
    c = Counter(rt, "c1")
    img = rt.host / "img"
    rt.cli("checkpoint", "--image-path", img, "--leave-running", "c1")
    assert rt.state("c1")["status"] == "running"
    at_checkpoint = len(c.out.lines)
    c.out.wait(lambda o: len(o.lines) >= at_checkpoint + 3)  # it kept counting
    assert json.loads((img / "reaper-checkpoint.json").read_text())["options"]["leave_running"]
    rt.cli("kill", "c1", "KILL")
    assert reap_dumped(rt, img) == 137
    c.out.wait(lambda o: o.eof)
    rt.cli("delete", "c1")

    r, w = os.pipe()
    try:
        proc = subprocess.Popen([str(RUNTIME), "restore", "--image-path", str(img), "--bundle",
                                 str(c.bundle), "c2"],
                                env=rt.env, stdout=w, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(w)
    new = Lines(r)
    new.wait(lambda o: len(o.lines) >= 5 or o.eof)
    assert len(new.lines) >= 5, proc.communicate(timeout=30)
    old, restored = c.out.ints(), new.ints()
    consecutive(old)
    k = restored[0] - 1  # the restored process resumes where the checkpoint was taken
    assert k in old and max(old) > k, (k, old[-3:])
    consecutive(restored, k + 1)
    rt.cli("kill", "c2", "TERM")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err
    nothing_left(rt, "c2")


def test_restore_while_pid_in_use_fails_clean(rt, criu):
    rt.env["REAPER_CRIU"] = criu
    c = Counter(rt, "c1")
    img = rt.host / "img"
    rt.cli("checkpoint", "--image-path", img, "--leave-running", "c1")
    p, _ = restore(rt, "c2", img, c.bundle, check=False)
    assert p.returncode == 1
    assert f"pid {c.pid} is in use" in p.stderr
    assert "checkpointed workload still running" in p.stderr
    nothing_left(rt, "c2")
    assert c.pids() == {c.pid}  # no second counter
    assert rt.state("c1")["status"] == "running"


def test_failed_dump_keeps_workload_running(rt, criu):
    """A stream unix socket to a peer outside the tree cannot be dumped (without
    --ext-unix-sk): CRIU fails, the workload keeps running, the error says what CRIU said."""
    rt.env["REAPER_CRIU"] = criu
    sock_path = rt.shared / "peer.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    script = ("import socket, sys, time\n"
              "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
              f"s.connect({str(sock_path)!r})\n"
              "i = 0\n"
              "while True:\n"
              "    i += 1\n"
              "    print(i, flush=True)\n"
              "    time.sleep(0.05)\n")
    b = rt.bundle(["python3", "-c", script])
    r, w = os.pipe()
    try:
        rt.cli("create", "c1", "--bundle", b, stdout=w, stderr=w, capture_output=False)
    finally:
        os.close(w)
    rt.cli("start", "c1")
    conn, _ = server.accept()
    out = Lines(r)
    out.wait(lambda o: len(o.lines) >= 3)
    img = rt.host / "img"
    p = rt.cli("checkpoint", "--image-path", img, "c1", check=False)
    assert p.returncode == 1
    assert "criu " in p.stderr and f"({criu}) failed" in p.stderr, p.stderr
    log = (img / "dump.log").read_text()  # kept for the details
    cause = p.stderr.split(" failed (")[1].split("): ", 1)[1].rsplit(" (log: ", 1)[0]
    for line in cause.split("; "):
        assert line in log, (line, p.stderr)
    assert "unix" in cause.lower(), p.stderr
    assert rt.state("c1")["status"] == "running"
    n = len(out.lines)
    out.wait(lambda o: len(o.lines) >= n + 3)  # still counting
    assert sorted(x.name for x in img.iterdir()) == ["dump.log"]  # no partial image
    conn.close()
    server.close()


def test_restore_missing_image_fails_clean(rt):
    b = rt.bundle(["true"])
    missing = rt.host / "no-such-image"
    p, _ = restore(rt, "c2", missing, b, check=False)
    assert p.returncode == 1
    assert str(missing) in p.stderr and "No such file or directory" in p.stderr, p.stderr
    nothing_left(rt, "c2")


def test_restore_image_without_metadata_fails_clean(rt):
    b = rt.bundle(["true"])
    img = rt.host / "img"
    img.mkdir()
    (img / "inventory.img").write_bytes(b"not really")
    p, _ = restore(rt, "c2", img, b, check=False)
    assert p.returncode == 1
    assert "no reaper-checkpoint.json" in p.stderr, p.stderr
    nothing_left(rt, "c2")


def fake_image(rt):
    """An image directory that passes validation (metadata + inventory), for create only."""
    img = rt.host / "img"
    img.mkdir()
    (img / "reaper-checkpoint.json").write_text(json.dumps(
        {"version": 1, "id": "old", "pid": 999999, "namespace": "default"}))
    (img / "inventory.img").write_bytes(b"x")
    return img


def test_create_with_restore_from_has_no_process(rt):
    img = fake_image(rt)
    b = rt.bundle(["sh", "-c", "exit 3"], env=["PATH=/usr/bin:/bin", f"RESTORE_FROM={img}"])
    rt.create("c1", b)
    st = rt.state("c1")
    assert st["status"] == "created" and st["pid"] == 0
    assert json.loads((rt.root / "c1" / "state.json").read_text())["restore_from"] == str(img)
    p = rt.cli("start", "c1", check=False)
    assert p.returncode == 1
    assert "restore" in p.stderr and str(img) in p.stderr, p.stderr
    rt.cli("delete", "c1")
    assert not (rt.root / "c1").exists()


@pytest.mark.parametrize("how,want", [
    ("env-relative", 'RESTORE_FROM="img"'),
    ("annotation-empty", "annotation reaper.runtime/restore-from"),
    ("annotation-missing", "No such file or directory"),
])
def test_create_with_bad_restore_source_fails(rt, how, want):
    env, ann = ["PATH=/usr/bin:/bin"], {}
    if how == "env-relative":
        env.append("RESTORE_FROM=img")
    elif how == "annotation-empty":
        ann["reaper.runtime/restore-from"] = ""
    else:
        ann["reaper.runtime/restore-from"] = str(rt.host / "gone")
    b = rt.bundle(["true"], env=env, annotations=ann)
    p = rt.create("c1", b, check=False)
    assert p.returncode == 1
    assert want in rt.output("c1"), rt.output("c1")
    assert not (rt.root / "c1").exists()
