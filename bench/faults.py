#!/usr/bin/python3
"""Fault campaign: every node fault of docs/faults.md against a private containerd of its own,
with its expected outcome, what was observed and whether they agree.

    sudo bench/faults.py [--only SUBSTRING]...

The scenarios are tests/integration/harness/faults.py (the same that test_faults.py asserts).
Uses REAPER_BUILD, else build/ (the overlay fault runs reaper-agent, which the release build
lacks). Prints a table (fault, expected, observed, ok) and writes JSON to bench/results/.
"""
import argparse
import datetime
import json
import os
import pathlib
import sys
import tempfile
import textwrap
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/integration"))
sys.path.insert(0, str(REPO / "bench"))

from harness.faults import FAULTS, OwnNode  # noqa: E402
from harness.image import build_test_image  # noqa: E402
from run import machine  # noqa: E402


def run_fault(fault, image, build, tmp):
    """{fault, expected, observed, ok, seconds} for one fault on a containerd of its own."""
    t0 = time.monotonic()
    out = {"fault": fault.name, "expected": fault.expected}
    node = OwnNode(image, build, fault.prepare)
    with node:
        try:
            out.update(observed=fault.run(node.ctd, node.cri, tmp), ok=True)
        except AssertionError as e:
            out.update(observed=f"NOT AS EXPECTED: {e}", ok=False)
    if node.errors:
        out.update(ok=False, teardown=node.errors)
    out["seconds"] = round(time.monotonic() - t0, 1)
    return out


def print_table(rows):
    wrap = textwrap.TextWrapper(width=60)
    for r in rows:
        print(f"\n{'ok  ' if r['ok'] else 'FAIL'} {r['fault']}  ({r['seconds']} s)")
        for label in ("expected", "observed"):
            lines = wrap.wrap(r[label]) or [""]
            print(f"     {label:<9}" + f"\n     {'':<9}".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[],
                    help="run only faults whose name contains this (repeatable)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (private containerd, mounts)")
    build = pathlib.Path(os.environ.get("REAPER_BUILD", REPO / "build")).resolve()
    faults = [f for f in FAULTS.values() if not args.only or any(s in f.name for s in args.only)]
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        image = build_test_image(pathlib.Path(tmp) / "image")
        rows = []
        for f in faults:
            d = pathlib.Path(tmp) / f"f{len(rows)}"
            d.mkdir()
            rows.append(run_fault(f, image, build, d))
            print(f"{'ok  ' if rows[-1]['ok'] else 'FAIL'} {f.name}", flush=True)
    print_table(rows)
    res = {"machine": machine(), "reaper_build": str(build), "faults": rows,
           "all_ok": all(r["ok"] for r in rows)}
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    outdir = REPO / "bench/results"
    outdir.mkdir(exist_ok=True)
    path = outdir / f"faults-{stamp}.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"\n{sum(r['ok'] for r in rows)} of {len(rows)} faults as expected; wrote {path}")
    return 0 if res["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
