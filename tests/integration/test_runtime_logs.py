"""Where the runtime and the shim log (REAPER_RUNTIME_LOG / REAPER_SHIM_LOG, from reaper.conf or
the environment) and what they record; a runtime that cannot switch users refuses to."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from harness.wait import wait_for
from runtime_env import RUNTIME, rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.runtime
LINE = r"^\S+Z {prog}\[\d+\] info: {msg}$"


def lifecycle(rt, cid):
    """create, start, wait for the exit, delete through the CLI; returns the init's pid."""
    rt.create(cid, rt.bundle(["true"]))
    pid = rt.state(cid)["pid"]
    rt.cli("start", cid)
    assert rt.wait_exit(pid) == 0
    rt.cli("delete", cid)
    return pid


def logged(path, prog, *msgs):
    """The lines of path that record msgs, in that order."""
    text = path.read_text()
    return [m for m in msgs if re.search(LINE.format(prog=prog, msg=re.escape(m)), text, re.M)]


def test_runtime_log_from_reaper_conf(rt):
    log = rt.tmp / "runtime.log"
    rt.conf.write_text(rt.conf.read_text() + f"REAPER_RUNTIME_LOG={log}\n")
    pid = lifecycle(rt, "c1")
    want = [f"created c1 (pid {pid})", "started c1", "deleted c1"]
    assert logged(log, "reaper-runtime", *want) == want, log.read_text()
    assert rt.cli("state", "c1", check=False).returncode == 1  # a failure is logged too
    assert re.fullmatch(r"\S+Z reaper-runtime\[\d+\] error: .*\bc1\b.*",
                        log.read_text().splitlines()[-1]), log.read_text()


def test_runtime_log_from_the_environment_wins(rt):
    conf_log, env_log = rt.tmp / "conf.log", rt.tmp / "env.log"
    rt.conf.write_text(rt.conf.read_text() + f"REAPER_RUNTIME_LOG={conf_log}\n")
    rt.env["REAPER_RUNTIME_LOG"] = str(env_log)
    lifecycle(rt, "c2")
    assert logged(env_log, "reaper-runtime", "started c2", "deleted c2") == [
        "started c2", "deleted c2"]
    assert not conf_log.exists()


def test_without_a_log_file_stderr_stays_quiet(rt):
    p = rt.cli("run", "c3", "--bundle", rt.bundle(["true"]))
    assert p.stderr == ""


def test_shim_log_records_the_pod(cri, containerd):
    pod = cri.run_pod("shim-log", runtime_handler="reaper-v2")
    cid = cri.run_container(pod, "main", command=["/bin/true"])
    cri.wait_exited(cid, timeout=20)
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    log = containerd.shim_log
    created = wait_for(lambda: re.search(
        LINE.format(prog=r"reaper-shim", msg=rf"created {cid} \(pid \d+\)"), log.read_text(),
        re.M), 10, f"created {cid} in {log}")
    shim = re.search(r"reaper-shim\[(\d+)\]", created.group(0)).group(1)
    assert f"reaper-shim[{shim}] info: serving (pid {shim})" in log.read_text()
    wait_for(lambda: f"reaper-shim[{shim}] info: exiting" in log.read_text(), 20,
             f"shim {shim} logging its exit")
    assert f"reaper-shim[{shim}] info: started {cid}" in log.read_text()
    assert f"reaper-shim[{shim}] info: deleted {cid}" in log.read_text()


@pytest.fixture
def unprivileged_dir():
    """A directory uid 65534 can read (the runtime's config and bundle) and write."""
    d = tempfile.mkdtemp(prefix="reaper-nonroot-")
    os.chmod(d, 0o755)
    os.chown(d, 65534, 65534)
    yield d
    shutil.rmtree(d)


def test_non_root_runtime_refuses_a_user_switch(unprivileged_dir):
    d = unprivileged_dir
    with open(f"{d}/reaper.conf", "w") as f:
        f.write(f"REAPER_RUNTIME_ROOT={d}/root\nREAPER_OVERLAY_BASE={d}/base\n")
    os.mkdir(f"{d}/bundle")
    with open(f"{d}/bundle/config.json", "w") as f:
        json.dump({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                   "process": {"user": {"uid": 1000, "gid": 1000}, "args": ["/bin/true"],
                               "cwd": "/"}}, f)
    env = {"PATH": "/usr/bin:/bin", "REAPER_CONFIG": f"{d}/reaper.conf"}
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        str(RUNTIME), "create", "nr1", "--bundle", f"{d}/bundle"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr == ("reaper-runtime: process.user uid 1000 gid 1000 (pod securityContext "
                        "runAsUser/runAsGroup/supplementalGroups) needs a user switch, but "
                        "reaper-runtime runs as uid 65534 gid 65534 without CAP_SETUID: run it "
                        "as root\n")
    assert sorted(os.listdir(d)) == ["bundle", "reaper.conf"], "the refused create left state"
