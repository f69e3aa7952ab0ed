"""The harness's mount-table reader: paths with the characters mountinfo escapes."""
import subprocess

import pytest

from harness.mounts import mounts_under, unescape, unmount_under

ODD = ["with space", "with\ttab", "with\nnewline", "back\\slash", "all \t\n\\ four", "é"]


@pytest.mark.parametrize("field,path", [
    ("/plain", "/plain"), ("/a\\040b", "/a b"), ("/a\\011b", "/a\tb"), ("/a\\012b", "/a\nb"),
    ("/a\\134b", "/a\\b"), ("/a\\134040b", "/a\\040b"), ("/é", "/é"),
])
def test_unescape(field, path):
    assert unescape(field) == path


def test_mounts_under_reads_escaped_mount_points(tmp_path):
    mine = tmp_path / "m"
    paths = [mine / name for name in ODD]
    for p in paths:
        p.mkdir(parents=True)
    (tmp_path / "m-sibling").mkdir()  # a prefix of the name is not "under"
    try:
        for p in [*paths, tmp_path / "m-sibling"]:
            subprocess.run(["mount", "-t", "tmpfs", "harness-test", str(p)], check=True)
        assert sorted(mounts_under(mine)) == sorted(map(str, paths))
        unmount_under(mine)
        assert mounts_under(mine) == []
        assert mounts_under(tmp_path / "m-sibling") == [str(tmp_path / "m-sibling")]
    finally:
        unmount_under(tmp_path)
    assert mounts_under(tmp_path) == []
