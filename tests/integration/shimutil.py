"""Helpers shared by the shim tests: ctr runs on the reaper runtime, host inspections."""
import os
import pathlib
import struct
import subprocess
import time

REAPER = "io.containerd.reaper.v2"


def ctr_cmd(containerd, *args, namespace="default"):
    return ["ctr", "-a", containerd.address, "-n", namespace, *map(str, args)]


def ctr_run(containerd, image, cid, *cmd, extra=(), timeout=30, binary=False):
    """`ctr run --rm` on the Reaper runtime; returns the CompletedProcess."""
    argv = ctr_cmd(containerd, "run", "--rm", "--runtime", REAPER, *extra, "--rootfs",
                   image.rootfs, cid, *cmd)
    return subprocess.run(argv, capture_output=True, text=not binary, env=containerd.env(),
                          timeout=timeout)


def ctr_run_detached(containerd, image, cid, *cmd):
    argv = ctr_cmd(containerd, "run", "-d", "--runtime", REAPER, "--rootfs", image.rootfs, cid,
                   *cmd)
    subprocess.run(argv, check=True, capture_output=True, env=containerd.env(), timeout=30)
    return task_pid(containerd, cid)


def task_pid(containerd, cid):
    out = containerd.ctr("task", "ls", check=True).stdout
    for line in out.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return int(f[1])
    raise AssertionError(f"task {cid} not listed:\n{out}")


def task_status(containerd, cid):
    out = containerd.ctr("task", "ls", check=True).stdout
    for line in out.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return f[2]
    return None


def remove_task(containerd, cid):
    containerd.ctr("task", "kill", "-s", "SIGKILL", "-a", cid)
    containerd.ctr("task", "delete", "-f", cid)
    containerd.ctr("container", "rm", cid)


def proc_state(pid):
    """The state letter of /proc/<pid>/stat, or None if gone."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def wait_for(pred, timeout=10.0, what="condition"):
    """Bounded wait in TEST code only (the product never polls)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached after {timeout}s")
        time.sleep(0.02)


def zombies_of(pids):
    return [p for p in pids if proc_state(p) == "Z"]


def mounts_under(path):
    path = str(path)
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(path)]


def descendants(pid):
    """All live descendants of pid (via /proc/*/stat ppid)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(pathlib.Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


# ---- raw ttrpc (the wire format in notes/containerd-shim-protocol.md): header, Request ----
def frame(length, stream, mtype=1, flags=0):
    return struct.pack(">IIBB", length, stream, mtype, flags)


def read_frame(s):
    hdr = b""
    while len(hdr) < 10:
        chunk = s.recv(10 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    length, stream, mtype, _ = struct.unpack(">IIBB", hdr)
    body = b""
    while len(body) < length:
        chunk = s.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return stream, mtype, body


def status_code(body):
    """Response{status=1 Status{code=1}}: enough protobuf decoding for the status code."""
    if not body or body[0] != 0x0a:  # field 1, length-delimited
        return 0
    inner = body[2:2 + body[1]]
    return inner[1] if inner[:1] == b"\x08" else 0


def _varint(n):
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def ld(field, data):
    """A length-delimited protobuf field."""
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def request(service, method, payload=b"", namespace=None):
    """ttrpc Request; namespace adds the containerd-namespace metadata containerd sends."""
    body = ld(1, service.encode()) + ld(2, method.encode()) + ld(3, payload)
    if namespace:
        body += ld(5, ld(1, b"containerd-namespace") + ld(2, namespace.encode()))
    return body
