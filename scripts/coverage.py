#!/usr/bin/python3
"""Line coverage per library and program from the tests run on build-asan (scripts/test.sh
empties the .gcda files before them), checked against a floor for each.

`coverage.py --prepare BUILD [STAMP]` runs after every link of a coverage build (a target in
tests/meson.build): it gives each object an empty .gcda, writable by all, where there is none
or where the object is newer. A .gcda left by an older object makes the coverage runtime print
an error on the stderr of every process that links it (a shim's address, a workload's output),
and a workload that switched user writes its counts, just before exec, as that user.

Every process of a coverage build writes its counts when it exits normally, so integration
tests count too: reaper-runtime, the shim (its daemon when idle or on SIGTERM), the agent and
the controller. A floor is a few points under what the suite measured when it was set; raise it
when coverage grows, never lower it to let a change through."""
import collections
import json
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLOORS = {  # percent of lines; measured 2026-12-02: 91.2 77.1 88.3 88.5 81.0 92.7 91.0
    "src/lib/base": 88,
    "src/lib/node": 74,
    "src/lib/kube": 85,
    "src/shim": 85,
    "src/runtime": 78,
    "src/controller": 90,
    "src/agent": 88,
}


def summary(build):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["gcovr", "--gcov-executable", "llvm-cov-14 gcov",  # build-asan is clang
                        "--root", str(ROOT), "--filter", str(ROOT / "src"),
                        "--json-summary", out.name, "-j", "2", str(build)],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return json.load(open(out.name))["files"]


def per_dir(files):
    covered, total = collections.Counter(), collections.Counter()
    for f in files:
        for d in FLOORS:
            if f["filename"].startswith(d + "/"):
                covered[d] += f["line_covered"]
                total[d] += f["line_total"]
    return covered, total


def prepare(build, stamp=None):
    for gcno in pathlib.Path(build).rglob("*.gcno"):
        gcda = gcno.with_suffix(".gcda")
        if not gcda.exists() or gcda.stat().st_mtime < gcno.stat().st_mtime:
            gcda.write_bytes(b"")  # an empty .gcda means "no counts yet"
        gcda.chmod(0o666)
    if stamp:
        pathlib.Path(stamp).touch()
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--prepare":
        return prepare(*sys.argv[2:4])
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build-asan")
    if not any(f.stat().st_size for f in build.rglob("*.gcda")):
        print(f"coverage: no .gcda files under {build}: did the tests run on it?")
        return 1
    covered, total = per_dir(summary(build))
    low = []
    print(f"{'library/program':<16} {'lines':>13} {'cover':>7} {'floor':>6}")
    for d, floor in FLOORS.items():
        pct = 100.0 * covered[d] / total[d] if total[d] else 0.0
        mark = "" if pct >= floor else "  BELOW FLOOR"
        print(f"{d:<16} {covered[d]:>6}/{total[d]:<6} {pct:6.1f}% {floor:5}%{mark}")
        if pct < floor:
            low.append(d)
    if low:
        print(f"coverage: below the floor: {', '.join(low)}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
