"""Checkpoint and restore through the shim: ctr, containerd's Tasks API and CRI.

Every test needs a CRIU that works on this kernel. The criu is the one named by REAPER_TEST_CRIU,
else REAPER_CRIU, else `criu` on PATH; when `criu check` fails the tests skip with CRIU's own
words (Debian 12's criu 3.17 cannot run on kernels >= 6.13). The shims get it through the node
config key REAPER_CRIU.

What containerd 1.6 sends (see docs/checkpoint-containerd.md): `ctr task checkpoint` passes no
options to a non-runc runtime (its --image-path, --work-path and --exit are runc-only), so the
options path is driven through the Tasks API the way ctr 2.x and containerd's Go client send it;
`ctr containers checkpoint --task` sends them for any runtime.
"""
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import threading
import uuid

import grpc
import pytest

from harness import tasks_api
from harness.mounts import mount_table, mounts_under, unescape
from harness.procs import alive, descendants, with_environ
from harness.wait import wait_for
from shimutil import REAPER, ctr_cmd, task_pid, task_status

pytestmark = pytest.mark.shim
H = "reaper-v2"
CRIU_LAYER = "application/vnd.containerd.container.criu.checkpoint.criu.tar"
COUNTER = 'i=0; while :; do i=$((i+1)); echo "$i"; sleep 0.1; done'


# ---- CRIU ----
def find_criu():
    """(path or None, where it came from)."""
    for var in ("REAPER_TEST_CRIU", "REAPER_CRIU"):
        if os.environ.get(var):
            return os.environ[var], var
    return shutil.which("criu"), "PATH"


@pytest.fixture(scope="module")
def criu():
    path, origin = find_criu()
    if not path:
        pytest.skip("no criu: set REAPER_TEST_CRIU or REAPER_CRIU, or put criu on PATH")
    try:
        r = subprocess.run([path, "check"], capture_output=True, text=True, timeout=120)
    except OSError as e:
        pytest.skip(f"criu {path} (from {origin}) cannot be run: {e}")
    if r.returncode != 0:
        said = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
        pytest.skip(f"criu {path} (from {origin}) does not work here; `criu check` says: "
                    + " | ".join(said[-3:]))
    return path


@pytest.fixture
def ckd(criu, containerd):
    """The private containerd, its Reaper shims pointed at the working criu."""
    containerd.set_reaper_config("REAPER_CRIU", criu)
    return containerd


