"""Node faults (docs/faults.md): each scenario injects one fault into a pod it creates through
CRI, checks the outcome an operator expects, and checks that nothing was lost (exit codes, log
bytes) and nothing left behind (the pod's processes, state dirs, mounts under them, its shim's
socket). A scenario raises AssertionError naming what differed, else returns what it observed.

Shared by tests/integration/test_faults.py (one test per fault) and bench/faults.py (the table).
Scenarios marked `own` need a containerd of their own set up by `prepare` (a tmpfs under its
runtime root or overlay base, or a /run it may wipe); the others use any private containerd.
"""
import contextlib
import errno
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import grpc

from . import mounts, procs
from .agent import Agent
from .containerd import Containerd
from .cri import CriClient
from .wait import wait_for
from shimutil import frame, request, task_status  # tests/integration (on sys.path)

NS = "k8s.io"  # containerd's namespace for CRI
TAG = "REAPER_FAULT_TAG"


class Fault:
    def __init__(self, name, expected, run, own=False, prepare=None):
        self.name, self.expected, self.run, self.own, self.prepare = (name, expected, run, own,
                                                                      prepare)


FAULTS = {}


def fault(name, expected, own=False, prepare=None):
    def register(fn):
        FAULTS[name] = Fault(name, expected, fn, own, prepare)
        return fn
    return register


class Scene:
    """One fault's pod and everything it made (tagged processes, ids, the shim's socket)."""

    def __init__(self, ctd, cri, name):
        self.ctd, self.cri = ctd, cri
        self.tag = uuid.uuid4().hex
        self.pod = cri.run_pod(f"fault-{name}", runtime_handler="reaper-v2")
        self.ids = [self.pod.id]
        self.socket = ctd.shim_socket(self.pod.id, NS)

    def container(self, name, script, start=True, mounts_=None):
        cid = self.cri.create_container(self.pod, name, command=["/bin/sh", "-c", script],
                                        env={TAG: self.tag}, mounts=mounts_)
        self.ids.append(cid)
        if start:
            self.cri.start_container(cid)
        return cid

    def shim(self):
        return procs.Watched(self.ctd.shim_pid_of(self.pod.id, NS))

    def wait_running(self, word=b"sleep"):
        """Wait until a tagged process has `word` in its command line; returns them all."""
        wait_for(lambda: any(word in b" ".join(procs.cmdline(p)) for p in self.processes()),
                 what=f"{word!r} running")
        return self.processes()

    def exec_in_flight(self, cid):
        """An ExecSync left running (sleep): its Call, once the exec process is there."""
        mark = uuid.uuid4().hex
        call = Call(self.cri.exec_sync, cid, ["/bin/sh", "-c", f"sleep 1000 # {mark}"], 60)
        self.wait_running(mark.encode())
        return call

    def processes(self):
        return procs.with_environ(f"{TAG}={self.tag}")

    def leftovers(self):
        """What of this pod is still on the node: {} when nothing."""
        root = self.ctd.dirs["reaper_root"]
        left = {"processes": self.processes(),
                "state dirs": [i[:12] for i in self.ids if (root / i).exists()],
                "mounts": mounts.mounts_under(*(root / i for i in self.ids)),
                "shim socket": [self.socket] if os.path.lexists(self.socket) else []}
        return {k: v for k, v in left.items() if v}

    def remove(self):
        self.cri.stop_pod(self.pod)
        self.cri.remove_pod(self.pod)

    def assert_clean(self):
        wait_for(lambda: not self.leftovers(), what=lambda: f"leftovers {self.leftovers()}")


def new_pod_works(ctd, cri):
    """A fresh pod after the fault: exit code and both log lines reported, nothing left."""
    s = Scene(ctd, cri, "after")
    cid = s.container("main", "echo fresh-out; echo fresh-err >&2; exit 4")
    assert cri.wait_exited(cid, timeout=20).exit_code == 4
    entries = cri.wait_log(s.pod, "main", 2)
    assert ("stdout", "fresh-out") in entries and ("stderr", "fresh-err") in entries, entries
    s.remove()
    s.assert_clean()
    return "new pod ran (exit 4, 2 log lines), removed clean"


