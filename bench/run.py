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
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))

from harness.containerd import Containerd  # noqa: E402
from harness.cri import CriClient  # noqa: E402
from harness.image import build_test_image  # noqa: E402

RUNTIMES = {"reaper": ("reaper-v2", "io.containerd.reaper.v2"),
            "runc": ("runc", "io.containerd.runc.v2")}
N = int(os.environ.get("BENCH_N", "30"))


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


def bench_cri_roundtrip(cri):
    def one(rt, i):
        t0 = time.monotonic()
        pod = cri.run_pod(f"rt-{rt}-{i}", runtime_handler=RUNTIMES[rt][0])
        cid = cri.run_container(pod, "c", command=["/bin/true"])
        cri.wait_exited(cid, timeout=30)
        cri.stop_pod(pod)
        cri.remove_pod(pod)
        return ms_since(t0)
    return alternate(max(N // 2, 15), one)


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
        for p in pods.values():
            cri.stop_pod(p)
            cri.remove_pod(p)


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


def print_table(res):
    print(f"\nmachine: {res['machine']}")
    print(f"{'measure':<34}{'reaper':>22}{'runc':>22}{'ratio':>8}  target")
    for key, target in (("ctr_run_true_ms", "<= 0.15 x runc"),
                        ("cri_pod_roundtrip_ms", "<= 0.2 x runc"),
                        ("exec_sync_true_ms", "<= 0.2 x runc")):
        s = res[key]
        cell = {rt: f"{s[rt]['median']:.1f} ({s[rt]['min']:.0f}-{s[rt]['max']:.0f})"
                for rt in RUNTIMES}
        ratio = s["reaper"]["median"] / s["runc"]["median"]
        print(f"{key:<34}{cell['reaper']:>22}{cell['runc']:>22}{ratio:>8.3f}  {target}")
    m = res["pod_shim_memory"]
    print(f"{'pod shim RSS KiB (PSS)':<34}"
          f"{str(m['reaper']['rss_kib']) + ' (' + str(m['reaper']['pss_kib']) + ')':>22}"
          f"{str(m['runc']['rss_kib']) + ' (' + str(m['runc']['pss_kib']) + ')':>22}"
          f"{m['reaper']['rss_kib'] / m['runc']['rss_kib']:>8.3f}  <= 1024 KiB")
    lg = res["log_throughput"]
    print(f"{'log MB/s (byte-exact)':<34}"
          f"{format(lg['reaper']['mb_per_s'], '.1f') + ' (' + str(lg['reaper']['exact']) + ')':>22}"
          f"{format(lg['runc']['mb_per_s'], '.1f') + ' (' + str(lg['runc']['exact']) + ')':>22}"
          f"{lg['reaper']['mb_per_s'] / lg['runc']['mb_per_s']:>8.3f}  >= runc")


def main():
    build = pathlib.Path(os.environ.get("REAPER_BUILD", REPO / "build"))
    image = build_test_image(pathlib.Path(tempfile.mkdtemp()))
    ctd = Containerd(image, build)
    res = {"machine": machine()}
    try:
        ctd.start()
        cri = CriClient(ctd.address, ctd.pods_dir, image.ref)
        steps = [("ctr_run_true_ms", lambda: summarize(bench_ctr_true(ctd, image))),
                 ("cri_pod_roundtrip_ms", lambda: summarize(bench_cri_roundtrip(cri))),
                 ("exec_sync_true_ms", lambda: summarize(bench_exec(cri))),
                 ("pod_shim_memory", lambda: bench_memory(ctd, cri)),
                 ("log_throughput", lambda: bench_logs(cri))]
        for name, fn in steps:
            print(f"measuring {name} ...", flush=True)
            res[name] = fn()
        cri.cleanup()
    finally:
        ctd.stop()
    print_table(res)
    outdir = REPO / "bench/results"
    outdir.mkdir(exist_ok=True)
    path = outdir / (datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ") + ".json")
    path.write_text(json.dumps(res, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
