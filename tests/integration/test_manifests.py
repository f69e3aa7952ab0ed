"""Validate deploy/ (CRDs, manifests, the kustomize rendering) against Kubernetes 1.28 schemas."""
import json
import re
import subprocess

import jsonschema
import pytest
import yaml

from conftest import REPO
from k8s_schema import check, crd_schema, kustomize, plain

CRDS = sorted((REPO / "deploy/crds").glob("*.reaper.io.yaml"))
MANIFESTS = sorted(p for d in ("controller", "node", "agent", "policy/v1", "policy/v1beta1",
                                "uninstall")
                   for p in (REPO / "deploy" / d).glob("*.yaml") if p.name != "kustomization.yaml")


def test_validation_catches_mistakes():
    with pytest.raises(AssertionError):
        check({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "two"}})
    with pytest.raises(AssertionError, match="unknown fields"):
        good = yaml.safe_load((REPO / "deploy/controller/deployment.yaml").read_text())
        good["spec"]["replica"] = 2
        check(good)
    with pytest.raises(AssertionError, match="not a Kubernetes 1.28 kind"):
        check({"apiVersion": "apps/v1", "kind": "DeamonSet"})


def docs(paths):
    for p in paths:
        for d in yaml.safe_load_all(p.read_text()):
            if d:
                yield p.name, d


@pytest.mark.parametrize("name,doc", list(docs(CRDS + MANIFESTS)), ids=lambda x: str(x)[:40])
def test_manifest_matches_openapi(name, doc):
    check(doc)


