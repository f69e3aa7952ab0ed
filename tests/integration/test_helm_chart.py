"""deploy/helm/reaper is a thin, generated layer over deploy/: with default values it renders
exactly what kustomize renders (minus the Namespace, which `helm --create-namespace` makes), and
each value changes the fields it names. No helm binary exists here; helm_lite renders the
template subset the generator emits and refuses anything else."""
import copy
import json
import subprocess

import jsonschema
import pytest
import yaml

from conftest import REPO
from helm_lite import TemplateError, render_chart, render_text
from k8s_schema import check, kustomize

pytestmark = pytest.mark.packaging

CHART = REPO / "deploy/helm/reaper"


def key(o):
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def by_key(objs):
    objs = list(objs)
    out = {key(o): o for o in objs}
    assert len(out) == len(objs), "duplicate objects"
    return out


def test_generated_chart_is_up_to_date():
    r = subprocess.run(["/usr/bin/python3", str(REPO / "scripts/gen-helm-chart.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_default_values_render_what_kustomize_renders():
    chart = by_key(render_chart(CHART))
    plain = by_key(o for o in kustomize(REPO / "deploy/kustomize") if o["kind"] != "Namespace")
    assert sorted(chart) == sorted(plain)
    for k, obj in plain.items():
        assert chart[k] == obj, f"{k} differs between chart and kustomize"
    for obj in chart.values():
        check(obj)


def find(objs, kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def test_values_change_what_they_name():
    vals = {"node": {"image": {"repository": "reg.example/reaper-node", "tag": "9.9"},
                     "binDir": "/opt/bin", "containerdConfig": "/etc/k3s/containerd/config.toml",
                     "configureContainerd": False},
            "config": {"dnsMode": "host", "filterPaths": "/etc/secret-a:/etc/secret-b"},
            "controller": {"replicas": 2, "logLevel": "debug"}}
    objs = render_chart(CHART, namespace="ops", values=vals)
    for o in objs:
        check(o)
    ds = find(objs, "DaemonSet", "reaper-node")
    pod = ds["spec"]["template"]["spec"]
    init = pod["initContainers"][0]
    assert init["image"] == pod["containers"][0]["image"] == "reg.example/reaper-node:9.9"
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env["CONFIGURE_CONTAINERD"] == "false" and env["BIN_DIR"] == "/opt/bin"
    assert env["CONTAINERD_CONFIG"] == "/etc/k3s/containerd/config.toml"
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    paths = {v["name"]: v.get("hostPath", {}).get("path") for v in pod["volumes"]}
    assert mounts["host-bin"] == "/host/opt/bin" and paths["host-bin"] == "/opt/bin"
    assert mounts["host-etc-containerd"] == "/host/etc/k3s/containerd"
    assert paths["host-etc-containerd"] == "/etc/k3s/containerd"
    conf = find(objs, "ConfigMap", "reaper-config")["data"]["reaper.conf"]
    assert "REAPER_DNS_MODE=host\n" in conf
    assert "REAPER_FILTER_PATHS=/etc/secret-a:/etc/secret-b\n" in conf
    dep = find(objs, "Deployment", "reaper-controller")
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["namespace"] == "ops"
    assert "--lease-namespace=ops" in dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--log-level=debug" in dep["spec"]["template"]["spec"]["containers"][0]["args"]
    crb = find(objs, "ClusterRoleBinding", "reaper-controller")
    assert crb["subjects"][0]["namespace"] == "ops"
    agent = find(objs, "DaemonSet", "reaper-agent")["spec"]["template"]["spec"]
    assert "--bin-dir=/host/opt/bin" in agent["containers"][0]["args"]
    assert "--containerd-config=/host/etc/k3s/containerd/config.toml" in \
        agent["containers"][0]["args"]
    assert {v["name"]: v["hostPath"]["path"] for v in agent["volumes"]}["host-bin"] == "/opt/bin"


# A values file written for the seed's chart (its "Helm Chart Reference" table), every key set.
SEED_VALUES = """
config:
  dnsMode: kubernetes
  runtimeLog: /run/reaper/runtime.log
node:
  image:
    repository: ghcr.io/example/reaper-node
    tag: ""
    pullPolicy: IfNotPresent
  installPath: /opt/reaper/bin
  configureContainerd: true
controller:
  image:
    repository: ghcr.io/example/reaper-controller
    tag: "0.2.0"
    pullPolicy: Always
  replicas: 1
  resources:
    requests: {cpu: 20m, memory: 48Mi}
    limits: {cpu: 200m, memory: 96Mi}
agent:
  enabled: true
  image:
    repository: ghcr.io/example/reaper-agent
    tag: ""
    pullPolicy: IfNotPresent
  resources:
    requests: {cpu: 5m, memory: 24Mi}
    limits: {memory: 128Mi}
runtimeClass:
  name: reaper-hpc
  handler: reaper-hpc
"""


def test_seed_values_file_keeps_working():
    objs = render_chart(CHART, values=yaml.safe_load(SEED_VALUES))
    for o in objs:
        check(o)
    rc = find(objs, "RuntimeClass", "reaper-hpc")
    assert rc["handler"] == "reaper-hpc"
    assert rc["scheduling"]["nodeSelector"] == {"reaper.io/runtime": "ready"}
    ctl = find(objs, "Deployment", "reaper-controller")["spec"]["template"]["spec"]
    c = ctl["containers"][0]
    assert c["resources"] == {"requests": {"cpu": "20m", "memory": "48Mi"},
                              "limits": {"cpu": "200m", "memory": "96Mi"}}
    assert "--runtime-class=reaper-hpc" in c["args"]
    assert c["image"] == "ghcr.io/example/reaper-controller:0.2.0"
    agent = find(objs, "DaemonSet", "reaper-agent")["spec"]["template"]["spec"]
    a = agent["containers"][0]
    assert a["resources"] == {"requests": {"cpu": "5m", "memory": "24Mi"},
                              "limits": {"memory": "128Mi"}}
    assert "--runtime-name=reaper-hpc" in a["args"] and "--bin-dir=/host/opt/reaper/bin" in a["args"]
    assert {v["name"]: v["hostPath"]["path"] for v in agent["volumes"]}["host-bin"] == \
        "/opt/reaper/bin"
    node = find(objs, "DaemonSet", "reaper-node")["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in node["initContainers"][0]["env"]}
    assert env["BIN_DIR"] == "/opt/reaper/bin" and env["RUNTIME_NAME"] == "reaper-hpc"
    assert env["CONFIGURE_CONTAINERD"] == "true"
    assert {m["name"]: m["mountPath"] for m in node["initContainers"][0]["volumeMounts"]}[
        "host-bin"] == "/host/opt/reaper/bin"
    ready = node["initContainers"][1]  # reaper-agent --once: condition and label
    assert ready["image"].startswith("ghcr.io/example/reaper-agent:")
    assert ready["args"] == ["--once", "--bin-dir=/host/opt/reaper/bin",
                             "--containerd-config=/host/etc/containerd/config.toml",
                             "--runtime-name=reaper-hpc"]
    assert {m["name"]: m["mountPath"] for m in ready["volumeMounts"]}["host-bin"] == \
        "/host/opt/reaper/bin"


def test_install_path_wins_over_bin_dir_and_bin_dir_alone_works():
    def bin_env(node):
        ds = find(render_chart(CHART, values={"node": node}), "DaemonSet", "reaper-node")
        return {e["name"]: e["value"] for e in
                ds["spec"]["template"]["spec"]["initContainers"][0]["env"]}["BIN_DIR"]
    assert bin_env({"binDir": "/a", "installPath": "/b"}) == "/b"
    assert bin_env({"binDir": "/a"}) == "/a"
    assert bin_env({}) == "/usr/local/bin"


def test_containerd_is_left_alone_by_default():
    ds = find(render_chart(CHART), "DaemonSet", "reaper-node")
    env = {e["name"]: e["value"] for e in ds["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert env["CONFIGURE_CONTAINERD"] == "false"


@pytest.mark.parametrize("values", [{"node": {"instalPath": "/x"}}, {"controler": {}},
                                    {"agent": {"resources": {"limit": {"memory": "1Gi"}}}},
                                    {"config": {"dnsMode": "none"}},
                                    {"runtimeClass": {"name": "Not_Valid"}},
                                    {"policy": {"enable": True}}],
                         ids=lambda v: json.dumps(v))
def test_schema_refuses_unknown_keys_and_bad_values(values):
    with pytest.raises(jsonschema.ValidationError):
        render_chart(CHART, values=values)


def test_schema_covers_every_default_value():
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    jsonschema.validate(yaml.safe_load(SEED_VALUES), schema)

    def closed(s, path="values"):  # every object lists its keys, except free-form maps
        if s.get("type") == "object" and "properties" in s:
            assert s.get("additionalProperties") is False, path
            for k, sub in s["properties"].items():
                closed(sub, f"{path}.{k}")
    closed(schema)


def test_optional_components_can_be_turned_off():
    objs = render_chart(CHART, values={"controller": {"enabled": False},
                                       "agent": {"enabled": False},
                                       "runtimeClass": {"create": False}})
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert not any(n in ("reaper-controller", "reaper-agent") for _, n in names), names
    assert ("RuntimeClass", "reaper-v2") not in names
    assert ("DaemonSet", "reaper-node") in names


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_policy_value_renders_the_generated_policy(version):
    """policy.enabled renders deploy/policy/<apiVersion> (docs/admission.md); off by default."""
    assert not any(o["kind"].startswith("ValidatingAdmissionPolicy") for o in render_chart(CHART))
    objs = render_chart(CHART, namespace="ops",
                        values={"policy": {"enabled": True, "apiVersion": version}})
    chart = [o for o in objs if o["kind"].startswith("ValidatingAdmissionPolicy")]
    plain = [d for d in yaml.safe_load_all(
        (REPO / f"deploy/policy/{version}/policy.yaml").read_text()) if d]
    assert chart == plain
    for o in chart:
        check(o)


@pytest.mark.parametrize("text", ['{{ include "x" . }}', "{{ .Values.a | upper }}",
                                  "{{ if .Values.a }}x", "{{ end }}", "{{ quote }}"])
def test_renderer_refuses_what_it_does_not_understand(text):
    with pytest.raises(TemplateError):
        render_text(text, {"Values": {"a": "b"}})


def test_renderer_semantics():
    ctx = {"Values": {"s": "v", "b": False, "e": ""}, "Chart": {"AppVersion": "1.2"}}
    assert render_text("a: {{ .Values.s | quote }}", ctx) == 'a: "v"'
    assert render_text("{{ .Values.b | quote }}", ctx) == '"false"'
    assert render_text("{{ .Values.e | default .Chart.AppVersion }}", ctx) == "1.2"
    assert render_text("x\n{{- if .Values.b }}\nhidden\n{{- end }}\ny", copy.deepcopy(ctx)) == \
        "x\ny"
    ctx["Values"]["r"] = {"limits": {"memory": "1Gi"}, "requests": {"cpu": "5m"}}
    assert render_text("  r: {{- toYaml .Values.r | nindent 4 }}", ctx) == \
        "  r:\n    limits:\n      memory: 1Gi\n    requests:\n      cpu: 5m"
