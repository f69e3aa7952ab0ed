"""reaper-runtime: what the workload process sees (user, terminal, fds, exec) and setup errors."""
import json
import os
import re
import socket
import subprocess

import pytest

from runtime_env import RUNTIME, rt  # noqa: F401  (rt is a fixture)

pytestmark = pytest.mark.runtime


def test_user_groups_umask(rt):
    user = {"uid": 1234, "gid": 2345, "additionalGids": [44, 55], "umask": 0o027}
    b = rt.bundle(["sh", "-c", "id -u; id -g; id -G; touch /tmp/f; stat -c %a /tmp/f"],
                  user=user)
    out = rt.cli("run", "c1", "--bundle", b).stdout
    assert out == "1234\n2345\n2345 44 55\n640\n"


def test_default_umask_and_no_groups(rt):
    b = rt.bundle(["sh", "-c", "id -G; touch /tmp/g; stat -c %a /tmp/g"],
                  user={"uid": 1000, "gid": 1000})
    assert rt.cli("run", "c1", "--bundle", b).stdout == "1000\n644\n"


def test_only_stdio_fds_survive(rt):
    b = rt.bundle(["ls", "/proc/self/fd"])
    out = rt.cli("run", "c1", "--bundle", b).stdout.split()
    assert sorted(out) == ["0", "1", "2", "3"]  # 3: the directory ls is reading


def recv_pty(listener):
    conn, _ = listener.accept()
    with conn:
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    assert len(fds) == 1
    return msg.decode(), fds[0]


def read_all(fd):
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side is closed
            break
        if not chunk:
            break
        data += chunk
    return data.decode()


def test_console_socket_pty(rt):
    sock_path = rt.tmp / "console.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    b = rt.bundle(["sh", "-c", "tty; stty size; echo hello"], terminal=True,
                  extra_process={"consoleSize": {"height": 30, "width": 100}})
    rt.create("c1", b, "--console-socket", sock_path)
    name, master = recv_pty(listener)
    listener.close()
    assert re.fullmatch(r"/dev/pts/\d+", name)
    pid = rt.state("c1")["pid"]
    rt.cli("start", "c1")
    assert rt.wait_exit(pid) == 0
    out = read_all(master).replace("\r\n", "\n")
    os.close(master)
    assert out == f"{name}\n30 100\nhello\n"


@pytest.mark.parametrize("args,kw,message", [
    (["true"], {"terminal": True}, "console socket"),
    (["no-such-binary-xyz"], {},
     'reaper-runtime: exec: "no-such-binary-xyz": executable file not found in $PATH'),
    (["true"], {"cwd": "/no/such/dir"}, "/no/such/dir"),
], ids=["terminal-without-console-socket", "missing-executable", "bad-cwd"])
def test_create_fails_naming_the_cause(rt, args, kw, message):
    p = rt.create("c1", rt.bundle(args, **kw), check=False)
    assert p.returncode == 1
    assert message in rt.output("c1")
    assert not (rt.root / "c1").exists()


def test_bad_config_names_json_path(rt):
    spec = {"ociVersion": "1.0.2",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": "root", "gid": 0}}}
    b = rt.bundle(None, raw=json.dumps(spec))
    p = rt.cli("create", "c1", "--bundle", b, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("reaper-runtime: ")
    assert "process.user.uid" in p.stderr
    assert not (rt.root / "c1").exists()
    p = rt.cli("create", "c1", "--bundle", rt.bundle(None, raw="{not json"), check=False)
    assert p.returncode == 1 and "config.json" in p.stderr


def test_duplicate_id(rt):
    b = rt.bundle(["sleep", "100"])
    rt.create("c1", b)
    p = rt.cli("create", "c1", "--bundle", b, check=False)
    assert p.returncode == 1
    assert "container c1 already exists" in p.stderr
    assert rt.state("c1")["status"] == "created"


def test_exec_sees_container_mounts_and_own_user(rt):
    data = rt.host / "vol"
    data.mkdir()
    (data / "hello").write_text("from-host\n")
    fifo = rt.shared / "ready"
    os.mkfifo(fifo)
    b = rt.bundle(["sh", "-c", f"echo init > /tmp/shared-by-exec; echo ok > {fifo}; sleep 1000"],
                  mounts=[{"destination": "/mnt/vol", "source": str(data), "type": "bind",
                           "options": ["rbind", "ro"]}])
    rt.create("c1", b)
    rt.cli("start", "c1")
    with open(fifo) as f:
        assert f.read() == "ok\n"
    proc = rt.tmp / "proc.json"
    proc.write_text(json.dumps({
        "args": ["sh", "-c", "cat /mnt/vol/hello /tmp/shared-by-exec; id -u; id -g; pwd"],
        "env": ["PATH=/usr/bin:/bin"], "cwd": "/mnt", "user": {"uid": 4321, "gid": 4322}}))
    p = rt.cli("exec", "c1", "--process", proc)
    assert p.stdout == "from-host\ninit\n4321\n4322\n/mnt\n"
    proc.write_text(json.dumps({"args": ["sh", "-c", "exit 5"], "cwd": "/"}))
    assert rt.cli("exec", "c1", "--process", proc, check=False).returncode == 5
    # The bind mount exists only in the container's namespace.
    assert not os.path.exists("/mnt/vol/hello")


def test_exec_detach_pid_file(rt):
    b = rt.bundle(["sleep", "1000"])
    rt.create("c1", b)
    rt.cli("start", "c1")
    proc = rt.tmp / "proc.json"
    proc.write_text(json.dumps({"args": ["sleep", "1000"], "cwd": "/"}))
    pidfile = rt.tmp / "exec.pid"
    rt.cli("exec", "c1", "--process", proc, "--detach", "--pid-file", pidfile,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, capture_output=False)
    pid = int(pidfile.read_text())
    init = rt.state("c1")["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink(f"/proc/{init}/ns/mnt")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    os.kill(pid, 9)
    assert rt.wait_exit(pid) == 137


def test_exec_into_stopped_container_fails(rt):
    rt.create("c1", rt.bundle(["true"]))
    proc = rt.tmp / "proc.json"
    proc.write_text(json.dumps({"args": ["true"], "cwd": "/"}))
    p = rt.cli("exec", "c1", "--process", proc, check=False)
    assert p.returncode == 1 and "cannot exec" in p.stderr
