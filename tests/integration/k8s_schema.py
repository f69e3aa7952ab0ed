"""Offline validation of Kubernetes objects against the 1.28 OpenAPI schemas in ../shared.

`check(doc)` validates any built-in object (schema found by its group/version/kind) or a
reaper.io custom resource (against the CRD's openAPIV3Schema from deploy/crds), and also
rejects keys the schema does not declare (the OpenAPI documents never forbid extra keys, the
API server's strict field validation does).
"""
import functools
import json
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml

from conftest import REPO

# REPO/../shared in the main checkout; worktrees live one level deeper (REPO/../../shared).
_CANDIDATES = [REPO.parent / "shared", REPO.parent.parent / "shared"]
OPENAPI = next((c / "k8s-openapi" / "v1.28" for c in _CANDIDATES
                if (c / "k8s-openapi" / "v1.28").is_dir()), _CANDIDATES[0] / "k8s-openapi" / "v1.28")
CRD_GROUP = "reaper.io"


def _openapi_file(api_version):
    group, _, version = api_version.rpartition("/")
    return OPENAPI / (f"apis__{group}__{version}_openapi.json" if group else
                      f"api__{version}_openapi.json")


@functools.lru_cache(maxsize=None)
def _components(path):
    if not OPENAPI.is_dir():
        pytest.fail(f"Kubernetes OpenAPI schemas not found at {OPENAPI} (expected REPO/../shared)")
    if not path.is_file():
        pytest.fail(f"no OpenAPI document {path.name} for this apiVersion")
    return json.loads(path.read_text())["components"]


@functools.lru_cache(maxsize=None)
def validator(api_version, kind):
    comps = _components(_openapi_file(api_version))
    group, _, version = api_version.rpartition("/")
    want = {"group": group, "version": version, "kind": kind}
    names = [n for n, s in comps["schemas"].items()
             if want in s.get("x-kubernetes-group-version-kind", [])]
    assert names, f"{api_version} {kind}: not a Kubernetes 1.28 kind"
    return jsonschema.Draft7Validator({"$ref": f"#/components/schemas/{names[0]}",
                                       "components": comps})


def unknown_fields(components, schema, doc, path="", depth=0):
    """Keys the schema does not declare."""
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
                out += unknown_fields(components, schema["properties"][k], v, f"{path}.{k}",
                                      depth + 1)
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
    extra = unknown_fields(v.schema["components"]["schemas"], v.schema, doc)
    assert not extra, f"unknown fields: {extra}"


def plain(schema):
    """A CRD schema as JSON Schema: drop x-kubernetes-* (CEL is checked by the API server)."""
    if isinstance(schema, dict):
        return {k: plain(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [plain(x) for x in schema]
    return schema


def crd_schema(plural):
    doc = yaml.safe_load((REPO / f"deploy/crds/{plural}.{CRD_GROUP}.yaml").read_text())
    v = doc["spec"]["versions"][0]
    return doc, v, v["schema"]["openAPIV3Schema"]


def _crd_validator(kind):
    for path in (REPO / "deploy/crds").glob(f"*.{CRD_GROUP}.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc["spec"]["names"]["kind"] == kind:
            schema = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            return jsonschema.Draft7Validator(plain(schema))
    pytest.fail(f"no CRD for {CRD_GROUP} kind {kind}")


# Kubernetes 1.28 serves ValidatingAdmissionPolicy only as admissionregistration.k8s.io/v1beta1,
# a beta API the OpenAPI files above do not carry. Its v1 schema (1.30+, the same fields as 1.28's
# v1beta1) comes with the npm package kubernetes-models in tests/cel (scripts/install-deps.sh).
ADMISSION_POLICY_KINDS = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
CEL_DIR = REPO / "tests/cel"


def check_admission_policies(docs):
    """Validate policies and bindings (v1, or v1beta1 read as v1) against the upstream schema."""
    if not (CEL_DIR / "node_modules").is_dir():
        pytest.fail(f"{CEL_DIR}/node_modules missing: run scripts/install-deps.sh")
    as_v1 = [{**d, "apiVersion": "admissionregistration.k8s.io/v1"} for d in docs]
    for d in docs:
        assert d["apiVersion"] in ("admissionregistration.k8s.io/v1",
                                   "admissionregistration.k8s.io/v1beta1"), d["apiVersion"]
    out = subprocess.run(["node", str(CEL_DIR / "eval.mjs"), "--schema"],
                         input=json.dumps({"objects": as_v1}), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    errors = [f"{r['name']}: {r['error']}" for r in json.loads(out.stdout) if "error" in r]
    assert not errors, errors
    for d in docs:  # the package's validators allow any extra key; the API server does not
        extra = _admission_unknown_fields(d["kind"], d)
        assert not extra, f"{d['kind']}/{d['metadata']['name']}: unknown fields: {extra}"


_ADMISSION_TS = CEL_DIR / "node_modules/kubernetes-models/admissionregistration.k8s.io/v1"
_ADMISSION_REF = re.compile(r"IIoK8sApiAdmissionregistrationV1(\w+)")


@functools.lru_cache(maxsize=None)
def _admission_fields(type_name):
    """{field: TypeScript type} of an admissionregistration/v1 type, from the package's .d.ts."""
    text = (_ADMISSION_TS / f"{type_name}.d.ts").read_text()
    body = re.search(r"^export interface \w+(?: extends \w+)? \{\n(.*?)^\}", text,
                     re.S | re.M).group(1)
    return dict(re.findall(r'^    "(\w+)"\??: (.+);$', body, re.M))


def _admission_unknown_fields(type_name, doc, path=""):
    """Keys that the admissionregistration/v1 type does not declare (metadata is not checked)."""
    fields, out = _admission_fields(type_name), []
    for k, v in doc.items():
        if k not in fields:
            out.append(f"{path}.{k}")
            continue
        ref = _ADMISSION_REF.search(fields[k])
        for i, item in enumerate(v if isinstance(v, list) else [v]):
            if ref and isinstance(item, dict):
                out += _admission_unknown_fields(ref.group(1), item, f"{path}.{k}")
    return out


def check(doc):
    """Validate one object; the message names the object."""
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    if doc.get("kind") in ADMISSION_POLICY_KINDS:
        check_admission_policies([doc])
        return
    if doc.get("apiVersion", "").startswith(CRD_GROUP + "/"):
        errs = [e.message for e in _crd_validator(doc["kind"]).iter_errors(doc)]
        assert not errs, f"{name}: {errs}"
        return
    try:
        strict(validator(doc["apiVersion"], doc["kind"]), doc)
    except AssertionError as e:
        raise AssertionError(f"{name}: {e}") from None


def load_all(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomize(path):
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl not found: `kubectl kustomize` renders deploy/kustomize (the machine "
                    "image provides kubectl; Debian 12 does not package it)")
    out = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]
