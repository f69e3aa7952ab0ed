"""reaper-runtime checkpoint/restore with CRIU: a counter keeps counting across a checkpoint and a
restore (stdout and a file in the overlay's upper layer, no gap, no repeat), and failures leave
nothing behind. Tests that run CRIU take the `criu` fixture (criu_env.py): without a CRIU that
works on this kernel they skip with CRIU's own reason."""
import json
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
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
    def __init__(self, rt, cid, script=COUNTER, **bundle):
        self.marker = uuid.uuid4().hex[:12]
        self.bundle = rt.bundle(["sh", "-c", script, self.marker], **bundle)
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


def checkpointed_counter(rt, criu, *flags, **counter):
    """A counter c1, checkpointed into <host>/img with flags."""
    rt.env["REAPER_CRIU"] = criu
    c = Counter(rt, "c1", **counter)
    img = rt.host / "img"
    rt.cli("checkpoint", "--image-path", img, *flags, "c1")
    return c, img


def test_checkpoint_restore_continues(rt, criu):
    c, img = checkpointed_counter(rt, criu)
    assert reap_dumped(rt, img) == 137  # the dump killed it
    c.out.wait(lambda o: o.eof)
    meta = json.loads((img / "reaper-checkpoint.json").read_text())
    assert meta["id"] == "c1" and meta["pid"] == c.pid and meta["namespace"] == "default"
    assert meta["stdio"][1].startswith("pipe:[") and meta["stdio"][2] == meta["stdio"][1]
    assert not meta["terminal"] and meta["criu"]["path"] == criu
    version = subprocess.run([criu, "--version"], capture_output=True, text=True).stdout
    assert f"Version: {meta['criu']['version']}\n" in version
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


def test_restore_into_a_new_overlay_namespace(rt, criu):
    """As on another node with the image copied: the overlay namespace is not pinned any more
    (only its upper layer is left); restore creates it again and the counter continues."""
    c, img = checkpointed_counter(rt, criu)
    assert reap_dumped(rt, img) == 137
    c.out.wait(lambda o: o.eof)
    rt.cli("delete", "c1")
    pin = rt.root / "ns" / "default"
    subprocess.run(["umount", str(pin)], check=True)
    pin.unlink()
    copy = rt.host / "copied-img"
    shutil.copytree(img, copy)
    shutil.rmtree(img)
    _, new = restore(rt, "c2", copy, c.bundle)
    new.wait(lambda o: len(o.lines) >= 5)
    consecutive(c.out.ints() + new.ints())
    assert pin.exists()  # pinned again, by the restore
    rt.cli("kill", "c2", "KILL")
    assert rt.wait_exit(c.pid) == 137
    new.wait(lambda o: o.eof)
    consecutive([int(x) for x in c.upper_file(rt).read_text().split()])
    rt.cli("delete", "c2")
    nothing_left(rt, "c2")


def volume_counter(rt, criu, vol):
    """A counter writing /data/counter on a volume bound from vol, checkpointed (killed) and
    deleted."""
    vol.mkdir()
    mounts = [{"destination": "/data", "type": "bind", "source": str(vol),
               "options": ["rbind", "rw"]}]
    c, img = checkpointed_counter(rt, criu, script=COUNTER.replace("/tmp/counter-$0",
                                                                   "/data/counter"),
                                  mounts=mounts)
    assert reap_dumped(rt, img) == 137
    c.out.wait(lambda o: o.eof)
    rt.cli("delete", "c1")
    meta = json.loads((img / "reaper-checkpoint.json").read_text())
    assert meta["external_mounts"] == ["/data"]
    return c, img, mounts


def restored_volume_counter_continues(rt, c, img, bundle, vol):
    """Restore c2 from img with bundle and kill it: the counter went on without a gap or repeat
    on stdout and in vol/counter (the restored process wrote on into vol)."""
    _, new = restore(rt, "c2", img, bundle)
    new.wait(lambda o: len(o.lines) >= 5)
    rt.cli("kill", "c2", "KILL")
    assert rt.wait_exit(c.pid) == 137
    new.wait(lambda o: o.eof)
    after = c.out.ints() + new.ints()
    consecutive(after)
    in_volume = [int(x) for x in (vol / "counter").read_text().split()]
    consecutive(in_volume)
    assert len(in_volume) >= after[-1] - 1
    rt.cli("delete", "c2")
    nothing_left(rt, "c2")


