#!/usr/bin/python3
"""Soak: L pod lifecycles through CRI (default 10,000) on one private containerd, every exit
code, exec result and log byte checked, and every resource accounted before and after.

    sudo bench/soak.py [--lifecycles L] [--workers W] [--seed S]

The mix and the account are tests/integration/harness/soak.py (shared with test_soak.py).
reaper-agent runs beside it in --standalone mode (state GC every second, 1 s grace) against the
same reaper.conf. Prints a table (before, after, growth) and writes JSON to bench/results/.
"""
import argparse
import datetime
import json
import pathlib
import shutil
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))
sys.path.insert(0, str(REPO / "bench"))

from harness.agent import Agent  # noqa: E402
from harness.containerd import Containerd  # noqa: E402
from harness.cri import CriClient  # noqa: E402
from harness.image import build_test_image  # noqa: E402
from harness.soak import Soak, format_table, growth, leaks  # noqa: E402
from run import machine, reaper_build  # noqa: E402

GC_METRICS = ("reaper_gc_runs_total", 'reaper_gc_removed_total{kind="state"}')


def agent_binary(build):
    """The agent is not a node binary (no release build): REAPER_BUILD's, else build/'s."""
    for b in (build, REPO / "build"):
        if (b / "src/agent/reaper-agent").exists():
            return b / "src/agent/reaper-agent"
    raise SystemExit("reaper-agent not built (scripts/build.sh build)")


def keep_logs(ctd, outdir, stamp):
    for src, name in ((ctd.log_path, "containerd.log"), (ctd.shim_log, "shim.log")):
        if src.exists():
            shutil.copyfile(src, outdir / f"soak-{stamp}-{name}")


def settled_snapshot(soak, cri, before, extra, timeout=60):
    """The account once the last pods' shims are gone and nothing differs from `before` any
    more, or after `timeout` s (what still differs is then a leak)."""
    soak.settle()
    deadline = time.monotonic() + timeout
    while True:
        after = soak.snapshot(cri, extra)
        if not leaks(before, after) or time.monotonic() > deadline:
            return after
        time.sleep(0.5)


def progress_printer(total, t0, soak, cri, extra):
    step = max(total // 20, 1)
    shown = [0]

    def show(done, problems):
        for p in problems[shown[0]:]:  # as they happen, not only in the summary
            print(f"  wrong: {p}", flush=True)
        shown[0] = len(problems)
        if done % step == 0:
            s = soak.snapshot(cri, extra)
            fds = ", ".join(f"{k[5:]} {v}" for k, v in s.items() if k.startswith("fds: "))
            print(f"  {done}/{total} in {time.monotonic() - t0:.0f} s, {len(problems)} wrong; "
                  f"fds: {fds}; containerd RSS {s['RSS KiB: containerd']} KiB", flush=True)
    return show


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lifecycles", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, help="start no lifecycle after this")
    args = ap.parse_args()
    build = reaper_build()
    outdir = REPO / "bench/results"  # JSON, and the logs for a post-mortem
    outdir.mkdir(exist_ok=True)
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    work = pathlib.Path(tempfile.mkdtemp(prefix="soak-"))
    ctd = Containerd(build_test_image(work / "image"), build)
    res = {"machine": machine(), "reaper_build": str(build), "lifecycles": args.lifecycles,
           "workers": args.workers, "seed": args.seed}
    agent = None
    try:
        ctd.start()
        agent = Agent(agent_binary(build), ctd.dir, ctd.reaper_config, "--standalone",
                      "--resync", "1", "--gc-grace", "1")
        extra = {"reaper-agent": agent.proc.pid}
        clients = [CriClient(ctd.address, ctd.pods_dir, ctd.image.ref)
                   for _ in range(args.workers)]
        soak = Soak(ctd, work, args.seed)
        soak.start_residents(clients[0])
        soak.warm_up(clients[0])
        gc_before = {m: agent.metric(m) for m in GC_METRICS}
        before = soak.snapshot(clients[0], extra)
        t0 = time.monotonic()
        print(f"soak: {args.lifecycles} lifecycles, {args.workers} workers, build {build}",
              flush=True)
        deadline = t0 + args.max_minutes * 60 if args.max_minutes else None
        problems, done = soak.run_many(
            clients, args.lifecycles,
            progress_printer(args.lifecycles, t0, soak, clients[0], extra), deadline)
        res["seconds"], res["done"] = time.monotonic() - t0, done
        after = settled_snapshot(soak, clients[0], before, extra)
        res["agent_gc"] = {m: (gc_before[m], agent.metric(m)) for m in GC_METRICS}
        res["wrong"] = problems
        res["account"] = {k: v[:3] for k, v in growth(before, after).items()}
        res["leaks"] = {k: v[2] for k, v in leaks(before, after).items()}
        print(f"\nmachine: {res['machine']}\n{done} of {args.lifecycles} lifecycles in "
              f"{res['seconds']:.0f} s ({args.workers} workers), "
              f"{len(problems)} wrong (exit code, exec result or log bytes)")
        for p in problems[:20]:
            print("  " + p)
        print(format_table(before, after))
        for m, (b, a) in res["agent_gc"].items():
            print(f"agent {m}: {b} -> {a}")
        print("leaks: " + (", ".join(f"{k} {v:+}" for k, v in res["leaks"].items()) or "none"))
    finally:
        if agent:
            agent.stop()
        keep_logs(ctd, outdir, stamp)  # containerd's and the shims' logs go with the temp dir
        ctd.stop()
    path = outdir / f"soak-{stamp}.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"wrote {path}")
    return 1 if problems or res["leaks"] else 0


if __name__ == "__main__":
    sys.exit(main())
