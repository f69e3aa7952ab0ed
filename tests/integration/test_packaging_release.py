"""Release node binaries are static (run on any Linux of the arch); `make install` honours
PREFIX and DESTDIR."""
import os
import subprocess

import pytest

from conftest import REPO

pytestmark = pytest.mark.packaging

# What a glibc node always has; anything else would have to be installed on the node.
ALLOWED_LIBS = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libpthread.so.0"}
NODE_BINARIES = {"reaper-runtime", "containerd-shim-reaper-v2"}


@pytest.fixture(scope="module")
def release_bins():
    out = subprocess.run([str(REPO / "scripts/build-release.sh")], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
    bins = [REPO / p for p in out]
    names = {b.name for b in bins}
    assert "reaper-runtime" in names, out
    assert names <= NODE_BINARIES, f"unexpected installable files: {names - NODE_BINARIES}"
    return bins


def _needed(path):
    """Shared libraries the binary needs (empty for a static one)."""
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True)
    if "statically linked" in out.stdout or "not a dynamic executable" in out.stderr:
        return set()
    assert out.returncode == 0, out.stderr
    return {ln.split()[0] for ln in out.stdout.splitlines() if "ld-linux" not in ln.split()[0]}


def test_release_binaries_are_static(release_bins):
    for b in release_bins:
        extra = _needed(b) - ALLOWED_LIBS
        assert not extra, f"{b.name} needs {extra}: static linking of jansson/protobuf-c failed"
        desc = subprocess.run(["file", "-b", str(b)], check=True, capture_output=True,
                              text=True).stdout
        assert desc.startswith("ELF 64-bit LSB") and "executable" in desc, desc
        assert "static-pie linked" in desc or "statically linked" in desc, desc


def test_release_binary_runs(release_bins):
    rt = next(b for b in release_bins if b.name == "reaper-runtime")
    r = subprocess.run([str(rt), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip(), (r.returncode, r.stdout, r.stderr)


def test_make_install_prefix_destdir(tmp_path):
    build, stage = tmp_path / "b", tmp_path / "stage"
    r = subprocess.run(["make", "-s", "install", f"BUILDDIR={build}", "PREFIX=/opt/reaper",
                        f"DESTDIR={stage}"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    assert "opt/reaper/bin/reaper-runtime" in installed, installed
    assert all(p.startswith("opt/reaper/bin/") for p in installed), installed
    assert os.access(stage / "opt/reaper/bin/reaper-runtime", os.X_OK)
