"""Pod lifecycles through CRI with every outcome checked, and an account of every resource a
lifecycle could leak. Shared by bench/soak.py (10,000 lifecycles) and test_soak.py (200).

A lifecycle: RunPodSandbox (or a container in a long-lived "resident" pod), a container that
logs, ExecSync into it, then its end: `exit N` or `kill -9 $$` chosen by the exec through a
FIFO, or StopContainer (SIGTERM trapped -> 0, SIGKILL -> 137); then the log is compared byte
for byte, the pod stopped and removed. The mix (namespace, named overlay, tty, volume, end) is
drawn from random.Random(seed, i): the same seed gives the same lifecycles.
"""
import os
import pathlib
import random
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from . import mounts, procs
from .wait import wait_for

H = "reaper-v2"
NAMESPACES = ("soak-a", "soak-b")
OVERLAYS = (None, "blue", "green")  # None: the namespace's own overlay
# (kind, expected exit code): the exec writes the code (or "kill") into the container's FIFO;
# stop-* end it through StopContainer (timeout 0 = SIGKILL at once; 10 = SIGTERM, trapped).
ENDS = (("exit", 0), ("exit", 1), ("exit", 42), ("selfkill", 137), ("stop-kill", 137),
        ("stop-term", 0))
LONG_LINE = 40000  # > containerd's 16 KiB line buffer: the log has partial (P) entries


class Mix:
    """One lifecycle's choices."""

    def __init__(self, seed, i):
        r = random.Random(seed * 1_000_003 + i)
        self.i = i
        self.namespace = r.choice(NAMESPACES)
        self.resident = r.random() < 0.2  # a container in the namespace's long-lived pod
        self.overlay = None if self.resident else r.choice(OVERLAYS)
        self.end, self.code = r.choice(ENDS)
        self.tty = r.random() < 0.3
        self.volume = r.random() < 0.3
        self.lines = r.randrange(1, 30)
        self.long = r.random() < 0.1
        self.exec_code = r.choice((0, 3))

    def label(self):
        return (f"{self.namespace}/{self.overlay or '-'} {self.end}:{self.code}"
                f"{' tty' if self.tty else ''}{' vol' if self.volume else ''}"
                f"{' resident' if self.resident else ''}")

    def script(self):
        """The container: FIFO first (the exec writes to it once "ready" is logged), output,
        then wait for its end."""
        i = self.i
        out = [f'seq 1 {self.lines} | sed "s/^/l{i}-/"', f"echo err-{i} >&2"]
        if self.long:
            out.append(f"head -c {LONG_LINE} /dev/zero | tr '\\0' x; echo")
        if self.volume:
            out.append(f"echo vol-{i} > /vol/{i}")
        if self.end == "stop-term":
            # "ready" once the child runs `sleep`: a SIGTERM between its fork and exec would
            # hit the trap it inherited and be lost, leaving a stray sleep (see bench/README)
            return "; ".join([f"trap 'kill $p 2>/dev/null; echo term-{i}; exit 0' TERM", *out,
                              "sleep 100000 & p=$!",
                              'until [ "$(cat /proc/$p/comm)" = sleep ]; do :; done',
                              f"echo ready-{i}", "wait"])
        fifo = f"/tmp/soak-{i}"
        # the exec sends its pid and the code; the container ends once the exec is gone (an
        # exec does not outlive its container: it would be killed, exit 137)
        return "; ".join([f"rm -f {fifo}; mkfifo {fifo}", *out, f"echo ready-{i}",
                          f"read epid code < {fifo}", f"rm {fifo}",
                          "while kill -0 $epid 2>/dev/null; do sleep 0.01; done",
                          '[ "$code" = kill ] && kill -9 $$', 'exit "$code"'])

    def exec_script(self):
        i = self.i
        cmd = [f"echo exec-{i}", f"echo exec-err-{i} >&2"]
        if self.end in ("exit", "selfkill"):
            word = "kill" if self.end == "selfkill" else str(self.code)
            cmd.append(f"echo $$ {word} > /tmp/soak-{i}")
        elif self.end == "stop-kill":  # the container dies in `read`, before its own rm
            cmd.append(f"rm /tmp/soak-{i}")
        return "; ".join([*cmd, f"exit {self.exec_code}"])

    def expected_log(self):
        """[(stream, text)] the CRI log must hold, in order within each stream."""
        i = self.i
        out = [("stdout", f"l{i}-{k}") for k in range(1, self.lines + 1)]
        err = [("stderr", f"err-{i}")]
        tail = [("stdout", "x" * LONG_LINE)] if self.long else []
        tail += [("stdout", f"ready-{i}")]
        if self.end == "stop-term":
            tail.append(("stdout", f"term-{i}"))
        if self.tty:  # one stream, in order
            return [("stdout", t) for _, t in out + err + tail]
        return out + err + tail


def by_stream(entries):
    return {s: [t for st, t in entries if st == s] for s in ("stdout", "stderr")}


