"""Shared fixtures for integration tests. Tests run as root against real binaries."""
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("REAPER_BUILD", REPO / "build"))


def pytest_configure(config):
    config.addinivalue_line("markers", "runtime: reaper-runtime tests (also run under ASan)")
    config.addinivalue_line("markers", "shim: tests that drive a private containerd")


@pytest.fixture(scope="session", autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.fail("integration tests need root (they create mount namespaces and overlays)")


@pytest.fixture(scope="session")
def runtime_bin():
    p = BUILD / "src/runtime/reaper-runtime"
    assert p.exists(), f"{p} not built"
    return p
