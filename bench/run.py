#!/usr/bin/python3
"""Reaper vs runc, side by side through ONE private containerd, in one run.

Prints a table (median, min, max, ratio Reaper/runc, target) and writes JSON to
bench/results/<UTC time>.json. A benchmark, never a test: nothing here asserts on time.
"""
import datetime
import hashlib
import json
import os
import pathlib
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))

from harness.containerd import Containerd  # noqa: E402
from harness.cri import CriClient  # noqa: E402
from harness.image import build_test_image  # noqa: E402
from shimutil import frame, ld, read_frame, request  # noqa: E402

RUNTIMES = {"reaper": ("reaper-v2", "io.containerd.reaper.v2"),
            "runc": ("runc", "io.containerd.runc.v2")}
N = int(os.environ.get("BENCH_N", "30"))
POLL = 0.002  # ContainerStatus poll interval: CRI 1.6 has no exit events
SCALE_PODS = int(os.environ.get("BENCH_SCALE_PODS", "100"))


def reaper_build():
    """REAPER_BUILD, else the release build (scripts/build-release.sh) if built, else build/."""
    if "REAPER_BUILD" in os.environ:
        return pathlib.Path(os.environ["REAPER_BUILD"]).resolve()
    release = REPO / "build-release"
    shim = "src/shim/containerd-shim-reaper-v2"
    return release if (release / shim).exists() else REPO / "build"


def ms_since(t0):
    return (time.monotonic() - t0) * 1000


def alternate(n, fn):
    """Run fn(runtime, i) n times per runtime, alternating to spread machine noise."""
    out = {rt: [] for rt in RUNTIMES}
    for i in range(n):
        for rt in RUNTIMES:
            out[rt].append(fn(rt, i))
    return out


def bench_ctr_true(ctd, image):
    def one(rt, i):
        argv = ["ctr", "-a", ctd.address, "-n", "default", "run", "--rm", "--runtime",
                RUNTIMES[rt][1], "--rootfs", str(image.rootfs), f"b-{rt}-{i}", "/bin/true"]
        t0 = time.monotonic()
        subprocess.run(argv, check=True, capture_output=True, env=ctd.env())
        return ms_since(t0)
    return alternate(N, one)


