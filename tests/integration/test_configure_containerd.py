"""scripts/configure-containerd.sh against real config layouts and a private containerd.

Each config is edited in a temp copy; the result must parse as TOML, hold the runtime table at
the layout's path, leave every other key as it was, be unchanged by a second run, and be restored
byte for byte by --undo. The v2 file is what this machine's containerd 1.6 prints as its default.
"""
import pathlib
import shutil
import subprocess
import tomllib

import pytest

from conftest import BUILD, REPO
from harness.containerd import Containerd

pytestmark = pytest.mark.packaging

SCRIPT = REPO / "scripts/configure-containerd.sh"
DATA = pathlib.Path(__file__).resolve().parent / "data/containerd"
SHELLS = [["sh"], ["busybox", "sh"]]  # dash here, busybox ash in the node installer image
RUNTIME = {"runtime_type": "io.containerd.reaper.v2",
           "pod_annotations": ["reaper.runtime/*"],
           "container_annotations": ["reaper.runtime/*"]}


def configure(path, *args, shell=("sh",)):
    return subprocess.run([*shell, str(SCRIPT), "--config", str(path), *args],
                          capture_output=True, text=True)


def runtimes(doc, layout):
    plugin = {1: "cri", 2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}[layout]
    return doc["plugins"][plugin]["containerd"]["runtimes"]


def containerd_default(tmp_path):
    p = tmp_path / "v2-default.toml"
    p.write_text(subprocess.run(["containerd", "config", "default"], check=True,
                                capture_output=True, text=True).stdout)
    return p


def config_cases(tmp_path):
    return [(containerd_default(tmp_path), 2), (DATA / "v3-containerd-2.x.toml", 3),
            (DATA / "v1-unversioned.toml", 1)]


@pytest.mark.parametrize("shell", SHELLS, ids=["sh", "busybox"])
def test_register_is_idempotent_and_undo_restores_bytes(tmp_path, shell):
    for src, layout in config_cases(tmp_path):
        cfg = tmp_path / f"{layout}" / "config.toml"
        cfg.parent.mkdir()
        shutil.copy(src, cfg)
        cfg.chmod(0o600)
        original = cfg.read_bytes()

        r = configure(cfg, shell=shell)
        assert r.returncode == 0 and "registered runtime 'reaper-v2'" in r.stdout, r.stderr
        doc = tomllib.loads(cfg.read_text())
        rts = runtimes(doc, layout)
        added = rts.pop("reaper-v2")
        if not rts:  # the table header created `runtimes` itself
            del doc["plugins"][next(iter(doc["plugins"]))]["containerd"]["runtimes"]
        assert {k: added[k] for k in RUNTIME} == RUNTIME
        assert added.get("sandbox_mode", added.get("sandboxer")) == "podsandbox"
        assert doc == tomllib.loads(original.decode()), "keys other than the runtime changed"
        assert (cfg.with_name("config.toml.reaper-backup").read_bytes() == original)
        assert cfg.stat().st_mode & 0o777 == 0o600

        once = cfg.read_bytes()
        r = configure(cfg, shell=shell)
        assert r.returncode == 0 and "unchanged" in r.stdout
        assert cfg.read_bytes() == once

        r = configure(cfg, "--undo", shell=shell)
        assert r.returncode == 0 and "removed" in r.stdout, r.stderr
        assert cfg.read_bytes() == original
        assert "unchanged" in configure(cfg, "--undo", shell=shell).stdout


def test_missing_config_is_created_with_a_version(tmp_path):
    cfg = tmp_path / "etc/containerd/config.toml"
    r = configure(cfg, "--layout", "2")
    assert r.returncode == 0, r.stderr
    doc = tomllib.loads(cfg.read_text())
    assert doc["version"] == 2 and "reaper-v2" in runtimes(doc, 2)
    assert cfg.stat().st_mode & 0o777 == 0o644
    assert not cfg.with_name("config.toml.reaper-backup").exists()
    assert [p.name for p in cfg.parent.iterdir()] == ["config.toml"], "temp file left behind"


def test_hand_written_runtime_is_refused_and_file_untouched(tmp_path):
    cfg = tmp_path / "config.toml"
    shutil.copy(DATA / "hand-registered.toml", cfg)
    before = cfg.read_bytes()
    r = configure(cfg)
    assert r.returncode == 1
    assert "already defines runtime 'reaper-v2' outside the managed block" in r.stderr
    assert "line 4" in r.stderr
    assert cfg.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "config.toml"]


@pytest.mark.parametrize("args,message", [
    (["--layout", "7"], "unsupported containerd config layout '7'"),
    (["--runtime-name", "Bad_Name"], "must be a DNS label"),
    (["--bogus"], "unknown argument '--bogus'"),
])
def test_bad_arguments_name_the_problem(tmp_path, args, message):
    cfg = tmp_path / "config.toml"
    cfg.write_text("version = 2\n")
    r = configure(cfg, *args)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert cfg.read_text() == "version = 2\n"


def test_private_containerd_runs_reaper_pods_with_the_result(test_image):
    """Register Reaper in a config without it, start containerd, run a pod whose
    reaper.runtime/overlay-name annotation must reach the runtime (pod_annotations)."""
    def register(path):
        r = configure(path, shell=["busybox", "sh"])
        assert r.returncode == 0, r.stderr

    c = Containerd(test_image, BUILD, configure=register)
    from harness.cri import CriClient
    try:
        c.start()
        cri = CriClient(c.address, c.pods_dir, c.image.ref)
        try:
            pod = cri.run_pod("cfg", namespace="team-cfg", runtime_handler="reaper-v2",
                              annotations={"reaper.runtime/overlay-name": "viaconfig"})
            cid = cri.run_container(pod, "w", command=["/bin/sh", "-c",
                                                       "echo ok > /etc/reaper-cfg-test"])
            assert cri.wait_exited(cid, timeout=15).exit_code == 0
            upper = c.dirs["reaper_overlay"] / "team-cfg" / "viaconfig" / "upper"
            assert (upper / "etc/reaper-cfg-test").read_text() == "ok\n"
            assert not cri.cleanup()
        finally:
            cri.close()
    finally:
        c.stop()
