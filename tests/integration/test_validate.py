"""reaper-validate: every rule of its table on a generated Pod (both outcomes), hand-written
manifests of every kind with the verdicts written out, multi-document YAML, JSON, stdin, bad
YAML, exit codes; docs/pod-fields.md shows exactly the table the binary carries."""
import json
import re
import subprocess

import pytest
import yaml

from conftest import BUILD, REPO

pytestmark = pytest.mark.packaging

DATA = REPO / "tests/integration/data/validate"
POD_FIELDS = REPO / "docs/pod-fields.md"


def validate(*args, stdin=None):
    exe = BUILD / "src/validate/reaper-validate"
    assert exe.exists(), f"{exe} not built"
    return subprocess.run([str(exe), *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=60)


def findings(*args, stdin=None, rc=None):
    r = validate("--output", "json", *args, stdin=stdin)
    if rc is not None:
        assert r.returncode == rc, r.stdout + r.stderr
    return json.loads(r.stdout)


def verdicts(obj):
    return {f["path"]: f["verdict"] for f in obj["findings"]}


@pytest.fixture(scope="module")
def rules():
    r = validate("--rules", "--output", "json")
    assert r.returncode == 0, r.stderr
    table = json.loads(r.stdout)
    assert len(table) > 80, "the table covers the Pod API"
    return table


def set_path(d, dotted, value):
    *parents, last = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value


def pod_setting(rule, value):
    """A manifest that sets the rule's field to value, and the field's real JSON path."""
    if rule["scope"] == "reaper.io":
        obj = {"apiVersion": "reaper.io/v1alpha1", "kind": "ReaperPod",
               "metadata": {"name": "r"}, "spec": {"command": ["x"]}}
        set_path(obj["spec"], rule["field"], value)
        return obj, f"spec.{rule['field']}"
    spec = {"runtimeClassName": "reaper-v2", "containers": [{"name": "c"}]}
    if rule["scope"] == "pod":
        set_path(spec, rule["field"], value)
        path = f"spec.{rule['field']}"
    else:
        set_path(spec["containers"][0], rule["field"], value)
        path = f"spec.containers[0].{rule['field']}"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}, path


def any_value(rule, table):
    """A value no value-rule of the same field claims (so the rule for any value applies)."""
    if (rule["scope"], rule["field"]) == ("pod", "runtimeClassName"):
        return "reaper-v2"  # any other value is not a Reaper pod
    taken = [json.loads(r["value"]) for r in table if r["value"] is not None
             and (r["scope"], r["field"]) == (rule["scope"], rule["field"])]
    return next(v for v in ({"k": "v"}, True, False, "x") if v not in taken)


def test_every_rule_decides_its_field(rules):
    """All rules in one multi-document stdin stream: document i sets only rule i's field."""
    docs, paths = [], []
    for rule in rules:
        value = json.loads(rule["value"]) if rule["value"] else any_value(rule, rules)
        obj, path = pod_setting(rule, value)
        docs.append(obj)
        paths.append(path)
    out = findings("-", stdin=yaml.safe_dump_all(docs))
    assert len(out["objects"]) == len(rules)
    for rule, path, obj in zip(rules, paths, out["objects"]):
        got = [f for f in obj["findings"] if f["path"] == path]
        assert len(got) == 1, (rule, obj)
        assert got[0]["verdict"] == rule["verdict"] and got[0]["rule"] == rule["field"], rule
        assert got[0]["reason"] == rule["reason"]
        want = {"refused": "error", "ignored": "none" if rule["always_set"] else "warning",
                "enforced": "none"}[rule["verdict"]]
        assert got[0]["severity"] == want, rule


