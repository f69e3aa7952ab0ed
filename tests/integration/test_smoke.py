import subprocess

import pytest


@pytest.mark.runtime
def test_version(runtime_bin):
    out = subprocess.run([runtime_bin, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("reaper-runtime version ")