def test_node_uninstall_runs_the_installer_backwards_then_removes_the_label():
    objs = list(yaml.safe_load_all((REPO / "deploy/uninstall/node-uninstall.yaml").read_text()))
    ds = next(o for o in objs if o["kind"] == "DaemonSet")
    init = {c["name"]: c for c in ds["spec"]["template"]["spec"]["initContainers"]}
    assert list(init) == ["uninstall", "unlabel"]
    assert init["uninstall"]["args"] == ["--uninstall"]
    assert init["uninstall"]["image"].split("/")[-1].startswith("reaper-node:")
    assert init["unlabel"]["args"] == ["--remove-label"]
    assert init["unlabel"]["image"].split("/")[-1].startswith("reaper-agent:")
    role = next(o for o in objs if o["kind"] == "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}]
    sa = ds["spec"]["template"]["spec"]["serviceAccountName"]
    binding = next(o for o in objs if o["kind"] == "ClusterRoleBinding")
    assert binding["subjects"][0]["name"] == sa and binding["roleRef"]["name"] == \
        role["metadata"]["name"]


def test_kustomize_renders_offline_and_every_object_validates():
    objs = kustomize(REPO / "deploy/kustomize")
    kinds = {o["kind"] for o in objs}
    assert {"Namespace", "CustomResourceDefinition", "RuntimeClass", "DaemonSet", "Deployment",
            "ConfigMap", "ClusterRole"} <= kinds, kinds
    for o in objs:
        check(o)
    rc = next(o for o in objs if o["kind"] == "RuntimeClass")
    assert rc["metadata"]["name"] == rc["handler"] == "reaper-v2"
    # Only nodes the agent labelled ready (src/agent/agentd.h DEFAULT_NODE_LABEL), and the agent
    # may patch its node's labels.
    assert rc["scheduling"]["nodeSelector"] == {"reaper.io/runtime": "ready"}
    agent_src = (REPO / "src/agent/agentd.h").read_text()
    assert '#define DEFAULT_NODE_LABEL "reaper.io/runtime=ready"' in agent_src
    role = next(o for o in objs if o["kind"] == "ClusterRole"
                and o["metadata"]["name"] == "reaper-agent")
    assert any(r["resources"] == ["nodes"] and "patch" in r["verbs"] for r in role["rules"])
    # The node installer's last step writes the same condition and label, with its own account
    # whose token only that container mounts.
    ds = next(o for o in objs if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "reaper-node")
    pod = ds["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["install", "ready"]
    assert pod["initContainers"][1]["args"][0] == "--once"
    assert pod["serviceAccountName"] == "reaper-node" and not pod["automountServiceAccountToken"]
    mounts = {c["name"]: {m["mountPath"] for m in c.get("volumeMounts", [])}
              for c in pod["initContainers"] + pod["containers"]}
    token = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert [n for n, m in mounts.items() if token in m] == ["ready"]
    node_role = next(o for o in objs if o["kind"] == "ClusterRole"
                     and o["metadata"]["name"] == "reaper-node")
    assert any(r["resources"] == ["nodes"] and "patch" in r["verbs"] for r in node_role["rules"])
    namespaced = [o for o in objs if "namespace" in o["metadata"]]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"reaper-system"}


@pytest.mark.parametrize("plural,short", [("reaperpods", "rpod"), ("reaperoverlays", "rovl"),
                                          ("reaperdaemonjobs", "rdjob"),
                                          ("reapercheckpoints", "rckpt")])
def test_crd_shape(plural, short):
    doc, v, schema = crd_schema(plural)
    assert doc["spec"]["group"] == "reaper.io" and v["name"] == "v1alpha1"
    assert doc["spec"]["names"]["shortNames"] == [short]
    assert v["subresources"] == {"status": {}}
    assert any(c["name"] == "Phase" for c in v["additionalPrinterColumns"])
    for rule in json.dumps(schema).split('"rule": ')[1:]:
        assert rule.startswith('"'), "CEL rules are strings"


def check_cr(plural, obj, ok):
    _, _, schema = crd_schema(plural)
    errs = list(jsonschema.Draft7Validator(plain(schema)).iter_errors(obj))
    assert (not errs) == ok, [e.message for e in errs]


def test_reaperpod_schema_accepts_the_seed_examples_and_rejects_bad_input():
    good = {"spec": {"command": ["/bin/sh", "-c", "cat /config/greeting"], "overlayName": "slurm",
                     "volumes": [{"name": "config", "mountPath": "/config", "configMap": "app",
                                  "readOnly": True}, {"name": "s", "mountPath": "/s",
                                                      "emptyDir": True}],
                     "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                     "nodeSelector": {"workload-type": "compute"}, "dnsMode": "host"}}
    check_cr("reaperpods", good, True)
    check_cr("reaperpods", {"spec": {}}, False)  # command required
    check_cr("reaperpods", {"spec": {"command": ["x"], "overlayName": "Bad_Name"}}, False)
    check_cr("reaperpods", {"spec": {"command": ["x"], "dnsMode": "none"}}, False)
    check_cr("reaperpods", {"spec": {"command": ["x"], "restartPolicy": "Sometimes"}}, False)


def test_overlay_and_daemonjob_schemas():
    check_cr("reaperoverlays", {"spec": {"resetPolicy": "OnDelete", "resetGeneration": 2}}, True)
    check_cr("reaperoverlays", {"spec": {"resetPolicy": "Always"}}, False)
    check_cr("reaperoverlays", {"spec": {"resetGeneration": -1}}, False)
    check_cr("reaperoverlays", {"spec": {"target": "Namespace"}}, True)
    check_cr("reaperoverlays", {"spec": {"target": "Node"}}, False)
    job = {"spec": {"command": ["/bin/sh", "-c"], "args": ["true"], "overlayName": "node-config",
                    "after": ["mount-filesystems"], "retryLimit": 2, "triggerOn": "Manual",
                    "concurrencyPolicy": "Replace", "tolerations": [{"operator": "Exists"}]}}
    check_cr("reaperdaemonjobs", job, True)
    check_cr("reaperdaemonjobs", {"spec": {**job["spec"], "retryLimit": -1}}, False)
    check_cr("reaperdaemonjobs", {"spec": {**job["spec"], "triggerOn": "Always"}}, False)
    check_cr("reaperdaemonjobs", {"spec": {**job["spec"], "after": ["Not Valid"]}}, False)


def test_checkpoint_schema():
    good = {"spec": {"podName": "counter", "container": "counter",
                     "destination": "/var/lib/reaper/checkpoints/counter-1",
                     "options": {"leaveRunning": True, "tcpEstablished": True, "fileLocks": True,
                                 "extUnixSockets": False}},
            "status": {"phase": "Succeeded", "nodeName": "n1", "imagePath": "/x", "sizeBytes": 1,
                       "durationMilliseconds": 300, "criuVersion": "4.2", "logCopied": 10,
                       "startTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}}
    check_cr("reapercheckpoints", good, True)
    check_cr("reapercheckpoints", {"spec": {"podName": "p"}}, True)  # the rest defaults
    check_cr("reapercheckpoints", {"spec": {}}, False)  # podName required
    check_cr("reapercheckpoints", {"spec": {"podName": "p", "destination": "relative/dir"}}, False)
    check_cr("reapercheckpoints", {"spec": {"podName": "p"}, "status": {"phase": "Done"}}, False)
    check_cr("reapercheckpoints", {"spec": {"podName": "p"}, "status": {"sizeBytes": -1}}, False)
    _, v, schema = crd_schema("reapercheckpoints")
    spec = schema["properties"]["spec"]
    assert spec["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    # The CEL rules, evaluated by a real CEL implementation (tests/cel) as the API server would.
    dest = spec["properties"]["destination"]["x-kubernetes-validations"][0]["rule"]
    cases = [(dest, path, ok) for path, ok in [
        ("/var/lib/x", True), ("/a/.b", True), ("/a/..c", True), ("/a/../b", False),
        ("/a/.", False), ("/..", False), ("/a/./b", False)]]
    cases += [("self == oldSelf", {"podName": "a"}, True)]
    out = eval_cel_rules([{"rule": r, "self": s, "oldSelf": {"podName": "a"}} for r, s, _ in cases])
    assert [o.get("value", o.get("error")) for o in out] == [ok for _, _, ok in cases]
    cols = {c["name"]: c["jsonPath"] for c in v["additionalPrinterColumns"]}
    assert cols["Pod"] == ".spec.podName" and cols["Size"] == ".status.sizeBytes"


def eval_cel_rules(cases):
    cel = REPO / "tests/cel"
    if not (cel / "node_modules").is_dir():
        pytest.fail(f"{cel}/node_modules missing: run scripts/install-deps.sh")
    r = subprocess.run(["node", str(cel / "eval.mjs"), "--rules"],
                       input=json.dumps({"cases": cases}), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_cel_rules_present():
    _, _, job = crd_schema("reaperdaemonjobs")
    assert "retryLimit >= 0" in json.dumps(job)
    assert "cannot depend on itself" in json.dumps(job)
    _, _, ovl = crd_schema("reaperoverlays")
    assert re.search(r"self >= oldSelf", json.dumps(ovl))
    assert "target is immutable" in json.dumps(ovl)