def test_volume_survives_restore(rt, criu):
    """A bind-mounted volume is bound back from the host: the restored process keeps writing
    into the same host directory."""
    vol = rt.host / "vol"
    c, img, _ = volume_counter(rt, criu, vol)
    restored_volume_counter_continues(rt, c, img, c.bundle, vol)


def test_restore_binds_volumes_from_the_new_bundle(rt, criu):
    """As in a new pod (or on another node): the checkpointed container's volume directory is
    gone, its contents copied elsewhere; the restore binds /data from the source the NEW
    bundle gives, and the counter continues there."""
    old = rt.host / "vol"
    c, img, mounts = volume_counter(rt, criu, old)
    moved = rt.host / "moved-vol"
    shutil.copytree(old, moved)
    shutil.rmtree(old)
    bundle = rt.bundle(["sh", "-c", "echo fresh start"], mounts=[{**mounts[0],
                                                                 "source": str(moved)}])
    restored_volume_counter_continues(rt, c, img, bundle, moved)
    assert not old.exists()


def test_restore_without_a_checkpointed_mount_fails_clean(rt, criu):
    """The new bundle has no mount on a destination the checkpoint had one on: the restore
    fails naming it, before CRIU runs, and leaves nothing."""
    c, img, _ = volume_counter(rt, criu, rt.host / "vol")
    bundle = rt.bundle(["sh", "-c", "echo fresh start"])
    p, out = restore(rt, "c2", img, bundle, check=False)
    assert p.returncode == 1
    assert "bind mount on /data" in p.stderr and f"{bundle}" in p.stderr, p.stderr
    assert not (img / "restore.log").exists()  # CRIU never ran
    out.wait(lambda o: o.eof)
    assert out.lines == []  # never started fresh
    nothing_left(rt, "c2")
    assert c.pids() == set()


def test_leave_running_then_restore_in_foreground(rt, criu):
    c, img = checkpointed_counter(rt, criu, "--leave-running")
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
    c, img = checkpointed_counter(rt, criu, "--leave-running")
    p, _ = restore(rt, "c2", img, c.bundle, check=False)
    assert p.returncode == 1
    assert f"pid {c.pid} is in use" in p.stderr
    assert "checkpointed workload still running" in p.stderr
    nothing_left(rt, "c2")
    assert c.pids() == {c.pid}  # no second counter
    assert rt.state("c1")["status"] == "running"


def test_failed_restore_leaves_nothing(rt, criu):
    """CRIU fails after it forked the tree (a file the workload had open on a volume is gone):
    no process, no mount, no state; the error carries CRIU's lines."""
    vol = rt.host / "vol"
    vol.mkdir()
    (vol / "keep").write_text("x")
    mounts = [{"destination": "/data", "type": "bind", "source": str(vol),
               "options": ["rbind", "rw"]}]
    c, img = checkpointed_counter(rt, criu, script="exec 3</data/keep; " + COUNTER,
                                  mounts=mounts)
    assert reap_dumped(rt, img) == 137
    rt.cli("delete", "c1")
    (vol / "keep").unlink()
    p, _ = restore(rt, "c2", img, c.bundle, check=False)
    assert p.returncode == 1
    assert f"({criu}) failed" in p.stderr and "restore.log" in p.stderr, p.stderr
    cause = p.stderr.split(" failed (")[1].split("): ", 1)[1].rsplit(" (log: ", 1)[0]
    log = (img / "restore.log").read_text()
    for line in cause.split("; "):
        assert line in log, (line, p.stderr)
    assert "keep" in cause, p.stderr
    nothing_left(rt, "c2")
    assert c.pids() == set()


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


