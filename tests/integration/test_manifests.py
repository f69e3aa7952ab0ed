"""Validate deploy/crds and deploy/controller against the Kubernetes 1.28 OpenAPI schemas."""
import json
import pathlib
import re

import jsonschema
import pytest
import yaml

from conftest import REPO

# REPO/../shared in the main checkout; worktrees live one level deeper (REPO/../../shared).
_CANDIDATES = [REPO.parent / "shared", REPO.parent.parent / "shared"]
OPENAPI = next((c / "k8s-openapi" / "v1.28" for c in _CANDIDATES
                if (c / "k8s-openapi" / "v1.28").is_dir()), _CANDIDATES[0] / "k8s-openapi" / "v1.28")
CRDS = sorted((REPO / "deploy/crds").glob("*.yaml"))
MANIFESTS = sorted((REPO / "deploy/controller").glob("*.yaml"))

# kind → (OpenAPI file, schema name)
KINDS = {
    "CustomResourceDefinition": ("apis__apiextensions.k8s.io__v1_openapi.json",
                                 "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
                                 "CustomResourceDefinition"),
    "Deployment": ("apis__apps__v1_openapi.json", "io.k8s.api.apps.v1.Deployment"),
    "ServiceAccount": ("api__v1_openapi.json", "io.k8s.api.core.v1.ServiceAccount"),
    "ClusterRole": ("apis__rbac.authorization.k8s.io__v1_openapi.json",
                    "io.k8s.api.rbac.v1.ClusterRole"),
    "ClusterRoleBinding": ("apis__rbac.authorization.k8s.io__v1_openapi.json",
                           "io.k8s.api.rbac.v1.ClusterRoleBinding"),
    "Role": ("apis__rbac.authorization.k8s.io__v1_openapi.json", "io.k8s.api.rbac.v1.Role"),
    "RoleBinding": ("apis__rbac.authorization.k8s.io__v1_openapi.json",
                    "io.k8s.api.rbac.v1.RoleBinding"),
}


def validator(kind):
    if not OPENAPI.is_dir():
        pytest.fail(f"Kubernetes OpenAPI schemas not found at {OPENAPI} (expected REPO/../shared)")
    fname, name = KINDS[kind]
    doc = json.loads((OPENAPI / fname).read_text())
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft7Validator(schema)


def unknown_fields(components, schema, doc, path="", depth=0):
    """Keys the schema does not declare (the OpenAPI documents never forbid extra keys)."""
    while "$ref" in schema or "allOf" in schema:
        ref = schema["$ref"] if "$ref" in schema else schema["allOf"][0]["$ref"]
        schema = components[ref.split("/")[-1]]
    if depth > 40 or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out = []
    if isinstance(doc, dict) and "properties" in schema:
        for k, v in doc.items():
            if k not in schema["properties"]:
                out.append(f"{path}.{k}")
            else:
                out += unknown_fields(components, schema["properties"][k], v, f"{path}.{k}", depth + 1)
    elif isinstance(doc, dict) and isinstance(schema.get("additionalProperties"), dict):
        for k, v in doc.items():
            out += unknown_fields(components, schema["additionalProperties"], v, f"{path}.{k}",
                                  depth + 1)
    elif isinstance(doc, list) and "items" in schema:
        for i, v in enumerate(doc):
            out += unknown_fields(components, schema["items"], v, f"{path}[{i}]", depth + 1)
    return out


def strict(v, doc):
    errors = [e.message for e in v.iter_errors(doc)]
    assert not errors, errors
    comps = v.schema["components"]["schemas"]
    extra = unknown_fields(comps, v.schema, doc)
    assert not extra, f"unknown fields: {extra}"


def test_validation_catches_mistakes():
    v = validator("Deployment")
    with pytest.raises(AssertionError):
        strict(v, {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "two"}})
    with pytest.raises(AssertionError, match="unknown fields"):
        good = yaml.safe_load((REPO / "deploy/controller/deployment.yaml").read_text())
        good["spec"]["replica"] = 2
        strict(v, good)


def docs(paths):
    for p in paths:
        for d in yaml.safe_load_all(p.read_text()):
            if d:
                yield p.name, d


@pytest.mark.parametrize("name,doc", list(docs(CRDS + MANIFESTS)), ids=lambda x: str(x)[:40])
def test_manifest_matches_openapi(name, doc):
    assert doc["kind"] in KINDS, f"{name}: unexpected kind {doc['kind']}"
    strict(validator(doc["kind"]), doc)


def crd_schema(plural):
    doc = yaml.safe_load((REPO / f"deploy/crds/{plural}.reaper.io.yaml").read_text())
    v = doc["spec"]["versions"][0]
    return doc, v, v["schema"]["openAPIV3Schema"]


def plain(schema):
    """The CRD schema as JSON Schema: drop x-kubernetes-* (CEL is checked by the API server)."""
    if isinstance(schema, dict):
        return {k: plain(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [plain(x) for x in schema]
    return schema


@pytest.mark.parametrize("plural,short", [("reaperpods", "rpod"), ("reaperoverlays", "rovl"),
                                          ("reaperdaemonjobs", "rdjob")])
def test_crd_shape(plural, short):
    doc, v, schema = crd_schema(plural)
    assert doc["spec"]["group"] == "reaper.io" and v["name"] == "v1alpha1"
    assert doc["spec"]["names"]["shortNames"] == [short]
    assert v["subresources"] == {"status": {}}
    assert any(c["name"] == "Phase" for c in v["additionalPrinterColumns"])
    for rule in json.dumps(schema).split('"rule": ')[1:]:
        assert rule.startswith('"'), "CEL rules are strings"


def check(plural, obj, ok):
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
    check("reaperpods", good, True)
    check("reaperpods", {"spec": {}}, False)  # command required
    check("reaperpods", {"spec": {"command": ["x"], "overlayName": "Bad_Name"}}, False)
    check("reaperpods", {"spec": {"command": ["x"], "dnsMode": "none"}}, False)
    check("reaperpods", {"spec": {"command": ["x"], "restartPolicy": "Sometimes"}}, False)


def test_overlay_and_daemonjob_schemas():
    check("reaperoverlays", {"spec": {"resetPolicy": "OnDelete", "resetGeneration": 2}}, True)
    check("reaperoverlays", {"spec": {"resetPolicy": "Always"}}, False)
    check("reaperoverlays", {"spec": {"resetGeneration": -1}}, False)
    job = {"spec": {"command": ["/bin/sh", "-c"], "args": ["true"], "overlayName": "node-config",
                    "after": ["mount-filesystems"], "retryLimit": 2, "triggerOn": "Manual",
                    "concurrencyPolicy": "Replace", "tolerations": [{"operator": "Exists"}]}}
    check("reaperdaemonjobs", job, True)
    check("reaperdaemonjobs", {"spec": {**job["spec"], "retryLimit": -1}}, False)
    check("reaperdaemonjobs", {"spec": {**job["spec"], "triggerOn": "Always"}}, False)
    check("reaperdaemonjobs", {"spec": {**job["spec"], "after": ["Not Valid"]}}, False)


def test_cel_rules_present():
    _, _, job = crd_schema("reaperdaemonjobs")
    assert "retryLimit >= 0" in json.dumps(job)
    assert "cannot depend on itself" in json.dumps(job)
    _, _, ovl = crd_schema("reaperoverlays")
    assert re.search(r"self >= oldSelf", json.dumps(ovl))
