"""A small kubelet-shaped CRI client for the private containerd.

Protos come from proto/cri.proto (a subset of k8s.io/cri-api runtime.v1), compiled with protoc
into a per-process temp dir on first use. gRPC stubs are built from the service descriptors.
"""
import atexit
import functools
import importlib
import pathlib
import shutil
import subprocess
import sys
import tempfile
import uuid

import grpc

from .wait import wait_for

PROTO_DIR = pathlib.Path(__file__).resolve().parent / "proto"
RPC_TIMEOUT = 30.0


@functools.lru_cache(maxsize=None)
def compile_proto(name, proto_dir=PROTO_DIR):
    """The generated <name>_pb2 module of <proto_dir>/<name>.proto (compiled once per
    process)."""
    out = tempfile.mkdtemp(prefix=f"{name}-proto-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out}", f"{name}.proto"],
                   check=True)
    sys.path.insert(0, out)
    try:
        return importlib.import_module(f"{name}_pb2")
    finally:
        sys.path.remove(out)


def pb():
    """The generated cri_pb2 module."""
    return compile_proto("cri")


class _Stub:
    """One callable per RPC of a service: stub.Version(request, timeout=...)."""

    def __init__(self, channel, service):
        desc = pb().DESCRIPTOR.services_by_name[service]
        for m in desc.methods:
            req, resp = (getattr(pb(), t.name) for t in (m.input_type, m.output_type))
            setattr(self, m.name, channel.unary_unary(
                f"/runtime.v1.{service}/{m.name}", request_serializer=req.SerializeToString,
                response_deserializer=resp.FromString))


def connect(address):
    channel = grpc.insecure_channel(f"unix://{address}")
    return channel, _Stub(channel, "RuntimeService"), _Stub(channel, "ImageService")


def version(address):
    """CRI Version against `address` (raises grpc.RpcError until the CRI plugin serves)."""
    channel, rt, _ = connect(address)
    try:
        return rt.Version(pb().VersionRequest(version="v1"), timeout=2)
    finally:
        channel.close()


