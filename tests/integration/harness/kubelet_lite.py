"""Run a Pod manifest through CRI the way kubelet would, for the fields examples use.

Honoured: metadata name/namespace/annotations, runtimeClassName (→ runtime handler),
hostNetwork, securityContext runAsUser/runAsGroup (pod, then container), containers' command,
args, env (value), workingDir, volumeMounts of configMap/secret (from objects passed along, as
files in a temp dir; `items` lay keys out at their paths), hostPath and emptyDir volumes. A
DaemonSet, Deployment or Job runs as the one Pod its template describes (pod_of). Containers start in order; init containers
run to completion first. Anything else in the manifest is ignored, as it is here only to drive
the runtime, not to emulate kubelet.
"""
import base64
import pathlib
import tempfile


def _handler(pod):
    return pod["spec"].get("runtimeClassName") or "runc"


def pod_of(workload):
    """The Pod a workload's controller would create from its template (a Pod stays itself)."""
    if workload["kind"] == "Pod":
        return workload
    template = workload["spec"]["template"]
    meta = {"name": workload["metadata"]["name"],
            "namespace": workload["metadata"].get("namespace", "default"),
            "annotations": template.get("metadata", {}).get("annotations", {})}
    return {"kind": "Pod", "metadata": meta, "spec": template["spec"]}


def _source_files(vol, objects):
    """{relative path: text} a configMap or secret volume shows."""
    kind = "ConfigMap" if "configMap" in vol else "Secret"
    source = vol.get("configMap") or vol.get("secret")
    ref = source.get("name") or source.get("secretName")
    obj = next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == ref)
    data = dict(obj.get("stringData", {}))
    data.update({k: base64.b64decode(v).decode() if kind == "Secret" else v
                 for k, v in obj.get("data", {}).items()})
    items = source.get("items")
    return {i["path"]: data[i["key"]] for i in items} if items else data


def _volume_dirs(pod, objects, workdir):
    """{volume name: host dir} for the supported volume kinds."""
    dirs = {}
    for vol in pod["spec"].get("volumes", []):
        name = vol["name"]
        if "hostPath" in vol:
            dirs[name] = vol["hostPath"]["path"]
            continue
        d = pathlib.Path(tempfile.mkdtemp(prefix=f"vol-{name}-", dir=workdir))
        if "configMap" in vol or "secret" in vol:
            for rel, text in _source_files(vol, objects).items():
                (d / rel).parent.mkdir(parents=True, exist_ok=True)
                (d / rel).write_text(text)
        dirs[name] = str(d)
    return dirs


def _mounts(container, dirs):
    return [{"container_path": m["mountPath"], "host_path": dirs[m["name"]],
             "readonly": bool(m.get("readOnly"))} for m in container.get("volumeMounts", [])]


def _user(pod, container, key):
    for sc in (container.get("securityContext") or {}, pod["spec"].get("securityContext") or {}):
        if key in sc:
            return sc[key]
    return None


def start_container(cri, sandbox, pod, container, dirs):
    return cri.run_container(
        sandbox, container["name"], command=container.get("command"),
        args=container.get("args"), working_dir=container.get("workingDir", ""),
        env={e["name"]: e["value"] for e in container.get("env", []) if "value" in e},
        mounts=_mounts(container, dirs), run_as_user=_user(pod, container, "runAsUser"),
        run_as_group=_user(pod, container, "runAsGroup"),
        tty=bool(container.get("tty")), stdin=bool(container.get("stdin")))


def run_pod(cri, pod, objects=(), workdir="/tmp", timeout=30):
    """Sandbox + init containers (to completion) + containers. Returns (sandbox, {name: cid})."""
    meta = pod["metadata"]
    sandbox = cri.run_pod(meta["name"], namespace=meta.get("namespace", "default"),
                          runtime_handler=_handler(pod), annotations=meta.get("annotations"),
                          host_network=bool(pod["spec"].get("hostNetwork", True)))
    dirs = _volume_dirs(pod, objects, workdir)
    ids = {}
    for c in pod["spec"].get("initContainers", []):
        ids[c["name"]] = start_container(cri, sandbox, pod, c, dirs)
        status = cri.wait_exited(ids[c["name"]], timeout=timeout)
        if status.exit_code != 0:
            raise RuntimeError(f"init container {c['name']} exited {status.exit_code}")
    for c in pod["spec"]["containers"]:
        ids[c["name"]] = start_container(cri, sandbox, pod, c, dirs)
    return sandbox, ids