def test_every_rule_exit_status(rules):
    """Refused fails; ignored fails only with --strict; enforced never."""
    seen = set()
    for rule in rules:
        key = (rule["verdict"], rule["always_set"])
        if key in seen:
            continue
        seen.add(key)
        value = json.loads(rule["value"]) if rule["value"] else any_value(rule, rules)
        text = json.dumps(pod_setting(rule, value)[0])
        warn = rule["verdict"] == "ignored" and not rule["always_set"]
        assert validate("-", stdin=text).returncode == (1 if rule["verdict"] == "refused" else 0)
        assert validate("--strict", "-", stdin=text).returncode == \
            (1 if rule["verdict"] == "refused" or warn else 0), rule
    assert {v for v, _ in seen} == {"enforced", "ignored", "refused"}


def test_the_other_outcome(rules):
    """A value rule does not decide other values; an unset field is never reported."""
    for rule in rules:
        if rule["value"] is None:
            continue
        obj, path = pod_setting(rule, any_value(rule, rules))
        got = verdicts(findings("-", stdin=json.dumps(obj))["objects"][0])
        generic = next(r for r in rules if (r["scope"], r["field"]) == (rule["scope"],
                                                                        rule["field"])
                       and r["value"] is None)
        assert got[path] == generic["verdict"], rule
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"runtimeClassName": "reaper-v2", "containers": [{"name": "c"}]}}
    got = verdicts(findings("-", stdin=json.dumps(bare), rc=0)["objects"][0])
    assert got == {"spec.runtimeClassName": "enforced", "spec.containers[0].name": "enforced"}


def test_unknown_fields_are_ignored_with_a_reason():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"runtimeClassName": "reaper-v2", "futureField": 1,
                    "containers": [{"name": "c", "securityContext": {"futureKnob": True}}]}}
    obj = findings("--strict", "-", stdin=json.dumps(pod), rc=1)["objects"][0]
    by_path = {f["path"]: f for f in obj["findings"]}
    assert by_path["spec.futureField"]["verdict"] == "ignored"
    assert "rule table" in by_path["spec.containers[0].securityContext.futureKnob"]["reason"]


def test_every_kind_multi_document_with_written_out_verdicts():
    out = findings(DATA / "workloads.yaml", rc=1)
    objs = {(o["kind"], o["name"]): o for o in out["objects"]}
    assert len(objs) == 9  # the trailing empty document is no object
    web = objs[("Pod", "web")]
    assert (web["file"], web["document"], web["line"], web["namespace"]) == \
        (str(DATA / "workloads.yaml"), 1, 2, "team-a")
    assert verdicts(web) == {
        "spec.runtimeClassName": "enforced", "spec.hostNetwork": "enforced",
        "spec.securityContext.runAsUser": "enforced",
        "spec.securityContext.sysctls": "refused",
        "spec.containers[0].name": "enforced", "spec.containers[0].image": "ignored",
        "spec.containers[0].command": "enforced",
        "spec.containers[0].resources.limits": "ignored",
        "spec.containers[0].securityContext.capabilities.drop": "enforced",
        "spec.containers[0].securityContext.seccompProfile": "enforced"}
    t = "spec.template.spec."
    api = verdicts(objs[("Deployment", "api")])
    assert api[t + "shareProcessNamespace"] == "ignored"
    assert api[t + "containers[0].ports"] == "ignored"
    db = objs[("StatefulSet", "db")]
    assert not db["checked"] and db["findings"] == [] and "runtimeClassName" in db["skipped"]
    assert verdicts(objs[("DaemonSet", "agent")])[t + "hostUsers"] == "refused"
    once = verdicts(objs[("Job", "once")])
    assert once[t + "initContainers[0].securityContext.procMount"] == "ignored"
    cron = verdicts(objs[("CronJob", "nightly")])
    c = "spec.jobTemplate.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem"
    assert cron[c] == "enforced"
    assert verdicts(objs[("ReaperPod", "task")]) == {"spec.command": "enforced",
                                                     "spec.runAsUser": "enforced"}
    job = objs[("ReaperDaemonJob", "prep-nodes")]
    assert verdicts(job)["spec.priorityClassName"] == "ignored"
    assert "CRD" in job["findings"][-1]["reason"]
    assert "no pod template" in objs[("ConfigMap", "settings")]["skipped"]
    assert out["summary"]["refused"] == 2


