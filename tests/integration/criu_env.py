"""The CRIU the checkpoint tests use, and whether it works on this kernel.

Which criu: $REAPER_TEST_CRIU, else $REAPER_CRIU, else `criu` on PATH. Tests that need it take
the `criu` fixture: it runs `criu check` once per module and skips the module with CRIU's own
reason when that fails (Debian 12's criu 3.17 cannot run on kernels >= 6.13), so the suite stays
green where checkpointing cannot work and says why."""
import os
import shutil
import subprocess

import pytest


def find_criu():
    for var in ("REAPER_TEST_CRIU", "REAPER_CRIU"):
        if os.environ.get(var):
            return os.environ[var]
    return shutil.which("criu") or shutil.which("criu", path="/usr/local/sbin:/usr/sbin:/sbin")


def first_error(output):
    """CRIU's first line that names the cause ("exited, status=N" lines only echo a helper's
    exit)."""
    for line in output.splitlines():
        if "Error" in line and "exited, status=" not in line:
            return line.strip()
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def criu_check(path):
    """None when `criu check` passes, else why not."""
    try:
        p = subprocess.run([path, "check"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        return f"{path}: {e.strerror}"
    if p.returncode == 0:
        return None
    return f"{path} check failed: {first_error(p.stdout + p.stderr)}"


@pytest.fixture(scope="module")
def criu():
    path = find_criu()
    if path is None:
        pytest.skip("no criu: set REAPER_TEST_CRIU or put criu on PATH")
    why = criu_check(path)
    if why:
        pytest.skip(why)
    return path
