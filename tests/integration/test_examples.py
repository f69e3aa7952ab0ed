"""examples/: every manifest validates, opts into Reaper, is listed in the README; the simple
ones run through a private containerd (harness.kubelet_lite) and print what they promise."""
import json
import os
import pathlib
import re
import socket
import subprocess
import urllib.request

import pytest
import yaml

from conftest import REPO
from harness import kubelet_lite
from harness.wait import wait_for
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


# Workloads that run on the cluster's default runtime beside Reaper's, on purpose (mixed runtimes).
DEFAULT_RUNTIME = {("08-node-exporter.yaml", "prometheus"), ("09-slurmd.yaml", "slurmctld"),
                   ("23-mixed-runtimes-ldap.yaml", "openldap")}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_validates_and_uses_reaper(path):
    docs = load_all(path)
    assert docs and path.read_text().startswith("#"), "each example starts with what it shows"
    for doc in docs:
        check(doc)
        want = None if (path.name, doc["metadata"]["name"]) in DEFAULT_RUNTIME else "reaper-v2"
        for spec in pod_specs(doc):
            assert spec.get("runtimeClassName") == want, f"{path.name}: {doc['kind']}"
    assert any(s.get("runtimeClassName") == "reaper-v2" for d in docs for s in pod_specs(d)) or \
        all(d["apiVersion"].startswith("reaper.io/") for d in docs), path.name


def test_prometheus_config_is_valid(tmp_path):
    """08's Prometheus server configuration, as promtool reads it, and its relabelling turning
    a node's kubelet address into its node_exporter's. Debian's promtool is built without
    Kubernetes discovery: a static target with the address that discovery gives stands in."""
    cfg = find(load_all(REPO / "examples/08-node-exporter.yaml"), "ConfigMap", "prometheus")
    config = yaml.safe_load(cfg["data"]["prometheus.yml"])
    job = config["scrape_configs"][0]
    assert job.pop("kubernetes_sd_configs") == [{"role": "node"}]
    job["static_configs"] = [{"targets": ["192.0.2.7:10250"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    out = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    rule = job["relabel_configs"][0]
    assert rule["target_label"] == "__address__"
    prom_replacement = re.sub(r"\$\{(\d+)\}", r"\\\1", rule["replacement"])
    assert re.sub(f"^(?:{rule['regex']})$", prom_replacement, "192.0.2.7:10250") == "192.0.2.7:9100"


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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find(objs, kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def set_env(pod, container, **values):
    c = next(c for c in pod["spec"]["containers"] if c["name"] == container)
    c["env"] = [e for e in c.get("env", []) if e["name"] not in values] + [
        {"name": k, "value": v} for k, v in values.items()]


def wait_log_line(cri, sandbox, container, pattern, timeout=30):
    """The first line of the container's log matching pattern (waits for it)."""
    def line():
        return next((t for _, t in cri.read_log(sandbox, container) if re.search(pattern, t)),
                    None)
    return wait_for(line, timeout, lambda: f"{pattern!r} in {container}'s log: "
                                           f"{cri.read_log(sandbox, container)}", interval=0.2)


def test_client_server_runs(cri, tmp_path):
    """Both DaemonSets' pods on this one node: the client reaches the server over the host's
    loopback (the ConfigMap's address, as an operator would set it)."""
    objs = load_all(REPO / "examples/20-client-server.yaml")
    port = free_port()
    find(objs, "ConfigMap", "demo-server")["data"].update(address="127.0.0.1", port=str(port))
    client = kubelet_lite.pod_of(find(objs, "DaemonSet", "demo-client"))
    set_env(client, "client", INTERVAL="0.2")
    kubelet_lite.run_pod(cri, kubelet_lite.pod_of(find(objs, "DaemonSet", "demo-server")), objs,
                         workdir=tmp_path)
    sandbox, _ = kubelet_lite.run_pod(cri, client, objs, workdir=tmp_path)
    host = socket.gethostname()
    assert wait_log_line(cri, sandbox, "client", "reached") == \
        f"{host} reached 127.0.0.1:{port}: server runs on {host}"


def http_get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def test_ansible_roles_run(cri, tmp_path):
    """The login role's pod: its init containers find Ansible (installed on this machine, so no
    network is needed), run the two-play playbook from the ConfigMap's role layout, and the
    container serves what the roles wrote, from the overlay only."""
    objs = load_all(REPO / "examples/22-ansible-roles.yaml")
    port = free_port()
    pod = kubelet_lite.pod_of(find(objs, "DaemonSet", "web-login"))
    set_env(pod, "web", PORT=str(port))
    kubelet_lite.run_pod(cri, pod, objs, workdir=tmp_path, timeout=180)
    host = socket.gethostname()
    page = wait_for(lambda: http_get(port, "/index.html"), 30, "the web container's answer",
                    interval=0.2, retry_on=(OSError,))
    assert page == f"<h1>Reaper login node</h1>\n<p>configured by Ansible on {host.split('.')[0]}</p>\n"
    assert json.loads(http_get(port, "/node.json")) == {"host": host.split(".")[0],
                                                         "kernel": os.uname().release}
    assert not pathlib.Path("/srv/reaper-web").exists(), "the playbook wrote to the host"
    assert not pathlib.Path("/etc/reaper-demo").exists(), "the playbook wrote to the host"


def test_jq_report_runs(cri, tmp_path):
    """05's Deployment, once jq is in the overlay (here: on this machine; in a cluster the Job
    installs it), reports on its ConfigMap."""
    objs = load_all(REPO / "examples/05-job-install-package.yaml")
    pod = kubelet_lite.pod_of(find(objs, "Deployment", "reaper-jq-report"))
    sandbox, _ = kubelet_lite.run_pod(cri, pod, objs, workdir=tmp_path)
    assert [t for _, t in cri.wait_log(sandbox, "report", 2, timeout=30)][:2] == [
        "web on port 80", "metrics on port 9100"]
