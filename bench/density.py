#!/usr/bin/python3
"""Density: N long-running pods (default 1000) on one private containerd through CRI, started
by concurrent clients like kubelet, Reaper then runc; then all stopped and removed.

    sudo bench/density.py [--pods N] [--clients C] [--runc-seconds S] [--runc-min-avail-gib G]

Per runtime: seconds until all RUNNING, shim memory (sum of PSS from smaps_rollup over the
runtime's shims, and per pod), containerd's RSS, shim CPU seconds, node memory used (the drop of
MemAvailable), failures; then teardown seconds and leftovers. runc runs "as far as it goes": no
new pod once MemAvailable < G GiB or after S seconds; where it stopped is printed. A benchmark,
never a test. JSON in bench/results/density-<UTC time>.json.
"""
import argparse
import datetime
import json
import pathlib
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))
sys.path.insert(0, str(REPO / "bench"))

from harness import mounts  # noqa: E402
from harness.containerd import Containerd  # noqa: E402
from harness.cri import CriClient  # noqa: E402
from harness.image import build_test_image  # noqa: E402
from harness.soak import rss_kib  # noqa: E402
from run import RUNTIMES, cpu_seconds, machine, reaper_build, rss_pss_kib  # noqa: E402


def mem_available_kib():
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


class Ceiling:
    """When to stop adding pods: never for Reaper; for runc at a memory or time ceiling."""

    def __init__(self, seconds=None, min_avail_kib=None):
        self.seconds, self.min_avail_kib = seconds, min_avail_kib
        self.t0 = None
        self.hit = None
        self.lock = threading.Lock()

    def start(self):
        self.t0 = time.monotonic()

    def reached(self):
        with self.lock:
            if self.hit is None and self.seconds and time.monotonic() - self.t0 > self.seconds:
                self.hit = f"time ceiling {self.seconds} s"
            if (self.hit is None and self.min_avail_kib
                    and mem_available_kib() < self.min_avail_kib):
                self.hit = f"memory ceiling: MemAvailable < {self.min_avail_kib // 1048576} GiB"
            return self.hit is not None


REGIONS = ("binary text+rodata (shared)", "binary data+bss+relocated", "[heap]", "[stack]",
           "other anonymous", "other")


def region_of(name, binary):
    if name in ("[heap]", "[stack]"):
        return name
    if name == binary:
        return "binary text+rodata (shared)"
    if name == "":
        return "other anonymous"  # thread stacks; .bss past the file too (below)
    return "other"


def smaps_regions(pid):
    """PSS (KiB) of one process by region, from /proc/PID/smaps. Of the binary's mappings, the
    privately dirtied part (.data, and what a static-pie relocates at start) counts as data;
    the anonymous mapping right after the binary's last one is its .bss."""
    out = dict.fromkeys(REGIONS, 0)
    binary = str(pathlib.Path(f"/proc/{pid}/exe").resolve())
    cur, prev, pss = None, None, 0
    for line in pathlib.Path(f"/proc/{pid}/smaps").read_text().splitlines():
        f = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            name = f[5] if len(f) > 5 else ""
            cur = region_of(name, binary)
            if cur == "other anonymous" and prev == "binary text+rodata (shared)":
                cur = "binary data+bss+relocated"
            prev = cur
        elif f and f[0] == "Pss:":
            pss = int(f[1])
            out[cur] += pss
        elif f and f[0] == "Private_Dirty:" and cur == "binary text+rodata (shared)":
            dirty = min(int(f[1]), pss)
            out[cur] -= dirty
            out["binary data+bss+relocated"] += dirty
    return out


def pss_breakdown(pids):
    """Mean PSS per process by region (KiB), over the processes still there."""
    total, n = dict.fromkeys(REGIONS, 0), 0
    for p in pids:
        try:
            one = smaps_regions(p)
        except OSError:
            continue
        n += 1
        for k, v in one.items():
            total[k] += v
    return {k: v / max(n, 1) for k, v in total.items()}


def start_pods(cri, rt, n, clients, ceiling):
    """n pods with one `sleep` container each, `clients` at a time; returns (pods, errors,
    pods that could not be created). A pod whose container failed is in pods, not RUNNING."""
    errors, pods, no_pod = [], [], [0]

    def one(i):
        if ceiling.reached():
            return
        pod = None
        try:
            pod = cri.run_pod(f"dens-{rt}-{i}", namespace="density",
                              runtime_handler=RUNTIMES[rt][0])
            pods.append(pod)
            cri.run_container(pod, "s", command=["sleep", "100000"])
        except Exception as e:  # noqa: BLE001 - counted, reported
            errors.append(repr(e)[:300])
            no_pod[0] += pod is None
    ceiling.start()
    with ThreadPoolExecutor(max_workers=clients) as ex:
        list(ex.map(one, range(n)))
    return pods, errors, no_pod[0]


def running_count(cri, pods):
    ids = {p.id for p in pods}
    return sum(1 for c in cri.list_containers()
               if c.pod_sandbox_id in ids and c.state == cri.pb.CONTAINER_RUNNING)


def leftovers(ctd, shims_before):
    """What a complete teardown must not leave (Reaper's state root; shims of both)."""
    root = ctd.dirs["reaper_root"]
    sockets = root / "s"
    state = [p.name for p in root.iterdir() if p.name not in ("s", "locks", "ns", "merged")]
    return {"shims": len(set(ctd.shim_pids()) - shims_before),
            "state dirs": len(state),
            # The root itself is a mount by design: Reaper binds it onto itself as a shared
            # mount point once (REAPER_SHARED_ROOT, for the agent's Bidirectional mount).
            "mounts (besides ns pins)": len([m for m in mounts.mounts_under(root)
                                             if not mounts.is_under(m, root / "ns")
                                             and m != str(root)]),
            "sockets under root/s": len(list(sockets.iterdir())) if sockets.exists() else 0}


