#!/usr/bin/python3
"""Checkpoint/restore of a counter through reaper-runtime next to bare `criu dump`/`criu restore`
of the same kind of process (a plain host process), in one run.

Prints median (min-max) of the checkpoint time, the restore time (whole CLI invocations) and the
image size, and Reaper's overhead. A benchmark, never a test: nothing asserts on time.
Needs root and a CRIU that works on this kernel: REAPER_TEST_CRIU, else REAPER_CRIU, else `criu`
on PATH. BENCH_N sets the rounds (10)."""
import ctypes
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))

from criu_env import criu_check, find_criu  # noqa: E402
from harness.mounts import unmount_under  # noqa: E402

BUILD = pathlib.Path(os.environ.get("REAPER_BUILD", REPO / "build")).resolve()
RUNTIME = BUILD / "src/runtime/reaper-runtime"
N = int(os.environ.get("BENCH_N", "10"))
COUNTER = 'i=0; while :; do i=$((i+1)); echo $i; echo $i >> /tmp/bench-counter; sleep 0.05; done'
PR_SET_CHILD_SUBREAPER = 36


def drain(fd):
    """Read a pipe to EOF in the background, returning the first line (the counter runs)."""
    f = os.fdopen(fd, "r")
    first = f.readline()
    threading.Thread(target=lambda: f.read(), daemon=True).start()
    return first


def timed(argv, **kw):
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=kw.pop("capture_output", True), text=True, **kw)
    ms = (time.monotonic() - t0) * 1000
    if p.returncode != 0:
        sys.exit(f"{argv[:2]} failed: {p.stderr}")
    return ms


def image_kib(img):
    return sum(f.stat().st_size for f in img.iterdir() if not f.name.endswith(".log")) / 1024


def reap_session(pid):
    """Reap every zombie of the dumped init's session orphaned to us (CRIU needs the pids, the
    group and the session free again); the init itself is reaped by the caller."""
    for p in pathlib.Path("/proc").iterdir():
        try:
            f = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(f[1]) == os.getpid() and int(f[3]) == pid:
            os.waitpid(int(p.name), 0)


class Reaper:
    def __init__(self, tmp, criu):
        self.tmp = tmp
        conf = tmp / "reaper.conf"
        conf.write_text(f"REAPER_RUNTIME_ROOT={tmp}/root\nREAPER_OVERLAY_BASE={tmp}/base\n"
                        f"REAPER_CRIU={criu}\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REAPER_")}
        self.env["REAPER_CONFIG"] = str(conf)
        self.bundle = tmp / "bundle"
        self.bundle.mkdir()
        spec = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "mounts": [],
                "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                            "args": ["sh", "-c", COUNTER],
                            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
                "annotations": {"io.kubernetes.cri.sandbox-namespace": "default"}}
        (self.bundle / "config.json").write_text(json.dumps(spec))

    def cli(self, *args, **kw):
        return timed([str(RUNTIME), *map(str, args)], env=self.env, **kw)

    def with_output(self, *args):
        r, w = os.pipe()
        try:
            ms = self.cli(*args, stdout=w, stderr=subprocess.DEVNULL, capture_output=False)
        finally:
            os.close(w)
        return ms, r

    def round(self, i):
        img = self.tmp / f"img-{i}"
        _, r = self.with_output("create", "c", "--bundle", self.bundle)
        pid = json.loads(subprocess.run([str(RUNTIME), "state", "c"], env=self.env,
                                        capture_output=True, text=True).stdout)["pid"]
        self.cli("start", "c")
        drain(r)
        dump = self.cli("checkpoint", "--image-path", img, "c")
        os.waitpid(pid, 0)
        reap_session(pid)
        self.cli("delete", "c")
        restore, r = self.with_output("restore", "--image-path", img, "--bundle", self.bundle,
                                      "--detach", "c")
        drain(r)
        self.cli("kill", "c", "KILL")
        os.waitpid(pid, 0)
        self.cli("delete", "c")
        return dump, restore, image_kib(img)


class Bare:
    def __init__(self, tmp, criu):
        self.tmp, self.criu = tmp, criu

    def round(self, i):
        img = self.tmp / f"bare-{i}"
        img.mkdir()
        r, w = os.pipe()
        p = subprocess.Popen(["sh", "-c", COUNTER.replace("/tmp/", f"{self.tmp}/")],
                             stdout=w, stderr=w, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        os.close(w)
        drain(r)
        link = os.readlink(f"/proc/{p.pid}/fd/1")
        dump = timed([self.criu, "dump", "-t", str(p.pid), "-D", img, "-o", "dump.log", "-v4"])
        p.wait()
        reap_session(p.pid)
        r2, w2 = os.pipe()
        pidfile = img / "restore.pid"
        restore = timed([self.criu, "restore", "-D", img, "-o", "restore.log", "-v4",
                         "--restore-detached", "--restore-sibling", "--pidfile", pidfile,
                         "--inherit-fd", f"fd[{w2}]:{link}"], pass_fds=(w2,))
        os.close(w2)
        drain(r2)
        pid = int(pidfile.read_text())
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        return dump, restore, image_kib(img)


def stats(xs):
    return statistics.median(xs), min(xs), max(xs)


def main():
    criu = find_criu()
    why = criu_check(criu) if criu else "no criu found"
    if why:
        sys.exit(f"cannot benchmark: {why}")
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="reaper-bench-ckpt-"))
    try:
        sides = {"reaper-runtime": Reaper(tmp, criu), "bare criu": Bare(tmp, criu)}
        results = {name: [] for name in sides}
        for i in range(N):  # alternate, so machine noise hits both alike
            for name, side in sides.items():
                results[name].append(side.round(i))
    finally:
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"checkpoint/restore of a shell counter, N={N}, {criu}, median (min-max)")
    print(f"| {'':16} | {'checkpoint ms':22} | {'restore ms':22} | {'image KiB':10} |")
    print(f"|{'-' * 18}|{'-' * 24}|{'-' * 24}|{'-' * 12}|")
    med = {}
    for name, rows in results.items():
        cols = [stats([r[k] for r in rows]) for k in range(3)]
        med[name] = [c[0] for c in cols]
        print(f"| {name:16} | {cols[0][0]:7.1f} ({cols[0][1]:.1f}-{cols[0][2]:.1f})".ljust(44) +
              f"| {cols[1][0]:7.1f} ({cols[1][1]:.1f}-{cols[1][2]:.1f})".ljust(25) +
              f"| {cols[2][0]:10.0f} |")
    a, b = med["reaper-runtime"], med["bare criu"]
    print(f"| {'Reaper overhead':16} | {a[0] - b[0]:+7.1f}".ljust(44) +
          f"| {a[1] - b[1]:+7.1f}".ljust(25) + f"| {a[2] - b[2]:+10.0f} |")


if __name__ == "__main__":
    main()