def test_checkpoint_refusals(rt, criu):
    rt.env["REAPER_CRIU"] = criu
    b = rt.bundle(["sleep", "100"])
    rt.create("c1", b)  # created, not started: nothing runs the workload yet
    p = rt.cli("checkpoint", "--image-path", rt.host / "img", "c1", check=False)
    assert p.returncode == 1
    assert "container c1 is created, not running: cannot checkpoint it" in p.stderr, p.stderr
    rt.cli("start", "c1")
    held = rt.host / "held"
    held.mkdir()
    (held / "reaper-checkpoint.json").write_text("{}")
    p = rt.cli("checkpoint", "--image-path", held, "c1", check=False)
    assert p.returncode == 1
    assert f"{held} already holds a checkpoint" in p.stderr, p.stderr
    assert (held / "reaper-checkpoint.json").read_text() == "{}"
    p = rt.cli("checkpoint", "--image-path", "relative", "c1", check=False)
    assert p.returncode == 1 and "not an absolute path" in p.stderr, p.stderr
    assert rt.state("c1")["status"] == "running"


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


def test_restore_annotation_ignored_when_annotations_disabled(rt):
    """REAPER_ANNOTATIONS_ENABLED=false: reaper.runtime/restore-from is ignored like every
    reaper.runtime/ annotation; the container starts fresh."""
    img = fake_image(rt)
    rt.env["REAPER_ANNOTATIONS_ENABLED"] = "false"
    b = rt.bundle(["sh", "-c", "exit 3"], annotations={"reaper.runtime/restore-from": str(img)})
    rt.create("c1", b)
    assert rt.state("c1")["pid"] > 0
    assert "restore_from" not in json.loads((rt.root / "c1" / "state.json").read_text())
    rt.cli("start", "c1")
    rt.cli("delete", "--force", "c1")
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


HANGING_CRIU = """#!/bin/sh
# A criu that logs a little, forks, and hangs (like a restore stuck on a truncated image).
while [ $# -gt 0 ]; do [ "$1" = -W ] && work=$2; shift; done
printf '(00.000001) Version: 9.9\\n(00.000002) about to hang on purpose\\n' > "$work/dump.log"
sleep 1000 &
echo $$ $! > {pids}
wait
"""


def test_hung_criu_times_out(rt):
    """REAPER_CRIU_TIMEOUT: a criu that never finishes is killed with what it forked; the
    checkpoint fails in bounded time naming the timeout and CRIU's last log lines, and the
    workload keeps running."""
    pids = rt.host / "fake-criu.pids"
    fake = rt.tmp / "hanging-criu"
    fake.write_text(HANGING_CRIU.replace("{pids}", str(pids)))
    fake.chmod(0o755)
    rt.env["REAPER_CRIU"] = str(fake)
    rt.env["REAPER_CRIU_TIMEOUT"] = "1"
    c = Counter(rt, "c1")
    img = rt.host / "img"
    start = time.monotonic()
    p = rt.cli("checkpoint", "--image-path", img, "c1", check=False, timeout=30)
    took = time.monotonic() - start
    assert p.returncode == 1, p.stderr
    assert 1 <= took < 15, took
    assert f"criu 9.9 ({fake}) did not finish within 1s (REAPER_CRIU_TIMEOUT)" in p.stderr, \
        p.stderr
    assert "about to hang on purpose" in p.stderr, p.stderr
    criu_pid, sleep_pid = map(int, pids.read_text().split())
    assert not pathlib.Path(f"/proc/{criu_pid}").exists(), "criu was not reaped"
    fd = os.pidfd_open(sleep_pid)  # orphaned to us, the subreaper: dead once readable
    try:
        assert select.select([fd], [], [], 10)[0], "criu's child was not killed"
    finally:
        os.close(fd)
    os.waitpid(sleep_pid, 0)
    assert rt.state("c1")["status"] == "running"
    n = len(c.out.lines)
    c.out.wait(lambda o: len(o.lines) >= n + 3)  # still counting
    consecutive(c.out.ints())
    assert not (img / "reaper-checkpoint.json").exists()
    rt.cli("kill", "c1", "KILL")
    rt.wait_exit(c.pid)