def measure(ctd, cri, rt, n, clients, ceiling):
    shims_before = set(ctd.shim_pids())
    avail0, ctd_rss0 = mem_available_kib(), rss_kib(ctd.proc.pid)
    t0 = time.monotonic()
    pods, errors, no_pod = start_pods(cri, rt, n, clients, ceiling)
    started = time.monotonic() - t0
    running = running_count(cri, pods)
    shims = set(ctd.shim_pids()) - shims_before
    pss = sum(rss_pss_kib(p)[1] for p in shims)
    out = {"requested": n, "pods": len(pods), "running": running, "all_running_s": started,
           "stopped_by": ceiling.hit, "failures": no_pod + len(pods) - running,
           "failure_samples": errors[:3], "shims": len(shims), "shim_pss_kib": pss,
           "shim_pss_per_pod_kib": pss / max(len(pods), 1),
           "shim_pss_regions_kib": pss_breakdown(shims),
           "containerd_rss_kib": rss_kib(ctd.proc.pid), "containerd_rss0_kib": ctd_rss0,
           "node_mem_used_kib": avail0 - mem_available_kib(), "shim_cpu_s": cpu_seconds(shims)}
    print(f"  {rt}: {running}/{len(pods)} running in {started:.1f} s"
          f"{', stopped by ' + ceiling.hit if ceiling.hit else ''}; tearing down", flush=True)
    print(f"  {rt}: PSS per shim by region, KiB: " + ", ".join(
        f"{k} {v:.0f}" for k, v in out["shim_pss_regions_kib"].items()), flush=True)
    t0 = time.monotonic()
    teardown_failures = []

    def remove(pod):
        try:
            cri.stop_pod(pod)
            cri.remove_pod(pod)
        except Exception as e:  # noqa: BLE001 - counted, reported
            teardown_failures.append(repr(e)[:300])
    with ThreadPoolExecutor(max_workers=clients) as ex:
        list(ex.map(remove, pods))
    out["teardown_s"] = time.monotonic() - t0
    out["teardown_failures"] = len(teardown_failures)
    # shims exit right after RemovePodSandbox; give them a bounded moment before counting
    deadline = time.monotonic() + 30
    while set(ctd.shim_pids()) - shims_before and time.monotonic() < deadline:
        time.sleep(0.2)
    out["leftovers"] = leftovers(ctd, shims_before)
    return out


def print_table(res):
    r, c = res["reaper"], res["runc"]

    def row(label, f):
        print(f"{label:<40}{f(r):>24}{f(c):>30}")
    print(f"\nmachine: {res['machine']}\nreaper shim: {res['reaper_build']}; "
          f"{res['clients']} concurrent CRI clients")
    print(f"{'measure':<40}{'reaper':>24}{'runc':>30}")
    row("pods started (requested)", lambda x: f"{x['pods']} ({x['requested']})")
    row("stopped by", lambda x: x["stopped_by"] or "-")
    row("all RUNNING, s", lambda x: f"{x['running']} in {x['all_running_s']:.1f}")
    row("pods per second", lambda x: f"{x['running'] / x['all_running_s']:.1f}")
    row("failures", lambda x: str(x["failures"]))
    row("shim PSS sum, MiB", lambda x: f"{x['shim_pss_kib'] / 1024:.1f} ({x['shims']} shims)")
    row("shim PSS per pod, KiB", lambda x: f"{x['shim_pss_per_pod_kib']:.0f}")
    for k in REGIONS:
        row(f"  per shim: {k}", lambda x: f"{x['shim_pss_regions_kib'][k]:.0f}")
    row("containerd RSS, MiB (before)",
        lambda x: f"{x['containerd_rss_kib'] / 1024:.0f} ({x['containerd_rss0_kib'] / 1024:.0f})")
    row("node memory used (MemAvailable), MiB", lambda x: f"{x['node_mem_used_kib'] / 1024:.0f}")
    row("shim CPU, s", lambda x: f"{x['shim_cpu_s']:.2f}")
    row("stop + remove all, s", lambda x: f"{x['teardown_s']:.1f} "
        f"({x['teardown_failures']} failed)")
    for k in r["leftovers"]:
        row(f"left: {k}", lambda x: str(x["leftovers"][k]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--runc-seconds", type=float, default=120)
    ap.add_argument("--runc-min-avail-gib", type=float, default=4)
    ap.add_argument("--only", choices=sorted(RUNTIMES), help="one runtime")
    args = ap.parse_args()
    build = reaper_build()
    ctd = Containerd(build_test_image(pathlib.Path(tempfile.mkdtemp(prefix="dens-"))), build)
    res = {"machine": machine(), "reaper_build": str(build), "clients": args.clients}
    try:
        ctd.start()
        cri = CriClient(ctd.address, ctd.pods_dir, ctd.image.ref)
        ceilings = {"reaper": Ceiling(),
                    "runc": Ceiling(args.runc_seconds, int(args.runc_min_avail_gib * 1048576))}
        for rt in RUNTIMES:
            if args.only in (None, rt):
                print(f"density: {args.pods} {rt} pods ...", flush=True)
                res[rt] = measure(ctd, cri, rt, args.pods, args.clients, ceilings[rt])
        cri.close()
    finally:
        ctd.stop()
    if args.only is None:
        print_table(res)
    outdir = REPO / "bench/results"
    outdir.mkdir(exist_ok=True)
    path = outdir / ("density-" + datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
                     + ".json")
    path.write_text(json.dumps(res, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