def test_runtime_class_flag():
    out = findings("--runtime-class", "runc", DATA / "workloads.yaml", rc=0)
    checked = {o["kind"] for o in out["objects"] if o["checked"]}
    # the StatefulSet has no runtimeClassName; reaper.io kinds always count
    assert checked == {"ReaperPod", "ReaperDaemonJob"}
    assert validate("--runtime-class", "", DATA / "clean.yaml").returncode == 2


def test_json_input_and_strict():
    out = findings(DATA / "pod.json", rc=0)
    got = verdicts(out["objects"][0])
    assert got["spec.containers[0].resources.limits"] == "ignored"
    assert got["spec.containers[0].imagePullPolicy"] == "ignored"
    assert validate("--strict", DATA / "pod.json").returncode == 1


def test_clean_pod_passes_strict():
    r = validate("--strict", DATA / "clean.yaml")
    assert r.returncode == 0, r.stdout
    assert "0 refused" in r.stdout.splitlines()[-1]


def test_stdin_text_output():
    r = validate("-", stdin=(DATA / "workloads.yaml").read_text())
    assert r.returncode == 1
    assert re.search(r"^-:1 \(line 2\): Pod team-a/web$", r.stdout, re.M), r.stdout
    assert re.search(r"^  REFUSED   spec\.securityContext\.sysctls: .*whole node$", r.stdout, re.M)
    assert re.search(r"^-:3 \(line \d+\): StatefulSet db: skipped: ", r.stdout, re.M)
    q = validate("--quiet", "-", stdin=(DATA / "workloads.yaml").read_text())
    assert "ENFORCED" not in q.stdout and "REFUSED" in q.stdout


def test_bad_yaml_names_file_document_and_line():
    r = validate(DATA / "bad.yaml")
    assert r.returncode == 2
    assert re.search(r"bad\.yaml: document 2: YAML line (9|10): did not find expected key "
                     r"\(parsing a block mapping started on line 6\)", r.stderr), r.stderr
    r = validate("-", stdin='kind: Pod\nmetadata: {name: "x}\n')
    assert r.returncode == 2 and "stdin: document 1: YAML line" in r.stderr, r.stderr
    r = validate("-", stdin="- just\n- a list\n")
    assert r.returncode == 2 and "not a YAML mapping" in r.stderr, r.stderr


def test_usage_errors():
    for args in ([], ["--output", "xml", "-"], ["--bogus"], ["--emit-policy", "v2"]):
        r = validate(*args, stdin="")
        assert r.returncode == 2, args
        assert r.stderr, args
    r = validate(REPO / "no/such/file.yaml")
    assert r.returncode == 2 and "no/such/file.yaml" in r.stderr


def test_examples_have_no_refused_fields():
    for path in sorted((REPO / "examples").glob("*.yaml")):
        r = validate("--quiet", path)
        assert r.returncode == 0, f"{path.name}: {r.stdout}{r.stderr}"


def doc_table():
    text = POD_FIELDS.read_text()
    m = re.search(r"<!-- BEGIN reaper-validate --rules -->\n(.*?)<!-- END reaper-validate "
                  r"--rules -->", text, re.S)
    assert m, "docs/pod-fields.md has no generated rule table"
    return m.group(1)


def test_docs_show_the_rule_table():
    r = validate("--rules")
    assert r.returncode == 0
    assert doc_table() == r.stdout, ("docs/pod-fields.md differs from `reaper-validate --rules`; "
                                     "paste its output between the BEGIN/END markers")


def test_docs_table_lists_every_rule(rules):
    rows = [line for line in doc_table().splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(rules)
    for row, rule in zip(rows, rules):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == rule["scope"] and cells[1].endswith(rule["field"] + "`")
        assert cells[3].split()[0] == rule["verdict"] and cells[4] == rule["reason"]
