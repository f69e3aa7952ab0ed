"""Images: reproducible OCI archives that a private containerd imports and runs.

The node installer runs under runc (the way the DaemonSet's init container runs on a node) with
a temp directory standing in for the host's /usr/local/bin, /etc/reaper and /etc/containerd.
"""
import hashlib
import os
import pathlib
import subprocess
import tomllib

import pytest

from conftest import REPO

pytestmark = pytest.mark.packaging

RUNC = "io.containerd.runc.v2"
CONF = "REAPER_DNS_MODE=kubernetes\nREAPER_OVERLAY_ISOLATION=namespace\n"


def build(out):
    r = subprocess.run([str(REPO / "scripts/build-images.sh"), "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    return {ref.split("/")[-1].split(":")[0]: (ref, pathlib.Path(p), digest)
            for ref, p, digest in (line.split() for line in r.stdout.splitlines())}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return build(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def imported(images, containerd):
    for _, archive, _ in images.values():
        containerd.ctr("images", "import", "--snapshotter", containerd.snapshotter, archive,
                       check=True)
    return images


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def test_images_are_reproducible(images, tmp_path):
    again = build(tmp_path / "again")
    assert set(again) == {"reaper-node", "reaper-controller", "reaper-agent"}
    for name, (_, archive, digest) in images.items():
        assert again[name][2] == digest == sha256(archive), f"{name} differs between builds"


def run(containerd, ref, cid, *argv, mounts=(), env=None):
    args = ["run", "--rm", "--runtime", RUNC, "--snapshotter", containerd.snapshotter]
    for src, dst, mode in mounts:
        args += ["--mount", f"type=bind,src={src},dst={dst},options=rbind:{mode}"]
    for k, v in (env or {}).items():
        args += ["--env", f"{k}={v}"]
    return containerd.ctr(*args, ref, cid, *argv, timeout=60)


def fake_host(tmp_path):
    host = tmp_path / "host"
    for d in ("usr/local/bin", "etc/reaper", "etc/containerd"):
        (host / d).mkdir(parents=True)
    (host / "etc/containerd/config.toml").write_text(
        subprocess.run(["containerd", "config", "default"], capture_output=True, text=True,
                       check=True).stdout)
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "reaper.conf").write_text(CONF)
    return host, conf


def install(containerd, imported, host, conf, cid):
    ref = imported["reaper-node"][0]
    mounts = [(host / d, f"/host/{d}", "rw") for d in ("usr/local/bin", "etc/reaper",
                                                         "etc/containerd")]
    mounts.append((conf, "/config", "ro"))
    env = {"CONTAINERD_RESTART_CMD": "echo restarted >> /host/etc/containerd/restarts"}
    return run(containerd, ref, cid, mounts=mounts, env=env)


def test_node_installer_installs_and_is_idempotent(containerd, imported, tmp_path):
    host, conf = fake_host(tmp_path)
    r = install(containerd, imported, host, conf, "installer-1")
    assert r.returncode == 0, r.stdout + r.stderr
    release = REPO / "build-release"
    for b, src in (("containerd-shim-reaper-v2", "src/shim"), ("reaper-runtime", "src/runtime")):
        dst = host / "usr/local/bin" / b
        assert dst.read_bytes() == (release / src / b).read_bytes()
        assert os.stat(dst).st_mode & 0o777 == 0o755
    assert (host / "etc/reaper/reaper.conf").read_text() == CONF
    doc = tomllib.loads((host / "etc/containerd/config.toml").read_text())
    rt = doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["reaper-v2"]
    assert rt["pod_annotations"] == ["reaper.runtime/*"]
    assert (host / "etc/containerd/restarts").read_text() == "restarted\n"
    assert subprocess.run([host / "usr/local/bin/reaper-runtime", "--version"],
                          capture_output=True).returncode == 0

    r = install(containerd, imported, host, conf, "installer-2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is up to date" in r.stdout and "unchanged" in r.stdout
    assert (host / "etc/containerd/restarts").read_text() == "restarted\n", "needless restart"
    leftovers = [p.name for d in ("usr/local/bin", "etc/reaper", "etc/containerd")
                 for p in (host / d).iterdir() if p.name.startswith(".")]
    assert not leftovers


def test_upgrade_in_place_keeps_a_running_old_binary(containerd, imported, tmp_path):
    """An 'old shim' still executing from the host path: a rewrite would fail with ETXTBSY;
    the installer's rename replaces the file and the old process runs on undisturbed."""
    host, conf = fake_host(tmp_path)
    old = host / "usr/local/bin/containerd-shim-reaper-v2"
    old.write_bytes(pathlib.Path("/bin/sleep").read_bytes())
    old.chmod(0o755)
    proc = subprocess.Popen([old, "300"])
    try:
        r = install(containerd, imported, host, conf, "installer-up")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "installed /usr/local/bin/containerd-shim-reaper-v2" in r.stdout
        assert proc.poll() is None, "the running old binary was disturbed"
        assert os.readlink(f"/proc/{proc.pid}/exe").endswith("(deleted)")
        new = REPO / "build-release/src/shim/containerd-shim-reaper-v2"
        assert old.read_bytes() == new.read_bytes()
    finally:
        proc.kill()
        proc.wait()


def test_node_installer_refuses_without_host_mount(containerd, imported):
    r = run(containerd, imported["reaper-node"][0], "installer-nohost")
    assert r.returncode != 0
    assert "host root /host is not mounted" in r.stderr + r.stdout


@pytest.mark.parametrize("name", ["reaper-controller", "reaper-agent"])
def test_service_images_run_their_binary(containerd, imported, name):
    r = run(containerd, imported[name][0], f"{name}-version", f"/usr/local/bin/{name}",
            "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{name} 0.1.0"
