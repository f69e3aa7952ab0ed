"""Fixture for reaper-runtime tests: a private runtime root + overlay base per test (through a
temp reaper.conf named by REAPER_CONFIG), a bundle factory, and helpers to drive the CLI.

The test process becomes a child subreaper while a test runs, so workloads orphaned by
`reaper-runtime create` are reparented to it (as they would be to the shim) and can be reaped."""
import ctypes
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD
from harness.mounts import unmount_under

RUNTIME = BUILD / "src/runtime/reaper-runtime"
PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class OwnDirs:
    """A test's own directories: tmp holds a private runtime root and overlay base, host is
    outside both (they are masked inside the overlay namespace). remove() unmounts whatever is
    left below them and deletes them; nothing else on the machine is looked at."""

    def __init__(self, prefix):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
        self.root = self.tmp / "root"
        self.base = self.tmp / "base"
        self.host = pathlib.Path(tempfile.mkdtemp(prefix=f"{prefix}-host-"))
        self.owned = [self.tmp, self.host]

    def upper(self, ns="default"):
        return self.base / ns / "upper"

    def remove(self):
        unmount_under(*self.owned)
        for d in self.owned:
            shutil.rmtree(d, ignore_errors=True)


class Runtime(OwnDirs):
    def __init__(self):
        super().__init__("reaper-rt")
        # FIFOs for test<->workload rendezvous must sit on a filesystem the overlay shares with
        # the host (/dev here): a FIFO on the host root is a different pipe through overlayfs.
        self.shared = pathlib.Path(tempfile.mkdtemp(prefix="reaper-rt-", dir="/dev/shm"))
        self.owned.append(self.shared)
        self.conf = self.tmp / "reaper.conf"
        self.conf.write_text(f"REAPER_RUNTIME_ROOT={self.root}\nREAPER_OVERLAY_BASE={self.base}\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REAPER_")}
        self.env["REAPER_CONFIG"] = str(self.conf)
        self.n = 0

    def bundle(self, args, *, env=None, cwd="/", user=None, terminal=False, namespace="default",
               annotations=None, mounts=None, extra_process=None, raw=None):
        """Write <tmp>/bundle-N/config.json and return the bundle directory."""
        self.n += 1
        b = self.tmp / f"bundle-{self.n}"
        b.mkdir()
        if raw is not None:
            (b / "config.json").write_text(raw)
            return b
        proc = {"terminal": terminal, "user": user or {"uid": 0, "gid": 0}, "args": args,
                "env": env if env is not None else ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "cwd": cwd}
        proc.update(extra_process or {})
        ann = {"io.kubernetes.cri.sandbox-namespace": namespace}
        ann.update(annotations or {})
        spec = {"ociVersion": "1.0.2", "process": proc, "root": {"path": "rootfs"},
                "mounts": mounts or [], "annotations": ann}
        (b / "config.json").write_text(json.dumps(spec))
        return b

    def cli(self, *args, check=True, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 60)
        p = subprocess.run([str(RUNTIME), *map(str, args)], env=self.env, text=True, **kw)
        if check:
            assert p.returncode == 0, f"{args}: rc={p.returncode} stderr={p.stderr}"
        return p

    def create(self, cid, bundle, *extra, check=True):
        """create with the workload's stdout/stderr in <host>/<cid>.out (a file, not a pipe:
        the workload keeps it open after the CLI exits)."""
        out = self.host / f"{cid}.out"
        with open(out, "w") as f:
            return self.cli("create", cid, "--bundle", bundle, *extra, stdout=f, stderr=f,
                            capture_output=False, check=check)

    def output(self, cid):
        return (self.host / f"{cid}.out").read_text()

    def state(self, cid):
        return json.loads(self.cli("state", cid).stdout)

    def wait_exit(self, pid):
        """Reap a workload orphaned to us; returns its exit status as containerd reports it."""
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
            128 + os.WTERMSIG(status)


@pytest.fixture
def rt():
    assert RUNTIME.exists(), f"{RUNTIME} not built"
    r = Runtime()
    assert _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield r
    finally:
        for cid in os.listdir(r.root) if r.root.exists() else []:
            if (r.root / cid / "state.json").exists():
                r.cli("delete", "--force", cid, check=False)
        reap_all()
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        r.remove()
