"""Pod securityContext under Reaper, through CRI as kubelet sends it (docs/pod-fields.md):
enforced when the Pod restricts itself (in the container and in every exec), refused when it
would change the node, and the default pod left as host root with everything."""
import json
import os
import socket
import uuid

import grpc
import pytest

from runtime_env import rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.shim
H = "reaper-v2"

# What kubelet sends for the default procMount (pkg/securitycontext/util.go).
KUBELET_MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                  "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                  "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
KUBELET_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

CAP = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
       "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13,
       "SYS_CHROOT": 18, "SYS_ADMIN": 21, "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31}
CONTAINERD_DEFAULT = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                      "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                      "AUDIT_WRITE"]

# key=value lines describing the process that runs it (awk reads its own /proc/self/status).
PROBE = r"""
for k in CapBnd CapEff CapPrm CapInh CapAmb Seccomp NoNewPrivs; do
  echo "$k=$(awk -v k="$k:" '$1==k {print $2}' /proc/self/status)"
done
echo "keys=$(stat -c %F /proc/keys)"
echo "firmware=$(ls /sys/firmware | wc -l)"
echo "procsys=$(awk '$5=="/proc/sys" {print substr($6,1,2)}' /proc/self/mountinfo | tail -n1)"
echo "hostname=$(cat /proc/sys/kernel/hostname)"
"""


def mask(names):
    return sum(1 << CAP[n] for n in names)


def host_status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1]
    raise KeyError(key)


FULL = int(host_status("CapBnd"), 16)  # the tests run as root with every capability


def host_procsys():
    """What PROBE's procsys prints on the host itself ("" if /proc/sys is no mount of its own)."""
    modes = [f[5][:2] for f in (line.split() for line in open("/proc/self/mountinfo"))
             if f[4] == "/proc/sys"]
    return modes[-1] if modes else ""


def parse(lines):
    return dict(line.split("=", 1) for line in lines if "=" in line)


def run_probe(cri, pod, name, security=None, mounts=None, script=PROBE):
    """The probe as the container's init, then as an exec into a second (sleeping) container
    with the same settings: returns (init's values, exec's values)."""
    sec = dict(security or {})
    sec.setdefault("masked_paths", KUBELET_MASKED)
    sec.setdefault("readonly_paths", KUBELET_READONLY)
    cid = cri.run_container(pod, name, command=["/bin/sh", "-c", script], security=sec,
                            mounts=mounts)
    st = cri.wait_exited(cid, timeout=15)
    assert st.exit_code == 0, (st.reason, st.message, cri.read_log(pod, name))
    init = parse(t for s, t in cri.read_log(pod, name) if s == "stdout")
    sleeper = cri.run_container(pod, name + "-x", command=["sleep", "1000"], security=sec,
                                mounts=mounts)
    r = cri.exec_sync(sleeper, ["/bin/sh", "-c", script])
    assert r.exit_code == 0, r.stderr
    return init, parse(r.stdout.decode().splitlines())


