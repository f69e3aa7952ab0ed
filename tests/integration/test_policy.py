"""deploy/policy: the admission policies generated from reaper-validate's rule table. The committed
files are the generator's output; their CEL is evaluated by a real CEL implementation (npm
@marcbachmann/cel-js, tests/cel) against sample Pods the way the API server evaluates it
(matchConditions, then each validation, with `object` and `namespaceObject`), and it agrees with
the linter on every rule; the objects validate against the upstream schema."""
import copy
import json
import subprocess

import pytest
import yaml

from conftest import REPO
from k8s_schema import CEL_DIR, check, check_admission_policies, kustomize
from test_validate import any_value, findings, validate

pytestmark = pytest.mark.packaging

POLICY = REPO / "deploy/policy"
LABEL = "reaper.io/allow-host-processes"
GUARD, WARN = "reaper-pod-guard", "reaper-pod-ignored-fields"


def load(version):
    return [d for d in yaml.safe_load_all((POLICY / version / "policy.yaml").read_text()) if d]


@pytest.fixture(scope="module")
def policies():
    return [d for d in load("v1") if d["kind"] == "ValidatingAdmissionPolicy"]


@pytest.fixture(scope="module")
def rules():
    r = validate("--rules", "--output", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def namespace(labels=None, name="team-a"):
    meta = {"name": name}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


ALLOWED = namespace({LABEL: "true", "kubernetes.io/metadata.name": "team-a"})


def pod(spec=None, runtime_class="reaper-v2"):
    s = {"containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent"}]}
    if runtime_class:
        s["runtimeClassName"] = runtime_class
    s.update(spec or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"},
            "spec": s}


def evaluate(policies, cases):
    """[(object, namespaceObject)] → per case {policy name: result}."""
    if not (CEL_DIR / "node_modules").is_dir():
        pytest.fail(f"{CEL_DIR}/node_modules missing: run scripts/install-deps.sh")
    payload = {"policies": policies,
               "cases": [{"object": o, "namespaceObject": ns} for o, ns in cases]}
    r = subprocess.run(["node", str(CEL_DIR / "eval.mjs")], input=json.dumps(payload),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = [{p["policy"]: p for p in per_case} for per_case in json.loads(r.stdout)]
    for per_case in out:
        for p in per_case.values():
            assert "error" not in p, p
            errors = [v["error"] for v in p["validations"] if "error" in v]
            assert not errors, errors
    return out


def failed(result, name):
    """Messages of the failed validations, or None when the policy did not match."""
    p = result[name]
    if not p["matched"]:
        return None
    return [v["message"] for v in p["validations"] if not v["passed"]]


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_committed_policy_is_the_generated_one(version):
    r = validate("--emit-policy", version)
    assert r.returncode == 0, r.stderr
    assert (POLICY / version / "policy.yaml").read_text() == r.stdout, \
        f"regenerate: reaper-validate --emit-policy {version} > deploy/policy/{version}/policy.yaml"


def test_v1beta1_has_the_shape_of_v1():
    v1, beta = load("v1"), load("v1beta1")
    assert [d["apiVersion"] for d in beta] == ["admissionregistration.k8s.io/v1beta1"] * 4
    assert [{**d, "apiVersion": "x"} for d in v1] == [{**d, "apiVersion": "x"} for d in beta]


def test_objects_validate_against_the_schema():
    docs = load("v1") + load("v1beta1")
    assert [d["kind"] for d in docs[:4]] == ["ValidatingAdmissionPolicy",
                                             "ValidatingAdmissionPolicyBinding"] * 2
    check_admission_policies(docs)
    for d in docs:
        check(d)
    bad = copy.deepcopy(docs[1])
    bad["spec"]["validationActions"] = ["Block"]
    with pytest.raises(AssertionError, match="validationActions"):
        check_admission_policies([bad])
    bad = copy.deepcopy(docs[0])
    bad["spec"]["validations"][0].pop("expression")
    with pytest.raises(AssertionError, match="expression"):
        check_admission_policies([bad])
    bad = copy.deepcopy(docs[0])
    bad["spec"]["matchConstraints"]["resourceRules"][0]["operation"] = ["CREATE"]
    with pytest.raises(AssertionError, match=r"unknown fields: \['.spec.matchConstraints."
                                             r"resourceRules.operation'\]"):
        check_admission_policies([bad])


def test_bindings_deny_and_warn():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in load("v1")}
    guard = docs[("ValidatingAdmissionPolicyBinding", GUARD)]["spec"]
    warn = docs[("ValidatingAdmissionPolicyBinding", WARN)]["spec"]
    assert guard == {"policyName": GUARD, "validationActions": ["Deny"]}
    assert warn == {"policyName": WARN, "validationActions": ["Warn", "Audit"]}
    for name in (GUARD, WARN):
        spec = docs[("ValidatingAdmissionPolicy", name)]["spec"]
        assert spec["matchConstraints"]["resourceRules"] == [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
             "resources": ["pods"]}]


