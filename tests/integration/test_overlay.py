"""Overlay namespaces, the sensitive-file filter and per-container mounts, driven through the
test-only tool tests/tools/overlay-exec (the runtime CLI wraps the same library calls)."""
import hashlib
import os
import pathlib
import subprocess

import pytest

from conftest import BUILD
from harness.mounts import is_under, mount_table, mountpoints
from runtime_env import OwnDirs

TOOL = BUILD / "tests/tools/overlay-exec"


def ours(env, mps):
    """Mount points this test could have caused: below its own dirs, and exactly the host paths
    the workloads write to (an overlay leaking onto the host would stack a mount there).
    Other work mounts and unmounts elsewhere concurrently: everything else is left out."""
    touched = {"/", "/usr", "/tmp", "/etc", "/opt", "/dev", "/dev/null", "/dev/shm", "/run"}
    return [m for m in mps if is_under(m, *env.owned) or m in touched]


class Env(OwnDirs):
    def __init__(self):
        super().__init__("reaper-ovl")

    def args(self, ns="default", name=None, extra=()):
        a = [str(TOOL), "--root", str(self.root), "--base", str(self.base), "--ns", ns]
        if name:
            a += ["--name", name]
        return a + list(extra)

    def run(self, script, ns="default", name=None, extra=(), check=True):
        p = subprocess.run(self.args(ns, name, extra) + ["--", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        if check:
            assert p.returncode == 0, p.stderr
        return p


@pytest.fixture
def env():
    assert TOOL.exists(), f"{TOOL} not built"
    e = Env()
    before = ours(e, mountpoints())
    yield e
    e.remove()
    assert ours(e, mountpoints()) == before


def sha(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.mark.runtime
def test_writes_land_in_upper_and_host_is_unchanged(env):
    name = env.tmp.name
    env.run(f"echo hi > /usr/{name}; echo t > /tmp/{name}.t; cat /usr/{name}")
    assert (env.upper() / "usr" / name).read_text() == "hi\n"
    assert (env.upper() / "tmp" / f"{name}.t").read_text() == "t\n"
    assert not pathlib.Path(f"/usr/{name}").exists()
    assert not pathlib.Path(f"/tmp/{name}.t").exists()


@pytest.mark.runtime
def test_namespaces_and_named_overlays_are_isolated(env):
    env.run("echo shared > /opt/reaper-share")
    assert env.run("cat /opt/reaper-share").stdout == "shared\n"
    assert env.run("cat /opt/reaper-share", ns="other", check=False).returncode != 0
    assert env.run("cat /opt/reaper-share", name="build", check=False).returncode != 0
    assert (env.base / "default" / "build" / "upper").is_dir()
    # Another namespace cannot see Reaper's state: root and base are masked with empty dirs.
    for d in (env.root, env.base):  # one at a time: ls prints no header line then
        assert env.run(f"ls -A {d}", ns="other").stdout == ""


@pytest.mark.runtime
def test_node_mode_shares_across_namespaces(env):
    node = ["--isolation", "node"]
    env.run("echo node > /opt/reaper-node", ns="a", extra=node)
    assert env.run("cat /opt/reaper-node", ns="b", extra=node).stdout == "node\n"
    assert (env.base / "_node" / "upper" / "opt" / "reaper-node").exists()


@pytest.mark.runtime
def test_shadow_is_masked_and_host_untouched(env):
    before = sha("/etc/shadow")
    host = pathlib.Path("/etc/shadow").read_text().splitlines()
    inner = env.run("cat /etc/shadow").stdout.splitlines()
    assert len(inner) == len(host) > 0
    for h, i in zip(host, inner):
        hf, inf = h.split(":"), i.split(":")
        assert inf[1] == "!"
        assert inf[0] == hf[0] and inf[2:] == hf[2:]
    assert sha("/etc/shadow") == before
    st, up = os.stat("/etc/shadow"), os.stat(env.upper() / "etc/shadow")
    assert (st.st_mode, st.st_uid, st.st_gid) == (up.st_mode, up.st_uid, up.st_gid)


@pytest.mark.runtime
def test_masked_dir_and_file_and_allowlist(env):
    secret_dir = env.host / "secret-dir"
    secret_dir.mkdir()
    (secret_dir / "key").write_text("private")
    secret_file = env.host / "token"
    secret_file.write_text("tok")
    extra = ["--filter-path", str(secret_dir), "--filter-path", str(secret_file),
             "--allow", "/etc/shadow"]
    out = env.run(f"ls -A {secret_dir}; echo --; cat {secret_file}; echo --; cat /etc/shadow",
                  extra=extra).stdout
    ls, tok, shadow = out.split("--\n")
    assert ls == "" and tok == ""
    assert shadow == pathlib.Path("/etc/shadow").read_text()
    assert (secret_dir / "key").read_text() == "private"
    up = env.upper() / str(secret_dir).lstrip("/")
    assert os.getxattr(up, "trusted.overlay.opaque") == b"y"


@pytest.mark.runtime
def test_useradd_style_rename_over_shadow_survives_recreation(env):
    before = sha("/etc/shadow")
    env.run("cp -p /etc/shadow /etc/shadow+ && echo 'newuser:!:1::::::' >> /etc/shadow+ "
            "&& mv /etc/shadow+ /etc/shadow")
    assert sha("/etc/shadow") == before
    # Unpin (keeping upper): the re-created namespace keeps the workload's own shadow.
    pin = env.root / "ns" / "default"
    subprocess.run(["umount", str(pin)], check=True)
    pin.unlink()
    assert "newuser:!:1" in env.run("cat /etc/shadow").stdout


@pytest.mark.runtime
def test_concurrent_per_container_mounts_are_private(env):
    procs = []
    for i in (1, 2):
        src = env.host / f"src{i}"
        src.mkdir()
        (src / "f").write_text(f"content{i}\n")
        procs.append(subprocess.Popen(
            env.args(extra=["--mount", f"{src}:/data"]) +
            ["--", "sh", "-c", "cat /data/f; read x; cat /data/f"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    # Both are alive with their own /data before either reads the second time.
    first = [p.stdout.readline() for p in procs]
    outs = [p.communicate("go\n", timeout=30)[0] for p in procs]
    assert first == ["content1\n", "content2\n"]
    assert outs == ["content1\n", "content2\n"]
    assert all(p.returncode == 0 for p in procs)
    assert not pathlib.Path("/data/f").exists()


@pytest.mark.runtime
def test_readonly_mount_rejects_writes(env):
    src = env.host / "ro"
    src.mkdir()
    p = env.run("echo x > /data/new", extra=["--mount", f"{src}:/data:ro"], check=False)
    assert p.returncode != 0
    assert "Read-only file system" in p.stderr
    assert not (src / "new").exists()
    # A file source gets a file mount point.
    (src / "cfg").write_text("v=1\n")
    assert env.run("cat /etc/app.cfg", extra=["--mount", f"{src}/cfg:/etc/app.cfg:ro"]).stdout \
        == "v=1\n"


@pytest.mark.runtime
def test_missing_source_names_the_mount(env):
    missing = env.host / "nope"
    p = env.run("true", extra=["--mount", f"{missing}:/data"], check=False)
    assert p.returncode == 1
    assert f"mount /data: source {missing}: No such file or directory" in p.stderr


@pytest.mark.runtime
def test_host_gains_only_the_pins(env):
    before = ours(env, mountpoints())
    src = env.host / "m"
    src.mkdir()
    env.run("true", extra=["--mount", f"{src}:/data"])
    env.run("true", ns="other", extra=["--filter-path", "/dev/null"])
    gained = [m for m in ours(env, mountpoints()) if m not in before]
    root = str(env.root)
    assert sorted(gained) == sorted([f"{root}/ns", f"{root}/ns/default", f"{root}/ns/other"])
    info = {mp: " ".join(fields) for mp, fields in mount_table()}
    assert " nsfs " in info[f"{root}/ns/default"]
    assert "unbindable" in info[f"{root}/ns"]


@pytest.mark.runtime
def test_second_enter_takes_the_fast_path(env):
    env.run("echo 1 > /opt/fast")
    pin = env.root / "ns" / "default"
    ino = os.stat(pin).st_ino
    assert subprocess.run(env.args(extra=["--exists"])).returncode == 0
    assert env.run("cat /opt/fast").stdout == "1\n"
    assert os.stat(pin).st_ino == ino
    assert mountpoints().count(str(pin)) == 1


@pytest.mark.runtime
def test_failure_refuses_and_leaves_no_pin(env):
    (env.base / "default").mkdir(parents=True)
    (env.base / "default" / "upper").write_text("not a dir")
    p = env.run("true", check=False)
    assert p.returncode == 1
    upper = env.base / "default" / "upper"
    assert f"overlay default: {upper}: Not a directory" in p.stderr
    pin = env.root / "ns" / "default"
    assert not pin.exists()
    assert str(pin) not in mountpoints()
    assert subprocess.run(env.args(extra=["--exists"])).returncode == 3


@pytest.mark.runtime
def test_destroy_unpins_and_removes_layers(env):
    env.run("echo 1 > /opt/gone")
    lock = env.root / "locks" / "default.lock"
    assert lock.exists()
    subprocess.run(env.args(extra=["--destroy"]), check=True)
    assert not lock.exists(), "a destroyed overlay's lock file stays behind"
    assert not (env.base / "default").exists()
    assert str(env.root / "ns" / "default") not in mountpoints()
    assert env.run("cat /opt/gone", check=False).returncode != 0


@pytest.mark.runtime
def test_paths_outside_the_root_fs_get_readonly_placeholders(env):
    secret = pathlib.Path("/dev/shm") / f"reaper-secret-{env.tmp.name}"
    secret.write_text("s3cret")
    try:
        p = env.run(f"cat {secret}; echo x > {secret}", extra=["--filter-path", str(secret)],
                    check=False)
        assert p.stdout == ""
        assert "Read-only file system" in p.stderr
        assert secret.read_text() == "s3cret"
    finally:
        secret.unlink()


@pytest.mark.runtime
def test_concurrent_first_enters_create_one_namespace(env):
    procs = [subprocess.Popen(env.args(ns="race") + ["--", "sh", "-c", f"echo {i} > /opt/r{i}"])
             for i in range(6)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 6
    assert mountpoints().count(str(env.root / "ns" / "race")) == 1
    assert env.run("cat /opt/r0 /opt/r5", ns="race").stdout == "0\n5\n"