def bench_ctr_floor(ctd):
    """What every `ctr run` pays before any runtime work: starting the ctr CLI and one RPC."""
    def one(rt, i):
        t0 = time.monotonic()
        subprocess.run(["ctr", "-a", ctd.address, "version"], check=True, capture_output=True,
                       env=ctd.env())
        return ms_since(t0)
    return alternate(N // 2 or 1, one)


def bench_cri_sandbox_only(cri):
    """RunPodSandbox + StopPodSandbox + RemovePodSandbox: containerd's pod bookkeeping plus
    the shim's start and stop, without a container (the floor under the round trip)."""
    def one(rt, i):
        t0 = time.monotonic()
        pod = cri.run_pod(f"sb-{rt}-{i}", runtime_handler=RUNTIMES[rt][0])
        cri.stop_pod(pod)
        cri.remove_pod(pod)
        return ms_since(t0)
    return alternate(max(N // 2, 15), one)


TIMING_LINE = re.compile(r" timing (\S+) (\d+) us cpu (\d+) us$")


def shim_timings(log, start):
    """The Reaper shim's timing lines (REAPER_SHIM_TIMING) written to log after offset start:
    [(what, wall microseconds, CPU microseconds)]."""
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    return [(m[1], int(m[2]), int(m[3])) for m in map(TIMING_LINE.search, text.splitlines())
            if m]


def bench_cri_roundtrip(ctd, cri):
    """The round trip, and for Reaper the shim's own share of it: the sum of the durations the
    shims logged (every RPC, exit handled, start/delete command) during the lifecycle, wall
    clock and CPU time (the CPU time does not grow with the machine's load)."""
    share, cpu, parts = [], [], {}

    def one(rt, i):
        start = ctd.shim_log.stat().st_size if ctd.shim_log.exists() else 0
        t0 = time.monotonic()
        pod = cri.run_pod(f"rt-{rt}-{i}", runtime_handler=RUNTIMES[rt][0])
        cid = cri.run_container(pod, "c", command=["/bin/true"])
        cri.wait_exited(cid, timeout=30, interval=POLL)
        cri.stop_pod(pod)
        cri.remove_pod(pod)
        ms = ms_since(t0)
        if rt == "reaper" and ctd.shim_log.exists():
            t = shim_timings(ctd.shim_log, start)
            share.append(sum(us for _, us, _ in t) / 1000)
            cpu.append(sum(c for _, _, c in t) / 1000)
            for what, us, c in t:
                w0, c0 = parts.get(what, (0, 0))
                parts[what] = (w0 + us, c0 + c)
        return ms
    out = summarize(alternate(max(N // 2, 15), one))
    if share:  # lines a shim writes after RemovePodSandbox returns land in the next window
        out["reaper_shim_share_ms"] = {
            "median": statistics.median(share), "min": min(share), "max": max(share),
            "cpu_median": statistics.median(cpu),
            "mean_by_step_ms": {k: (w / 1000 / len(share), c / 1000 / len(share))
                                for k, (w, c) in sorted(parts.items())}}
    return out


def remove_pods(cri, pods):
    for p in pods:
        cri.stop_pod(p)
        cri.remove_pod(p)


def bench_exec(cri):
    pods = {rt: cri.run_pod(f"exec-{rt}", runtime_handler=RUNTIMES[rt][0]) for rt in RUNTIMES}
    cids = {rt: cri.run_container(pods[rt], "s", command=["sleep", "1000"]) for rt in RUNTIMES}

    def one(rt, i):
        t0 = time.monotonic()
        r = cri.exec_sync(cids[rt], ["/bin/true"])
        assert r.exit_code == 0
        return ms_since(t0)
    try:
        return alternate(N, one)
    finally:
        remove_pods(cri, pods.values())


def build_stamp(workdir):
    """bench/stamp.c, static, in its own dir (bind-mounted at /bench into the containers)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="stamp-", dir=workdir))
    subprocess.run(["cc", "-O2", "-static", "-o", str(d / "stamp"), str(REPO / "bench/stamp.c")],
                   check=True)
    return d


def bench_machine_floor(workdir):
    """bench/floor.c: what this machine's kernel charges for a fork, an exec of the shim and
    the exit -> waiter -> client wake-up chain (no runtime involved)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="floor-", dir=workdir))
    subprocess.run(["cc", "-O2", "-static", "-o", str(d / "floor"), str(REPO / "bench/floor.c")],
                   check=True)
    shim = reaper_build() / "src/shim/containerd-shim-reaper-v2"
    out = subprocess.run([str(d / "floor"), str(shim)], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def shim_socket(ctd, cid):
    addr = (ctd.dirs["state"] / "io.containerd.runtime.v2.task/k8s.io" / cid / "address")
    return addr.read_text().strip().removeprefix("unix://")


def wait_response_ns(sock_path, cid):
    """Send Task.Wait(cid) on the shim's own socket; return time_ns() when the answer arrives."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        body = request("containerd.task.v2.Task", "Wait", ld(1, cid.encode()), namespace="k8s.io")
        s.sendall(frame(len(body), 1) + body)
        got = read_frame(s)
        t = time.time_ns()
    assert got and got[0] == 1, got
    return t


def bench_exit_latency(ctd, cri, workdir):
    """From the workload's last act (a CLOCK_REALTIME stamp) to the Wait response (ms).
    CRI creates the task in StartContainer; the workload sleeps 200 ms first, so the Wait is
    parked on the shim long before the exit."""
    stamp_dir = build_stamp(workdir)
    pods = {rt: cri.run_pod(f"lat-{rt}", runtime_handler=RUNTIMES[rt][0]) for rt in RUNTIMES}
    mount = [{"container_path": "/bench", "host_path": str(stamp_dir)}]

    def one(rt, i):
        out = stamp_dir / f"{rt}-{i}"
        cid = cri.create_container(pods[rt], f"l{i}", command=[
            "/bin/sh", "-c", f"sleep 0.2; exec /bench/stamp /bench/{out.name}"], mounts=mount)
        cri.start_container(cid)
        t = wait_response_ns(shim_socket(ctd, cid), cid)
        cri.wait_exited(cid, timeout=30)  # containerd has handled the exit too
        cri.remove_container(cid)
        return (t - int(out.read_text())) / 1e6
    try:
        return alternate(N, one)
    finally:
        remove_pods(cri, pods.values())


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            f = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # utime stime cutime cstime
    return total / tick


def bench_scale(ctd, cri, n):
    """n pods at once, each `sleep 5`: seconds until all RUNNING, until all exits collected,
    shim CPU seconds (with reaped children), failures."""
    out = {}
    for rt in RUNTIMES:
        before = set(ctd.shim_pids())
        failures = []

        def start(i):
            try:
                pod = cri.run_pod(f"scale-{rt}-{i}", runtime_handler=RUNTIMES[rt][0])
                return pod, cri.run_container(pod, "s", command=["sleep", "5"])
            except Exception as e:  # noqa: BLE001 - counted, reported
                failures.append(repr(e)[:200])
                return None
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=32) as ex:
            started = [x for x in ex.map(start, range(n)) if x]
        running = time.monotonic() - t0
        for _, cid in started:
            st = cri.wait_exited(cid, timeout=120)
            if st.exit_code != 0:
                failures.append(f"{cid[:12]} exit {st.exit_code}")
        exited = time.monotonic() - t0
        shims = set(ctd.shim_pids()) - before
        cpu = cpu_seconds(shims)
        with ThreadPoolExecutor(max_workers=32) as ex:
            list(ex.map(lambda pc: (cri.stop_pod(pc[0]), cri.remove_pod(pc[0])), started))
        out[rt] = {"pods": n, "all_running_s": running, "all_exited_s": exited,
                   "shim_cpu_s": cpu, "shims": len(shims), "failures": len(failures),
                   "failure_samples": failures[:3]}
    return out


def rss_pss_kib(pid):
    rss = pss = 0
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def bench_memory(ctd, cri):
    """Shim processes serving one running pod with 2 containers: total RSS and PSS (KiB)."""
    out = {}
    for rt in RUNTIMES:
        before = set(ctd.shim_pids())
        pod = cri.run_pod(f"mem-{rt}", runtime_handler=RUNTIMES[rt][0])
        cri.run_container(pod, "a", command=["sleep", "1000"])
        cri.run_container(pod, "b", command=["sleep", "1000"])
        shims = set(ctd.shim_pids()) - before
        sums = [sum(x) for x in zip(*(rss_pss_kib(p) for p in shims))]
        out[rt] = {"shims": len(shims), "rss_kib": sums[0], "pss_kib": sums[1]}
        cri.stop_pod(pod)
        cri.remove_pod(pod)
    return out


def bench_logs(cri, mb=200):
    """mb MB to stdout -> CRI log: MB/s from StartContainer to EXITED, and byte-exactness."""
    line = "x" * 99 + "\n"
    count = mb * 1000 * 1000 // len(line)
    want = hashlib.sha256((line * count).encode()).hexdigest()
    out = {}
    for rt in RUNTIMES:
        pod = cri.run_pod(f"log-{rt}", runtime_handler=RUNTIMES[rt][0])
        cid = cri.create_container(pod, "w", command=[
            "/bin/sh", "-c", f"yes {'x' * 99} | head -n {count}"])
        t0 = time.monotonic()
        cri.start_container(cid)
        cri.wait_exited(cid, timeout=300)
        secs = (time.monotonic() - t0)
        got = hashlib.sha256()
        for stream, text in cri.read_log(pod, "w"):
            got.update((text + "\n").encode())
        out[rt] = {"mb_per_s": mb / secs, "exact": got.hexdigest() == want}
        cri.stop_pod(pod)
        cri.remove_pod(pod)
    return out


def summarize(samples):
    return {rt: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
            for rt, v in samples.items()}


def machine():
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")}


def row(label, reaper, runc, ratio, target):
    print(f"{label:<34}{reaper:>22}{runc:>22}{ratio:>8.3f}  {target}")


def timing_rows(res):
    for key, target in (("ctr_run_true_ms", "<= 0.15 x runc"),
                        ("ctr_cli_floor_ms", "(floor: ctr version)"),
                        ("cri_pod_roundtrip_ms", "<= 0.12 x runc"),
                        ("cri_sandbox_only_ms", "(floor: pod only)"),
                        ("exec_sync_true_ms", "<= 0.2 x runc"),
                        ("exit_latency_ms", "median <= 2 ms")):
        if key not in res:
            continue
        s = res[key]
        fmt = ".2f" if key == "exit_latency_ms" else ".1f"
        cell = {rt: f"{s[rt]['median']:{fmt}} ({s[rt]['min']:{fmt}}-{s[rt]['max']:{fmt}})"
                for rt in RUNTIMES}
        row(key, cell["reaper"], cell["runc"], s["reaper"]["median"] / s["runc"]["median"], target)
        if key == "cri_pod_roundtrip_ms" and "reaper_shim_share_ms" in s:
            sh = s["reaper_shim_share_ms"]
            print(f"{'  of which inside Reaper shims':<34}"
                  f"{sh['median']:>10.2f} ({sh['min']:.2f}-{sh['max']:.2f})"
                  f"{'':>22}{'':>8}  <= 3 ms in total")
            print(f"{'  ... CPU time of that':<34}{sh['cpu_median']:>10.2f}")
            print("    mean per lifecycle, ms (CPU): " + ", ".join(
                f"{k} {w:.2f} ({c:.2f})" for k, (w, c) in sh["mean_by_step_ms"].items()))
            if "machine_floor" in res:  # start forks the daemon, Create forks the workload
                print(f"{'  ... 2 forks at this machine':<34}"
                      f"{2 * res['machine_floor']['fork_ms']:>10.2f}")
        if key == "exit_latency_ms" and "machine_floor" in res:
            fl = res["machine_floor"]["exit_chain_ms"]
            row("  above exit->waiter->client", f"{s['reaper']['median'] - fl:.2f}",
                f"{s['runc']['median'] - fl:.2f}",
                (s["reaper"]["median"] - fl) / (s["runc"]["median"] - fl), f"(floor {fl:.2f})")
    floor_row(res)
    machine_floor_rows(res)


def machine_floor_rows(res):
    """The kernel's own costs, measured in this run (bench/floor.c): what bounds the rows."""
    if "machine_floor" not in res:
        return
    f = res["machine_floor"]
    print(f"machine floor (this run, bench/floor.c): fork+exit+wait {f['fork_ms']:.2f} ms, "
          f"fork+exec of the shim {f['exec_ms']:.2f} ms, "
          f"exit -> waiter -> client wake-up {f['exit_chain_ms']:.2f} ms")


def floor_row(res):
    """`ctr run` above the ctr CLI's own floor (`ctr version`, same for both runtimes)."""
    if "ctr_run_true_ms" not in res or "ctr_cli_floor_ms" not in res:
        return
    run, fl = res["ctr_run_true_ms"], res["ctr_cli_floor_ms"]
    floor = statistics.median([fl[rt]["median"] for rt in RUNTIMES])
    above = {rt: run[rt]["median"] - floor for rt in RUNTIMES}
    row("ctr run above the floor", f"{above['reaper']:.1f}", f"{above['runc']:.1f}",
        above["reaper"] / above["runc"], "<= 0.15 x runc")


def memory_rows(res):
    if "pod_shim_memory" not in res:
        return
    m = res["pod_shim_memory"]
    cell = {rt: f"{m[rt]['rss_kib']} ({m[rt]['pss_kib']})" for rt in RUNTIMES}
    row("pod shim RSS KiB (PSS)", cell["reaper"], cell["runc"],
        m["reaper"]["rss_kib"] / m["runc"]["rss_kib"], "<= 1024 KiB")


def scale_rows(res):
    if "scale" not in res:
        return
    sc = res["scale"]
    n = sc["reaper"]["pods"]
    for key, label in (("all_running_s", "all running"), ("all_exited_s", "all exits collected")):
        row(f"{n} pods: {label} s", f"{sc['reaper'][key]:.2f}", f"{sc['runc'][key]:.2f}",
            sc["reaper"][key] / sc["runc"][key], "< runc")
    cell = {rt: f"{sc[rt]['shim_cpu_s']:.2f} ({sc[rt]['failures']} failed)" for rt in RUNTIMES}
    row(f"{n} pods: shim CPU s", cell["reaper"], cell["runc"],
        sc["reaper"]["shim_cpu_s"] / max(sc["runc"]["shim_cpu_s"], 0.01), "0 failures")


def log_rows(res):
    if "log_throughput" not in res:
        return
    lg = res["log_throughput"]
    cell = {rt: f"{lg[rt]['mb_per_s']:.1f} ({'exact' if lg[rt]['exact'] else 'LOST'})"
            for rt in RUNTIMES}
    row("log MB/s (byte-exact)", cell["reaper"], cell["runc"],
        lg["reaper"]["mb_per_s"] / lg["runc"]["mb_per_s"], ">= runc")


def print_table(res):
    print(f"\nmachine: {res['machine']}\nreaper shim: {res['reaper_build']}")
    print(f"state of containerd, runc and Reaper (a node's /run): {res.get('run_state_on', 'disk')}")
    print(f"{'measure':<34}{'reaper':>22}{'runc':>22}{'ratio':>8}  target")
    for rows in (timing_rows, memory_rows, scale_rows, log_rows):
        rows(res)


def run_tmpfs():
    """A node keeps containerd's state, runc's and Reaper's in /run, a tmpfs; this VM's /run is
    on its disk (ext4), where every state write is a journalled file create. Both runtimes get
    a tmpfs for that state, as on a node (BENCH_RUN_TMPFS=0: the disk, as the tests do)."""
    if os.environ.get("BENCH_RUN_TMPFS", "1") == "0":
        return None
    d = tempfile.mkdtemp(prefix="bench-run-", dir="/tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1g,mode=0711", "bench-run", d],
                   check=True)
    return d


def main():
    build = reaper_build()
    image = build_test_image(pathlib.Path(tempfile.mkdtemp()))
    run_dir = run_tmpfs()
    ctd = Containerd(image, build, run_dir=run_dir)
    res = {"machine": machine(), "reaper_build": str(build),
           "run_state_on": "tmpfs" if run_dir else "disk"}
    # The shims log one line per RPC with its duration (the shim share of a lifecycle).
    os.environ.setdefault("REAPER_SHIM_TIMING", "1")
    try:
        ctd.start()
        cri = CriClient(ctd.address, ctd.pods_dir, image.ref)
        only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
        steps = [("machine_floor", lambda: bench_machine_floor(ctd.dir)),
                 ("ctr_run_true_ms", lambda: summarize(bench_ctr_true(ctd, image))),
                 ("ctr_cli_floor_ms", lambda: summarize(bench_ctr_floor(ctd))),
                 ("cri_pod_roundtrip_ms", lambda: bench_cri_roundtrip(ctd, cri)),
                 ("cri_sandbox_only_ms", lambda: summarize(bench_cri_sandbox_only(cri))),
                 ("exec_sync_true_ms", lambda: summarize(bench_exec(cri))),
                 ("exit_latency_ms", lambda: summarize(bench_exit_latency(ctd, cri, ctd.dir))),
                 ("pod_shim_memory", lambda: bench_memory(ctd, cri)),
                 ("scale", lambda: bench_scale(ctd, cri, SCALE_PODS)),
                 ("log_throughput", lambda: bench_logs(cri))]
        for name, fn in steps:
            if only and name not in only:
                continue
            print(f"measuring {name} ...", flush=True)
            res[name] = fn()
        cri.cleanup()
    finally:
        ctd.stop()
        if run_dir:
            subprocess.run(["umount", run_dir], check=True)
            os.rmdir(run_dir)
    print_table(res)
    outdir = REPO / "bench/results"
    outdir.mkdir(exist_ok=True)
    path = outdir / (datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ") + ".json")
    path.write_text(json.dumps(res, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
