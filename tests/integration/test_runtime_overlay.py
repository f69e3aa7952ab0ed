"""reaper-runtime + overlay: workload writes stay in the namespace's overlay, shared within it."""
import pytest

from runtime_env import rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.runtime


def test_tmp_is_private_to_the_overlay_and_shared_in_namespace(rt):
    name = rt.tmp.name + ".file"
    rt.cli("run", "w1", "--bundle", rt.bundle(["sh", "-c", f"echo hi > /tmp/{name}"]))
    assert (rt.upper() / "tmp" / name).read_text() == "hi\n"
    with pytest.raises(FileNotFoundError):
        open(f"/tmp/{name}")
    p = rt.cli("run", "w2", "--bundle", rt.bundle(["cat", f"/tmp/{name}"]))
    assert p.stdout == "hi\n"
    # Another namespace has its own overlay.
    p = rt.cli("run", "w3", "--bundle", rt.bundle(["cat", f"/tmp/{name}"], namespace="other"),
               check=False)
    assert p.returncode == 1