def caps_of(v):
    return {k: int(v[k], 16) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")}


def test_default_pod_is_host_root_unchanged(cri):
    pod = cri.run_pod("sec-default", runtime_handler=H)
    for v in run_probe(cri, pod, "main"):
        assert caps_of(v) == {"CapBnd": FULL, "CapEff": FULL, "CapPrm": FULL, "CapInh": 0,
                              "CapAmb": 0}
        assert (v["Seccomp"], v["NoNewPrivs"]) == ("0", "0")
        assert v["keys"].startswith("regular")  # kubelet's masked paths are not applied
        assert int(v["firmware"]) == len(os.listdir("/sys/firmware")) > 0
        assert v["procsys"] == host_procsys()
        assert v["hostname"] == socket.gethostname()  # spec.hostname never renames anything


def test_drop_all_in_container_and_exec(cri):
    pod = cri.run_pod("sec-dropall", runtime_handler=H)
    sec = {"capabilities": cri.pb.Capability(drop_capabilities=["ALL"])}
    for v in run_probe(cri, pod, "main", sec):
        assert caps_of(v) == {"CapBnd": 0, "CapEff": 0, "CapPrm": 0, "CapInh": 0, "CapAmb": 0}
        # Restricted: kubelet's masked and read-only paths now apply.
        assert v["keys"] == "character special file"
        assert v["firmware"] == "0"
        assert v["procsys"] == "ro"


def test_drop_one_add_one_is_exact(cri):
    pod = cri.run_pod("sec-dropone", runtime_handler=H)
    sec = {"capabilities": cri.pb.Capability(drop_capabilities=["NET_RAW"],
                                             add_capabilities=["SYS_ADMIN"])}
    want = mask(CONTAINERD_DEFAULT) - mask(["NET_RAW"]) + mask(["SYS_ADMIN"])
    for v in run_probe(cri, pod, "main", sec):
        c = caps_of(v)
        assert (c["CapBnd"], c["CapEff"], c["CapPrm"]) == (want, want, want)


def test_non_root_restricted_with_seccomp(cri):
    """uid change between the bounding drop and capset, with the filter loaded while still root
    (no no_new_privs): the bounding set holds, and as with runc a non-root process keeps no
    effective capabilities across execve (containerd clears ambient)."""
    pod = cri.run_pod("sec-nonroot", runtime_handler=H)
    sec = {"capabilities": cri.pb.Capability(drop_capabilities=["ALL"],
                                             add_capabilities=["NET_BIND_SERVICE"]),
           "run_as_user": cri.pb.Int64Value(value=1000),
           "seccomp": cri.pb.SecurityProfile(profile_type=cri.pb.SecurityProfile.RuntimeDefault)}
    for v in run_probe(cri, pod, "main", sec, script=PROBE + 'echo "uid=$(id -u)"\n'):
        assert v["uid"] == "1000"
        assert int(v["CapBnd"], 16) == mask(["NET_BIND_SERVICE"])
        assert (int(v["CapEff"], 16), int(v["CapAmb"], 16)) == (0, 0)
        assert v["Seccomp"] == "2"


def test_add_only_and_privileged_keep_the_full_set(cri):
    """The other side of the rule: nothing of containerd's default is taken away."""
    pod = cri.run_pod("sec-addonly", runtime_handler=H, privileged=True)
    add = {"capabilities": cri.pb.Capability(add_capabilities=["NET_ADMIN"])}
    for v in run_probe(cri, pod, "add", add) + run_probe(cri, pod, "priv", {"privileged": True}):
        assert (int(v["CapBnd"], 16), int(v["CapEff"], 16)) == (FULL, FULL)
        assert v["keys"].startswith("regular")


def test_no_new_privs_in_container_and_exec(cri):
    pod = cri.run_pod("sec-nnp", runtime_handler=H)
    for v in run_probe(cri, pod, "main", {"no_new_privs": True}):
        assert v["NoNewPrivs"] == "1"
        assert int(v["CapBnd"], 16) == FULL


UNSHARE = PROBE + 'unshare -m true 2>/dev/null; echo "unshare=$?"\n'


@pytest.mark.parametrize("nnp", [False, True], ids=["privileged-load", "no-new-privs"])
def test_seccomp_runtime_default(cri, nnp):
    pod = cri.run_pod(f"sec-rd-{int(nnp)}", runtime_handler=H)
    sec = {"seccomp": cri.pb.SecurityProfile(profile_type=cri.pb.SecurityProfile.RuntimeDefault),
           "no_new_privs": nnp}
    for v in run_probe(cri, pod, "main", sec, script=UNSHARE):
        assert v["Seccomp"] == "2"
        assert v["NoNewPrivs"] == str(int(nnp))
        # The process still has CAP_SYS_ADMIN (capabilities not restricted), but containerd's
        # profile only allows unshare to containers granted it: the filter decides.
        assert int(v["CapEff"], 16) == FULL
        assert v["unshare"] != "0"


def test_seccomp_localhost_profile(cri, tmp_path):
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13}]}))
    pod = cri.run_pod("sec-local", runtime_handler=H)
    sec = {"seccomp": cri.pb.SecurityProfile(profile_type=cri.pb.SecurityProfile.Localhost,
                                             localhost_ref=str(profile))}
    d = f"/tmp/sec-local-{uuid.uuid4().hex}"
    script = PROBE + f'echo "mkdir=$(mkdir {d} 2>&1 && echo made)"\n'
    for v in run_probe(cri, pod, "main", sec, script=script):
        assert v["Seccomp"] == "2"
        assert "Permission denied" in v["mkdir"]  # errnoRet 13 (EACCES), not the usual EPERM


