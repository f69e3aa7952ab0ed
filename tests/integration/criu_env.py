"""The CRIU checkpoint tests use: REAPER_TEST_CRIU, else REAPER_CRIU, else `criu` on PATH.
require_criu() skips the calling test with CRIU's own words when `criu check` fails there (Debian
12's criu 3.17 cannot run on current kernels), so the suite stays green without a working CRIU."""
import functools
import os
import shutil
import subprocess

import pytest


def find_criu():
    for var in ("REAPER_TEST_CRIU", "REAPER_CRIU"):
        if os.environ.get(var):
            return os.environ[var]
    return shutil.which("criu") or shutil.which("criu", path="/usr/sbin:/sbin")


@functools.lru_cache(maxsize=None)
def _check(criu):
    try:
        p = subprocess.run([criu, "check"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        return f"{criu}: {e.strerror}"
    if p.returncode == 0:
        return None
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if "Error" in ln or "rror" in ln]
    return f"`{criu} check` failed (rc {p.returncode}): " + \
        ("; ".join(lines[-3:]) or (p.stdout + p.stderr).strip()[-300:])


def require_criu():
    """The working criu's path, or pytest.skip with why there is none."""
    criu = find_criu()
    if criu is None:
        pytest.skip("no criu: set REAPER_TEST_CRIU or install criu")
    why = _check(criu)
    if why:
        pytest.skip(why)
    return criu