def test_namespace_guard(policies):
    clean = pod()
    cases = [(clean, ALLOWED), (clean, namespace()), (clean, namespace({})),
             (clean, namespace({LABEL: "false"})), (clean, namespace({"other": "true"}, "b")),
             (pod(runtime_class="runc"), namespace()), (pod(runtime_class=None), namespace())]
    res = evaluate(policies, cases)
    assert failed(res[0], GUARD) == [] and failed(res[0], WARN) == []
    for r, ns in zip(res[1:5], ["team-a", "team-a", "team-a", "b"]):
        msgs = failed(r, GUARD)
        assert msgs == [f"runtimeClassName reaper-v2 runs host processes: namespace {ns} is not "
                        f"labelled {LABEL}=true"], msgs
    for r in res[5:]:  # not a Reaper pod: neither policy applies
        assert failed(r, GUARD) is None and failed(r, WARN) is None


def setting(rule, value, where="containers"):
    """A Reaper pod setting the rule's field (a container field in containers[0] or the list
    named by where)."""
    p = pod()
    if rule["scope"] == "pod":
        target = p["spec"]
    else:
        p["spec"].setdefault(where, [{"name": "w", "image": "busybox"}])
        target = p["spec"][where][0]
    *parents, last = rule["field"].split(".")
    for k in parents:
        target = target.setdefault(k, {})
    target[last] = value
    return p


def policy_rules(rules):
    return [r for r in rules if r["scope"] != "reaper.io" and r["field"] != "runtimeClassName"]


def test_every_rule_warns_denies_or_passes(policies, rules):
    """Each field alone, in an allowed namespace: refused → exactly its Deny message, ignored →
    exactly its Warn message, enforced (and always-set) → nothing; container fields also in
    initContainers and ephemeralContainers."""
    cases, expect = [], []
    for rule in policy_rules(rules):
        value = json.loads(rule["value"]) if rule["value"] else any_value(rule, rules)
        lists = ["containers"] if rule["scope"] == "pod" else \
            ["containers", "initContainers", "ephemeralContainers"]
        for where in lists:
            cases.append((setting(rule, value, where), ALLOWED))
            expect.append(rule)
    results = evaluate(policies, cases)
    for rule, res in zip(expect, results):
        deny, warn = failed(res, GUARD), failed(res, WARN)
        field = ("spec." if rule["scope"] == "pod" else "spec.containers[*].") + rule["field"]
        if rule["verdict"] == "refused":
            assert warn == [] and len(deny) == 1 and deny[0].startswith(field), (rule, deny)
            assert "refused by Reaper" in deny[0]
        elif rule["verdict"] == "ignored" and not rule["always_set"]:
            assert deny == [] and len(warn) == 1 and warn[0].startswith(field), (rule, warn)
            assert rule["reason"] in warn[0]
        else:
            assert deny == [] and warn == [], rule


def test_linter_and_policy_agree(policies, rules):
    """The same generated Pods through both: warning ⇔ a Warn message, error ⇔ a Deny."""
    pods = []
    for rule in policy_rules(rules):
        value = json.loads(rule["value"]) if rule["value"] else any_value(rule, rules)
        pods.append(setting(rule, value))
    linted = findings("-", stdin=yaml.safe_dump_all(pods))["objects"]
    results = evaluate(policies, [(p, ALLOWED) for p in pods])
    for p, lint, res in zip(pods, linted, results):
        sev = {f["severity"] for f in lint["findings"]}
        assert ("error" in sev) == bool(failed(res, GUARD)), (p, lint)
        assert ("warning" in sev) == bool(failed(res, WARN)), (p, lint)


def test_sample_pods(policies):
    """Hand-written Pods with the outcome written out."""
    ok = pod({"hostNetwork": True, "securityContext": {"runAsUser": 1000},
              "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"],
                              "securityContext": {"capabilities": {"drop": ["ALL"]},
                                                  "readOnlyRootFilesystem": True}}]})
    noisy = pod({"hostNetwork": False, "containers": [
        {"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1"},
                                                        "requests": {"cpu": "1"}}}]})
    denied = pod({"hostUsers": False,
                  "securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced",
                                                   "value": "1"}]}})
    runc = pod({"hostUsers": False, "securityContext": {"sysctls": []}}, runtime_class="runc")
    res = evaluate(policies, [(ok, ALLOWED), (noisy, ALLOWED), (denied, ALLOWED),
                              (runc, namespace())])
    assert failed(res[0], GUARD) == [] and failed(res[0], WARN) == []
    assert failed(res[1], GUARD) == []
    assert sorted(m.split(":")[0] for m in failed(res[1], WARN)) == [
        "spec.containers[*].resources.limits", "spec.hostNetwork = false"]
    assert sorted(m.split(":")[0] for m in failed(res[2], GUARD)) == [
        "spec.hostUsers = false", "spec.securityContext.sysctls"]
    assert failed(res[3], GUARD) is None and failed(res[3], WARN) is None


def test_kustomize_with_policy_renders_base_and_policy():
    objs = kustomize(REPO / "deploy/kustomize-with-policy")
    base = kustomize(REPO / "deploy/kustomize")
    extra = [o for o in objs if o not in base]
    assert len(objs) == len(base) + 4
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    assert sorted(extra, key=key) == sorted(load("v1"), key=key)
    for o in extra:
        check(o)
