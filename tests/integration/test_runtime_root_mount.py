"""The runtime root becomes a shared mount point of its own on first use (and with
`reaper-runtime setup-root`), so reaper-agent's Bidirectional mount of it works on nodes whose /
is not shared. Every step runs in a new mount namespace with private propagation (a node without
systemd), so nothing here reaches the test machine's mount table. The node installer's other
settings that only the chart passes (RUNTIME_NAME) are checked here too."""
import pathlib
import subprocess
import tomllib

import pytest

from conftest import BUILD, REPO
from harness.mounts import mountpoints
from runtime_env import RUNTIME, rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.runtime

SEP = "=====\n"
INSTALLER = REPO / "scripts/install-node.sh"


def in_private_ns(rt, script, env=None):
    """Run script (sh) in a private mount tree; `info` prints the root's mountinfo lines."""
    prelude = f'R={RUNTIME}; ROOT={rt.root}; SEP="{SEP}"\n' \
              'info() { grep " $ROOT " /proc/self/mountinfo || true; printf "%s" "$SEP"; }\n' \
              'set -e\n'
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        prelude + script], env={**rt.env, **(env or {})}, text=True,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.split(SEP)


def mount_ids(lines):
    return [line.split()[0] for line in lines.splitlines()]


def sandbox(rt):
    """A pod sandbox: create records its state and runs nothing (no overlay namespace is
    pinned; pinning one from a private test namespace is not what is tested here)."""
    return rt.bundle(["pause"], annotations={"io.kubernetes.cri.container-type": "sandbox"})


def test_first_use_makes_the_root_a_shared_mount_and_a_second_use_changes_nothing(rt):
    b = sandbox(rt)
    before, first, second, out = in_private_ns(
        rt, f'info; "$R" create c1 --bundle {b}; info; "$R" create c2 --bundle {b}; info; '
            f'"$R" setup-root')
    assert before == ""
    assert len(mount_ids(first)) == 1, first  # one mount of its own, not stacked
    fields = first.split(" - ")[0].split()
    assert fields[4] == str(rt.root) and any(f.startswith("shared:") for f in fields[6:]), first
    assert second == first  # same mount, same peer group
    assert out == f"{rt.root}: already a shared mount point\n"
    assert str(rt.root) not in mountpoints()  # the test machine's own table is untouched


def test_an_existing_private_mount_is_made_shared_in_place(rt):
    rt.root.mkdir()
    before, out, after, again = in_private_ns(
        rt, 'mount -t tmpfs -o size=1m tmpfs "$ROOT"; mount --make-private "$ROOT"; info; '
            '"$R" setup-root; printf "%s" "$SEP"; info; "$R" setup-root')
    assert "shared:" not in before and len(mount_ids(before)) == 1
    assert out == f"{rt.root}: made a shared mount point\n"
    assert mount_ids(after) == mount_ids(before) and "shared:" in after
    assert again == f"{rt.root}: already a shared mount point\n"


def test_shared_root_can_be_turned_off(rt):
    b = sandbox(rt)
    after, out = in_private_ns(rt, f'"$R" create c1 --bundle {b}; info; "$R" setup-root',
                               env={"REAPER_SHARED_ROOT": "false"})
    assert after == "" and rt.root.is_dir()
    assert out == f"{rt.root}: left alone (REAPER_SHARED_ROOT=false)\n"


def installer_env(rt, tmp_path):
    """scripts/install-node.sh against a fake host under tmp_path; HOST_EXEC runs the host's
    binaries from there instead of entering PID 1's mount namespace."""
    host, src = tmp_path / "host", tmp_path / "image-bin"
    (host / "usr/local/bin").mkdir(parents=True)
    src.mkdir()
    for b in (BUILD / "src/shim/containerd-shim-reaper-v2", RUNTIME):
        (src / b.name).symlink_to(b)
    hostexec = tmp_path / "hostexec"
    hostexec.write_text('#!/bin/sh\nb=$1; shift; exec "$HOST_ROOT$b" "$@"\n')
    hostexec.chmod(0o755)
    return {"HOST_ROOT": str(host), "SOURCE_DIR": str(src), "HOST_EXEC": str(hostexec),
            "REAPER_CONF_SOURCE": str(tmp_path / "none"), "CONFIGURE_CONTAINERD": "false"}


