#!/usr/bin/python3
"""Cluster-side faults and hostile input (docs/faults-cluster.md): runs their tests and prints,
for each, fault → expected → observed → ok.

    sudo bench/faults_cluster.py [--markdown] [--json FILE] [-k EXPR]

The faults are the tests tests/integration/test_faults_cluster.py, test_faults_agent.py and
test_hostile_input.py (the fake API server injects the API faults); "expected" is each test's
stated outcome, "observed" what it measured (request counts in a fault window, the error
message given, ...), ok whether every assertion held. REAPER_BUILD picks the build (default
build/; build-asan/ runs them under the sanitizers). Exit status 1 if any fault failed.
"""
import argparse
import json
import os
import pathlib
import sys
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
TESTS = REPO / "tests/integration"
FILES = ["test_faults_cluster.py", "test_faults_agent.py", "test_hostile_input.py"]


class Collect:
    """A pytest plugin: each test's stated expectation, what it recorded, its outcome."""

    def __init__(self):
        self.expected, self.rows = {}, {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            doc = " ".join((item.function.__doc__ or "").split())
            self.expected[item.nodeid] = doc.split("Expected:", 1)[-1].strip()

    def pytest_runtest_logreport(self, report):
        row = self.rows.setdefault(report.nodeid, {"ok": True, "observed": ""})
        observed = dict(report.user_properties).get("observed")
        if observed:
            row["observed"] = observed
        if report.failed:
            row["ok"] = False
            row["observed"] = (row["observed"] + " FAILED: " +
                               report.longreprtext.strip().splitlines()[-1])[:400]

    def table(self):
        out = []
        for nodeid, row in self.rows.items():
            name = nodeid.split("::", 1)[1]
            fault = name.removeprefix("test_").replace("_", " ")
            out.append({"fault": fault, "expected": self.expected.get(nodeid, ""),
                        "observed": row["observed"], "ok": row["ok"]})
        return out


def show(rows, markdown):
    if markdown:
        print("| fault | expected | observed | ok |\n|---|---|---|---|")
        for r in rows:
            cells = [r["fault"], r["expected"], r["observed"], "yes" if r["ok"] else "**NO**"]
            print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return
    for r in rows:
        print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['fault']}")
        for label in ("expected", "observed"):
            print(textwrap.fill(r[label], 100, initial_indent=f"     {label}: ",
                                subsequent_indent=" " * 15))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--json", type=pathlib.Path, help="also write the rows as JSON here")
    ap.add_argument("-k", help="only the faults matching this pytest -k expression")
    a = ap.parse_args()
    os.environ.setdefault("REAPER_BUILD", str(REPO / "build"))
    os.chdir(TESTS)
    sys.path.insert(0, str(TESTS))
    c = Collect()
    args = ["-q", "-p", "no:cacheprovider", "--no-header", "-rN", *FILES]
    if a.k:
        args += ["-k", a.k]
    rc = pytest.main(args, plugins=[c])
    rows = c.table()
    print()
    show(rows, a.markdown)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if rc == 0 and rows and all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
