"""A private containerd 1.6 for integration tests.

Everything lives under one short temp dir (unix socket paths must stay < 108 bytes): root,
state, sockets, CNI dirs, the reaper runtime root/overlay base and logs. The system containerd
(/run/containerd/containerd.sock, /var/lib/containerd, /etc/containerd) is never touched; the
runc shim's sockets under /run/containerd/s are the one exception containerd 1.6 imposes, and
teardown kills every shim that names our address.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import grpc

from . import cri, mounts, procs

CRI = 'plugins."io.containerd.grpc.v1.cri"'
DISABLED_PLUGINS = [
    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]  # io.containerd.runtime.v1.linux stays: the tasks service (and so CRI) requires it
CRI_LOAD_FAILED = 'failed to load plugin io.containerd.grpc.v1.cri"'
REAPER_ANNOTATIONS = '["reaper.runtime/*"]'
READY_DEADLINE = 20.0
SANITIZER_REPORT = "asan"  # reports land in <report dir>/asan.<pid>


def sanitizer_env(report_dir):
    """ASan/UBSan options for the Reaper binaries containerd starts (inert for other builds).

    The shim daemon's stdio is /dev/null, so reports go to files that the tests check
    (Containerd.sanitizer_reports). ASan stops the process at its first error (its default);
    UBSan keeps going, as the report file alone fails the test. LSan runs when a process exits
    normally (the shim daemon when idle or on SIGTERM): the shim frees what it allocates."""
    log = f"log_path={report_dir}/{SANITIZER_REPORT}"
    return {"ASAN_OPTIONS": f"{log}:detect_leaks=1:abort_on_error=0",
            "UBSAN_OPTIONS": f"{log}:print_stacktrace=1:halt_on_error=0"}


def _toml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def reaper_runtime_toml():
    rt = f"{CRI}.containerd.runtimes"
    return f"""    [{rt}.reaper-v2]
      runtime_type = "io.containerd.reaper.v2"
      pod_annotations = {REAPER_ANNOTATIONS}
      container_annotations = {REAPER_ANNOTATIONS}
"""


def render_config(d, snapshotter, sandbox_image, with_reaper=True):
    """The containerd config.toml (version 2) text for temp dir layout `d`.

    with_reaper=False leaves the Reaper runtime out, for a test that registers it with
    scripts/configure-containerd.sh the way an operator would."""
    rt = f"{CRI}.containerd.runtimes"
    return f"""version = 2
root = "{d['root']}"
state = "{d['state']}"
disabled_plugins = {_toml_list(DISABLED_PLUGINS)}

[grpc]
  address = "{d['sock']}"
[ttrpc]
  address = "{d['sock']}.ttrpc"
[debug]
  level = "debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d['opt']}"

[{CRI}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_cgroup = false
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{CRI}.containerd]
    snapshotter = "{snapshotter}"
    default_runtime_name = "runc"
    [{rt}.runc]
      runtime_type = "io.containerd.runc.v2"
      [{rt}.runc.options]
        BinaryName = "runc"
{reaper_runtime_toml() if with_reaper else ""}  [{CRI}.cni]
    bin_dir = "{d['cni_bin']}"
    conf_dir = "{d['cni_conf']}"
"""


def overlay_works(workdir):
    """Trial overlay mount inside workdir: the overlayfs snapshotter needs it on this fs."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="ovl-", dir=workdir))
    parts = [base / p for p in ("l", "u", "w", "m")]
    for p in parts:
        p.mkdir()
    opts = f"lowerdir={parts[0]},upperdir={parts[1]},workdir={parts[2]}"
    ok = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(parts[3])],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(parts[3])], check=True)
    shutil.rmtree(base)
    return ok


