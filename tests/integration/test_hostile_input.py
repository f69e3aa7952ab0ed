"""Hostile input at reaper-runtime's boundary (docs/faults-cluster.md): huge and non-UTF-8
annotations, a config.json of 20 MiB, 100,000 environment entries, an exec spec with a bad user.
Expected: a clear error naming the problem, or correct handling where Kubernetes allows the
input; nothing left behind by a refused create."""
import json

import pytest

from runtime_env import rt  # noqa: F401 - fixture

pytestmark = pytest.mark.runtime

MIB = 1 << 20
SH_COUNT_ENV = ["/bin/sh", "-c", "env | wc -l"]


def refused(rt, cid, bundle, *expected):
    """create fails (status 1) naming the problem, and leaves no state behind; the message."""
    p = rt.create(cid, bundle, check=False)
    out = rt.output(cid)
    assert p.returncode == 1, out
    for text in expected:
        assert text in out, out
    assert len(out) < 4096, "the error message carries the input"
    assert not (rt.root / cid).exists(), "a refused create left its state"
    return out.strip().replace("reaper-runtime: ", "")


def run_to_exit(rt, cid, bundle):
    rt.create(cid, bundle)
    pid = rt.state(cid)["pid"]
    rt.cli("start", cid)
    assert rt.wait_exit(pid) == 0, rt.output(cid)
    return rt.output(cid)


def test_huge_annotation_values(rt, record_property):
    """Expected: a 1 MiB annotation Reaper does not read is carried; a 1 MiB overlay-name is
    not a DNS label: a warning quoting at most 64 bytes of it, and the namespace overlay."""
    b = rt.bundle(["/bin/echo", "ran"], annotations={"example.com/big": "x" * MIB})
    assert run_to_exit(rt, "big-ann", b) == "ran\n"
    b = rt.bundle(["/bin/sh", "-c", "echo ran > /hostile-ns-file"],
                  annotations={"reaper.runtime/overlay-name": "y" * MIB})
    out = run_to_exit(rt, "big-ovl", b)
    warning = [ln for ln in out.splitlines() if "overlay-name" in ln]
    assert len(warning) == 1 and '"' + "y" * 64 + '..." is not a DNS label' in warning[0]
    assert len(warning[0]) < 512, "the warning carries the whole value"
    assert (rt.upper() / "hostile-ns-file").read_text() == "ran\n"
    record_property("observed", "1 MiB annotation: ran; 1 MiB overlay-name: ran in the "
                    f"namespace overlay, warning of {len(warning[0])} bytes")


def test_non_utf8_annotation_is_refused(rt, record_property):
    """Expected: config.json is not valid JSON (JSON text is UTF-8): refused, naming the file
    and the byte."""
    b = rt.bundle(["/bin/true"], annotations={"example.com/bad": "PLACEHOLDER"})
    cfg = b / "config.json"
    cfg.write_bytes(cfg.read_bytes().replace(b"PLACEHOLDER", b"\xff\xfe\x80"))
    observed = refused(rt, "non-utf8", b, str(cfg), "unable to decode byte 0xff")
    record_property("observed", "refused: " + observed.split(": ", 1)[1])


def test_config_json_of_20_mib_is_refused(rt, record_property):
    """Expected: refused before parsing, naming the file and the limit (16 MiB)."""
    spec = json.loads((rt.bundle(["/bin/true"]) / "config.json").read_text())
    spec["annotations"]["example.com/pad"] = "z" * (20 * MIB)
    b = rt.bundle(None, raw=json.dumps(spec))
    observed = refused(rt, "cfg-20m", b, str(b / "config.json"),
                       "file larger than 16777216 bytes")
    record_property("observed", "refused: " + observed.split(": ", 1)[1])


def test_100000_env_entries_run_when_exec_can_take_them(rt, record_property):
    """Expected: 100,000 short entries (1.7 MB with their pointers) run and the workload sees
    every one; 100,000 longer ones exceed what exec takes (a quarter of the 8 MiB stack limit):
    create fails naming the counts and the limit, instead of the workload dying at start."""
    env = ["PATH=/usr/bin:/bin"] + [f"E{i}=1" for i in range(100000)]
    out = run_to_exit(rt, "env-ok", rt.bundle(SH_COUNT_ENV, env=env))
    assert int(out.split()[-1]) >= 100001, out
    env = ["PATH=/usr/bin:/bin"] + [f"VARIABLE_{i}=value-{i}" for i in range(100000)]
    observed = refused(rt, "env-big", rt.bundle(SH_COUNT_ENV, env=env),
                       "process.args and process.env: 3 + 100001 strings", "more than the",
                       "a quarter of the stack limit")
    record_property("observed", f"short: ran, {out.split()[-1]} entries seen; long: refused: "
                    + observed)


def test_one_env_entry_over_128_kib_is_refused(rt, record_property):
    """Expected: refused at create, naming the entry (the kernel takes 32 pages per string)."""
    b = rt.bundle(["/bin/true"], env=["A=" + "a" * (200 * 1024)])
    observed = refused(rt, "env-long", b, "process.env[0]: 204803 bytes, more than the 131072 "
                       "exec takes in one string")
    record_property("observed", "refused: " + observed)


@pytest.mark.parametrize("user, field", [
    ({"uid": 4294967295, "gid": 0}, "user.uid"),
    ({"uid": -1, "gid": 0}, "user.uid"),
    ({"uid": 0, "gid": 1 << 40}, "user.gid"),
    ({"uid": 0, "gid": 0, "additionalGids": [4294967295]}, "user.additionalGids"),
    ({"uid": "nobody", "gid": 0}, "user.uid"),
], ids=["uid 2^32-1", "uid -1", "gid 2^40", "additionalGids 2^32-1", "uid a user name"])
def test_bad_user_in_create_and_exec_is_refused(rt, user, field, record_property):
    """Expected: create and exec refuse a uid/gid out of range or not a number, naming the
    field; the running container is untouched by the refused exec."""
    observed = refused(rt, "bad-user", rt.bundle(["/bin/true"], user=user), field)
    rt.create("host", rt.bundle(["/bin/sleep", "30"]))
    rt.cli("start", "host")
    proc = rt.tmp / "process.json"
    proc.write_text(json.dumps({"user": user, "args": ["/bin/true"], "cwd": "/", "env": []}))
    p = rt.cli("exec", "host", "--process", proc, check=False)
    assert p.returncode == 1 and field in p.stderr, p.stderr
    assert rt.state("host")["status"] == "running"
    record_property("observed", "create: " + observed.split(": ", 1)[-1] + "; exec: refused, "
                    "container still running")
