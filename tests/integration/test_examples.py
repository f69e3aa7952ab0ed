"""examples/: every manifest validates, opts into Reaper, is listed in the README; the simple
ones run through a private containerd (harness.kubelet_lite) and print what they promise."""
import pathlib
import re

import pytest

from conftest import REPO
from harness import kubelet_lite
from k8s_schema import check, load_all

pytestmark = pytest.mark.packaging

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
WORKLOAD_TEMPLATES = {"DaemonSet", "Job", "Deployment"}


def pod_specs(doc):
    if doc["kind"] == "Pod":
        return [doc["spec"]]
    if doc["kind"] in WORKLOAD_TEMPLATES:
        return [doc["spec"]["template"]["spec"]]
    return []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_and_uses_reaper(path):
    docs = load_all(path)
    assert docs and path.read_text().startswith("#"), "each example starts with what it shows"
    for doc in docs:
        check(doc)
        for spec in pod_specs(doc):
            assert spec.get("runtimeClassName") == "reaper-v2", f"{path.name}: {doc['kind']}"


def test_readme_lists_every_example():
    readme = (REPO / "examples/README.md").read_text()
    listed = set(re.findall(r"\]\(([0-9][^)]+\.yaml)\)", readme))
    assert listed == {p.name for p in EXAMPLES}


def run_example(cri, name, tmp_path, pod_name=None):
    objs = load_all(REPO / "examples" / name)
    pods = [o for o in objs if o["kind"] == "Pod"]
    pod = next(p for p in pods if pod_name in (None, p["metadata"]["name"]))
    sandbox, ids = kubelet_lite.run_pod(cri, pod, objs, workdir=tmp_path)
    out = {}
    for cname, cid in ids.items():
        status = cri.wait_exited(cid, timeout=30)
        out[cname] = (status.exit_code, "\n".join(t for s, t in cri.read_log(sandbox, cname)))
    return out


def test_hello_runs(cri, tmp_path):
    code, log = run_example(cri, "01-hello.yaml", tmp_path)["hello"]
    assert code == 0 and re.search(r"^Hello from Reaper on \S+\nkernel \S+$", log), log


def test_volumes_run(cri, tmp_path):
    code, log = run_example(cri, "02-volumes.yaml", tmp_path)["show"]
    assert code == 0, log
    lines = log.splitlines()
    assert lines[0] == "Hello from a ConfigMap"
    assert "secret is 6 bytes" in lines and "secret volume is read-only" in lines
    assert lines[-1] == "scratch"


def test_run_as_user_runs(cri, tmp_path):
    code, log = run_example(cri, "03-run-as-user.yaml", tmp_path)["whoami"]
    assert code == 0 and log.startswith("uid=65534") and "gid=65534" in log, log


def test_overlay_sharing_runs(cri, tmp_path):
    assert run_example(cri, "07-overlay-sharing.yaml", tmp_path,
                       "reaper-overlay-writer")["write"] == (0, "written")
    code, log = run_example(cri, "07-overlay-sharing.yaml", tmp_path,
                            "reaper-overlay-reader")["read"]
    assert code == 0 and log.strip(), log
    assert not pathlib.Path("/opt/reaper-demo/stamp").exists(), "the write reached the host"
    assert run_example(cri, "07-overlay-sharing.yaml", tmp_path, "reaper-named-overlay")[
        "isolated"] == (0, "not visible in overlay build-tools")