def test_node_installer_shares_the_runtime_root(rt, tmp_path):
    env = installer_env(rt, tmp_path)
    first, after, again = in_private_ns(
        rt, f'sh {INSTALLER}; printf "%s" "$SEP"; info; sh {INSTALLER}', env=env)
    assert f"install-node: {rt.root}: made a shared mount point\n" in first, first
    assert len(mount_ids(after)) == 1 and "shared:" in after
    assert f"install-node: {rt.root}: already a shared mount point\n" in again, again


def test_node_installer_goes_on_when_it_cannot_share_the_root(rt, tmp_path):
    env = {**installer_env(rt, tmp_path), "HOST_EXEC": "false"}
    (out,) = in_private_ns(rt, f'sh {INSTALLER}', env=env)
    assert "install-node: warning: the runtime root is not a shared mount point" in out
    assert "install-node: done:" in out


def test_node_installer_registers_the_configured_handler(rt, tmp_path):
    env = {**installer_env(rt, tmp_path), "CONFIGURE_CONTAINERD": "true",
           "RUNTIME_NAME": "reaper-hpc", "CONTAINERD_RESTART_CMD": "true"}
    cfg = pathlib.Path(env["HOST_ROOT"]) / "etc/containerd/config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("version = 2\n")
    (out, ) = in_private_ns(rt, f'sh {INSTALLER}', env=env)
    assert "registered runtime 'reaper-hpc'" in out, out
    doc = tomllib.loads(cfg.read_text())
    assert "reaper-hpc" in doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]


def test_node_installer_uninstall_undoes_the_install(rt, tmp_path):
    """--uninstall: the runtime entry out of containerd's config (restarting containerd once),
    the binaries and reaper.conf gone; a second run finds nothing left to do."""
    restarts = tmp_path / "restarts"
    env = {**installer_env(rt, tmp_path), "CONFIGURE_CONTAINERD": "true",
           "CONTAINERD_RESTART_CMD": f"echo restart >> {restarts}",
           "REAPER_CONF_SOURCE": str(tmp_path / "reaper.conf")}
    (tmp_path / "reaper.conf").write_text("REAPER_DNS_MODE=host\n")
    host = pathlib.Path(env["HOST_ROOT"])
    cfg = host / "etc/containerd/config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("version = 2\n")
    installed = {"usr/local/bin/containerd-shim-reaper-v2", "usr/local/bin/reaper-runtime",
                 "etc/reaper/reaper.conf"}

    def host_files():
        return {str(p.relative_to(host)) for p in host.rglob("*")
                if p.is_file() and p.parent.name != "containerd"}
    in_private_ns(rt, f'sh {INSTALLER}', env=env)
    assert host_files() == installed and "reaper-v2" in cfg.read_text()
    (out, ) = in_private_ns(rt, f'sh {INSTALLER} --uninstall', env=env)
    assert host_files() == set(), out
    runtimes = tomllib.loads(cfg.read_text()).get("plugins", {}).get(
        "io.containerd.grpc.v1.cri", {}).get("containerd", {}).get("runtimes", {})
    assert "reaper-v2" not in runtimes and "removed runtime 'reaper-v2'" in out, out
    assert restarts.read_text() == "restart\nrestart\n"  # install, uninstall
    assert "install-node: removed /usr/local/bin/reaper-runtime\n" in out
    (again, ) = in_private_ns(rt, f'sh {INSTALLER} --uninstall', env=env)
    assert "install-node: /etc/reaper/reaper.conf is already gone\n" in again, again
    assert restarts.read_text() == "restart\nrestart\n", "restarted with nothing changed"
    p = subprocess.run(["sh", str(INSTALLER), "--bogus"], env={**rt.env, **env},
                       capture_output=True, text=True)
    assert p.returncode == 1 and "unknown argument '--bogus'" in p.stderr