# ---- helpers ----
class Reader:
    """A running `ctr run` (foreground): its stdout lines collected as they come."""

    def __init__(self, containerd, *args):
        self.proc = subprocess.Popen(ctr_cmd(containerd, "run", "--rm", "--runtime", REAPER,
                                             *args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=containerd.env())
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_lines(self, n, timeout=15.0):
        wait_for(lambda: len(self.lines) >= n, timeout, lambda: f"{n} lines, have {self.lines}")
        return list(self.lines)

    def wait_exit(self, timeout=30.0):
        rc = self.proc.wait(timeout=timeout)
        self.thread.join(timeout)
        return rc, self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def numbers(lines):
    return [int(x) for x in lines]


def assert_consecutive(values, what):
    assert values, f"{what}: no values"
    assert values == list(range(values[0], values[0] + len(values))), f"{what}: {values}"


def cleanup_ctr(containerd, *ids):
    for cid in ids:
        containerd.ctr("task", "kill", "-s", "SIGKILL", "-a", cid)
        containerd.ctr("task", "delete", "-f", cid)
        containerd.ctr("container", "rm", cid)


def image_has_metadata(image_dir):
    return (pathlib.Path(image_dir) / "reaper-checkpoint.json").is_file()


def ctr_blob(containerd, digest):
    return subprocess.run(ctr_cmd(containerd, "content", "get", digest), capture_output=True,
                          env=containerd.env(), check=True).stdout


def checkpoint_layer_files(containerd, ref):
    """Names of the files in the CRIU layer of checkpoint image ref."""
    row = next(ln.split() for ln in containerd.ctr("images", "ls", check=True).stdout
               .splitlines() if ln.split()[:1] == [ref])
    index = json.loads(ctr_blob(containerd, row[2]))
    names = set()
    for m in index["manifests"]:
        if m["mediaType"] == CRIU_LAYER:
            with tarfile.open(fileobj=io.BytesIO(ctr_blob(containerd, m["digest"]))) as t:
                names |= {pathlib.PurePath(x.name).name for x in t.getmembers()}
    return names


def task_pid_in(containerd, cid, namespace):
    out = containerd.ctr("task", "ls", namespace=namespace, check=True).stdout
    row = next(f for f in (ln.split() for ln in out.splitlines()[1:]) if f and f[0] == cid)
    return int(row[1])


def ctr_ps(containerd, cid, namespace="default"):
    out = containerd.ctr("task", "ps", cid, namespace=namespace, check=True).stdout
    return {int(line.split()[0]) for line in out.splitlines()[1:] if line.strip()}


# ---- ctr ----
def test_ctr_task_checkpoint_stores_an_image_and_keeps_running(ckd, test_image, tmp_path):
    """`ctr task checkpoint ID` (containerd 1.6: no options for a non-runc runtime): the dump
    lands in containerd's temp dir, which containerd stores as a checkpoint image; the task
    keeps running."""
    cid = f"ck-keep-{uuid.uuid4().hex[:6]}"
    run = Reader(ckd, "--rootfs", test_image.rootfs, cid, "sh", "-c", COUNTER)
    try:
        run.wait_lines(5)
        r = ckd.ctr("task", "checkpoint", cid, timeout=120)
        assert r.returncode == 0, r.stderr
        ref = r.stdout.strip()
        assert ref.startswith(f"containerd.io/checkpoint/{cid}:"), r.stdout
        n = len(run.lines)
        run.wait_lines(n + 5)  # still counting
        assert task_status(ckd, cid) == "RUNNING"
        assert_consecutive(numbers(run.lines), "one run, no gap while checkpointed")
        # The checkpoint layer containerd stored is our image directory.
        assert "reaper-checkpoint.json" in checkpoint_layer_files(ckd, ref)
        # ctr 1.6 builds --image-path/--exit into options for runc runtimes only: for Reaper
        # they do not arrive, and the checkpoint is the same as above
        # (docs/checkpoint-containerd.md). containerd refuses to store the same spec blob twice:
        # the first image goes first.
        ckd.ctr("images", "rm", "--sync", ref, check=True)
        unused = tmp_path / "unused"
        r = ckd.ctr("task", "checkpoint", "--exit", "--image-path", unused, cid, timeout=120)
        assert r.returncode == 0, r.stderr
        n = len(run.lines)
        run.wait_lines(n + 3)
        assert task_status(ckd, cid) == "RUNNING"
        assert not (unused / "reaper-checkpoint.json").exists()
        assert_consecutive(numbers(run.lines), "one run")
    finally:
        run.kill()
        cleanup_ctr(ckd, cid)
        ckd.ctr("images", "rm", *[ln for ln in ckd.ctr("images", "ls", "-q").stdout.split()
                                  if cid in ln])


def read_counts(path):
    try:
        return [int(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return []


def test_ctr_containers_checkpoint_and_restore_live(ckd, test_image, tmp_path):
    """`ctr containers checkpoint --task` (containerd's Go client: CheckpointOptions with
    file_locks, after pausing the task) and `ctr containers restore --live` (Create with
    containerd's checkpoint directory, restored at Start). The counter writes to a volume."""
    out = tmp_path / "out"
    out.mkdir()
    orig, new = (f"ck-{k}-{uuid.uuid4().hex[:6]}" for k in ("corig", "cnew"))
    ref = f"reaper.test/checkpoint/{orig}:1"
    counter = 'i=0; while :; do i=$((i+1)); echo $i >> /ckout/count; sleep 0.1; done'
    r = ckd.ctr("run", "-d", "--snapshotter", ckd.snapshotter, "--runtime", REAPER, "--mount",
                f"type=bind,src={out},dst=/ckout,options=rbind:rw", test_image.ref, orig,
                "sh", "-c", counter)
    assert r.returncode == 0, r.stderr
    try:
        wait_for(lambda: len(read_counts(out / "count")) >= 5, what="counting")
        pre = read_counts(out / "count")[-1]
        r = ckd.ctr("containers", "checkpoint", "--task", orig, ref, timeout=120)
        assert r.returncode == 0, r.stderr
        at_checkpoint = read_counts(out / "count")[-1]
        assert task_status(ckd, orig) == "RUNNING"  # resumed, not stopped or paused
        wait_for(lambda: read_counts(out / "count")[-1] >= at_checkpoint + 3, what="counting on")
        cleanup_ctr(ckd, orig)  # its pids must be free for the restore
        before = read_counts(out / "count")
        assert_consecutive(before, "the original")
        (out / "count").rename(out / "count.orig")

        r = ckd.ctr("containers", "restore", "--live", new, ref, timeout=120)
        assert r.returncode == 0, r.stderr
        assert task_status(ckd, new) == "RUNNING"
        wait_for(lambda: len(read_counts(out / "count")) >= 5, what="restored counting")
        after = read_counts(out / "count")
        assert_consecutive(after, "the restored task")
        # It goes on from where the dump caught it, while the checkpoint request ran.
        assert pre <= after[0] - 1 <= at_checkpoint, (pre, at_checkpoint, after[0])
    finally:
        cleanup_ctr(ckd, orig, new)
        ckd.ctr("images", "rm", ref)


def test_ctr_exit_checkpoint_then_restore_from_dir(ckd, test_image, tmp_path):
    """Checkpoint with exit + image_path (the Tasks API as ctr 2.x sends it): the task exits
    (Wait answers, 137); `ctr run --env RESTORE_FROM=<dir>` restores it into a new task whose
    stdout continues the count exactly; it is a normal task: exec, ps, metrics, kill."""
    image = tmp_path / "img"
    orig, new = (f"ck-{k}-{uuid.uuid4().hex[:6]}" for k in ("orig", "new"))
    run = Reader(ckd, "--rootfs", test_image.rootfs, orig, "sh", "-c", COUNTER)
    restored = None
    try:
        run.wait_lines(5)
        tasks_api.checkpoint(ckd.address, "default", orig, exit=True, image_path=str(image),
                             timeout=120)
        rc, err = run.wait_exit()
        assert rc == 137, err
        before = numbers(run.lines)
        assert_consecutive(before, "before the checkpoint")
        assert image_has_metadata(image), sorted(p.name for p in image.iterdir())

        restored = Reader(ckd, "--env", f"RESTORE_FROM={image}", "--rootfs", test_image.rootfs,
                          new, "sh", "-c", "echo a fresh start must not happen")
        restored.wait_lines(5)
        after = numbers(restored.lines)
        assert after[0] == before[-1] + 1, (before[-3:], after[:3])
        assert_consecutive(after, "after the restore")

        pid = task_pid(ckd, new)
        assert task_status(ckd, new) == "RUNNING"
        assert pid in ctr_ps(ckd, new)
        r = ckd.ctr("task", "exec", "--exec-id", "x1", new, "sh", "-c", "echo exec-ok; exit 4")
        assert (r.returncode, r.stdout) == (4, "exec-ok\n"), r.stderr
        r = ckd.ctr("task", "metrics", new)
        assert r.returncode == 0, r.stderr
        ckd.ctr("task", "kill", "-s", "SIGTERM", new, check=True)
        rc, err = restored.wait_exit()
        assert rc == 143, err
        assert not alive(pid)
    finally:
        run.kill()
        if restored:
            restored.kill()
        cleanup_ctr(ckd, orig, new)


def test_ctr_restore_failure_leaves_nothing(ckd, test_image, tmp_path):
    """A restore that CRIU cannot do (the checkpointed process still runs with the pids the
    image needs) fails Start with CRIU's words; the task is deleted cleanly; no process."""
    image = tmp_path / "img"
    orig, clash = (f"ck-{k}-{uuid.uuid4().hex[:6]}" for k in ("live", "clash"))
    tag = f"REAPER_TEST_TAG=ckfail-{uuid.uuid4()}"
    run = Reader(ckd, "--env", tag, "--rootfs", test_image.rootfs, orig, "sh", "-c", COUNTER)
    try:
        run.wait_lines(3)
        tasks_api.checkpoint(ckd.address, "default", orig, image_path=str(image), timeout=120)
        assert task_status(ckd, orig) == "RUNNING"  # no exit asked: it keeps running
        n = len(run.lines)
        run.wait_lines(n + 3)
        init = task_pid(ckd, orig)

        r = ckd.ctr("run", "--rm", "--runtime", REAPER, "--env", f"RESTORE_FROM={image}",
                    "--rootfs", test_image.rootfs, clash, "sh", "-c", "echo fresh", timeout=120)
        assert r.returncode != 0, r.stdout
        assert "restore" in r.stderr.lower() and "criu" in r.stderr.lower(), r.stderr
        assert "fresh" not in r.stdout
        assert task_status(ckd, clash) is None
        assert clash not in ckd.ctr("containers", "ls", "-q").stdout.split()
        # The only processes carrying the tag are the original's (its counter's `sleep`s).
        tagged = with_environ(tag)
        family = {init, *descendants(init)}
        assert all(p in family or not alive(p) for p in tagged), (tagged, family)
        assert not (ckd.dirs["reaper_root"] / clash).exists()
    finally:
        run.kill()
        cleanup_ctr(ckd, orig, clash)


# ---- CRI ----
def checkpointed_counter(ckd, cri, image, keep_log=False):
    """A counter pod checkpointed the way a ReaperCheckpoint does it on the node: dumped with
    exit into image, its CRI log kept there as container.log (keep_log). The pod is then stopped
    and removed, as Kybernate does (and as on another node): the restore binds the per-pod files
    (hostname, hosts, resolv.conf, /dev/shm) from the NEW pod's. Returns the counter values it
    logged."""
    src = cri.run_pod(f"ck-src-{uuid.uuid4().hex[:6]}", runtime_handler=H)
    cid = cri.run_container(src, "counter", command=["sh", "-c", COUNTER])
    cri.wait_log(src, "counter", 5)
    tasks_api.checkpoint(ckd.address, "k8s.io", cid, exit=True, image_path=str(image),
                         timeout=120)
    assert cri.wait_exited(cid, timeout=20).exit_code == 137
    values = [int(t) for s, t in cri.read_log(src, "counter") if s == "stdout"]
    assert_consecutive(values, "before the checkpoint")
    if keep_log:
        shutil.copy(cri.log_file(src, "counter"), image / "container.log")
    cri.stop_pod(src)
    cri.remove_pod(src)
    assert src.id not in [p.id for p in cri.list_pods()]
    return values


def test_cri_restore_from_env_replays_log_and_is_a_normal_container(ckd, cri, tmp_path):
    image = tmp_path / "img"
    before = checkpointed_counter(ckd, cri, image, keep_log=True)

    dst = cri.run_pod("ck-dst", runtime_handler=H)
    new = cri.run_container(dst, "counter", command=["sh", "-c", "echo fresh start"],
                            env={"RESTORE_FROM": str(image)})
    entries = cri.wait_log(dst, "counter", len(before) + 5)
    values = [int(t) for s, t in entries if s == "stdout"]
    assert values[:len(before)] == before  # the replayed log, then the restored process
    assert_consecutive(values, "replayed + restored: nothing missing, nothing repeated")
    assert not [t for s, t in entries if s == "stderr"]

    r = cri.exec_sync(new, ["sh", "-c", "echo exec-ok; exit 3"])
    assert (r.exit_code, r.stdout) == (3, b"exec-ok\n")
    stats = cri.container_stats(new)
    assert stats.attributes.id == new
    pid = task_pid_in(ckd, new, "k8s.io")
    assert pid in ctr_ps(ckd, new, namespace="k8s.io")
    # Its per-pod files are bound from the new pod's sandbox (the checkpointed pod is gone).
    seen = {mp: f for mp, f in mount_table(pid)}  # the last mount on each point
    for dest in ("/etc/hostname", "/etc/hosts"):
        assert dst.id in unescape(seen[dest][3]), (dest, seen[dest])
    shm = [f[2] for mp, f in mount_table() if mp.endswith(f"/sandboxes/{dst.id}/shm")]
    assert shm == [seen["/dev/shm"][2]], (shm, seen["/dev/shm"])  # the new pod's tmpfs

    ckd.restart()  # containerd goes away and comes back: the restored task is kept
    st = cri.container_status(new)
    assert st.state == cri.pb.CONTAINER_RUNNING
    n = len(cri.read_log(dst, "counter"))
    entries = cri.wait_log(dst, "counter", n + 3)
    assert_consecutive([int(t) for s, t in entries if s == "stdout"], "across the restart")

    cri.stop_container(new, timeout=10)
    assert cri.container_status(new).exit_code == 143  # sh dies of SIGTERM
    assert not alive(pid)


def test_cri_restore_from_pod_annotation(ckd, cri, tmp_path):
    image = tmp_path / "img"
    before = checkpointed_counter(ckd, cri, image)

    dst = cri.run_pod("ck-adst", runtime_handler=H,
                      annotations={"reaper.runtime/restore-from": str(image)})
    cri.run_container(dst, "counter", command=["sh", "-c", "echo fresh start"])
    entries = cri.wait_log(dst, "counter", 5)
    values = [int(t) for s, t in entries if s == "stdout"]
    assert values[0] == before[-1] + 1, (before[-3:], values[:3])  # no container.log: no replay
    assert_consecutive(values, "restored")


def test_cri_pty_container_refused(ckd, cri, tmp_path):
    """A terminal container: its checkpoint is refused and it keeps running; a restore into a
    terminal is refused at create (docs/checkpoint-containerd.md)."""
    image = tmp_path / "img"
    pod = cri.run_pod("ck-tty", runtime_handler=H)
    tty = cri.run_container(pod, "tty", command=["sleep", "1000"], tty=True, stdin=True)
    with pytest.raises(grpc.RpcError) as e:
        tasks_api.checkpoint(ckd.address, "k8s.io", tty, image_path=str(image))
    assert "pty" in e.value.details(), e.value.details()
    assert cri.container_status(tty).state == cri.pb.CONTAINER_RUNNING
    assert not (image / "reaper-checkpoint.json").exists()

    before = checkpointed_counter(ckd, cri, image)
    assert before
    with pytest.raises(grpc.RpcError) as e:
        cri.run_container(pod, "restored-tty", command=["sh"], tty=True, stdin=True,
                          env={"RESTORE_FROM": str(image)})
    assert "terminal" in e.value.details(), e.value.details()


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_cri_unusable_image_fails_the_container(ckd, cri, tmp_path, kind):
    """RESTORE_FROM naming no image, or a directory without one: the container fails with the
    reason, never starts fresh, and leaves no state, mount or process."""
    image = tmp_path / "img"
    if kind == "empty":
        image.mkdir()
    tag = f"ckbad-{uuid.uuid4()}"
    pod = cri.run_pod(f"ck-{kind}", runtime_handler=H)
    with pytest.raises(grpc.RpcError) as e:
        cri.run_container(pod, "counter", command=["sh", "-c", "echo fresh start; sleep 100"],
                          env={"RESTORE_FROM": str(image), "REAPER_TEST_TAG": tag})
    assert str(image) in e.value.details(), e.value.details()
    cid = pod.containers["counter"]
    st = cri.container_status(cid)
    assert st.state != cri.pb.CONTAINER_RUNNING
    assert str(image) in st.message, st
    assert not cri.read_log(pod, "counter")  # never started fresh
    assert not with_environ(f"REAPER_TEST_TAG={tag}")
    assert not (ckd.dirs["reaper_root"] / cid).exists()
    assert not mounts_under(ckd.dirs["reaper_root"] / cid)


# ---- without CRIU: an image that validates but can never restore ----
def unrestorable_image(d):
    """Metadata and a CRIU inventory, so create accepts it; no process in it, so any CRIU (or
    none) fails the restore. Reaches the restore path on machines without a working CRIU."""
    d.mkdir()
    (d / "reaper-checkpoint.json").write_text(json.dumps(
        {"version": 1, "id": "old", "pid": 999999, "namespace": "default"}))
    (d / "inventory.img").write_bytes(b"x")
    return d


def test_cri_restore_into_terminal_refused_at_task_create(containerd, cri, tmp_path):
    """A container to be restored is never taken for a pod sandbox: a terminal one is refused
    when its task is created, naming the terminal."""
    image = unrestorable_image(tmp_path / "img")
    pod = cri.run_pod("ck-tty-any-criu", runtime_handler=H)
    with pytest.raises(grpc.RpcError) as e:
        cri.run_container(pod, "tty", command=["sh"], tty=True, stdin=True,
                          env={"RESTORE_FROM": str(image)})
    assert "terminal" in e.value.details(), e.value.details()


def test_cri_failed_restore_never_starts_fresh(containerd, cri, tmp_path):
    """The restore fails (whatever CRIU this machine has): StartContainer fails with the
    restore's error, the container's command never runs, nothing is left."""
    image = unrestorable_image(tmp_path / "img")
    tag = f"ckfail-{uuid.uuid4()}"
    pod = cri.run_pod("ck-fail-any-criu", runtime_handler=H)
    with pytest.raises(grpc.RpcError) as e:
        cri.run_container(pod, "counter", command=["sh", "-c", "echo fresh start; sleep 100"],
                          env={"RESTORE_FROM": str(image), "REAPER_TEST_TAG": tag})
    assert "restore" in e.value.details(), e.value.details()
    cid = pod.containers["counter"]
    assert cri.container_status(cid).state != cri.pb.CONTAINER_RUNNING
    assert not cri.read_log(pod, "counter")
    assert not with_environ(f"REAPER_TEST_TAG={tag}")
    assert not mounts_under(containerd.dirs["reaper_root"] / "restore" / cid)