class Soak:
    """Lifecycles against one private containerd (harness.containerd.Containerd)."""

    def __init__(self, ctd, workdir, seed=1):
        self.ctd, self.seed = ctd, seed
        self.token = f"soak-{os.getpid()}-{seed}"  # in every workload's environment
        self.vol = pathlib.Path(workdir) / "vol"
        self.vol.mkdir(parents=True, exist_ok=True)
        self.residents = {}  # namespace -> Pod

    # ---- one lifecycle ----
    def start_residents(self, cri):
        for ns in NAMESPACES:
            pod = cri.run_pod(f"resident-{ns}", namespace=ns, runtime_handler=H)
            cri.run_container(pod, "sleeper", command=["sleep", "100000"])
            self.residents[ns] = pod

    def warm_up(self, cri):
        """Create every overlay the mix uses (with its /tmp) and exec once into each resident,
        so that what lives as long as an overlay is in the baseline."""
        for ns in NAMESPACES:
            for ov in OVERLAYS:
                ann = {"reaper.runtime/overlay-name": ov} if ov else {}
                pod = cri.run_pod(f"warm-{ns}-{ov}", namespace=ns, runtime_handler=H,
                                  annotations=ann)
                cid = cri.run_container(pod, "w", command=[
                    "/bin/sh", "-c", "mkfifo /tmp/soak-warm && rm /tmp/soak-warm"],
                    mounts=[{"container_path": "/vol", "host_path": str(self.vol)}])
                code = cri.wait_exited(cid, timeout=30).exit_code
                assert code == 0, f"warm-up pod {ns}/{ov} exited {code}"
                cri.stop_pod(pod)
                cri.remove_pod(pod)
                shutil.rmtree(pod.log_dir)
            r = cri.exec_sync(self.residents[ns].containers["sleeper"], ["true"])
            assert r.exit_code == 0, r
        self.settle()

    def settle(self, timeout=60):
        """Wait until only the residents' shims are left (pod shims exit after RemovePodSandbox)."""
        wait_for(lambda: len(self.ctd.reaper_shim_pids()) == len(self.residents), timeout,
                 lambda: f"only the resident shims, have {self.ctd.reaper_shim_pids()}")

    def run_many(self, clients, count, progress=None, deadline=None):
        """Lifecycles 0..count-1, worker w (with clients[w]) taking w, w+W, ...; returns (what
        was wrong, how many ran). progress(done, problems) is called after each lifecycle; no
        new lifecycle starts after `deadline` (time.monotonic())."""
        problems, done = [], [0]

        def worker(w):
            for i in range(w, count, len(clients)):
                if deadline and time.monotonic() > deadline:
                    return
                try:
                    problems.extend(self.lifecycle(clients[w], i))
                except Exception as e:  # noqa: BLE001 - counted and reported
                    problems.append(f"#{i} ({Mix(self.seed, i).label()}): {e!r}"[:400])
                done[0] += 1
                if progress:
                    progress(done[0], problems)
        with ThreadPoolExecutor(len(clients)) as ex:
            list(ex.map(worker, range(len(clients))))
        return problems, done[0]

    def lifecycle(self, cri, i):
        """Run lifecycle i; returns a list of what was wrong (empty: every check passed)."""
        m = Mix(self.seed, i)
        ann = {"reaper.runtime/overlay-name": m.overlay} if m.overlay else {}
        pod = self.residents[m.namespace] if m.resident else cri.run_pod(
            f"soak-{i}", namespace=m.namespace, runtime_handler=H, annotations=ann)
        name = f"c{i}"
        mnt = [{"container_path": "/vol", "host_path": str(self.vol)}] if m.volume else []
        try:
            cid = cri.run_container(pod, name, command=["/bin/sh", "-c", m.script()],
                                    env={"SOAK_RUN": self.token}, mounts=mnt, tty=m.tty,
                                    stdin=m.tty)
            return self._drive(cri, m, pod, name, cid)
        finally:
            if m.resident and name in pod.containers:
                cri.remove_container(pod.containers.pop(name))
            else:
                cri.stop_pod(pod)
                cri.remove_pod(pod)
            # kubelet removes the logs of a removed container or pod
            shutil.rmtree(pod.log_dir / name if m.resident else pod.log_dir)

    def _drive(self, cri, m, pod, name, cid):
        wrong = []
        ready = ("stdout", f"ready-{m.i}")
        wait_for(lambda: ready in cri.read_log(pod, name), 30, f"{m.label()}: ready line")
        r = cri.exec_sync(cid, ["/bin/sh", "-c", m.exec_script()], timeout=30)
        if (r.exit_code, r.stdout, r.stderr) != (m.exec_code, f"exec-{m.i}\n".encode(),
                                                 f"exec-err-{m.i}\n".encode()):
            wrong.append(f"exec: {r.exit_code} {r.stdout!r} {r.stderr!r}")
        if m.end.startswith("stop-"):
            cri.stop_container(cid, timeout=10 if m.end == "stop-term" else 0)
        st = cri.wait_exited(cid, timeout=30)
        if st.exit_code != m.code:
            wrong.append(f"exit code {st.exit_code}, want {m.code}")
        got, want = cri.read_log(pod, name), m.expected_log()
        if (got if m.tty else by_stream(got)) != (want if m.tty else by_stream(want)):
            wrong.append(f"log: got {summary(got)}, want {summary(want)}")
        if m.volume:
            f = self.vol / str(m.i)
            if f.read_text() != f"vol-{m.i}\n":
                wrong.append(f"volume file: {f.read_text()!r}")
            f.unlink()
        return [f"#{m.i} ({m.label()}): {w}" for w in wrong]

    # ---- the account ----
    def long_lived(self):
        """{name: pid} of the processes that must outlive every lifecycle."""
        out = {"containerd": self.ctd.proc.pid}
        for ns, pod in self.residents.items():
            cid = pod.containers["sleeper"]
            out[f"shim {ns}"] = self.ctd.shim_pid_of(cid, ns="k8s.io")
        return out

    def snapshot(self, cri, extra=None):
        """{resource: value}; values are counts (fds, RSS) or sorted lists of names (paths,
        pids, ids). extra: {name: pid} of other long-lived processes (the agent)."""
        lived = {**self.long_lived(), **(extra or {})}
        acc = {}
        for name, pid in lived.items():
            acc[f"fds: {name}"] = len(os.listdir(f"/proc/{pid}/fd"))
        root = self.ctd.dirs["reaper_root"]
        acc["mounts under the test dir"] = sorted(mounts.mounts_under(self.ctd.dir))
        acc["reaper state root entries"] = tree(root, depth=2)
        acc["overlay root entries"] = tree(self.ctd.dirs["reaper_overlay"], depth=3)
        acc["files in overlay uppers"] = upper_files(self.ctd.dirs["reaper_overlay"])
        acc["containerd bundles"] = tree(
            self.ctd.dirs["state"] / "io.containerd.runtime.v2.task", depth=2)
        acc["reaper shims"] = sorted(self.ctd.reaper_shim_pids())
        acc["workload processes"] = sorted(procs.with_environ(f"SOAK_RUN={self.token}"))
        acc["zombies"] = sorted(zombies([os.getpid(), *acc["reaper shims"]]))
        acc["containerd tasks (k8s.io)"] = sorted(
            self.ctd.ctr("tasks", "ls", "-q", namespace="k8s.io", check=True).stdout.split())
        acc["CRI pods"] = sorted(p.id for p in cri.list_pods())
        acc["CRI containers"] = sorted(c.id for c in cri.list_containers())
        acc["volume dir files"] = sorted(os.listdir(self.vol))
        for name, pid in lived.items():
            acc[f"RSS KiB: {name}"] = rss_kib(pid)
        return acc