class Call(threading.Thread):
    """An RPC in flight: started now, its result (or grpc error) collected by result()."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.value, self.error = fn, args, None, None
        self.start()

    def run(self):
        try:
            self.value = self.fn(*self.args)
        except grpc.RpcError as e:
            self.error = e

    def result(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), f"{self.fn.__name__} still pending after {timeout}s"
        return self.value, self.error


def pending_bytes(sock_path):
    """Bytes queued on the server side of connections to the unix socket at sock_path, plus
    connections waiting to be accepted: a request the (stopped) server has not read yet."""
    out = subprocess.run(["ss", "-xanH"], capture_output=True, text=True, check=True).stdout
    return sum(int(f[2]) for f in (line.split() for line in out.splitlines())
               if len(f) >= 5 and f[4] == sock_path)


def kill_shim_at_rpc(scene, fn, *args, queued=1):
    """Stop the pod's shim, send the RPC, SIGKILL the shim once the request sits unread in its
    socket (`queued`: bytes or connections waiting); returns (value, grpc error) of the RPC."""
    shim = scene.shim()
    os.kill(shim.pid, signal.SIGSTOP)
    try:
        call = Call(fn, *args)
        wait_for(lambda: pending_bytes(scene.socket) >= queued, what="the RPC queued at the shim")
    finally:
        os.kill(shim.pid, signal.SIGKILL)
    wait_for(shim.exited, what="shim killed")
    return call.result()


def rpc_error(error):
    assert error is not None, "the RPC succeeded despite the fault"
    return f"{error.code().name}: {error.details()}"


def rpc_fails(fn, *args):
    """Call fn (a CRI call) expecting a grpc error; returns it as text."""
    try:
        fn(*args)
    except grpc.RpcError as e:
        return rpc_error(e)
    return rpc_error(None)


def after_dead_shim(scene, cid, exit_code=255, reason="Error"):
    """containerd ran `shim delete`: the workload is gone, the container is EXITED with
    containerd's unknown exit (255; 128 StartError when it never started), the pod can be
    removed and nothing is left."""
    wait_for(lambda: not scene.processes(), what=lambda: f"workload killed {scene.processes()}")
    st = scene.cri.wait_exited(cid, timeout=20)
    assert (st.exit_code, st.reason) == (exit_code, reason), (st.exit_code, st.reason, st.message)
    scene.remove()
    scene.assert_clean()
    return f"container EXITED {st.exit_code} ({st.reason}), pod removed clean"


DEAD_SHIM = ("the RPC fails with a clear error; containerd runs `shim delete`: every process of "
             "the pod killed, container EXITED 255 (containerd's unknown exit); the pod is "
             "removed with nothing left (state, mounts, socket); a new pod works")


@fault("shim kill -9 after CreateContainer",
       "(containerd 1.6 makes the task only at StartContainer) StartContainer fails clearly or "
       "runs the container under a new shim; StopPodSandbox/RemovePodSandbox leave nothing; "
       "a new pod works")
def shim_killed_after_create(ctd, cri, tmp):
    s = Scene(ctd, cri, "after-create")
    cid = s.container("main", "echo started; sleep 1000", start=False)
    shim = s.shim()
    os.kill(shim.pid, signal.SIGKILL)
    wait_for(shim.exited, what="shim killed")
    _, err = Call(cri.start_container, cid).result()
    said = rpc_error(err) if err else f"OK, state {cri.container_status(cid).state}"
    s.remove()
    s.assert_clean()
    return f"StartContainer: {said}; pod removed clean; {new_pod_works(ctd, cri)}"


@fault("shim kill -9 during StartContainer",
       DEAD_SHIM.replace("EXITED 255 (containerd's unknown exit)", "EXITED 128 StartError"))
def shim_killed_during_start(ctd, cri, tmp):
    s = Scene(ctd, cri, "during-start")
    cid = s.container("main", "echo never; sleep 1000", start=False)
    # Two connections wait: `shim start`'s probe (it finds the pod's shim) and containerd's,
    # which carries the task's Create.
    _, err = kill_shim_at_rpc(s, cri.start_container, cid, queued=2)
    outcome = after_dead_shim(s, cid, 128, "StartError")
    return f"StartContainer: {rpc_error(err)}; {outcome}; {new_pod_works(ctd, cri)}"


@fault("shim kill -9 during an Exec", DEAD_SHIM + "; the exec process too (not orphaned)")
def shim_killed_during_exec(ctd, cri, tmp):
    s = Scene(ctd, cri, "during-exec")
    cid = s.container("main", "sleep 1000")
    call = s.exec_in_flight(cid)
    shim = s.shim()
    os.kill(shim.pid, signal.SIGKILL)
    wait_for(shim.exited, what="shim killed")
    _, err = call.result()
    return f"ExecSync: {rpc_error(err)}; {after_dead_shim(s, cid)}; {new_pod_works(ctd, cri)}"


@fault("shim kill -9 during Stop", DEAD_SHIM)
def shim_killed_during_stop(ctd, cri, tmp):
    s = Scene(ctd, cri, "during-stop")
    cid = s.container("main", "trap '' TERM; sleep 1000")
    s.wait_running()
    _, err = kill_shim_at_rpc(s, cri.stop_container, cid, 30)
    # CRI's StopContainer may report the dead shim or treat the task as gone: either is clear.
    said = rpc_error(err) if err else "returned OK (task gone)"
    return f"StopContainer: {said}; {after_dead_shim(s, cid)}; {new_pod_works(ctd, cri)}"


@fault("shim kill -9 during Delete",
       "the Delete fails with a clear error (containerd cleaned the task up through "
       "`shim delete`); the container record is removed; nothing left; a new pod works")
def shim_killed_during_delete(ctd, cri, tmp):
    # CRI deletes a task as soon as it exits: the Task API (ctr) holds an exited task and
    # deletes it at a moment the test chooses.
    cid = f"fault-delete-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex
    r = ctd.ctr("run", "-d", "--runtime", "io.containerd.reaper.v2", "--env", f"{TAG}={tag}",
                "--rootfs", ctd.image.rootfs, cid, "/bin/sh", "-c", "exit 7")
    assert r.returncode == 0, r.stderr
    sock = ctd.shim_socket(cid)
    shim = procs.Watched(wait_for(lambda: ctd.shim_pid_of(cid), retry_on=(AssertionError,),
                                  what="the task's shim"))
    wait_for(lambda: task_status(ctd, cid) == "STOPPED", what="task exited")
    os.kill(shim.pid, signal.SIGSTOP)
    try:
        call = Call(ctd.ctr, "task", "delete", cid)
        wait_for(lambda: pending_bytes(sock) > 0, what="Delete queued at the shim")
    finally:
        os.kill(shim.pid, signal.SIGKILL)
    res, _ = call.result()
    assert res.returncode != 0, f"delete succeeded under a killed shim: {res.stdout}"
    rm = ctd.ctr("container", "rm", cid)
    assert rm.returncode == 0, rm.stderr

    def left():
        found = {"processes": procs.with_environ(f"{TAG}={tag}"),
                 "state dir": (ctd.dirs["reaper_root"] / cid).exists(),
                 "socket": os.path.lexists(sock),
                 "task": cid in ctd.ctr("task", "ls", "-q").stdout.split()}
        return {k: v for k, v in found.items() if v}

    # containerd runs `shim delete` for a dead shim in the background, after ctr has returned.
    wait_for(lambda: not left(), what=lambda: f"leftovers {left()}")
    said = res.stderr.strip().splitlines()[-1]
    return f"ctr task delete: {said!r}; container removed; nothing left; {new_pod_works(ctd, cri)}"


@fault("containerd kill -9 mid-RPC, restarted",
       "the RPC in flight fails (UNAVAILABLE); after the restart containerd reconnects to the "
       "shim: the container is RUNNING with the same workload, the retried ExecSync returns its "
       "output and exit code; the exec lost with containerd ends with the pod; nothing left")
def containerd_killed_mid_rpc(ctd, cri, tmp):
    s = Scene(ctd, cri, "containerd-crash")
    cid = s.container("main", "sleep 1000")
    init = [procs.Watched(p) for p in s.wait_running()]
    call = s.exec_in_flight(cid)
    ctd.restart(sig=signal.SIGKILL)
    _, err = call.result()
    failed = rpc_error(err)
    assert cri.container_status(cid).state == cri.pb.CONTAINER_RUNNING
    assert not any(w.exited() for w in init), "the workload did not survive containerd"
    r = cri.exec_sync(cid, ["/bin/sh", "-c", "echo retried; exit 3"])
    assert (r.exit_code, r.stdout) == (3, b"retried\n"), r
    s.remove()
    s.assert_clean()
    return (f"ExecSync in flight: {failed}; after restart RUNNING, same workload; retried "
            f"ExecSync exit 3 'retried'; pod removed clean; {new_pod_works(ctd, cri)}")


# ---- faults that need a containerd of their own ----
class OwnNode:
    """A private containerd for one fault (`prepare` runs before it starts) with a CRI client.
    close() removes what the client created and stops containerd; what went wrong in teardown
    (CRI errors, containerd's, sanitizer reports) is in `errors`."""

    def __init__(self, image, build, prepare=None):
        self.ctd = Containerd(image, build)
        self.errors = []
        try:
            if prepare:
                prepare(self.ctd)
            self.ctd.start()
        except Exception:
            self.ctd.stop()
            raise
        self.cri = CriClient(self.ctd.address, self.ctd.pods_dir, image.ref)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.errors += self.cri.cleanup()
            self.cri.close()
        finally:
            self.ctd.stop()
        self.errors += self.ctd.teardown_errors
        self.errors += [f"sanitizer report {n}" for n in self.ctd.final_sanitizer_reports]


def tmpfs_on(key, size):
    """prepare(): a tmpfs of `size` on ctd.dirs[key] (runtime root, overlay base) before
    containerd starts (Containerd.stop unmounts everything under its temp dir)."""
    def prepare(ctd):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0711", "tmpfs",
                        str(ctd.dirs[key])], check=True)
    return prepare