class Containerd:
    """One private containerd process plus its temp tree. Use start()/stop() or a fixture."""

    def __init__(self, image, reaper_build, configure=None, run_dir=None):
        """configure: None (the harness registers Reaper itself) or a callable given the
        config.toml path (without Reaper) that registers it before containerd starts.
        run_dir: where the state that a node keeps in /run (a tmpfs) goes: containerd's state
        dir (runc's too) and Reaper's runtime root. Default: inside the temp tree."""
        self.image = image
        self.configure = configure
        self.reaper_build = pathlib.Path(reaper_build)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
        self.proc = None
        self.teardown_errors = []
        names = ["root", "state", "opt", "cni_bin", "cni_conf", "bin", "reaper_root",
                 "reaper_overlay", "pods", "sanitizer"]
        self.dirs = {n: self.dir / n for n in names}
        if run_dir is not None:
            run = pathlib.Path(tempfile.mkdtemp(prefix="rc-run-", dir=run_dir))
            self.dirs.update(state=run / "state", reaper_root=run / "reaper_root")
            self.trees = [self.dir, run]
        else:
            self.trees = [self.dir]
        for p in self.dirs.values():
            p.mkdir()
        self.dirs["sock"] = self.dir / "c.sock"
        self.address = str(self.dirs["sock"])
        self.log_path = self.dir / "containerd.log"
        self.shim_log = self.dir / "reaper-shim.log"
        self.reaper_config = self.dir / "reaper.conf"
        self.pods_dir = self.dirs["pods"]
        self.final_sanitizer_reports = {}  # what stop() found before removing the temp tree
        self.snapshotter = "overlayfs" if overlay_works(self.dir) else "native"

    # ---- setup ----
    def _write_files(self):
        shim = self.reaper_build / "src/shim/containerd-shim-reaper-v2"
        (self.dirs["bin"] / "containerd-shim-reaper-v2").symlink_to(shim)
        self.reaper_config.write_text(
            f"REAPER_RUNTIME_ROOT={self.dirs['reaper_root']}\n"
            f"REAPER_OVERLAY_BASE={self.dirs['reaper_overlay']}\n"
            f"REAPER_SHIM_LOG={self.shim_log}\n")
        self.config_path = self.dir / "config.toml"
        self.config_path.write_text(render_config(
            {k: str(v) for k, v in self.dirs.items()}, self.snapshotter, self.image.ref,
            with_reaper=self.configure is None))
        if self.configure:
            self.configure(self.config_path)

    def set_reaper_config(self, key, value):
        """Set a node config key for the Reaper binaries started from now on (shims read
        reaper.conf when they start)."""
        lines = [ln for ln in self.reaper_config.read_text().splitlines()
                 if not ln.startswith(f"{key}=")]
        self.reaper_config.write_text("\n".join(lines + [f"{key}={value}"]) + "\n")

    def env(self):
        env = dict(os.environ)
        env["PATH"] = f"{self.dirs['bin']}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
        env["REAPER_CONFIG"] = str(self.reaper_config)
        env.update(sanitizer_env(self.dirs["sanitizer"]))  # containerd passes it to the shims
        return env

    def start(self):
        self._write_files()
        self._spawn()
        for ns in ("k8s.io", "default"):
            self.ctr("images", "import", "--snapshotter", self.snapshotter, str(self.image.tar),
                     namespace=ns, check=True)
        return self

    def _spawn(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["containerd", "--config", str(self.config_path)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env(), cwd=self.dir)
        self._wait_ready()

    def restart(self, while_down=None, sig=signal.SIGTERM):
        """Stop containerd alone (shims and workloads keep running) and start it again;
        while_down() runs in between. sig=SIGKILL: a crash, whatever it was doing."""
        if sig == signal.SIGKILL:
            self.proc.kill()
            self.proc.wait()
        else:
            self._terminate()
        if while_down:
            while_down()
        self._spawn()

    def restart_after_crash(self):
        """Start containerd again after the test killed it (proc.kill) and changed its node."""
        self._spawn()

    def _wait_ready(self):
        # Test code only: a bounded retry until containerd's CRI answers.
        deadline = time.monotonic() + READY_DEADLINE
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited {self.proc.returncode}:\n{self.log_tail()}")
            if CRI_LOAD_FAILED in self.log_path.read_text(errors="replace"):
                raise RuntimeError(f"containerd's CRI plugin did not load:\n{self.log_tail()}")
            try:
                if self.dirs["sock"].exists():
                    self.version = cri.version(self.address)
                    return
            except Exception as e:  # noqa: BLE001 - any failure means "not ready yet"
                last = e
            else:
                last = None
            if time.monotonic() > deadline:
                raise RuntimeError(f"containerd not ready after {READY_DEADLINE}s ({last}):\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)

    # ---- helpers ----
    def ctr(self, *args, namespace="default", check=False, timeout=60):
        cmd = ["ctr", "-a", self.address, "-n", namespace, *map(str, args)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed {res.returncode}: {res.stderr}")
        return res

    def log_tail(self, n=60):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def shim_pids(self):
        """Every shim (runc's and Reaper's) this containerd started."""
        return procs.shims_for_address(self.address)

    def reaper_shim_pids(self):
        return procs.shims_for_address(self.address, procs.REAPER_SHIM)

    def bundle_dir(self, cid, ns="default"):
        return self.dirs["state"] / "io.containerd.runtime.v2.task" / ns / cid

    def shim_socket(self, cid, ns="default"):
        """The path of the ttrpc socket serving task cid (from its bundle's address file)."""
        addr = (self.bundle_dir(cid, ns) / "address").read_text().strip()
        assert addr.startswith("unix://"), addr
        return addr[len("unix://"):]

    def shim_pid_of(self, cid, ns="default"):
        """The Reaper shim serving cid (Connect reports it only to containerd: find the process
        holding the task's socket)."""
        sock = self.shim_socket(cid, ns)
        pid = procs.socket_holder(self.reaper_shim_pids(), sock)
        assert pid, f"no shim of {self.address} serves {sock}"
        return pid

    def sanitizer_reports(self):
        """{file name: text} of every ASan/UBSan/LSan report written so far."""
        return {p.name: p.read_text(errors="replace")
                for p in sorted(self.dirs["sanitizer"].glob(SANITIZER_REPORT + ".*"))}

    # ---- teardown ----
    def _clean_ctr_namespace(self, ns):
        for line in self.ctr("tasks", "ls", "-q", namespace=ns).stdout.split():
            self.ctr("tasks", "kill", "-a", "-s", "SIGKILL", line, namespace=ns)
            self.ctr("tasks", "delete", "-f", line, namespace=ns)
        for line in self.ctr("containers", "ls", "-q", namespace=ns).stdout.split():
            self.ctr("containers", "rm", line, namespace=ns)

    def _remove_cri_pods(self):
        client = cri.CriClient(self.address, self.pods_dir, self.image.ref)
        try:
            self.teardown_errors += client.remove_all_pods()
        finally:
            client.close()

    def _drain(self):
        """Best effort, like a node drain: CRI pods first, then ctr tasks of `default`."""
        for step in (self._remove_cri_pods, lambda: self._clean_ctr_namespace("default")):
            try:
                step()
            except (grpc.RpcError, subprocess.SubprocessError, OSError) as e:
                self.teardown_errors.append(f"drain: {e!r}")

    def _terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.teardown_errors.append("containerd ignored SIGTERM for 15 s")
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """Drain, stop containerd, kill our leftover shims, unmount and remove the temp tree."""
        try:
            if self.proc and self.proc.poll() is None:
                try:
                    self._drain()
                finally:
                    self._terminate()
        finally:
            shims = self.shim_pids()
            sockets = procs.unix_sockets_of(shims)
            procs.kill_all(shims)
            self.final_sanitizer_reports = self.sanitizer_reports()  # LSan reports at shim exit
            procs.unlink_stale(sockets)
            for tree in self.trees:
                mounts.unmount_under(tree)
                shutil.rmtree(tree, ignore_errors=True)