def is_rss(key):
    return key.startswith("RSS")


def growth(before, after):
    """{resource: (before, after, growth)}: counts for lists (with what was added/removed)."""
    out = {}
    for k in before:
        b, a = before[k], after[k]
        if isinstance(b, list):
            added = sorted(set(a) - set(b))
            removed = sorted(set(b) - set(a))
            out[k] = (len(b), len(a), len(a) - len(b), added[:5], removed[:5])
        else:
            out[k] = (b, a, a - b, [], [])
    return out


def leaks(before, after):
    """The resources that grew or changed (RSS excepted: reported, judged by the reader)."""
    return {k: v for k, v in growth(before, after).items()
            if not is_rss(k) and (v[2] != 0 or v[3] or v[4])}


def tree(top, depth):
    """Paths below top down to depth (not into mounts), as strings relative to top."""
    top = pathlib.Path(top)
    out = []

    def walk(d, level):
        try:
            entries = sorted(d.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return
        for e in entries:
            out.append(str(e.relative_to(top)))
            if level < depth and e.is_dir() and not e.is_symlink() and not os.path.ismount(e):
                walk(e, level + 1)
    walk(top, 1)
    return out


def upper_files(base):
    """Every path inside the overlays' upper layers (what workloads left in the overlay)."""
    out = []
    for upper in pathlib.Path(base).rglob("upper"):
        for dirpath, dirs, files in os.walk(upper):
            out += [os.path.relpath(os.path.join(dirpath, n), base) for n in dirs + files]
    return sorted(out)


def zombies(parents):
    """Zombie processes among the descendants of parents."""
    return {p for top in parents for p in procs.descendants(top) if procs.proc_state(p) == "Z"}


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def summary(entries, limit=3):
    short = [(s, t if len(t) < 40 else f"{t[:20]}...({len(t)} chars)") for s, t in entries]
    return f"{len(entries)} entries {short[:limit]}...{short[-limit:]}"


def format_table(before, after):
    """Rows of the account: resource, before, after, growth (+ what was added/removed)."""
    rows = [f"{'resource':<36}{'before':>10}{'after':>10}{'growth':>8}"]
    for k, (b, a, g, added, removed) in growth(before, after).items():
        note = (f"  +{added}" if added else "") + (f"  -{removed}" if removed else "")
        rows.append(f"{k:<36}{b:>10}{a:>10}{g:>+8}{note}")
    return "\n".join(rows)