def test_restore_hung_on_truncated_pages_times_out(rt, criu):
    """A truncated pages image makes `criu restore` hang reading it: REAPER_CRIU_TIMEOUT ends
    it, the half-restored tree goes with it, and nothing is left (process, mount, state)."""
    c, img = checkpointed_counter(rt, criu)
    assert reap_dumped(rt, img) == 137
    rt.cli("delete", "c1")
    pages = sorted(img.glob("pages-*.img"))
    assert pages
    for pg in pages:
        os.truncate(pg, pg.stat().st_size // 2)
    rt.env["REAPER_CRIU_TIMEOUT"] = "3"
    start = time.monotonic()
    p, _ = restore(rt, "c2", img, c.bundle, check=False)
    assert time.monotonic() - start < 30
    assert p.returncode == 1
    assert f"({criu}) did not finish within 3s (REAPER_CRIU_TIMEOUT)" in p.stderr, p.stderr
    assert "last log lines: (" in p.stderr and "restore.log" in p.stderr, p.stderr
    nothing_left(rt, "c2")
    assert c.pids() == set()
    meta = json.loads((img / "reaper-checkpoint.json").read_text())
    assert not pathlib.Path(f"/proc/{meta['pid']}").exists(), "restored init left behind"


def test_usage_errors():
    """The verbs' own argument errors, before anything is touched (no CRIU needed)."""
    for args, want in ((["checkpoint", "c1"], "missing --image-path"),
                       (["restore", "c1"], "missing --image-path"),
                       (["checkpoint", "--image-path", "/tmp/x"], "checkpoint"),
                       (["restore", "--bogus", "c1"], "bogus")):
        p = subprocess.run([str(RUNTIME), *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and want in p.stderr, (args, p.returncode, p.stderr)


# A criu stand-in: records its arguments; a dump writes the log lines Reaper reads (version, the
# pids it froze) and an image file; a restore fails the way CRIU reports a failure.
SCRIPTED_CRIU = """#!/bin/sh
echo "$@" >> {calls}
case "$1" in --version) echo 'Version: 9.9'; exit 0;; esac
verb=$1
while [ $# -gt 0 ]; do
  case "$1" in -W) work=$2;; -D) img=$2;; -t) pid=$2;; esac
  shift
done
if [ "$verb" = dump ]; then
  printf '(00.1) Version: 9.9\\n(00.2) Seized task %s\\n' "$pid" > "$work/dump.log"
  : > "$img/inventory.img"
  exit 0
fi
printf '(00.1) Version: 9.9\\n(00.2) Error (criu/cr-restore.c:1): scripted restore failure\\n' \\
  > "$work/restore.log"
exit 1
"""


def test_cli_flags_reach_criu_and_restore_failure_is_clean(rt):
    """Every runc-style flag reaches criu; the metadata records the dump; a restore CRIU fails
    says CRIU's line and leaves nothing (no state, no mount, no pid file)."""
    calls = rt.host / "criu-calls"
    fake = rt.tmp / "scripted-criu"
    fake.write_text(SCRIPTED_CRIU.replace("{calls}", str(calls)))
    fake.chmod(0o755)
    rt.env["REAPER_CRIU"] = str(fake)
    c = Counter(rt, "c1")
    img, work = rt.host / "img", rt.host / "work"
    rt.cli("checkpoint", "--image-path", img, "--work-path", work, "--leave-running",
           "--tcp-established", "--file-locks", "--ext-unix-sk", "c1")
    dump = calls.read_text().splitlines()[-1].split()
    assert dump[0] == "dump" and str(c.pid) in dump, dump
    for flag in ("--leave-running", "--tcp-established", "--file-locks", "--ext-unix-sk"):
        assert flag in dump, (flag, dump)
    meta = json.loads((img / "reaper-checkpoint.json").read_text())
    assert meta["pid"] == c.pid and meta["id"] == "c1", meta
    assert rt.state("c1")["status"] == "running"
    rt.cli("kill", "c1", "KILL")
    assert reap_dumped(rt, img) == 137  # its pids must be free for a restore
    rt.cli("delete", "c1")
    pid_file = rt.host / "restored.pid"
    p, _ = restore(rt, "c2", img, c.bundle, "--work-path", work, "--tcp-established",
                   "--pid-file", pid_file, check=False)
    assert p.returncode == 1 and "scripted restore failure" in p.stderr, p.stderr
    assert "--tcp-established" in calls.read_text().splitlines()[-1]
    assert not pid_file.exists()
    nothing_left(rt, "c2")