def parse_cri_log(text):
    """CRI log lines `<RFC3339Nano> <stream> <P|F> <text>` → [(stream, text)], partials joined."""
    out, partial = [], {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3:
            continue
        _, stream, tag = parts[:3]
        body = parts[3] if len(parts) == 4 else ""
        partial[stream] = partial.get(stream, "") + body
        if tag == "F":
            out.append((stream, partial.pop(stream)))
    return out


class Pod:
    def __init__(self, pod_id, config, log_dir):
        self.id, self.config, self.log_dir = pod_id, config, pathlib.Path(log_dir)
        self.name = config.metadata.name
        self.namespace = config.metadata.namespace
        self.uid = config.metadata.uid
        self.containers = {}  # name -> container id

    def __repr__(self):
        return f"Pod({self.namespace}/{self.name} {self.id[:12]})"


class CriClient:
    """Kubelet-like calls; remembers what it created so cleanup() can remove it."""

    def __init__(self, address, pods_dir, image_ref):
        self.address, self.pods_dir, self.image_ref = address, pathlib.Path(pods_dir), image_ref
        self.channel, self.rt, self.img = connect(address)
        self.pb = pb()
        self.pods = []

    def close(self):
        self.channel.close()

    # ---- pods ----
    def pod_config(self, name, namespace, uid, annotations, host_network, cgroup_parent,
                   dns_servers=None, sysctls=None, privileged=False):
        p = self.pb
        ns = p.NamespaceOption(network=p.NODE if host_network else p.POD, pid=p.CONTAINER,
                               ipc=p.POD)
        log_dir = self.pods_dir / f"{namespace}_{name}_{uid}"
        return p.PodSandboxConfig(
            metadata=p.PodSandboxMetadata(name=name, uid=uid, namespace=namespace, attempt=0),
            hostname="" if host_network else name,  # kubelet leaves it empty on NODE net
            log_directory=str(log_dir),
            labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                    "io.kubernetes.pod.uid": uid},
            annotations=dict(annotations or {}),
            dns_config=p.DNSConfig(servers=list(dns_servers or [])),
            linux=p.LinuxPodSandboxConfig(
                cgroup_parent=cgroup_parent, sysctls=dict(sysctls or {}),
                security_context=p.LinuxSandboxSecurityContext(namespace_options=ns,
                                                               privileged=privileged)))

    def run_pod(self, name, namespace="default", runtime_handler="runc", annotations=None,
                host_network=True, uid=None, cgroup_parent="", dns_servers=None, sysctls=None,
                privileged=False):
        uid = uid or str(uuid.uuid4())
        cfg = self.pod_config(name, namespace, uid, annotations, host_network, cgroup_parent,
                              dns_servers, sysctls, privileged)
        pathlib.Path(cfg.log_directory).mkdir(parents=True, exist_ok=True)  # kubelet does this
        resp = self.rt.RunPodSandbox(
            self.pb.RunPodSandboxRequest(config=cfg, runtime_handler=runtime_handler),
            timeout=RPC_TIMEOUT)
        pod = Pod(resp.pod_sandbox_id, cfg, cfg.log_directory)
        self.pods.append(pod)
        return pod

    def pod_status(self, pod):
        return self.rt.PodSandboxStatus(
            self.pb.PodSandboxStatusRequest(pod_sandbox_id=_id(pod)), timeout=RPC_TIMEOUT).status

    def list_pods(self):
        return self.rt.ListPodSandbox(self.pb.ListPodSandboxRequest(), timeout=RPC_TIMEOUT).items

    def stop_pod(self, pod):
        self.rt.StopPodSandbox(self.pb.StopPodSandboxRequest(pod_sandbox_id=_id(pod)),
                               timeout=RPC_TIMEOUT)

    def remove_pod(self, pod):
        self.rt.RemovePodSandbox(self.pb.RemovePodSandboxRequest(pod_sandbox_id=_id(pod)),
                                 timeout=RPC_TIMEOUT)
        if pod in self.pods:  # removed by the test itself: nothing left for cleanup()
            self.pods.remove(pod)

    # ---- containers ----
    def _security(self, run_as_user, run_as_group, host_network, security=None):
        """security: extra LinuxContainerSecurityContext fields (capabilities, seccomp, ...)."""
        p = self.pb
        sc = p.LinuxContainerSecurityContext(namespace_options=p.NamespaceOption(
            network=p.NODE if host_network else p.POD, pid=p.CONTAINER, ipc=p.POD),
            **(security or {}))
        if run_as_user is not None:
            sc.run_as_user.value = run_as_user
        if run_as_group is not None:
            sc.run_as_group.value = run_as_group
        return sc

    def container_config(self, pod, name, command=None, args=None, env=None, working_dir="",
                         mounts=None, run_as_user=None, run_as_group=None, tty=False,
                         stdin=False, annotations=None, image=None, security=None):
        p = self.pb
        host_net = pod.config.linux.security_context.namespace_options.network == p.NODE
        return p.ContainerConfig(
            metadata=p.ContainerMetadata(name=name, attempt=0),
            image=p.ImageSpec(image=image or self.image_ref),
            command=command or [], args=args or [], working_dir=working_dir,
            envs=[p.KeyValue(key=k, value=v) for k, v in (env or {}).items()],
            mounts=[p.Mount(**m) for m in (mounts or [])],
            labels={"io.kubernetes.container.name": name,
                    "io.kubernetes.pod.name": pod.name,
                    "io.kubernetes.pod.namespace": pod.namespace,
                    "io.kubernetes.pod.uid": pod.uid},
            annotations=dict(annotations or {}),
            log_path=f"{name}/0.log", stdin=stdin, stdin_once=False, tty=tty,
            linux=p.LinuxContainerConfig(
                resources=p.LinuxContainerResources(),
                security_context=self._security(run_as_user, run_as_group, host_net,
                                                security)))

    def create_container(self, pod, name, command=None, args=None, env=None, working_dir="",
                         mounts=None, run_as_user=None, run_as_group=None, tty=False,
                         stdin=False, annotations=None, image=None, security=None):
        """mounts: dicts with Mount fields (container_path, host_path, readonly, ...);
        security: extra LinuxContainerSecurityContext fields."""
        cfg = self.container_config(pod, name, command, args, env, working_dir, mounts,
                                    run_as_user, run_as_group, tty, stdin, annotations, image,
                                    security)
        (pod.log_dir / name).mkdir(parents=True, exist_ok=True)  # kubelet does this
        cid = self.rt.CreateContainer(self.pb.CreateContainerRequest(
            pod_sandbox_id=pod.id, config=cfg, sandbox_config=pod.config),
            timeout=RPC_TIMEOUT).container_id
        pod.containers[name] = cid
        return cid

    def start_container(self, cid):
        self.rt.StartContainer(self.pb.StartContainerRequest(container_id=cid),
                               timeout=RPC_TIMEOUT)

    def run_container(self, pod, name, **kw):
        """create_container + start_container; returns the container id."""
        cid = self.create_container(pod, name, **kw)
        self.start_container(cid)
        return cid

    def stop_container(self, cid, timeout=0):
        self.rt.StopContainer(self.pb.StopContainerRequest(container_id=cid, timeout=timeout),
                              timeout=RPC_TIMEOUT + timeout)

    def remove_container(self, cid):
        self.rt.RemoveContainer(self.pb.RemoveContainerRequest(container_id=cid),
                                timeout=RPC_TIMEOUT)

    def list_containers(self, pod=None):
        f = self.pb.ContainerFilter(pod_sandbox_id=_id(pod) if pod else "")
        return self.rt.ListContainers(self.pb.ListContainersRequest(filter=f),
                                      timeout=RPC_TIMEOUT).containers

    def container_status(self, cid):
        return self.rt.ContainerStatus(self.pb.ContainerStatusRequest(container_id=cid),
                                       timeout=RPC_TIMEOUT).status

    def wait_exited(self, cid, timeout=10.0, interval=0.05):
        """Test-side bounded wait until ContainerStatus says EXITED; returns the status.
        (CRI in containerd 1.6 has no event stream; the bench polls with a short interval.)"""
        def exited():
            st = self.container_status(cid)
            return st if st.state == self.pb.CONTAINER_EXITED else None
        return wait_for(exited, timeout, f"container {cid[:12]} to exit", interval)

    def exec_sync(self, cid, cmd, timeout=10):
        """Returns the ExecSyncResponse (stdout, stderr bytes, exit_code)."""
        return self.rt.ExecSync(self.pb.ExecSyncRequest(container_id=cid, cmd=cmd,
                                                        timeout=timeout),
                                timeout=timeout + RPC_TIMEOUT)

    def container_stats(self, cid):
        return self.rt.ContainerStats(self.pb.ContainerStatsRequest(container_id=cid),
                                      timeout=RPC_TIMEOUT).stats

    def list_container_stats(self, pod=None):
        f = self.pb.ContainerStatsFilter(pod_sandbox_id=_id(pod) if pod else "")
        return self.rt.ListContainerStats(self.pb.ListContainerStatsRequest(filter=f),
                                          timeout=RPC_TIMEOUT).stats

    def update_resources(self, cid, **linux):
        self.rt.UpdateContainerResources(self.pb.UpdateContainerResourcesRequest(
            container_id=cid, linux=self.pb.LinuxContainerResources(**linux)),
            timeout=RPC_TIMEOUT)

    # ---- images ----
    def list_images(self):
        return self.img.ListImages(self.pb.ListImagesRequest(), timeout=RPC_TIMEOUT).images

    def image_status(self, ref):
        return self.img.ImageStatus(self.pb.ImageStatusRequest(
            image=self.pb.ImageSpec(image=ref)), timeout=RPC_TIMEOUT).image

    # ---- logs ----
    def log_file(self, pod, container):
        return pod.log_dir / container / "0.log"

    def read_log(self, pod, container):
        """[(stream, text)] from the container's CRI log file ([] if it does not exist)."""
        try:
            return parse_cri_log(self.log_file(pod, container).read_text(errors="replace"))
        except FileNotFoundError:
            return []

    def wait_log(self, pod, container, count, timeout=5.0):
        """Test-side bounded wait until the log holds >= count entries; returns read_log()."""
        return wait_for(lambda: lines if len(lines := self.read_log(pod, container)) >= count
                        else None, timeout,
                        lambda: f"{count} log lines of {container}, "
                                f"have {self.read_log(pod, container)}")

    # ---- teardown ----
    def cleanup(self):
        """Stop and remove every pod this client created (containers go with them)."""
        errors = []
        for pod in reversed(self.pods):
            for step in (self.stop_pod, self.remove_pod):
                try:
                    step(pod)
                except grpc.RpcError as e:
                    errors.append(f"{step.__name__}({pod}): {e.code()} {e.details()}")
        self.pods.clear()
        return errors

    def remove_all_pods(self):
        """Stop and remove every pod containerd knows about (session teardown)."""
        self.pods = [Pod(item.id, self.pb.PodSandboxConfig(metadata=item.metadata), "/")
                     for item in self.list_pods()]
        return self.cleanup()


def _id(obj):
    return obj if isinstance(obj, str) else obj.id
