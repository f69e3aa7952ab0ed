"""Shared fixtures for integration tests. Tests run as root against real binaries."""
import os
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("REAPER_BUILD", REPO / "build"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def pytest_configure(config):
    config.addinivalue_line("markers", "runtime: reaper-runtime tests (also run under ASan)")
    config.addinivalue_line("markers", "controller: reaper-controller against the fake API server")
    config.addinivalue_line("markers", "agent: reaper-agent on real runtime state (also under ASan)")
    config.addinivalue_line("markers", "shim: tests that drive a private containerd")
    config.addinivalue_line("markers", "packaging: release build, install, images and manifests")
    config.addinivalue_line("markers", "runc: harness tests that use Debian's runc as the runtime "
                            "handler (deselect with -m 'not runc' if runc misbehaves)")


@pytest.fixture(scope="session", autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (they create mount namespaces and overlays)")


@pytest.fixture(scope="session")
def runtime_bin():
    p = BUILD / "src/runtime/reaper-runtime"
    assert p.exists(), f"{p} not built"
    return p


# ---- private containerd + CRI harness (see harness/README.md) ----
from harness.containerd import Containerd  # noqa: E402
from harness.cri import CriClient  # noqa: E402
from harness.image import build_test_image  # noqa: E402


@pytest.fixture(scope="session")
def test_image(tmp_path_factory):
    """Busybox OCI image: .tar (OCI archive), .rootfs (plain dir), .ref (name)."""
    return build_test_image(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="session")
def containerd(test_image):
    """A private containerd 1.6 with runtime handlers `runc` and `reaper-v2`."""
    c = Containerd(test_image, BUILD)
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    # Shims that exit after the last test (idle, or on stop's SIGTERM) report leaks only now.
    assert not c.final_sanitizer_reports, _sanitizer_failure(c.final_sanitizer_reports)


def _sanitizer_failure(reports):
    return "sanitizer reports from Reaper processes under containerd:\n" + "\n".join(
        f"--- {name}\n{text}" for name, text in reports.items())


@pytest.fixture(autouse=True)
def no_sanitizer_reports(request):
    """Every test using the private containerd fails on an ASan/UBSan/LSan report that appeared
    while it ran (the shims' stdio is /dev/null: reports go to files, see harness)."""
    if "containerd" not in request.fixturenames:
        yield
        return
    c = request.getfixturevalue("containerd")
    before = set(c.sanitizer_reports())
    yield
    new = {k: v for k, v in c.sanitizer_reports().items() if k not in before}
    assert not new, _sanitizer_failure(new)


@pytest.fixture
def cri(containerd):
    """Kubelet-like CRI client; removes the pods it created when the test ends."""
    client = CriClient(containerd.address, containerd.pods_dir, containerd.image.ref)
    yield client
    errors = client.cleanup()
    client.close()
    assert not errors, f"CRI teardown failed: {errors}"


# ---- the fake Kubernetes API server (controller and agent tests) ----
from kubeapi.fake_apiserver import FakeApiServer  # noqa: E402


@pytest.fixture
def api():
    """An in-process API server following the real one's semantics; validates CRs against
    deploy/crds."""
    server = FakeApiServer(bookmark_interval=0.5, crd_dir=REPO / "deploy/crds").start()
    yield server
    server.stop()