def test_readonly_root_filesystem(cri, tmp_path):
    vol, runvol = tmp_path / "vol", tmp_path / "runvol"
    vol.mkdir()
    runvol.mkdir()
    pod = cri.run_pod("sec-ro", runtime_handler=H)
    u = uuid.uuid4().hex
    script = (f'touch /tmp/ro-{u} 2>&1; echo "root=$?"; touch /run/ro-{u} 2>&1; echo "run=$?"\n'
              f'echo x > /data/w-$$ && echo "volume=ok"; echo y > /dev/null && echo "dev=ok"\n'
              f'echo z > /run/vol-{u}/w-$$ && echo "runvolume=ok"\n'
              f'echo "proc=$(cat /proc/self/comm)"\n')
    mounts = [{"container_path": "/data", "host_path": str(vol)},
              {"container_path": f"/run/vol-{u}", "host_path": str(runvol)}]
    try:
        init, execd = run_probe(cri, pod, "main", {"readonly_rootfs": True}, script=script,
                                mounts=mounts)
    finally:
        if os.path.isdir(f"/run/vol-{u}"):  # the mount point, made in the node's /run
            os.rmdir(f"/run/vol-{u}")
    for v in (init, execd):
        assert v["root"] != "0" and v["run"] != "0"
        assert (v["volume"], v["runvolume"], v["dev"], v["proc"]) == ("ok", "ok", "ok", "cat")
    logs = [t for _, t in cri.read_log(pod, "main")]
    assert any("Read-only file system" in t for t in logs), logs
    assert not os.path.exists(f"/run/ro-{u}")
    # The init's and the exec's writes reached both volumes.
    assert (len(list(vol.iterdir())), len(list(runvol.iterdir()))) == (2, 2)


def test_sysctls_refused_with_their_name(cri):
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod("sec-sysctl", runtime_handler=H, sysctls={"kernel.msgmax": "65536"})
    assert "kernel.msgmax" in e.value.details() and "sysctl" in e.value.details()


def test_symlinked_volume_paths_resolve_inside_the_root(cri, tmp_path):
    u = uuid.uuid4().hex[:12]
    vols = {}
    for name in ("lnk", "dang", "lock"):
        vols[name] = tmp_path / name
        vols[name].mkdir()
        (vols[name] / "data.txt").write_text(f"{name}-data\n")
    ns = f"sec-link-{u}"
    pod = cri.run_pod("links", namespace=ns, runtime_handler=H)
    # In the namespace's overlay: a link to an existing dir, and a dangling one.
    mk = cri.run_container(pod, "mk", command=["/bin/sh", "-c",
                           f"mkdir -p /tmp/tgt-{u} && ln -s /tmp/tgt-{u} /lnk-{u} && "
                           f"ln -s ../../tmp/new-{u} /dang-{u}"])
    assert cri.wait_exited(mk).exit_code == 0
    before = os.listdir("/run/lock")
    mounts = [{"container_path": f"/lnk-{u}", "host_path": str(vols["lnk"])},
              {"container_path": f"/dang-{u}", "host_path": str(vols["dang"])},
              {"container_path": "/var/lock", "host_path": str(vols["lock"])}]
    script = (f"cat /lnk-{u}/data.txt /dang-{u}/data.txt /var/lock/data.txt /tmp/tgt-{u}/data.txt "
              f"/tmp/new-{u}/data.txt; readlink /lnk-{u}")
    cid = cri.run_container(pod, "use", command=["/bin/sh", "-c", script], mounts=mounts)
    st = cri.wait_exited(cid)
    assert st.exit_code == 0, (st.message, cri.read_log(pod, "use"))
    out = [t for s, t in cri.read_log(pod, "use") if s == "stdout"]
    assert out == ["lnk-data", "dang-data", "lock-data", "lnk-data", "dang-data", f"/tmp/tgt-{u}"]
    # /var/lock -> /run/lock was mounted over only in the container's own namespace.
    assert os.listdir("/run/lock") == before


@pytest.mark.runtime
def test_user_namespace_refused(rt):  # noqa: F811
    b = rt.bundle(["true"])
    spec = json.loads((b / "config.json").read_text())
    spec["linux"] = {"namespaces": [{"type": "user"}],
                     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
    (b / "config.json").write_text(json.dumps(spec))
    p = rt.cli("create", "userns", "--bundle", b, check=False)
    assert p.returncode == 1
    assert "hostUsers: false" in p.stderr and "refused" in p.stderr


@pytest.mark.runtime
def test_no_fd_leaks_without_close_range(rt, tmp_path):  # noqa: F811
    """close_range denied (as on a kernel < 5.11): the /proc/self/fd fallback still marks every
    inherited fd close-on-exec, so none reaches the workload."""
    deny = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
    b = rt.bundle(["ls", "/proc/self/fd"])
    spec = json.loads((b / "config.json").read_text())
    spec["linux"] = {"seccomp": deny}
    (b / "config.json").write_text(json.dumps(spec))
    with open(tmp_path / "leak", "w") as f:
        os.set_inheritable(f.fileno(), True)
        out = rt.cli("run", "fds", "--bundle", b, pass_fds=[f.fileno()]).stdout.split()
    assert sorted(out) == ["0", "1", "2", "3"], out  # 3: the directory ls is reading