def fill(path, chunk=64 << 10):
    """Write zeros to path until the file system is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(b"\0" * chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    with contextlib.suppress(OSError):  # the last partial chunk
        with open(path, "ab", buffering=0) as f:
            while f.write(b"\0"):
                written += 1
    return written


def root_entries(ctd):
    root = ctd.dirs["reaper_root"]
    return {p.relative_to(root).as_posix() for p in [*root.iterdir(), *(root / "s").iterdir()]}


@fault("node /run emptied (reboot) while pods existed",
       "containerd and the shim start on the empty state (no crash); the old pod is listed "
       "NOTREADY, its container EXITED; StopPodSandbox/RemovePodSandbox of it succeed; nothing "
       "of it is left; a new pod works", own=True)
def run_emptied(ctd, cri, tmp):
    s = Scene(ctd, cri, "reboot")
    cid = s.container("main", "echo before; sleep 1000")
    assert cri.wait_log(s.pod, "main", 1) == [("stdout", "before")]
    # The reboot: every process gone, /run (runtime root, containerd state) empty.
    ctd.proc.kill()
    ctd.proc.wait()
    for pid in ctd.shim_pids() + s.processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not s.processes() and not ctd.shim_pids(), what="all processes gone")
    for key in ("reaper_root", "state"):
        mounts.unmount_under(ctd.dirs[key])
        shutil.rmtree(ctd.dirs[key])
        ctd.dirs[key].mkdir()
    ctd.restart_after_crash()
    pod = next(p for p in cri.list_pods() if p.id == s.pod.id)
    assert pod.state == cri.pb.SANDBOX_NOTREADY, pod
    st = cri.container_status(cid)
    assert st.state == cri.pb.CONTAINER_EXITED, st
    s.remove()
    s.assert_clean()
    return (f"old pod NOTREADY, container EXITED {st.exit_code} ({st.reason}); removed clean; "
            f"{new_pod_works(ctd, cri)}")


@fault("state directory full (runtime root on a tiny tmpfs)",
       "RunPodSandbox fails with ENOSPC naming the file it could not write; nothing half-written "
       "is left under the root; the running pod is unaffected; once space is freed a new pod "
       "works", own=True, prepare=tmpfs_on("reaper_root", "256k"))
def state_full(ctd, cri, tmp):
    s = Scene(ctd, cri, "state-full")
    cid = s.container("main", "sleep 1000")
    before = root_entries(ctd)
    filler = ctd.dirs["reaper_root"] / "filler"
    fill(filler)
    try:
        said = rpc_fails(cri.run_pod, "fault-no-space", "default", "reaper-v2")
        assert "no space left on device" in said.lower() and str(ctd.dirs["reaper_root"]) in said
        assert root_entries(ctd) == before | {"filler"}, root_entries(ctd) ^ before
        r = cri.exec_sync(s.ids[1], ["/bin/sh", "-c", "echo alive"])
        assert (r.exit_code, r.stdout) == (0, b"alive\n"), r
    finally:
        filler.unlink()
    assert cri.container_status(cid).state == cri.pb.CONTAINER_RUNNING
    s.remove()
    s.assert_clean()
    return f"RunPodSandbox: {said}; root unchanged; old pod still execs; {new_pod_works(ctd, cri)}"


@fault("overlay upper layer on a full file system (1 MiB tmpfs)",
       "the workload's write fails with ENOSPC (its own error in the log); its exit code and "
       "every log line are reported; reaper-agent's metrics show the overlay file system with 0 "
       "bytes free and the upper layer's usage; nothing left", own=True,
       prepare=tmpfs_on("reaper_overlay", "1m"))
def overlay_full(ctd, cri, tmp):
    s = Scene(ctd, cri, "overlay-full")
    cid = s.container("main", "dd if=/dev/zero of=/var/fault-fill bs=64k count=64; "
                              "echo dd-exit=$?; echo after >&2; exit 5")
    st = cri.wait_exited(cid, timeout=20)
    assert st.exit_code == 5, (st.exit_code, st.reason, st.message)
    entries = cri.wait_log(s.pod, "main", 3)
    text = " | ".join(t for _, t in entries)
    assert ("stdout", "dd-exit=1") in entries and ("stderr", "after") in entries, entries
    assert "No space left on device" in text, entries
    agent = Agent(ctd.reaper_build / "src/agent/reaper-agent", tmp, ctd.reaper_config,
                  "--standalone")
    try:
        free = agent.metric("reaper_overlay_filesystem_free_bytes")
        size = agent.metric("reaper_overlay_filesystem_size_bytes")
        upper = agent.metric(f'reaper_overlay_upper_bytes{{namespace="{s.pod.namespace}",'
                             f'overlay=""}}')
    finally:
        assert agent.stop() == 0, agent.text()
    assert (size, free) == (1 << 20, 0) and upper > 0, (size, free, upper)
    s.remove()
    s.assert_clean()
    return (f"exit 5, log: {text!r}; agent: overlay fs size {size:.0f} free {free:.0f}, "
            f"upper {upper:.0f} bytes; removed clean")


def fd_numbers(pid):
    return [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")]


def cpu_ticks(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def set_nofile(pid, soft, hard):
    subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={soft}:{hard}"], check=True)


def probe(sock_path):
    """Connect to a shim and send a request for an unknown service: b"" if the shim closed
    the connection, else the start of its answer (UNIMPLEMENTED)."""
    body = request("fault.Probe", "Ping")
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(10)
        c.connect(sock_path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            c.sendall(frame(len(body), 1) + body)
        try:
            return c.recv(10)
        except ConnectionResetError:
            return b""


@fault("EMFILE in the shim (RLIMIT_NOFILE lowered on the running shim)",
       "ExecSync fails with an error naming EMFILE (too many open files); a new connection is "
       "closed at once (the client sees EOF, not a hang); the shim neither crashes nor spins; "
       "once fds are available again ExecSync and new connections work; nothing left")
def shim_emfile(ctd, cri, tmp):
    s = Scene(ctd, cri, "emfile")
    cid = s.container("main", "sleep 1000")
    shim = s.shim()
    soft, hard = (int(v) for v in subprocess.run(
        ["prlimit", "--pid", str(shim.pid), "--nofile", "--raw", "-o", "SOFT,HARD",
         "--noheadings"], capture_output=True, text=True, check=True).stdout.split())
    set_nofile(shim.pid, max(fd_numbers(shim.pid)) + 1, hard)
    try:
        said = rpc_fails(cri.exec_sync, cid, ["/bin/sh", "-c", "echo no"])
        assert "too many open files" in said.lower(), said
        refused = probe(s.socket)
        t0 = cpu_ticks(shim.pid)
        time.sleep(1)  # test-side: a spinning loop would burn this second
        spent = cpu_ticks(shim.pid) - t0
        assert refused == b"" and spent < 10 and not shim.exited(), (refused, spent)
    finally:
        set_nofile(shim.pid, soft, hard)
    assert probe(s.socket) != b"", "a connection after the limit was restored was not served"
    r = cri.exec_sync(cid, ["/bin/sh", "-c", "echo back"])
    assert (r.exit_code, r.stdout) == (0, b"back\n"), r
    s.remove()
    s.assert_clean()
    return (f"ExecSync: {said}; new connection closed at once; shim used {spent} CPU ticks in "
            f"1 s at the limit; limit restored: connection served, ExecSync works; removed clean")
